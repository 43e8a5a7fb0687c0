#!/usr/bin/env python3
"""proxy_hostile.py PROXY: hostile SIP against a live rampart-proxy over
UDP, TCP and TLS, the way an outside tester would send it.

Each case states what RFC 3261 wants: a 400 whose reason phrase names the
problem, another final answer, or silence (a broken response, a datagram
with nothing to answer to). After every case the proxy must still answer
an OPTIONS (a bounded wait, not a timing assertion); at the end its memory must not have grown
past a bound, and its log must say why it refused things.

Ports are picked by the kernel (the proxy listens on port 0 and logs what
it bound); every wait and every loop is bounded (about 20 s in all)."""
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

PROXY = sys.argv[1]
failures = []

CONF = """
log_level = info;
# Every refusal logged, for the 'the log says why' checks (the limit on such
# lines has its own test: log_flood.py).
log_rate_burst = 0;
realm = "rampart";
domain = "127.0.0.1";
user alice { ha1_md5 = "d03b1c803d446cc473926ad83d7ff641"; }
route request {
    if (has_header("Route")) { relay; }
    if (method == "CANCEL" || method == "ACK") { relay; }
    if (!is_local(ruri.host)) { reply 403 "Relaying Denied"; }
    if (method == "REGISTER" && has_header("X-Auth")) { authenticate; save; }
    if (method == "REGISTER") { save; }
    if (!lookup()) { reply 404 "Not Found"; }
    relay;
}
"""


def check(name, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else ": " + str(detail)[:600]))
    if not cond:
        failures.append(name)


