#!/usr/bin/env python3
"""log_flood.py PROXY MEDIAD: a hostile peer's flood must not become a
flood of log lines (issue #3).

rampart-proxy (log_level info, log_rate_burst = 5 per 1000 ms) gets 20,000
malformed datagrams over UDP: its log may hold only a bounded number of
"malformed request" lines, then "N similar messages suppressed" summaries
that account for the rest, and the proxy must still answer OPTIONS.
rampart-mediad gets 20,000 garbage packets on an SRTP leg: they are counted
as authentication failures, and its log stays quiet (it logs nothing per
packet) while it keeps answering on its control socket.

Ports are picked at run time; every loop and every wait is bounded (in
count and in seconds); no timing is asserted."""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from ctlproto import Client  # noqa: E402

PROXY, MEDIAD = sys.argv[1], sys.argv[2]
FLOOD = 20000
BURST, INTERVAL_MS = 5, 1000
failures = []


def check(name, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else ": " + str(detail)[:800]),
          flush=True)
    if not cond:
        failures.append(name)


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def options(port, n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.bind(("127.0.0.1", 0))
    lport = s.getsockname()[1]
    msg = ("OPTIONS sip:127.0.0.1:%d SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKflood%d\r\n"
           "Max-Forwards: 70\r\nFrom: <sip:t@127.0.0.1>;tag=f%d\r\nTo: <sip:127.0.0.1>\r\n"
           "Call-ID: flood-%d@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
           % (port, lport, n, n, n)).encode()
    try:
        for _ in range(5):          # bounded: 5 tries of 2 s
            s.sendto(msg, ("127.0.0.1", port))
            try:
                data = s.recv(65536)
            except socket.timeout:
                continue
            if data.startswith(b"SIP/2.0 "):
                return data.split(b"\r\n", 1)[0].decode(errors="replace")
        return None
    finally:
        s.close()


def proxy_case(tmp):
    conf = os.path.join(tmp, "flood.conf")
    with open(conf, "w") as f:
        f.write("log_level = info;\nlog_rate_burst = %d;\nlog_rate_interval_ms = %d;\n"
                "route request { reply 404 \"Not Here\"; }\n" % (BURST, INTERVAL_MS))
    logpath = os.path.join(tmp, "proxy.log")
    log = open(logpath, "w")
    p = subprocess.Popen([PROXY, "--config", conf, "--state-dir", tmp, "--workers", "2",
                          "--control", "none", "--log-level", "info",
                          "--listen", "udp:127.0.0.1:0"], stdout=log, stderr=subprocess.STDOUT)
    try:
        port = None
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and p.poll() is None and port is None:
            m = re.search(r"listening on udp:127\.0\.0\.1:(\d+)", read(logpath))
            if m and "running" in read(logpath):
                port = int(m.group(1))
            time.sleep(0.05)
        check("proxy started", port is not None, read(logpath))
        if port is None:
            return
        check("proxy answers OPTIONS before the flood", options(port, 0) is not None)

        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)   # its 400s are not read
        s.setblocking(False)
        t0 = time.monotonic()
        sent = 0
        for i in range(FLOOD):
            if time.monotonic() - t0 > 30:
                break
            try:
                s.sendto(b"NOT SIP AT ALL %d\r\n\r\n" % i, ("127.0.0.1", port))
                sent += 1
            except BlockingIOError:
                time.sleep(0.001)
        flood_s = time.monotonic() - t0
        s.close()
        print("flood: %d datagrams in %.2f s" % (sent, flood_s), flush=True)
        status = options(port, 1)
        check("proxy answers OPTIONS after the flood", status is not None, status)

        # The summary of the last interval is written within about a second
        # of its end (the main loop's 1 s tick); wait for it, bounded.
        deadline = time.monotonic() + 10
        text = read(logpath)
        while time.monotonic() < deadline:
            text = read(logpath)
            lines = [ln for ln in text.splitlines() if "malformed request" in ln]
            sup = sum(int(m) for m in re.findall(
                r"(\d+) similar messages? suppressed \(core\.c:\d+ \"malformed request", text))
            if sup and time.monotonic() - t0 > flood_s + 2 * INTERVAL_MS / 1000:
                break
            time.sleep(0.2)
        lines = [ln for ln in text.splitlines() if "info: malformed request from" in ln]
        summaries = re.findall(r"info: (\d+) similar messages? suppressed \(core\.c:\d+ "
                               r"\"malformed request from %s/%s: %s at byte %zu\"\)", text)
        sup = sum(int(x) for x in summaries)
        # At most BURST lines per interval that began during the flood (+ the
        # interval running at its start and the one of the later OPTIONS).
        intervals = int(flood_s * 1000 / INTERVAL_MS) + 3
        bound = BURST * intervals
        print("proxy log: %d malformed-request lines, %d summaries for %d suppressed; bound %d"
              % (len(lines), len(summaries), sup, bound), flush=True)
        check("malformed-request lines bounded (<= %d)" % bound, 0 < len(lines) <= bound,
              len(lines))
        check("summaries bounded", 1 <= len(summaries) <= intervals, len(summaries))
        # Every line the proxy was asked to write is either written or counted;
        # loopback may drop datagrams under load, so only an upper bound and
        # a floor far below the flood.
        check("written + suppressed accounts for the flood",
              1000 <= len(lines) + sup <= sent, (len(lines), sup, sent))
        check("proxy log is short", len(text.splitlines()) < 200, len(text.splitlines()))
        check("proxy still running", p.poll() is None)
    finally:
        stop(p)
        log.close()


