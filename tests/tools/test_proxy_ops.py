#!/usr/bin/env python3
"""Operating rampart-proxy: its control commands through rampartctl --json.

Starts a real rampart-proxy (UDP on a free loopback port, control socket in a
temp dir, no mediad), registers a contact over UDP, then checks what
rampartctl shows for status, stats, trunks, registrations, config check
(good and bad file) and config reload (a bad file changes nothing, a good
one is in force for the next command and the next request).

Usage: test_proxy_ops.py RAMPART_PROXY RAMPARTCTL
Every port is picked free; every wait is bounded."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

PROXY, CTL = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
failures = []


def check(name, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else ": " + str(detail)[-2000:]))
    sys.stdout.flush()
    if not cond:
        failures.append(name)


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


CFG = """
log_level = info;
control_socket = "%(sock)s";
mediad_socket = "none";
listen udp 127.0.0.1:%(port)d;
trunk core {
    address = "127.0.0.2:%(core)d", "[::1]:5071";
    media_encryption = disable;
}
%(extra)s
route request {
    if (method == "REGISTER") { save; }
    relay core;
}
"""


def ctl(sock, *args):
    r = subprocess.run([CTL, "--proxy-socket", sock, "--json"] + list(args),
                       capture_output=True, text=True, timeout=10)
    try:
        doc = json.loads(r.stdout)
    except ValueError:
        doc = None
    return r.returncode, doc, r.stdout + r.stderr


def start(d, port, core):
    sock = os.path.join(d, "proxy.sock")
    conf = os.path.join(d, "proxy.conf")
    with open(conf, "w") as f:
        f.write(CFG % {"sock": sock, "port": port, "core": core, "extra": ""})
    logf = os.path.join(d, "proxy.log")
    log = open(logf, "w")
    # Relative --config: 'config reload' must still find it after startup.
    p = subprocess.Popen([PROXY, "--config", "proxy.conf", "--state-dir", d,
                          "--workers", "1", "--metrics-listen", "127.0.0.1:0"],
                         stdout=log, stderr=subprocess.STDOUT, cwd=d)
    deadline = time.time() + 10
    while time.time() < deadline and p.poll() is None:
        text = open(logf).read()
        m = re.search(r"metrics on http://127\.0\.0\.1:(\d+)/metrics", text)
        if os.path.exists(sock) and "running" in text and m:
            global METRICS_URL
            METRICS_URL = "http://127.0.0.1:%s/metrics" % m.group(1)
            return p, sock, conf, logf
        time.sleep(0.05)
    p.kill()
    p.wait()
    raise RuntimeError("proxy did not start:\n" + open(logf).read())


METRICS_URL = None


def scrape():
    """Prometheus text from the proxy, with curl as an operator would."""
    r = subprocess.run(["curl", "-sS", "--max-time", "5", METRICS_URL],
                       capture_output=True, text=True, timeout=10)
    vals = {}
    for line in r.stdout.splitlines():
        if line and not line.startswith("#"):
            name, _, v = line.rpartition(" ")
            vals[name] = float(v)
    return vals, r.stdout + r.stderr


def register(port, user):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(3)
    me = s.getsockname()[1]
    msg = ("REGISTER sip:example.com SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s;rport\r\n"
           "Max-Forwards: 70\r\nFrom: <sip:%s@example.com>;tag=r1\r\n"
           "To: <sip:%s@example.com>\r\nCall-ID: reg-%s\r\nCSeq: 1 REGISTER\r\n"
           "Contact: <sip:%s@127.0.0.1:%d>\r\nExpires: 600\r\n"
           "User-Agent: ops-test\r\nContent-Length: 0\r\n\r\n"
           % (me, os.urandom(4).hex(), user, user, os.urandom(4).hex(), user, me))
    s.sendto(msg.encode(), ("127.0.0.1", port))
    try:
        data, _ = s.recvfrom(65535)
    except socket.timeout:
        data = b""
    s.close()
    return data.decode(errors="replace"), me


def main():
    if not all(os.access(x, os.X_OK) for x in (PROXY, CTL)):
        print("binaries missing: skipped")
        return 77
    d = tempfile.mkdtemp(prefix="rp-ops-")
    core_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    core_sock.bind(("127.0.0.2", 0))
    core_sock.settimeout(3)
    core = core_sock.getsockname()[1]
    for attempt in range(5):
        port = free_udp_port()
        try:
            p, sock, conf, logf = start(d, port, core)
            break
        except RuntimeError:
            if attempt == 4:
                raise
    try:
        rc, doc, raw = ctl(sock, "status", "proxy")
        pr = (doc or {}).get("proxy", {})
        check("status: up, version, workers, uptime from the daemon",
              rc == 0 and pr.get("up") is True and pr.get("software") and
              pr.get("workers") == 1 and pr.get("uptime-source") == "daemon" and
              isinstance(pr.get("uptime-s"), int), raw)

        rc, doc, raw = ctl(sock, "raw", "proxy", "status")
        check("status command: version, uptime-s, workers, listeners",
              rc == 0 and doc and doc.get("version") and doc.get("workers") == 1 and
              doc.get("listeners") == 1 and doc.get("uptime-s", -1) >= 0, raw)

        rc, doc, raw = ctl(sock, "trunks")
        t = (doc or {}).get("trunks") or [{}]
        check("trunks: name, addresses in order, reachability unknown (no probing)",
              rc == 0 and len(doc["trunks"]) == 1 and t[0].get("name") == "core" and
              t[0].get("addresses") == ["127.0.0.2:%d" % core, "[::1]:5071"] and
              t[0].get("transport") == "udp" and t[0].get("reachability") == "unknown", raw)

        rc, doc, raw = ctl(sock, "registrations")
        check("registrations: empty at start", rc == 0 and doc == {"registrations": []}, raw)
        m0, raw = scrape()
        check("metrics: served, SIP families present and at zero",
              m0.get('rampart_sip_requests_total{method="REGISTER"}') == 0 and
              m0.get('rampart_sip_responses_total{class="2xx"}') == 0 and
              m0.get("rampart_proxy_registrations_active") == 0 and
              m0.get("rampart_proxy_transactions_active") == 0 and
              "rampart_proxy_calls_active" in m0 and "rampart_proxy_calls_total" in m0, raw)
        resp, me = register(port, "alice")
        check("REGISTER answered 200", resp.startswith("SIP/2.0 200"), resp)
        rc, doc, raw = ctl(sock, "registrations")
        regs = (doc or {}).get("registrations") or []
        check("registrations: alice's binding with source, transport, expiry, UA",
              rc == 0 and len(regs) == 1 and regs[0].get("aor") == "sip:alice@example.com" and
              regs[0].get("contact") == "sip:alice@127.0.0.1:%d" % me and
              regs[0].get("source") == "127.0.0.1:%d" % me and
              regs[0].get("transport") == "udp" and 0 < regs[0].get("expires-in", 0) <= 600 and
              regs[0].get("user-agent") == "ops-test", raw)

        m1, raw = scrape()
        check("metrics: the REGISTER and its 200 are counted, one binding held",
              m1.get('rampart_sip_requests_total{method="REGISTER"}') == 1 and
              m1.get('rampart_sip_responses_total{class="2xx"}') == 1 and
              m1.get('rampart_sip_requests_total{method="INVITE"}') == 0 and
              m1.get("rampart_proxy_registrations_active") == 1, raw)

        rc, doc, raw = ctl(sock, "config", "check")
        check("config check: the running file is valid", rc == 0 and doc and
              doc.get("valid") == 1 and doc.get("file") == conf and "OK" in doc.get("text", ""),
              raw)
        bad = os.path.join(d, "bad.conf")
        with open(bad, "w") as f:
            f.write("listen udp 127.0.0.1:1;\ntrunk x { media_encryption = maybe; }\n")
        rc, doc, raw = ctl(sock, "config", "check", "file=" + bad)
        check("config check: a bad file is exit 1 with the line and reason",
              rc == 1 and doc and "bad.conf:2" in doc.get("error", ""), raw)

        # A bad file in place of the running one: reload refuses, nothing changes.
        good = open(conf).read()
        with open(conf, "w") as f:
            f.write(good.replace("relay core;", "relay nosuchtrunk;"))
        rc, doc, raw = ctl(sock, "config", "reload")
        check("config reload: a bad file is refused and says why",
              rc == 1 and doc and "nothing changed" in doc.get("error", "") and
              "nosuchtrunk" in doc.get("error", ""), raw)
        rc, doc, raw = ctl(sock, "trunks")
        check("config reload: after a refusal the old trunks are in force",
              rc == 0 and [x["name"] for x in doc["trunks"]] == ["core"], raw)

        # A good file with a second trunk and a route to it.
        core2 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        core2.bind(("127.0.0.3", 0))
        core2.settimeout(3)
        extra = ("trunk other {\n    address = \"127.0.0.3:%d\";\n"
                 "    media_encryption = disable;\n}\n" % core2.getsockname()[1])
        with open(conf, "w") as f:
            f.write(CFG.replace("relay core;", "relay other;") % {
                "sock": sock, "port": port, "core": core, "extra": extra})
        rc, doc, raw = ctl(sock, "config", "reload")
        check("config reload: a good file is applied", rc == 0 and doc and
              doc.get("file") == conf, raw)
        rc, doc, raw = ctl(sock, "trunks")
        check("config reload: the new trunk list is in force",
              rc == 0 and [x["name"] for x in doc["trunks"]] == ["core", "other"], raw)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        me = s.getsockname()[1]
        s.sendto(("OPTIONS sip:x@example.com SIP/2.0\r\n"
                  "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKops1;rport\r\n"
                  "Max-Forwards: 70\r\nFrom: <sip:a@example.com>;tag=o1\r\n"
                  "To: <sip:x@example.com>\r\nCall-ID: ops-opt-1\r\nCSeq: 1 OPTIONS\r\n"
                  "Content-Length: 0\r\n\r\n" % me).encode(), ("127.0.0.1", port))
        try:
            got = core2.recvfrom(65535)[0].decode(errors="replace")
        except socket.timeout:
            got = ""
        check("config reload: the next request follows the new route",
              got.startswith("OPTIONS ") and "ops-opt-1" in got, got)
        m2, raw = scrape()
        check("metrics: the relayed OPTIONS is counted (its transaction is live)",
              m2.get('rampart_sip_requests_total{method="OPTIONS"}') == 1 and
              m2.get("rampart_proxy_transactions_active", 0) >= 1, raw)
        s.close()
        core2.close()

        rc, doc, raw = ctl(sock, "stats", "proxy")
        st = (doc or {}).get("proxy") or {}
        check("stats: the REGISTER and the OPTIONS are counted",
              rc == 0 and st.get("requests", 0) >= 2 and st.get("udp-messages", 0) >= 2, raw)
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        core_sock.close()
    r = subprocess.run([PROXY, "--config", conf, "--state-dir", d, "--control", "none",
                        "--metrics-listen", "127.0.0.1:notaport"],
                       capture_output=True, text=True, timeout=20)
    check("a bad --metrics-listen refuses to start", r.returncode == 1 and
          "metrics-listen" in r.stderr, r.stderr)
    log = open(logf).read()
    check("proxy exited cleanly", p.returncode == 0, log[-2000:])
    bad = [l for l in log.splitlines() if "AddressSanitizer" in l or "runtime error" in l
           or "LeakSanitizer" in l]
    check("no sanitizer report in the proxy's log", not bad, "\n".join(bad))
    print("%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
