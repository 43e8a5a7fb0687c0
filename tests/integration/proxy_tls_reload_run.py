#!/usr/bin/env python3
"""proxy_tls_reload_run.py PROXY: a config reload applies changed TLS settings.

An edge proxy whose TLS listener and outbound `tls {}` come from its config
file; the file is rewritten and SIGHUP sent:
- the listener's cert/key paths change: new handshakes get the new
  certificate (subject read from the handshake), a TLS connection opened
  before the reload keeps working (an OPTIONS over it gets its 200);
- an added `sni_cert` block is served for its name; removed, it no longer is;
- a path that does not exist: the reload is refused naming the file and the
  listen block, the old certificate is still served;
- a changed listen port and worker count: reported as needing a restart,
  the rest applied;
- the global outbound CA changes: the next outbound connection (to a second
  rampart-proxy as the carrier, its certificate from another CA) uses it.
The last two go through the control command config.reload (its answer
carries the refusal and the needs-restart list), the others SIGHUP.
Every port is picked free; every wait is bounded."""
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import proxy_call_run as pcr  # noqa: E402  (same PROXY argument)
import ctlproto  # noqa: E402

check = pcr.check

EDGE = """
log_level = info;
%(extra)s
mediad_socket = "none";
timer_t1 = 50;
tls { ca_file = "%(pki)s/%(outca)s"; }
listen udp 127.0.0.1:%(udp)d;
listen tls 127.0.0.1:%(tls)d {
    cert = "%(pki)s/%(cert)s"; key = "%(pki)s/%(key)s";
%(sni)s}
trunk carrier {
    address = "127.0.0.1:%(pa)d"; transport = tls; server_name = "sip.test.example";
    inbound { source = 192.0.2.1; }
}
route request {
    if (method == "ACK") { drop; }
    if (ruri.user == "out") { relay carrier; }
    reply 200 "OK from the edge";
}
"""
SNI = """    sni_cert "edge.test.example" {
        cert = "%s/edge.pem"; key = "%s/edge.key";
    }
"""


