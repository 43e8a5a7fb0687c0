#!/usr/bin/env python3
"""calls_cdr_run.py PROXY MEDIAD RAMPARTCTL: calls, call drop and CDRs.

A real rampart-mediad and a real rampart-proxy (control socket, metrics,
cdr_file), peers on loopback (the helpers of secure_call_run.py):
 1. a TLS caller (Python's ssl) with an SRTP offer to the plain core:
    'rampartctl calls --json' shows one call with the caller leg over TLS
    (version, cipher), AES_CM_128_HMAC_SHA1_80, the callee leg udp/plain,
    joined with mediad's session (port, counters, offload flag); with only
    the proxy reachable (env sockets, no other argument) still one JSON
    document; 'call show'; the caller's BYE ends it: CDR caller-bye with the
    TLS fields, unencrypted true (the core's leg is plain);
 2. sipp UAC -> proxy -> sipp UAS (SRTP bridged to plain), 'rampartctl call
    drop ID': both sipp sides get the proxy's BYE (Reason operator-drop, in
    their own dialog) and answer it; mediad's session is gone; CDR
    operator-drop;
 3. CANCEL before the answer: CDR cancel;
 4. a plain offer from the 'require' trunk: 488; CDR
    policy-refused-srtp-required;
 5. a 486 from the callee: CDR rejected-486;
 10. (run after 5) 'call drop' while the callee rings: CANCEL to the callee,
    487 to the caller, CDR operator-drop with final_code 487;
 6. logrotate: rename the CDR file, SIGHUP, the next call's line is in the
    new file and the earlier ones stay in the renamed one;
 7. metrics scraped with curl: calls_total, calls_active 0,
    calls_refused_total{reason="srtp-required"} 1;
 9. (run after 2) a callee over TLS (trunk transport = tls, the test PKI):
    the callee leg's TLS version, cipher and server certificate subject in
    'calls' and in the CDR; both legs TLS + SRTP: unencrypted false;
 8. a second mediad with media-timeout = 1 and its proxy (cdr_hash = hmac
    with a secret file: from/to are HMAC-SHA256 pseudonyms): a call without
    media gets BYE on both sides (Reason media-timeout; toward the callee
    along the Record-Route value a proxy below us added), CDR media-timeout.
Every port is picked free; every wait is bounded."""
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import secure_call_run as sc  # noqa: E402  (same argv: PROXY MEDIAD RAMPARTCTL)
import e2e_common as E  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PROXY, MEDIAD, CTL = sys.argv[1], sys.argv[2], sys.argv[3]
check = sc.check

CFG = """
log_level = info;
timer_t1 = 100;
tls { ca_file = "%(ca)s"; }
mediad_socket = "%(msock)s";
control_socket = "%(psock)s";
cdr_file = "%(cdr)s";
cdr_fsync_lines = 1;
%(extra)s
listen udp 127.0.0.1:%(udp)d;
listen tls 127.0.0.1:%(tls)d { cert = auto; media_encryption = require; }
trunk access {
    address = "127.0.0.1:9";
    inbound { source = 127.0.0.1/32; }
    media_encryption = require;
    allow_sdes_over_insecure = yes;
}
trunk core {
    address = "127.0.0.2:%(core)d";
    inbound { source = 192.0.2.1/32; }
    media_encryption = disable;
}
trunk core_tls {
    address = "127.0.0.2:%(core_tls)d";
    transport = tls;
    server_name = "sip.test.example";
    inbound { source = 192.0.2.2/32; }
    media_encryption = require;
}
route request {
    if (has_header("Route")) { relay; }
    if (method == "ACK" || method == "CANCEL") { relay; }
    if (ruri.user == "sippuas") { record_route; relay; }
    if (ruri.user == "tlsuas") { record_route; relay core_tls; }
    record_route;
    relay core;
}
"""


def start_mediad(d, name, extra=""):
    p, sock, _ = E.start_mediad(MEDIAD, d, name, extra=extra, log_level="notice")
    return p, sock


