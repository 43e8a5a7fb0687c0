#!/usr/bin/env python3
"""secure_call_run.py PROXY MEDIAD RAMPARTCTL: secure calls end to end.

A real rampart-mediad (temporary control socket, random port range) and a
real rampart-proxy wired to it (mediad_socket), SIP peers on loopback:
callers on 127.0.0.1 (access trunk: media_encryption = require,
allow_sdes_over_insecure), 127.0.0.3 (access trunk: disable) and 127.0.0.4
(no trunk: the listener's policy), the callee (a plain core) on 127.0.0.2. Scenarios (docs/media-policy.md):
 a. SRTP offer from the require side to the plain core: bridged; the callee
    gets RTP/AVP at mediad's address without a=crypto, the caller our
    a=crypto; mediad's session exists with SRTP on leg a only; BYE deletes it;
 b. plain offer from the require side: 488 + Reason: Q.850;cause=88;
 c. SRTP-only offer (RTP/SAVP) from the disable side: 488 likewise;
 d. CANCEL before the answer deletes the mediad session;
 e. re-INVITE with a new key: accepted, our key rotated;
 f. SRTP toward a require trunk over UDP without allow_sdes_over_insecure:
    488 and a log line naming the trunk;
 g. with sipp (UAC -> proxy -> UAS) a full SRTP call: sipp's UAS sees our
    plain SDP, sipp's UAC our a=crypto answer;
 i. a caller over TLS (Python's ssl; no trunk, the TLS listener's require,
    no allow_sdes_over_insecure): bridged, our key back over TLS;
 j. the same SRTP-only offer over UDP from 127.0.0.4: 488 (our answer key
    could not go back in clear);
 k. a 200 whose SDP answer is refused: 488 to the caller, ACK + BYE to the
    callee;
 l. a proxy started before mediad: 503 for SDP, then mediad starts at the
    configured path and the next SRTP call is bridged;
 h. mediad stopped: a call with SDP gets 503, one without SDP still goes
    through; mediad started again: SRTP calls work again.
Every port is picked free; every wait is bounded."""
import base64
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

import e2e_common as E  # noqa: E402  (beside this file)
from handsip import (Call, Peer, body, crypto_key, hdr, is_req, is_resp, key,  # noqa: E402,F401
                     request, response, sdp, status)

HERE = os.path.dirname(os.path.abspath(__file__))
PROXY, MEDIAD, CTL = sys.argv[1], sys.argv[2], sys.argv[3]
failures = []


def check(name, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else ": " + str(detail)[-3000:]))
    sys.stdout.flush()
    if not cond:
        failures.append(name)


def start_mediad(d, name="mediad"):
    return E.start_mediad(MEDIAD, d, name, log_level="notice")


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def start_proxy(d, cfg, name="proxy"):
    path = os.path.join(d, name + ".conf")
    with open(path, "w") as f:
        f.write(cfg)
    logf = os.path.join(d, name + ".log")
    f = open(logf, "w")
    p = subprocess.Popen([PROXY, "--config", path, "--state-dir", d, "--workers", "2",
                          "--log-level", "info", "--control", "none"],
                         stdout=f, stderr=subprocess.STDOUT)
    deadline = time.time() + 10
    port = tls = None
    while time.time() < deadline and p.poll() is None:
        text = open(logf).read()
        m = re.search(r"listening on udp:127\.0\.0\.1:(\d+)", text)
        t = re.search(r"listening on tls:127\.0\.0\.1:(\d+)", text)
        if m and t and "running" in text:
            port, tls = int(m.group(1)), int(t.group(1))
            break
        time.sleep(0.05)
    if not port:
        raise RuntimeError("proxy did not start:\n" + open(logf).read())
    return p, port, tls, logf


def mediad_calls(sock):
    r = subprocess.run([CTL, "--mediad-socket", sock, "calls", "--json"],
                       capture_output=True, text=True, timeout=10)
    try:
        doc = json.loads(r.stdout)
    except ValueError:
        return None, r.stdout + r.stderr
    calls = doc.get("calls", doc) if isinstance(doc, dict) else doc
    return calls, r.stdout


def mediad_count(sock):
    calls, raw = mediad_calls(sock)
    return -1 if calls is None else len(calls)


def wait_count(sock, n, seconds=3.0):
    deadline = time.time() + seconds
    while True:
        c = mediad_count(sock)
        if c == n or time.time() > deadline:
            return c
        time.sleep(0.05)


