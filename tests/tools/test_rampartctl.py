#!/usr/bin/env python3
"""rampartctl against a real rampart-mediad (and a stand-in proxy socket).

Starts rampart-mediad on a temp control socket and a free (bind-probed) 48-port range on
127.0.0.1, creates sessions with a small bencode client of its own, moves
RTP through one of them, then checks rampartctl's status / stats / calls /
call show / call drop / ping / commands output (JSON field by field against
what the daemon itself answers), every exit status (daemon down, daemon
error, usage, timeout, protocol error), terminal-safe text output, the
proxy-only commands, and that docs/rampartctl.md matches the command table.

Usage: test_rampartctl.py RAMPARTCTL MEDIAD DOC_MD
"""
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

ctl, mediad, doc_md = sys.argv[1], sys.argv[2], sys.argv[3]
fails = 0
checks = 0


def check(cond, what):
    global fails, checks
    checks += 1
    if not cond:
        fails += 1
        print(f"FAIL: {what}", flush=True)


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ctlproto import Client, bdec, benc  # noqa: E402
from testports import free_udp_range  # noqa: E402


# ---- running rampartctl ----

def run(*args, timeout=30, env=None):
    p = subprocess.run([ctl, *args], capture_output=True, timeout=timeout, env=env)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def run_json(*args):
    rc, out, err = run("--json", *args)
    try:
        doc = json.loads(out)
    except ValueError as e:
        check(False, f"{' '.join(args)}: stdout is one JSON document ({e}): {out!r}")
        doc = {}
    return rc, doc, err


tmp = tempfile.mkdtemp(prefix="rampartctl-test.")
msock = os.path.join(tmp, "mediad.sock")
nosock = os.path.join(tmp, "nothing-here.sock")
proc = None
started = [0.0]


def start_mediad():
    global proc
    for attempt in range(1, 4):
        lo = free_udp_range(48)
        with open(os.path.join(tmp, "mediad.conf"), "w") as f:
            f.write(f"listen = 127.0.0.1\nports = {lo}-{lo + 47}\nworkers = 2\n"
                    f"engine = mmsg\nmedia-timeout = 60\ndelete-timeout = 120\n"
                    f"control = {msock}\nlog-level = notice\n")
        log = open(os.path.join(tmp, "mediad.log"), "w")
        started[0] = time.monotonic()
        proc = subprocess.Popen([mediad, "--config", os.path.join(tmp, "mediad.conf")],
                                stderr=log)
        for _ in range(50):
            if os.path.exists(msock) or proc.poll() is not None:
                break
            time.sleep(0.1)
        if os.path.exists(msock):
            return
        proc.kill()
        proc.wait()
        proc = None
    print("mediad did not start:")
    print(open(os.path.join(tmp, "mediad.log")).read())
    sys.exit(1)


# A stand-in for rampart-proxy: answers hello as rampart-proxy, "stall" never,
# "garble" with bytes that are not bencode, and everything else with the
# error a daemon gives for a command it does not have.
class FakeProxy(threading.Thread):
    def __init__(self, path):
        super().__init__(daemon=True)
        self.path = path
        self.ls = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.ls.bind(path)
        self.ls.listen(8)
        self.ls.settimeout(0.2)
        self.stop = False

    def run(self):
        conns = []
        while not self.stop:
            try:
                c, _ = self.ls.accept()
                c.settimeout(0.05)
                conns.append(c)
            except socket.timeout:
                pass
            for c in list(conns):
                try:
                    data = c.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    conns.remove(c)
                    continue
                if not data:
                    conns.remove(c)
                    continue
                req, _ = bdec(data)
                cmd, cookie = req.get("command"), req.get("cookie")
                if cmd == "hello":
                    c.send(benc({"cookie": cookie, "result": "ok", "version": 1,
                                 "version-minor": 0, "server": "rampart-proxy",
                                 "software": "0.0.9", "access": "admin", "events": [],
                                 "max-message": 65536}))
                elif cmd == "stall":
                    pass
                elif cmd == "garble":
                    c.send(b"this is not bencode")
                elif cmd == "badutf8":
                    # As an older daemon could: the reason with raw bytes.
                    c.send(benc({"cookie": cookie, "result": "error",
                                 "error-reason": b"caf\xc3\xa9 \xff\xfe\xc3 end\n\x1b[31m"}))
                elif cmd == "ping":
                    c.send(benc({"cookie": cookie, "result": "ok"}))
                else:
                    c.send(benc({"cookie": cookie, "result": "error",
                                 "error-reason": f"unknown command '{cmd}'; send 'commands' for the list"}))
        for c in conns:
            c.close()
        self.ls.close()