class Proxy:
    def __init__(self, d, name, msock, core_port, ca, core_tls=9, extra=""):
        self.psock = os.path.join(d, name + ".sock")
        self.cdr = os.path.join(d, name + "-cdr.jsonl")
        self.logf = os.path.join(d, name + ".log")
        for attempt in range(5):
            conf = os.path.join(d, name + ".conf")
            with open(conf, "w") as f:
                f.write(CFG % {"msock": msock, "psock": self.psock, "cdr": self.cdr,
                               "udp": sc.free_port(), "tls": sc.free_port(socket.SOCK_STREAM),
                               "core": core_port, "ca": ca, "core_tls": core_tls,
                               "extra": extra})
            log = open(self.logf, "w")
            self.p = subprocess.Popen([PROXY, "--config", conf, "--state-dir", d,
                                       "--workers", "2", "--log-level", "info",
                                       "--metrics-listen", "127.0.0.1:0"],
                                      stdout=log, stderr=subprocess.STDOUT)
            deadline = time.time() + 10
            self.port = None
            while time.time() < deadline and self.p.poll() is None:
                text = open(self.logf).read()
                m = re.search(r"listening on udp:127\.0\.0\.1:(\d+)", text)
                t = re.search(r"listening on tls:127\.0\.0\.1:(\d+)", text)
                mm = re.search(r"metrics on http://127\.0\.0\.1:(\d+)/metrics", text)
                if m and t and mm and "control socket" in text and "running" in text:
                    self.port, self.tls, self.mport = (int(m.group(1)), int(t.group(1)),
                                                       int(mm.group(1)))
                    break
                time.sleep(0.05)
            if self.port:
                return
            sc.stop(self.p)
        raise RuntimeError("proxy did not start:\n" + open(self.logf).read())

    def log(self):
        return open(self.logf).read()


def ctl(psock, msock, *args, env=None):
    base = [CTL]
    if psock:
        base += ["--proxy-socket", psock]
    if msock:
        base += ["--mediad-socket", msock]
    r = subprocess.run(base + list(args), capture_output=True, text=True, timeout=15,
                       env=env)
    try:
        doc = json.loads(r.stdout)
    except ValueError:
        doc = None
    return r.returncode, doc, r.stdout + r.stderr


def cdr_lines(path):
    try:
        with open(path, "rb") as f:
            return [json.loads(l.decode("utf-8")) for l in f.read().splitlines() if l]
    except FileNotFoundError:
        return []


def wait_cdr(path, call_id, seconds=5.0):
    deadline = time.time() + seconds
    while True:
        for r in cdr_lines(path):
            if r.get("call_id") == call_id:
                return r
        if time.time() > deadline:
            return None
        time.sleep(0.05)


def bye_ok(peer, seconds=4.0):
    """Waits for a BYE at a sc.Peer / sc.TlsPeer, answers 200; the BYE."""
    m, addr = peer.recv(sc.is_req("BYE"), seconds)
    if m:
        peer.send(sc.response(m, 200, "OK", ""), addr)
    return m


class TlsUas:
    """The callee over TLS: a listening socket on 127.0.0.2 with the test
    PKI's server certificate (CN=sip.test.example); one connection."""

    def __init__(self, pki):
        ctx = sc.ssl.SSLContext(sc.ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(pki, "server.pem"), os.path.join(pki, "server.key"))
        self.ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.ls.bind(("127.0.0.2", 0))
        self.ls.listen(4)
        self.port = self.ls.getsockname()[1]
        self.ctx = ctx
        self.peer = None
        self.ip = "127.0.0.2"
        self.via = "TLS"

    def accept(self, seconds=5.0):
        self.ls.settimeout(seconds)
        try:
            raw, _ = self.ls.accept()
        except socket.timeout:
            return False
        raw.settimeout(seconds)
        s = self.ctx.wrap_socket(raw, server_side=True)
        self.peer = sc.TlsPeer.__new__(sc.TlsPeer)
        self.peer.s, self.peer.buf, self.peer.via = s, b"", "TLS"
        self.peer.ip, self.peer.port = "127.0.0.2", self.port
        return True

    def close(self):
        if self.peer:
            self.peer.close()
        self.ls.close()