def tls_connect(port, pki, sni=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(os.path.join(pki, "ca.pem"))
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    return ctx.wrap_socket(raw, server_hostname=sni)


def served_cn(port, pki, sni=None):
    """The CN of the certificate a new handshake gets (with SNI 'sni')."""
    try:
        s = tls_connect(port, pki, sni)
    except (OSError, ssl.SSLError) as e:
        return "error: %s" % e
    try:
        for rdn in s.getpeercert().get("subject", ()):
            for k, v in rdn:
                if k == "commonName":
                    return v
        return None
    finally:
        s.close()


def options_over(s, n):
    """An OPTIONS over an open TLS connection: the status line back."""
    lp = s.getsockname()[1]
    m = ("OPTIONS sip:edge@127.0.0.1 SIP/2.0\r\n"
         "Via: SIP/2.0/TLS 127.0.0.1:%d;branch=z9hG4bKrld%d;rport\r\n"
         "Max-Forwards: 70\r\nFrom: <sip:t@test>;tag=r%d\r\nTo: <sip:edge@127.0.0.1>\r\n"
         "Call-ID: rld-%d\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n" % (lp, n, n, n))
    try:
        s.sendall(m.encode())
        s.settimeout(5)
        buf = b""
        while b"\r\n\r\n" not in buf:
            d = s.recv(4096)
            if not d:
                return None
            buf += d
        return buf.split(b"\r\n")[0].decode()
    except (OSError, ssl.SSLError) as e:
        return "error: %s" % e


def main():
    tmp = tempfile.mkdtemp(prefix="rp-tls-reload-")
    pki = os.path.join(tmp, "pki")
    subprocess.run(["sh", os.path.join(HERE, "proxy_mkcerts.sh"), pki], check=True,
                   stdout=subprocess.DEVNULL)
    pa = pcr.free_port(socket.SOCK_STREAM)
    peer_cfg = """
log_level = info;
mediad_socket = "none";
listen udp 127.0.0.1:%d;
listen tls 127.0.0.1:%d { cert = "%s/other.pem"; key = "%s/other.key"; }
route request {
    if (method == "ACK") { drop; }
    reply 200 "OK from the carrier";
}
""" % (pcr.free_port(), pa, pki, pki)
    v = {"pki": pki, "outca": "ca.pem", "udp": pcr.free_port(),
         "tls": pcr.free_port(socket.SOCK_STREAM), "cert": "server.pem",
         "key": "server.key", "sni": "", "pa": pa, "extra": ""}
    peer = pcr.Proxy(tmp, peer_cfg, name="carrier", listen=False)
    sock = os.path.join(tmp, "edge.sock")
    edge = pcr.Proxy(tmp, EDGE % v, name="edge", listen=False, control=sock)
    conf = os.path.join(tmp, "edge.conf")
    tls = v["tls"]

    def reload_ctl(values):
        with open(conf, "w") as f:
            f.write(EDGE % values)
        c = ctlproto.Client(sock)
        try:
            return c.call("config.reload")
        finally:
            c.s.close()

    def reload(values, what):
        with open(conf, "w") as f:
            f.write(EDGE % values)
        before = edge.text().count("reloaded") + edge.text().count("refused")
        edge.p.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while time.time() < deadline:
            t = edge.text()
            # config reload, then the TLS re-read: both logged
            if t.count("reloaded") + t.count("refused") >= before + 2:
                break
            time.sleep(0.05)
        time.sleep(0.1)
        check("%s: the proxy is still running" % what, edge.alive())

    held = None
    try:
        check("at start the listener serves server.pem",
              served_cn(tls, pki) == "sip.test.example", served_cn(tls, pki))
        check("at start no sni_cert: edge.test.example gets the default",
              served_cn(tls, pki, "edge.test.example") == "sip.test.example")
        held = tls_connect(tls, pki)
        r = options_over(held, 1)
        check("a TLS connection opened before the reload: OPTIONS answered",
              r == "SIP/2.0 200 OK from the edge", r)
        r = pcr.final_status(v["udp"], "sip:out@carrier.example", "rld-out1")
        check("outbound with the global CA ca.pem: the carrier (other CA) is refused",
              r is not None and not r.startswith("SIP/2.0 2"), r)

        # New cert/key paths and an sni_cert block.
        v2 = dict(v, cert="server2.pem", key="server2.key", sni=SNI % (pki, pki))
        reload(v2, "new cert path + sni_cert")
        check("the reload says the listener took its new settings",
              "new settings from" in edge.text(), edge.text()[-2000:])
        cn = served_cn(tls, pki)
        check("after the reload new handshakes get server2.pem", cn == "sip2.test.example", cn)
        cn = served_cn(tls, pki, "edge.test.example")
        check("the added sni_cert is served for edge.test.example",
              cn == "edge.test.example", cn)
        r = options_over(held, 2)
        check("the connection opened before the reload still works",
              r == "SIP/2.0 200 OK from the edge", r)

        # The sni_cert block removed.
        v3 = dict(v2, sni="")
        reload(v3, "sni_cert removed")
        cn = served_cn(tls, pki, "edge.test.example")
        check("the removed sni_cert is no longer served (the default instead)",
              cn == "sip2.test.example", cn)

        # A path that does not exist: refused, nothing changes.
        v4 = dict(v3, cert="missing.pem", sni=SNI % (pki, pki))
        r = reload_ctl(v4)
        why = str(r.get("error-reason", ""))
        check("config.reload with a missing certificate: an error naming file and block",
              r.get("result") == "error" and "missing.pem" in why and
              "listen tls:127.0.0.1:%d" % tls in why and "nothing changed" in why, r)
        t = edge.text()
        check("the refused reload is logged",
              "refused, nothing changed" in t and "missing.pem" in t, t[-2000:])
        cn = served_cn(tls, pki)
        check("after the refused reload the old certificate is still served",
              cn == "sip2.test.example", cn)
        cn = served_cn(tls, pki, "edge.test.example")
        check("after the refused reload the sni_cert of the same file is not served either",
              cn == "sip2.test.example", cn)

        # The global outbound CA, and a listen port that cannot change.
        v5 = dict(v3, outca="other-ca.pem", udp=pcr.free_port(), extra="workers = 1;")
        r = reload_ctl(v5)
        want = "listen udp:127.0.0.1:%d changed to udp:127.0.0.1:%d" % (v["udp"], v5["udp"])
        check("config.reload with a changed listen port: ok, the port named in needs-restart",
              r.get("result") == "ok" and want in str(r.get("needs-restart", "")) and
              "needs a restart" in str(r.get("needs-restart", "")), r)
        check("config.reload with a changed worker count: named in needs-restart",
              "workers 0 changed to 1: needs a restart" in str(r.get("needs-restart", "")), r)
        t = edge.text()
        check("the changed listen port is logged as needing a restart",
              want in t and "needs a restart" in t, t[-2000:])
        r = pcr.final_status(v["udp"], "sip:out@carrier.example", "rld-out2")
        check("outbound after the CA change: the carrier is reached through the new CA",
              r == "SIP/2.0 200 OK from the carrier", r)
        r = options_over(held, 3)
        check("the first connection still works after four reloads",
              r == "SIP/2.0 200 OK from the edge", r)
        check("both proxies still running", edge.alive() and peer.alive())
    finally:
        if held:
            held.close()
        edge.stop()
        peer.stop()
    return pcr.verdict(tmp)


if __name__ == "__main__":
    sys.exit(main())
