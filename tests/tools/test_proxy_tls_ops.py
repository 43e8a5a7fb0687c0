#!/usr/bin/env python3
"""TLS operations of a real rampart-proxy, through rampartctl and real TLS
clients: SNI certificates from the config (openssl s_client -servername),
tls.cert.stage refusals (not a certificate, a key that does not match, an
expired certificate, a chain the configured CA does not sign, a certificate
missing the slot's name) that change nothing, stage + commit and SIGHUP while
sipp calls run over TLS (sipp -> stunnel -> proxy -> sipp UAS), with no failed
call, the established TLS connections kept and new ones getting the new
certificate; tls connections (version, cipher, SNI, mutual-TLS peer
certificate); handshake failure counters (TLS 1.1, no client certificate)
in stats and in the Prometheus metrics scraped with curl.

Usage: test_proxy_tls_ops.py RAMPART_PROXY RAMPARTCTL
Ports are picked free; every wait is bounded; no timing assertions."""
import json
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

PROXY, CTL = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MKCERTS = os.path.join(ROOT, "tests", "integration", "proxy_mkcerts.sh")
SIG = os.path.join(ROOT, "tests", "bench", "signaling")
failures = []


def check(name, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else ": " + str(detail)[-2000:]))
    sys.stdout.flush()
    if not cond:
        failures.append(name)


def free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def free_udp_block(n):
    """n consecutive free UDP ports (sipp's -mp binds several from there)."""
    for _ in range(200):
        base = free_port(socket.SOCK_DGRAM)
        if base + n > 65535:
            continue
        socks = []
        try:
            for i in range(n):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", base + i))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no block of %d free UDP ports" % n)


def wait_port(port, secs=10):
    deadline = time.time() + secs
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def ctl(sock, *args, js=True):
    r = subprocess.run([CTL, "--proxy-socket", sock] + (["--json"] if js else []) + list(args),
                       capture_output=True, text=True, timeout=20)
    doc = None
    if js:
        try:
            doc = json.loads(r.stdout)
        except ValueError:
            doc = None
    return r.returncode, doc if js else r.stdout, r.stderr


def s_client(port, args, timeout=15):
    """A handshake with openssl s_client; returns (rc, output)."""
    r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port] + args,
                       input=b"", capture_output=True, timeout=timeout)
    return r.returncode, (r.stdout + r.stderr).decode(errors="replace")


def subject_of(out):
    m = re.search(r"^subject=(.*)$", out, re.M)
    return m.group(1) if m else ""


def options(port, call):
    return ("OPTIONS sip:127.0.0.1:%d SIP/2.0\r\n"
            "Via: SIP/2.0/TLS 127.0.0.1:5099;branch=z9hG4bK-%s;rport\r\n"
            "From: <sip:ops@test>;tag=t-%s\r\nTo: <sip:127.0.0.1:%d>\r\n"
            "Call-ID: %s\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
            "Content-Length: 0\r\n\r\n" % (port, call, call, port, call)).encode()


def read_response(sock, timeout=5.0):
    sock.settimeout(timeout)
    data = b""
    deadline = time.time() + timeout
    while b"\r\n\r\n" not in data and time.time() < deadline:
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, ssl.SSLWantReadError):
            continue
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")


def metrics(port):
    r = subprocess.run(["curl", "-s", "-f", "--max-time", "10",
                        "http://127.0.0.1:%d/metrics" % port],
                       capture_output=True, text=True, timeout=20)
    out = {}
    for line in r.stdout.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        k, _, v = line.rpartition(" ")
        out[k] = float(v)
    return r.returncode, out


def sipp_stat(csv):
    """Last row of sipp's -trace_stat CSV as a dict."""
    try:
        with open(csv) as f:
            rows = [l.rstrip("\n").split(";") for l in f if l.strip()]
    except OSError:
        return None
    if len(rows) < 2:
        return None
    return dict(zip(rows[0], rows[-1]))


