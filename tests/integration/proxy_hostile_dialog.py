#!/usr/bin/env python3
"""proxy_hostile_dialog.py PROXY MEDIAD RAMPARTCTL: what real user agents and
carriers send through a record-routing rampart-proxy with a real
rampart-mediad, from two scripted UAs on UDP sockets (every byte they send
is written here, so each case says exactly what went on the wire).

- A carrier's SIP-I INVITE (RFC 3204 / RFC 3372): multipart/mixed with the
  SDP and an ISUP part (RFC 5621). The SDP part is rewritten to the relay's
  ports (the caller's own address must not reach the callee: a media
  relay bypassed), the ISUP part passes byte for byte, Content-Length
  follows; the callee's multipart 200 is rewritten the same way; a
  multipart body we cannot read (no closing delimiter, two SDP parts) gets
  488, never passed on unread; a multipart without SDP passes as it is.
- Dialog methods through the Record-Route (UDP, plain RTP): a reliable
  183 with an answer where the video stream is refused (port 0) and its
  PRACK with RAck (RFC 3262), UPDATE before the answer with a=sendonly
  (RFC 3311), the 200 and ACK, a re-INVITE with old-style hold
  (c=0.0.0.0, RFC 3264 8.4), INFO / MESSAGE / OPTIONS in the dialog, BYE
  from the callee (the mediad sessions go); a late offer answered in the
  ACK; CANCEL after the 200 (answered 200, never forwarded).
- Header folding (RFC 3261 7.3.1: a value may go on over lines that start
  with SP/HTAB): a folded top Via (the proxy writes it back with
  received/rport), two Via values folded in one line, a folded Route line
  the proxy shortens, a response whose Vias the UAS folded into one line.
  Each was relayed (it got 500 Server Internal Error: the rewritten value
  kept its fold and the editor took the CRLF for header injection).

Ports are picked free at run time; every wait is bounded."""
import os
import re
import socket
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import e2e_common as E  # noqa: E402

PROXY, MEDIAD, CTL = sys.argv[1], sys.argv[2], sys.argv[3]
check = E.check

CONF = """
log_level = info;
realm = "rampart";
domain = "127.0.0.1";
mediad_socket = "%(sock)s";
listen udp 127.0.0.1:%(port)d { media_encryption = allow; }
route request {
    if (has_header("Route")) { relay; }
    if (method == "CANCEL" || method == "ACK") { relay; }
    if (!is_local(ruri.host)) { reply 403 "Relaying Denied"; }
    if (method == "REGISTER") { save; }
    record_route;
    if (!lookup()) { reply 404 "Not Found"; }
    relay;
}
"""

ISUP = b"\x01\x00\x49\x00\x00\x03\x02\x00\x07\x04\x10\x00\x33\x63\x21\x43\x00\x00\x03"
seq = [0]


class UA:
    def __init__(self, user, proxy_port):
        self.user, self.pp = user, proxy_port
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", 0))
        self.port = self.s.getsockname()[1]

    def send(self, data):
        self.s.sendto(data if isinstance(data, bytes) else data.encode("latin1"),
                      ("127.0.0.1", self.pp))

    def recv(self, wait=3.0, skip_100=True):
        """The next message (latin-1 text), or None after 'wait' seconds."""
        self.s.settimeout(wait)
        while True:
            try:
                d = self.s.recv(65536).decode("latin1")
            except socket.timeout:
                return None
            if not (skip_100 and d.startswith("SIP/2.0 100 ")):
                return d

    def request(self, method, ruri, cseq, cid, to_user, from_tag, to_tag=None, route=None,
                ctype=None, body="", extra="", same_branch=False):
        """same_branch: the branch of the last request (the ACK of a non-2xx
        final response, RFC 3261 17.1.1.3)."""
        if not same_branch:
            seq[0] += 1
        t = "%s %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKdlg%d;rport\r\n" % (
            method, ruri, self.port, seq[0])
        if route:
            t += "Route: %s\r\n" % route
        t += ("Max-Forwards: 70\r\nFrom: <sip:%s@127.0.0.1>;tag=%s\r\nTo: <sip:%s@127.0.0.1>%s\r\n"
              "Call-ID: %s\r\nCSeq: %d %s\r\nContact: <sip:%s@127.0.0.1:%d>\r\n%s" % (
                  self.user, from_tag, to_user, ";tag=" + to_tag if to_tag else "", cid, cseq,
                  method, self.user, self.port, extra))
        if ctype:
            t += "Content-Type: %s\r\n" % ctype
        t += "Content-Length: %d\r\n\r\n%s" % (len(body.encode("latin1")), body)
        self.send(t)