class Proxy:
    def __init__(self, tmp):
        self.log = os.path.join(tmp, "proxy.log")
        conf = os.path.join(tmp, "hostile.conf")
        with open(conf, "w") as f:
            f.write(CONF)
        self.f = open(self.log, "w")
        self.p = subprocess.Popen([PROXY, "--config", conf, "--state-dir", tmp, "--workers", "2",
                                   "--control", "none", "--log-level", "info",
                                   "--listen", "udp:127.0.0.1:0", "--listen", "tcp:127.0.0.1:0",
                                   "--listen", "tls:127.0.0.1:0"],
                                  stdout=self.f, stderr=subprocess.STDOUT)
        self.ports = {}
        deadline = time.time() + 15
        while time.time() < deadline and self.p.poll() is None and "running" not in self.text():
            time.sleep(0.05)
        for tp, port in re.findall(r"listening on (\w+):127\.0\.0\.1:(\d+)", self.text()):
            self.ports[tp] = int(port)
        if len(self.ports) != 3:
            raise RuntimeError("proxy did not start:\n" + self.text())

    def text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def rss_kb(self):
        with open("/proc/%d/status" % self.p.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.f.close()


seq = [0]


def request(method="OPTIONS", ruri="sip:127.0.0.1", tp="UDP", extra="", body="",
            drop=(), user="t"):
    """A well-formed request with a fresh branch and Call-ID; 'extra' header
    lines go before Max-Forwards, 'drop' names headers to leave out."""
    seq[0] += 1
    n = seq[0]
    hdrs = [("Via", "SIP/2.0/%s 127.0.0.1:9;branch=z9hG4bK-h%d;rport" % (tp, n)),
            ("Max-Forwards", "70"), ("From", "<sip:%s@127.0.0.1>;tag=f%d" % (user, n)),
            ("To", "<sip:%s@127.0.0.1>" % user), ("Call-ID", "hostile-%d" % n),
            ("CSeq", "%d %s" % (n, method))]
    text = "%s %s SIP/2.0\r\n" % (method, ruri) + extra
    for name, value in hdrs:
        if name not in drop:
            text += "%s: %s\r\n" % (name, value)
    text += "Content-Length: %d\r\n\r\n%s" % (len(body.encode("latin1")), body)
    return text.encode("latin1")


def udp(px, data, wait=1.0):
    """Sends one datagram; returns the first answer's status line or None."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(wait)
    try:
        s.sendto(data, ("127.0.0.1", px.ports["udp"]))
        r = s.recv(65536).decode(errors="replace")
        return r.split("\r\n", 1)[0]
    except socket.timeout:
        return None
    finally:
        s.close()


def alive(px, after):
    # A liveness check, not a speed test (the wait only bounds the run;
    # it answers in milliseconds when the machine is not overloaded).
    r = udp(px, request(), 5.0)
    check("still answers OPTIONS after: " + after,
          px.p.poll() is None and r is not None and r.startswith("SIP/2.0 200 "), r)


def stream_case(px, tp, data, wait=1.5, until_close=False):
    """Sends data over a fresh TCP or TLS connection; returns (first line
    of the answer or '', closed by the proxy). Reads until the first line,
    or with until_close until the proxy closes (or 'wait' passes)."""
    raw = socket.create_connection(("127.0.0.1", px.ports[tp]), 3)
    if tp == "tls":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        raw = ctx.wrap_socket(raw, server_hostname="localhost")
    raw.settimeout(wait)
    out, closed = b"", False
    try:
        raw.sendall(data)
        while until_close or b"\r\n" not in out:
            c = raw.recv(65536)
            if not c:
                closed = True
                break
            out += c
    except socket.timeout:
        pass
    except OSError:
        # reset, or for TLS an EOF without close_notify: closed all the same
        closed = True
    raw.close()
    return out.decode(errors="replace").split("\r\n", 1)[0], closed


class MemTLS:
    """A TLS client over a plain socket through memory BIOs: writes become
    records in memory, sent with one sendall, so the proxy gets them in one
    burst whatever the kernel and the machine's load do with timing."""
    def __init__(self, sock):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.sock, self.i, self.o = sock, ssl.MemoryBIO(), ssl.MemoryBIO()
        self.t = ctx.wrap_bio(self.i, self.o, server_hostname="localhost")
        while True:
            try:
                self.t.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.sock.sendall(self.o.read())
                d = self.sock.recv(65536)
                if not d:
                    raise OSError("closed in the handshake")
                self.i.write(d)
        self.sock.sendall(self.o.read())

    def send_records(self, pieces):
        for p in pieces:
            self.t.write(p)            # one record each
        self.sock.sendall(self.o.read())

    def recv(self):
        while True:
            try:
                return self.t.read(65536)
            except ssl.SSLWantReadError:
                d = self.sock.recv(65536)
                if not d:
                    return b""
                self.i.write(d)


def stream_answers(px, tp, pieces, want, wait=5.0):
    """Sends the pieces over a fresh connection: over TLS one record each,
    all in one burst; over TCP one send each. Returns how many 200s came back within a bounded wait."""
    raw = socket.create_connection(("127.0.0.1", px.ports[tp]), 3)
    raw.settimeout(3)
    out = b""
    deadline = time.time() + wait
    try:
        if tp == "tls":
            conn = MemTLS(raw)
            conn.send_records(pieces)
            recv = conn.recv
        else:
            # TCP: one segment each as far as the kernel lets us.
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for p in pieces:
                raw.sendall(p)
            recv = lambda: raw.recv(65536)  # noqa: E731
        while out.count(b"SIP/2.0 200 ") < want and time.time() < deadline:
            raw.settimeout(max(0.05, deadline - time.time()))
            c = recv()
            if not c:
                break
            out += c
    except OSError:
        pass
    raw.close()
    return out.count(b"SIP/2.0 200 ")


def main():
    tmp = tempfile.mkdtemp(prefix="rampart-hostile-")
    px = Proxy(tmp)
    try:
        rss0 = px.rss_kb()
        # (label, datagram, expected status line prefix, or None for silence)
        def mut(old, new, **kw):
            return request(**kw).replace(old.encode(), new.encode("latin1"), 1)
        cases = [
            ("Content-Length larger than the body", mut("Content-Length: 0", "Content-Length: 500"),
             "SIP/2.0 400 Content-Length Mismatch"),
            ("Content-Length negative", mut("Content-Length: 0", "Content-Length: -1"),
             "SIP/2.0 400 Bad Content-Length"),
            ("Content-Length 2^64", mut("Content-Length: 0", "Content-Length: 18446744073709551616"),
             "SIP/2.0 400 Bad Content-Length"),
            ("CSeq negative", re.sub(rb"CSeq: \d+", b"CSeq: -1", request()), "SIP/2.0 400 Bad CSeq"),
            ("CSeq 2^32", re.sub(rb"CSeq: \d+", b"CSeq: 4294967296", request()), "SIP/2.0 400 Bad CSeq"),
            ("CSeq method differs", re.sub(rb"CSeq: (\d+) OPTIONS", rb"CSeq: \1 INVITE", request()),
             "SIP/2.0 400 CSeq Method Mismatch"),
            ("Max-Forwards negative", mut("Max-Forwards: 70", "Max-Forwards: -1"),
             "SIP/2.0 400 Bad Max-Forwards"),
            ("Max-Forwards 256", mut("Max-Forwards: 70", "Max-Forwards: 256"),
             "SIP/2.0 400 Bad Max-Forwards"),
            ("Via port 65536", mut("127.0.0.1:9;", "127.0.0.1:65536;"), "SIP/2.0 400 Bad Via"),
            ("Via rport=70000", mut(";rport", ";rport=70000"), "SIP/2.0 400 Bad Via"),
            ("Via IPv6 literal unclosed", mut("127.0.0.1:9;", "[::1:9;"), "SIP/2.0 400 Bad Via"),
            ("Via IPv6 literal empty", mut("127.0.0.1:9;", "[]:9;"), "SIP/2.0 400 Bad Via"),
            ("Via IPv6 literal 200 groups", mut("127.0.0.1:9;", "[" + "1:" * 200 + "1]:9;"),
             "SIP/2.0 400 Bad Via"),
            ("header line without colon", mut("Max-Forwards: 70", "Max-Forwards 70"),
             "SIP/2.0 400 Bad Header"),
            ("NUL byte in a header", mut("From: <sip:t@", "From: <sip:t\x00@"), "SIP/2.0 400 NUL Byte"),
            ("SIP/3.0", request().replace(b"SIP/2.0\r\n", b"SIP/3.0\r\n", 1),
             "SIP/2.0 505 Version Not Supported"),
            ("no From", request(drop=("From",)), "SIP/2.0 400 Missing Header"),
            ("no To", request(drop=("To",)), "SIP/2.0 400 Missing Header"),
            ("no Call-ID", request(drop=("Call-ID",)), "SIP/2.0 400 Missing Header"),
            ("no CSeq", request(drop=("CSeq",)), "SIP/2.0 400 Missing Header"),
            ("Call-ID twice", request(extra="Call-ID: x\r\n"), "SIP/2.0 400 Duplicate Header"),
            ("5000 headers", request(extra="X-A: b\r\n" * 5000), "SIP/2.0 400 Too Many Headers"),
            ("1000 Vias", request(extra="Via: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKx\r\n" * 1000),
             "SIP/2.0 400 Too Many Headers"),
            ("Request-URI port 999999", request(ruri="sip:127.0.0.1:999999"), "SIP/2.0 400 Bad URI"),
            ("Request-URI IPv6 garbage", request(ruri="sip:[:::::::::::::]"), "SIP/2.0 400 Bad URI"),
            ("non-UTF-8 display name", mut("From: <", "From: \"\xff\xfe\" <"), "SIP/2.0 200 "),
            # A proxy ignores what it does not use, well-formed or not
            # (RFC 3261 16.3): From/To URIs are parsed only when read.
            ("From URI port 99999999 (not read)", mut("From: <sip:t@127.0.0.1>",
             "From: <sip:t@127.0.0.1:99999999>"), "SIP/2.0 200 "),
            ("REGISTER To URI port 99999999 (the registrar reads it)", mut(
             "To: <sip:t@127.0.0.1>", "To: <sip:t@127.0.0.1:99999999>", method="REGISTER",
             extra="Contact: <sip:t@127.0.0.1:9>\r\n"), "SIP/2.0 400 "),
            ("no Max-Forwards (the proxy adds it)", request(drop=("Max-Forwards",)), "SIP/2.0 200 "),
            ("Max-Forwards 0 OPTIONS to us", mut("Max-Forwards: 70", "Max-Forwards: 0"), "SIP/2.0 200 "),
            ("unknown method to nobody", request("FOOBAR", ruri="sip:nobody@127.0.0.1"),
             "SIP/2.0 404 "),
            # The transaction key (branch + sent-by) has a 2,048-byte
            # limit: the sender's fault, not a 500 Server Internal Error.
            ("Via host of 3000 characters", request("FOOBAR", ruri="sip:nobody@127.0.0.1").replace(
                b"127.0.0.1:9;", b"h" * 3000 + b":9;", 1), "SIP/2.0 400 Transaction Key Too Long"),
            ("Via branch of 3000 characters", request("FOOBAR", ruri="sip:nobody@127.0.0.1").replace(
                b"branch=z9hG4bK", b"branch=z9hG4bK" + b"b" * 3000, 1),
             "SIP/2.0 400 Transaction Key Too Long"),
            ("CANCEL with no transaction", request("CANCEL"),
             "SIP/2.0 481 Call/Transaction Does Not Exist"),
            ("BYE with Route: <garbage>", request("BYE", extra="Route: <garbage>\r\n"),
             "SIP/2.0 400 Bad Route"),
            ("BYE routed to IPv6 (no IPv6 listener)", request("BYE",
             extra="Route: <sip:[2001:db8::1]:5060;lr>\r\n"), "SIP/2.0 503 No Listener For IPv6"),
            # Silence: nobody to answer (RFC 3261 18.1.2 / 18.2.1).
            ("empty datagram", b"", None),
            ("garbage datagram", b"\x00\x01\x02hello", None),
            ("no Via", request(drop=("Via",)), None),
            ("ACK with no transaction", request("ACK"), None),
            ("200 with no transaction", b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:9;"
             b"branch=z9hG4bKnone\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\n"
             b"Call-ID: nx\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n", None),
            ("response code 000", b"SIP/2.0 000 X\r\nVia: SIP/2.0/UDP 127.0.0.1:9;"
             b"branch=z9hG4bKnone\r\nContent-Length: 0\r\n\r\n", None),
            # The registrar and digest: a 400 that says what was wrong.
            ("REGISTER Expires: abc", request("REGISTER", extra="Contact: <sip:t@127.0.0.1:9>\r\n"
             "Expires: abc\r\n"), "SIP/2.0 400 Bad Expires"),
            ("REGISTER Contact ;expires=-1", request("REGISTER",
             extra="Contact: <sip:t@127.0.0.1:9>;expires=-1\r\n"), "SIP/2.0 400 Bad Contact Expires"),
            ("REGISTER Contact q=5", request("REGISTER", extra="Contact: <sip:t@127.0.0.1:9>;q=5\r\n"),
             "SIP/2.0 400 Bad Contact q"),
            ("REGISTER Contact: * without Expires: 0", request("REGISTER", extra="Contact: *\r\n"),
             "SIP/2.0 400 Bad Wildcard Contact"),
            ("REGISTER tel: Contact", request("REGISTER", extra="Contact: <tel:+15551234>\r\n"),
             "SIP/2.0 400 Contact Not A SIP URI"),
            ("REGISTER 300 Contacts", request("REGISTER", extra="Contact: " + ",".join(
                "<sip:a%d@1.2.3.4>" % i for i in range(300)) + "\r\n"), "SIP/2.0 403 Too Many Contacts"),
            ("malformed Authorization", request("REGISTER", user="alice", extra="X-Auth: 1\r\n"
             "Contact: <sip:alice@127.0.0.1:9>\r\nAuthorization: Digest ,,,,===\"\r\n"),
             "SIP/2.0 400 Malformed Credentials"),
            ("Authorization with 3000 parameters", request("REGISTER", user="alice",
             extra="X-Auth: 1\r\nContact: <sip:alice@127.0.0.1:9>\r\nAuthorization: Digest " +
             ", ".join("p%d=x" % i for i in range(3000)) + "\r\n"), "SIP/2.0 400 Malformed Credentials"),
        ]
        for label, data, want in cases:
            got = udp(px, data, 1.0 if want else 0.4)
            if want is None:
                check("silence for " + label, got is None, got)
            else:
                check(label + " -> " + want, got is not None and got.startswith(want), got)
            alive(px, label)

        # TCP and TLS: framing errors close the connection; the worker goes on.
        for tp in ("tcp", "tls"):
            line, _ = stream_case(px, tp, request(tp=tp.upper()))
            check(tp + " OPTIONS answered", line.startswith("SIP/2.0 200 "), line)
            for label, data in [("Content-Length 2^40", request(tp=tp.upper()).replace(
                                    b"Content-Length: 0", b"Content-Length: 1099511627776")),
                                ("no Content-Length", re.sub(rb"Content-Length: 0\r\n", b"",
                                                             request(tp=tp.upper()))),
                                ("Content-Length abc", request(tp=tp.upper()).replace(
                                    b"Content-Length: 0", b"Content-Length: abc")),
                                ("Content-Length twice", request(tp=tp.upper()).replace(
                                    b"Content-Length: 0", b"Content-Length: 0\r\nl: 0")),
                                ("200 KB header line", b"OPTIONS sip:127.0.0.1 SIP/2.0\r\nX: " +
                                 b"a" * 200000 + b"\r\n\r\n")]:
                line, closed = stream_case(px, tp, data, until_close=True)
                check("%s %s: connection closed" % (tp, label), closed, line)
                if label == "no Content-Length":
                    # RFC 3261 18.3 / 20.14: required on a stream; the
                    # headers are whole, so the sender learns why.
                    check("%s %s: 400 Missing Content-Length before the close" % (tp, label),
                          line.startswith("SIP/2.0 400 Missing Content-Length"), line)
                # Not a number, or twice: the stream cannot be framed past
                # these headers either, but they are whole: a 400 that says
                # why, then the close (RFC 3261 18.3).
                if label == "Content-Length abc":
                    check("%s %s: 400 Bad Content-Length before the close" % (tp, label),
                          line.startswith("SIP/2.0 400 Bad Content-Length"), line)
                if label == "Content-Length twice":
                    check("%s %s: 400 Duplicate Header before the close" % (tp, label),
                          line.startswith("SIP/2.0 400 Duplicate Header"), line)
            alive(px, tp + " framing errors")
        # Stream edge cases real stacks produce: every message answered.
        for tp in ("tcp", "tls"):
            T = tp.upper()
            one = request(tp=T)
            cases = [("a message in 1-byte pieces (TLS: 1-byte records)",
                      [one[i:i + 1] for i in range(len(one))], 1),
                     ("two messages in one piece", [request(tp=T) + request(tp=T)], 2),
                     ("CRLF keep-alives between messages (RFC 5626 3.5.1)",
                      [b"\r\n\r\n" + request(tp=T) + b"\r\n\r\n\r\n" + request(tp=T)], 2),
                     # More small records than one read's budget (64) in one
                     # burst: the ones read ahead must not wait for the
                     # peer's next bytes (they stalled the message).
                     ("70 CRLF pieces then a message", [b"\r\n"] * 70 + [request(tp=T)], 1),
                     # Legal: under max_message_size (65535), as over UDP;
                     # the framer closed the connection at 16 KiB of headers.
                     ("40 KB of headers", [request(tp=T, extra="X-Big: %s\r\n" % ("a" * 40000))],
                      1)]
            for label, writes, want in cases:
                got = stream_answers(px, tp, writes, want)
                check("%s %s: %d answered" % (tp, label, want), got == want, got)
            alive(px, tp + " stream edge cases")
        # TLS: a ClientHello of garbage and plain text on the TLS port.
        for label, data in [("garbage ClientHello", b"\x16\x03\x01\x02\x00" + os.urandom(512)),
                            ("plain SIP on the TLS port", request(tp="TLS"))]:
            s = socket.create_connection(("127.0.0.1", px.ports["tls"]), 3)
            s.settimeout(3)
            try:
                s.sendall(data)
                r = s.recv(100)
            except OSError:
                r = b""
            s.close()
            check("tls " + label + ": no SIP answer", not r.startswith(b"SIP/"), r[:40])
        alive(px, "TLS garbage")
        # Slow senders and idle connections from one address: capped per
        # address, another address is still served.
        conns = []
        for _ in range(200):
            try:
                conns.append(socket.create_connection(("127.0.0.1", px.ports["tcp"]), 2))
            except OSError:
                break
        msg = request(tp="TCP")
        for k in range(6):
            for c in conns:
                try:
                    c.send(msg[k:k + 1])
                except OSError:
                    pass
            time.sleep(0.2)
        other = socket.socket()
        other.bind(("127.0.0.2", 0))
        other.settimeout(2)
        other.connect(("127.0.0.1", px.ports["tcp"]))
        other.sendall(request(tp="TCP"))
        try:
            line = other.recv(65536).decode(errors="replace").split("\r\n", 1)[0]
        except OSError as e:
            line = str(e)
        other.close()
        check("200 slow connections from 127.0.0.1: 127.0.0.2 still served",
              line.startswith("SIP/2.0 200 "), line)
        for c in conns:
            c.close()
        alive(px, "slow connections")
        # A burst of distinct REGISTERs for distinct AORs: bounded work, the
        # process does not balloon (each is one small binding).
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.05)
        for i in range(2000):
            s.sendto(request("REGISTER", user="flood%d" % i,
                             extra="Contact: <sip:flood%d@127.0.0.1:9>\r\n" % i),
                     ("127.0.0.1", px.ports["udp"]))
            if i % 50 == 49:
                try:
                    while True:
                        s.recv(65536)
                except socket.timeout:
                    pass
        s.close()
        alive(px, "2000 REGISTERs")
        rss1 = px.rss_kb()
        check("memory bounded (RSS %d kB -> %d kB, under +64 MB)" % (rss0, rss1),
              rss1 - rss0 < 64 * 1024, (rss0, rss1))
        log = px.text()
        for why in ("over the transaction key limit", "Route does not parse", "Content-Length Mismatch", "Too Many Headers", "dropped malformed response",
                    "Bad Contact Expires", "malformed credentials", "Content-Length"):
            check("the log says why: " + why, why in log)
    finally:
        px.stop()
    check("proxy exited cleanly", px.p.returncode == 0, px.p.returncode)
    if failures:
        print("log tail:\n" + px.text()[-3000:])
        print("%d failed: %s" % (len(failures), ", ".join(failures)))
        sys.exit(1)
    subprocess.run(["rm", "-rf", tmp])


main()
