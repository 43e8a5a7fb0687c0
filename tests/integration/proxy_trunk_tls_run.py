#!/usr/bin/env python3
"""proxy_trunk_tls_run.py PROXY: a trunk's own client TLS settings.

Two TLS "carriers" (a second rampart-proxy with two TLS listeners that
answers every INVITE 200):
- peer A presents a certificate from another CA (other-ca.pem) that the
  edge's global `tls { ca_file }` does not know: the trunk that names
  `ca_file = other-ca.pem` reaches it, a trunk to the same address without
  it does not (handshake refused: unknown CA);
- peer B requires a client certificate from the test CA: the trunk with
  `cert`/`key` reaches it, a trunk to the same address without them does
  not (and peer B says so in its log).
The refused cases run first here (proxy_tls_reuse_run.py runs them after the
accepted ones, which leave their connection open). Then a config reload
naming a trunk key file that does not exist is refused as a whole (the log
says which trunk), and calls go on with the settings in use.

Callers are raw UDP sockets; every port is picked free; every wait is
bounded."""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import proxy_call_run as pcr  # noqa: E402  (same PROXY argument)

check = pcr.check


def call(edge_udp, user, cid, wait=6):
    """An INVITE to user@carrier.example through the edge: the status line
    of the final response, or None."""
    return pcr.final_status(edge_udp, "sip:%s@carrier.example" % user, cid, wait)


def main():
    tmp = tempfile.mkdtemp(prefix="rp-trunk-tls-")
    pki = os.path.join(tmp, "pki")
    subprocess.run(["sh", os.path.join(HERE, "proxy_mkcerts.sh"), pki], check=True,
                   stdout=subprocess.DEVNULL)
    pa, pb, pc = (pcr.free_port(socket.SOCK_STREAM) for _ in range(3))
    peer_cfg = """
log_level = info;
mediad_socket = "none";
listen udp 127.0.0.1:%d;
listen tls 127.0.0.1:%d { cert = "%s/other.pem"; key = "%s/other.key"; }
listen tls 127.0.0.1:%d { cert = "%s/other.pem"; key = "%s/other.key"; }
listen tls 127.0.0.1:%d {
    cert = "%s/server.pem"; key = "%s/server.key"; ca_file = "%s/ca.pem";
    verify_client = yes; require_client_cert = yes;
}
route request {
    if (method == "ACK") { drop; }
    reply 200 "OK from the carrier";
}
""" % (pcr.free_port(), pa, pki, pki, pc, pki, pki, pb, pki, pki, pki)
    edge_cfg = """
log_level = info;
mediad_socket = "none";
timer_t1 = 50;
tls { ca_file = "%(pki)s/ca.pem"; }
trunk a_own_ca {
    address = "127.0.0.1:%(pa)d"; transport = tls; server_name = "sip.test.example";
    ca_file = "%(pki)s/other-ca.pem";
    inbound { source = 192.0.2.1; }
}
trunk a_global_ca {
    address = "127.0.0.1:%(pa)d"; transport = tls; server_name = "sip.test.example";
    inbound { source = 192.0.2.2; }
}
trunk c_no_verify {
    address = "127.0.0.1:%(pc)d"; transport = tls; server_name = "sip.test.example";
    verify_server = no;
    inbound { source = 192.0.2.5; }
}
trunk b_client_cert {
    address = "127.0.0.1:%(pb)d"; transport = tls; server_name = "sip.test.example";
    cert = "%(pki)s/%(cert)s"; key = "%(pki)s/client.key";
    inbound { source = 192.0.2.3; }
}
trunk b_no_cert {
    address = "127.0.0.1:%(pb)d"; transport = tls; server_name = "sip.test.example";
    inbound { source = 192.0.2.4; }
}
route request {
    if (method == "ACK") { drop; }
    if (ruri.user == "a") { relay a_own_ca; }
    if (ruri.user == "a0") { relay a_global_ca; }
    if (ruri.user == "b") { relay b_client_cert; }
    if (ruri.user == "b0") { relay b_no_cert; }
    if (ruri.user == "c") { relay c_no_verify; }
    reply 404 "No Such Trunk";
}
"""
    peer = pcr.Proxy(tmp, peer_cfg, name="carrier", listen=False)
    values = {"pki": pki, "pa": pa, "pb": pb, "pc": pc, "cert": "client.pem"}
    edge = pcr.Proxy(tmp, edge_cfg % values, name="edge")
    udp = edge.ports["udp"]
    try:
        # Refused first: nothing to reuse yet.
        r = call(udp, "a0", "tt-a0")
        check("peer A with the global CA only: no 200 (its CA is not trusted)",
              r is not None and not r.startswith("SIP/2.0 2"), r)
        check("peer A refused: the edge logs why (chain not trusted)",
              "certificate chain not trusted" in edge.text(), edge.text()[-2000:])
        r = call(udp, "b0", "tt-b0")
        check("peer B without a client certificate: no 200",
              r is not None and not r.startswith("SIP/2.0 2"), r)
        time.sleep(0.3)
        check("peer B refused the handshake for want of a client certificate",
              "client sent no certificate" in peer.text(), peer.text()[-2000:])
        # The trunks' own settings.
        r = call(udp, "a", "tt-a")
        check("peer A through the trunk's own ca_file: 200 from the carrier",
              r == "SIP/2.0 200 OK from the carrier", r)
        r = call(udp, "b", "tt-b")
        check("peer B with the trunk's client certificate: 200 from the carrier",
              r == "SIP/2.0 200 OK from the carrier", r)
        r = call(udp, "c", "tt-c")
        check("verify_server = no: an untrusted carrier certificate is accepted",
              r == "SIP/2.0 200 OK from the carrier", r)
        check("verify_server = no is warned about at load",
              "trunk c_no_verify: verify_server = no" in edge.text(), edge.text()[-1500:])

        # A reload naming a key that does not exist: refused, nothing changes.
        with open(os.path.join(tmp, "edge.conf"), "w") as f:
            f.write(edge_cfg % dict(values, cert="missing.pem"))
        edge.p.send_signal(signal.SIGHUP)
        deadline = time.time() + 5
        while time.time() < deadline and "refused" not in edge.text():
            time.sleep(0.05)
        check("reload with a missing trunk certificate refused, naming the trunk",
              "config reload" in edge.text() and "refused" in edge.text() and
              "b_client_cert" in edge.text(), edge.text()[-1500:])
        r = call(udp, "a", "tt-a2")
        check("after the refused reload calls go on", r == "SIP/2.0 200 OK from the carrier", r)
        check("both proxies still running", edge.alive() and peer.alive())
    finally:
        edge.stop()
        peer.stop()
    # A trunk whose TLS files are bad: the proxy does not start.
    bad = edge_cfg % dict(values, cert="missing.pem")
    path = os.path.join(tmp, "bad.conf")
    with open(path, "w") as f:
        f.write(bad)
    r = subprocess.run([pcr.PROXY, "--config", path, "--state-dir", tmp, "--control", "none",
                        "--listen", "udp:127.0.0.1:0", "--listen", "tls:127.0.0.1:0"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
    out = r.stdout.decode(errors="replace")
    check("a trunk with a missing certificate file: the proxy refuses to start",
          r.returncode != 0 and "b_client_cert" in out, out[-1500:])
    return pcr.verdict(tmp)


if __name__ == "__main__":
    sys.exit(main())
