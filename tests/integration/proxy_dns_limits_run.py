#!/usr/bin/env python3
"""proxy_dns_limits_run.py PROXY MINIDNS: the limits of the proxy's run-time
DNS (RFC 3263 for Request-URI names) against tests/tools/minidns.py.

1. Large answers: A and SRV answers too large for UDP (100 A records, 40
   SRV records; minidns sets TC=1 beyond the query's EDNS size) are asked
   again over TCP and the INVITE reaches the callee. A truncated answer whose TCP retry fails (minidns closes the
   connection) gets "503 DNS Failure" with Retry-After, not "404 Name Not
   Resolved" (before: the empty truncated answer passed for NODATA).
2. Address families, with UDP listeners on 127.0.0.1 and [::1] and TCP on
   127.0.0.1 only: a name with only an AAAA record is relayed over IPv6
   (waiting on DNS, and again from the resolver's cache), the Via and both
   Record-Route entries of the right family; a name with A and AAAA over
   IPv4; the AAAA-only name over TCP (no IPv6 TCP listener) gets "503 No
   Listener For IPv6" (waiting and cached alike), and nothing is sent.
3. More than 1,024 requests waiting on DNS: with a silent server, a burst
   of 1,100 INVITEs to one name: those beyond 1,024 get "503 DNS Busy" with
   Retry-After at once, the 1,024 waiting each get 100 Trying and, when
   the resolver gives up, "503 DNS Timeout"; every INVITE gets exactly one
   final response; /metrics shows 1,024 waiting, then none; a second burst
   behaves the same (nothing was left behind), the proxy's RSS after it is
   within 8 MiB of what it was after the first (not in an ASan build: its
   quarantine keeps freed memory), and it exits with status 0 and no
   sanitizer report (LeakSanitizer in an ASan build: no parked request
   leaked).

Every port is picked free; every wait is bounded; every process is ours
and is stopped."""
import os
import re
import socket
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import proxy_call_run as pcr  # noqa: E402  (same PROXY argument)
from proxy_dns_run import MiniDNS, metrics, carrier_answers, call_bg_ruri  # noqa: E402

check = pcr.check


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        m = re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M)
    return int(m.group(1)) if m else -1


def first_line(t):
    return t.split("\r\n", 1)[0] if t else t


def header(t, name):
    return re.findall(r"^%s: *(.*?)\r?$" % name, t, re.M | re.I)


