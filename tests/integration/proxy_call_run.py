#!/usr/bin/env python3
"""proxy_call_run.py PROXY: calls through rampart-proxy's core on loopback.

sipp UAC -> rampart-proxy -> sipp UAS with our own scenarios
(proxy_call_*.xml): a full call over UDP and over TCP (TCP in, UDP out:
double Record-Route), a 486 relayed back with the proxy's hop-by-hop ACK,
serial failover (the trunk's first address is a dead port: Timer B with
short timers, then the second address answers). Raw sockets for what sipp
cannot show: CANCEL before the answer (487 to the caller), an INVITE
retransmission absorbed (the callee sees one), malformed requests get 400
while calls go on.

Every port is picked free by the kernel; sipp's control and media ports are
pinned (-cp/-mp); every wait is bounded."""
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
PROXY = sys.argv[1]
failures = []


def check(name, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else ": " + str(detail)[-3000:]))
    sys.stdout.flush()
    if not cond:
        failures.append(name)


def verdict(tmp):
    """The exit status after the checks: 1 with the failures named and tmp
    kept for its logs, else 0 with tmp removed."""
    if failures:
        print("FAILED: " + ", ".join(failures))
        print("logs kept in " + tmp)
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


def free_port(kind=socket.SOCK_DGRAM, pair=False):
    """A free port (for pair=True also port+2 free, for sipp's media)."""
    for _ in range(50):
        s = socket.socket(socket.AF_INET, kind)
        s.bind(("127.0.0.1", 0))
        p = s.getsockname()[1]
        s.close()
        if not pair:
            return p
        if p + 2 > 65535:
            continue
        try:
            t = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            t.bind(("127.0.0.1", p + 2))
            t.close()
            return p
        except OSError:
            continue
    raise RuntimeError("no free port")


class Proxy:
    def __init__(self, tmp, cfg, name="proxy", listen=True, control="none", tls=True):
        self.log = os.path.join(tmp, name + ".log")
        path = os.path.join(tmp, name + ".conf")
        with open(path, "w") as f:
            f.write(cfg)
        self.f = open(self.log, "w")
        args = ["--listen", "udp:127.0.0.1:0", "--listen", "tcp:127.0.0.1:0"] + (
            ["--listen", "tls:127.0.0.1:0"] if tls else []) if listen else []
        self.p = subprocess.Popen([PROXY, "--config", path, "--state-dir", tmp,
                                   "--workers", "2", "--log-level", "info",
                                   "--control", control] + args,
                                  stdout=self.f, stderr=subprocess.STDOUT)
        self.ports = {}
        deadline = time.time() + 10
        while time.time() < deadline and "running" not in self.text():
            if self.p.poll() is not None:
                break
            time.sleep(0.05)
        for tp, port in re.findall(r"listening on (\w+):127\.0\.0\.1:(\d+)", self.text()):
            self.ports[tp] = int(port)
        if "udp" not in self.ports or ("tcp" not in self.ports and listen):
            raise RuntimeError("proxy did not start:\n" + self.text())

    def text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

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


def sipp_cmd(tmp, scen, port, transport, extra):
    return ["sipp", "-sf", os.path.join(HERE, scen), "-t", transport,
            "-i", "127.0.0.1", "-p", str(port), "-m", "1",
            "-cp", str(free_port()), "-mp", str(free_port(pair=True)),
            "-timeout", "25s", "-timeout_error", "-nostdin", "-trace_err",
            "-trace_msg"] + extra


def run_call(tmp, name, uac, uas, proxy_port, service="bob", transport="u1",
             uas_port=None, uac_extra=()):
    """run_call_once, again with fresh ports when another test took one of
    ours between picking it and sipp binding it."""
    for attempt in range(4):
        ok, detail, trace = run_call_once(tmp, "%s-%d" % (name, attempt), uac, uas,
                                          proxy_port, service, transport, uas_port,
                                          uac_extra)
        if ok or "Unable to bind" not in detail:
            break
        time.sleep(0.2)
    return ok, detail, trace


