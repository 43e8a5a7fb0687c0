#!/usr/bin/env python3
"""proxy_trunk_run.py PROXY: outbound trunks through rampart-proxy on loopback.

Challenges (RFC 3261 §22.2/22.3, RFC 8760): a sipp caller (proxy_call_uac.xml)
calls through the proxy to a sipp "carrier" (proxy_trunk_auth_uas.xml) that
answers the first INVITE with 407 (MD5, qop=auth) and wants credentials in
the second; the digest response is recomputed here from sipp's trace. The trace shows the CSeq mapping: the
carrier sees INVITE 1, INVITE 2 (with Proxy-Authorization), ACK 2 (the same
credentials), BYE 3; the caller sees its own numbers. Raw sockets for a
SHA-256 401 (the response digest recomputed here), a second challenge for the
same realm passed back to the caller, and a CANCEL after an answered
challenge (CSeq of the retried INVITE toward the carrier, 487 back with the
caller's), a challenged MESSAGE, and a dialog whose INVITE and BYE are both
challenged (ACK and BYE carry the dialog's delta; the BYE is answered too).

OPTIONS probing (probe_interval): two raw "trunk addresses" answer; one goes
silent and is marked down after 2 timeouts (control command 'trunks',
Prometheus metric scraped with curl), a call then skips it, and it is up
again once it answers.

Every port is picked free by the kernel; every wait is bounded."""
import hashlib
import os
import re
import shutil
import socket
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import proxy_call_run as pcr  # noqa: E402  (same PROXY argument)
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
from ctlproto import Client  # noqa: E402

check = pcr.check


def hdr(text, name):
    for line in text.split("\r\n"):
        if line.lower().startswith(name.lower() + ":"):
            return line.split(":", 1)[1].strip()
    return ""


def digest_params(v):
    assert v.startswith("Digest ")
    out = {}
    for k, q, t in re.findall(r'(\w+)=(?:"([^"]*)"|([^,\s]+))', v[7:]):
        out[k.lower()] = q if q else t
    return out


def expected_response(p, method, password, hfn):
    h = lambda s: hfn(s.encode()).hexdigest()
    ha1 = h("%s:%s:%s" % (p["username"], p["realm"], password))
    ha2 = h("%s:%s" % (method, p["uri"]))
    return h("%s:%s:%s:%s:%s:%s" % (ha1, p["nonce"], p["nc"], p["cnonce"], p["qop"], ha2))


def challenge(req, code, hname, value, to_tag="tc"):
    r = pcr.answer(req, code, "Unauthorized" if code == 401 else
                   "Proxy Authentication Required", to_tag).decode()
    r = r.replace("Content-Length: 0\r\n", "%s: %s\r\nContent-Length: 0\r\n" % (hname, value))
    return r.encode()


def answer_options(sock, alive, seconds):
    """Serves OPTIONS on a raw 'trunk address' for a while: 200 when
    alive, silence otherwise. Returns the OPTIONS seen and other requests."""
    seen, other = [], []
    deadline = time.time() + seconds
    while time.time() < deadline:
        sock.settimeout(max(0.01, deadline - time.time()))
        try:
            data, addr = sock.recvfrom(65535)
        except socket.timeout:
            break
        t = data.decode(errors="replace")
        if t.startswith("OPTIONS "):
            seen.append(t)
            if alive:
                sock.sendto(pcr.answer(t, 200, "OK"), addr)
        elif not t.startswith("SIP/2.0"):
            other.append((t, addr))
    return seen, other