def mediad_case(tmp):
    sock = os.path.join(tmp, "mediad.sock")
    logpath = os.path.join(tmp, "mediad.log")
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    lo = 20000 + probe.getsockname()[1] % 20000
    probe.close()
    conf = os.path.join(tmp, "mediad.conf")
    with open(conf, "w") as f:
        f.write("listen = 127.0.0.1\nports = %d-%d\nworkers = 1\nengine = auto\nkernel = off\n"
                "control = %s\nlog-level = info\nlog-rate-burst = %d\n"
                "log-rate-interval-ms = %d\n" % (lo, lo + 63, sock, BURST, INTERVAL_MS))
    log = open(logpath, "w")
    p = subprocess.Popen([MEDIAD, "--config", conf], stderr=log, stdout=log)
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and p.poll() is None and not os.path.exists(sock):
            time.sleep(0.05)
        check("mediad started", os.path.exists(sock), read(logpath))
        if not os.path.exists(sock):
            return
        cl = Client(sock)
        key = {"suite": "AES_CM_128_HMAC_SHA1_80", "key": b"k" * 16, "salt": b"s" * 14}
        r = cl.ok("session.create", label="flood")
        sid, aport = r["session"], r["a"]["port"]
        cl.ok("leg.update", session=sid, leg="a", address="127.0.0.1", port=9,
              latch="off", **{"srtp-in": key})
        cl.ok("leg.update", session=sid, leg="b", address="127.0.0.1", port=9)
        before = len(read(logpath).splitlines())
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        t0 = time.monotonic()
        sent = 0
        for i in range(FLOOD):
            if time.monotonic() - t0 > 30:
                break
            # An RTP header (v=2, PT 0) and garbage where the tag should be.
            pkt = bytes([0x80, 0x00, (i >> 8) & 0xFF, i & 0xFF]) + b"\0\0\0\1" + \
                b"\x12\x34\x56\x78" + os.urandom(40)
            s.sendto(pkt, ("127.0.0.1", aport))
            sent += 1
            if i % 500 == 499:
                time.sleep(0.005)   # let one worker keep up a little
        s.close()
        deadline = time.monotonic() + 10
        fails = 0
        while time.monotonic() < deadline:
            q = cl.ok("session.query", session=sid)
            fails = q["a"]["stats"].get("auth-failures", 0)
            if fails >= sent * 0.9:
                break
            time.sleep(0.2)
        print("mediad: %d garbage packets sent, %d auth failures counted" % (sent, fails),
              flush=True)
        check("mediad counts the garbage as auth failures", 1000 <= fails <= sent, fails)
        q = cl.ok("session.query", session=sid)
        check("mediad forwarded none of it", q["b"]["stats"].get("packets-out", 0) == 0, q["b"])
        time.sleep(2 * INTERVAL_MS / 1000)   # any summary would be out by now
        after = read(logpath).splitlines()[before:]
        check("mediad log stays quiet under the flood (<= %d lines)" % (2 * BURST),
              len(after) <= 2 * BURST, "\n".join(after[:20]))
        cl.ok("session.delete", session=sid)
        check("mediad still running", p.poll() is None)
    finally:
        stop(p)
        log.close()


with tempfile.TemporaryDirectory(prefix="rp-logflood-") as tmp:
    proxy_case(tmp)
    mediad_case(tmp)
print("%d failure(s)" % len(failures))
sys.exit(1 if failures else 0)
