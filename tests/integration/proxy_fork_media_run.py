#!/usr/bin/env python3
"""proxy_fork_media_run.py PROXY MEDIAD: parallel forking with a real mediad.

One user, two contacts (each registered by a sipp REGISTER with digest, then
a sipp UAS on the port the REGISTER came from), a real rampart-mediad on a
temporary control socket and a free port range, rampart-proxy wired to it.
The caller is a sipp UAC on 127.0.0.3, the proxy's 'access' trunk:
media_encryption = require with allow_sdes_over_insecure (docs/media-policy.md),
so it offers RTP/SAVP + a=crypto; the contacts are plain UDP phones (the UDP
listener's 'allow' cannot send them keys in clear: plain RTP toward them).

1. answer: one contact sends 183 with an SDP answer at once (early media),
   the other 180 and, after 1 s, 200 with its SDP. The caller's 200 carries
   our SDP: c= mediad's address, m= RTP/SAVP at the port of mediad's leg a,
   an a=crypto that is our key, not the caller's. Both contacts got the same
   offer: RTP/AVP at leg b's port, no a=crypto. The early-media contact gets
   the CANCEL ("Call completed elsewhere"). During the call mediad holds
   exactly one session, labelled with the Call-ID: leg a SRTP both ways at
   the caller's media address, leg b plain with its remote at the answering
   contact's media port (not the cancelled contact's early-media port);
   after the BYE it holds none.
2. two-answers: both contacts answer 200 without ringing, 400 ms apart:
   the caller gets one 200; the second is ACKed and ended by the proxy
   (BYE with the Reason); mediad's one session follows the first 200 and
   never the second's SDP; the BYE deletes it.
3. cancel: both contacts send early media (183 with SDP), the caller
   CANCELs: both get the CANCEL, the caller one 487, mediad holds no session.
4. reject: both contacts refuse (486, 603): the caller gets the 603 and
   mediad holds no session.
5. early-timeout: one contact never answers (Timer B), the other sends 183
   with SDP (mediad's leg b follows it) and then 603: the caller gets the
   603 once the silent branch timed out; mediad holds no session.

mediad is read over its control socket (session.list / session.query).
Every port is picked free; every wait is bounded."""
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import proxy_call_run as pcr  # noqa: E402  (PROXY is argv[1] there too)
import proxy_fork_run as pfr  # noqa: E402
from ctlproto import Client  # noqa: E402
from testports import free_udp_range  # noqa: E402

check = pcr.check
MEDIAD = sys.argv[2]
USER, PASS, REALM = pfr.USER, pfr.PASS, pfr.REALM
CALLER_IP = "127.0.0.3"
CALLER_KEY = "Rk9SS0lOR19XSVRIX01FRElBX0NBTExFUl9LRVkx"

CFG = """
log_level = info;
mediad_socket = "%s";
timer_t1 = 50;
realm = "%s";
auth_algorithms = md5;    # sipp 3.6 answers MD5 digest
domain = "example.com", "127.0.0.1";
user %s { ha1_md5 = "%s"; }
trunk access {
    address = "%s:9";
    inbound { source = %s/32; }
    media_encryption = require;
    allow_sdes_over_insecure = yes;
}
route request {
    if (has_header("Route")) { relay; }
    if (method == "ACK" || method == "CANCEL") { relay; }
    if (method == "REGISTER") { authenticate; save; }
    record_route;
    if (!lookup()) { reply 404 "Not Found"; }
    relay;
}
"""


def s(v):
    return v.decode(errors="replace") if isinstance(v, bytes) else v


def start_mediad(d):
    sock = os.path.join(d, "mediad.sock")
    for attempt in range(3):
        lo = free_udp_range(32)
        conf = os.path.join(d, "mediad.conf")
        with open(conf, "w") as f:
            f.write("listen = 127.0.0.1\nports = %d-%d\nworkers = 2\nkernel = off\n"
                    "control = %s\nlog-level = info\n" % (lo, lo + 31, sock))
        log = open(os.path.join(d, "mediad.log"), "a")
        p = subprocess.Popen([MEDIAD, "--config", conf], stderr=log, stdout=log)
        for _ in range(100):
            if os.path.exists(sock) or p.poll() is not None:
                break
            time.sleep(0.05)
        if os.path.exists(sock) and p.poll() is None:
            return p, sock
        if p.poll() is None:
            p.kill()
        p.wait()
    raise RuntimeError("mediad did not start:\n" + open(os.path.join(d, "mediad.log")).read())