CFG = """
log_level = info;
control_socket = "%(sock)s";
mediad_socket = "none";
listen udp 127.0.0.1:%(udp)d;
listen tls 127.0.0.1:%(tls)d {
    cert = "%(pki)s/live.pem";
    key = "%(pki)s/live.key";
    sni = "sip.test.example";
    sni_cert "edge.test.example" "*.edge2.test.example" {
        cert = "%(pki)s/edge.pem";
        key = "%(pki)s/edge.key";
    }
    media_encryption = allow;
}
listen tls 127.0.0.1:%(mtls)d {
    cert = "%(pki)s/server.pem";
    key = "%(pki)s/server.key";
    ca_file = "%(pki)s/ca.pem";
    verify_client = yes;
    require_client_cert = yes;
    media_encryption = allow;
}
route request {
    if (method == "OPTIONS") { reply 200 "OK"; }
    if (method == "INVITE") { record_route; }
    relay;
}
"""


def main():
    for tool in ("openssl", "sipp", "stunnel", "curl"):
        if not shutil.which(tool):
            print("SKIP: %s is not installed (scripts/setup installs it)" % tool)
            return 77
    tmp = tempfile.mkdtemp(prefix="rp-tls-ops-")
    procs = []
    try:
        pki = os.path.join(tmp, "pki")
        subprocess.run(["sh", MKCERTS, pki], check=True, stdout=subprocess.DEVNULL)
        shutil.copy(os.path.join(pki, "server.pem"), os.path.join(pki, "live.pem"))
        shutil.copy(os.path.join(pki, "server.key"), os.path.join(pki, "live.key"))
        sock = os.path.join(tmp, "proxy.sock")
        ports = {"udp": free_port(socket.SOCK_DGRAM), "tls": free_port(), "mtls": free_port()}
        cfgp = os.path.join(tmp, "proxy.conf")
        with open(cfgp, "w") as f:
            f.write(CFG % dict(sock=sock, pki=pki, **ports))
        log = open(os.path.join(tmp, "proxy.log"), "w")
        px = subprocess.Popen([PROXY, "--config", cfgp, "--workers", "2",
                               "--metrics-listen", "127.0.0.1:0"],
                              stdout=log, stderr=subprocess.STDOUT)
        procs.append(px)

        def text():
            with open(os.path.join(tmp, "proxy.log")) as f:
                return f.read()
        deadline = time.time() + 15
        while time.time() < deadline and "running with" not in text() and px.poll() is None:
            time.sleep(0.05)
        m = re.search(r"metrics on http://127\.0\.0\.1:(\d+)/metrics", text())
        if not m or px.poll() is not None:
            check("proxy starts with two TLS listeners and an sni_cert", False, text())
            return 1
        mport = int(m.group(1))
        tls, mtls = ports["tls"], ports["mtls"]
        label = "tls:127.0.0.1:%d" % tls
        mlabel = "tls:127.0.0.1:%d" % mtls

        # ---- SNI ----
        for name, want in (("edge.test.example", "CN = edge.test.example"),
                           ("a.edge2.test.example", "CN = edge.test.example"),
                           ("sip.test.example", "CN = sip.test.example"),
                           ("unknown.example", "CN = sip.test.example")):
            rc, out = s_client(tls, ["-servername", name])
            check("SNI %s gets %s" % (name, want), want in subject_of(out), out[-800:])
        rc, out = s_client(tls, ["-noservername"])
        check("no SNI gets the default certificate", "CN = sip.test.example" in subject_of(out),
              out[-800:])

        # ---- tls cert show ----
        rc, doc, err = ctl(sock, "tls", "cert", "show")
        certs = (doc or {}).get("certificates", [])
        mine = [c for c in certs if c.get("listener") == label]
        check("tls cert show: default and SNI certificate of the listener",
              rc == 0 and len(mine) == 2 and mine[0]["slot"] == "default" and
              "CN=sip.test.example" in mine[0]["subject"] and mine[0]["names"] == ["sip.test.example"] and
              mine[1]["slot"] == "sni" and mine[1]["names"] == ["edge.test.example", "*.edge2.test.example"] and
              "DNS:edge.test.example" in mine[1]["sans"] and mine[0]["key-type"] == "ECDSA P-256" and
              mine[0]["chain-length"] == 1 and "Rampart Test CA" in mine[0]["issuer"] and
              re.match(r"\d{4}-\d\d-\d\dT", mine[0]["not-after"]) and mine[0]["serial"] and
              all(c["state"] == "in-use" for c in certs), doc or err)
        check("tls cert show: the mTLS listener's chain is verified against its ca_file",
              any(c.get("listener") == mlabel and "verified against" in c.get("chain-check", "")
                  for c in certs), certs)
        rc, out, err = ctl(sock, "tls", "cert", "show", js=False)
        check("tls cert show (text): a block per certificate",
              rc == 0 and "subject      /O=Rampart Test/CN=sip.test.example" in out and
              "days left" in out, out + err)
        def certs_state(cs):
            # expires-in-days depends on the clock (a certificate made this
            # second reads 2, a second later 1): not part of the state compared
            return json.dumps([{k: v for k, v in c.items() if k != "expires-in-days"}
                               for c in (cs or [])], sort_keys=True)
        before = certs_state(certs)

        # ---- refused stages change nothing ----
        bad = os.path.join(tmp, "bad.pem")
        with open(bad, "w") as f:
            f.write("not a certificate\n")
        P = lambda n: os.path.join(pki, n)
        refusals = [
            ("a file that is no certificate", [bad, P("server.key")], "no PEM certificate"),
            ("a missing file", [P("nosuch.pem"), P("server.key")], "No such file"),
            ("a key that does not match", [P("server2.pem"), P("server.key")], "does not match"),
            ("an expired certificate", [P("expired.pem"), P("expired.key")], "expired"),
            ("a certificate without the slot's name", [P("wrong.pem"), P("wrong.key")],
             "does not cover the name 'sip.test.example'"),
            ("a chain the listener's CA does not sign", [P("other.pem"), P("other.key"),
                                                         "listener=" + mlabel],
             "chain does not verify"),
            ("an SNI name no sni_cert serves", [P("edge2.pem"), P("edge2.key"), "name=x.example"],
             "serves 'x.example'"),
        ]
        for what, args, reason in refusals:
            rc, out, err = ctl(sock, "tls", "cert", "stage", *args, js=False)
            check("stage refuses %s: exit 1, says why" % what,
                  rc == 1 and reason in err and "nothing staged" in err, (rc, out, err))
        rc, doc, err = ctl(sock, "tls", "cert", "show")
        check("after the refusals nothing is staged and nothing changed",
              rc == 0 and certs_state(doc.get("certificates")) == before, doc)
        rc, out, err = ctl(sock, "tls", "cert", "commit", js=False)
        check("commit with nothing staged: exit 1", rc == 1 and "nothing staged" in err, (rc, err))
        rc, out = s_client(tls, ["-servername", "sip.test.example"])
        check("still the old certificate after the refusals",
              "CN = sip.test.example" in subject_of(out), out[-500:])

        # ---- stage + abort ----
        rc, doc, err = ctl(sock, "tls", "cert", "stage", P("server2.pem"), P("server2.key"))
        staged = [c for c in (doc or {}).get("certificates", []) if c["state"] == "staged"]
        check("stage without listener=: staged on every TLS listener (default slot)",
              rc == 0 and sorted(doc.get("staged")) == sorted([label, mlabel]) and
              len(staged) == 2 and all("CN=sip2.test.example" in c["subject"] for c in staged),
              doc or err)
        rc, doc, err = ctl(sock, "tls", "cert", "stage", P("server2.pem"), P("server2.key"),
                           "listener=" + label)
        rc2, doc2, err2 = ctl(sock, "tls", "cert", "show")
        staged = [c for c in (doc2 or {}).get("certificates", []) if c["state"] == "staged"]
        check("stage with listener=: staged on that listener (the earlier stage of the other stays)",
              rc == 0 and doc.get("staged") == [label] and len(staged) == 2, (doc, doc2))
        rc, out, err = ctl(sock, "tls", "cert", "stage", P("expired.pem"), P("expired.key"), js=False)
        rc2, doc, err2 = ctl(sock, "tls", "cert", "show")
        check("a refused stage keeps the earlier staged certificate",
              rc == 1 and any(c["state"] == "staged" and "sip2.test.example" in c["subject"]
                              for c in doc.get("certificates", [])), (err, doc))
        rc, out = s_client(tls, ["-servername", "sip.test.example"])
        check("a staged certificate is not in use yet", "CN = sip.test.example" in subject_of(out),
              out[-500:])
        rc, out, err = ctl(sock, "tls", "cert", "abort", js=False)
        rc2, doc, err2 = ctl(sock, "tls", "cert", "show")
        check("abort drops it", rc == 0 and "dropped" in out and
              certs_state(doc.get("certificates")) == before, (out, err, doc))

        # ---- calls over TLS while certificates change ----
        ca = P("ca.pem")
        st_port = free_port()
        scfg = os.path.join(tmp, "stunnel.conf")
        with open(scfg, "w") as f:
            f.write("foreground = yes\npid =\ndebug = 4\noutput = %s/stunnel.log\n"
                    "[sip]\nclient = yes\naccept = 127.0.0.1:%d\nconnect = 127.0.0.1:%d\n"
                    "sni = sip.test.example\nsessionResume = no\nsslVersionMin = TLSv1.2\n"
                    "CAfile = %s\nverifyChain = yes\n" % (tmp, st_port, tls, ca))
        stn = subprocess.Popen(["stunnel", scfg], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, cwd=tmp)
        procs.append(stn)
        check("stunnel listens", wait_port(st_port), "")
        uas_port = free_port(socket.SOCK_DGRAM)
        uas = subprocess.Popen(["sipp", "-sf", os.path.join(SIG, "uas.xml"), "-i", "127.0.0.1",
                                "-p", str(uas_port), "-t", "u1", "-cp", str(free_port()),
                                "-mp", str(free_udp_block(4)), "-nostdin",
                                "-trace_err", "-error_file", os.path.join(tmp, "uas_err.log")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp)
        procs.append(uas)
        time.sleep(0.5)
        if uas.poll() is not None:
            check("sipp UAS runs", False, open(os.path.join(tmp, "uas_err.log")).read()[-800:])
            return 1
        calls, rate = 300, 20
        uac_csv = os.path.join(tmp, "uac.csv")
        uac = subprocess.Popen(["sipp", "-sf", os.path.join(SIG, "uac.xml"), "-i", "127.0.0.1",
                                "-p", str(free_port()), "-t", "t1", "-cp", str(free_port()),
                                "-mp", str(free_udp_block(4)), "-recv_timeout", "10000",
                                "-key", "via_transport", "TLS", "-key", "contact_transport", "tls",
                                "-key", "uas", "127.0.0.1:%d" % uas_port, "-s", "ops",
                                "-r", str(rate), "-m", str(calls), "-timeout", "120s",
                                "-nostdin", "-trace_err", "-error_file",
                                os.path.join(tmp, "uac_err.log"), "-trace_stat", "-stf", uac_csv,
                                "-fd", "1", "127.0.0.1:%d" % st_port],
                               stdout=open(os.path.join(tmp, "uac.out"), "wb"),
                               stderr=subprocess.STDOUT, cwd=tmp)
        procs.append(uac)
        # Our own long-lived TLS connection, opened before the changes.
        ctx = ssl.create_default_context(cafile=ca)
        ctx.check_hostname = False
        keep = ctx.wrap_socket(socket.create_connection(("127.0.0.1", tls), timeout=5),
                               server_hostname="sip.test.example")
        keep_port = keep.getsockname()[1]
        keep.sendall(options(tls, "k1"))
        r = read_response(keep)
        check("long-lived TLS connection answers before the change", r.startswith("SIP/2.0 200"), r)
        # Wait until calls flow.
        deadline = time.time() + 30
        flowing = False
        while time.time() < deadline and not flowing:
            st = sipp_stat(uac_csv)
            flowing = bool(st) and int(st.get("SuccessfulCall(C)", "0") or 0) >= 10
            time.sleep(0.2)
        check("calls over TLS complete before the certificate changes", flowing, st)
        rc, doc, err = ctl(sock, "tls", "connections")
        conns = (doc or {}).get("connections", [])
        stun = [c for c in conns if c.get("listener") == label and c.get("sni") == "sip.test.example"
                and c.get("state") == "established" and c.get("peer") != "127.0.0.1:%d" % keep_port]
        mine = [c for c in conns if c.get("peer") == "127.0.0.1:%d" % keep_port]
        check("tls connections lists stunnel's and our connection with version and cipher",
              rc == 0 and stun and mine and mine[0]["tls-version"] in ("TLSv1.2", "TLSv1.3") and
              mine[0]["cipher"] and mine[0]["direction"] == "inbound" and
              "CN=sip.test.example" in mine[0]["certificate"] and mine[0]["local"] == "127.0.0.1:%d" % tls,
              doc or err)
        stun_peers = {c["peer"] for c in stun}
        rc, doc, err = ctl(sock, "tls", "cert", "stage", P("server2.pem"), P("server2.key"),
                           "listener=" + label)
        check("stage during calls", rc == 0 and doc.get("staged") == [label], err)
        rc, out, err = ctl(sock, "tls", "cert", "commit", js=False)
        check("commit during calls", rc == 0 and label in out, (out, err))
        rc, out = s_client(tls, ["-servername", "sip.test.example"])
        check("a new connection after the commit presents the new certificate",
              "CN = sip2.test.example" in subject_of(out), out[-500:])
        keep.sendall(options(tls, "k2"))
        r = read_response(keep)
        check("the connection opened before the commit still works", r.startswith("SIP/2.0 200"), r)
        # SIGHUP re-reads the committed files: still server2.
        px.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while time.time() < deadline and text().count("reloaded; established") < 2:
            time.sleep(0.1)
        check("SIGHUP during calls reloads both listeners", text().count("reloaded; established") >= 2,
              text()[-800:])
        rc, out = s_client(tls, ["-servername", "sip.test.example"])
        check("after SIGHUP the committed certificate is still served",
              "CN = sip2.test.example" in subject_of(out), out[-500:])
        rc, doc, err = ctl(sock, "tls", "cert", "show")
        cur = [c for c in doc.get("certificates", []) if c["listener"] == label and c["slot"] == "default"]
        check("tls cert show: the committed files are in use (generation moved)",
              cur and cur[0]["cert-file"].endswith("server2.pem") and cur[0]["generation"] >= 1, cur)
        # Renew the SNI certificate by name.
        rc, doc, err = ctl(sock, "tls", "cert", "stage", P("edge2.pem"), P("edge2.key"),
                           "name=edge.test.example")
        check("stage an SNI certificate by name refuses one without the slot's *.edge2 name",
              rc == 1 and "*.edge2.test.example" in err, (rc, err))
        keep.sendall(options(tls, "k3"))
        r = read_response(keep)
        check("the connection opened before the changes still works after SIGHUP",
              r.startswith("SIP/2.0 200"), r)
        rc, doc, err = ctl(sock, "tls", "connections")
        still = [c for c in (doc or {}).get("connections", []) if c.get("peer") in stun_peers]
        running = uac.poll() is None
        check("stunnel's TLS connection stayed up across commit and SIGHUP (first generation)",
              rc == 0 and (still and still[0]["generation"] == 0 or not running), (stun_peers, doc))
        try:
            uac.wait(timeout=150)
        except subprocess.TimeoutExpired:
            uac.kill()
            uac.wait()
        st = sipp_stat(uac_csv) or {}
        ok, failed = int(st.get("SuccessfulCall(C)", "0") or 0), int(st.get("FailedCall(C)", "0") or 0)
        check("all %d calls over TLS succeeded across stage, commit and SIGHUP" % calls,
              uac.returncode == 0 and ok == calls and failed == 0, (uac.returncode, st))
        check("the calls were still running when the certificate changed (else the test "
              "proves less)", running, st)
        keep.close()

        # ---- mutual TLS: the peer certificate, and failure counters ----
        rc0, doc0, _ = ctl(sock, "stats", "proxy")
        f0 = (doc0 or {}).get("proxy", {}).get("tls-failures", {})
        cl = subprocess.Popen(["openssl", "s_client", "-connect", "127.0.0.1:%d" % mtls,
                               "-cert", P("client.pem"), "-key", P("client.key"), "-CAfile", ca,
                               "-quiet"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        procs.append(cl)
        found = None
        deadline = time.time() + 10
        while time.time() < deadline and not found:
            rc, doc, err = ctl(sock, "tls", "connections")
            for c in (doc or {}).get("connections", []):
                if c.get("listener") == mlabel and c.get("state") == "established":
                    found = c
            time.sleep(0.1)
        check("tls connections shows the mTLS client's certificate subject and SANs",
              found and "CN=client.test.example" in found["peer-subject"] and
              "DNS:client.test.example" in found["peer-sans"], found)
        rc, out, err = ctl(sock, "tls", "connections", js=False)
        check("tls connections (text): a table with the peer certificate",
              rc == 0 and out.startswith("DIR") and "client.test.example" in out, out + err)
        cl.stdin.close()
        cl.kill()
        cl.wait()
        s_client(tls, ["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"])
        s_client(mtls, ["-CAfile", ca])
        s_client(mtls, ["-CAfile", ca, "-cert", P("other.pem"), "-key", P("other.key")])
        deadline = time.time() + 10
        f1 = {}
        while time.time() < deadline:
            rc, doc, err = ctl(sock, "stats", "proxy")
            f1 = (doc or {}).get("proxy", {}).get("tls-failures", {})
            if f1.get("protocol-version", 0) > f0.get("protocol-version", 0) and \
               f1.get("no-client-cert", 0) > f0.get("no-client-cert", 0) and \
               f1.get("bad-certificate", 0) > f0.get("bad-certificate", 0):
                break
            time.sleep(0.1)
        check("stats: a TLS 1.1 attempt counts as protocol-version",
              f1.get("protocol-version", 0) == f0.get("protocol-version", 0) + 1, (f0, f1))
        check("stats: a client without a certificate under mTLS counts as no-client-cert",
              f1.get("no-client-cert", 0) == f0.get("no-client-cert", 0) + 1, (f0, f1))
        check("stats: a client certificate from another CA counts as bad-certificate",
              f1.get("bad-certificate", 0) == f0.get("bad-certificate", 0) + 1, (f0, f1))
        rc, mx = metrics(mport)
        fk = 'rampart_proxy_tls_handshake_failures_total{direction="inbound",reason="%s"}'
        hk = 'rampart_proxy_tls_handshakes_total{direction="inbound"}'
        check("metrics (curl): failures by reason match stats",
              rc == 0 and mx.get(fk % "protocol-version") == f1.get("protocol-version") and
              mx.get(fk % "no-client-cert") == f1.get("no-client-cert"), mx)
        check("metrics (curl): handshakes total counts the successes and the failures",
              mx.get(hk, 0) >= 10 + sum(f1.values()), (mx.get(hk), f1))
        check("metrics (curl): TLS connections gauge present",
              "rampart_proxy_tls_connections_active" in mx, sorted(mx)[:20])
        check("proxy alive after all of the above", px.poll() is None, text()[-800:])
        px.terminate()
        try:
            px.wait(timeout=30)
        except subprocess.TimeoutExpired:
            px.kill()
            px.wait()
        # Under -Db_sanitize an error or a leak is reported here.
        check("proxy exits 0 on SIGTERM, no sanitizer report",
              px.returncode == 0 and "Sanitizer" not in text() and "runtime error" not in text(),
              (px.returncode, text()[-3000:]))
    finally:
        for p in reversed(procs):
            try:
                if p.poll() is None:
                    p.terminate()
                    try:
                        p.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        p.kill()
                        p.wait()
            except Exception:
                pass
        if failures:
            print("logs kept in " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