def probe_part(tmp):
    """OPTIONS probing: both addresses up, the first goes silent and is
    marked down after 2 timeouts (trunks, metrics), a call then goes straight
    to the second address, the first answers again and is up."""
    a, aport = pcr.udp_sock()
    b, bport = pcr.udp_sock()
    sock = os.path.join(tmp, "probe.sock")
    cfg = """
log_level = info;
mediad_socket = "none";
timer_t1 = 50;
control_socket = "%s";
listen udp 127.0.0.1:5060;
trunk probed {
    address = "127.0.0.1:%d", "127.0.0.1:%d";
    inbound { source = 192.0.2.3; }
    probe_interval = 1;
    probe_down_after = 2;
    probe_up_after = 1;
}
route request {
    if (method == "ACK" || method == "CANCEL") { relay; }
    relay probed;
}
""" % (sock, aport, bport)
    conf = os.path.join(tmp, "probe.conf")
    with open(conf, "w") as f:
        f.write(cfg)
    logf = os.path.join(tmp, "probe.log")
    with open(logf, "w") as lf:
        p = subprocess.Popen([pcr.PROXY, "--config", conf, "--state-dir", tmp, "--workers", "2",
                              "--listen", "udp:127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"],
                             stdout=lf, stderr=subprocess.STDOUT)
    text = lambda: open(logf).read()
    try:
        deadline = time.time() + 10
        while time.time() < deadline and not (os.path.exists(sock) and "running" in text()):
            time.sleep(0.05)
        m = re.search(r"metrics on (http://127\.0\.0\.1:\d+/metrics)", text())
        ports = [int(x) for x in re.findall(r"listening on udp:127\.0\.0\.1:(\d+)", text())]
        check("probe: proxy started (control socket, metrics)", m is not None and ports, text())
        if not m or not ports:
            return
        url, udp = m.group(1), ports[-1]

        def trunk():
            r = Client(sock).call("trunks")
            return next((t for t in r.get("trunks", []) if t.get("name") == "probed"), {})

        def scrape():
            r = subprocess.run(["curl", "-sS", "--max-time", "5", url], capture_output=True,
                               text=True, timeout=10)
            return r.stdout

        # Both answer: up after one success each.
        sa, _ = answer_options(a, True, 1.5)
        sb, _ = answer_options(b, True, 0.2)
        t = trunk()
        pr = {x.get("address"): x for x in t.get("probes", [])}
        ka, kb = "127.0.0.1:%d" % aport, "127.0.0.1:%d" % bport
        check("probe: OPTIONS reach both addresses, well formed",
              sa and sb and "CSeq: 1 OPTIONS" in sa[0] and
              sa[0].startswith("OPTIONS sip:127.0.0.1:%d SIP/2.0" % aport) and
              "Max-Forwards: 70" in sa[0], (sa[:1], sb[:1]))
        check("probe: trunks shows both up, last result 200 OK, an RTT, interval",
              t.get("reachability") == "up" and t.get("probe-interval-s") == 1 and
              pr.get(ka, {}).get("state") == "up" and pr.get(kb, {}).get("state") == "up" and
              pr.get(ka, {}).get("last-result") == "200 OK" and
              pr.get(ka, {}).get("rtt-ms", -1) >= 0, t)
        met = scrape()
        check("probe: metric rampart_proxy_trunk_address_up 1 for both",
              ('rampart_proxy_trunk_address_up{trunk="probed",address="%s"} 1' % ka) in met and
              ('rampart_proxy_trunk_address_up{trunk="probed",address="%s"} 1' % kb) in met,
              met[-1500:])

        # The first address goes silent: down after 2 timeouts (Timer F 3.2 s each).
        deadline = time.time() + 15
        down = False
        while time.time() < deadline and not down:
            answer_options(a, False, 0.3)
            answer_options(b, True, 0.2)
            down = "is down" in text()
        t = trunk()
        pr = {x.get("address"): x for x in t.get("probes", [])}
        check("probe: silent address down after 2 failed probes (logged, trunks)",
              down and pr.get(ka, {}).get("state") == "down" and
              pr.get(ka, {}).get("last-result") == "timeout" and
              pr.get(ka, {}).get("failures-in-row", 0) >= 2 and
              pr.get(kb, {}).get("state") == "up" and t.get("reachability") == "partial",
              (t, text()[-1500:]))
        met = scrape()
        check("probe: metric 0 for the down address, 1 for the other",
              ('rampart_proxy_trunk_address_up{trunk="probed",address="%s"} 0' % ka) in met and
              ('rampart_proxy_trunk_address_up{trunk="probed",address="%s"} 1' % kb) in met,
              met[-1500:])

        # A call now skips the down address: the INVITE goes to b at once.
        caller, cport = pcr.udp_sock()
        caller.sendto(pcr.msg("INVITE", "sip:+4930@example.com", "z9hG4bKpr1", "probe-call-1",
                              1, cport), ("127.0.0.1", udp))
        t0 = time.time()
        got = None
        while time.time() < t0 + 3 and got is None:
            _, other = answer_options(b, True, 0.2)
            got = next((o for o in other if o[0].startswith("INVITE ")), None)
        _, other_a = answer_options(a, False, 0.1)
        check("probe: serial failover skips the down address (INVITE straight to b)",
              got is not None and not any(o[0].startswith("INVITE ") for o in other_a),
              (got, other_a))
        if got:
            b.sendto(pcr.answer(got[0], 486, "Busy Here"), got[1])
            r = pcr.recv_until(caller, lambda x: x.startswith("SIP/2.0 486"), 3)
            check("probe: the call's answer comes back", r is not None)
        caller.close()

        # a answers again: up after one success.
        deadline = time.time() + 6
        up = False
        while time.time() < deadline and not up:
            answer_options(a, True, 0.3)
            answer_options(b, True, 0.1)
            pr = {x.get("address"): x for x in trunk().get("probes", [])}
            up = pr.get(ka, {}).get("state") == "up"
        check("probe: the address is up again after it answers", up, pr)
        check("probe: state change back to up logged", re.search(
            r"trunk probed: %s \(127\.0\.0\.1\) is up" % re.escape(ka), text()) is not None,
            text()[-1500:])
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        a.close()
        b.close()
    check("probe: proxy exited cleanly", p.returncode == 0, text()[-1500:])
    check("probe: no AddressSanitizer report", "AddressSanitizer" not in text(), text()[-3000:])


