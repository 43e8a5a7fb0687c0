#!/usr/bin/env python3
"""Operating rampart-mediad: control-socket status details, Prometheus
metrics and sd_notify, against a real daemon.

Starts rampart-mediad (mmsg engine, kernel fast path off, a free 48-port
range on 127.0.0.1, metrics-listen = 127.0.0.1:0, NOTIFY_SOCKET pointing at
a datagram socket of this test), then checks:
  - READY=1 arrives once the control socket answers, STOPPING=1 at SIGTERM;
  - 'stats' has uptime-s, kernel-fastpath, engine, workers; rampartctl
    status --json takes the uptime from the daemon and shows the kernel state;
  - session.query names the SRTP suite per leg and direction (srtp-in/-out
    stay 0/1); rampartctl calls shows the names;
  - RTP with skipped and reordered sequence numbers: session.query,
    session.delete, stats and rampartctl calls (JSON and table) show the
    right packets-lost; SRTP packets failing authentication count no loss;
  - GET /metrics (curl) has every mediad family, and the values move with
    traffic: sessions, packets, bytes, auth failures, ports in use;
  - bad metrics-listen values and a taken metrics port refuse to start.

Usage: test_mediad_ops.py RAMPARTCTL MEDIAD
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
import time

ctl, mediad = sys.argv[1], sys.argv[2]
fails = 0
checks = 0


def check(cond, what):
    global fails, checks
    checks += 1
    if not cond:
        fails += 1
        print(f"FAIL: {what}", flush=True)


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ctlproto import Client  # noqa: E402
from testports import free_udp_range  # noqa: E402



tmp = tempfile.mkdtemp(prefix="mediad-ops-test.")
msock = os.path.join(tmp, "mediad.sock")
logpath = os.path.join(tmp, "mediad.log")
proc = None


def conf(lo, extra=""):
    return (f"listen = 127.0.0.1\nports = {lo}-{lo + 47}\nworkers = 2\nengine = mmsg\n"
            f"kernel = off\ncontrol = {msock}\nlog-level = notice\n{extra}")


def run_once(text, env=None, wait=10.0):
    """Starts mediad with config text; returns (proc, log text) once the
    control socket exists or the process exited (bounded)."""
    path = os.path.join(tmp, "mediad.conf")
    with open(path, "w") as f:
        f.write(text)
    log = open(logpath, "w")
    p = subprocess.Popen([mediad, "--config", path], stderr=log, env=env)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if os.path.exists(msock) or p.poll() is not None:
            break
        time.sleep(0.05)
    log.close()
    return p, open(logpath).read()


def stop(p):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def scrape(port):
    r = subprocess.run(["curl", "-sS", "-m", "5", "-D", "-", f"http://127.0.0.1:{port}/metrics"],
                       capture_output=True, timeout=15)
    text = r.stdout.decode("utf-8", "replace")
    head, _, body = text.partition("\r\n\r\n")
    vals = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            name, _, v = line.rpartition(" ")
            vals[name] = int(v)
    return r.returncode, head, body, vals


def ctl_json(*args):
    p = subprocess.run([ctl, "--json", "--mediad-socket", msock, "--proxy-socket",
                        os.path.join(tmp, "none.sock"), *args], capture_output=True, timeout=30)
    try:
        return p.returncode, json.loads(p.stdout.decode())
    except ValueError:
        check(False, f"rampartctl {args}: JSON output: {p.stdout!r} {p.stderr!r}")
        return p.returncode, {}


FAMILIES = ["rampart_media_sessions_active", "rampart_media_sessions_total",
            "rampart_media_sessions_timed_out_total", "rampart_media_packets_received_total",
            "rampart_media_packets_sent_total", "rampart_media_received_bytes_total",
            "rampart_media_sent_bytes_total", "rampart_media_srtp_auth_failures_total",
            "rampart_media_srtp_replay_drops_total", "rampart_media_source_mismatch_total",
            "rampart_media_dropped_total", "rampart_media_malformed_total",
            "rampart_media_send_errors_total", "rampart_media_rx_overflows_total",
            "rampart_media_ports", "rampart_media_ports_in_use",
            "rampart_media_port_exhausted_total", "rampart_media_kernel_streams_active",
            "rampart_media_kernel_packets_total"]

try:
    # ---- configuration errors refuse to start ----
    lo = free_udp_range(48)
    for bad in ("127.0.0.1", "127.0.0.1:99999", "nohost:9465", "::1:9465", ":9465"):
        p, log = run_once(conf(lo, f"metrics-listen = {bad}\n"))
        stop(p)
        check(p.returncode == 1 and "metrics-listen" in log,
              f"metrics-listen = {bad}: refused ({p.returncode}) {log!r}")
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    p, log = run_once(conf(lo, f"metrics-listen = 127.0.0.1:{taken.getsockname()[1]}\n"))
    stop(p)
    check(p.returncode == 1 and "metrics-listen" in log and not os.path.exists(msock),
          f"a taken metrics port refuses to start ({p.returncode}): {log!r}")
    taken.close()

    # ---- the daemon under test, with a notify socket ----
    nsock_path = os.path.join(tmp, "notify.sock")
    nsock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    nsock.bind(nsock_path)
    nsock.settimeout(5)
    env = dict(os.environ, NOTIFY_SOCKET=nsock_path)
    for attempt in range(3):
        lo = free_udp_range(48)
        proc, log = run_once(conf(lo, "metrics-listen = 127.0.0.1:0\n"), env=env)
        if os.path.exists(msock):
            break
        stop(proc)
        proc = None
    if proc is None:
        print("mediad did not start:\n" + log)
        sys.exit(1)
    t0 = time.monotonic()
    try:
        ready = nsock.recv(4096).decode()
    except socket.timeout:
        ready = ""
    check("READY=1" in ready.split("\n") and f"MAINPID={proc.pid}" in ready,
          f"sd_notify READY=1 with MAINPID: {ready!r}")
    mport = None
    for _ in range(50):
        m = re.search(r"metrics on http://127\.0\.0\.1:(\d+)/metrics", open(logpath).read())
        if m:
            mport = int(m.group(1))
            break
        time.sleep(0.1)
    check(mport is not None and mport > 0, "the metrics port is logged")

    cl = Client(msock)
    st = cl.ok("stats")
    check(isinstance(st.get("uptime-s"), int) and 0 <= st["uptime-s"] <= time.monotonic() - t0 + 15,
          f"stats: uptime-s {st.get('uptime-s')}")
    check(st.get("kernel-fastpath") == "off", f"stats: kernel-fastpath off: {st.get('kernel-fastpath')}")
    check(st.get("kernel", {}).get("mode") == "off", "stats: kernel.mode still there")
    check(st.get("engine") == "mmsg" and st.get("workers") == 2, "stats: engine and workers")

    rc, doc = ctl_json("status", "mediad")
    md = doc.get("mediad", {})
    check(rc == 0 and md.get("up") is True, f"rampartctl status: mediad up ({rc})")
    check(md.get("uptime-source") == "daemon" and isinstance(md.get("uptime-s"), int),
          f"rampartctl status: uptime from the daemon: {md.get('uptime-source')}")
    check(md.get("kernel-fastpath") == "off", f"rampartctl status: kernel-fastpath {md.get('kernel-fastpath')}")
    p = subprocess.run([ctl, "--mediad-socket", msock, "status", "mediad"], capture_output=True, timeout=30)
    out = p.stdout.decode()
    check(p.returncode == 0 and "not reported" not in out and re.search(r"mmsg\s+off\s", out),
          f"rampartctl status (text): kernel column says off:\n{out}")

    # ---- metrics before traffic ----
    rc, head, body, before = scrape(mport)
    check(rc == 0 and head.startswith("HTTP/1.1 200"), f"GET /metrics 200 ({rc}): {head!r}")
    check("text/plain; version=0.0.4" in head, "Prometheus content type")
    for f in FAMILIES:
        check(f in before and f"# TYPE {f} " in body, f"metric {f} present")
    # 48 ports = 24 RTP (even) ports, each with its RTCP neighbour
    check(before.get("rampart_media_ports") == 24, f"ports gauge = 24 pairs: {before.get('rampart_media_ports')}")
    check(before.get("rampart_media_ports_in_use") == 0 and before.get("rampart_media_sessions_active") == 0,
          "no ports in use, no sessions before")

    # ---- traffic: one plain, one SRTP session ----
    s1 = cl.ok("session.create")
    s2 = cl.ok("session.create")
    id1, id2 = s1["session"], s2["session"]
    ua, ub = (socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2))
    for u in (ua, ub):
        u.bind(("127.0.0.1", 0))
        u.settimeout(2)
    cl.ok("leg.update", session=id1, leg="a", address="127.0.0.1", port=ua.getsockname()[1])
    cl.ok("leg.update", session=id1, leg="b", address="127.0.0.1", port=ub.getsockname()[1])
    k80 = {"suite": "AES_CM_128_HMAC_SHA1_80", "key": b"k" * 16, "salt": b"s" * 14}
    k32 = {"suite": "AES_CM_128_HMAC_SHA1_32", "key": b"q" * 16, "salt": b"t" * 14}
    cl.ok("leg.update", session=id2, leg="a", address="127.0.0.1", port=ua.getsockname()[1],
          **{"srtp-in": k80, "srtp-out": k32})
    npk = 7
    for seq in range(npk):
        rtp = struct.pack("!BBHII", 0x80, 0, seq, seq * 160, 0x1234) + b"\x00" * 160
        ub.sendto(rtp, ("127.0.0.1", s1["b"]["port"]))
        ua.sendto(rtp + b"\x00" * 10, ("127.0.0.1", s2["a"]["port"]))  # bad SRTP tag
    got = 0
    for _ in range(npk):
        try:
            ua.recv(2048)
            got += 1
        except socket.timeout:
            break
    check(got == npk, f"plain RTP forwarded ({got}/{npk})")
    for _ in range(50):  # the workers count asynchronously (bounded)
        q2 = cl.ok("session.query", session=id2)
        if q2["a"]["stats"]["auth-failures"] >= npk:
            break
        time.sleep(0.1)

    q1 = cl.ok("session.query", session=id1)
    check(q1["a"]["srtp-suite-in"] == "plain" and q1["a"]["srtp-suite-out"] == "plain" and
          q1["a"]["srtp-in"] == 0, "session.query: plain leg says plain (srtp-in 0 kept)")
    check(q2["a"]["srtp-suite-in"] == "AES_CM_128_HMAC_SHA1_80" and
          q2["a"]["srtp-suite-out"] == "AES_CM_128_HMAC_SHA1_32" and
          q2["a"]["srtp-in"] == 1 and q2["a"]["srtp-out"] == 1,
          f"session.query: suite names per direction: {q2['a']}")
    check(q2["b"]["srtp-suite-in"] == "plain", "session.query: other leg plain")
    rc, doc = ctl_json("calls")
    calls = {c.get("session", c.get("id")): c for c in doc.get("calls", [])} if isinstance(doc, dict) else {}
    c2 = calls.get(id2, {}).get("a", {})
    check(c2.get("srtp-in") == "AES_CM_128_HMAC_SHA1_80" and c2.get("srtp-out") == "AES_CM_128_HMAC_SHA1_32",
          f"rampartctl calls: suite names: {c2}")
    check(calls.get(id1, {}).get("a", {}).get("srtp-in") == "plain", "rampartctl calls: plain")
    # none switches a direction back to plain
    cl.ok("leg.update", session=id2, leg="a", **{"srtp-out": "none"})
    q2b = cl.ok("session.query", session=id2)
    check(q2b["a"]["srtp-suite-out"] == "plain" and q2b["a"]["srtp-suite-in"] == "AES_CM_128_HMAC_SHA1_80",
          f"srtp-out none: plain out, in unchanged: {q2b['a']}")

    rc, head, body, after = scrape(mport)
    check(rc == 0, "second scrape")
    check(after.get("rampart_media_sessions_active") == 2 and after.get("rampart_media_sessions_total") == 2,
          f"sessions active/total 2/2: {after.get('rampart_media_sessions_active')}/{after.get('rampart_media_sessions_total')}")
    check(after.get("rampart_media_packets_received_total", 0) - before["rampart_media_packets_received_total"] == npk,
          f"packets received +{npk}: {after.get('rampart_media_packets_received_total')}")
    check(after.get("rampart_media_packets_sent_total", 0) - before["rampart_media_packets_sent_total"] == npk,
          "packets sent moved")
    check(after.get("rampart_media_received_bytes_total", 0) == npk * 172 and
          after.get("rampart_media_sent_bytes_total", 0) == npk * 172,
          f"bytes in/out {npk}*172: {after.get('rampart_media_received_bytes_total')}")
    check(after.get("rampart_media_srtp_auth_failures_total") == npk,
          f"auth failures {npk}: {after.get('rampart_media_srtp_auth_failures_total')}")
    check(after.get("rampart_media_ports_in_use") == 4,
          f"ports in use moved: {after.get('rampart_media_ports_in_use')}")
    st2 = cl.ok("stats")
    check(after.get("rampart_media_ports_in_use") == st2.get("ports-in-use"),
          "ports in use = stats' ports-in-use")
    check(after.get("rampart_media_packets_received_total") == st2.get("packets-in"),
          "packets received = stats' packets-in")

    # ---- packet loss: leg b of session 1 saw seq 0..6; now 10, 11, 15, 13:
    # 7, 8, 9, 12, 14 never arrive (5 lost; 13 came late, so it is no loss) ----
    for seq in (10, 11, 15, 13):
        rtp = struct.pack("!BBHII", 0x80, 0, seq, seq * 160, 0x1234) + b"\x00" * 160
        ub.sendto(rtp, ("127.0.0.1", s1["b"]["port"]))
    for _ in range(50):  # bounded: the worker counts asynchronously
        q1 = cl.ok("session.query", session=id1)
        if q1["b"]["stats"]["packets-in"] >= npk + 4:
            break
        time.sleep(0.1)
    check(q1["b"]["stats"]["packets-in"] == npk + 4, f"loss: all 4 packets arrived: {q1['b']['stats']}")
    check(q1["b"]["stats"].get("packets-lost") == 5,
          f"session.query: packets-lost 5 on leg b: {q1['b']['stats'].get('packets-lost')}")
    check(q1["a"]["stats"].get("packets-lost") == 0, "session.query: nothing lost on leg a")
    q2 = cl.ok("session.query", session=id2)
    check(q2["a"]["stats"].get("packets-lost") == 0 and q2["a"]["stats"]["auth-failures"] == npk,
          f"packets failing SRTP authentication do not count for loss: {q2['a']['stats']}")
    st3 = cl.ok("stats")
    check(st3.get("packets-lost") == 5, f"stats: packets-lost is the sum of the legs: {st3.get('packets-lost')}")
    rc, doc = ctl_json("calls")
    calls = {c.get("session", c.get("id")): c for c in doc.get("calls", [])} if isinstance(doc, dict) else {}
    check(calls.get(id1, {}).get("b", {}).get("packets-lost") == 5 and
          calls.get(id1, {}).get("a", {}).get("packets-lost") == 0,
          f"rampartctl calls --json: packets-lost per leg: {calls.get(id1)}")
    p = subprocess.run([ctl, "--mediad-socket", msock, "calls"], capture_output=True, timeout=30)
    lines = p.stdout.decode().splitlines()
    hdr = lines[0].split() if lines else []
    row = next((ln.split() for ln in lines[1:] if ln.split() and ln.split()[0] == str(id1)), [])
    check(p.returncode == 0 and "B-LOST" in hdr and len(row) == len(hdr) and
          row[hdr.index("B-LOST")] == "5" and row[hdr.index("A-LOST")] == "0",
          f"rampartctl calls (text): LOST columns:\n{p.stdout.decode()}")
    fin = cl.ok("session.delete", session=id1)
    check(fin.get("b", {}).get("stats", {}).get("packets-lost") == 5,
          f"session.delete: final packets-lost: {fin.get('b', {}).get('stats')}")

    # deleting frees the ports and the gauge goes back
    cl.ok("session.delete", session=id2)
    rc, head, body, end = scrape(mport)
    check(end.get("rampart_media_sessions_active") == 0 and end.get("rampart_media_ports_in_use") == 0 and
          end.get("rampart_media_sessions_total") == 2, "after delete: 0 active, 0 ports, total stays")

    # ---- shutdown ----
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    check(proc.returncode == 0, f"clean exit on SIGTERM ({proc.returncode})")
    msgs = []
    nsock.settimeout(1)
    for _ in range(5):
        try:
            msgs.append(nsock.recv(4096).decode())
        except socket.timeout:
            break
    check(any("STOPPING=1" in m for m in msgs), f"sd_notify STOPPING=1: {msgs}")
finally:
    if proc is not None:
        stop(proc)
    if fails:
        print("--- mediad log")
        try:
            print(open(logpath).read())
        except OSError:
            pass
    shutil.rmtree(tmp, ignore_errors=True)

print(f"{checks - fails}/{checks} checks passed")
sys.exit(1 if fails else 0)