def run_call_once(tmp, name, uac, uas, proxy_port, service, transport, uas_port,
                  uac_extra):
    """Runs one sipp UAS (in the background) and one sipp UAC against it
    through the proxy. Returns (ok, detail, uas message trace)."""
    d = os.path.join(tmp, name)
    os.makedirs(d, exist_ok=True)
    uas_port = uas_port or free_port()
    uas_p = subprocess.Popen(sipp_cmd(d, uas, uas_port, "u1", []), cwd=d,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    time.sleep(0.3)
    if uas_p.poll() is not None:
        out = uas_p.communicate()[0].decode(errors="replace")
        errs = "".join(open(os.path.join(d, fn), errors="replace").read()
                       for fn in os.listdir(d) if fn.endswith("_errors.log"))
        return False, "uas exited at once: " + out[-500:] + errs, ""
    uac_port = free_port(socket.SOCK_STREAM if transport == "t1" else socket.SOCK_DGRAM)
    cmd = sipp_cmd(d, uac, uac_port, transport,
                   ["-s", service, "-rsa", "127.0.0.1:%d" % proxy_port,
                    "127.0.0.1:%d" % uas_port] + list(uac_extra))
    uac = subprocess.run(cmd, cwd=d, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         timeout=60)
    try:
        uas_out = uas_p.communicate(timeout=30)[0]
    except subprocess.TimeoutExpired:
        uas_p.kill()
        uas_out = uas_p.communicate()[0]
    trace = ""
    for fn in os.listdir(d):
        if fn.startswith(os.path.basename(uas).replace(".xml", "")) and fn.endswith("_messages.log"):
            with open(os.path.join(d, fn), errors="replace") as f:
                trace = f.read()
    errs = ""
    for fn in os.listdir(d):
        if fn.endswith("_errors.log"):
            with open(os.path.join(d, fn), errors="replace") as f:
                errs += fn + ":\n" + f.read()[-1500:]
    ok = uac.returncode == 0 and uas_p.returncode == 0
    detail = ("uac rc=%d uas rc=%s\n%s\n%s\n%s" %
              (uac.returncode, uas_p.returncode, uac.stdout.decode(errors="replace")[-1200:],
               uas_out.decode(errors="replace")[-800:], errs))
    return ok, detail, trace


def msg(method, ruri, branch, call_id, cseq, port, extra="", to_tag=""):
    return ("%s %s SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport\r\n"
            "Max-Forwards: 70\r\nFrom: <sip:alice@test>;tag=fa\r\n"
            "To: <%s>%s\r\nCall-ID: %s\r\nCSeq: %d %s\r\n"
            "Contact: <sip:alice@127.0.0.1:%d>\r\n%sContent-Length: 0\r\n\r\n"
            % (method, ruri, port, branch, ruri, to_tag, call_id, cseq,
               method if method != "ACK" else "ACK", port, extra)).encode()


def recv_all(sock, seconds):
    """Every datagram that arrives within 'seconds'."""
    out = []
    deadline = time.time() + seconds
    while True:
        left = deadline - time.time()
        if left <= 0:
            return out
        sock.settimeout(left)
        try:
            data, addr = sock.recvfrom(65535)
        except socket.timeout:
            return out
        out.append((data.decode(errors="replace"), addr))


def recv_until(sock, pred, seconds):
    deadline = time.time() + seconds
    while True:
        left = deadline - time.time()
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            data, addr = sock.recvfrom(65535)
        except socket.timeout:
            return None
        text = data.decode(errors="replace")
        if pred(text):
            return text, addr


def answer(req, code, reason, to_tag="tb"):
    """A response from a raw-socket callee: Via lines copied."""
    vias = [l for l in req.split("\r\n") if l.lower().startswith("via:")]
    get = lambda h: next((l for l in req.split("\r\n") if l.lower().startswith(h)), "")
    to = get("to:")
    if "tag=" not in to:
        to += ";tag=" + to_tag
    return ("SIP/2.0 %d %s\r\n%s\r\n%s\r\n%s\r\n%s\r\n%s\r\nContent-Length: 0\r\n\r\n"
            % (code, reason, "\r\n".join(vias), get("from:"), to, get("call-id:"),
               get("cseq:"))).encode()


def udp_sock():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    return s, s.getsockname()[1]


def final_status(udp, ruri, call_id, wait=6):
    """An INVITE to ruri sent to the proxy's UDP port: the status line of the
    final response, or None after 'wait' seconds."""
    s, port = udp_sock()
    try:
        s.sendto(msg("INVITE", ruri, "z9hG4bK" + call_id, call_id, 1, port),
                 ("127.0.0.1", udp))
        r = recv_until(s, lambda t: t.startswith("SIP/2.0 ") and
                       not t.startswith("SIP/2.0 1"), wait)
        return r[0].split("\r\n")[0] if r else None
    finally:
        s.close()


def main():
    if subprocess.run(["which", "sipp"], capture_output=True).returncode != 0:
        print("sipp not installed: skipped")
        return 77
    tmp = tempfile.mkdtemp(prefix="rp-call-")
    dead = free_port()          # nothing listens here
    fo_uas = free_port()
    cfg = """
log_level = info;
mediad_socket = "none";   # signaling-only: SDP passes unchanged
timer_t1 = 50;
domain = "example.com";
listen udp 127.0.0.1:5060;
trunk tr {
    address = "127.0.0.1:%d", "127.0.0.1:%d";
    inbound { source = 192.0.2.1; }
}
route request {
    if (has_header("Route")) { relay; }
    if (method == "ACK" || method == "CANCEL") { relay; }
    if (ruri.user == "failover") { record_route; relay tr; }
    record_route;
    relay;
}
""" % (dead, fo_uas)
    proxy = Proxy(tmp, cfg)
    udp, tcp = proxy.ports["udp"], proxy.ports["tcp"]
    try:
        ok, detail, _ = run_call(tmp, "udp", "proxy_call_uac.xml", "proxy_call_uas.xml", udp)
        check("full call over UDP (INVITE/100/180/200/ACK/BYE/200)", ok, detail)

        ok, detail, _ = run_call(tmp, "tcp", "proxy_call_uac.xml", "proxy_call_uas.xml", tcp,
                                 transport="t1")
        check("full call TCP in, UDP out (double Record-Route)", ok, detail)

        ok, detail, trace = run_call(tmp, "busy", "proxy_call_busy_uac.xml",
                                     "proxy_call_busy_uas.xml", udp)
        check("486 relayed back, caller's ACK absorbed", ok, detail)
        inv = re.search(r"^INVITE sip:[^\n]*\n(?:Via|v): [^\n]*?branch=([^;\s,]+)", trace, re.M)
        ack = re.search(r"^ACK sip:[^\n]*\n(?:Via|v): [^\n]*?branch=([^;\s,]+)", trace, re.M)
        check("hop-by-hop ACK has the INVITE's branch",
              inv and ack and inv.group(1) == ack.group(1), trace[-2000:])
        check("only the proxy's ACK reached the callee", trace.count("ACK sip:") == 1,
              trace[-2000:])

        t0 = time.time()
        ok, detail, _ = run_call(tmp, "failover", "proxy_call_uac.xml",
                                 "proxy_call_uas.xml", udp, service="failover",
                                 uas_port=fo_uas)
        check("failover: dead first trunk address, second answers", ok, detail)
        check("failover waited for Timer B (64*T1 = 3.2 s)", time.time() - t0 >= 3.0,
              time.time() - t0)

        # CANCEL before the answer, with raw sockets on both sides.
        caller, cport = udp_sock()
        callee, eport = udp_sock()
        ruri = "sip:bob@127.0.0.1:%d" % eport
        caller.sendto(msg("INVITE", ruri, "z9hG4bKcx1", "cancel-1", 1, cport), ("127.0.0.1", udp))
        got = recv_until(callee, lambda t: t.startswith("INVITE "), 3)
        check("CANCEL: INVITE reached the callee", got is not None)
        if got:
            inv_text, paddr = got
            callee.sendto(answer(inv_text, 180, "Ringing"), paddr)
            check("CANCEL: 180 relayed",
                  recv_until(caller, lambda t: t.startswith("SIP/2.0 180"), 3) is not None)
            caller.sendto(msg("CANCEL", ruri, "z9hG4bKcx1", "cancel-1", 1, cport),
                          ("127.0.0.1", udp))
            r = recv_until(caller, lambda t: t.startswith("SIP/2.0 200") and "CANCEL" in t, 3)
            check("CANCEL: 200 to the CANCEL", r is not None)
            c = recv_until(callee, lambda t: t.startswith("CANCEL "), 3)
            check("CANCEL: sent on to the callee with the INVITE's branch",
                  c is not None and re.search(r"branch=([^;\r]+)", c[0]).group(1) ==
                  re.search(r"branch=([^;\r]+)", inv_text).group(1), c)
            if c:
                callee.sendto(answer(c[0], 200, "OK"), c[1])
            callee.sendto(answer(inv_text, 487, "Request Terminated"), paddr)
            r = recv_until(caller, lambda t: t.startswith("SIP/2.0 487"), 3)
            check("CANCEL: 487 back to the caller", r is not None)
            a = recv_until(callee, lambda t: t.startswith("ACK "), 3)
            check("CANCEL: proxy ACKed the 487 itself", a is not None)
            if r:
                caller.sendto(msg("ACK", ruri, "z9hG4bKcx1", "cancel-1", 1, cport,
                                  to_tag=";tag=tb"), ("127.0.0.1", udp))

        # The same with sipp as the caller (proxy_call_cancel_uac.xml).
        d = os.path.join(tmp, "cancel-sipp")
        os.makedirs(d, exist_ok=True)
        uac = subprocess.Popen(sipp_cmd(d, "proxy_call_cancel_uac.xml", free_port(), "u1",
                                        ["-s", "bob", "-rsa", "127.0.0.1:%d" % udp,
                                         "127.0.0.1:%d" % eport]),
                               cwd=d, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        got = recv_until(callee, lambda t: t.startswith("INVITE "), 5)
        if got:
            callee.sendto(answer(got[0], 180, "Ringing"), got[1])
            c = recv_until(callee, lambda t: t.startswith("CANCEL "), 5)
            if c:
                callee.sendto(answer(c[0], 200, "OK"), c[1])
            callee.sendto(answer(got[0], 487, "Request Terminated"), got[1])
        try:
            out = uac.communicate(timeout=40)[0]
        except subprocess.TimeoutExpired:
            uac.kill()
            out = uac.communicate()[0]
        check("sipp caller: CANCEL gets 200, INVITE gets 487", uac.returncode == 0,
              out.decode(errors="replace")[-1500:])

        # An INVITE retransmission is absorbed: the callee sees one INVITE.
        ruri = "sip:bob@127.0.0.1:%d" % eport
        inv = msg("INVITE", ruri, "z9hG4bKrt1", "retrans-1", 1, cport)
        caller.sendto(inv, ("127.0.0.1", udp))
        got = recv_until(callee, lambda t: t.startswith("INVITE ") and "retrans-1" in t, 3)
        if got:
            callee.sendto(answer(got[0], 100, "Trying"), got[1])
        time.sleep(0.1)
        caller.sendto(inv, ("127.0.0.1", udp))
        caller.sendto(inv, ("127.0.0.1", udp))
        more = [t for t, _ in recv_all(callee, 1.0) if t.startswith("INVITE ")]
        check("INVITE retransmissions absorbed (callee saw one)", got is not None and not more,
              more)
        trying = [t for t, _ in recv_all(caller, 0.5) if t.startswith("SIP/2.0 100")]
        check("each retransmission got the 100 again", len(trying) >= 2, trying)
        if got:
            callee.sendto(answer(got[0], 486, "Busy Here"), got[1])
            check("the 486 relayed", recv_until(
                caller, lambda t: t.startswith("SIP/2.0 486"), 3) is not None)
            # The transaction frees its request and the forwarded copy with
            # the final response; a retransmission still gets the 486 again
            # (not a new INVITE to the callee).
            caller.sendto(inv, ("127.0.0.1", udp))
            r = recv_until(caller, lambda t: t.startswith("SIP/2.0 486"), 3)
            check("INVITE retransmitted after the 486: the 486 again", r is not None)
            more = [t for t, _ in recv_all(callee, 0.5) if t.startswith("INVITE ")]
            check("INVITE retransmitted after the 486: not forwarded", not more, more)
            caller.sendto(msg("ACK", ruri, "z9hG4bKrt1", "retrans-1", 1, cport,
                              to_tag=";tag=tb"), ("127.0.0.1", udp))

        # A BYE retransmitted after its 200 (Timer J's job) gets the 200
        # again from the proxy, and the callee sees one BYE.
        bye = msg("BYE", ruri, "z9hG4bKbyert1", "byert-1", 2, cport, to_tag=";tag=tb")
        caller.sendto(bye, ("127.0.0.1", udp))
        got = recv_until(callee, lambda t: t.startswith("BYE ") and "byert-1" in t, 3)
        check("BYE reached the callee", got is not None)
        if got:
            callee.sendto(answer(got[0], 200, "OK"), got[1])
            r = recv_until(caller, lambda t: t.startswith("SIP/2.0 200") and "byert-1" in t, 3)
            check("BYE: 200 relayed", r is not None)
            for _ in range(2):
                caller.sendto(bye, ("127.0.0.1", udp))
                r = recv_until(caller, lambda t: t.startswith("SIP/2.0 200") and
                               "byert-1" in t, 3)
                check("BYE retransmitted after the 200: the 200 again", r is not None)
            more = [t for t, _ in recv_all(callee, 0.5) if t.startswith("BYE ")]
            check("BYE retransmissions absorbed (callee saw one)", not more, more)

        # Transport bridging: the caller on TLS, the callee on UDP, and back.
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE   # the proxy's generated self-signed cert
        raw = socket.create_connection(("127.0.0.1", proxy.ports["tls"]), timeout=5)
        tls = ctx.wrap_socket(raw)
        tport = tls.getsockname()[1]
        ruri = "sip:bob@127.0.0.1:%d" % eport
        tls.sendall(msg("INVITE", ruri, "z9hG4bKtls1", "tls-1", 1, tport)
                    .replace(b"SIP/2.0/UDP", b"SIP/2.0/TLS"))
        got = recv_until(callee, lambda t: t.startswith("INVITE ") and "tls-1" in t, 5)
        check("TLS in, UDP out: INVITE reached the callee over UDP", got is not None)
        if got:
            rr = re.findall(r"^Record-Route: (.*)$", got[0], re.M)
            check("TLS in, UDP out: double Record-Route (udp on top, tls below)",
                  len(rr) == 2 and "transport=" not in rr[0] and "transport=tls" in rr[1], rr)
            callee.sendto(answer(got[0], 200, "OK"), got[1])
            tls.settimeout(5)
            buf = b""
            deadline = time.time() + 5
            while time.time() < deadline and b"SIP/2.0 200" not in buf:
                try:
                    chunk = tls.recv(65535)
                except socket.timeout:
                    break
                if not chunk:
                    break
                buf += chunk
            check("TLS in, UDP out: 200 came back over the TLS connection",
                  b"SIP/2.0 200" in buf and b"tls-1" in buf, buf[-600:])
        tls.close()

        # UDP in, TCP out: the proxy opens the connection to the callee and
        # the response comes back over it.
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        srv.settimeout(5)
        ruri = "sip:bob@127.0.0.1:%d;transport=tcp" % srv.getsockname()[1]
        caller.sendto(msg("INVITE", ruri, "z9hG4bKtcpo1", "tcpout-1", 1, cport),
                      ("127.0.0.1", udp))
        inv_tcp = b""
        try:
            conn, _ = srv.accept()
            conn.settimeout(5)
            deadline = time.time() + 5
            while time.time() < deadline and b"\r\n\r\n" not in inv_tcp:
                chunk = conn.recv(65535)
                if not chunk:
                    break
                inv_tcp += chunk
        except socket.timeout:
            conn = None
        text = inv_tcp.decode(errors="replace")
        check("UDP in, TCP out: INVITE arrived over the proxy's TCP connection",
              text.startswith("INVITE ") and "SIP/2.0/TCP" in text.split("\r\n")[1], text[:400])
        if conn and text.startswith("INVITE "):
            conn.sendall(answer(text, 200, "OK"))
            r = recv_until(caller, lambda t: t.startswith("SIP/2.0 200") and "tcpout-1" in t, 5)
            check("UDP in, TCP out: 200 relayed back to the UDP caller", r is not None)
            conn.close()
        srv.close()

        # Malformed requests get 400 with the parser's reason; calls go on.
        bad = (b"INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKbad\r\n"
               b"From: <sip:a@test>;tag=1\r\nTo: <sip:b@test>\r\nCall-ID: bad-1\r\n"
               b"CSeq: abc INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n" % cport)
        caller.sendto(bad, ("127.0.0.1", udp))
        r = recv_until(caller, lambda t: "bad-1" in t, 3)
        check("malformed request: 400 with the parser's reason",
              r is not None and r[0].startswith("SIP/2.0 400 Bad CSeq"), r)
        caller.sendto(b"\x00\x01garbage\r\n\r\n", ("127.0.0.1", udp))
        caller.sendto(b"SIP/2.0 200 OK\r\nVia: nonsense\r\n\r\n", ("127.0.0.1", udp))
        ok, detail, _ = run_call(tmp, "after-bad", "proxy_call_uac.xml",
                                 "proxy_call_uas.xml", udp)
        check("a call still works after malformed input", ok, detail)
        check("proxy still running", proxy.alive(), proxy.text()[-2000:])
    finally:
        proxy.stop()
    if failures:
        print("proxy log tail:\n" + proxy.text()[-4000:])
        print("FAILED: " + ", ".join(failures))
        return 1
    # A trunk known by its verified client certificate (from_trunk with
    # cert_subject): only on a listener that verifies client certificates.
    pki = os.path.join(tmp, "pki")
    subprocess.run(["sh", os.path.join(HERE, "proxy_mkcerts.sh"), pki], check=True)
    callee, eport = udp_sock()
    u2, t2 = free_port(), free_port(socket.SOCK_STREAM)
    cfg2 = """
log_level = info;
mediad_socket = "none";
listen udp 127.0.0.1:%d;
listen tls 127.0.0.1:%d {
    cert = "%s/server.pem"; key = "%s/server.key"; ca_file = "%s/ca.pem";
    verify_client = yes;
}
trunk carrier {
    address = "127.0.0.1:%d";
    inbound { cert_subject = "O=Rampart Test, CN=client.test.example"; }
}
route request {
    if (from_trunk(carrier)) { relay carrier; }
    reply 403 "Not From Trunk";
}
""" % (u2, t2, pki, pki, pki, eport)
    p2 = Proxy(tmp, cfg2, name="proxy-cert", listen=False)
    try:
        for with_cert in (True, False):
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.load_verify_locations(os.path.join(pki, "ca.pem"))
            ctx.check_hostname = False
            if with_cert:
                ctx.load_cert_chain(os.path.join(pki, "client.pem"),
                                    os.path.join(pki, "client.key"))
            tls = ctx.wrap_socket(socket.create_connection(("127.0.0.1", t2), timeout=5))
            cid = "cert-%d" % with_cert
            tls.sendall(msg("INVITE", "sip:+4930123@carrier.example", "z9hG4bK" + cid, cid, 1,
                            tls.getsockname()[1]).replace(b"SIP/2.0/UDP", b"SIP/2.0/TLS"))
            tls.settimeout(5)
            buf = b""
            deadline = time.time() + 5
            while time.time() < deadline and b"\r\n\r\n" not in buf:
                try:
                    chunk = tls.recv(65535)
                except socket.timeout:
                    break
                if not chunk:
                    break
                buf += chunk
            got = recv_until(callee, lambda t: cid in t, 1.5)
            if with_cert:
                check("verified client certificate identifies the trunk (relayed)",
                      got is not None and buf.startswith(b"SIP/2.0 100"), (buf[:200], p2.text()[-1500:]))
            else:
                check("no client certificate: not the trunk (403)",
                      got is None and buf.startswith(b"SIP/2.0 403"), buf[:200])
            tls.close()
    finally:
        p2.stop()
    if failures:
        print("FAILED: " + ", ".join(failures))
        return 1
    shutil.rmtree(tmp, ignore_errors=True)   # kept when something failed
    print("all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