def tls_callee(uas, px, msock):
    """9. Callee over TLS (a trunk with transport = tls): the callee leg's TLS
    version, cipher and the server certificate's subject are listed and in
    the CDR; SRTP on both legs, so the CDR says encrypted."""
    tp = sc.TlsPeer("127.0.0.4", px.tls)
    try:
        c = sc.Call(tp, uas, None, "tlsuas", sc.sdp("127.0.0.4", 40300, "RTP/SAVP", sc.key()))
        c.ruri = "sip:tlsuas@127.0.0.2:%d;transport=tls" % uas.port
        c.inv, c.branch = sc.request("INVITE", c.ruri, tp, c.callid, c.ftag, 1, body_=c.offer)
        tp.send(c.inv)
        binv = None
        if uas.accept():
            binv, _ = uas.peer.recv(lambda x: x.startswith("INVITE "))
        check("9: the INVITE reaches the callee over TLS with our a=crypto",
              binv is not None and sc.crypto_key(sc.body(binv)) is not None, px.log()[-2000:])
        if binv:
            resp = sc.response(binv, 200, "OK", c.ttag,
                               sc.sdp("127.0.0.2", 42300, "RTP/SAVP", sc.key()), uas)
            resp = resp.replace("Contact: <sip:bob@127.0.0.2:%d>" % uas.port,
                                "Contact: <sip:bob@127.0.0.2:%d;transport=tls>" % uas.port)
            uas.peer.send(resp)
        r = c.caller_gets(minimum=200)
        check("9: the caller gets the 200", sc.status(r) == 200, r)
        if r:
            c.ack(r)
        rc, doc, raw = ctl(px.psock, msock, "calls", "--json")
        calls = [x for x in (doc or {}).get("calls", []) if x.get("call-id") == c.callid]
        b = (calls[0].get("b") or {}) if calls else {}
        check("9: callee leg listed as tls with version, cipher, the server's subject, "
              "SRTP, trunk core_tls",
              b.get("transport") == "tls" and (b.get("tls-version") or "").startswith("TLSv1.")
              and b.get("tls-cipher") and "sip.test.example" in (b.get("cert-subject") or "")
              and b.get("media") == "AES_CM_128_HMAC_SHA1_80" and b.get("trunk") == "core_tls",
              raw)
        if r:
            msg, _ = sc.request("BYE", "sip:bob@127.0.0.2:%d;transport=tls" % uas.port, tp,
                                c.callid, c.ftag, 2, to_tag=c.ttag, routes=c.routes(r))
            tp.send(msg)
            bye, _ = uas.peer.recv(sc.is_req("BYE"))
            if bye:
                uas.peer.send(sc.response(bye, 200, "OK", ""))
            c.caller_gets("BYE", 200)
        rec = wait_cdr(px.cdr, c.callid)
        legs = (rec or {}).get("legs") or [{}, {}]
        check("9: CDR: both legs TLS + SRTP, callee's certificate subject, not unencrypted",
              rec is not None and len(legs) == 2 and legs[1].get("transport") == "tls" and
              "sip.test.example" in (legs[1].get("peer_cert_subject") or "") and
              legs[1].get("tls_cipher") and legs[0].get("transport") == "tls" and
              rec.get("unencrypted") is False and rec.get("end_reason") == "caller-bye", rec)
    finally:
        tp.close()
        uas.close()


def tag_of(v):
    m = re.search(r";tag=([^;>\s]+)", v or "")
    return m.group(1) if m else None