def main():
    if not all(os.access(x, os.X_OK) for x in (PROXY, MEDIAD, CTL)):
        print("binaries missing: skipped")
        return 77
    d = tempfile.mkdtemp(prefix="rp-e2e-")
    mediad, sock, prange = start_mediad(d)
    uac = Peer("127.0.0.1")       # access trunk, require
    uac_dis = Peer("127.0.0.3")   # access trunk, disable
    uas = Peer("127.0.0.2")       # the plain core
    cfg = """
log_level = info;
timer_t1 = 100;
mediad_socket = "%s";
listen udp 127.0.0.1:%d;
listen tls 127.0.0.1:%d { cert = auto; media_encryption = require; }
trunk access {
    address = "127.0.0.1:9";
    inbound { source = 127.0.0.1/32; }
    media_encryption = require;
    allow_sdes_over_insecure = yes;
}
trunk access_plain {
    address = "127.0.0.3:9";
    inbound { source = 127.0.0.3/32; }
    media_encryption = disable;
}
trunk core {
    address = "127.0.0.2:%d";
    inbound { source = 192.0.2.1/32; }
    media_encryption = disable;
}
trunk core_srtp {
    address = "127.0.0.2:%d";
    inbound { source = 192.0.2.2/32; }
    media_encryption = require;
}
route request {
    if (has_header("Route")) { relay; }
    if (method == "ACK" || method == "CANCEL") { relay; }
    if (ruri.user == "srtp") { record_route; relay core_srtp; }
    if (ruri.user == "sippuas") { record_route; relay; }
    record_route;
    relay core;
}
"""
    for attempt in range(5):
        try:
            proxy_p, pport, tport, plog = start_proxy(
                d, cfg % (sock, free_port(), free_port(socket.SOCK_STREAM), uas.port, uas.port))
            break
        except RuntimeError as e:
            if attempt == 4:
                raise
            print("proxy start attempt %d: %s" % (attempt + 1, str(e)[-300:]))
    proxy = ("127.0.0.1", pport)
    ok_all = False
    try:
        # a. SRTP from the require side, bridged to the plain core.
        k1 = key()
        c = Call(uac, uas, proxy, "bob", sdp("127.0.0.1", 40000, "RTP/SAVP", k1))
        c.invite()
        binv = c.callee_gets_invite()
        check("a: INVITE with SRTP offer reaches the plain core", binv is not None,
              open(plog).read())
        bsdp = body(binv or "")
        check("a: callee gets RTP/AVP at mediad, no a=crypto",
              "m=audio" in bsdp and " RTP/AVP " in bsdp and "a=crypto" not in bsdp and
              "c=IN IP4 127.0.0.1" in bsdp and k1 not in (binv or ""), bsdp)
        mport = int(re.search(r"m=audio (\d+)", bsdp).group(1)) if "m=audio" in bsdp else 0
        check("a: callee's media port is mediad's", prange[0] <= mport <= prange[1],
              (mport, prange))
        c.answer(180, "Ringing")
        c.answer(200, "OK", sdp("127.0.0.2", 42000, "RTP/AVP"))
        ok200 = c.caller_gets(minimum=200)
        asdp = body(ok200 or "")
        our1 = crypto_key(asdp)
        check("a: caller gets 200 with RTP/SAVP and our a=crypto",
              status(ok200) == 200 and " RTP/SAVP " in asdp and our1 and our1 != k1 and
              "42000" not in asdp, ok200)
        c.ack(ok200)
        calls, raw = mediad_calls(sock)
        check("a: mediad has the session", calls is not None and len(calls) == 1, raw)
        if calls:
            s0 = calls[0]
            la, lb = s0.get("a") or {}, s0.get("b") or {}
            # rampartctl shows the suite mediad runs per direction.
            check("a: session labelled with the Call-ID, leg a SRTP both ways from the "
                  "caller's address, leg b plain to the core's",
                  s0.get("label") == c.callid and
                  la.get("srtp-in") == "AES_CM_128_HMAC_SHA1_80" and
                  la.get("srtp-out") == "AES_CM_128_HMAC_SHA1_80" and
                  la.get("remote") == "127.0.0.1:40000" and
                  lb.get("srtp-in") == "plain" and lb.get("srtp-out") == "plain" and
                  lb.get("remote") == "127.0.0.2:42000" and la.get("port") == int(
                      re.search(r"m=audio (\d+)", asdp).group(1)) and lb.get("port") == mport,
                  raw)
        check("a: suite AES_CM_128_HMAC_SHA1_80 in our answer",
              "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" in asdp, asdp)

        # e. rekey: re-INVITE with a new key from the caller.
        k2 = key()
        c.in_dialog("INVITE", ok200, sdp("127.0.0.1", 40000, "RTP/SAVP", k2))
        reinv, raddr = uas.recv(is_req("INVITE"))
        rb = body(reinv or "")
        check("e: re-INVITE reaches the callee, plain, no key",
              reinv is not None and " RTP/AVP " in rb and "a=crypto" not in rb, reinv)
        if reinv:
            uas.send(response(reinv, 200, "OK", "", sdp("127.0.0.2", 42000, "RTP/AVP"), uas),
                     raddr)
        r200 = c.caller_gets(minimum=200)
        our2 = crypto_key(body(r200 or ""))
        check("e: re-INVITE answered with a rotated key", status(r200) == 200 and our2 and
              our2 != our1, (our1, r200))
        if r200:
            c.ack(r200)
        check("e: still one mediad session after the rekey", wait_count(sock, 1) == 1)

        # BYE deletes the session.
        c.in_dialog("BYE", ok200)
        bye, baddr = uas.recv(is_req("BYE"))
        if bye:
            uas.send(response(bye, 200, "OK", ""), baddr)
        byeok = c.caller_gets("BYE", 200)
        check("a: BYE relayed and answered", status(byeok) == 200, bye)
        check("a: after BYE the mediad session is gone", wait_count(sock, 0) == 0,
              mediad_calls(sock)[1])

        # b. plain offer from the require side.
        c = Call(uac, uas, proxy, "bob", sdp("127.0.0.1", 40010, "RTP/AVP"))
        c.invite()
        r = c.caller_gets(minimum=200)
        check("b: plain offer to require -> 488 with Reason Q.850 cause 88",
              status(r) == 488 and "Q.850;cause=88" in (hdr(r or "", "Reason") or ""), r)
        got, _ = uas.recv(is_req("INVITE"), 0.5)
        check("b: nothing forwarded", got is None, got)
        check("b: no mediad session left", wait_count(sock, 0) == 0)

        # c. SRTP-only offer from the disable side.
        c = Call(uac_dis, uas, proxy, "bob", sdp("127.0.0.3", 40020, "RTP/SAVP", key()))
        c.invite()
        r = c.caller_gets(minimum=200)
        check("c: SRTP-only offer from a disable trunk -> 488 with Reason",
              status(r) == 488 and "Q.850;cause=88" in (hdr(r or "", "Reason") or ""), r)
        got, _ = uas.recv(is_req("INVITE"), 0.5)
        check("c: nothing forwarded", got is None, got)

        # d. CANCEL before the answer.
        c = Call(uac, uas, proxy, "bob", sdp("127.0.0.1", 40030, "RTP/SAVP", key()))
        c.invite()
        binv = c.callee_gets_invite()
        c.answer(180, "Ringing")
        c.caller_gets(minimum=180)
        check("d: ringing call has a mediad session", wait_count(sock, 1) == 1)
        cancel = c.inv.split("\r\n\r\n")[0]
        cancel = re.sub(r"^INVITE ", "CANCEL ", cancel)
        cancel = re.sub(r"(?m)^CSeq: 1 INVITE", "CSeq: 1 CANCEL", cancel)
        cancel = re.sub(r"(?m)^Content-Type:.*\r\n", "", cancel + "\r\n")
        cancel = re.sub(r"(?m)^Content-Length: \d+", "Content-Length: 0", cancel) + "\r\n"
        uac.send(cancel, proxy)
        bc, baddr = uas.recv(is_req("CANCEL"))
        if bc:
            uas.send(response(bc, 200, "OK", c.ttag), baddr)
            c.answer(487, "Request Terminated")
        r = c.caller_gets(minimum=300)
        check("d: caller gets 487", status(r) == 487, r)
        check("d: CANCEL deleted the mediad session", wait_count(sock, 0) == 0,
              mediad_calls(sock)[1])
        uas.recv(is_req("ACK"), 0.5)

        # f. SRTP toward a require trunk reached over UDP without permission.
        c = Call(uac, uas, proxy, "srtp", sdp("127.0.0.1", 40040, "RTP/SAVP", key()))
        c.invite()
        r = c.caller_gets(minimum=200)
        time.sleep(0.2)
        log = open(plog).read()
        check("f: keys never over UDP to core_srtp -> 488",
              status(r) == 488 and "Q.850;cause=88" in (hdr(r or "", "Reason") or ""), r)
        check("f: the log names the trunk and the insecure transport",
              re.search(r"core_srtp.*UDP|UDP.*core_srtp", log) is not None and
              "allow_sdes_over_insecure" in log, log[-2000:])
        got, _ = uas.recv(is_req("INVITE"), 0.5)
        check("f: nothing forwarded", got is None, got)
        check("f: no mediad session left", wait_count(sock, 0) == 0)

        # i. TLS caller (no trunk: the TLS listener's require, no
        # allow_sdes_over_insecure): our key goes back over TLS only.
        tls_call(uas, tport, sock, plog)

        # j. the same SRTP-only offer over UDP from a side without
        # permission: our answer key could not go back: 488.
        udp4 = Peer("127.0.0.4")
        c = Call(udp4, uas, proxy, "bob", sdp("127.0.0.4", 40070, "RTP/SAVP", key()))
        c.invite()
        r = c.caller_gets(minimum=200)
        got, _ = uas.recv(is_req("INVITE"), 0.3)
        check("j: SRTP-only offer over UDP without allow_sdes_over_insecure -> 488, "
              "not forwarded", status(r) == 488 and got is None and
              "Q.850;cause=88" in (hdr(r or "", "Reason") or ""), r)
        check("j: no mediad session left", wait_count(sock, 0) == 0)

        # k. the callee's 200 carries an SDP answer the media layer refuses
        # (an RTP/SAVP-only answer toward the plain core, with a key over
        # UDP): the caller gets 488, the callee ACK + BYE, mediad is clean.
        c = Call(uac, uas, proxy, "bob", sdp("127.0.0.1", 40080, "RTP/SAVP", key()))
        c.invite()
        binv = c.callee_gets_invite()
        if binv:
            c.answer(200, "OK", "garbage\r\n")
        r = c.caller_gets(minimum=200)
        check("k: refused 2xx answer -> caller gets 488 with Reason",
              status(r) == 488 and "Q.850;cause=88" in (hdr(r or "", "Reason") or ""), r)
        ack, _ = uas.recv(lambda x: x.startswith("ACK ") and hdr(x, "Call-ID") == c.callid)
        bye, baddr = uas.recv(lambda x: x.startswith("BYE ") and hdr(x, "Call-ID") == c.callid)
        check("k: the callee gets ACK and BYE (Reason Q.850 cause 88)",
              ack is not None and bye is not None and c.ttag in (hdr(bye or "", "To") or "") and
              "cause=88" in (hdr(bye or "", "Reason") or ""), (ack, bye))
        if bye:
            uas.send(response(bye, 200, "OK", ""), baddr)
        check("k: no mediad session left", wait_count(sock, 0) == 0)

        # g. sipp UAC and UAS with SRTP through the proxy.
        if shutil.which("sipp"):
            sipp_call(d, pport, sock)

        # h. mediad gone: 503 for SDP, a call without SDP still works.
        stop(mediad)
        c = Call(uac, uas, proxy, "bob", sdp("127.0.0.1", 40050, "RTP/SAVP", key()))
        c.invite()
        r = c.caller_gets(minimum=200)
        got, _ = uas.recv(is_req("INVITE"), 0.3)
        check("h: mediad down: call with SDP gets 503, not forwarded",
              status(r) == 503 and got is None, r)
        check("h: the log says mediad is unavailable",
              "unavailable" in open(plog).read() or "unreachable" in open(plog).read())
        c = Call(uac, uas, proxy, "bob", "")
        c.invite()
        binv = c.callee_gets_invite()
        if binv:
            c.answer(200, "OK")
        r = c.caller_gets(minimum=200)
        check("h: mediad down: call without SDP goes through", binv is not None and
              status(r) == 200, r)
        if r:
            c.ack(r)
        # mediad back (same socket): calls with SDP work again (mediactl
        # reconnects).
        if os.path.exists(sock):
            os.unlink(sock)
        mediad, sock, prange = start_mediad(d)
        c = Call(uac, uas, proxy, "bob", sdp("127.0.0.1", 40090, "RTP/SAVP", key()))
        c.invite()
        binv = c.callee_gets_invite()
        if binv:
            c.answer(200, "OK", sdp("127.0.0.2", 42020, "RTP/AVP"))
        r = c.caller_gets(minimum=200)
        check("h: mediad restarted: SRTP call bridged again", status(r) == 200 and
              crypto_key(body(r or "")) is not None and wait_count(sock, 1) == 1, r)
        if r:
            c.ack(r)
            c.in_dialog("BYE", r)
            bye, baddr = uas.recv(is_req("BYE"))
            if bye:
                uas.send(response(bye, 200, "OK", ""), baddr)
            c.caller_gets("BYE", 200)
        check("h: and its session is deleted at BYE", wait_count(sock, 0) == 0)
        check("proxy still running", proxy_p.poll() is None)
        late_mediad(d, cfg, uac, uas)
        ok_all = not failures
    finally:
        stop(proxy_p)
        stop(mediad)
        log = open(plog).read()
        bad = [l for l in log.splitlines() if "AddressSanitizer" in l or "runtime error" in l]
        check("no sanitizer report in the proxy log", not bad, "\n".join(bad))
        if not failures and ok_all:
            shutil.rmtree(d, ignore_errors=True)
        else:
            print("--- proxy log (%s)" % d)
            print(log[-6000:])
    return 1 if failures else 0


