#!/usr/bin/env python3
"""proxy_transport.py PROXY TLS_CLIENT: rampart-proxy's transports against
real peers on loopback: sipp OPTIONS over UDP and TCP, malformed input,
openssl s_client for TLS versions and mutual TLS, a Python TLS client for
certificate reload with a connection kept open, and proxy/tls's outbound
client (TLS_CLIENT) against openssl s_server for name checks.

Ports are picked free by the kernel (the proxy listens on port 0 and logs
what it bound); every wait is bounded."""
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PROXY, TLS_CLIENT = sys.argv[1], sys.argv[2]
failures = []


def check(name, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else ": " + str(detail)[:2000]))
    if not cond:
        failures.append(name)


def free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Proxy:
    def __init__(self, tmp, name, args):
        self.log = os.path.join(tmp, name + ".log")
        self.f = open(self.log, "w")
        self.ctl = os.path.join(tmp, name + ".sock")
        self.p = subprocess.Popen([PROXY, "--state-dir", tmp, "--workers", "2",
                                   "--log-level", "info", "--control", self.ctl] + args,
                                  stdout=self.f, stderr=subprocess.STDOUT)
        self.ports = {}
        deadline = time.time() + 10
        while time.time() < deadline and "running" not in self.text():
            if self.p.poll() is not None:
                break
            time.sleep(0.05)
        for tp, port in re.findall(r"listening on (\w+):127\.0\.0\.1:(\d+)", self.text()):
            self.ports[tp] = int(port)
        for tp, port in re.findall(r"listening on (\w+):\[::1\]:(\d+)", self.text()):
            self.ports[tp + "6"] = int(port)
        if not self.ports:
            raise RuntimeError("proxy did not start:\n" + self.text())

    def text(self):
        with open(self.log) as f:
            return f.read()

    def control(self, command):
        """One control-protocol request (bencode over SOCK_SEQPACKET)."""
        c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        c.settimeout(5)
        c.connect(self.ctl)
        cmd = command.encode()
        c.send(b"d7:command%d:%s6:cookie2:c1e" % (len(cmd), cmd))
        r = c.recv(65536)
        c.close()
        return r

    def alive(self):
        return self.p.poll() is None

    def stop(self):
        if self.alive():
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.f.close()
        return self.p.returncode


def options(transport, port, call="c1@test", cseq=1, extra=""):
    return ("OPTIONS sip:127.0.0.1:%d SIP/2.0\r\n"
            "Via: SIP/2.0/%s 127.0.0.1:9;branch=z9hG4bK-%s-%d;rport\r\n"
            "Max-Forwards: 70\r\nFrom: <sip:t@test>;tag=f1\r\nTo: <sip:127.0.0.1>\r\n"
            "Call-ID: %s\r\nCSeq: %d OPTIONS\r\n%sContent-Length: 0\r\n\r\n"
            % (port, transport, call.split("@")[0], cseq, call, cseq, extra)).encode()


def read_response(sock, timeout=3.0):
    """Reads one SIP response from a stream (headers + Content-Length)."""
    sock.settimeout(timeout)
    buf = b""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if b"\r\n\r\n" in buf.lstrip(b"\r\n"):
            break
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
    return buf.lstrip(b"\r\n").decode(errors="replace")


def sipp(tmp, transport, port):
    lport = free_port(socket.SOCK_DGRAM if transport == "u1" else socket.SOCK_STREAM)
    cmd = ["sipp", "127.0.0.1:%d" % port, "-sf", os.path.join(HERE, "proxy_options.xml"),
           "-t", transport, "-i", "127.0.0.1", "-p", str(lport), "-m", "3", "-r", "10",
           "-timeout", "15s", "-timeout_error", "-nostdin", "-trace_err"]
    r = subprocess.run(cmd, cwd=tmp, capture_output=True, timeout=60)
    return r.returncode, r.stdout.decode(errors="replace")[-1500:] + r.stderr.decode(errors="replace")[-800:]


