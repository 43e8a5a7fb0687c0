#!/usr/bin/env python3
"""proxy_tls_reuse_run.py PROXY: an open outbound TLS connection carries a
request only when that request's own TLS settings would have accepted it.

A second rampart-proxy is the carrier (every INVITE answered 200) with four
TLS listeners on 127.0.0.1, and the edge has several trunks to the SAME
address and port that differ only in their TLS settings. Each case first
opens (and verifies) a connection with one trunk, then sends with the
other: before the fix the second request rode the first one's connection.

- port A presents a certificate from other-ca: trunk a_other_ca (its own
  ca_file = other-ca.pem) reaches it; then a_global (the global CA only)
  must NOT: the edge logs "certificate chain not trusted".
- port S presents server.pem (sip.test.example, localhost): s_good three
  times = one handshake at the carrier (same-trunk reuse); s_localhost (same
  global settings, server_name localhost, which the certificate also
  proves) reuses it too; s_own (its own ca_file, the same CA file) gets a
  connection of its own (one more handshake); s_wrong (server_name
  other.example) must not reuse: "certificate name mismatch".
- port B requires a client certificate: b_cert (cert/key) reaches it; then
  b_nocert must not: the carrier logs "client sent no certificate".
- port V: a UA connects to the edge over TLS and claims 127.0.0.1:V as its
  Via sent-by (the RFC 5923 alias the edge keeps for UAs on its own IP);
  then trunk v_good (verifying sip.test.example) must reach the real
  carrier at V, not the UA's connection, and the UA gets no INVITE.

Callers are raw UDP sockets; every port is picked free; every wait is
bounded. The carrier's handshake count is read from its /metrics."""
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import proxy_call_run as pcr  # noqa: E402  (same PROXY argument)

check = pcr.check
OK = "SIP/2.0 200 OK from the carrier"


def call(edge_udp, user, cid, wait=6):
    return pcr.final_status(edge_udp, "sip:%s@carrier.example" % user, cid, wait)


def handshakes(mport):
    """The carrier's finished inbound TLS handshakes (ok or failed)."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=5) as r:
        text = r.read().decode()
    m = re.search(r'^rampart_proxy_tls_handshakes_total\{direction="inbound"\} (\d+)$',
                  text, re.M)
    return int(m.group(1)) if m else -1


def settle(mport, want, seconds=3):
    """Handshake count once it reached 'want' (or what it is after the wait:
    a count that stays lower or goes higher is what the check reports)."""
    deadline = time.time() + seconds
    n = handshakes(mport)
    while n < want and time.time() < deadline:
        time.sleep(0.05)
        n = handshakes(mport)
    time.sleep(0.2)  # a late extra handshake would show now
    return handshakes(mport)


def wait_log(proxy, text, seconds=3):
    deadline = time.time() + seconds
    while text not in proxy.text() and time.time() < deadline:
        time.sleep(0.05)
    return text in proxy.text()


def tls_ua(edge_tls, alias_port):
    """A UA over TLS that claims 127.0.0.1:alias_port as its sent-by (an
    INVITE the edge answers 404 itself). Returns the open TLS socket."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection(("127.0.0.1", edge_tls), timeout=5)
    s = ctx.wrap_socket(raw)
    req = ("INVITE sip:nobody@edge.example SIP/2.0\r\n"
           "Via: SIP/2.0/TLS 127.0.0.1:%d;branch=z9hG4bKua-alias-1\r\n"
           "Max-Forwards: 70\r\nFrom: <sip:ua@edge.example>;tag=ua1\r\n"
           "To: <sip:nobody@edge.example>\r\nCall-ID: ua-alias-1\r\nCSeq: 1 INVITE\r\n"
           "Contact: <sip:ua@127.0.0.1:%d;transport=tls>\r\nContent-Length: 0\r\n\r\n"
           % (alias_port, alias_port))
    s.sendall(req.encode())
    return s


def read_tls(s, seconds):
    """Everything the edge sends on s within 'seconds'."""
    out = b""
    deadline = time.time() + seconds
    while time.time() < deadline:
        s.settimeout(max(0.05, deadline - time.time()))
        try:
            d = s.recv(65536)
        except (socket.timeout, ssl.SSLError):
            continue
        if not d:
            break
        out += d
    return out.decode(errors="replace")