def main():
    if subprocess.run(["which", "sipp"], capture_output=True).returncode != 0:
        print("SKIP: sipp not installed (scripts/setup installs it)")
        return 77
    tmp = tempfile.mkdtemp(prefix="rp-trunk-")
    sipp_uas = pcr.free_port()
    callee, eport = pcr.udp_sock()
    cfg = """
log_level = info;
mediad_socket = "none";
timer_t1 = 100;
domain = "example.com";
listen udp 127.0.0.1:5060;
trunk carrier {
    address = "127.0.0.1:%d";
    inbound { source = 192.0.2.1; }
    outbound { username = "edge01"; password = "s3cret"; }
}
trunk carrier2 {
    address = "127.0.0.1:%d";
    inbound { source = 192.0.2.2; }
    outbound { username = "edge02"; password = "pa\\"ss"; }
}
route request {
    if (has_header("Route")) { relay; }
    if (method == "ACK" || method == "CANCEL") { relay; }
    record_route;
    if (ruri.user == "sipp") { relay carrier; }
    relay carrier2;
}
""" % (sipp_uas, eport)
    proxy = pcr.Proxy(tmp, cfg)
    udp = proxy.ports["udp"]
    try:
        # 1. sipp caller, sipp carrier with an MD5 407.
        ok, detail, trace = pcr.run_call(tmp, "auth", "proxy_call_uac.xml",
                                         "proxy_trunk_auth_uas.xml", udp, service="sipp",
                                         uas_port=sipp_uas)
        check("sipp: 407 answered with the trunk's credentials, call set up and ended",
              ok, detail + proxy.text()[-1500:])
        seen = re.findall(r"^(INVITE|ACK|BYE) sip:.*?^CSeq: *(\d+) (\w+)", trace, re.M | re.S)
        check("carrier saw INVITE 1, ACK 1 (of the 407), INVITE 2, ACK 2, BYE 3",
              [(m, n) for m, n, _ in seen] ==
              [("INVITE", "1"), ("ACK", "1"), ("INVITE", "2"), ("ACK", "2"), ("BYE", "3")],
              seen)
        msgs = re.split(r"\n-{10,}.*\n", trace)
        inv2 = [m for m in msgs if re.search(r"^INVITE sip:", m, re.M) and
                re.search(r"^CSeq: *2 INVITE", m, re.M)]
        ack2 = [m for m in msgs if re.search(r"^ACK sip:", m, re.M) and
                re.search(r"^CSeq: *2 ACK", m, re.M)]
        pa = re.search(r"^Proxy-Authorization: *(.*)$", inv2[0], re.M) if inv2 else None
        p = digest_params(pa.group(1).strip()) if pa else {}
        rl = re.search(r"^INVITE (\S+) SIP/2.0", inv2[0], re.M) if inv2 else None
        check("retried INVITE: Proxy-Authorization for edge01, MD5, qop=auth, nc=00000001, "
              "a correct response",
              p.get("username") == "edge01" and p.get("algorithm") == "MD5" and
              p.get("qop") == "auth" and p.get("nc") == "00000001" and rl and
              p.get("uri") == rl.group(1) and p.get("realm") == "carrier.example" and
              p.get("opaque") == "0a1b" and
              p.get("response") == expected_response(p, "INVITE", "s3cret", hashlib.md5),
              inv2)
        pa2 = re.search(r"^Proxy-Authorization: *(.*)$", ack2[0], re.M) if ack2 else None
        check("ACK of the 2xx carries the INVITE's credentials (RFC 3261 13.2.2.4)",
              pa and pa2 and pa.group(1).strip() == pa2.group(1).strip(), ack2)
        d = os.path.join(tmp, "auth-0")
        uac_trace = ""
        for fn in os.listdir(d) if os.path.isdir(d) else []:
            if fn.startswith("proxy_call_uac") and fn.endswith("_messages.log"):
                uac_trace = open(os.path.join(d, fn), errors="replace").read()
        resp = re.findall(r"^SIP/2.0 (\d+) .*?^CSeq: *(\d+) (\w+)", uac_trace, re.M | re.S)
        check("caller saw only its own CSeq numbers (200 INVITE 1, 200 BYE 2) and no 407",
              ("200", "1", "INVITE") in resp and ("200", "2", "BYE") in resp and
              not any(c == "407" for c, _, _ in resp), resp)

        # 2. Raw sockets: SHA-256 401; the same realm again goes back.
        caller, cport = pcr.udp_sock()
        ruri = "sip:+4930123@127.0.0.1:%d" % eport
        caller.sendto(pcr.msg("INVITE", ruri, "z9hG4bKta1", "trunk-auth-2", 7, cport),
                      ("127.0.0.1", udp))
        got = pcr.recv_until(callee, lambda t: t.startswith("INVITE "), 3)
        check("raw: INVITE reached the carrier", got is not None)
        if got:
            inv, paddr = got
            chal = ('Digest realm="sbc.carrier", nonce="n0nce-256", opaque="op", '
                    'algorithm=SHA-256, qop="auth,auth-int"')
            callee.sendto(challenge(inv, 401, "WWW-Authenticate", chal), paddr)
            ack = pcr.recv_until(callee, lambda t: t.startswith("ACK "), 3)
            check("raw: the proxy ACKs the 401 itself (CSeq 7)",
                  ack is not None and hdr(ack[0], "CSeq") == "7 ACK", ack)
            got2 = pcr.recv_until(callee, lambda t: t.startswith("INVITE "), 3)
            check("raw: INVITE re-sent with CSeq 8 and a new branch",
                  got2 is not None and hdr(got2[0], "CSeq") == "8 INVITE" and
                  hdr(got2[0], "Via") != hdr(inv, "Via"), got2)
            if got2:
                inv2t = got2[0]
                av = hdr(inv2t, "Authorization")
                p = digest_params(av) if av else {}
                ok = (p.get("username") == "edge02" and p.get("algorithm") == "SHA-256" and
                      p.get("realm") == "sbc.carrier" and p.get("opaque") == "op" and
                      p.get("qop") == "auth" and p.get("uri") == ruri and
                      p.get("response") == expected_response(p, "INVITE", 'pa"ss',
                                                             hashlib.sha256))
                check("raw: Authorization is a valid RFC 8760 SHA-256 response", ok, av)
                check("raw: no Proxy-Authorization for a 401", not hdr(inv2t, "Proxy-Authorization"))
                chal2 = chal.replace("n0nce-256", "n0nce-again")
                callee.sendto(challenge(inv2t, 401, "WWW-Authenticate", chal2, "td"), got2[1])
                back = pcr.recv_until(caller, lambda t: t.startswith("SIP/2.0 401"), 3)
                check("raw: a second 401 for the same realm goes back to the caller, CSeq 7",
                      back is not None and hdr(back[0], "CSeq") == "7 INVITE" and
                      "n0nce-again" in hdr(back[0], "WWW-Authenticate"), back)
                third = pcr.recv_until(callee, lambda t: t.startswith("INVITE "), 1)
                check("raw: no third INVITE", third is None, third)

        # 3. CANCEL after an answered 407: CSeq of the retried INVITE.
        caller.sendto(pcr.msg("INVITE", ruri, "z9hG4bKta3", "trunk-auth-3", 20, cport),
                      ("127.0.0.1", udp))
        got = pcr.recv_until(callee, lambda t: t.startswith("INVITE ") and "trunk-auth-3" in t, 3)
        if got:
            callee.sendto(challenge(got[0], 407, "Proxy-Authenticate",
                                    'Digest realm="c", nonce="x1", algorithm=MD5'), got[1])
        got2 = pcr.recv_until(callee, lambda t: t.startswith("INVITE ") and
                              "trunk-auth-3" in t, 3)
        check("cancel: INVITE re-sent (CSeq 21) with RFC 2069 credentials (no qop)",
              got2 is not None and hdr(got2[0], "CSeq") == "21 INVITE" and
              "qop" not in hdr(got2[0], "Proxy-Authorization") and
              'username="edge02"' in hdr(got2[0], "Proxy-Authorization"), got2)
        if got2:
            callee.sendto(pcr.answer(got2[0], 180, "Ringing"), got2[1])
            r = pcr.recv_until(caller, lambda t: t.startswith("SIP/2.0 180"), 3)
            check("cancel: 180 to the caller with CSeq 20",
                  r is not None and hdr(r[0], "CSeq") == "20 INVITE", r)
            caller.sendto(pcr.msg("CANCEL", ruri, "z9hG4bKta3", "trunk-auth-3", 20, cport),
                          ("127.0.0.1", udp))
            c = pcr.recv_until(callee, lambda t: t.startswith("CANCEL "), 3)
            br = lambda t: re.search(r"branch=([^;\r]+)", t).group(1)
            check("cancel: CANCEL to the carrier with CSeq 21 and the retried INVITE's branch",
                  c is not None and hdr(c[0], "CSeq") == "21 CANCEL" and
                  br(c[0]) == br(got2[0]), c)
            if c:
                callee.sendto(pcr.answer(c[0], 200, "OK"), c[1])
            callee.sendto(pcr.answer(got2[0], 487, "Request Terminated"), got2[1])
            r = pcr.recv_until(caller, lambda t: t.startswith("SIP/2.0 487"), 3)
            check("cancel: 487 to the caller with CSeq 20",
                  r is not None and hdr(r[0], "CSeq") == "20 INVITE", r)
        # 4. A request outside any dialog (MESSAGE): answered the same way.
        caller.sendto(pcr.msg("MESSAGE", ruri, "z9hG4bKta4", "trunk-auth-4", 5, cport),
                      ("127.0.0.1", udp))
        got = pcr.recv_until(callee, lambda t: t.startswith("MESSAGE ") and
                             "trunk-auth-4" in t, 3)
        if got:
            callee.sendto(challenge(got[0], 407, "Proxy-Authenticate",
                                    'Digest realm="m", nonce="mm", algorithm=SHA-256, '
                                    'qop="auth"'), got[1])
        got2 = pcr.recv_until(callee, lambda t: t.startswith("MESSAGE ") and
                              "trunk-auth-4" in t, 3)
        pa = digest_params(hdr(got2[0], "Proxy-Authorization")) if got2 else {}
        check("message: MESSAGE re-sent with CSeq 6 and valid SHA-256 credentials",
              got2 is not None and hdr(got2[0], "CSeq") == "6 MESSAGE" and
              pa.get("response") == expected_response(pa, "MESSAGE", 'pa"ss', hashlib.sha256),
              got2)
        if got2:
            callee.sendto(pcr.answer(got2[0], 200, "OK"), got2[1])
            r = pcr.recv_until(caller, lambda t: t.startswith("SIP/2.0 200") and
                               "trunk-auth-4" in t, 3)
            check("message: 200 to the caller with its CSeq 5",
                  r is not None and hdr(r[0], "CSeq") == "5 MESSAGE", r)
        # 5. A challenge inside a dialog: the INVITE was challenged (delta 1),
        # then the carrier challenges the caller's BYE too (delta 2).
        cid = "trunk-auth-5"
        caller.sendto(pcr.msg("INVITE", ruri, "z9hG4bKta5", cid, 1, cport), ("127.0.0.1", udp))
        got = pcr.recv_until(callee, lambda t: t.startswith("INVITE ") and cid in t, 3)
        if got:
            callee.sendto(challenge(got[0], 407, "Proxy-Authenticate",
                                    'Digest realm="d", nonce="d1", algorithm=MD5'), got[1])
        got2 = pcr.recv_until(callee, lambda t: t.startswith("INVITE ") and cid in t, 3)
        bye_ok = False
        if got2:
            rr = [l for l in got2[0].split("\r\n") if l.lower().startswith("record-route:")]
            ok200 = pcr.answer(got2[0], 200, "OK", "tdlg").decode().replace(
                "Content-Length: 0\r\n", "%s\r\nContact: <sip:carrier@127.0.0.1:%d>\r\n"
                "Content-Length: 0\r\n" % ("\r\n".join(rr), eport))
            callee.sendto(ok200.encode(), got2[1])
            r = pcr.recv_until(caller, lambda t: t.startswith("SIP/2.0 200") and cid in t, 3)
            if r:
                # The caller's route set: the Record-Route values, as received.
                routes = [l.split(":", 1)[1].strip() for l in r[0].split("\r\n")
                          if l.lower().startswith("record-route:")]
                route_hdr = "Route: %s\r\n" % ", ".join(routes)
                caller.sendto(pcr.msg("ACK", "sip:carrier@127.0.0.1:%d" % eport, "z9hG4bKta5a",
                                      cid, 1, cport, route_hdr, ";tag=tdlg"), ("127.0.0.1", udp))
                ack = pcr.recv_until(callee, lambda t: t.startswith("ACK ") and cid in t, 3)
                check("dialog: ACK of the 2xx with CSeq 2 and the INVITE's credentials",
                      ack is not None and hdr(ack[0], "CSeq") == "2 ACK" and
                      hdr(ack[0], "Proxy-Authorization") ==
                      hdr(got2[0], "Proxy-Authorization"), ack)
                caller.sendto(pcr.msg("BYE", "sip:carrier@127.0.0.1:%d" % eport, "z9hG4bKta5b",
                                      cid, 2, cport, route_hdr, ";tag=tdlg"), ("127.0.0.1", udp))
                b1 = pcr.recv_until(callee, lambda t: t.startswith("BYE ") and cid in t, 3)
                check("dialog: BYE to the carrier with CSeq 3 (caller's 2 + 1)",
                      b1 is not None and hdr(b1[0], "CSeq") == "3 BYE", b1)
                if b1:
                    callee.sendto(challenge(b1[0], 401, "WWW-Authenticate",
                                            'Digest realm="d", nonce="d2", algorithm=MD5',
                                            "tdlg"), b1[1])
                    b2 = pcr.recv_until(callee, lambda t: t.startswith("BYE ") and cid in t, 3)
                    pa = digest_params(hdr(b2[0], "Authorization")) if b2 else {}
                    check("dialog: challenged BYE re-sent with CSeq 4 and the trunk's credentials",
                          b2 is not None and hdr(b2[0], "CSeq") == "4 BYE" and
                          pa.get("username") == "edge02" and pa.get("response") ==
                          hashlib.md5(("%s:%s:%s" % (
                              hashlib.md5(b'edge02:d:pa"ss').hexdigest(), "d2",
                              hashlib.md5(("BYE:" + pa.get("uri", "")).encode()).hexdigest()))
                              .encode()).hexdigest(), b2)
                    if b2:
                        callee.sendto(pcr.answer(b2[0], 200, "OK", "tdlg"), b2[1])
                        r = pcr.recv_until(caller, lambda t: t.startswith("SIP/2.0 200") and
                                           "BYE" in hdr(t, "CSeq") and cid in t, 3)
                        bye_ok = r is not None and hdr(r[0], "CSeq") == "2 BYE"
        check("dialog: the BYE's 200 reaches the caller with its CSeq 2", bye_ok)
        check("proxy still running", proxy.alive(), proxy.text()[-2000:])
    finally:
        proxy.stop()
    check("no AddressSanitizer report from the proxy", "AddressSanitizer" not in proxy.text(),
          proxy.text()[-3000:])
    probe_part(tmp)
    if pcr.failures:
        print("FAILED: " + ", ".join(pcr.failures))
        print(proxy.text()[-3000:])
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    print("all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