def sessions(sock):
    """{id: session.query reply} of every session mediad holds now."""
    cl = Client(sock)
    try:
        ids = cl.ok("session.list").get("sessions", [])
        out = {}
        for i in ids:
            r = cl.call("session.query", session=i)
            if r.get("result") == "ok":
                out[i] = r
        return out
    finally:
        cl.s.close()


def wait_sessions(sock, n, seconds=5.0):
    deadline = time.time() + seconds
    while True:
        cur = sessions(sock)
        if len(cur) == n or time.time() > deadline:
            return cur
        time.sleep(0.05)


def sipp_cmd(scen, ip, port, mport, extra):
    return ["sipp", "-sf", os.path.join(HERE, scen), "-t", "u1", "-i", ip, "-p", str(port),
            "-m", "1", "-cp", str(pcr.free_port()), "-mp", str(mport),
            "-timeout", "25s", "-timeout_error", "-nostdin", "-trace_err",
            "-trace_msg"] + extra


def media_port():
    """An even port with port..port+3 free (sipp binds audio and video)."""
    return free_udp_range(4)


def body(text):
    return text.split("\n\n", 1)[1] if "\n\n" in text else ""


def run_case(tmp, name, uas, uac, sock, watch=None):
    """uas: list of (scenario, extra sipp args). watch(uac Popen) runs while
    the caller's scenario does. Returns (ok, detail, uas dirs, uac dir,
    uas media ports, Call-ID, watch result)."""
    proxy = pcr.Proxy(tmp, CFG % (sock, REALM, USER, hashlib.md5(
        ("%s:%s:%s" % (USER, REALM, PASS)).encode()).hexdigest(), CALLER_IP, CALLER_IP),
        name="proxy-" + name)
    udp = proxy.ports["udp"]
    procs, dirs, mports, detail, seen = [], [], [], "", None
    du = None
    try:
        for i, (scen, extra) in enumerate(uas):
            d = os.path.join(tmp, "%s-uas%d" % (name, i))
            os.makedirs(d, exist_ok=True)
            dirs.append(d)
            port = pcr.free_port()
            mport = media_port()
            mports.append(mport)
            err = pfr.register(d, i, udp, lambda a: sipp_cmd("proxy_fork_register.xml",
                                                             "127.0.0.1", port, mport, a))
            if err:
                return False, err, dirs, None, mports, None, None
            procs.append(subprocess.Popen(sipp_cmd(scen, "127.0.0.1", port, mport, list(extra)),
                                          cwd=d, stdout=subprocess.PIPE,
                                          stderr=subprocess.STDOUT))
        time.sleep(0.3)
        du = os.path.join(tmp, name + "-uac")
        os.makedirs(du, exist_ok=True)
        uac_p = subprocess.Popen(sipp_cmd(uac, CALLER_IP, pcr.free_port(), media_port(),
                                          ["-s", USER, "127.0.0.1:%d" % udp]),
                                 cwd=du, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if watch:
            seen = watch(uac_p)
        rc, out = pfr.sipp_out(uac_p)
        ok, detail = pfr.outcome(rc, out, procs, dirs, du, proxy)
        invs = pfr.received(dirs[0], "INVITE ") if dirs else []
        callid = pfr.hdr(invs[0], "Call-ID") if invs else None
        return ok, detail, dirs, du, mports, callid, seen
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        proxy.stop()


def case(tmp, name, uas, uac, sock, watch=None):
    """run_case, again when a port picked free was taken before sipp bound it."""
    for attempt in range(3):
        res = run_case(tmp, "%s-%d" % (name, attempt), uas, uac, sock, watch)
        if res[0] or "Unable to bind" not in res[1]:
            return res
        wait_sessions(sock, 0)
    return res


def main():
    if shutil.which("sipp") is None:
        print("sipp not installed: skipped")
        return 77
    if not os.access(MEDIAD, os.X_OK):
        print("rampart-mediad not built: skipped")
        return 77
    tmp = tempfile.mkdtemp(prefix="rp-fork-media-")
    mediad, sock = start_mediad(tmp)
    try:
        run(tmp, sock)
    finally:
        if mediad.poll() is None:
            mediad.terminate()
            try:
                mediad.wait(10)
            except subprocess.TimeoutExpired:
                mediad.kill()
                mediad.wait()
    check("mediad exited cleanly", mediad.returncode == 0,
          "exit %s\n%s" % (mediad.returncode, open(os.path.join(tmp, "mediad.log")).read()[-2000:]))
    return pcr.verdict(tmp)


def run(tmp, sock):
    check("mediad holds no session at start", sessions(sock) == {}, sessions(sock))

    # 1. One contact has early media and is cancelled, the other answers.
    def during_call(uac_p):
        """mediad's sessions once the answer is in (leg b has a remote and the
        caller's ACK went out), sampled until the caller hangs up."""
        snaps = []
        deadline = time.time() + 30
        while uac_p.poll() is None and time.time() < deadline:
            snaps.append(sessions(sock))
            time.sleep(0.1)
        return snaps

    ok, detail, dirs, du, mports, callid, snaps = case(tmp, "answer", [
        ("proxy_fork_answer_uas.xml", ["-d", "1000"]),
        ("proxy_fork_media_early_uas.xml", [])], "proxy_fork_media_uac.xml", sock,
        during_call)
    check("answer: the call completes (caller, answering and cancelled contacts)", ok, detail)
    if not (dirs and du):
        return
    inv = [pfr.received(d, "INVITE ") for d in dirs]
    offers = [body(i[0]) if i else "" for i in inv]
    oks = [t for t in pfr.received(du, "SIP/2.0 200") if "INVITE" in (pfr.hdr(t, "CSeq") or "")]
    ans = body(oks[0]) if oks else ""
    # What mediad held while the call was up: the samples after the 200
    # (leg b's remote is the answering contact's media port then).
    win = "127.0.0.1:%d" % mports[0]
    early = "127.0.0.1:%d" % mports[1]
    up = [sn for sn in snaps or [] if any(s(q.get("b", {}).get("remote")) == win
                                          for q in sn.values())]
    check("answer: mediad was sampled with the call answered", len(up) >= 3,
          "%d of %d samples" % (len(up), len(snaps or [])))
    check("answer: mediad held exactly one session during the whole call",
          up and all(len(sn) == 1 for sn in up) and
          all(len(sn) <= 1 for sn in snaps), [list(sn) for sn in snaps or []])
    q = list(up[-1].values())[0] if up else {}
    la, lb = q.get("a", {}), q.get("b", {})
    check("answer: the session is labelled with the call's Call-ID",
          callid and s(q.get("label")) == callid, (q.get("label"), callid))
    check("answer: leg a is SRTP both ways, toward the caller's media address",
          la.get("srtp-in") == 1 and la.get("srtp-out") == 1 and
          s(la.get("remote", b"")).startswith(CALLER_IP + ":"), la)
    check("answer: leg b is plain, toward the answering contact's media port "
          "(not the cancelled contact's early media at %s)" % early,
          lb.get("srtp-in") == 0 and lb.get("srtp-out") == 0 and s(lb.get("remote")) == win,
          lb)
    m = re.search(r"^m=audio (\d+) RTP/SAVP ", ans, re.M)
    c = re.search(r"^c=IN IP4 (\S+)", ans, re.M)
    k = re.search(r"^a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:(\S+)", ans, re.M)
    check("answer: the caller's 200 has mediad's address and leg a's port, RTP/SAVP",
          m and c and c.group(1) == s(la.get("address")) and
          int(m.group(1)) == la.get("port"), (ans, la))
    check("answer: the caller's 200 has our a=crypto (one line, not the caller's key, "
          "not the contact's SDP)",
          k and len(re.findall(r"^a=crypto", ans, re.M)) == 1 and
          not k.group(1).startswith(CALLER_KEY) and
          str(mports[0]) not in re.findall(r"^m=audio (\d+)", ans, re.M), ans)
    check("answer: both contacts got the same offer: RTP/AVP at leg b's port on "
          "mediad's address, no a=crypto",
          all(o and re.search(r"^m=audio %d RTP/AVP " % lb.get("port", -1), o, re.M) and
              re.search(r"^c=IN IP4 %s" % re.escape(s(lb.get("address", b"?"))), o, re.M) and
              "a=crypto" not in o for o in offers) and offers[0] == offers[1], offers)
    cancels = pfr.received(dirs[1], "CANCEL ")
    check("answer: the contact with early media got the CANCEL (answered elsewhere)",
          cancels and pfr.hdr(cancels[0], "Reason") == pfr.ELSEWHERE, cancels)
    check("answer: the contact that answered got no CANCEL, and the ACK and BYE",
          not pfr.received(dirs[0], "CANCEL ") and pfr.received(dirs[0], "ACK ") and
          pfr.received(dirs[0], "BYE "))
    left = wait_sessions(sock, 0)
    check("answer: the BYE deleted mediad's session", left == {}, left)

    # 2. Both answer (no provisional, so no CANCEL can overtake a 200): the
    # first 200 wins; the second is ACKed and ended with a BYE by the
    # proxy, and its SDP never reaches mediad.
    ok, detail, dirs, du, mports, callid, snaps = case(tmp, "two-answers", [
        ("proxy_fork_media_answer_uas.xml", ["-d", "1000"]),
        ("proxy_fork_media_answer_uas.xml", ["-d", "1400"])], "proxy_fork_media_uac.xml",
        sock, during_call)
    check("two-answers: the call completes, the caller sees one 200", ok, detail)
    if dirs and du:
        win = "127.0.0.1:%d" % mports[0]
        second = "127.0.0.1:%d" % mports[1]
        byes = [pfr.received(d, "BYE ") for d in dirs]
        check("two-answers: the first to answer got the caller's BYE (no Reason), the "
              "second the proxy's ACK and BYE (answered elsewhere)",
              byes[0] and pfr.hdr(byes[0][0], "Reason") is None and
              pfr.received(dirs[1], "ACK ") and byes[1] and
              pfr.hdr(byes[1][0], "Reason") == pfr.ELSEWHERE, byes)
        remotes = [s(q.get("b", {}).get("remote")) for sn in snaps or [] for q in sn.values()]
        check("two-answers: one session throughout; leg b followed the first 200 and "
              "never the second's SDP (%s)" % second,
              snaps and all(len(sn) <= 1 for sn in snaps) and win in remotes and
              second not in remotes, remotes)
        oks = [t for t in pfr.received(du, "SIP/2.0 200")
               if "INVITE" in (pfr.hdr(t, "CSeq") or "")]
        check("two-answers: every 200 the caller got is the same dialog",
              oks and len({pfr.hdr(t, "To") for t in oks}) == 1, oks)
    left = wait_sessions(sock, 0)
    check("two-answers: no session after the BYE", left == {}, left)

    # 3. The caller gives up while both contacts send early media.
    ok, detail, dirs, du, mports, callid, snaps = case(tmp, "cancel", [
        ("proxy_fork_media_early_uas.xml", []),
        ("proxy_fork_media_early_uas.xml", [])], "proxy_fork_media_cancel_uac.xml", sock,
        during_call)
    check("cancel: the caller's CANCEL reaches both contacts, one 487 back", ok, detail)
    if dirs:
        check("cancel: both contacts got the offer through mediad and a CANCEL",
              all(pfr.received(d, "INVITE ") and pfr.received(d, "CANCEL ") and
                  "a=crypto" not in body(pfr.received(d, "INVITE ")[0]) for d in dirs))
        check("cancel: never more than one session", all(len(sn) <= 1 for sn in snaps or []),
              [list(sn) for sn in snaps or []])
    left = wait_sessions(sock, 0)
    check("cancel: mediad holds no session after the CANCEL", left == {}, left)

    # 4. Every branch fails: no session is left behind.
    ok, detail, dirs, du, mports, callid, _ = case(tmp, "reject", [
        ("proxy_call_busy_uas.xml", []),
        ("proxy_fork_decline_uas.xml", [])], "proxy_fork_media_reject_uac.xml", sock)
    check("reject: 486 + 603 -> the caller gets 603 and ACKs it", ok, detail)
    if dirs:
        inv = [pfr.received(d, "INVITE ") for d in dirs]
        check("reject: both contacts got an offer through mediad (RTP/AVP, no a=crypto)",
              all(i and "m=audio" in body(i[0]) and "a=crypto" not in body(i[0])
                  for i in inv), inv)
    left = wait_sessions(sock, 0)
    check("reject: mediad holds no session after the failed fork", left == {}, left)

    # 5. Early media, then every branch fails, one by Timer B: the 603
    # waits for the silent branch (it never rang, so it cannot be
    # CANCELled) and then reaches the caller; no session is left.
    t0 = time.time()
    ok, detail, dirs, du, mports, callid, snaps = case(tmp, "early-timeout", [
        ("proxy_fork_silent_uas.xml", []),
        ("proxy_fork_media_early_decline_uas.xml", ["-d", "300"])],
        "proxy_fork_media_reject_uac.xml", sock, during_call)
    check("early-timeout: the caller gets the 603 after the silent branch timed out",
          ok and time.time() - t0 > 3.2, detail)
    remotes = [s(q.get("b", {}).get("remote")) for sn in snaps or [] for q in sn.values()]
    check("early-timeout: leg b followed the early answer meanwhile, one session at most",
          len(mports) > 1 and "127.0.0.1:%d" % mports[1] in remotes and
          all(len(sn) <= 1 for sn in snaps or []), remotes)
    left = wait_sessions(sock, 0)
    check("early-timeout: mediad holds no session after the failed fork", left == {}, left)


if __name__ == "__main__":
    sys.exit(main())