class TlsPeer:
    """A SIP UA over one TLS connection to the proxy (Python's ssl; the
    proxy's certificate is self-signed, so not verified here)."""

    def __init__(self, ip, port):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        raw.bind((ip, 0))
        raw.settimeout(5)
        raw.connect(("127.0.0.1", port))
        self.s = ctx.wrap_socket(raw, server_hostname="localhost")
        self.ip, self.port = self.s.getsockname()
        self.buf = b""
        self.via = "TLS"

    def send(self, data, to=None):
        self.s.sendall(data.encode())

    def recv(self, pred=lambda m: True, seconds=4.0):
        deadline = time.time() + seconds
        while True:
            while b"\r\n\r\n" in self.buf:
                head, rest = self.buf.split(b"\r\n\r\n", 1)
                m = re.search(rb"(?im)^(?:Content-Length|l):\s*(\d+)", head)
                n = int(m.group(1)) if m else 0
                if len(rest) < n:
                    break
                msg = (head + b"\r\n\r\n" + rest[:n]).decode(errors="replace")
                self.buf = rest[n:]
                if pred(msg):
                    return msg, None
            left = deadline - time.time()
            if left <= 0:
                return None, None
            self.s.settimeout(left)
            try:
                data = self.s.recv(65535)
            except (socket.timeout, ssl.SSLError):
                return None, None
            if not data:
                return None, None
            self.buf += data

    def close(self):
        self.s.close()