def large_answers(tmp, procs, socks):
    callee = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    callee.bind(("127.0.0.1", 0))
    cport = callee.getsockname()[1]
    socks.append(callee)
    recs = [["big.test", "A", 60, "127.0.0.1"] for _ in range(100)]
    recs += [["_sip._udp.bigsrv.test", "SRV", 60, [10, i, cport, "callee.bigsrv.test"]]
             for i in range(40)]
    recs += [["callee.bigsrv.test", "A", 60, "127.0.0.1"],
             ["gone.tcp.test", "A", 60, "127.0.0.1"]]
    recs += [["gone.tcp.test", "A", 60, "127.0.0.%d" % i] for i in range(2, 100)]
    dns = MiniDNS(tmp, "big", {"records": recs, "tcp_close": ["gone.tcp.test"]})
    procs.append(dns)
    cfg = """
log_level = info;
mediad_socket = "none";
metrics_listen = 0;  # 127.0.0.1, a port the kernel picks (read from the log)
timer_t1 = 50;
dns_servers = "127.0.0.1:%d";
dns_timeout = 1000;
dns_attempts = 1;
route request {
    if (method == "ACK") { relay; }
    relay;
}
""" % (dns.port)
    proxy = pcr.Proxy(tmp, cfg, name="proxy-big")
    procs.append(proxy)
    udp = proxy.ports["udp"]
    r = [None]
    for ruri, cid in (("sip:bob@big.test:%d" % cport, "big-1"),
                      ("sip:bob@bigsrv.test", "big-2")):
        t = call_bg_ruri(udp, ruri, cid, r)
        seen = carrier_answers(callee, 4)
        t.join(10)
        check("%s (answer too large for UDP): the INVITE reaches the callee, 200 back"
              % ruri, seen == [cid] and r[0] == "SIP/2.0 200 OK",
              (seen, r[0], proxy.text()[-1500:]))
    q = dns.queries()
    check("the proxy asked A big.test and SRV _sip._udp.bigsrv.test again over TCP",
          "A big.test" in q and "TCP A big.test" in q and
          "SRV _sip._udp.bigsrv.test" in q and "TCP SRV _sip._udp.bigsrv.test" in q, q)
    m = metrics(proxy)
    s, sport = pcr.udp_sock()
    socks.append(s)
    s.sendto(pcr.msg("INVITE", "sip:bob@gone.tcp.test:%d" % cport, "z9hG4bKtcpf", "tcpf-1",
                     1, sport), ("127.0.0.1", udp))
    fin = pcr.recv_until(s, lambda t: t.startswith("SIP/2.0 ") and
                         not t.startswith("SIP/2.0 1"), 8)
    check("a truncated answer whose TCP retry fails: 503 DNS Failure with Retry-After",
          fin is not None and first_line(fin[0]) == "SIP/2.0 503 DNS Failure" and
          header(fin[0], "Retry-After") == ["5"],
          fin[0][:300] if fin else proxy.text()[-1500:])
    check("that TCP query was made", "TCP A gone.tcp.test" in dns.queries(), dns.queries())
    check("the callee got nothing for it", carrier_answers(callee, 0.3) == [])
    m2 = metrics(proxy)
    check("/metrics: the failed TCP retry counted as an error, nothing waiting",
          m2.get("rampart_proxy_dns_errors_total", 0) > m.get("rampart_proxy_dns_errors_total", 0)
          and m2.get("rampart_proxy_dns_requests_waiting") == 0, (m, m2))
    check("/metrics: the TCP retry counted, no lookup left queued",
          m2.get("rampart_proxy_dns_tcp_total", 0) > m.get("rampart_proxy_dns_tcp_total", 0)
          and m2.get("rampart_proxy_dns_lookups_queued") == 0, (m, m2))
    check("proxy alive", proxy.alive())
    proxy.stop()
    procs.remove(proxy)


def families(tmp, procs, socks):
    c4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c4.bind(("127.0.0.1", 0))
    c6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    c6.bind(("::1", c4.getsockname()[1]))
    cport = c4.getsockname()[1]
    socks += [c4, c6]
    dns = MiniDNS(tmp, "fam", {"records": [
        ["v6only.test", "AAAA", 60, "::1"],
        ["both.test", "A", 60, "127.0.0.1"],
        ["both.test", "AAAA", 60, "::1"],
    ]})
    procs.append(dns)
    p4, p6, pt = pcr.free_port(), None, pcr.free_port(socket.SOCK_STREAM)
    for _ in range(20):
        t = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        try:
            t.bind(("::1", 0))
            p6 = t.getsockname()[1]
            break
        finally:
            t.close()
    cfg = """
log_level = info;
mediad_socket = "none";
metrics_listen = 0;  # 127.0.0.1, a port the kernel picks (read from the log)
timer_t1 = 50;
dns_servers = "127.0.0.1:%d";
listen udp 127.0.0.1:%d;
listen udp [::1]:%d;
listen tcp 127.0.0.1:%d;
route request {
    if (method == "ACK") { relay; }
    record_route;
    relay;
}
""" % (dns.port, p4, p6, pt)
    proxy = pcr.Proxy(tmp, cfg, name="proxy-fam", listen=False)
    procs.append(proxy)
    udp = proxy.ports["udp"]

    def one(ruri, cid, sock):
        r = [None]
        t = call_bg_ruri(udp, ruri, cid, r)
        got = pcr.recv_until(sock, lambda x: x.startswith("INVITE "), 4)
        if got:
            sock.sendto(pcr.answer(got[0], 200, "OK"), got[1])
        t.join(10)
        return got, r[0]

    for ruri, cid, what in (("sip:bob@v6only.test:%d" % cport, "fam-1", "waiting on DNS"),
                            ("sip:bob@v6only.test:%d" % cport, "fam-2", "from the cache")):
        got, fin = one(ruri, cid, c6)
        inv = got[0] if got else ""
        vias = header(inv, "Via")
        rrs = header(inv, "Record-Route")
        check("an AAAA-only name (%s): the INVITE goes over IPv6, 200 back" % what,
              got is not None and fin == "SIP/2.0 200 OK" and
              got[1][0] == "::1" and got[1][1] == p6, (got and got[1], fin,
                                                        proxy.text()[-1500:]))
        check("its top Via and first Record-Route name our IPv6 address, the second "
              "Record-Route our IPv4 one (%s)" % what,
              len(vias) >= 2 and vias[0].startswith("SIP/2.0/UDP [::1]:%d;" % p6) and
              len(rrs) == 2 and "[::1]:%d" % p6 in rrs[0] and
              "127.0.0.1:%d" % p4 in rrs[1], (vias, rrs))
        check("nothing went to the IPv4 callee (%s)" % what, carrier_answers(c4, 0.2) == [])
    got, fin = one("sip:bob@both.test:%d" % cport, "fam-3", c4)
    check("a name with A and AAAA: the INVITE goes over IPv4, Via and Record-Route IPv4",
          got is not None and fin == "SIP/2.0 200 OK" and got[1][0] == "127.0.0.1" and
          header(got[0], "Via")[0].startswith("SIP/2.0/UDP 127.0.0.1:%d;" % p4) and
          all("127.0.0.1:%d" % p4 in x for x in header(got[0], "Record-Route")),
          (got and got[0][:600], fin))
    for cid, what in (("fam-4", "first"), ("fam-5", "again, cached")):
        s, sport = pcr.udp_sock()
        socks.append(s)
        s.sendto(pcr.msg("INVITE", "sip:bob@v6only.test:%d;transport=tcp" % cport,
                         "z9hG4bK" + cid, cid, 1, sport), ("127.0.0.1", udp))
        fin = pcr.recv_until(s, lambda t: t.startswith("SIP/2.0 ") and
                             not t.startswith("SIP/2.0 1"), 5)
        check("an AAAA-only name over TCP, no IPv6 TCP listener (%s): 503 No Listener "
              "For IPv6" % what,
              fin is not None and first_line(fin[0]) == "SIP/2.0 503 No Listener For IPv6",
              fin[0][:300] if fin else proxy.text()[-1500:])
    check("proxy alive", proxy.alive())
    proxy.stop()
    procs.remove(proxy)


