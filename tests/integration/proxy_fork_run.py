#!/usr/bin/env python3
"""proxy_fork_run.py PROXY: parallel forking to registered contacts.

One user, two contacts: each registered by a sipp REGISTER with digest
(proxy_fork_register.xml: 401, then the credentials), then a sipp UAS runs
on the port the REGISTER came from. A sipp UAC calls the user through
rampart-proxy (lookup + relay, record-routed). What each peer received is
read from sipp's message traces (-trace_msg): the assertions are on the
wire.

1. Both ring; one answers (after 1 s), the other gets a CANCEL carrying
   Reason: SIP;cause=200;text="Call completed elsewhere" and answers 487;
   the caller gets exactly one 200 (a second would fail its scenario) and
   its ACK and BYE reach the contact that answered.
2. Both refuse (486 and 603): the caller gets the 603 only; both refusals
   are ACKed by the proxy.
3. One contact gets the INVITE and never answers (its branch ends with
   Timer B, 64*T1 = 3.2 s); the other answers after 4 s: the caller gets
   that 200.
4. The caller CANCELs while both ring: both get a CANCEL (no Reason), the
   caller one 487.

Every case runs its own proxy; ports are picked free by the kernel; every
wait is bounded."""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import proxy_call_run as pcr  # noqa: E402  (same PROXY argument)

check = pcr.check
USER, PASS, REALM = "carol", "carol-fork-secret", "rampart"
ELSEWHERE = 'SIP;cause=200;text="Call completed elsewhere"'

CFG = """
log_level = info;
cdr_file = "%s";
mediad_socket = "none";   # signaling only: SDP passes unchanged
timer_t1 = 50;
realm = "%s";
auth_algorithms = md5;    # sipp 3.6 answers MD5 digest
domain = "example.com", "127.0.0.1";
user %s { ha1_md5 = "%s"; }
route request {
    if (has_header("Route")) { relay; }
    if (method == "ACK" || method == "CANCEL") { relay; }
    if (method == "REGISTER") { authenticate; save; }
    record_route;
    if (!lookup()) { reply 404 "Not Found"; }
    relay;
}
""" % ("%s", REALM, USER, hashlib.md5(("%s:%s:%s" % (USER, REALM, PASS)).encode()).hexdigest())


def messages(d):
    """(direction, text) of every message in the sipp traces under d."""
    out = []
    for fn in sorted(os.listdir(d)):
        if not fn.endswith("_messages.log"):
            continue
        with open(os.path.join(d, fn), errors="replace") as f:
            for block in re.split(r"^-{20,}.*$", f.read(), flags=re.M):
                m = re.search(r"message (received|sent)[^\n]*\n\n?(.*)", block, re.S)
                if m:
                    out.append((m.group(1), m.group(2).replace("\r\n", "\n").strip()))
    return out


def received(d, start):
    return [t for k, t in messages(d) if k == "received" and t.startswith(start)]


def hdr(text, name):
    for line in text.split("\n"):
        if line.lower().startswith(name.lower() + ":"):
            return line.split(":", 1)[1].strip()
    return None


def sipp_out(p):
    try:
        out = p.communicate(timeout=40)[0]
    except subprocess.TimeoutExpired:
        p.kill()
        out = p.communicate()[0]
    return p.returncode, out.decode(errors="replace")


