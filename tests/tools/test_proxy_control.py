#!/usr/bin/env python3
"""The control plane of both daemons, against the real binaries.

rampart-proxy:
  - metrics_listen in the file (a bare port binds 127.0.0.1 only), scraped
    with curl; --metrics-listen overrides it;
  - SIGHUP reloads the routing program: a bad file changes nothing and the
    log names file:line:col; a good one routes the next request, while a
    transaction relayed before the reload still gets its answers back;
  - config.reload reports the TLS reload too;
  - two control sockets: the admin one (mode from control_socket_mode) takes
    everything, the read-only one (control_socket_readonly, its own mode)
    answers reads and refuses changing commands with an error-reason;
    rampartctl sends reads to the read-only socket and changes to the admin
    socket by itself; hello reports uptime-s and read-only on each.
rampart-mediad: control-readonly the same way (session.create refused on
  it, accepted on the admin socket), hello's uptime-s.

Usage: test_proxy_control.py RAMPART_PROXY RAMPARTCTL RAMPART_MEDIAD
Every port is picked free; every wait is bounded."""
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from ctlproto import Client  # noqa: E402
from testports import free_udp_range  # noqa: E402

PROXY, CTL, MEDIAD = (os.path.abspath(x) for x in sys.argv[1:4])
failures = []


def check(name, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else ": " + str(detail)[-2000:]))
    sys.stdout.flush()
    if not cond:
        failures.append(name)