def tls_call_listed(px, msock, uas):
    """1. TLS caller, listing, show, caller BYE, CDR."""
    tp = sc.TlsPeer("127.0.0.4", px.tls)
    try:
        k = sc.key()
        c = sc.Call(tp, uas, None, "bob", sc.sdp("127.0.0.4", 40060, "RTP/SAVP", k))
        c.inv, c.branch = sc.request("INVITE", c.ruri, tp, c.callid, c.ftag, 1, body_=c.offer)
        tp.send(c.inv)
        binv = c.callee_gets_invite()
        if binv:
            c.answer(200, "OK", sc.sdp("127.0.0.2", 42010, "RTP/AVP"))
        r = c.caller_gets(minimum=200)
        check("1: TLS caller's SRTP call answered", sc.status(r) == 200, r or px.log()[-2000:])
        if r:
            c.ack(r)
        rc, doc, raw = ctl(px.psock, msock, "calls", "--json")
        calls = (doc or {}).get("calls") or []
        check("1: calls --json: exit 0, one call", rc == 0 and len(calls) == 1, raw)
        cl = calls[0] if calls else {}
        a, b = cl.get("a") or {}, cl.get("b") or {}
        check("1: the call's Call-ID, from/to and state",
              cl.get("call-id") == c.callid and cl.get("from") == "sip:alice@test" and
              cl.get("to") == c.ruri and cl.get("state") == "answered" and
              isinstance(cl.get("age-ms"), int), cl)
        check("1: caller leg: tls, TLS version and cipher, SRTP suite",
              a.get("transport") == "tls" and (a.get("tls-version") or "").startswith("TLSv1.") and
              a.get("tls-cipher") and a.get("media") == "AES_CM_128_HMAC_SHA1_80" and
              cl.get("signaling") == "tls" and cl.get("tls-version") == a.get("tls-version"), a)
        check("1: callee leg: udp, no TLS, plain, trunk core",
              b.get("transport") == "udp" and b.get("tls-version") is None and
              b.get("media") == "plain" and b.get("trunk") == "core" and
              a.get("trunk") is None and cl.get("trunk") == "core", b)
        check("1: joined with mediad's session: port, counters, offload flag",
              isinstance(cl.get("session"), int) and cl["session"] > 0 and
              isinstance(a.get("port"), int) and a["port"] > 0 and
              a.get("srtp-in") == "AES_CM_128_HMAC_SHA1_80" and b.get("srtp-in") == "plain" and
              isinstance(a.get("packets-in"), int) and isinstance(a.get("auth-failures"), int) and
              a.get("offloaded") is False and doc.get("media-counters") is True, cl)
        rc, _, out = ctl(px.psock, msock, "calls")
        check("1: calls (text): one line with tls and the suite",
              rc == 0 and re.search(r"^\s*%d\s.*\btls\b.*AES_CM_128_HMAC_SHA1_80.*\budp\b.*plain"
                                    % cl.get("id", -1), out, re.M) is not None, out)
        # No arguments but the sockets in the environment; mediad's points nowhere.
        env = dict(os.environ, RAMPART_PROXY_SOCKET=px.psock,
                   RAMPART_MEDIAD_SOCKET=os.path.join(os.path.dirname(px.psock), "none.sock"))
        r2 = subprocess.run([CTL, "calls", "--json"], capture_output=True, text=True,
                            timeout=15, env=env)
        try:
            d2 = json.loads(r2.stdout)
        except ValueError:
            d2 = None
        check("1: calls --json with only the proxy up: one JSON document, exit 0",
              r2.returncode == 0 and d2 is not None and len(d2.get("calls", [])) == 1 and
              d2.get("media-counters") is False and d2["calls"][0]["a"].get("packets-in") is None,
              r2.stdout + r2.stderr)
        rc, doc, raw = ctl(px.psock, msock, "call", "show", str(cl.get("id", 0)), "--json")
        check("1: call show --json: the proxy's call and mediad's session",
              rc == 0 and (doc or {}).get("proxy", {}).get("call-id") == c.callid and
              (doc or {}).get("mediad", {}).get("session") == cl.get("session"), raw)
        rc, doc, raw = ctl(px.psock, msock, "call", "show", "987654", "--json")
        check("1: call show unknown id: exit 1", rc == 1 and "no call 987654" in raw, raw)
        if r:
            c.in_dialog("BYE", r)
            bye_ok(uas)
            c.caller_gets("BYE", 200)
        rec = wait_cdr(px.cdr, c.callid)
        legs = (rec or {}).get("legs") or [{}, {}]
        check("1: CDR caller-bye, answered, final 200",
              rec is not None and rec.get("end_reason") == "caller-bye" and
              rec.get("final_code") == 200 and rec.get("answer") and
              isinstance(rec.get("duration_ms"), int), rec)
        check("1: CDR legs: caller tls + cipher + suite, callee udp plain, unencrypted",
              len(legs) == 2 and legs[0].get("transport") == "tls" and
              legs[0].get("tls_version") == a.get("tls-version") and
              legs[0].get("tls_cipher") == a.get("tls-cipher") and
              legs[0].get("media") == "AES_CM_128_HMAC_SHA1_80" and
              legs[1].get("transport") == "udp" and legs[1].get("media") == "plain" and
              rec.get("unencrypted") is True, rec)
        check("1: session deleted, no call listed",
              sc.wait_count(msock, 0) == 0 and
              ctl(px.psock, msock, "calls", "--json")[1].get("calls") == [])
    finally:
        tp.close()