def main():
    tmp = tempfile.mkdtemp(prefix="rp-tls-reuse-")
    pki = os.path.join(tmp, "pki")
    subprocess.run(["sh", os.path.join(HERE, "proxy_mkcerts.sh"), pki], check=True,
                   stdout=subprocess.DEVNULL)
    pa, ps, pb, pv = (pcr.free_port(socket.SOCK_STREAM) for _ in range(4))
    mport = pcr.free_port(socket.SOCK_STREAM)
    v = {"pki": pki, "pa": pa, "ps": ps, "pb": pb, "pv": pv, "mport": mport,
         "pu": pcr.free_port()}
    peer_cfg = """
log_level = info;
mediad_socket = "none";
metrics_listen = %(mport)d;
listen udp 127.0.0.1:%(pu)d;
listen tls 127.0.0.1:%(pa)d { cert = "%(pki)s/other.pem"; key = "%(pki)s/other.key"; }
listen tls 127.0.0.1:%(ps)d { cert = "%(pki)s/server.pem"; key = "%(pki)s/server.key"; }
listen tls 127.0.0.1:%(pv)d { cert = "%(pki)s/server.pem"; key = "%(pki)s/server.key"; }
listen tls 127.0.0.1:%(pb)d {
    cert = "%(pki)s/server.pem"; key = "%(pki)s/server.key"; ca_file = "%(pki)s/ca.pem";
    verify_client = yes; require_client_cert = yes;
}
route request {
    if (method == "ACK") { drop; }
    reply 200 "OK from the carrier";
}
""" % v
    trunks = [
        ("a_other_ca", "pa", 'server_name = "sip.test.example"; ca_file = "%(pki)s/other-ca.pem";'),
        ("a_global", "pa", 'server_name = "sip.test.example";'),
        ("s_good", "ps", 'server_name = "sip.test.example";'),
        ("s_localhost", "ps", 'server_name = "localhost";'),
        ("s_own", "ps", 'server_name = "sip.test.example"; ca_file = "%(pki)s/ca.pem";'),
        ("s_wrong", "ps", 'server_name = "other.example";'),
        ("b_cert", "pb", 'server_name = "sip.test.example"; cert = "%(pki)s/client.pem"; '
                         'key = "%(pki)s/client.key";'),
        ("b_nocert", "pb", 'server_name = "sip.test.example";'),
        ("v_good", "pv", 'server_name = "sip.test.example";'),
    ]
    edge_cfg = 'log_level = info;\nmediad_socket = "none";\ntimer_t1 = 50;\n'
    edge_cfg += 'tls { ca_file = "%(pki)s/ca.pem"; }\n'
    route = 'route request {\n    if (method == "ACK") { drop; }\n'
    for i, (name, port, extra) in enumerate(trunks):
        edge_cfg += ('trunk %s {\n    address = "127.0.0.1:%%(%s)d"; transport = tls; %s\n'
                     '    inbound { source = 192.0.2.%d; }\n}\n' % (name, port, extra, i + 1))
        route += '    if (ruri.user == "%s") { relay %s; }\n' % (name, name)
    route += '    reply 404 "No Such Trunk";\n}\n'
    edge_cfg = (edge_cfg + route) % v
    peer = pcr.Proxy(tmp, peer_cfg, name="carrier", listen=False)
    edge = pcr.Proxy(tmp, edge_cfg, name="edge")
    udp = edge.ports["udp"]
    ua = None
    try:
        # Port A: a connection verified against other-ca carries nothing
        # for a trunk that trusts only the global CA.
        r = call(udp, "a_other_ca", "ru-a1")
        check("a_other_ca (its own CA): 200 from the carrier", r == OK, r)
        r = call(udp, "a_global", "ru-a2")
        check("a_global after a_other_ca: no 200 (its CA does not sign port A's "
              "certificate; it did not ride a_other_ca's connection)",
              r is not None and not r.startswith("SIP/2.0 2"), r)
        check("a_global: the edge logs why (chain not trusted)",
              wait_log(edge, "certificate chain not trusted"), edge.text()[-2000:])

        # Port S: same-trunk reuse, identity-covered reuse, separate contexts.
        h0 = handshakes(mport)
        for k in range(3):
            r = call(udp, "s_good", "ru-s%d" % k)
            check("s_good call %d: 200" % (k + 1), r == OK, r)
        h1 = settle(mport, h0 + 1)
        check("three s_good calls: one handshake at the carrier (the connection is "
              "reused)", h1 == h0 + 1, (h0, h1))
        r = call(udp, "s_localhost", "ru-sl")
        check("s_localhost (same settings, a name the certificate also proves): 200",
              r == OK, r)
        h2 = settle(mport, h1)
        check("s_localhost reused s_good's connection (no new handshake)", h2 == h1,
              (h1, h2))
        r = call(udp, "s_own", "ru-so")
        check("s_own (its own client context): 200", r == OK, r)
        h3 = settle(mport, h2 + 1)
        check("s_own opened a connection of its own (one more handshake)", h3 == h2 + 1,
              (h2, h3))
        r = call(udp, "s_wrong", "ru-sw")
        check("s_wrong (server_name other.example): no 200, it did not ride the "
              "connection verified for sip.test.example",
              r is not None and not r.startswith("SIP/2.0 2"), r)
        check("s_wrong: the edge logs why (name mismatch, wanted other.example)",
              wait_log(edge, "certificate name mismatch: wanted other.example"),
              edge.text()[-2000:])
        r = call(udp, "s_good", "ru-s9")
        check("s_good once more: 200", r == OK, r)

        # Port B: a client certificate is part of the context.
        r = call(udp, "b_cert", "ru-b1")
        check("b_cert (client certificate): 200", r == OK, r)
        r = call(udp, "b_nocert", "ru-b2")
        check("b_nocert after b_cert: no 200 (it did not ride b_cert's connection)",
              r is not None and not r.startswith("SIP/2.0 2"), r)
        check("b_nocert: the carrier refused its handshake (no client certificate)",
              wait_log(peer, "client sent no certificate"), peer.text()[-2000:])

        # Port V: a UA's connection aliased to the carrier's address.
        ua = tls_ua(edge.ports["tls"], pv)
        first = read_tls(ua, 2)
        check("the UA's INVITE is answered (404) over its connection",
              first.startswith("SIP/2.0 404"), first[:200])
        r = call(udp, "v_good", "ru-v1")
        check("v_good while a UA's connection claims 127.0.0.1:V: 200 from the real "
              "carrier", r == OK, r)
        got = read_tls(ua, 0.5)
        check("the UA got no INVITE meant for the trunk", "INVITE" not in got, got[:300])
        check("both proxies still running", edge.alive() and peer.alive())
    finally:
        if ua:
            ua.close()
        edge.stop()
        peer.stop()
    return pcr.verdict(tmp)


if __name__ == "__main__":
    sys.exit(main())