def tls_call(uas, tport, sock, plog):
    tp = TlsPeer("127.0.0.4", tport)
    try:
        k = key()
        c = Call(tp, uas, None, "bob", sdp("127.0.0.4", 40060, "RTP/SAVP", k))
        c.inv, c.branch = request("INVITE", c.ruri, tp, c.callid, c.ftag, 1, body_=c.offer)
        tp.send(c.inv)
        binv = c.callee_gets_invite()
        bsdp = body(binv or "")
        check("i: TLS caller's SRTP offer reaches the plain core without a key",
              binv is not None and " RTP/AVP " in bsdp and "a=crypto" not in bsdp and
              k not in (binv or ""), binv or open(plog).read()[-2000:])
        if binv:
            c.answer(200, "OK", sdp("127.0.0.2", 42010, "RTP/AVP"))
        r = c.caller_gets(minimum=200)
        rs = body(r or "")
        check("i: TLS caller gets RTP/SAVP with our key over TLS",
              status(r) == 200 and " RTP/SAVP " in rs and crypto_key(rs) not in (None, k), r)
        calls, raw = mediad_calls(sock)
        check("i: mediad session for the TLS call, SRTP on leg a",
              calls is not None and len(calls) == 1 and
              (calls[0].get("a") or {}).get("srtp-in") not in (None, "plain"), raw)
        if r:
            c.ack(r)
            c.in_dialog("BYE", r)
            bye, baddr = uas.recv(is_req("BYE"))
            if bye:
                uas.send(response(bye, 200, "OK", ""), baddr)
            c.caller_gets("BYE", 200)
        check("i: TLS call's session gone after BYE", wait_count(sock, 0) == 0)
    finally:
        tp.close()


