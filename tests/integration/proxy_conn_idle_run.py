#!/usr/bin/env python3
"""proxy_conn_idle_run.py PROXY: the idle timeout of stream connections and
RFC 5626 keep-alives (tcp_idle_timeout = 3 s, tcp_keepalive_interval = 1 s).

1. An outbound TLS connection to a trunk whose peer answers every CRLFCRLF
   ping with a CRLF pong: after the call it carried, the pings go on (and
   are answered), yet the edge closes it once no SIP message has crossed it
   for the idle timeout (before: the pongs kept it open for ever, so a
   connection a reload made unusable was never closed).
2. A connection the peer opened (a UA over TCP that registered with save)
   stays open past the idle timeout while the UA pings, every ping gets
   its pong, and an INVITE to the UA's AOR then reaches it over that flow.
   Once the UA stops pinging, the edge closes it after the idle timeout.

The carrier is a Python TLS server (tests' PKI, proxy_mkcerts.sh); callers
are raw sockets; every port is picked free and every wait is bounded."""
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import proxy_call_run as pcr  # noqa: E402  (same PROXY argument)

check = pcr.check
IDLE = 3


class Carrier:
    """A TLS SIP peer: INVITE gets 200, a CRLFCRLF ping gets a CRLF pong.
    Records per connection the pings answered, the time of the last SIP
    message and the time the edge closed it."""

    def __init__(self, pki):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(os.path.join(pki, "server.pem"),
                                 os.path.join(pki, "server.key"))
        self.ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(8)
        self.ls.settimeout(0.2)
        self.port = self.ls.getsockname()[1]
        self.conns = []
        self.lock = threading.Lock()
        self.stop_ev = threading.Event()
        self.threads = [threading.Thread(target=self.accept_loop, daemon=True)]
        self.threads[0].start()

    def accept_loop(self):
        while not self.stop_ev.is_set():
            try:
                raw, _ = self.ls.accept()
            except OSError:
                continue
            st = {"pings": 0, "last_msg": None, "closed": None}
            with self.lock:
                self.conns.append(st)
            t = threading.Thread(target=self.serve, args=(raw, st), daemon=True)
            t.start()
            self.threads.append(t)

    def serve(self, raw, st):
        try:
            raw.settimeout(5)
            s = self.ctx.wrap_socket(raw, server_side=True)
            s.settimeout(0.2)
        except (OSError, ssl.SSLError):
            st["closed"] = time.time()
            raw.close()
            return
        buf = b""
        while not self.stop_ev.is_set():
            try:
                d = s.recv(65536)
            except socket.timeout:
                continue
            except (OSError, ssl.SSLError):
                break
            if not d:
                break
            buf += d
            while True:
                if buf.startswith(b"\r\n\r\n"):
                    buf = buf[4:]
                    st["pings"] += 1
                    s.sendall(b"\r\n")
                    continue
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    break
                head = buf[:end + 4].decode(errors="replace")
                m = re.search(r"^Content-Length: *(\d+)", head, re.M | re.I)
                n = int(m.group(1)) if m else 0
                if len(buf) < end + 4 + n:
                    break
                buf = buf[end + 4 + n:]
                st["last_msg"] = time.time()
                if head.startswith("INVITE "):
                    s.sendall(pcr.answer(head, 200, "OK from the carrier"))
        st["closed"] = time.time()
        try:
            s.close()
        except OSError:
            pass

    def stop(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join(5)
        self.ls.close()


def tcp_read(s, seconds, until=None):
    """Bytes the edge sends on s within 'seconds' (stops early once 'until'
    is in them); the second value is True when the edge closed."""
    out = b""
    deadline = time.time() + seconds
    while time.time() < deadline and not (until and until in out):
        s.settimeout(max(0.05, deadline - time.time()))
        try:
            d = s.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            return out, True
        if not d:
            return out, True
        out += d
    return out, False


def main():
    tmp = tempfile.mkdtemp(prefix="rp-conn-idle-")
    pki = os.path.join(tmp, "pki")
    subprocess.run(["sh", os.path.join(HERE, "proxy_mkcerts.sh"), pki], check=True,
                   stdout=subprocess.DEVNULL)
    carrier = Carrier(pki)
    cfg = """
log_level = info;
mediad_socket = "none";
timer_t1 = 50;
tcp_idle_timeout = %d;
tcp_keepalive_interval = 1;
domain = "edge.test";
tls { ca_file = "%s/ca.pem"; }
trunk carrier {
    address = "127.0.0.1:%d"; transport = tls; server_name = "sip.test.example";
    inbound { source = 192.0.2.1; }
}
route request {
    if (method == "ACK") { drop; }
    if (method == "REGISTER") { save; }
    if (ruri.user == "ua" && lookup()) { relay; }
    relay carrier;
}
""" % (IDLE, pki, carrier.port)
    edge = None
    ua = None
    try:
        edge = pcr.Proxy(tmp, cfg, name="edge")
        udp = edge.ports["udp"]

        # 1. Outbound TLS: pings answered, no SIP: closed after the idle time.
        r = pcr.final_status(udp, "sip:c@carrier.test", "idle-1")
        check("a call over the TLS trunk: 200 from the carrier",
              r == "SIP/2.0 200 OK from the carrier", (r, edge.text()[-1500:]))
        deadline = time.time() + 4 * IDLE + 4
        st = None
        while time.time() < deadline:
            with carrier.lock:
                st = carrier.conns[0] if carrier.conns else None
            if st and st["closed"]:
                break
            time.sleep(0.1)
        check("the edge pinged the idle connection and the carrier answered "
              "(at least 2 pings)", st is not None and st["pings"] >= 2, st)
        check("the edge closed the outbound connection although its pings were "
              "answered (no SIP message for the idle timeout)",
              st is not None and st["closed"] is not None and st["last_msg"] is not None
              and st["closed"] - st["last_msg"] >= IDLE - 0.5, st)
        check("the edge logs the idle timeout", "idle timeout" in edge.text(),
              edge.text()[-1500:])
        r = pcr.final_status(udp, "sip:c@carrier.test", "idle-2")
        check("the next call opens a new connection: 200 from the carrier",
              r == "SIP/2.0 200 OK from the carrier" and len(carrier.conns) == 2,
              (r, carrier.conns))

        # 2. A UA's registered flow: its pings keep it past the idle time.
        ua = socket.create_connection(("127.0.0.1", edge.ports["tcp"]), timeout=5)
        lport = ua.getsockname()[1]
        reg = ("REGISTER sip:edge.test SIP/2.0\r\n"
               "Via: SIP/2.0/TCP 127.0.0.1:%d;branch=z9hG4bKreg1\r\n"
               "Max-Forwards: 70\r\nFrom: <sip:ua@edge.test>;tag=r1\r\n"
               "To: <sip:ua@edge.test>\r\nCall-ID: reg-idle-1\r\nCSeq: 1 REGISTER\r\n"
               "Contact: <sip:ua@127.0.0.1:%d;transport=tcp>\r\nExpires: 60\r\n"
               "Content-Length: 0\r\n\r\n" % (lport, lport))
        ua.sendall(reg.encode())
        got, closed = tcp_read(ua, 3, b"\r\n\r\n")
        check("the UA's REGISTER over TCP: 200", got.startswith(b"SIP/2.0 200"), got[:200])
        pongs = 0
        t_end = time.time() + 2 * IDLE
        closed = False
        while time.time() < t_end and not closed:
            ua.sendall(b"\r\n\r\n")
            got, closed = tcp_read(ua, 0.8, b"\r\n")
            pongs += got.count(b"\r\n")
        check("the UA pinged for twice the idle timeout: the flow stays open and "
              "each ping got a pong", not closed and pongs >= 2 * IDLE, (closed, pongs))
        s, sport = pcr.udp_sock()
        try:
            s.sendto(pcr.msg("INVITE", "sip:ua@edge.test", "z9hG4bKidle3", "idle-3", 1, sport),
                     ("127.0.0.1", udp))
            got, closed = tcp_read(ua, 3, b"\r\n\r\n")
        finally:
            s.close()
        check("an INVITE to the UA's AOR reaches it over its registered flow",
              got.startswith(b"INVITE sip:ua@127.0.0.1:%d" % lport), (closed, got[:300]))
        got, closed = tcp_read(ua, 4 * IDLE + 4)
        check("once the UA stops pinging, the edge closes its flow after the idle "
              "timeout", closed, got[:200])
        check("the edge still runs", edge.alive())
    finally:
        if ua:
            ua.close()
        if edge:
            edge.stop()
        carrier.stop()
    return pcr.verdict(tmp)


if __name__ == "__main__":
    sys.exit(main())