def sipp_drop(d, px, msock):
    """2. sipp on both sides, rampartctl call drop."""
    sd = os.path.join(d, "sipp")
    os.makedirs(sd, exist_ok=True)
    for attempt in range(3):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.2", 0))
        uas_port = s.getsockname()[1]
        s.close()
        common = ["-t", "u1", "-m", "1", "-timeout", "30s", "-timeout_error", "-nostdin",
                  "-trace_err", "-cp", str(sc.free_port()), "-mp", str(sc.free_port())]
        uas = subprocess.Popen(["sipp", "-sf", os.path.join(HERE, "calls_drop_uas.xml"),
                                "-i", "127.0.0.2", "-p", str(uas_port)] + common,
                               cwd=sd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        time.sleep(0.3)
        if uas.poll() is not None:
            continue
        uac = subprocess.Popen(["sipp", "-sf", os.path.join(HERE, "calls_drop_uac.xml"),
                                "-i", "127.0.0.1", "-p", "0", "-s", "sippuas",
                                "-rsa", "127.0.0.1:%d" % px.port, "127.0.0.2:%d" % uas_port,
                                "-cp", str(sc.free_port()), "-mp", str(sc.free_port())] +
                               common[:-4], cwd=sd, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
        call = None
        deadline = time.time() + 10
        while time.time() < deadline and uac.poll() is None:
            rc, doc, raw = ctl(px.psock, msock, "calls", "--json")
            ans = [c for c in (doc or {}).get("calls", []) if c.get("state") == "answered"]
            if ans:
                call = ans[0]
                break
            time.sleep(0.1)
        if call is None:
            for p in (uac, uas):
                p.kill()
            out = uac.communicate()[0].decode(errors="replace")
            if "Unable to bind" in out:
                continue
            check("2: sipp call answered and listed", False, out[-1500:] + px.log()[-2000:])
            return
        check("2: the sipp call listed: udp on both legs, SRTP toward the caller, plain core",
              call["a"].get("transport") == "udp" and call["b"].get("transport") == "udp" and
              call["a"].get("media") == "AES_CM_128_HMAC_SHA1_80" and
              call["b"].get("media") == "plain" and call["a"].get("trunk") == "access" and
              call["b"].get("trunk") is None, call)
        rc, doc, raw = ctl(px.psock, msock, "call", "drop", str(call["id"]), "--json")
        check("2: call drop --json: exit 0, dropped",
              rc == 0 and (doc or {}).get("dropped") is True and
              (doc or {}).get("proxy", {}).get("end-reason") == "operator-drop", raw)
        check("2: call drop --json: the BYE went to both sides",
              (doc or {}).get("proxy", {}).get("bye-caller") == "sent" and
              (doc or {}).get("proxy", {}).get("bye-callee") == "sent", raw)
        try:
            uac_out = uac.communicate(timeout=30)[0].decode(errors="replace")
            uas_out = uas.communicate(timeout=30)[0].decode(errors="replace")
        except subprocess.TimeoutExpired:
            uac.kill()
            uas.kill()
            uac_out = uac.communicate()[0].decode(errors="replace")
            uas_out = uas.communicate()[0].decode(errors="replace")
        errs = "".join(open(os.path.join(sd, f), errors="replace").read()[-1500:]
                       for f in os.listdir(sd) if f.endswith("_errors.log"))
        check("2: both sipp sides got the proxy's BYE (Reason operator-drop) and answered it",
              uac.returncode == 0 and uas.returncode == 0,
              uac_out[-1200:] + uas_out[-800:] + errs + px.log()[-1500:])
        check("2: mediad session gone after the drop", sc.wait_count(msock, 0) == 0)
        rec = wait_cdr(px.cdr, call["call-id"])
        check("2: CDR operator-drop, answered, two legs",
              rec is not None and rec.get("end_reason") == "operator-drop" and
              rec.get("answer") and len(rec.get("legs", [])) == 2 and
              rec["legs"][0].get("media") == "AES_CM_128_HMAC_SHA1_80", rec)
        rc, doc, raw = ctl(px.psock, msock, "call", "drop", str(call["id"]))
        check("2: dropping it again: exit 1 (no such call)", rc == 1 and "no call" in raw, raw)
        return
    check("2: sipp could not start", False)


def main():
    if not all(os.access(x, os.X_OK) for x in (PROXY, MEDIAD, CTL)):
        print("binaries missing: skipped")
        return 77
    if not shutil.which("sipp") or not shutil.which("curl"):
        print("SKIP: sipp and curl are needed (scripts/setup installs them)")
        return 77
    d = tempfile.mkdtemp(prefix="rp-calls-")
    subprocess.run(["sh", os.path.join(HERE, "..", "integration", "proxy_mkcerts.sh"),
                    os.path.join(d, "pki")], check=True, timeout=60)
    mediad, msock = start_mediad(d, "mediad")
    uac = sc.Peer("127.0.0.1")
    uas = sc.Peer("127.0.0.2")
    # The TLS callee listens before the proxy starts: its port is in the trunk.
    tls_uas = TlsUas(os.path.join(d, "pki"))
    px = Proxy(d, "proxy", msock, uas.port, os.path.join(d, "pki", "ca.pem"), tls_uas.port)
    proxy = ("127.0.0.1", px.port)
    mediad2 = px2 = None
    try:
        tls_call_listed(px, msock, uas)
        sipp_drop(d, px, msock)
        tls_callee(tls_uas, px, msock)

        # 3. CANCEL
        c = sc.Call(uac, uas, proxy, "bob", sc.sdp("127.0.0.1", 40200, "RTP/SAVP", sc.key()))
        c.invite()
        binv = c.callee_gets_invite()
        if binv:
            c.answer(180, "Ringing")
            c.caller_gets(minimum=180)
            cancel = c.inv.split("\r\n\r\n")[0]
            cancel = re.sub(r"^INVITE ", "CANCEL ", cancel)
            cancel = re.sub(r"(?m)^CSeq: 1 INVITE", "CSeq: 1 CANCEL", cancel)
            cancel = re.sub(r"(?m)^Content-Type:.*\r\n", "", cancel)
            cancel = re.sub(r"(?m)^Content-Length: \d+", "Content-Length: 0", cancel)
            uac.send(cancel + "\r\n\r\n", proxy)
            bc, baddr = uas.recv(sc.is_req("CANCEL"))
            if bc:
                uas.send(sc.response(bc, 200, "OK", c.ttag), baddr)
                uas.send(sc.response(c.b_inv, 487, "Request Terminated", c.ttag), baddr)
            c.caller_gets(minimum=300)
        rec = wait_cdr(px.cdr, c.callid)
        check("3: CANCEL: CDR cancel, not answered",
              rec is not None and rec.get("end_reason") == "cancel" and rec.get("answer") is None,
              rec)

        # 4. policy refusal
        c = sc.Call(uac, uas, proxy, "bob", sc.sdp("127.0.0.1", 40210, "RTP/AVP"))
        c.invite()
        r = c.caller_gets(minimum=300)
        rec = wait_cdr(px.cdr, c.callid)
        check("4: plain offer to the require trunk: 488, CDR policy-refused-srtp-required",
              sc.status(r) == 488 and rec is not None and
              rec.get("end_reason") == "policy-refused-srtp-required" and
              rec.get("final_code") == 488, (r, rec))

        # 5. the callee says 486
        c = sc.Call(uac, uas, proxy, "bob", sc.sdp("127.0.0.1", 40220, "RTP/SAVP", sc.key()))
        c.invite()
        if c.callee_gets_invite():
            c.answer(486, "Busy Here")
            ack, _ = uas.recv(sc.is_req("ACK"), 2.0)
        r = c.caller_gets(minimum=300)
        rec = wait_cdr(px.cdr, c.callid)
        check("5: 486 from the callee: CDR rejected-486",
              sc.status(r) == 486 and rec is not None and
              rec.get("end_reason") == "rejected-486" and rec.get("final_code") == 486, rec)

        # 10. call drop while the callee is ringing: CANCEL toward it, 487 back
        c = sc.Call(uac, uas, proxy, "bob", sc.sdp("127.0.0.1", 40250, "RTP/SAVP", sc.key()))
        c.invite()
        binv = c.callee_gets_invite()
        if binv:
            c.answer(180, "Ringing")
        c.caller_gets(minimum=180)
        rc, doc, raw = ctl(px.psock, msock, "calls", "--json")
        ids = [x["id"] for x in (doc or {}).get("calls", []) if x.get("call-id") == c.callid]
        check("10: the ringing call is listed in state setup",
              len(ids) == 1 and doc["calls"][0].get("state") == "setup", raw)
        rc, doc, raw = ctl(px.psock, msock, "call", "drop", str(ids[0] if ids else 0), "--json")
        check("10: call drop of a ringing call: exit 0", rc == 0 and (doc or {}).get("dropped"), raw)
        bc, baddr = uas.recv(sc.is_req("CANCEL"))
        check("10: the callee gets CANCEL for its INVITE",
              bc is not None and sc.hdr(bc, "Call-ID") == c.callid and
              sc.hdr(bc, "CSeq") == "1 CANCEL", bc)
        if bc:
            uas.send(sc.response(bc, 200, "OK", c.ttag), baddr)
            uas.send(sc.response(c.b_inv, 487, "Request Terminated", c.ttag), baddr)
        r = c.caller_gets(minimum=300)
        rec = wait_cdr(px.cdr, c.callid)
        check("10: the caller gets 487; CDR operator-drop, not answered, final 487",
              sc.status(r) == 487 and rec is not None and rec.get("end_reason") == "operator-drop"
              and rec.get("answer") is None and rec.get("final_code") == 487, (r, rec))
        check("10: its mediad session is gone", sc.wait_count(msock, 0) == 0)

        # 6. logrotate: rename, SIGHUP, next line in the new file
        before = cdr_lines(px.cdr)
        rotated = px.cdr + ".1"
        os.rename(px.cdr, rotated)
        px.p.send_signal(signal.SIGHUP)
        deadline = time.time() + 5
        while time.time() < deadline and "CDR file reopened" not in px.log():
            time.sleep(0.05)
        c = sc.Call(uac, uas, proxy, "bob", sc.sdp("127.0.0.1", 40230, "RTP/AVP"))
        c.invite()
        c.caller_gets(minimum=300)
        rec = wait_cdr(px.cdr, c.callid)
        check("6: after rename + SIGHUP the next CDR is in a new file",
              rec is not None and len(cdr_lines(px.cdr)) == 1, px.log()[-1500:])
        check("6: the renamed file keeps every earlier line",
              [x["call_id"] for x in cdr_lines(rotated)] == [x["call_id"] for x in before] and
              len(before) >= 7, (before, cdr_lines(rotated)))

        # 7. metrics
        r = subprocess.run(["curl", "-s", "--max-time", "5",
                            "http://127.0.0.1:%d/metrics" % px.mport],
                           capture_output=True, text=True, timeout=10)
        text = r.stdout

        def val(name):
            m = re.search(r"^%s (\d+)$" % re.escape(name), text, re.M)
            return int(m.group(1)) if m else None
        check("7: metrics: calls_total counts the 8 calls, calls_active 0",
              val("rampart_proxy_calls_total") == 8 and val("rampart_proxy_calls_active") == 0,
              text[-3000:])
        check("7: metrics: refused by reason (2 srtp-required, 0 srtp-disabled)",
              val('rampart_proxy_calls_refused_total{reason="srtp-required"}') == 2 and
              val('rampart_proxy_calls_refused_total{reason="srtp-disabled"}') == 0 and
              "# TYPE rampart_proxy_calls_refused_total counter" in text, text[-3000:])

        # 8. media timeout through a second mediad + proxy
        mediad2, msock2 = start_mediad(d, "mediad2", "media-timeout = 1\ndelete-timeout = 30\n")
        uas2 = sc.Peer("127.0.0.2")
        # This proxy pseudonymises from/to (HMAC with a secret file).
        secret = os.urandom(32)
        with open(os.path.join(d, "cdr.key"), "wb") as f:
            f.write(secret)
        px2 = Proxy(d, "proxy2", msock2, uas2.port, os.path.join(d, "pki", "ca.pem"),
                    extra='cdr_hash = hmac;\ncdr_secret_file = "%s";'
                    % os.path.join(d, "cdr.key"))
        c = sc.Call(uac, uas2, ("127.0.0.1", px2.port), "bob",
                    sc.sdp("127.0.0.1", 40240, "RTP/SAVP", sc.key()))
        c.invite()
        if c.callee_gets_invite():
            # A proxy below us (downstream) record-routed too: our BYE to the
            # callee must go along it.
            ok = sc.response(c.b_inv, 200, "OK", c.ttag, sc.sdp("127.0.0.2", 42040, "RTP/AVP"),
                             uas2)
            ok = ok.replace("\r\nRecord-Route: ", "\r\nRecord-Route: <sip:127.0.0.9;lr>\r\n"
                            "Record-Route: ", 1)
            uas2.send(ok, c.b_addr)
        r = c.caller_gets(minimum=200)
        if r:
            c.ack(r)
        b1 = bye_ok(uac, 8.0)
        b2 = bye_ok(uas2, 4.0)
        check("8: no media: both sides get BYE with Reason media-timeout",
              b1 is not None and b2 is not None and "media-timeout" in (sc.hdr(b1, "Reason") or "")
              and "media-timeout" in (sc.hdr(b2, "Reason") or ""), (b1, b2, px2.log()[-1500:]))
        check("8: the BYEs are in each side's dialog (tags, CSeq above the INVITE's)",
              b1 is not None and b2 is not None and
              tag_of(sc.hdr(b1, "To")) == c.ftag and tag_of(sc.hdr(b1, "From")) == c.ttag and
              tag_of(sc.hdr(b2, "From")) == c.ftag and tag_of(sc.hdr(b2, "To")) == c.ttag and
              sc.hdr(b2, "CSeq") == "2 BYE" and sc.hdr(b1, "Call-ID") == c.callid,
              (b1, b2))
        check("8: the callee's BYE follows the route below us, the caller's has none",
              b1 is not None and b2 is not None and sc.hdr(b2, "Route") == "<sip:127.0.0.9;lr>"
              and sc.hdr(b1, "Route") is None, (b1, b2))
        rec = wait_cdr(px2.cdr, c.callid)
        check("8: CDR media-timeout", rec is not None and rec.get("end_reason") == "media-timeout",
              rec)
        want_from = "hmac-sha256:" + hmac.new(secret, b"sip:alice@test", hashlib.sha256).hexdigest()
        want_to = "hmac-sha256:" + hmac.new(secret, c.ruri.encode(), hashlib.sha256).hexdigest()
        check("8: cdr_hash = hmac: from/to written as HMAC-SHA256 of the URIs, no number in clear",
              rec is not None and rec.get("from") == want_from and rec.get("to") == want_to and
              b"alice" not in open(px2.cdr, "rb").read(), rec)
    finally:
        for p in (px2.p if px2 else None, px.p, mediad, mediad2):
            if p:
                sc.stop(p)
    # After the stop: leak reports are written at exit.
    for p, name in ((px, "proxy"), (px2, "proxy2")):
        if p:
            bad = [l for l in p.log().splitlines() if "Sanitizer" in l or "runtime error" in l]
            check("no sanitizer report in the %s log" % name, not bad, "\n".join(bad))
    if not sc.failures:
        shutil.rmtree(d, ignore_errors=True)
    else:
        print("--- proxy log (%s)" % d)
        print(px.log()[-5000:])
    return 1 if sc.failures else 0


if __name__ == "__main__":
    sys.exit(main())
