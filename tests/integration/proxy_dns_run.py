#!/usr/bin/env python3
"""proxy_dns_run.py PROXY MINIDNS: run-time DNS of rampart-proxy (RFC 3263)
against our own authoritative server (tests/tools/minidns.py) on a loopback
port, named with dns_servers.

1. A trunk given as a name without a port is located NAPTR -> SRV -> A: the
   priority-10 SRV target has nobody listening, the priority-20 one is a
   sipp UAS; a sipp call through the proxy reaches it (serial failover), and
   the server saw the NAPTR, SRV and A queries.
2. TTL expiry: a trunk "moving.test:PORT" whose A record (TTL 1, dns_min_ttl
   = 1) moves from 127.0.0.1 to 127.0.0.2 while the proxy runs: INVITEs
   reach the new address without a reload, and the log says so.
3. A trunk whose name does not exist (NXDOMAIN): its call is answered
   404 No Usable Destination at once.
4. Request-URI host names (RFC 3263 §4, located while the request waits
   in its transaction, no worker blocked): sip:bob@uri.test:PORT (A) and
   sip:bob@srv.test (SRV _sip._udp -> a raw UDP callee) reach the callee
   and its 200 comes back; sip:bob@nxdomain.test gets "404 No Usable
   Destination: Name Not Resolved"; a retransmitted INVITE while parked is
   absorbed (the callee sees one).
   The DNS counters on /metrics moved as these lookups should: queries and
   answers, an NXDOMAIN for a name never asked before, cache misses then a
   hit for a name already answered, nothing waiting once answered.
   A reload that drops two of the three trunks leaves one trunk name in
   the core's table (rampart_proxy_dns_trunk_names 3 -> 1).
5. A resolver that never answers: the proxy starts (the install waits a
   bounded time), answers OPTIONS at once while its resolver threads wait
   on the silent server, answers the trunk's call 404 (no addresses yet)
   instead of hanging, and logs that DNS is slow; an INVITE to a name gets
   100 Trying at once and "503 DNS Timeout" when the resolver gives up;
   meanwhile /metrics shows it waiting, then DNS timeouts and no answers.

Every port is picked free; every wait is bounded; every process is ours
and is stopped."""
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
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import proxy_call_run as pcr  # noqa: E402  (same PROXY argument)

MINIDNS = sys.argv[2]
check = pcr.check