def burst(udp, n, tag, socks):
    """n INVITEs to one name from one socket, paced in groups; returns the
    socket and the Call-IDs sent."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
    port = s.getsockname()[1]
    cids = []
    for i in range(n):
        cid = "%s-%d" % (tag, i)
        cids.append(cid)
        s.sendto(pcr.msg("INVITE", "sip:bob@slow.silent.test", "z9hG4bK" + cid, cid, 1, port),
                 ("127.0.0.1", udp))
        if i % 50 == 49:
            time.sleep(0.02)
    return s, cids


def collect(s, seconds, finals, provisional):
    """Responses on s for up to 'seconds' (stops after a quiet second once
    every Call-ID has a final). finals[cid]: the distinct final status
    lines (with " R=" and the Retry-After), provisional: Call-IDs that got
    a 1xx. Each final is ACKed (RFC 3261 17.1.1.3)."""
    deadline = time.time() + seconds
    port = s.getsockname()[1]
    while time.time() < deadline:
        s.settimeout(1.0)
        try:
            data, addr = s.recvfrom(65535)
        except socket.timeout:
            if finals and all(finals.values()):
                break
            continue
        t = data.decode(errors="replace")
        cid = header(t, "Call-ID")
        if not cid or cid[0] not in finals:
            continue
        line = first_line(t)
        if line.startswith("SIP/2.0 1"):
            provisional.add(cid[0])
            continue
        retry = header(t, "Retry-After")
        entry = line + (" R=" + retry[0] if retry else "")
        if entry not in finals[cid[0]]:
            finals[cid[0]].append(entry)
        tag = re.search(r";tag=([^;>\s]+)", header(t, "To")[0])
        s.sendto(pcr.msg("ACK", "sip:bob@slow.silent.test", "z9hG4bK" + cid[0], cid[0], 1,
                         port, to_tag=";tag=" + tag.group(1) if tag else ""), addr)


def busy(tmp, procs, socks):
    dns = MiniDNS(tmp, "silent", {"silent": True, "records": []})
    procs.append(dns)
    cfg = """