def register(d, i, udp, cmd):
    """REGISTER user USER (digest) from UAS i's sipp in d; cmd(extra args) builds
    its command line. Returns None, or why it failed."""
    reg = subprocess.run(cmd(["-s", USER, "-au", USER, "-ap", PASS, "-auth_uri", "example.com",
                              "127.0.0.1:%d" % udp]),
                         cwd=d, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    if reg.returncode == 0:
        return None
    # sipp's error log too: it says "Unable to bind" when a port picked free
    # was taken first, which case() retries on.
    errs = ""
    for fn in os.listdir(d):
        if fn.endswith("_errors.log"):
            with open(os.path.join(d, fn), errors="replace") as f:
                errs += "\n" + fn + ":\n" + f.read()[-800:]
    return "REGISTER %d failed: %s%s" % (i, reg.stdout.decode(errors="replace")[-1500:], errs)


def outcome(uac_rc, uac_out, procs, dirs, du, proxy):
    """Waits for the UAS sipps; (ok, detail): ok when every sipp exited 0,
    detail with their output, plus sipp's error logs and the proxy's log if not."""
    ok = uac_rc == 0
    detail = "uac rc=%d\n%s" % (uac_rc, uac_out[-1200:])
    for i, p in enumerate(procs):
        rc, out = sipp_out(p)
        ok = ok and rc == 0
        detail += "\nuas%d rc=%s %s" % (i, rc, out[-600:])
    if not ok:
        for d in dirs + [du]:
            for fn in os.listdir(d):
                if fn.endswith("_errors.log"):
                    with open(os.path.join(d, fn), errors="replace") as f:
                        detail += "\n" + fn + ":\n" + f.read()[-1200:]
        detail += "\nproxy log:\n" + proxy.text()[-3000:]
    return ok, detail


def run_case(tmp, name, uas, uac):
    """uas: list of (scenario or None for 'registered, nobody there',
    extra sipp args). Returns (ok, detail, [uas dirs], uac dir)."""
    cdr = os.path.join(tmp, "cdr-%s.jsonl" % name)
    proxy = pcr.Proxy(tmp, CFG % cdr, name="proxy-" + name)
    udp = proxy.ports["udp"]
    procs, dirs, detail, ports = [], [], "", []
    try:
        for i, (scen, extra) in enumerate(uas):
            d = os.path.join(tmp, "%s-uas%d" % (name, i))
            os.makedirs(d, exist_ok=True)
            dirs.append(d)
            port = pcr.free_port()
            ports.append(port)
            err = register(d, i, udp, lambda a: pcr.sipp_cmd(d, "proxy_fork_register.xml",
                                                             port, "u1", a))
            if err:
                return False, err, dirs, None, cdr, ports
            if scen:
                procs.append(subprocess.Popen(
                    pcr.sipp_cmd(d, scen, port, "u1", list(extra)), cwd=d,
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
        time.sleep(0.3)
        du = os.path.join(tmp, name + "-uac")
        os.makedirs(du, exist_ok=True)
        uac_p = subprocess.run(pcr.sipp_cmd(du, uac, pcr.free_port(), "u1",
                                            ["-s", USER, "127.0.0.1:%d" % udp]),
                               cwd=du, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=60)
        ok, detail = outcome(uac_p.returncode, uac_p.stdout.decode(errors="replace"),
                             procs, dirs, du, proxy)
        return ok, detail, dirs, du, cdr, ports
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        proxy.stop()


def case(tmp, name, uas, uac):
    """run_case, again when a port picked free was taken before sipp bound it."""
    for attempt in range(3):
        res = run_case(tmp, "%s-%d" % (name, attempt), uas, uac)
        if res[0] or "Unable to bind" not in res[1]:
            return res
    return res


def main():
    if shutil.which("sipp") is None:
        print("sipp not installed: skipped")
        return 77
    tmp = tempfile.mkdtemp(prefix="rp-fork-")

    # 1. Both ring, one answers, the other is cancelled "elsewhere".
    ok, detail, dirs, du, cdr, ports = case(tmp, "answer", [
        ("proxy_fork_answer_uas.xml", ["-d", "1000"]),
        ("proxy_fork_ring_uas.xml", [])], "proxy_fork_uac.xml")
    check("answer: the call completes (UAC, answering and cancelled UAS scenarios)",
          ok, detail)
    if dirs and du:
        inv = [received(d, "INVITE ") for d in dirs]
        check("answer: both contacts got the INVITE, each its own Request-URI",
              all(inv) and inv[0][0].split()[1] != inv[1][0].split()[1], inv)
        br = [re.search(r"branch=([^;\s,]+)", i[0]).group(1) for i in inv if i]
        check("answer: one Via branch per contact", len(set(br)) == 2, br)
        cancels = received(dirs[1], "CANCEL ")
        check("answer: the other contact got one CANCEL with the RFC 3326 Reason",
              len(cancels) >= 1 and hdr(cancels[0], "Reason") == ELSEWHERE, cancels)
        check("answer: the contact that answered got no CANCEL",
              not received(dirs[0], "CANCEL "), received(dirs[0], "CANCEL "))
        check("answer: the proxy ACKed the 487",
              len(received(dirs[1], "ACK ")) >= 1, received(dirs[1], "ACK "))
        oks = [t for t in received(du, "SIP/2.0 200") if "INVITE" in (hdr(t, "CSeq") or "")]
        check("answer: the caller got exactly one 200 to its INVITE",
              len({hdr(t, "To") for t in oks}) == 1 and oks, oks)
        check("answer: the caller got both 180s",
              len({hdr(t, "To") for t in received(du, "SIP/2.0 180")}) == 2,
              received(du, "SIP/2.0 180"))
        check("answer: no 487 reached the caller", not received(du, "SIP/2.0 487"))
        check("answer: ACK and BYE reached the contact that answered",
              received(dirs[0], "ACK ") and received(dirs[0], "BYE "))
        recs, deadline = [], time.time() + 5
        while not recs and time.time() < deadline:   # the CDR goes out at the BYE
            if os.path.exists(cdr):
                with open(cdr) as f:
                    recs = [json.loads(line) for line in f if line.strip()]
            time.sleep(0.1)
        callee = [g for r in recs for g in r.get("legs", []) if g.get("role") == "callee"]
        check("answer: one CDR, its callee leg the contact that answered, ended by BYE",
              len(recs) == 1 and recs[0].get("end_reason") == "caller-bye" and
              len(callee) == 1 and callee[0].get("peer") == "127.0.0.1:%d" % ports[0],
              recs)

    # 2. Both refuse: 486 and 603 -> 603.
    ok, detail, dirs, du, cdr, ports = case(tmp, "reject", [
        ("proxy_call_busy_uas.xml", []),
        ("proxy_fork_decline_uas.xml", [])],
        "proxy_fork_reject_uac.xml")
    check("reject: 486 + 603 -> the caller gets 603 and ACKs it; both refusals ACKed",
          ok, detail)
    if du:
        finals = [t.split("\n")[0] for t in received(du, "SIP/2.0 ")
                  if not t.startswith("SIP/2.0 1")]
        check("reject: the caller got one final response, the 603",
              len(finals) >= 1 and all(f.startswith("SIP/2.0 603") for f in finals), finals)

    # 3. One contact silent (Timer B), the other answers after 4 s.
    t0 = time.time()
    ok, detail, dirs, du, cdr, ports = case(tmp, "timeout", [
        ("proxy_fork_silent_uas.xml", []),
        ("proxy_fork_answer_uas.xml", ["-d", "4000"])], "proxy_fork_uac.xml")
    check("timeout: one branch times out, the other's 200 reaches the caller", ok, detail)
    if dirs and du:
        check("timeout: the silent contact got the INVITE (and no CANCEL: it never rang)",
              received(dirs[0], "INVITE ") and not received(dirs[0], "CANCEL "))
        check("timeout: the call waited for the answer (> 3.2 s)", time.time() - t0 > 3.2)
        check("timeout: no 408 reached the caller", not received(du, "SIP/2.0 408"))

    # 4. The caller cancels while both ring.
    ok, detail, dirs, du, cdr, ports = case(tmp, "cancel", [
        ("proxy_fork_ring_uas.xml", []),
        ("proxy_fork_ring_uas.xml", [])], "proxy_fork_cancel_uac.xml")
    check("cancel: CANCEL from the caller reaches both, one 487 back", ok, detail)
    if dirs and du:
        cs = [received(d, "CANCEL ") for d in dirs]
        check("cancel: both contacts got a CANCEL without a Reason",
              all(cs) and all(hdr(c[0], "Reason") is None for c in cs), cs)
        check("cancel: the caller got one 487",
              len(received(du, "SIP/2.0 487")) == 1, received(du, "SIP/2.0 487"))

    return pcr.verdict(tmp)


if __name__ == "__main__":
    sys.exit(main())