def late_mediad(d, cfg, uac, uas):
    """l. A proxy started before mediad: 503 for SDP meanwhile (one log line
    per outage), then mediad comes up at the configured path and the next
    SRTP call is bridged (the control socket is opened lazily)."""
    sock = os.path.join(d, "late.sock")
    p, port, _, log = start_proxy(d, cfg % (sock, free_port(), free_port(socket.SOCK_STREAM),
                                            uas.port, uas.port), "proxy-late")
    proxy = ("127.0.0.1", port)
    m = None
    try:
        c = Call(uac, uas, proxy, "bob", sdp("127.0.0.1", 40100, "RTP/SAVP", key()))
        c.invite()
        r = c.caller_gets(minimum=200)
        check("l: proxy up before mediad: SDP call gets 503", status(r) == 503, r)
        m, sock2, _ = start_mediad(d, "late")
        c = Call(uac, uas, proxy, "bob", sdp("127.0.0.1", 40100, "RTP/SAVP", key()))
        c.invite()
        binv = c.callee_gets_invite()
        if binv:
            c.answer(200, "OK", sdp("127.0.0.2", 42030, "RTP/AVP"))
        r = c.caller_gets(minimum=200)
        check("l: mediad started later: the next SRTP call is bridged",
              status(r) == 200 and crypto_key(body(r or "")) is not None and
              wait_count(sock, 1) == 1, (r, open(log).read()[-1500:]))
        text = open(log).read()
        check("l: the outage and the reconnection are logged once each",
              text.count("calls with SDP are refused with 503") +
              text.count("calls with SDP get 503 until it is") == 1 and
              "connected to rampart-mediad" in text, text[-1500:])
        if r:
            c.ack(r)
            c.in_dialog("BYE", r)
            bye, baddr = uas.recv(is_req("BYE"))
            if bye:
                uas.send(response(bye, 200, "OK", ""), baddr)
            c.caller_gets("BYE", 200)
        check("l: session deleted at BYE", wait_count(sock, 0) == 0)
    finally:
        stop(p)
        if m:
            stop(m)
        bad = [l for l in open(log).read().splitlines()
               if "AddressSanitizer" in l or "runtime error" in l]
        check("l: no sanitizer report in the second proxy's log", not bad, "\n".join(bad))


