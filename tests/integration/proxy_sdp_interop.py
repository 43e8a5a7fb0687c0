#!/usr/bin/env python3
"""proxy_sdp_interop.py PROXY MEDIAD RAMPARTCTL: SDP/SDES interop through a
real rampart-proxy and a real rampart-mediad (temporary control socket, free
ports), SIP peers written by hand on 127.0.0.1/.2/.3:

 L. SDES key lifetimes softphones send (|2^20, |1048576|1:4): an SRTP-only
    offer from a require trunk is bridged (it got 488: the line was skipped
    as "lifetime too short"), our answer key carries no lifetime, mediad
    takes the caller's key; the caller's rekey by re-INVITE (before its
    lifetime runs out) rotates our key too; a lifetime above 2^48 still
    gets 488.
 M. a=rtcp-mux (RFC 5761): the caller's a=rtcp-mux goes on to the callee
    with a=rtcp naming mediad's RTCP port (it was removed); our answer to
    the caller accepts it whatever the callee says. RTCP really flows:
    the caller's RTCP on its RTP port reaches a non-muxing callee's RTCP
    port and the callee's RTCP comes back on the caller's RTP port; after a
    re-INVITE the callee muxes too and gets RTCP on its RTP port; a late
    offer (INVITE without SDP, a=rtcp-mux offered in the 200 and answered
    in the ACK) muxes both legs.
 V. optimistic SRTP (RTP/AVP + a=crypto) with video, a port-0 line, T.38
    (udptl) and m=application: a=crypto only on the lines mediad relays
    (with our keys), every other line port 0 and without a=crypto, both
    ways.
Every port is picked free; every wait is bounded."""
import base64
import os
import re
import socket
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import e2e_common as E  # noqa: E402
from handsip import (Call, Peer, body, crypto_key, hdr, is_req, is_resp, key,  # noqa: E402,F401
                     request, response, sdp, status)
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
from ctlproto import Client  # noqa: E402

PROXY, MEDIAD, CTL = sys.argv[1], sys.argv[2], sys.argv[3]
check = E.check


def sdp_lines(ip, port, proto, lines):
    return ("v=0\r\no=- 1 %d IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"
            "m=audio %d %s 0\r\na=rtpmap:0 PCMU/8000\r\n%s" % (
                int(time.time() * 1000) % 100000, ip, ip, port, proto, lines))


def sections(s):
    """The m= sections of an SDP: [(media, port, proto, text)]."""
    out = []
    for part in re.split(r"(?m)^(?=m=)", s or "")[1:]:
        m = re.match(r"m=(\w+) (\d+) (\S+)", part)
        out.append((m.group(1), int(m.group(2)), m.group(3), part))
    return out


