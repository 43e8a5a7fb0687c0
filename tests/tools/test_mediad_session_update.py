#!/usr/bin/env python3
"""test_mediad_session_update.py MEDIAD: the control commands the proxy uses
per call, against a real rampart-mediad (docs/mediad.md):
 - session.update programs both legs in one request (remotes, SRTP both
   ways on a, plain on b), as session.query then shows;
 - brief=1 replies carry the session id only (leg.update, session.update,
   session.delete), without brief the full state as before;
 - a field error in either leg changes nothing and names the leg; a request
   without a or b, or with a non-dictionary leg, is refused;
 - an unknown session is refused naming the leg.
Every wait is bounded; the media port range is a free one (bind-probed)."""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ctlproto import Client  # noqa: E402
from testports import free_udp_range  # noqa: E402

mediad = sys.argv[1]
fails = 0
checks = 0


def check(cond, what):
    global fails, checks
    checks += 1
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        fails += 1


KEY = {"suite": "AES_CM_128_HMAC_SHA1_80", "key": b"k" * 16, "salt": b"s" * 14}
KEY2 = {"suite": "AES_CM_128_HMAC_SHA1_32", "key": b"K" * 16, "salt": b"S" * 14}


def main():
    if not os.access(mediad, os.X_OK):
        print("SKIP: rampart-mediad not built")
        return 77
    tmp = tempfile.mkdtemp(prefix="mediad-supd-test.")
    sock = os.path.join(tmp, "mediad.sock")
    proc = None
    try:
        for _ in range(5):
            lo = free_udp_range(48)
            path = os.path.join(tmp, "mediad.conf")
            with open(path, "w") as f:
                f.write(f"listen = 127.0.0.1\nports = {lo}-{lo + 47}\nworkers = 2\n"
                        f"kernel = off\ncontrol = {sock}\nlog-level = warn\n")
            log = open(os.path.join(tmp, "mediad.log"), "w")
            proc = subprocess.Popen([mediad, "--config", path], stderr=log)
            end = time.monotonic() + 10
            while time.monotonic() < end and not os.path.exists(sock) and proc.poll() is None:
                time.sleep(0.05)
            log.close()
            if os.path.exists(sock):
                break
            proc.wait(5)
        if not os.path.exists(sock):
            print("FAIL mediad did not start: " + open(os.path.join(tmp, "mediad.log")).read())
            return 1
        cl = Client(sock)
        sid = cl.ok("session.create", label="t1")["session"]

        r = cl.ok("session.update", session=sid, brief=1,
                  a={"address": "127.0.0.1", "port": 7000, "srtp-in": KEY, "srtp-out": KEY2},
                  b={"address": "127.0.0.1", "port": 7002})
        check(set(r) == {"result", "cookie", "session"} and r["session"] == sid,
              f"session.update brief=1: session id only ({r})")
        q = cl.ok("session.query", session=sid)
        a, b = q.get("a", {}), q.get("b", {})
        check(a.get("remote") == "127.0.0.1:7000" and b.get("remote") == "127.0.0.1:7002",
              f"session.update set both remotes ({a.get('remote')}, {b.get('remote')})")
        check(a.get("srtp-suite-in") == "AES_CM_128_HMAC_SHA1_80" and
              a.get("srtp-suite-out") == "AES_CM_128_HMAC_SHA1_32" and
              b.get("srtp-suite-in") == "plain" and b.get("srtp-suite-out") == "plain",
              f"session.update keyed leg a both ways, b plain ({a}, {b})")

        # A field error in b: nothing changes, not even a.
        r = cl.call("session.update", session=sid,
                    a={"address": "127.0.0.1", "port": 7100},
                    b={"address": "127.0.0.1", "port": 7102,
                       "srtp-in": dict(KEY, key=b"short")})
        check(r.get("result") == "error" and
              str(r.get("error-reason", "")).startswith("leg b: ") and
              "key" in str(r.get("error-reason")),
              f"session.update: a bad key in b is refused naming leg b ({r})")
        q = cl.ok("session.query", session=sid)
        check(q["a"].get("remote") == "127.0.0.1:7000" and q["b"].get("remote") == "127.0.0.1:7002",
              "session.update: a refused request changed neither leg")

        r = cl.call("session.update", session=sid)
        check(r.get("result") == "error" and "'a' or 'b'" in str(r.get("error-reason")),
              f"session.update without a or b is refused ({r})")
        r = cl.call("session.update", session=sid, a="none")
        check(r.get("result") == "error" and "dictionary" in str(r.get("error-reason")),
              f"session.update with a non-dictionary leg is refused ({r})")
        r = cl.call("session.update", session=sid + 1000, b={"address": "127.0.0.1",
                                                             "port": 7004})
        check(r.get("result") == "error" and
              str(r.get("error-reason", "")).startswith("leg b: ") and
              "no session" in str(r.get("error-reason")),
              f"session.update of an unknown session names the leg ({r})")

        # Without brief: the state, as session.query.
        r = cl.ok("session.update", session=sid, b={"address": "127.0.0.1", "port": 7006})
        check(r.get("b", {}).get("remote") == "127.0.0.1:7006" and "a" in r,
              f"session.update without brief returns the state ({r})")
        r = cl.ok("leg.update", session=sid, leg="a", brief=1, **{"srtp-out": "none"})
        check(set(r) == {"result", "cookie", "session"}, f"leg.update brief=1 ({r})")
        r = cl.ok("leg.update", session=sid, leg="a", **{"srtp-in": "none"})
        check("a" in r and r["a"].get("srtp-in") == 0, f"leg.update without brief ({r})")
        r = cl.ok("session.delete", session=sid, brief=1)
        check(set(r) == {"result", "cookie", "session"} and r["session"] == sid,
              f"session.delete brief=1 ({r})")
        sid2 = cl.ok("session.create")["session"]
        r = cl.ok("session.delete", session=sid2)
        check("a" in r and "stats" in r["a"], "session.delete without brief: final counters")
        check(cl.ok("stats").get("sessions-active") == 0, "no session left")
    finally:
        if proc and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{checks - fails}/{checks} checks passed")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