def free_port(kind=socket.SOCK_DGRAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def sipp_call(d, pport, sock):
    """sipp UAC -> proxy -> sipp UAS, SRTP offer from the require side. The
    UAS checks it got plain RTP/AVP without a=crypto; the UAC that the
    answer carries RTP/SAVP + a=crypto."""
    sd = os.path.join(d, "sipp")
    os.makedirs(sd, exist_ok=True)
    for attempt in range(3):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.2", 0))
        uas_port = s.getsockname()[1]
        s.close()
        # R-URI user 'sippuas': the script relays to the R-URI (no trunk:
        # 'allow' toward it, so plain RTP over UDP).
        uas = subprocess.Popen(["sipp", "-sf", os.path.join(HERE, "srtp_uas.xml"), "-t", "u1",
                                "-i", "127.0.0.2", "-p", str(uas_port), "-m", "1",
                                "-timeout", "20s", "-timeout_error", "-nostdin",
                                "-trace_err", "-trace_msg", "-cp", str(free_port()),
                                "-mp", str(free_port())],
                               cwd=sd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        time.sleep(0.3)
        if uas.poll() is not None:
            continue
        uac = subprocess.run(["sipp", "-sf", os.path.join(HERE, "srtp_uac.xml"), "-t", "u1",
                              "-i", "127.0.0.1", "-p", "0", "-m", "1", "-s", "sippuas",
                              "-rsa", "127.0.0.1:%d" % pport, "127.0.0.2:%d" % uas_port,
                              "-timeout", "20s", "-timeout_error", "-nostdin",
                              "-trace_err", "-cp", str(free_port()),
                              "-mp", str(free_port())],
                             cwd=sd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             timeout=60)
        try:
            uas_out = uas.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            uas.kill()
            uas_out = uas.communicate()[0]
        out = uac.stdout.decode(errors="replace")
        if "Unable to bind" in out:
            continue
        errs = "".join(open(os.path.join(sd, f), errors="replace").read()[-1500:]
                       for f in os.listdir(sd) if f.endswith("_errors.log"))
        check("g: sipp SRTP call through the proxy (UAS sees plain RTP/AVP, UAC our "
              "a=crypto)", uac.returncode == 0 and uas.returncode == 0,
              out[-1500:] + uas_out.decode(errors="replace")[-800:] + errs)
        check("g: mediad session gone after the sipp call's BYE", wait_count(sock, 0) == 0)
        return
    check("g: sipp could not start", False)


if __name__ == "__main__":
    sys.exit(main())