try:
    start_mediad()
    cl = Client(msock)
    M = ["--mediad-socket", msock, "--proxy-socket", nosock]

    # ---- sessions over the control socket ----
    s1 = cl.ok("session.create", label="call-one@host")
    s2 = cl.ok("session.create", label="call-two@host")
    id1, id2 = s1["session"], s2["session"]
    # Session 1: plain, both remotes on loopback sockets of ours.
    ua, ub = (socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2))
    for u in (ua, ub):
        u.bind(("127.0.0.1", 0))
        u.settimeout(2)
    cl.ok("leg.update", session=id1, leg="a", address="127.0.0.1", port=ua.getsockname()[1])
    cl.ok("leg.update", session=id1, leg="b", address="127.0.0.1", port=ub.getsockname()[1])
    # Session 2: SRTP in on leg a, so auth failures can be counted.
    key = {"suite": "AES_CM_128_HMAC_SHA1_80", "key": b"k" * 16, "salt": b"s" * 14}
    cl.ok("leg.update", session=id2, leg="a", address="127.0.0.1", port=ua.getsockname()[1],
          **{"srtp-in": key, "srtp-out": key})
    npk = 5
    for seq in range(npk):
        rtp = struct.pack("!BBHII", 0x80, 0, seq, seq * 160, 0x1234) + b"\x00" * 160
        ub.sendto(rtp, ("127.0.0.1", s1["b"]["port"]))
        ua.sendto(rtp + b"\x00" * 10, ("127.0.0.1", s2["a"]["port"]))  # bad SRTP tag
    # Session 1, leg a: RTP whose CSRC count runs past the end is dropped
    # and counted as 'malformed' (docs/mediad.md "Header checks").
    nmal = 3
    for seq in range(nmal):
        bad = struct.pack("!BBHII", 0x8f, 0, 100 + seq, 0, 0x1234) + b"\x00" * 20
        ua.sendto(bad, ("127.0.0.1", s1["a"]["port"]))
    got = 0
    for _ in range(npk):
        try:
            ua.recv(2048)
            got += 1
        except socket.timeout:
            break
    check(got == npk, f"plain RTP forwarded b->a ({got}/{npk})")
    for _ in range(50):  # counters settle (bounded)
        q2 = cl.ok("session.query", session=id2)
        q1 = cl.ok("session.query", session=id1)
        if q2["a"]["stats"]["auth-failures"] >= npk and q1["a"]["stats"]["malformed"] >= nmal:
            break
        time.sleep(0.1)
    q1 = cl.ok("session.query", session=id1)
    q2 = cl.ok("session.query", session=id2)
    check(q1["b"]["stats"]["packets-in"] == npk, "daemon counted the RTP")
    check(q2["a"]["stats"]["auth-failures"] == npk, "daemon counted the SRTP auth failures")
    check(q1["a"]["stats"]["malformed"] == nmal, "daemon counted the malformed RTP")

    # ---- status ----
    rc, doc, err = run_json(*M, "status")
    check(rc == 0, f"status --json with mediad up, proxy down: exit 0 (got {rc}, {err})")
    check(set(doc) == {"proxy", "mediad"}, f"status: one key per daemon ({list(doc)})")
    md = doc.get("mediad", {})
    hello = cl.ok("hello")
    check(md.get("up") is True and md.get("socket") == msock, "status: mediad up, its socket")
    check(md.get("server") == "rampart-mediad" and md.get("software") == hello["software"],
          "status: server and version from hello")
    check(md.get("protocol-version") == 1 and md.get("protocol-minor") == hello["version-minor"],
          "status: protocol version")
    check(md.get("workers") == 2 and md.get("engine") == "mmsg", f"status: workers, engine ({md})")
    check(md.get("pid") == proc.pid, f"status: pid of the daemon ({md.get('pid')} vs {proc.pid})")
    check(isinstance(md.get("uptime-s"), int) and
          0 <= md["uptime-s"] <= time.monotonic() - started[0] + 2 and
          md.get("uptime-source") in ("daemon", "process"), f"status: uptime ({md.get('uptime-s')})")
    check("kernel-fastpath" in md, "status: kernel fast path field present (null: not reported)")
    check(md.get("sessions-active") == 2, f"status: sessions-active 2 ({md.get('sessions-active')})")
    px = doc.get("proxy", {})
    check(px.get("up") is False and nosock in px.get("error", "") and px.get("socket") == nosock,
          f"status: proxy shown as down with the reason ({px})")
    rc, out, err = run(*M, "status")
    check(rc == 0, "status (text): exit 0")
    check(re.search(r"^rampart-mediad\s+up\s+" + re.escape(hello["software"]), out, re.M) is not None,
          f"status (text): mediad row up with version\n{out}")
    check(re.search(r"^rampart-proxy\s+down", out, re.M) is not None, "status (text): proxy row down")
    # No socket options at all: the environment (else /run/rampart) decides.
    env = dict(os.environ, RAMPART_MEDIAD_SOCKET=msock, RAMPART_PROXY_SOCKET=nosock)
    for cmd in ("status", "calls", "stats"):
        rc, out, err = run("--json", cmd, env=env)
        try:
            d = json.loads(out)
        except ValueError:
            d = None
        check(rc == 0 and isinstance(d, dict), f"{cmd} --json with no other argument: one document")
    rc, doc, err = run_json("--socket", msock, "status")
    check(rc == 0 and list(doc) == ["mediad"], f"status --socket: just that instance ({list(doc)})")
    rc, doc, err = run_json("--mediad-socket", nosock, "--proxy-socket", nosock, "status")
    check(rc == 3, f"status, nothing running: exit 3 (got {rc})")
    check(doc.get("mediad", {}).get("up") is False and doc.get("proxy", {}).get("up") is False,
          "status, nothing running: both down inside the document")
    rc, out, err = run(*M, "status", "mediad")
    check(rc == 0 and "rampart-proxy" not in out, "status mediad: only mediad")
    rc, out, err = run(*M, "status", "proxy")
    check(rc == 3 and "rampart-proxy" in out, f"status proxy (down): exit 3 (got {rc})")

    # ---- stats ----
    rc, doc, err = run_json(*M, "stats")
    st = cl.ok("stats")
    check(rc == 0, f"stats --json: exit 0 (got {rc})")
    ms = doc.get("mediad", {})
    for k in ("engine", "workers", "ports-total", "ports-in-use", "sessions-active",
              "sessions-created", "sessions-deleted", "auth-failures", "packets-in",
              "malformed"):
        check(ms.get(k) == st.get(k), f"stats: mediad {k} {ms.get(k)} == daemon's {st.get(k)}")
    check("cookie" not in ms and "result" not in ms, "stats: no envelope fields")
    check(doc.get("proxy", {}).get("up") is False, "stats: proxy down inside the document")
    rc, out, err = run(*M, "stats", "mediad")
    check(rc == 0 and re.search(r"^mediad\.sessions-active\s+2$", out, re.M) is not None,
          f"stats (text): mediad.sessions-active 2\n{out}")

    # ---- calls ----
    rc, doc, err = run_json(*M, "calls")
    check(rc == 0, f"calls --json: exit 0 (got {rc}, {err})")
    calls = {c["session"]: c for c in doc.get("calls", [])}
    check(doc.get("count") == 2 and set(calls) == {id1, id2}, f"calls: both sessions ({list(calls)})")
    for sid, q in ((id1, q1), (id2, q2)):
        c = calls.get(sid, {})
        check(c.get("label") == q["label"], f"calls {sid}: label")
        check(isinstance(c.get("age-ms"), int) and c["age-ms"] >= q["age-ms"], f"calls {sid}: age-ms")
        for f in ("from", "to", "signaling", "tls-version", "tls-cipher"):
            check(f in c and c[f] is None, f"calls {sid}: proxy column {f} is null for now")
        for leg in ("a", "b"):
            cl_leg, q_leg = c.get(leg, {}), q[leg]
            check(cl_leg.get("port") == q_leg["port"], f"calls {sid}/{leg}: port")
            check(cl_leg.get("remote") == q_leg.get("remote"), f"calls {sid}/{leg}: remote")
            for f in ("packets-in", "packets-out", "bytes-in", "bytes-out", "auth-failures",
                      "replay-drops", "malformed"):
                check(cl_leg.get(f) == q_leg["stats"][f],
                      f"calls {sid}/{leg}: {f} {cl_leg.get(f)} == {q_leg['stats'][f]}")
    check(calls.get(id1, {}).get("b", {}).get("packets-in") == npk, "calls: RTP packets shown")
    check(calls.get(id2, {}).get("a", {}).get("auth-failures") == npk, "calls: auth failures shown")
    check(calls.get(id1, {}).get("a", {}).get("malformed") == nmal, "calls: malformed shown")
    check(calls.get(id1, {}).get("a", {}).get("srtp-in") == "plain", "calls: plain leg says plain")
    check(calls.get(id2, {}).get("a", {}).get("srtp-in") in ("srtp", "AES_CM_128_HMAC_SHA1_80"),
          "calls: SRTP leg says so")
    rc, out, err = run(*M, "calls")
    check(rc == 0 and re.search(rf"^\s*{id1}\s+\S+\s+call-one@host\s", out, re.M) is not None,
          f"calls (text): a line for session {id1}\n{out}")
    check(out.rstrip().endswith("2 calls"), "calls (text): count line")
    lines = out.splitlines()
    cols = lines[0].split() if lines else []
    row1 = next((ln.split() for ln in lines[1:] if ln.split()[:1] == [str(id1)]), [])
    check("A-MALF" in cols and "B-MALF" in cols and len(row1) == len(cols) and
          row1[cols.index("A-MALF")] == str(nmal) and row1[cols.index("B-MALF")] == "0",
          f"calls (text): A-MALF {nmal} and B-MALF 0 for session {id1}\n{out}")
    check(all(line == line.rstrip() for line in out.splitlines()), "calls (text): no trailing blanks")

    # ---- call show ----
    rc, doc, err = run_json(*M, "call", "show", str(id2))
    check(rc == 0 and doc.get("call") == id2, f"call show --json: exit 0 and the id ({rc})")
    mq = doc.get("mediad", {})
    check(mq.get("session") == id2 and mq.get("label") == "call-two@host", "call show: session, label")
    check(mq.get("a", {}).get("srtp-in") == q2["a"]["srtp-in"] and
          mq.get("a", {}).get("stats", {}).get("auth-failures") == npk, "call show: leg a details")
    check(mq.get("b", {}).get("port") == s2["b"]["port"], "call show: leg b port")
    check("proxy" in doc, "call show: proxy part present (null for now)")
    rc, out, err = run(*M, "call", "show", str(id1))
    check(rc == 0 and re.search(r"^mediad\.b\.stats\.packets-in\s+%d$" % npk, out, re.M) is not None,
          f"call show (text): nested counters\n{out}")
    rc, out, err = run(*M, "call", "show", "987654")
    check(rc == 1 and "no session 987654" in err, f"call show unknown id: exit 1 + daemon's reason ({rc}, {err})")
    rc, doc, err = run_json(*M, "call", "show", "987654")
    check(rc == 1 and doc.get("exit-code") == 1 and "no session" in doc.get("error", ""),
          "call show unknown id --json: an error document")
    rc, out, err = run(*M, "call", "show", "abc")
    check(rc == 2, f"call show abc: usage error (got {rc})")
    rc, out, err = run(*M, "call", "show")
    check(rc == 2 and "usage" in err, f"call show without id: usage error (got {rc})")
    rc, out, err = run(*M, "call", "show", "1", "2")
    check(rc == 2, "call show with two ids: usage error")

    # ---- call drop ----
    rc, doc, err = run_json(*M, "call", "drop", str(id1))
    check(rc == 0 and doc.get("dropped") is True and doc.get("mediad", {}).get("session") == id1,
          f"call drop --json: exit 0, final state ({rc}, {err})")
    check(doc.get("mediad", {}).get("b", {}).get("stats", {}).get("packets-in") == npk,
          "call drop: final counters")
    check(id1 not in cl.ok("session.list")["sessions"], "call drop: the session is gone")
    rc, out, err = run(*M, "call", "drop", str(id1))
    check(rc == 1 and f"no session {id1}" in err, f"call drop again: exit 1 ({rc}, {err})")
    rc, doc, err = run_json(*M, "calls")
    check(rc == 0 and doc.get("count") == 1, "calls after drop: one left")

    # ---- ping, commands ----
    rc, out, err = run(*M, "ping", "mediad")
    check(rc == 0 and out.startswith("rampart-mediad: ok"), f"ping mediad: exit 0 ({rc}, {out})")
    rc, out, err = run(*M, "ping", "proxy")
    check(rc == 3, f"ping proxy (down): exit 3 (got {rc})")
    rc, doc, err = run_json(*M, "ping")
    check(rc == 0 and doc.get("mediad", {}).get("up") is True and isinstance(
        doc["mediad"].get("rtt-us"), int) and doc.get("proxy", {}).get("up") is False,
        f"ping --json: both reported ({doc})")
    rc, doc, err = run_json(*M, "commands", "mediad")
    names = [c.get("name") for c in doc.get("mediad", {}).get("commands", [])]
    daemon_names = [c["name"] for c in cl.ok("commands")["commands"]]
    check(rc == 0 and names == daemon_names, f"commands mediad: the daemon's list ({names})")
    rc, out, err = run(*M, "commands")
    check(rc == 0 and re.search(r"^mediad\s+session\.create\s+admin", out, re.M) is not None,
          "commands (text): a row per command")

    # ---- the daemon down, wrong sockets ----
    D = ["--mediad-socket", nosock, "--proxy-socket", nosock]
    for args in (["calls"], ["call", "show", "1"], ["call", "drop", "1"], ["stats", "mediad"]):
        rc, out, err = run(*D, *args)
        check(rc == 3 and nosock in err and "rampart-mediad" in err and
              (args[0] == "stats" or "rampart-proxy" in err),
              f"{' '.join(args)} with mediad down: exit 3, names the socket ({rc}, {err})")
    rc, doc, err = run_json(*D, "calls")
    check(rc == 3 and doc.get("exit-code") == 3, "calls --json with mediad down: error document")
    rc, doc, err = run_json(*D, "stats")
    check(rc == 3 and doc.get("mediad", {}).get("up") is False, "stats --json, all down: exit 3, document")
    rc, out, err = run("--socket", msock, "calls")
    check(rc == 0, "--socket overrides mediad's socket for calls")
    rc, out, err = run("--socket", msock, "registrations")
    check(rc == 2 and "rampart-mediad" in err, f"--socket of mediad for a proxy command: exit 2 ({rc}, {err})")
    rc, out, err = run("--socket", msock, "--mediad-socket", msock, "calls")
    check(rc == 2, "--socket with --mediad-socket: usage error")

    # ---- proxy-only commands ----
    placeholders = [["registrations"], ["trunks"], ["tls", "connections"], ["tls", "cert", "show"],
                    ["tls", "cert", "stage", "c.pem", "k.pem"], ["tls", "cert", "commit"],
                    ["tls", "cert", "abort"],
                    ["config", "check"], ["config", "reload"]]
    for p in placeholders:
        rc, out, err = run(*M, *p)
        check(rc == 3 and "rampart-proxy is not reachable" in err and out == "",
              f"{' '.join(p)}, proxy down: exit 3, says so ({rc}, {err})")
    psock = os.path.join(tmp, "proxy.sock")
    fake = FakeProxy(psock)
    fake.start()
    P = ["--proxy-socket", psock, "--mediad-socket", msock]
    for p in placeholders:
        rc, out, err = run(*P, *p)
        check(rc == 1 and "unknown command" in err and out == "",
              f"{' '.join(p)}, proxy without it: exit 1 with the daemon's reason ({rc}, {err})")
    rc, doc, err = run_json(*P, "status")
    check(rc == 0 and doc.get("proxy", {}).get("up") is True and
          doc["proxy"].get("software") == "0.0.9" and doc["proxy"].get("stats-error"),
          f"status: an up proxy without 'stats' is up, with the reason ({doc.get('proxy')})")
    rc, out, err = run(*P, "--timeout", "300", "raw", "proxy", "stall")
    check(rc == 4 and "did not answer" in err, f"no answer in time: exit 4 ({rc}, {err})")
    rc, out, err = run(*P, "raw", "proxy", "garble")
    check(rc == 4, f"an answer that is not bencode: exit 4 ({rc}, {err})")
    rc, out, err = run(*P, "raw", "mediad", "session.query", "session=%d" % id2)
    check(rc == 0 and re.search(r"^label\s+call-two@host$", out, re.M) is not None,
          "raw: integer argument and key/value output")
    rc, out, err = run(*P, "raw", "mediad", "session.query", "notkv")
    check(rc == 2, "raw: an argument without '=' is a usage error")
    # Error reasons are valid UTF-8 of one line, whatever bytes they
    # quote: the real mediad's (it echoes an unknown command) and one a
    # daemon sent raw (rampartctl escapes it itself).
    def utf8(b):
        try:
            return b.decode("utf-8")
        except UnicodeDecodeError:
            return None

    p = subprocess.run([ctl, *P, "raw", "mediad", b"no\xff\xfe\x1b\ncmd"], capture_output=True,
                       timeout=30)
    e8 = utf8(p.stderr)
    check(p.returncode == 1 and e8 is not None and
          "unknown command 'no\\xff\\xfe\\x1b\\x0acmd'" in e8 and e8.count("\n") == 1,
          f"an unknown command of non-UTF-8 bytes: the mediad's reason escapes them ({p})")
    p = subprocess.run([ctl, *P, "--json", "raw", "mediad", b"no\xff"], capture_output=True,
                       timeout=30)
    check(p.returncode == 1 and "no\\xff" in (utf8(p.stderr) or ""),
          f"the same with --json ({p})")
    p = subprocess.run([ctl, *P, "raw", "proxy", "badutf8"], capture_output=True, timeout=30)
    e8 = utf8(p.stderr)
    check(p.returncode == 1 and e8 is not None and
          "caf\u00e9 \\xff\\xfe\\xc3 end\\x0a\\x1b[31m" in e8,
          f"a daemon's reason of raw bytes is printed as valid UTF-8 of one line ({p})")
    # 'calls' asks the proxy first: one without the command says so.
    rc, out, err = run("--socket", psock, "calls")
    check(rc == 1 and "unknown command" in err and "rampart-proxy" in err,
          f"--socket of a proxy without 'calls': exit 1 with its reason ({rc}, {err})")
    rc, doc, err = run_json("--socket", psock, "status")
    check(rc == 0 and list(doc) == ["proxy"], f"status --socket PROXY: recognised as the proxy ({list(doc)})")
    fake.stop = True
    fake.join(5)

    # ---- text output is terminal-safe ----
    s3 = cl.ok("session.create", label="evil\x1b[2J\x07@host")
    rc, out, err = run(*M, "calls")
    check("\x1b" not in out and "\x07" not in out and "evil\\x1b[2J\\x07@host" in out,
          "calls (text): control bytes in a label are escaped")
    rc, doc, err = run_json(*M, "call", "show", str(s3["session"]))
    check(doc.get("mediad", {}).get("label") == "evil\x1b[2J\x07@host", "JSON keeps the label exactly")

    # ---- usage ----
    rc, out, err = run("nosuchcommand")
    check(rc == 2 and "unknown command" in err, "unknown command: exit 2")
    rc, doc, err = run_json("nosuchcommand")
    check(rc == 2 and doc.get("exit-code") == 2, "unknown command --json: error document")
    rc, out, err = run("--bogus", "status")
    check(rc == 2, "unknown option: exit 2")
    rc, out, err = run("--timeout", "abc", "status")
    check(rc == 2, "--timeout abc: exit 2")
    rc, out, err = run()
    check(rc == 2 and "usage" in err, "no command: usage, exit 2")
    rc, out, err = run(*M, "status", "kamailio")
    check(rc == 2, "status with a bad daemon name: exit 2")
    rc, out, err = run("--version")
    check(rc == 0 and out.startswith("rampartctl "), "--version")

    # ---- help and docs come from the table ----
    rc, table_md, err = run("--print-doc-table")
    check(rc == 0 and table_md.count("\n") > 10, "--print-doc-table")
    rows = [l for l in table_md.splitlines() if l.startswith("| `")]
    names = [re.match(r"\| `([a-z ]+?)(?: [\[A-Z].*)?`", l).group(1) for l in rows]
    rc, help_out, err = run("help")
    rc2, help2, _ = run("--help")
    check(rc == 0 and rc2 == 0 and help_out == help2, "help == --help")
    for n in names:
        check(re.search(rf"^  {re.escape(n)}\b", help_out, re.M) is not None, f"help lists '{n}'")
        rc, out, err = run("help", *n.split())
        check(rc == 0 and out.startswith(f"usage: rampartctl {n}"), f"help {n}")
    for p in placeholders + [["status"], ["calls"], ["call", "show"], ["call", "drop"],
                             ["stats"], ["ping"], ["commands"]]:
        p = [w for w in p if not w.endswith(".pem")]
        check(" ".join(p) in names, f"'{' '.join(p)}' is in the table")
    rc, out, err = run(*P, "tls", "cert", "stage", "only-one.pem")
    check(rc == 2 and "usage" in err, f"tls cert stage without a key: usage, exit 2 ({rc}, {err})")
    rc, out, err = run("help", "nosuch")
    check(rc == 2, "help of an unknown command: exit 2")
    doc_text = open(doc_md).read()
    m = re.search(r"<!-- BEGIN rampartctl --print-doc-table -->\n(.*?)<!-- END rampartctl --print-doc-table -->",
                  doc_text, re.S)
    check(m is not None and m.group(1) == table_md,
          "docs/rampartctl.md command table == `rampartctl --print-doc-table` (regenerate the doc)")

    if proc.poll() is not None:
        check(False, "mediad is still running at the end")
finally:
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    if fails:
        print("--- mediad log")
        try:
            print(open(os.path.join(tmp, "mediad.log")).read())
        except OSError:
            pass
    shutil.rmtree(tmp, ignore_errors=True)

print(f"{checks - fails}/{checks} checks passed")
sys.exit(1 if fails else 0)