log_level = info;
mediad_socket = "none";
metrics_listen = 0;  # 127.0.0.1, a port the kernel picks (read from the log)
dns_servers = "127.0.0.1:%d";
dns_timeout = 6000;
dns_attempts = 1;
route request {
    if (method == "ACK") { drop; }
    relay;
}
""" % (dns.port)
    proxy = pcr.Proxy(tmp, cfg, name="proxy-busy")
    procs.append(proxy)
    udp = proxy.ports["udp"]
    N, LIMIT = 1100, 1024
    rss = []
    for round_ in (1, 2):
        t0 = time.time()
        s, cids = burst(udp, N, "busy%d" % round_, socks)
        finals = {c: [] for c in cids}
        prov = set()
        peak = None
        # The busy answers come at once; then the waiting ones are seen.
        collect(s, 0.8, finals, prov)
        deadline = time.time() + 3
        while time.time() < deadline:
            w = metrics(proxy).get("rampart_proxy_dns_requests_waiting")
            peak = w if peak is None else max(peak, w)
            if w == LIMIT:
                break
            time.sleep(0.1)
        sent_s = time.time() - t0
        collect(s, 20, finals, prov)
        busy_n = sum(1 for v in finals.values() if v and v[0].startswith("SIP/2.0 503 DNS Busy"))
        tmo_n = sum(1 for v in finals.values()
                    if v and v[0].startswith("SIP/2.0 503 DNS Timeout"))
        unanswered = [c for c, v in finals.items() if not v]
        multi = {c: v for c, v in finals.items() if len(v) > 1}
        check("round %d: %d INVITEs to a name the silent server holds: /metrics shows "
              "%d waiting" % (round_, N, LIMIT), peak == LIMIT,
              (peak, busy_n, "sent in %.1f s" % sent_s, proxy.text()[-1000:]))
        check("round %d: the %d beyond the limit get 503 DNS Busy with Retry-After: 5"
              % (round_, N - LIMIT),
              busy_n == N - LIMIT and all(v[0].endswith("R=5") for v in finals.values()
                                          if v and "DNS Busy" in v[0]),
              (busy_n, [v for v in finals.values() if v][:5]))
        check("round %d: the %d waiting each got 100 Trying and then 503 DNS Timeout "
              "with Retry-After: 5" % (round_, LIMIT),
              tmo_n == LIMIT and len(prov) >= LIMIT and
              all(v[0].endswith("R=5") for v in finals.values() if v and "Timeout" in v[0]),
              (tmo_n, len(prov)))
        check("round %d: every INVITE answered, none with two different finals"
              % round_, not unanswered and not multi,
              (len(unanswered), unanswered[:5], list(multi.items())[:5]))
        m = metrics(proxy)
        check("round %d: /metrics afterwards: nothing waits on DNS, the server timed "
              "out" % round_, m.get("rampart_proxy_dns_requests_waiting") == 0 and
              m.get("rampart_proxy_dns_timeouts_total", 0) > 0 and
              m.get("rampart_proxy_dns_answers_total") == 0, m)
        rss.append(rss_kib(proxy.p.pid))
        # A name the resolver holds a failure for (5 s): wait it out so
        # the second round waits on DNS again.
        time.sleep(5.5)
    with open(pcr.PROXY, "rb") as f:
        asan = b"__asan_init" in f.read()
    if asan:
        # ASan's quarantine holds freed memory: RSS says nothing there;
        # LeakSanitizer's report at exit (checked below) does.
        print("note: RSS not compared in an ASan build (after the bursts: %s KiB)" % rss)
    else:
        check("the proxy's RSS after the second burst is within 8 MiB of the first's",
              rss[1] - rss[0] < 8 * 1024, rss)
    check("proxy alive", proxy.alive())
    proxy.stop()
    procs.remove(proxy)
    check("the proxy exits cleanly after the bursts (status 0, no sanitizer report)",
          proxy.p.returncode == 0 and "Sanitizer" not in proxy.text(),
          (proxy.p.returncode, proxy.text()[-2000:]))


def main():
    tmp = tempfile.mkdtemp(prefix="rp-dns-lim-")
    procs = []
    socks = []
    try:
        large_answers(tmp, procs, socks)
        families(tmp, procs, socks)
        busy(tmp, procs, socks)
    finally:
        for s in socks:
            s.close()
        for p in reversed(procs):
            p.stop()
    return pcr.verdict(tmp)


if __name__ == "__main__":
    sys.exit(main())