def status(m):
    return m.split("\r\n", 1)[0] if m else None


def hdr(m, name):
    for line in m.split("\r\n\r\n", 1)[0].split("\r\n")[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == name.lower():
            return v.strip()
    return None


def body(m):
    return m.split("\r\n\r\n", 1)[1] if m and "\r\n\r\n" in m else ""


def reply(req, code, reason, extra="", ctype=None, b=""):
    """A response to req as a UAS writes it (Via, Record-Route, From, To
    with our tag, Call-ID, CSeq copied)."""
    out = ["SIP/2.0 %d %s" % (code, reason)]
    keep = False
    for line in req.split("\r\n\r\n", 1)[0].split("\r\n")[1:]:
        if line[:1] in (" ", "\t"):
            if keep:            # a folded line of a header we copy
                out.append(line)
            continue
        k = line.split(":", 1)[0].strip().lower()
        keep = k in ("via", "record-route", "from", "call-id", "cseq")
        if keep:
            out.append(line)
        elif k == "to":
            out.append(line if "tag=" in line else line + ";tag=bob1")
    t = "\r\n".join(out) + "\r\n" + extra
    if ctype:
        t += "Content-Type: %s\r\n" % ctype
    return t + "Content-Length: %d\r\n\r\n%s" % (len(b.encode("latin1")), b)


def sdp(port, sess=1, ver=1, c="127.0.0.1", audio_attrs="", video=None):
    t = ("v=0\r\no=- %d %d IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"
         "m=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n%s" % (sess, ver, c, port, audio_attrs))
    if video is not None:
        t += "m=video %d RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n" % video
    return t


def m_ports(sdp_text):
    return [int(p) for p in re.findall(r"^m=\w+ (\d+) ", sdp_text, re.M)]


def content_length_ok(m):
    raw = m.encode("latin1")
    return int(hdr(m, "Content-Length")) == len(raw.split(b"\r\n\r\n", 1)[1])


def register(ua):
    ua.request("REGISTER", "sip:127.0.0.1", 1, "reg-" + ua.user, ua.user, "r" + ua.user,
               extra="Expires: 600\r\n")
    return status(ua.recv())


def multipart_cases(a, b, lo, hi):
    # A carrier's SIP-I INVITE: SDP + ISUP (RFC 3204 section 4 example layout).
    mp = ("--unique-boundary-1\r\nContent-Type: application/sdp\r\n\r\n" + sdp(40000) +
          "\r\n--unique-boundary-1\r\nContent-Type: application/ISUP; version=itu-t92+\r\n"
          "Content-Disposition: signal; handling=optional\r\n\r\n" + ISUP.decode("latin1") +
          "\r\n--unique-boundary-1--\r\n")
    a.request("INVITE", "sip:bob@127.0.0.1", 1, "sipi-1", "bob", "a1",
              ctype='multipart/mixed; boundary="unique-boundary-1"', body=mp)
    inv = b.recv()
    check("SIP-I INVITE reaches the callee", inv and inv.startswith("INVITE "), status(inv))
    if not inv:
        return
    bb = body(inv)
    parts = bb.split("--unique-boundary-1")
    ports = m_ports(bb)
    check("SIP-I INVITE: the SDP part is rewritten to a relay port (the caller's 40000 "
          "must not reach the callee)", len(ports) == 1 and lo <= ports[0] <= hi, bb)
    check("SIP-I INVITE: the ISUP part passes byte for byte",
          len(parts) == 4 and parts[2].endswith("\r\n\r\n" + ISUP.decode("latin1") + "\r\n") and
          "Content-Type: application/ISUP; version=itu-t92+" in parts[2] and parts[3] == "--\r\n",
          repr(bb))
    check("SIP-I INVITE: Content-Length matches the new body", content_length_ok(inv),
          hdr(inv, "Content-Length"))
    check("SIP-I INVITE: Content-Type kept", hdr(inv, "Content-Type") ==
          'multipart/mixed; boundary="unique-boundary-1"', hdr(inv, "Content-Type"))
    # The callee answers in multipart too.
    amp = ("--xyz\r\nContent-Type: application/sdp\r\n\r\n" + sdp(41000, 2) +
           "\r\n--xyz\r\nContent-Type: application/isup\r\n\r\nACM\r\n--xyz--\r\n")
    b.send(reply(inv, 200, "OK", "Contact: <sip:bob@127.0.0.1:%d>\r\n" % b.port,
                 "multipart/mixed;boundary=xyz", amp))
    ok = a.recv()
    ports = m_ports(body(ok)) if ok else []
    check("SIP-I 200: the answer's SDP part is rewritten to a relay port",
          status(ok) == "SIP/2.0 200 OK" and len(ports) == 1 and lo <= ports[0] <= hi,
          ok)
    check("SIP-I 200: the other part kept, Content-Length right", ok and
          body(ok).endswith("\r\n--xyz\r\nContent-Type: application/isup\r\n\r\nACM\r\n--xyz--\r\n")
          and content_length_ok(ok), ok)
    if ok:
        rr = hdr(inv, "Record-Route")
        a.request("ACK", "sip:bob@127.0.0.1:%d" % b.port, 1, "sipi-1", "bob", "a1", "bob1",
                  route=rr)
        b.recv()
        a.request("BYE", "sip:bob@127.0.0.1:%d" % b.port, 2, "sipi-1", "bob", "a1", "bob1",
                  route=rr)
        bye = b.recv()
        if bye:
            b.send(reply(bye, 200, "OK"))
            a.recv()

    # Multipart bodies we cannot read: 488, the callee sees nothing.
    bad = [("no closing delimiter", "multipart/mixed;boundary=b1",
            "--b1\r\nContent-Type: application/sdp\r\n\r\n" + sdp(40000)),
           ("two SDP parts", "multipart/alternative;boundary=b1",
            "--b1\r\nContent-Type: application/sdp\r\n\r\n" + sdp(40000) +
            "\r\n--b1\r\nContent-Type: application/sdp\r\n\r\n" + sdp(40002) + "\r\n--b1--\r\n"),
           ("no boundary parameter", "multipart/mixed", mp)]
    for i, (label, ct, bd) in enumerate(bad):
        a.request("INVITE", "sip:bob@127.0.0.1", 1, "sipi-bad-%d" % i, "bob", "a1", ctype=ct,
                  body=bd)
        r = a.recv()
        check("multipart with %s -> 488" % label, status(r) is not None and
              status(r).startswith("SIP/2.0 488 "), status(r))
        if r:
            a.request("ACK", "sip:bob@127.0.0.1", 1, "sipi-bad-%d" % i, "bob", "a1",
                      hdr(r, "To").split("tag=")[-1], same_branch=True)
        leak = b.recv(0.5)
        check("multipart with %s: nothing reaches the callee" % label, leak is None,
              status(leak))
    # No SDP part: the body passes as it is (an INVITE without an offer).
    isup_only = "--b1\r\nContent-Type: application/isup\r\n\r\nIAM\r\n--b1--\r\n"
    a.request("INVITE", "sip:bob@127.0.0.1", 1, "sipi-nosdp", "bob", "a1",
              ctype="multipart/mixed;boundary=b1", body=isup_only)
    inv = b.recv()
    check("multipart without SDP passes unchanged", inv is not None and body(inv) == isup_only,
          inv)
    if inv:
        b.send(reply(inv, 486, "Busy Here"))
        r = a.recv()
        if r:
            a.request("ACK", "sip:bob@127.0.0.1", 1, "sipi-nosdp", "bob", "a1", "bob1",
                      same_branch=True)


def mediad_count(sock):
    calls, raw = E.mediad_calls(CTL, sock)
    return -1 if calls is None else len(calls)


def dialog_cases(a, b, lo, hi, sock):
    drain(a, b)
    cid = "dlg-1"
    a.request("INVITE", "sip:bob@127.0.0.1", 1, cid, "bob", "a1", ctype="application/sdp",
              body=sdp(40000, video=40002), extra="Supported: 100rel\r\n")
    inv = b.recv()
    ports = m_ports(body(inv)) if inv else []
    check("INVITE audio+video: both streams on relay ports", len(ports) == 2 and
          all(lo <= x <= hi for x in ports), inv)
    if not inv:
        return
    rr, ruri_b = hdr(inv, "Record-Route"), "sip:bob@127.0.0.1:%d" % b.port
    b.send(reply(inv, 183, "Session Progress", "Require: 100rel\r\nRSeq: 1\r\nContact: "
                 "<sip:bob@127.0.0.1:%d>\r\n" % b.port, "application/sdp", sdp(41000, 2, video=0)))
    r = a.recv()
    ports = m_ports(body(r)) if r else []
    check("reliable 183: RSeq kept, audio on a relay port, the refused video stays port 0",
          status(r) == "SIP/2.0 183 Session Progress" and hdr(r, "RSeq") == "1" and
          len(ports) == 2 and lo <= ports[0] <= hi and ports[1] == 0, r)
    a.request("PRACK", ruri_b, 2, cid, "bob", "a1", "bob1", route=rr,
              extra="RAck: 1 1 INVITE\r\n")
    pr = b.recv()
    check("PRACK follows the route set with its RAck", pr is not None and
          pr.startswith("PRACK " + ruri_b) and hdr(pr, "RAck") == "1 1 INVITE", pr)
    if pr:
        b.send(reply(pr, 200, "OK"))
        check("200 to the PRACK relayed", status(a.recv()) == "SIP/2.0 200 OK")
    a.request("UPDATE", ruri_b, 3, cid, "bob", "a1", "bob1", route=rr, ctype="application/sdp",
              body=sdp(40000, 1, 2, audio_attrs="a=sendonly\r\n", video=40002))
    up = b.recv()
    check("UPDATE before the answer: rewritten, a=sendonly kept", up is not None and
          "a=sendonly" in body(up) and lo <= m_ports(body(up))[0] <= hi, up)
    if up:
        b.send(reply(up, 200, "OK", "", "application/sdp",
                     sdp(41000, 2, 2, audio_attrs="a=recvonly\r\n", video=0)))
        r = a.recv()
        check("200 to the UPDATE: answer rewritten, a=recvonly kept", status(r) == "SIP/2.0 200 OK"
              and "a=recvonly" in body(r) and lo <= m_ports(body(r))[0] <= hi, r)
    b.send(reply(inv, 200, "OK", "Contact: <sip:bob@127.0.0.1:%d>\r\n" % b.port))
    check("200 to the INVITE", status(a.recv()) == "SIP/2.0 200 OK")
    a.request("ACK", ruri_b, 1, cid, "bob", "a1", "bob1", route=rr)
    check("ACK through the route set", (b.recv() or "").startswith("ACK " + ruri_b))
    # Old-style hold (RFC 3264 8.4: c=0.0.0.0).
    a.request("INVITE", ruri_b, 4, cid, "bob", "a1", "bob1", route=rr, ctype="application/sdp",
              body=sdp(40000, 1, 3, c="0.0.0.0", video=40002))
    ri = b.recv()
    check("re-INVITE with c=0.0.0.0: the hold address reaches the callee", ri is not None and
          "c=IN IP4 0.0.0.0" in body(ri) and "c=IN IP4 127.0.0.1" not in body(ri), ri)
    if ri:
        b.send(reply(ri, 200, "OK", "", "application/sdp", sdp(41000, 2, 3, video=0)))
        check("200 to the re-INVITE", status(a.recv()) == "SIP/2.0 200 OK")
        a.request("ACK", ruri_b, 4, cid, "bob", "a1", "bob1", route=rr)
        b.recv()
    for k, meth in enumerate(("INFO", "MESSAGE", "OPTIONS")):
        a.request(meth, ruri_b, 10 + k, cid, "bob", "a1", "bob1", route=rr, ctype="text/plain",
                  body="hello")
        x = b.recv()
        ok = x is not None and x.startswith(meth + " " + ruri_b) and body(x) == "hello"
        if x:
            b.send(reply(x, 200, "OK"))
            ok = ok and status(a.recv()) == "SIP/2.0 200 OK"
        check("%s in the dialog: relayed with its body, 200 back" % meth, ok, x)
    check("mediad holds the call's sessions", mediad_count(sock) > 0)
    # BYE from the callee, back along the route set.
    seq[0] += 1
    b.send("BYE sip:alice@127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch="
           "z9hG4bKbye%d;rport\r\nRoute: %s\r\nMax-Forwards: 70\r\nFrom: <sip:bob@127.0.0.1>;"
           "tag=bob1\r\nTo: <sip:alice@127.0.0.1>;tag=a1\r\nCall-ID: %s\r\nCSeq: 1 BYE\r\n"
           "Content-Length: 0\r\n\r\n" % (a.port, b.port, seq[0], rr, cid))
    bye = a.recv()
    check("BYE from the callee reaches the caller", bye is not None and bye.startswith("BYE "), bye)
    if bye:
        a.send(reply(bye, 200, "OK"))
        check("200 to the callee's BYE", status(b.recv()) == "SIP/2.0 200 OK")
    check("the call's mediad sessions are gone after BYE", E.wait_calls(CTL, sock, 0) == 0)

    # Late offer: the 200 offers, the ACK answers.
    a.request("INVITE", "sip:bob@127.0.0.1", 1, "late-1", "bob", "a1")
    inv = b.recv()
    if inv:
        rr = hdr(inv, "Record-Route")
        b.send(reply(inv, 200, "OK", "Contact: <sip:bob@127.0.0.1:%d>\r\n" % b.port,
                     "application/sdp", sdp(41000)))
        ok = a.recv()
        check("late offer: the 200's SDP rewritten", ok is not None and
              lo <= (m_ports(body(ok)) or [0])[0] <= hi, ok)
        a.request("ACK", ruri_b, 1, "late-1", "bob", "a1", "bob1", route=rr,
                  ctype="application/sdp", body=sdp(40000))
        ack = b.recv()
        check("late offer: the ACK's answer rewritten", ack is not None and
              ack.startswith("ACK ") and lo <= (m_ports(body(ack)) or [0])[0] <= hi, ack)
        a.request("BYE", ruri_b, 2, "late-1", "bob", "a1", "bob1", route=rr)
        x = b.recv()
        if x:
            b.send(reply(x, 200, "OK"))
            a.recv()
    # CANCEL that crosses the 200: the 200 goes through, the CANCEL is
    # answered here and not forwarded (RFC 3261 9.2, 16.10).
    a.request("INVITE", "sip:bob@127.0.0.1", 1, "race-1", "bob", "a1", ctype="application/sdp",
              body=sdp(40000))
    inv = b.recv()
    if inv:
        b.send(reply(inv, 200, "OK", "Contact: <sip:bob@127.0.0.1:%d>\r\n" % b.port,
                     "application/sdp", sdp(41000)))
        ok = a.recv()
        a.request("CANCEL", "sip:bob@127.0.0.1", 1, "race-1", "bob", "a1", same_branch=True)
        r = a.recv()
        check("CANCEL after the 200: the 200 relayed, the CANCEL answered 200",
              status(ok) == "SIP/2.0 200 OK" and status(r) == "SIP/2.0 200 OK" and
              hdr(r, "CSeq") == "1 CANCEL", (ok, r))
        check("CANCEL after the 200: not forwarded to the callee", b.recv(0.5) is None)
        rr = hdr(inv, "Record-Route")
        a.request("ACK", ruri_b, 1, "race-1", "bob", "a1", "bob1", route=rr)
        b.recv()
        a.request("BYE", ruri_b, 2, "race-1", "bob", "a1", "bob1", route=rr)
        x = b.recv()
        if x:
            b.send(reply(x, 200, "OK"))
            a.recv()


def drain(*uas):
    """Reads what earlier cases left (retransmissions) until 0.3 s of quiet."""
    for ua in uas:
        while ua.recv(0.3, skip_100=False) is not None:
            pass


def folding_cases(a, b, pport):
    drain(a, b)
    def message(cid, via=None, route=None, ruri="sip:bob@127.0.0.1", to_tag=""):
        via = via or "SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s;rport" % (a.port, cid)
        a.send("MESSAGE %s SIP/2.0\r\nVia: %s\r\n%sMax-Forwards: 70\r\nFrom: "
               "<sip:alice@127.0.0.1>;tag=f%s\r\nTo: <sip:bob@127.0.0.1>%s\r\nCall-ID: %s\r\n"
               "CSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n" % (
                   ruri, via, "Route: %s\r\n" % route if route else "", cid, to_tag, cid))
        return b.recv(), cid

    p = a.port
    for i, (label, via) in enumerate([("folded after the protocol", "SIP/2.0/UDP\r\n 127.0.0.1:%d;branch="
                        "z9hG4bKfold1;rport" % p),
                       ("folded before the parameters", "SIP/2.0/UDP 127.0.0.1:%d\r\n\t;branch="
                        "z9hG4bKfold2;rport" % p),
                       ("two values folded in one line", "SIP/2.0/UDP 127.0.0.1:%d;branch="
                        "z9hG4bKfold3;rport,\r\n SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx" % p)]):
        r, cid = message("fold-%d" % i, via)
        check("Via %s: relayed" % label, r is not None and r.startswith("MESSAGE "), status(r))
        if r:
            b.send(reply(r, 200, "OK"))
            ok = a.recv()
            check("Via %s: the 200 comes back with received/rport" % label,
                  status(ok) == "SIP/2.0 200 OK" and "received=127.0.0.1;rport=%d" % p in ok,
                  ok)
    # A UAS that folds all the Vias of its response into one line.
    r, cid = message("fold-resp")
    if r:
        vias = [line[5:] for line in r.split("\r\n") if line.startswith("Via: ")]
        lines, folded = [], False
        for line in reply(r, 200, "OK").split("\r\n"):
            if line.startswith("Via: "):
                if not folded:
                    lines.append("Via: " + ",\r\n ".join(vias))
                    folded = True
            else:
                lines.append(line)
        b.send("\r\n".join(lines))
        ok = a.recv()
        check("a response with its Vias folded in one line: ours popped, relayed",
              status(ok) == "SIP/2.0 200 OK" and ok.count("Via") == 1 and
              "branch=z9hG4bKfold-resp;" in ok, ok)
    # A folded Route line the proxy shortens (its own value removed).
    r, cid = message("fold-route", route="<sip:127.0.0.1:%d;lr>, <sip:127.0.0.1:%d;lr>,\r\n "
                     "<sip:127.0.0.1:%d;lr;x=1>" % (pport, b.port, b.port),
                     ruri="sip:bob@127.0.0.1:%d" % b.port, to_tag=";tag=t1")
    check("a folded Route line: our value removed, the rest relayed", r is not None and
          hdr(r, "Route") is not None and hdr(r, "Route").startswith(
              "<sip:127.0.0.1:%d;lr>," % b.port) and ";x=1>" in r and
          "127.0.0.1:%d;lr" % pport not in r.split("\r\n\r\n")[0].split("Route:", 1)[1], r)
    if r:
        b.send(reply(r, 200, "OK"))
        a.recv()


def main():
    d = tempfile.mkdtemp(prefix="rampart-hostile-dialog-")
    md = px = None
    try:
        md, sock, (lo, hi) = E.start_mediad(MEDIAD, d, nports=64, log_level="notice")
        px, ports, logf = E.start_proxy(PROXY, d, CONF % {"sock": sock, "port": E.free_port_both()},
                                        want=("udp",))
        a, b = UA("alice", ports["udp"]), UA("bob", ports["udp"])
        check("alice registers", register(a) == "SIP/2.0 200 OK")
        check("bob registers", register(b) == "SIP/2.0 200 OK")
        multipart_cases(a, b, lo, hi)
        folding_cases(a, b, ports["udp"])
        dialog_cases(a, b, lo, hi, sock)
        check("proxy still running", px.poll() is None)
    finally:
        E.stop(px)
        E.stop(md)
    return E.verdict(d)


if __name__ == "__main__":
    sys.exit(main())