def s_client(port, args, data=b"", timeout=15):
    cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
           "-servername", "localhost", "-ign_eof"] + args
    try:
        r = subprocess.run(cmd, input=data, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        return -1, (e.stdout or b"").decode(errors="replace")
    return r.returncode, r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")


def main():
    for tool in ("sipp", "openssl"):
        if not shutil.which(tool):
            print("SKIP: %s not installed" % tool)
            return 77
    tmp = tempfile.mkdtemp(prefix="rp-proxy-it-")
    pki = os.path.join(tmp, "pki")
    subprocess.run(["sh", os.path.join(HERE, "proxy_mkcerts.sh"), pki], check=True,
                   stdout=subprocess.DEVNULL, timeout=120)
    live_cert, live_key = os.path.join(tmp, "live.pem"), os.path.join(tmp, "live.key")
    shutil.copy(os.path.join(pki, "server.pem"), live_cert)
    shutil.copy(os.path.join(pki, "server.key"), live_key)
    procs = []
    try:
        px = Proxy(tmp, "proxy", ["--listen", "udp:127.0.0.1:0", "--listen", "tcp:127.0.0.1:0",
                                  "--listen", "udp:[::1]:0", "--listen", "tcp:[::1]:0",
                                  "--listen", "tls:127.0.0.1:0", "--tls-cert", live_cert,
                                  "--tls-key", live_key])
        procs.append(px)
        udp, tcp, tls = px.ports["udp"], px.ports["tcp"], px.ports["tls"]

        # sipp OPTIONS over UDP and TCP.
        rc, out = sipp(tmp, "u1", udp)
        check("sipp OPTIONS over UDP gets 200", rc == 0, out)
        rc, out = sipp(tmp, "t1", tcp)
        check("sipp OPTIONS over TCP gets 200", rc == 0, out)

        # Malformed over UDP: 400 with the parser's reason, then still served.
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        u.settimeout(3)
        bad = options("UDP", udp).replace(b"CSeq: 1 OPTIONS", b"CSeq: one OPTIONS")
        u.sendto(bad, ("127.0.0.1", udp))
        try:
            r = u.recv(65536).decode()
        except socket.timeout:
            r = ""
        check("malformed UDP request gets 400 with a reason", r.startswith("SIP/2.0 400 ") and
              "Call-ID: c1@test" in r and "tag=" in r.split("To:")[1].split("\r\n")[0], r)
        u.sendto(b"\x00\xff garbage without structure", ("127.0.0.1", udp))
        u.sendto(b"SIP/2.0 200 OK\r\nbroken response\r\n\r\n", ("127.0.0.1", udp))
        u.sendto(options("UDP", udp, "c2@test"), ("127.0.0.1", udp))
        try:
            r = u.recv(65536).decode()
        except socket.timeout:
            r = ""
        check("UDP worker still answers after garbage", r.startswith("SIP/2.0 200 OK") and
              "c2@test" in r, r)
        check("OPTIONS 200 copies Via with received/rport, CSeq, Call-ID",
              "rport=%d" % u.getsockname()[1] in r and "CSeq: 1 OPTIONS" in r and
              "branch=z9hG4bK-c2-1" in r, r)

        # IPv6 over UDP and TCP.
        u6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        u6.bind(("::1", 0))
        u6.settimeout(3)
        u6.sendto(options("UDP", px.ports["udp6"], "six"), ("::1", px.ports["udp6"]))
        try:
            r = u6.recv(65536).decode()
        except socket.timeout:
            r = ""
        check("OPTIONS over UDP/IPv6 gets 200", r.startswith("SIP/2.0 200") and "received=::1" in r, r)
        t6 = socket.create_connection(("::1", px.ports["tcp6"]), timeout=3)
        t6.sendall(options("TCP", px.ports["tcp6"], "six6"))
        r = read_response(t6)
        check("OPTIONS over TCP/IPv6 gets 200", r.startswith("SIP/2.0 200") and "six6" in r, r)
        t6.close()

        # TCP: keep-alive ping/pong, pipelining, split writes, malformed, framing error.
        t = socket.create_connection(("127.0.0.1", tcp), timeout=3)
        t.sendall(b"\r\n\r\n")
        t.settimeout(3)
        pong = t.recv(2)
        check("CRLFCRLF ping over TCP gets a CRLF pong", pong == b"\r\n", pong)
        msg = options("TCP", tcp, "c3@test")
        for i in range(0, len(msg), 7):
            t.sendall(msg[i:i + 7])
            time.sleep(0.002)
        r = read_response(t)
        check("TCP message sent in 7-byte pieces gets 200", r.startswith("SIP/2.0 200") and "c3@test" in r, r)
        t.sendall(options("TCP", tcp, "c4@test").replace(b"CSeq: 1 OPTIONS", b"CSeq: 1 INVITE")
                  + options("TCP", tcp, "c5@test"))
        r1 = read_response(t)
        r2 = r1[r1.index("\r\n\r\n") + 4:] if "\r\n\r\n" in r1 else ""
        if "SIP/2.0" not in r2:
            r2 = read_response(t)
        check("pipelined TCP: bad CSeq gets 400, next message 200",
              r1.startswith("SIP/2.0 400") and "c4@test" in r1 and "SIP/2.0 200" in r2 and "c5@test" in r2,
              r1 + "\n---\n" + r2)
        t.sendall(b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n\r\n")
        t.settimeout(3)
        got, closed = b"", False
        try:
            # a 400 (when the request has what a response needs), then EOF
            while len(got) < 65536:
                d = t.recv(65536)
                if not d:
                    closed = True
                    break
                got += d
        except (socket.timeout, ConnectionResetError):
            closed = False
        check("TCP message without Content-Length closes the connection", closed, got[:200])
        t.close()
        t = socket.create_connection(("127.0.0.1", tcp), timeout=3)
        t.sendall(options("TCP", tcp, "c6@test"))
        r = read_response(t)
        check("TCP still served after a framing error", r.startswith("SIP/2.0 200"), r)
        t.close()

        # TLS versions with openssl s_client.
        rc, out = s_client(tls, ["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"])
        check("TLS 1.1 refused", rc != 0 and "Cipher is (NONE)" in out and
              "alert protocol version" in out, out[-600:])
        for ver, flag in (("TLSv1.2", "-tls1_2"), ("TLSv1.3", "-tls1_3")):
            rc, out = s_client(tls, [flag, "-CAfile", os.path.join(pki, "ca.pem"), "-quiet"],
                               options("TLS", tls, "v%s@test" % ver), timeout=8)
            check("%s accepted and OPTIONS answered 200" % ver,
                  "SIP/2.0 200 OK" in out and ("v%s@test" % ver) in out, out[-800:])

        # Session resumption (tickets / cache) with TLS 1.2 and 1.3.
        for flag in ("-tls1_2", "-tls1_3"):
            sess = os.path.join(tmp, "sess" + flag)
            s_client(tls, [flag, "-sess_out", sess], b"", timeout=8)
            rc, out = s_client(tls, [flag, "-sess_in", sess], b"", timeout=8)
            check("TLS session resumed (%s)" % flag, "Reused," in out, out[-600:])

        # Control socket.
        st = px.control("stats")
        check("control socket: stats", b"result2:ok" in st and b"udp-messages" in st and
              b"stream-messages" in st, st)

        # Reload while a TLS connection stays up (Python ssl client).
        ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.pem"))
        raw = socket.create_connection(("127.0.0.1", tls), timeout=5)
        keep = ctx.wrap_socket(raw, server_hostname="sip.test.example")
        cn1 = dict(x[0] for x in keep.getpeercert()["subject"])["commonName"]
        keep.sendall(options("TLS", tls, "r1@test"))
        r = read_response(keep)
        check("TLS connection before reload answered", r.startswith("SIP/2.0 200") and cn1 == "sip.test.example", r)
        shutil.copy(os.path.join(pki, "server2.pem"), live_cert)
        shutil.copy(os.path.join(pki, "server2.key"), live_key)
        px.p.send_signal(signal.SIGHUP)
        deadline = time.time() + 5
        while time.time() < deadline and "reloaded" not in px.text():
            time.sleep(0.05)
        check("SIGHUP reload logged", "reloaded" in px.text(), px.text()[-500:])
        with ctx.wrap_socket(socket.create_connection(("127.0.0.1", tls), timeout=5),
                             server_hostname="sip.test.example") as n:
            cn2 = dict(x[0] for x in n.getpeercert()["subject"])["commonName"]
        check("new TLS connection gets the reloaded certificate", cn2 == "sip2.test.example", cn2)
        keep.sendall(options("TLS", tls, "r2@test"))
        r = read_response(keep)
        check("TLS connection opened before the reload still works", r.startswith("SIP/2.0 200") and "r2@test" in r, r)
        with open(live_cert, "w") as f:
            f.write("not a certificate\n")
        r = px.control("tls-reload")
        check("control socket: tls-reload with bad files says why", b"result5:error" in r and
              live_cert.encode() in r, r)
        px.p.send_signal(signal.SIGHUP)
        deadline = time.time() + 5
        while time.time() < deadline and "reload failed" not in px.text():
            time.sleep(0.05)
        check("bad certificate on reload is reported", "TLS reload failed" in px.text(), px.text()[-500:])
        with ctx.wrap_socket(socket.create_connection(("127.0.0.1", tls), timeout=5),
                             server_hostname="sip.test.example") as n:
            cn3 = dict(x[0] for x in n.getpeercert()["subject"])["commonName"]
        check("after a failed reload the last good certificate is served", cn3 == "sip2.test.example", cn3)
        keep.close()
        check("proxy alive after all of the above", px.alive())
        check("proxy exits 0 on SIGTERM", px.stop() == 0, px.text()[-800:])

        # Mutual TLS.
        mt = Proxy(tmp, "proxy-mtls", ["--listen", "tls:127.0.0.1:0",
                                       "--tls-cert", os.path.join(pki, "server.pem"),
                                       "--tls-key", os.path.join(pki, "server.key"),
                                       "--tls-ca", os.path.join(pki, "ca.pem"), "--tls-verify-client",
                                       "--handshake-timeout", "1"])
        procs.append(mt)
        port = mt.ports["tls"]
        rc, out = s_client(port, ["-CAfile", os.path.join(pki, "ca.pem"), "-quiet"],
                           options("TLS", port, "m1@test"), timeout=8)
        check("mutual TLS: no client certificate, no service", "SIP/2.0 200" not in out, out[-600:])
        time.sleep(0.2)
        check("mutual TLS: refusal logged with the reason", "no certificate" in mt.text(), mt.text()[-600:])
        rc, out = s_client(port, ["-CAfile", os.path.join(pki, "ca.pem"), "-quiet",
                                  "-cert", os.path.join(pki, "client.pem"),
                                  "-key", os.path.join(pki, "client.key")],
                           options("TLS", port, "m2@test"), timeout=8)
        check("mutual TLS: client certificate accepted", "SIP/2.0 200 OK" in out and "m2@test" in out, out[-600:])
        # A peer that connects and never says hello is dropped.
        idle = socket.create_connection(("127.0.0.1", port), timeout=5)
        t0 = time.time()
        try:
            dropped = idle.recv(10) == b""
        except (socket.timeout, ConnectionResetError):
            dropped = False
        idle.close()
        check("TLS handshake timeout closes a silent peer", dropped and time.time() - t0 < 4.5 and
              "TLS handshake timeout" in mt.text(), mt.text()[-400:])
        mt.stop()

        # The built-in minimal responder (--no-core).
        nc = Proxy(tmp, "proxy-nocore", ["--no-core", "--listen", "udp:127.0.0.1:0"])
        procs.append(nc)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        u.settimeout(3)
        got = []
        for req in (options("UDP", nc.ports["udp"], "n1"),
                    options("UDP", nc.ports["udp"], "n2").replace(b"sip:127.0.0.1:%d" % nc.ports["udp"],
                                                                  b"sip:someone@elsewhere.example"),
                    options("UDP", nc.ports["udp"], "n3").replace(b"OPTIONS sip", b"INVITE sip").replace(
                        b"1 OPTIONS", b"1 INVITE")):
            u.sendto(req, ("127.0.0.1", nc.ports["udp"]))
            try:
                got.append(u.recv(65536).decode().split("\r\n")[0])
            except socket.timeout:
                got.append("")
        check("--no-core: OPTIONS to self 200, elsewhere 404, INVITE 501",
              got == ["SIP/2.0 200 OK", "SIP/2.0 404 Not Found", "SIP/2.0 501 Not Implemented"], got)
        nc.stop()

        # Outbound TLS name checks against openssl s_server.
        for cert, domain, extra, want in (("server", "sip.test.example", [], "OK"),
                                          ("wrong", "sip.test.example", [], "name mismatch"),
                                          ("wild", "sip.test.example", [], "wildcards not allowed"),
                                          ("wild", "sip.test.example", ["wildcards"], "OK")):
            sport = free_port()
            srv = subprocess.Popen(["openssl", "s_server", "-accept", "127.0.0.1:%d" % sport,
                                    "-cert", os.path.join(pki, cert + ".pem"),
                                    "-key", os.path.join(pki, cert + ".key"), "-quiet", "-naccept", "1"],
                                   stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(srv)
            deadline = time.time() + 5
            while time.time() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", sport), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            # The probe above used the one accept; start a fresh server.
            srv.kill()
            srv.wait()
            srv = subprocess.Popen(["openssl", "s_server", "-accept", "127.0.0.1:%d" % sport,
                                    "-cert", os.path.join(pki, cert + ".pem"),
                                    "-key", os.path.join(pki, cert + ".key"), "-quiet"],
                                   stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(srv)
            # A loaded machine may take seconds to start it: wait for the
            # port (this s_server accepts any number of connections).
            deadline = time.time() + 10
            while time.time() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", sport), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            r = subprocess.run([TLS_CLIENT, "127.0.0.1", str(sport), domain,
                                os.path.join(pki, "ca.pem")] + extra,
                               capture_output=True, timeout=30)
            out = r.stdout.decode(errors="replace")
            check("outbound TLS to %s cert as %s %s: %s" % (cert, domain, " ".join(extra), want),
                  want in out and ((r.returncode == 0) == (want == "OK")), out)
            srv.kill()
            srv.wait()
    finally:
        for p in procs:
            try:
                if isinstance(p, Proxy):
                    p.stop()
                elif p.poll() is None:
                    p.kill()
                    p.wait()
            except Exception:
                pass
        if not failures:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("logs kept in", tmp)
    print("%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