def udp(ip, port=0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((ip, port))
    s.settimeout(2.0)
    return s


def pair(ip):
    """An even RTP port and its RTCP port+1, both bound."""
    for _ in range(50):
        a = udp(ip)
        p = a.getsockname()[1]
        if p % 2 == 0:
            try:
                return a, udp(ip, p + 1)
            except OSError:
                pass
        a.close()
    raise RuntimeError("no RTP port pair")


def rtp(seq):
    return bytes([0x80, 0, seq >> 8, seq & 255, 0, 0, 0, seq & 255, 0, 0, 0x12, 0x34]) + \
        bytes(160)


def rtcp_sr(ssrc=0x1234):
    # RFC 3550 SR, no report blocks: 28 bytes, length 6.
    return bytes([0x80, 200, 0, 6]) + ssrc.to_bytes(4, "big") + bytes(20)


def got(sock, want_first_byte=None, pt=None, seconds=2.0):
    """The next datagram on sock (with payload type byte pt if given)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        sock.settimeout(max(0.05, deadline - time.time()))
        try:
            d = sock.recv(2048)
        except (socket.timeout, BlockingIOError):
            return None
        if pt is None or (len(d) > 1 and d[1] == pt):
            return d
    return None


def drain(*socks):
    for s in socks:
        s.setblocking(False)
        try:
            while s.recv(2048):
                pass
        except (BlockingIOError, OSError):
            pass
        s.setblocking(True)


def bye(c, ok200, uas):
    c.in_dialog("BYE", ok200)
    b, baddr = uas.recv(is_req("BYE"))
    if b:
        uas.send(response(b, 200, "OK", ""), baddr)
    c.caller_gets("BYE", 200)


def mediad_session(sock, callid):
    calls, raw = E.mediad_calls(CTL, sock)
    for s in calls or []:
        if s.get("label") == callid:
            return s, raw
    return None, raw


def mux_of(sock, callid):
    """(leg a rtcp-mux, leg b rtcp-mux) of the call's session, from
    mediad's own session.query; None if there is no such session."""
    cl = Client(sock)
    try:
        for i in cl.ok("session.list").get("sessions", []):
            r = cl.call("session.query", session=i)
            lab = r.get("label")
            if isinstance(lab, bytes):
                lab = lab.decode(errors="replace")
            if r.get("result") in ("ok", b"ok") and lab == callid:
                return (r.get("a", {}).get("rtcp-mux"), r.get("b", {}).get("rtcp-mux"))
        return None
    finally:
        cl.s.close()


def lifetimes(uac, uas, proxy, sock):
    for lt in ("|2^20", "|1048576|1:4"):
        k1 = key()
        c = Call(uac, uas, proxy, "bob", sdp_lines("127.0.0.1", 40000, "RTP/SAVP",
                 "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s%s\r\n" % (k1, lt)))
        c.invite()
        binv = c.callee_gets_invite()
        check("L %s: the SRTP offer reaches the plain core" % lt,
              binv is not None and "a=crypto" not in body(binv) and k1 not in binv,
              binv or c.caller_gets(minimum=200))
        if not binv:
            continue
        c.answer(200, "OK", sdp_lines("127.0.0.2", 42000, "RTP/AVP", ""))
        ok = c.caller_gets(minimum=200)
        a = body(ok or "")
        ours = crypto_key(a)
        check("L %s: the caller gets our key, without a lifetime or MKI" % lt,
              status(ok) == 200 and ours and ours != k1 and
              re.search(r"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:[A-Za-z0-9+/=]+\r\n", a)
              is not None and "|" not in a, ok)
        if status(ok) != 200:
            continue
        c.ack(ok)
        s, raw = mediad_session(sock, c.callid)
        check("L %s: mediad has the caller's key on leg a" % lt, s is not None and
              (s.get("a") or {}).get("srtp-in") == "AES_CM_128_HMAC_SHA1_80", raw)
        # The caller rekeys (its lifetime runs out) by re-INVITE.
        k2 = key()
        c.in_dialog("INVITE", ok, sdp_lines("127.0.0.1", 40000, "RTP/SAVP",
                    "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s%s\r\n" % (k2, lt)))
        reinv, raddr = uas.recv(is_req("INVITE"))
        if reinv:
            uas.send(response(reinv, 200, "OK", "", sdp_lines("127.0.0.2", 42000, "RTP/AVP", ""),
                              uas), raddr)
        r2 = c.caller_gets(minimum=200)
        ours2 = crypto_key(body(r2 or ""))
        check("L %s: the rekey re-INVITE is answered with a new key of ours" % lt,
              status(r2) == 200 and ours2 and ours2 != ours and "|" not in body(r2), r2)
        if r2:
            c.ack(r2)
        bye(c, ok, uas)
    c = Call(uac, uas, proxy, "bob", sdp_lines("127.0.0.1", 40000, "RTP/SAVP",
             "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s|2^49\r\n" % key()))
    c.invite()
    r = c.caller_gets(minimum=200)
    check("L: a lifetime above 2^48 still gets 488", status(r) == 488, r)


def rtcp_mux(uac, uas, proxy, sock):
    a_rtp, a_rtcp = pair("127.0.0.3")
    b_rtp, b_rtcp = pair("127.0.0.2")
    ap, bp = a_rtp.getsockname()[1], b_rtp.getsockname()[1]
    try:
        c = Call(uac, uas, proxy, "bob", sdp_lines("127.0.0.3", ap, "RTP/AVP",
                 "a=rtcp:%d\r\na=rtcp-mux\r\n" % ap))
        c.invite()
        binv = c.callee_gets_invite()
        bs = body(binv or "")
        mb = re.search(r"m=audio (\d+)", bs)
        mport = int(mb.group(1)) if mb else 0
        check("M: the callee is offered a=rtcp-mux and a=rtcp with mediad's RTCP port",
              "a=rtcp-mux\r\n" in bs and ("a=rtcp:%d\r\n" % (mport + 1)) in bs and
              str(ap) not in bs, bs)
        if not binv:
            return
        c.answer(200, "OK", sdp_lines("127.0.0.2", bp, "RTP/AVP", ""))
        ok = c.caller_gets(minimum=200)
        asdp = body(ok or "")
        check("M: our answer to the caller accepts a=rtcp-mux (callee does not mux)",
              status(ok) == 200 and "a=rtcp-mux\r\n" in asdp, ok)
        if status(ok) != 200:
            return
        c.ack(ok)
        aport = int(re.search(r"m=audio (\d+)", asdp).group(1))
        # A retransmitted 200 with SDP after the ACK: rewritten again.
        c.answer(200, "OK", sdp_lines("127.0.0.2", bp, "RTP/AVP", ""))
        again = c.caller_gets(minimum=200)
        ma = re.search(r"m=audio (\d+)", body(again or ""))
        check("M: the 200 retransmitted after the ACK is rewritten again (mediad's port)",
              status(again) == 200 and ma is not None and int(ma.group(1)) == aport and
              str(bp) not in body(again), again)
        mx = mux_of(sock, c.callid)
        check("M: mediad: leg a muxed, leg b not", mx == (1, 0), mx)
        a_rtp.sendto(rtp(1), ("127.0.0.1", aport))
        check("M: RTP caller -> callee", got(b_rtp, pt=0) is not None)
        a_rtp.sendto(rtcp_sr(), ("127.0.0.1", aport))
        check("M: the caller's RTCP on its RTP port reaches the callee's RTCP port",
              got(b_rtcp, pt=200) is not None)
        b_rtp.sendto(rtp(1), ("127.0.0.1", mport))
        check("M: RTP callee -> caller", got(a_rtp, pt=0) is not None)
        b_rtcp.sendto(rtcp_sr(0x5678), ("127.0.0.1", mport + 1))
        check("M: the callee's RTCP (port+1) comes back on the caller's RTP port",
              got(a_rtp, pt=200) is not None)
        # re-INVITE: now the callee muxes as well.
        c.in_dialog("INVITE", ok, sdp_lines("127.0.0.3", ap, "RTP/AVP", "a=rtcp-mux\r\n"))
        reinv, raddr = uas.recv(is_req("INVITE"))
        check("M: the re-INVITE offers a=rtcp-mux to the callee",
              reinv is not None and "a=rtcp-mux\r\n" in body(reinv), reinv)
        if reinv:
            uas.send(response(reinv, 200, "OK", "", sdp_lines("127.0.0.2", bp, "RTP/AVP",
                                                              "a=rtcp-mux\r\n"), uas), raddr)
        r2 = c.caller_gets(minimum=200)
        check("M: re-INVITE answered with a=rtcp-mux", status(r2) == 200 and
              "a=rtcp-mux\r\n" in body(r2), r2)
        if r2:
            c.ack(r2)
        mx = mux_of(sock, c.callid)
        check("M: mediad: both legs muxed after the re-INVITE", mx == (1, 1), mx)
        drain(a_rtp, a_rtcp, b_rtp, b_rtcp)
        a_rtp.sendto(rtcp_sr(), ("127.0.0.1", aport))
        check("M: the caller's RTCP now reaches the callee's RTP port",
              got(b_rtp, pt=200) is not None)
        b_rtp.sendto(rtcp_sr(0x5678), ("127.0.0.1", mport))
        check("M: the callee's muxed RTCP reaches the caller's RTP port",
              got(a_rtp, pt=200) is not None)
        bye(c, ok, uas)
    finally:
        for s_ in (a_rtp, a_rtcp, b_rtp, b_rtcp):
            s_.close()


def late_offer_mux(uac, uas, proxy, sock):
    """INVITE without SDP; the callee offers a=rtcp-mux in the 200, the
    caller answers with it in the ACK: both legs mux."""
    c = Call(uac, uas, proxy, "bob", "")
    c.invite()
    binv = c.callee_gets_invite()
    check("M late: the INVITE without SDP reaches the callee", binv is not None)
    if not binv:
        return
    c.answer(200, "OK", sdp_lines("127.0.0.2", 42200, "RTP/AVP", "a=rtcp-mux\r\n"))
    ok = c.caller_gets(minimum=200)
    o = body(ok or "")
    mo = re.search(r"m=audio (\d+)", o)
    check("M late: the caller gets the callee's offer with a=rtcp-mux and a=rtcp (mediad)",
          status(ok) == 200 and mo is not None and "a=rtcp-mux\r\n" in o and
          ("a=rtcp:%d\r\n" % (int(mo.group(1)) + 1)) in o and "42200" not in o, ok)
    if status(ok) != 200:
        return
    msg, _ = request("ACK", "sip:bob@%s:%d" % (uas.ip, uas.port), uac, c.callid, c.ftag,
                     c.cseq, to_tag=c.ttag, routes=c.routes(ok),
                     body_=sdp_lines("127.0.0.3", 40200, "RTP/AVP", "a=rtcp-mux\r\n"))
    uac.send(msg, proxy)
    ack, _ = uas.recv(is_req("ACK"))
    check("M late: the callee's ACK carries our answer with a=rtcp-mux",
          ack is not None and "a=rtcp-mux\r\n" in body(ack) and "40200" not in body(ack), ack)
    deadline = time.time() + 3
    mx = None
    while time.time() < deadline:
        mx = mux_of(sock, c.callid)
        if mx == (1, 1):
            break
        time.sleep(0.1)
    check("M late: mediad: both legs muxed", mx == (1, 1), mx)
    # The callee retransmits its 200 (as if our ACK were lost): no
    # transaction is left for it (the INVITE's dropped its state with the
    # 2xx), yet the copy is rewritten like the first, never passed on raw.
    c.answer(200, "OK", sdp_lines("127.0.0.2", 42200, "RTP/AVP", "a=rtcp-mux\r\n"))
    again = c.caller_gets(minimum=200)
    ma = re.search(r"m=audio (\d+)", body(again or ""))
    check("M late: the 200 retransmitted after the ACK is rewritten again (mediad's port)",
          status(again) == 200 and ma is not None and ma.group(1) == mo.group(1) and
          "42200" not in body(again) and "c=IN IP4 127.0.0.2" not in body(again),
          (mo.group(1), again))
    bye(c, ok, uas)


def other_lines(uac, uas, proxy, sock, prange):
    k = key()
    offer = ("v=0\r\no=- 1 1 IN IP4 127.0.0.3\r\ns=-\r\nc=IN IP4 127.0.0.3\r\nt=0 0\r\n"
             "m=audio 40100 RTP/AVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s\r\n"
             "m=video 40102 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
             "m=video 0 RTP/AVP 97\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s\r\n"
             "m=image 40104 udptl t38\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s\r\n"
             "m=application 40106 UDP/BFCP *\r\n" % (k, key(), key()))
    c = Call(uac, uas, proxy, "opt", offer)
    c.invite()
    binv = c.callee_gets_invite()
    secs = sections(body(binv or ""))
    check("V: the callee gets all five m= lines", len(secs) == 5, binv)
    if len(secs) != 5:
        c.caller_gets(minimum=200)
        return
    relayed = [prange[0] <= p <= prange[1] for (_, p, _, _) in secs]
    check("V: audio and video relayed, the rest port 0",
          relayed == [True, True, False, False, False] and
          [p for (_, p, _, _) in secs][2:] == [0, 0, 0], secs)
    check("V: a=crypto only on the lines mediad relays, our keys",
          all(("a=crypto:" in t) == r for (_, _, _, t), r in zip(secs, relayed)) and
          k not in body(binv), body(binv))
    ans = ("v=0\r\no=- 2 2 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\n"
           "m=audio 42100 RTP/AVP 0\r\n%s"
           "m=video 42102 RTP/AVP 96\r\n"
           "m=video 0 RTP/AVP 97\r\nm=image 0 udptl t38\r\nm=application 0 UDP/BFCP *\r\n" % (
               re.search(r"a=crypto:1 [^\r]*\r\n", secs[0][3]).group(0).replace(
                   crypto_key(secs[0][3]), key())))
    c.answer(200, "OK", ans)
    ok = c.caller_gets(minimum=200)
    asecs = sections(body(ok or ""))
    check("V: the caller's answer: audio SRTP with our key, video plain, the rest port 0 "
          "without a=crypto",
          status(ok) == 200 and len(asecs) == 5 and "a=crypto:1 " in asecs[0][3] and
          crypto_key(asecs[0][3]) != k and
          all("a=crypto" not in t for (_, _, _, t) in asecs[1:]) and
          [p for (_, p, _, _) in asecs][2:] == [0, 0, 0], ok)
    if status(ok) != 200:
        return
    c.ack(ok)
    n_before = sessions_of(sock, c.callid)
    # re-INVITE: video removed (port 0), T.38 and BFCP still refused.
    c.in_dialog("INVITE", ok, offer.replace("m=video 40102 RTP/AVP 96", "m=video 0 RTP/AVP 96"))
    reinv, raddr = uas.recv(is_req("INVITE"))
    rsecs = sections(body(reinv or ""))
    check("V: re-INVITE without video: the callee sees video at port 0 without a=crypto",
          len(rsecs) == 5 and rsecs[1][1] == 0 and "a=crypto" not in rsecs[1][3] and
          "a=crypto" in rsecs[0][3], reinv)
    if reinv:
        uas.send(response(reinv, 200, "OK", "", ans.replace("m=video 42102 RTP/AVP 96",
                                                            "m=video 0 RTP/AVP 96"), uas), raddr)
    r2 = c.caller_gets(minimum=200)
    if r2:
        c.ack(r2)
    n_after = sessions_of(sock, c.callid)
    check("V: the removed video stream's mediad session is gone (2 -> 1)",
          (n_before, n_after) == (2, 1), (n_before, n_after))
    bye(c, ok, uas)


def sessions_of(sock, callid):
    calls, _ = E.mediad_calls(CTL, sock)
    return sum(1 for s in calls or [] if s.get("label") == callid)


def main():
    d = tempfile.mkdtemp(prefix="rampart-sdp-interop-")
    md = px = None
    try:
        md, sock, prange = E.start_mediad(MEDIAD, d, nports=64, log_level="notice")
        uac = Peer("127.0.0.1")      # access trunk, require
        uac_allow = Peer("127.0.0.3")  # access trunk, allow
        uas = Peer("127.0.0.2")      # the core
        cfg = """
log_level = info;
timer_t1 = 100;
mediad_socket = "%s";
listen udp 127.0.0.1:%d;
trunk access {
    address = "127.0.0.1:9";
    inbound { source = 127.0.0.1/32; }
    media_encryption = require;
    allow_sdes_over_insecure = yes;
}
trunk access_allow {
    address = "127.0.0.3:9";
    inbound { source = 127.0.0.3/32; }
    media_encryption = allow;
    allow_sdes_over_insecure = yes;
}
trunk core {
    address = "127.0.0.2:%d";
    inbound { source = 192.0.2.1/32; }
    media_encryption = disable;
}
trunk core_opt {
    address = "127.0.0.2:%d";
    inbound { source = 192.0.2.2/32; }
    media_encryption = allow;
    allow_sdes_over_insecure = yes;
}
route request {
    if (has_header("Route")) { relay; }
    if (method == "ACK" || method == "CANCEL") { relay; }
    record_route;
    if (ruri.user == "opt") { relay core_opt; }
    relay core;
}
""" % (sock, E.free_port(), uas.port, uas.port)
        px, ports, logf = E.start_proxy(PROXY, d, cfg, want=("udp",))
        proxy = ("127.0.0.1", ports["udp"])
        lifetimes(uac, uas, proxy, sock)
        rtcp_mux(uac_allow, uas, proxy, sock)
        late_offer_mux(uac_allow, uas, proxy, sock)
        other_lines(uac_allow, uas, proxy, sock, prange)
        check("no mediad session left", E.wait_calls(CTL, sock, 0) == 0,
              E.mediad_calls(CTL, sock)[1])
        check("proxy still running", px.poll() is None)
    finally:
        E.stop(px)
        E.stop(md)
    return E.verdict(d)


if __name__ == "__main__":
    sys.exit(main())