class MiniDNS:
    def __init__(self, tmp, name, zone):
        self.zone_path = os.path.join(tmp, name + ".json")
        self.log = os.path.join(tmp, name + ".queries")
        self.write(zone)
        self.p = subprocess.Popen([sys.executable, MINIDNS, self.zone_path, "--log", self.log],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = self.p.stdout.readline()
        m = re.match(r"port (\d+)", line)
        if not m:
            raise RuntimeError("minidns did not start: " + line)
        self.port = int(m.group(1))

    def write(self, zone):
        tmp = self.zone_path + ".new"
        with open(tmp, "w") as f:
            json.dump(zone, f)
        os.replace(tmp, self.zone_path)
        # minidns re-reads on an mtime change: make sure it changes.
        st = os.stat(self.zone_path)
        os.utime(self.zone_path, ns=(st.st_atime_ns, st.st_mtime_ns + 1000000))

    def queries(self):
        try:
            with open(self.log) as f:
                return f.read().split("\n")
        except OSError:
            return []

    def stop(self):
        self.p.terminate()
        try:
            self.p.wait(5)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def metrics(proxy):
    """The proxy's /metrics as {name: value} (unlabelled series)."""
    m = re.search(r"metrics on (http://127\.0\.0\.1:\d+/metrics)", proxy.text())
    if not m:
        raise RuntimeError("no metrics address in the log:\n" + proxy.text()[-800:])
    with urllib.request.urlopen(m.group(1), timeout=5) as r:
        body = r.read().decode()
    return {k: float(v) for k, v in
            re.findall(r"^(rampart_proxy_dns_\w+) (\S+)$", body, re.M)}


def invite_to(udp, user, cid, wait=6):
    return pcr.final_status(udp, "sip:%s@edge.test" % user, cid, wait)


def carrier_answers(sock, seconds):
    """Answers INVITEs arriving on a raw 'carrier' socket with 200 for
    'seconds'; returns the Call-IDs seen."""
    seen = []
    deadline = time.time() + seconds
    while time.time() < deadline:
        sock.settimeout(max(0.01, deadline - time.time()))
        try:
            data, addr = sock.recvfrom(65535)
        except socket.timeout:
            break
        t = data.decode(errors="replace")
        if t.startswith("INVITE "):
            m = re.search(r"^Call-ID: *(\S+)", t, re.M | re.I)
            seen.append(m.group(1) if m else "?")
            sock.sendto(pcr.answer(t, 200, "OK"), addr)
    return seen


def call_bg_ruri(udp, ruri, cid, r):
    import threading
    t = threading.Thread(target=lambda: r.__setitem__(0, pcr.final_status(udp, ruri, cid)))
    t.start()
    return t


def main():
    tmp = tempfile.mkdtemp(prefix="rp-dns-")
    procs = []
    socks = []
    try:
        uas_port = pcr.free_port()
        dead_port = pcr.free_port()     # nobody listens there
        mv_port = pcr.free_port()
        zone = {"soa_min": 2, "records": [
            ["carrier.test", "NAPTR", 60, [10, 10, "s", "SIP+D2U", "", "_sip._udp.carrier.test"]],
            ["_sip._udp.carrier.test", "SRV", 60, [10, 0, dead_port, "dead.carrier.test"]],
            ["_sip._udp.carrier.test", "SRV", 60, [20, 0, uas_port, "live.carrier.test"]],
            ["dead.carrier.test", "A", 60, "127.0.0.1"],
            ["live.carrier.test", "A", 60, "127.0.0.1"],
            ["uri.test", "A", 60, "127.0.0.1"],
            ["_sip._udp.srv.test", "SRV", 60, [10, 0, 0, "callee.srv.test"]],
            ["callee.srv.test", "A", 60, "127.0.0.1"],
            ["moving.test", "A", 1, "127.0.0.1"],
        ]}
        dns = MiniDNS(tmp, "dns", zone)
        procs.append(dns)
        cfg = """
log_level = info;
mediad_socket = "none";
metrics_listen = 0;  # 127.0.0.1, a port the kernel picks (read from the log)
timer_t1 = 50;
dns_servers = "127.0.0.1:%d";
dns_timeout = 300;
dns_min_ttl = 1;
trunk carrier { address = "carrier.test"; transport = udp; inbound { source = 192.0.2.1; } }
trunk moving { address = "moving.test:%d"; transport = udp; inbound { source = 192.0.2.2; } }
trunk gone { address = "nxdomain.test"; transport = udp; inbound { source = 192.0.2.3; } }
route request {
    if (has_header("Route")) { relay; }
    if (method == "ACK" || method == "CANCEL") { relay; }
    if (method == "OPTIONS") { reply 200 "Alive"; }
    record_route;
    if (ruri.user == "moving") { relay moving; }
    if (ruri.user == "gone") { relay gone; }
    if (ruri.user == "bob") { relay; }
    relay carrier;
}
""" % (dns.port, mv_port)
        proxy = pcr.Proxy(tmp, cfg)
        procs.append(proxy)
        udp = proxy.ports["udp"]

        # 1. NAPTR -> SRV -> A, failover from priority 10 to 20.
        ok, detail, trace = pcr.run_call(tmp, "srv", "proxy_call_uac.xml",
                                         "proxy_call_uas.xml", udp, uas_port=uas_port)
        check("trunk by NAPTR/SRV: the call reaches the priority-20 target (sipp UAS)",
              ok, detail + proxy.text()[-1500:])
        check("the UAS got the INVITE", re.search(r"^INVITE sip:", trace, re.M) is not None,
              trace[-500:])
        q = dns.queries()
        check("the proxy asked NAPTR carrier.test, SRV _sip._udp.carrier.test and "
              "A of both targets",
              all(x in q for x in ("NAPTR carrier.test", "SRV _sip._udp.carrier.test",
                                   "A dead.carrier.test", "A live.carrier.test")), q)
        check("the log names the SRV result (2 addresses)",
              re.search(r"dns: carrier.test \(udp\) located at 2 address", proxy.text())
              is not None, proxy.text()[-1500:])

        # 2. TTL expiry moves the 'moving' trunk without a reload.
        s1 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s1.bind(("127.0.0.1", mv_port))
        s2 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s2.bind(("127.0.0.2", mv_port))
        socks += [s1, s2]
        r = [None]

        def call_bg(user, cid):
            import threading
            t = threading.Thread(target=lambda: r.__setitem__(0, invite_to(udp, user, cid)))
            t.start()
            return t
        t = call_bg("moving", "mv-1")
        seen1 = carrier_answers(s1, 3)
        t.join(10)
        check("moving.test first at 127.0.0.1: the INVITE arrives there, 200 back",
              "mv-1" in seen1 and r[0] == "SIP/2.0 200 OK", (seen1, r[0]))
        zone["records"][-1] = ["moving.test", "A", 1, "127.0.0.2"]
        dns.write(zone)
        moved = False
        deadline = time.time() + 15
        n = 0
        while time.time() < deadline and not moved:
            n += 1
            cid = "mv-2-%d" % n
            t = call_bg("moving", cid)
            got2 = carrier_answers(s2, 1.0)
            carrier_answers(s1, 0.2)
            t.join(10)
            moved = cid in got2 and r[0] == "SIP/2.0 200 OK"
        check("after the TTL, without a reload, the INVITE goes to 127.0.0.2", moved,
              proxy.text()[-1500:])
        check("the log says moving.test was located again",
              re.search(r"dns: moving.test \(udp\) located at 1 address\(es\), first "
                        r"127\.0\.0\.2", proxy.text()) is not None, proxy.text()[-1500:])
        check("no reload happened", "reload" not in proxy.text().lower(),
              proxy.text()[-800:])

        # 3. NXDOMAIN: 404 No Usable Destination.
        r3 = invite_to(udp, "gone", "gone-1")
        check("a trunk whose name does not exist: 404 No Usable Destination",
              r3 == "SIP/2.0 404 No Usable Destination", r3)
        check("the log says nxdomain.test has no such name",
              "nxdomain.test: no such name" in proxy.text(), proxy.text()[-1500:])
        m = metrics(proxy)
        check("/metrics: DNS queries sent and answered, an NXDOMAIN among them, "
              "answers cached, 3 trunk names kept",
              m.get("rampart_proxy_dns_queries_total", 0) > 0 and
              m.get("rampart_proxy_dns_answers_total", 0) > 0 and
              m.get("rampart_proxy_dns_nxdomain_total", 0) >= 1 and
              m.get("rampart_proxy_dns_cache_entries", 0) > 0 and
              m.get("rampart_proxy_dns_timeouts_total") == 0 and
              m.get("rampart_proxy_dns_trunk_names") == 3, m)
        # 4. Request-URI host names.
        callee = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        callee.bind(("127.0.0.1", 0))
        cport = callee.getsockname()[1]
        socks.append(callee)
        zone["records"][6] = ["_sip._udp.srv.test", "SRV", 60, [10, 0, cport, "callee.srv.test"]]
        dns.write(zone)
        for ruri, cid in (("sip:bob@uri.test:%d" % cport, "uri-1"),
                          ("sip:bob@srv.test", "uri-2")):
            t = call_bg_ruri(udp, ruri, cid, r)
            seen = carrier_answers(callee, 3)
            t.join(10)
            check("%s: the INVITE reaches the callee, 200 comes back" % ruri,
                  seen == [cid] and r[0] == "SIP/2.0 200 OK", (seen, r[0],
                                                               proxy.text()[-1500:]))
        q = dns.queries()
        check("the proxy asked A uri.test and SRV _sip._udp.srv.test",
              "A uri.test" in q and "SRV _sip._udp.srv.test" in q, q)
        m0 = metrics(proxy)
        r5 = pcr.final_status(udp, "sip:bob@nxdomain.test", "uri-3")
        check("a Request-URI name that does not exist: 404 saying it did not resolve",
              r5 == "SIP/2.0 404 No Usable Destination: Name Not Resolved", r5)
        r6 = pcr.final_status(udp, "sip:bob@nowhere.test", "uri-4")
        m1 = metrics(proxy)
        check("a name never asked before: 404, the NXDOMAIN counter and cache misses "
              "went up, no request left waiting",
              r6 == "SIP/2.0 404 No Usable Destination: Name Not Resolved" and
              m1["rampart_proxy_dns_nxdomain_total"] > m0["rampart_proxy_dns_nxdomain_total"] and
              m1["rampart_proxy_dns_cache_misses_total"] >
              m0["rampart_proxy_dns_cache_misses_total"] and
              m1["rampart_proxy_dns_requests_waiting"] == 0, (r6, m0, m1))
        # Another lookup key (transport given) for a name whose A record is
        # cached: answered from the resolver's cache.
        t = call_bg_ruri(udp, "sip:bob@uri.test:%d;transport=udp" % cport, "uri-5", r)
        seen = carrier_answers(callee, 3)
        t.join(10)
        m2 = metrics(proxy)
        check("uri.test again (;transport=udp): the callee gets it and the DNS cache "
              "hits went up",
              seen == ["uri-5"] and r[0] == "SIP/2.0 200 OK" and
              m2["rampart_proxy_dns_cache_hits_total"] > m1["rampart_proxy_dns_cache_hits_total"],
              (seen, r[0], m1, m2))
        # A retransmission while parked: the zone answers slowly? No: the
        # first INVITE is parked until minidns answers; send it twice at
        # once and count what the callee gets.
        s, sport = pcr.udp_sock()
        socks.append(s)
        inv = pcr.msg("INVITE", "sip:bob@uri.test:%d" % cport, "z9hG4bKrt1", "uri-rt", 1, sport)
        s.sendto(inv, ("127.0.0.1", udp))
        s.sendto(inv, ("127.0.0.1", udp))
        seen = carrier_answers(callee, 2)
        got = pcr.recv_until(s, lambda t: t.startswith("SIP/2.0 200"), 3)
        check("a retransmission while the name is located is absorbed: one INVITE out",
              seen == ["uri-rt"] and got is not None, seen)
        # A reload dropping the trunks 'moving' and 'gone': their names leave
        # the core's table (moving.test, TTL 1, is being refreshed meanwhile).
        cfg_r = re.sub(r"^trunk (moving|gone) .*\n|^.*relay (moving|gone);.*\n", "", cfg,
                       flags=re.M)
        with open(os.path.join(tmp, "proxy.conf"), "w") as f:
            f.write(cfg_r)
        proxy.p.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        names = None
        while time.time() < deadline:
            names = metrics(proxy).get("rampart_proxy_dns_trunk_names")
            if names == 1:
                break
            time.sleep(0.1)
        time.sleep(2.5)   # past moving.test's refresh, had it still been watched
        m3 = metrics(proxy)
        check("after a reload without 2 of the 3 trunks: 1 trunk name kept",
              names == 1 and m3["rampart_proxy_dns_trunk_names"] == 1,
              (names, m3, proxy.text()[-1500:]))
        proxy.stop()
        procs.remove(proxy)

        # 5. A resolver that never answers.
        silent = MiniDNS(tmp, "silent", {"silent": True, "records": []})
        procs.append(silent)
        cfg4 = """
log_level = info;
mediad_socket = "none";
metrics_listen = 0;  # 127.0.0.1, a port the kernel picks (read from the log)
timer_t1 = 50;
dns_servers = "127.0.0.1:%d";
dns_timeout = 3000;
dns_attempts = 3;
trunk a { address = "a.silent.test"; transport = udp; inbound { source = 192.0.2.1; } }
trunk b { address = "b.silent.test"; transport = tcp; inbound { source = 192.0.2.2; } }
trunk c { address = "c.silent.test:5080"; transport = udp; inbound { source = 192.0.2.3; } }
route request {
    if (method == "OPTIONS") { reply 200 "Alive"; }
    if (ruri.user == "byname") { relay; }
    relay a;
}
""" % (silent.port)
        p4 = pcr.Proxy(tmp, cfg4, name="proxy4")
        procs.append(p4)
        check("with a silent DNS server the proxy starts and says DNS is slow",
              "DNS is slow" in p4.text(), p4.text()[-1500:])
        s, port = pcr.udp_sock()
        socks.append(s)
        answered = 0
        for i in range(5):
            s.sendto(pcr.msg("OPTIONS", "sip:edge.test", "z9hG4bKop%d" % i, "op-%d" % i, 1, port),
                     ("127.0.0.1", p4.ports["udp"]))
            # 3 s x 3 attempts per query: a worker blocked on DNS would
            # not answer within this wait.
            got = pcr.recv_until(s, lambda t: t.startswith("SIP/2.0 200 Alive"), 2)
            answered += got is not None
        check("OPTIONS answered while every resolver thread waits on the silent server",
              answered == 5, "%d of 5\n%s" % (answered, p4.text()[-1000:]))
        r4 = invite_to(p4.ports["udp"], "x", "silent-1", wait=3)
        check("the trunk's call gets 404 No Usable Destination (no address yet), "
              "no hang", r4 == "SIP/2.0 404 No Usable Destination", r4)
        s.sendto(pcr.msg("INVITE", "sip:byname@uri.silent.test", "z9hG4bKsl", "sl-1", 1, port),
                 ("127.0.0.1", p4.ports["udp"]))
        got100 = pcr.recv_until(s, lambda t: t.startswith("SIP/2.0 100"), 2)
        check("an INVITE to a name the silent server should answer: 100 Trying at once",
              got100 is not None, p4.text()[-800:])
        m4 = metrics(p4)
        check("/metrics: that INVITE waits on DNS, questions sent, no answers",
              m4["rampart_proxy_dns_requests_waiting"] == 1 and
              m4["rampart_proxy_dns_queries_total"] > 0 and
              m4["rampart_proxy_dns_answers_total"] == 0, m4)
        s.sendto(pcr.msg("OPTIONS", "sip:edge.test", "z9hG4bKop9", "op-9", 1, port),
                 ("127.0.0.1", p4.ports["udp"]))
        check("OPTIONS answered while that INVITE waits for DNS",
              pcr.recv_until(s, lambda t: t.startswith("SIP/2.0 200 Alive"), 2) is not None)
        # 3 s x 3 attempts on the one server, then the answer.
        fin = pcr.recv_until(s, lambda t: t.startswith("SIP/2.0 ") and
                             not t.startswith("SIP/2.0 1") and "sl-1" in t, 15)
        check("the resolver gives up: 503 DNS Timeout",
              fin is not None and fin[0].startswith("SIP/2.0 503 DNS Timeout"),
              fin[0][:200] if fin else p4.text()[-800:])
        m5 = metrics(p4)
        check("/metrics after the 503: DNS timeouts counted, still no answers, "
              "nothing waiting",
              m5["rampart_proxy_dns_timeouts_total"] > 0 and
              m5["rampart_proxy_dns_answers_total"] == 0 and
              m5["rampart_proxy_dns_requests_waiting"] == 0, m5)
        check("the silent server was asked", any("a.silent.test" in x
                                                 for x in silent.queries()), silent.queries())
        check("proxy alive", p4.alive(), p4.text()[-800:])
    finally:
        for s in socks:
            s.close()
        for p in reversed(procs):
            p.stop()
    if pcr.failures:
        print("logs kept in " + tmp)
        sys.exit(1)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