def free_port(kind=socket.SOCK_DGRAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


CFG = """
log_level = info;
control_socket = "%(sock)s";
control_socket_mode = 0600;
control_socket_readonly = "%(ro)s";
control_socket_readonly_mode = 0640;
metrics_listen = %(mport)d;
mediad_socket = "none";
listen udp 127.0.0.1:%(port)d;
trunk a { address = "127.0.0.1:%(a)d"; inbound { source = 192.0.2.1; } }
trunk b { address = "127.0.0.1:%(b)d"; inbound { source = 192.0.2.2; } }
route request {
    relay %(to)s;
}
"""


def ctl(*args):
    r = subprocess.run([CTL, "--json"] + list(args), capture_output=True, text=True,
                       timeout=15)
    try:
        doc = json.loads(r.stdout)
    except ValueError:
        doc = None
    return r.returncode, doc, r.stdout + r.stderr


def wait_for(pred, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def sip(method, branch, call_id, me, extra=""):
    return ("%s sip:x@example.com SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport\r\n"
            "Max-Forwards: 70\r\nFrom: <sip:a@example.com>;tag=f1\r\n"
            "To: <sip:x@example.com>\r\nCall-ID: %s\r\nCSeq: 1 %s\r\n%s"
            "Content-Length: 0\r\n\r\n" % (method, me, branch, call_id, method, extra)).encode()


def recv(s, seconds=3):
    s.settimeout(seconds)
    try:
        return s.recvfrom(65535)
    except socket.timeout:
        return None, None


def answer(req, code, reason):
    lines = req.split("\r\n")
    keep = [l for l in lines if l.split(":", 1)[0].lower() in
            ("via", "from", "call-id", "cseq")]
    to = next(l for l in lines if l.lower().startswith("to:")) + ";tag=cb"
    return ("SIP/2.0 %d %s\r\n%s\r\n%s\r\nContent-Length: 0\r\n\r\n" %
            (code, reason, "\r\n".join(keep), to)).encode()


def proxy_part(d):
    sock = os.path.join(d, "proxy.sock")
    ro = os.path.join(d, "proxy-ro.sock")
    conf = os.path.join(d, "proxy.conf")
    ta = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ta.bind(("127.0.0.1", 0))
    tb = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tb.bind(("127.0.0.1", 0))
    port, mport = free_port(), free_port(socket.SOCK_STREAM)
    vals = {"sock": sock, "ro": ro, "port": port, "mport": mport,
            "a": ta.getsockname()[1], "b": tb.getsockname()[1], "to": "a"}
    with open(conf, "w") as f:
        f.write(CFG % vals)
    logf = os.path.join(d, "proxy.log")
    log = open(logf, "w")
    p = subprocess.Popen([PROXY, "--config", conf, "--state-dir", d, "--workers", "1"],
                         stdout=log, stderr=subprocess.STDOUT)
    text = lambda: open(logf).read()
    started = wait_for(lambda: "running" in text() and os.path.exists(ro), 10)
    check("proxy started with both control sockets", started, text())
    if not started:
        p.kill()
        p.wait()
        return
    try:
        # metrics_listen = PORT: loopback only, scraped with curl.
        check("metrics_listen = PORT binds 127.0.0.1",
              "metrics on http://127.0.0.1:%d/metrics" % mport in text(), text())
        r = subprocess.run(["curl", "-sS", "--max-time", "5",
                            "http://127.0.0.1:%d/metrics" % mport],
                           capture_output=True, text=True, timeout=10)
        check("metrics from the config address: rampart_proxy_uptime_seconds",
              r.returncode == 0 and "rampart_proxy_uptime_seconds" in r.stdout, r.stderr)

        # Socket modes from the file.
        check("admin socket mode 0600", stat.S_IMODE(os.stat(sock).st_mode) == 0o600,
              oct(os.stat(sock).st_mode))
        check("read-only socket mode 0640", stat.S_IMODE(os.stat(ro).st_mode) == 0o640,
              oct(os.stat(ro).st_mode))

        # hello on each: uptime-s, read-only flag, access.
        h = Client(ro).call("hello")
        check("hello on the read-only socket: uptime-s, read-only 1, read access",
              h.get("result") == "ok" and isinstance(h.get("uptime-s"), int) and
              h.get("read-only") == 1 and h.get("access") == "read", h)
        h = Client(sock).call("hello")
        check("hello on the admin socket: uptime-s, read-only 0, admin access",
              h.get("result") == "ok" and isinstance(h.get("uptime-s"), int) and
              h.get("read-only") == 0 and h.get("access") == "admin", h)
        rr = Client(ro).call("config.reload")
        check("config.reload on the read-only socket: error with a reason",
              rr.get("result") == "error" and "read-only" in rr.get("error-reason", ""), rr)
        rr = Client(ro).call("status")
        check("status on the read-only socket works, with uptime-s",
              rr.get("result") == "ok" and isinstance(rr.get("uptime-s"), int), rr)

        # rampartctl picks the socket: reads -> read-only, changes -> admin.
        rc, doc, raw = ctl("--proxy-socket", sock, "status", "proxy")
        pr = (doc or {}).get("proxy", {})
        check("rampartctl status goes to the read-only socket",
              rc == 0 and pr.get("socket") == ro and isinstance(pr.get("uptime-s"), int), raw)
        rc, doc, raw = ctl("--proxy-socket", sock, "config", "reload")
        check("rampartctl config reload goes to the admin socket (and reloads TLS too)",
              rc == 0 and doc and doc.get("file") == conf and "tls" in doc, raw)
        rc, doc, raw = ctl("--socket", ro, "config", "reload")
        check("rampartctl --socket READONLY config reload: exit 1, says read-only",
              rc == 1 and "read-only" in raw, raw)

        # SIGHUP with a bad file: nothing changes, file:line:col logged.
        good = open(conf).read()
        with open(conf, "w") as f:
            f.write(good.replace("relay a;", "relay a\n    nosuchaction;"))
        n0 = text().count("reload")
        p.send_signal(signal.SIGHUP)
        check("SIGHUP, bad file: refused with file:line:col in the log",
              wait_for(lambda: re.search(re.escape(conf) + r":\d+:\d+: error", text()) and
                       "refused, nothing changed" in text(), 5), text()[-1500:])
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        c.bind(("127.0.0.1", 0))
        me = c.getsockname()[1]
        c.sendto(sip("INVITE", "z9hG4bKhup1", "hup-1", me), ("127.0.0.1", port))
        got, where = recv(ta)
        check("after the refused reload requests still go to trunk a",
              got is not None and b"hup-1" in got, got)
        # A good file routing to b, while hup-1 is still in progress on a.
        with open(conf, "w") as f:
            f.write(CFG % dict(vals, to="b"))
        p.send_signal(signal.SIGHUP)
        check("SIGHUP, good file: reloaded (logged)",
              wait_for(lambda: text().count("reloaded") >= 2 and text().count("reload") > n0, 5),
              text()[-1500:])
        c.sendto(sip("OPTIONS", "z9hG4bKhup2", "hup-2", me), ("127.0.0.1", port))
        got2, _ = recv(tb)
        check("SIGHUP: the next request follows the new program (trunk b)",
              got2 is not None and b"hup-2" in got2, got2)
        if got:
            ta.sendto(answer(got.decode(), 486, "Busy Here"), where)
            deadline = time.time() + 3
            resp = None
            while time.time() < deadline:
                data, _ = recv(c, 1)
                if data and data.startswith(b"SIP/2.0 486"):
                    resp = data
                    break
            check("SIGHUP: the call in progress on trunk a still gets its 486 back",
                  resp is not None and b"hup-1" in resp, resp)
        c.close()
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        ta.close()
        tb.close()
    check("proxy exited cleanly", p.returncode == 0, text()[-1500:])
    check("no AddressSanitizer report from the proxy", "AddressSanitizer" not in text(),
          text()[-3000:])
    check("both sockets removed at exit", not os.path.exists(sock) and not os.path.exists(ro))

    # --metrics-listen overrides the file.
    mp2 = free_port(socket.SOCK_STREAM)
    with open(conf, "w") as f:
        f.write(CFG % dict(vals, sock=os.path.join(d, "p2.sock"), ro="none"))
    log2 = os.path.join(d, "proxy2.log")
    with open(log2, "w") as lf:
        p2 = subprocess.Popen([PROXY, "--config", conf, "--state-dir", d, "--workers", "1",
                               "--metrics-listen", "127.0.0.1:%d" % mp2],
                              stdout=lf, stderr=subprocess.STDOUT)
    ok = wait_for(lambda: "running" in open(log2).read(), 10)
    t2 = open(log2).read()
    check("--metrics-listen overrides metrics_listen",
          ok and "metrics on http://127.0.0.1:%d/metrics" % mp2 in t2 and
          ":%d/" % mport not in t2, t2)
    check("control_socket_readonly = none: no read-only socket",
          "read-only control socket" not in t2, t2)
    p2.send_signal(signal.SIGTERM)
    p2.wait(10)

    # A bad metrics_listen is a load error with its place.
    bad = os.path.join(d, "bad.conf")
    with open(bad, "w") as f:
        f.write("listen udp 127.0.0.1:1;\nmetrics_listen = \"0.0.0.0\";\n"
                "control_socket_mode = 0999;\nroute request { drop; }\n")
    r = subprocess.run([PROXY, "--check", bad], capture_output=True, text=True, timeout=10)
    check("--check: metrics_listen without a port and a bad mode are errors at line:col",
          r.returncode == 1 and "bad.conf:2:18: error: bad metrics_listen" in r.stdout and
          "bad.conf:3:23: error: bad socket mode" in r.stdout, r.stdout + r.stderr)


def mediad_part(d):
    msock = os.path.join(d, "mediad.sock")
    mro = os.path.join(d, "mediad-ro.sock")
    lo = free_udp_range(48)
    path = os.path.join(d, "mediad.conf")
    with open(path, "w") as f:
        f.write("listen = 127.0.0.1\nports = %d-%d\nworkers = 1\nengine = mmsg\n"
                "kernel = off\ncontrol = %s\ncontrol-readonly = %s\n"
                "control-readonly-mode = 0640\nlog-level = notice\n" % (lo, lo + 47, msock, mro))
    logf = os.path.join(d, "mediad.log")
    with open(logf, "w") as lf:
        p = subprocess.Popen([MEDIAD, "--config", path], stderr=lf)
    try:
        up = wait_for(lambda: os.path.exists(msock) and os.path.exists(mro), 10)
        check("mediad started with both control sockets", up, open(logf).read())
        if not up:
            return
        check("mediad read-only socket mode 0640",
              stat.S_IMODE(os.stat(mro).st_mode) == 0o640, oct(os.stat(mro).st_mode))
        h = Client(mro).call("hello")
        check("mediad hello on the read-only socket: uptime-s, read-only 1",
              h.get("result") == "ok" and isinstance(h.get("uptime-s"), int) and
              h.get("read-only") == 1 and h.get("access") == "read", h)
        r = Client(mro).call("session.create", **{"call-id": "ro-1"})
        check("mediad session.create on the read-only socket: error, read-only",
              r.get("result") == "error" and "read-only" in r.get("error-reason", ""), r)
        r = Client(mro).call("stats")
        check("mediad stats on the read-only socket works (uptime-s)",
              r.get("result") == "ok" and isinstance(r.get("uptime-s"), int), r)
        r = Client(msock).call("session.create", **{"call-id": "ro-2"})
        check("mediad session.create on the admin socket: not refused for access",
              "read-only" not in str(r.get("error-reason", "")) and
              "permission" not in str(r.get("error-reason", "")), r)
        rc, doc, raw = ctl("--mediad-socket", msock, "--proxy-socket",
                           os.path.join(d, "none.sock"), "status", "mediad")
        md = (doc or {}).get("mediad", {})
        check("rampartctl status mediad goes to the read-only socket, uptime from the daemon",
              rc == 0 and md.get("socket") == mro and isinstance(md.get("uptime-s"), int), raw)
    finally:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    mlog = open(logf).read()
    check("mediad exited cleanly, no AddressSanitizer report",
          p.returncode == 0 and "AddressSanitizer" not in mlog, mlog[-3000:])


def main():
    for x in (PROXY, CTL, MEDIAD):
        if not os.access(x, os.X_OK):
            print("SKIP: %s is not built" % x)
            return 77
    if subprocess.run(["which", "curl"], capture_output=True).returncode != 0:
        print("SKIP: curl not installed (scripts/setup installs it)")
        return 77
    d = tempfile.mkdtemp(prefix="rp-ctl2-")
    proxy_part(d)
    mediad_part(d)
    print("%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
