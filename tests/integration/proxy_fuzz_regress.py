#!/usr/bin/env python3
"""proxy_fuzz_regress.py PROXY MEDIAD: what tests/tools/sipfuzz.py found,
one case each, against the same setup (a real rampart-mediad, the proxy with
UDP/TCP/TLS listeners, control socket and metrics, the fake UAS as a
registered user and as a trunk; sipfuzz.Fuzzer.start()).

- call.drop of an answered call whose caller sent a 40 KB Contact: the
  mediad session must go with the call (the ids were read through a 1 KB
  buffer together with the whole dialog; it did not fit and the session
  stayed, owned by no call); and both sides get the BYE (the caller's,
  with that Contact as its Request-URI, did not fit the 8 KB the BYE was
  built in: none went, and call.drop said nothing of it).
- A BYE that cannot be relayed (Route: <urn:service:sos>, 404 No Usable
  Destination) must leave the call and its session as they were (it took
  the call out of the registry, the session stayed with no call); the
  caller's proper BYE then ends both.
- A request to relay whose top Via holds a bare CR (SIP/2.0<CR>/UDP) got
  500 Server Internal Error (the editor refuses the rewritten Via): now
  400 Bad Via; now the parser refuses a bare CR in any header field (header
  smuggling): no usable Via, so the request is dropped unanswered; a bare CR
  in another header gets 400 Bad Header; no INVITE leaves a mediad session.
- An INVITE whose From host is 256.256.256.256 (accepted: a proxy need not
  parse the From URI) through the trunk, answered 180, a 200 whose SDP does
  not parse, then a good 200: the kept request was parsed again with its
  From URI to make the 488 and the ACK + BYE, that failed, and the mediad
  session stayed with no call (the caller got no final answer). UDP and
  TLS, with and without a From tag. Also the ACK of a callee's 486.

- The caller's CANCEL right behind its INVITE, the callee's 180 and 200
  sent before the CANCEL reached it (its 200 to the CANCEL, no 487): the
  proxy ended the call in the registry at the CANCEL, and the 200's late
  offer (the INVITE's Content-Type misspelt, so no offer in it) got a
  mediad session no call owned; the call and media now end with the final
  answer, and a 2xx keeps them (sipfuzz seed 14, with and without SDP).

- A 200 with over 4 KB of Contact or Record-Route, then a 200 of another
  dialog with no transaction left: never relayed (the call's dialog was
  read through 4 KB: it did not fit, and the other dialog's 200 went to
  the caller as a retransmission, its SDP given to the media layer).

- A control error-reason that quotes the client's bytes (unknown command,
  unknown suite) is valid UTF-8, from both daemons (they were echoed raw).

- The caller's BYE while mediad does not answer: relayed and answered, and
  the mediad session that could not be deleted is logged with the reason
  (rp_media_end()'s error was dropped).

- A user part with ';' (sip:carol;x=y@host): saved and found as one AOR
  "carol;x=y", apart from "carol" (RFC 3261 10.3, 19.1.4, 25.1).

Every wait is bounded; ports are picked at run time."""
import argparse
import contextlib
import os
import re
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import sipfuzz as F  # noqa: E402
import ctlproto  # noqa: E402

failures = []


def check(name, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else ": " + str(detail)[:1500]))
    sys.stdout.flush()
    if not cond:
        failures.append(name)


def answered_call(fz, contact_extra, target="sip:bob@rampart.test", out=None, in_uri=False):
    """An INVITE over UDP to target (plain RTP), answered 200 by the fake
    UAS; returns (proxy call dict, mediad session id) or (None, None); out
    (a dict) gets the 200 and the Call-ID."""
    s = fz.udp[0]
    port = s.getsockname()[1]
    fz.flush_udp()
    cid = "regress-%d" % time.time_ns()
    inv = fz.req("INVITE", target, port=port, cid=cid, ftag="rg", cseq=1, to=target[4:],
                 body=F.sdp(fz.rng, 40000, srtp=False))
    inv = inv.replace(b"Contact: <sip:alice@127.0.0.1:%d>" % port,
                      (b"Contact: <sip:alice@127.0.0.1:%d;%s>" if in_uri else
                       b"Contact: <sip:alice@127.0.0.1:%d>;%s") % (port, contact_extra.encode()))
    fz.dsend(s, inv)
    final = None
    deadline = time.time() + 8
    while time.time() < deadline:
        d = fz.recv_udp(s, deadline - time.time())
        if d is None:
            break
        if re.match(rb"SIP/2.0 [2-6]\d\d ", d):
            final = d
            break
    check("INVITE to %s (Contact parameter of %d bytes) answered 200" % (target, len(contact_extra)), final and final.startswith(b"SIP/2.0 200"),
          final and final[:200])
    if not final:
        return None, None
    if out is not None:
        out.update(final=final, cid=cid)
    pc = ctlproto.Client(fz.csock)
    for c in pc.ok("calls").get("calls", []):
        if c.get("call-id") == cid:
            return c, c.get("session")
    return None, None


@contextlib.contextmanager
def scripted_uas(fz, cid, fn):
    """Within the block the fake UAS hands what carries Call-ID cid to
    fn(data, addr) instead of answering it itself; the rest as usual."""
    orig = fz.uas.handle

    def handle(data, addr):
        if cid.encode() not in data:
            return orig(data, addr)
        return fn(data, addr)

    fz.uas.handle = handle
    try:
        yield
    finally:
        fz.uas.handle = orig


def dialog_of(fz, d):
    """The caller's side of the call answered_call() put in d: its socket,
    that socket's port, the callee's To tag, the Record-Route and the
    Contact URI of the 200."""
    s = fz.udp[0]
    _, fh, _ = F.parse(d["final"])
    return (s, s.getsockname()[1], re.search(r";tag=([^;>]+)", F.hval(fh, "To")).group(1),
            F.hval(fh, "Record-Route"), re.search(r"<([^>]+)>", F.hval(fh, "Contact")).group(1))


def drop_long_contact(fz, in_uri):
    """call.drop of an answered call whose caller's Contact carries a 40 KB
    parameter (of the header, or of the URI: then it is in the BYE's
    Request-URI): BYE to both sides, said so, the mediad session gone."""
    where = "URI" if in_uri else "header"
    fz.uas.rng.seed(12345)      # answers 200 (no 486, no silence) for this seed
    uas_got = []
    orig = fz.uas.handle
    fz.uas.handle = lambda d, a: (uas_got.append(d), orig(d, a))
    try:
        long_param = "x=" + "y" * 40000
        port = fz.udp[0].getsockname()[1]
        d = {}
        call, sess = answered_call(fz, long_param, out=d, in_uri=in_uri)
        check("the call is listed with a mediad session", call is not None and sess, call)
        if not call:
            return
        r = ctlproto.Client(fz.csock).call("call.drop", id=call["id"])
        check("call.drop answered ok", r.get("result") == "ok", r)
        check("call.drop (40 KB Contact %s parameter) says the BYE went to both sides" % where,
              r.get("bye-caller") == "sent" and r.get("bye-callee") == "sent", r)
        bye = None
        deadline = time.time() + 5
        while time.time() < deadline:
            bye = fz.recv_udp(fz.udp[0], deadline - time.time(), want=b"BYE ")
            if bye is None or d["cid"].encode() in bye:
                break
        if bye:   # answered: no retransmission into the next case
            fz.dsend(fz.udp[0], fz.uas.reply(bye, 200, "OK"))
        ruri = b"BYE sip:alice@127.0.0.1:%d%s SIP/2.0" % (
            port, (";" + long_param).encode() if in_uri else b"")
        check("the caller gets a BYE to its Contact (40 KB %s parameter)" % where,
              bye is not None and bye.split(b"\r\n", 1)[0] == ruri, bye and bye[:300])
        deadline = time.time() + 5
        while time.time() < deadline and not any(d.startswith(b"BYE ") for d in uas_got):
            time.sleep(0.05)
        check("the callee gets a BYE", any(d.startswith(b"BYE ") for d in uas_got),
              [d[:80] for d in uas_got])
        gone = False
        deadline = time.time() + 5
        while time.time() < deadline and not gone:
            now = fz.mediad_sessions()
            gone = now is not None and sess not in now
            time.sleep(0.1)
        check("call.drop of a call with a 40 KB caller Contact (%s parameter): the mediad "
              "session is deleted" % where, gone, fz.mediad_sessions())
    finally:
        fz.uas.handle = orig


def bye_not_relayed(fz):
    fz.uas.rng.seed(12345)
    d = {}
    target = "sip:+15551234@trunk.test"
    call, sess = answered_call(fz, "x=1", target, d)
    if not call:
        check("a call through the trunk", False)
        return
    s, port, ttag, rr, contact = dialog_of(fz, d)

    def bye(route, cseq):
        fz.dsend(s, fz.req("BYE", contact, port=port, cid=d["cid"], ftag="rg", cseq=cseq,
                           to=target[4:], ttag=ttag, extra=[("Route", route)]))
        deadline = time.time() + 5
        while time.time() < deadline:
            r = fz.recv_udp(s, deadline - time.time(), want=b"SIP/2.0 ")
            if r and b"BYE" in r.split(b"CSeq:", 1)[-1][:20]:
                return r.split(b"\r\n", 1)[0]
        return None

    def state():
        calls = ctlproto.Client(fz.csock).ok("calls").get("calls", [])
        return [c for c in calls if c.get("call-id") == d["cid"]], fz.mediad_sessions()

    fz.dsend(s, fz.req("ACK", contact, port=port, cid=d["cid"], ftag="rg", cseq=1, to=target[4:],
                       ttag=ttag, extra=[("Route", rr)]))
    st = bye("<urn:service:sos>", 2)
    check("BYE with Route <urn:service:sos>: 404 No Usable Destination",
          st == b"SIP/2.0 404 No Usable Destination", st)
    calls, sessions = state()
    check("a BYE that was not relayed leaves the call and its mediad session",
          len(calls) == 1 and sessions is not None and sess in sessions, (calls, sessions))
    st = bye(rr, 3)
    check("the caller's BYE along the Record-Route: 200", st == b"SIP/2.0 200 OK", st)
    deadline = time.time() + 5
    while time.time() < deadline:
        calls, sessions = state()
        if not calls and sessions is not None and sess not in sessions:
            break
        time.sleep(0.1)
    check("then the call and its session are gone", not calls and sessions is not None and
          sess not in sessions, (calls, sessions))


def bare_cr_via(fz):
    s = fz.udp[0]
    port = s.getsockname()[1]
    before = fz.mediad_sessions()
    for method, body in (("MESSAGE", "hi"), ("INVITE", F.sdp(fz.rng, 40000, srtp=False))):
        for bad in ("SIP/2.0\r/UDP 127.0.0.1:%d" % port, "SIP/2.0/UDP 127.0.0.1:%d\r" % port):
            m = fz.req(method, "sip:bob@rampart.test", port=port, body=body).replace(
                b"SIP/2.0/UDP 127.0.0.1:%d" % port, bad.encode(), 1)
            fz.flush_udp()
            fz.dsend(s, m)
            # The parser refuses a bare CR in any header field (header
            # smuggling); with no usable Via there is nobody to answer.
            r = fz.recv_udp(s, 1.5, want=b"SIP/2.0 ")
            check("%s with Via %r: dropped, no answer" % (method, bad), r is None, r)
        # A bare CR elsewhere: 400 Bad Header, never relayed with it.
        m = fz.req(method, "sip:bob@rampart.test", port=port, body=body,
                   extra=[("X-A", "a\rInjected: 1")])
        fz.flush_udp()
        fz.dsend(s, m)
        r = fz.recv_udp(s, 5, want=b"SIP/2.0 4")
        st = r.split(b"\r\n", 1)[0] if r else r
        check("%s with a bare CR in X-A: 400 Bad Header" % method,
              st == b"SIP/2.0 400 Bad Header", st)
        if method == "INVITE" and r:
            # The ACK of the 400 (same branch, hop by hop).
            fz.dsend(s, m.replace(b"INVITE sip:", b"ACK sip:", 1).replace(
                b" INVITE\r\n", b" ACK\r\n", 1))
    deadline = time.time() + 5
    after = None
    while time.time() < deadline:
        after = fz.mediad_sessions()
        if after == before:
            break
        time.sleep(0.1)
    check("no mediad session left by the refused INVITEs", after == before, (before, after))


def refused_then_good_200(fz, tp, ftag, badhost, big):
    """An INVITE with SDP through the trunk; the callee sends 180, a 200
    whose SDP does not parse (refused by the media layer: 488 to the
    caller, ACK + BYE to the callee) and at once a good 200 of the same
    dialog. No mediad session may stay without a call (sipfuzz seed 200)."""
    T = tp.upper()
    label = "%s, From %s%s%s" % (T, "with a tag" if ftag else "without a tag",
                                 ", host 256.256.256.256" if badhost else "",
                                 ", 40 KB Content-Type and Via parameter" if big else "")
    cid = "regress-2x200-%s-%s-%d" % (tp, "t" if ftag else "n", time.time_ns())
    before = fz.mediad_sessions()
    uas = fz.uas
    seen = []

    def scripted(data, addr):
        if data.startswith(b"INVITE "):
            _, hdrs, body = F.parse(data)
            good = F.sdp(fz.rng, 30466, srtp="RTP/SAVP" in body, sess=7, ver=2)
            bad = good.replace("v=0\r\n", "v=0\r\n=\r\n", 1)
            r200 = uas.reply(data, 200, "OK", bad)
            if big:
                # As the fuzzer's was: a 40 KB parameter on our Via, our
                # Record-Route replaced by a long one in our domain.
                r200 = re.sub(rb"(Via: SIP/2.0/UDP [^\r]*;rport)", lambda m: m.group(1) + b";" +
                              b"x" * 40000, r200, 1)
                r200 = re.sub(rb"Record-Route: <[^>]*>", b"Record-Route: <sip:" + b"a" * 5000 +
                              b"@rampart.test>", r200, 1)
            for msg in (uas.reply(data, 180, "Ringing"), r200, uas.reply(data, 200, "OK", good)):
                uas.s.sendto(msg, addr)
        elif data.startswith(b"BYE "):
            seen.append("BYE")
            uas.s.sendto(uas.reply(data, 200, "OK"), addr)
        elif data.startswith(b"ACK "):
            seen.append("ACK")

    with scripted_uas(fz, cid, scripted):
        inv = fz.req("INVITE", "sip:+1555@trunk.test", tp=T, cid=cid, ftag="rg2",
                     port=fz.udp[0].getsockname()[1] if tp == "udp" else 9,
                     body=F.sdp(fz.rng, 40036, srtp=(tp == "tls")))
        if badhost:
            # As the fuzzer's was: a host that is no IPv4 address (a proxy
            # need not parse the From URI, RFC 3261 16.3).
            inv = inv.replace(b"From: <sip:alice@rampart.test>",
                              b"From: <sip:x@256.256.256.256>", 1)
        if not ftag:
            inv = inv.replace(b";tag=rg2", b"", 1)
        if big:
            inv = inv.replace(b"Content-Type: application/sdp",
                              b"Content-Type: application/sdp;" + b"x" * 40000, 1)
        got = b""
        if tp == "udp":
            s = fz.udp[0]
            fz.flush_udp()
            fz.dsend(s, inv)
            deadline = time.time() + 3
            while time.time() < deadline:
                d = fz.recv_udp(s, deadline - time.time(), want=b"SIP/2.0 ")
                if d:
                    got += d
        else:
            s = fz.stream(tp, fresh=True)
            fz.trace(tp, inv)
            s.sendall(inv)
            deadline = time.time() + 3
            while time.time() < deadline:
                d, closed = fz.drain(s, 0.5)
                got += d
                if closed:
                    break
        finals = re.findall(rb"SIP/2.0 ([2-6]\d\d) ", got)
        check("%s: the caller gets 488 for the refused 200" % label, b"488" in finals,
              got[:600])
        # The hop-by-hop ACK of the 488 (same branch).
        ack = inv.split(b"\r\nContent-Type")[0].replace(b"INVITE sip:", b"ACK sip:", 1).replace(
            b" INVITE\r\n", b" ACK\r\n", 1) + b"\r\nContent-Length: 0\r\n\r\n"
        ack = re.sub(rb"Content-Length: \d+\r\n\r\n$", b"Content-Length: 0\r\n\r\n", ack)
        m = re.search(rb"SIP/2.0 488[^\r]*\r\n(?:[^\r]+\r\n)*?To: ([^\r]+)\r\n", got)
        if m:
            ack = re.sub(rb"\r\nTo: [^\r]+\r\n", b"\r\nTo: " + m.group(1) + b"\r\n", ack, 1)
        if tp == "udp":
            fz.dsend(s, ack)
        else:
            try:
                s.sendall(ack)
            except OSError:
                pass
        calls = sessions = None
        deadline = time.time() + 5
        while time.time() < deadline:
            calls = [c for c in ctlproto.Client(fz.csock).ok("calls").get("calls", [])
                     if c.get("call-id") == cid]
            sessions = fz.mediad_sessions()
            if not calls and sessions == before:
                break
            time.sleep(0.1)
        check("%s: the callee gets ACK and BYE for its refused 200" % label,
              "ACK" in seen and "BYE" in seen, seen)
        check("%s: no call and no mediad session left" % label,
              not calls and sessions is not None and sessions == before,
              (calls, before, sessions))


def other_dialog_after_big_2xx(fz, what):
    """The callee answers 200 with over 4 KB of Contact or Record-Route,
    then a 200 of another dialog (another To tag, as a forking hop behind
    it would): the second has no transaction left and must not reach the
    caller, nor move the media (the call's dialog was read through a 4 KB
    buffer: it did not fit, and every other 2xx passed as a
    retransmission of the first)."""
    cid = "o2-%s-%d" % (what[:2], time.time_ns())
    uas = fz.uas

    def scripted(data, addr):
        if data.startswith(b"INVITE "):
            _, hdrs, body = F.parse(data)
            a1 = F.sdp(fz.rng, 30470, srtp=False, sess=7, ver=1)
            a2 = F.sdp(fz.rng, 30480, srtp=False, sess=8, ver=1)
            r1 = uas.reply(data, 200, "OK", a1)
            if what == "contact":
                r1 = r1.replace(b"Contact: <sip:bob@127.0.0.1:%d>" % uas.port,
                                b"Contact: <sip:bob@127.0.0.1:%d;x=%s>" % (uas.port, b"c" * 6000))
            else:
                r1 = r1.replace(b"Record-Route: ", b"Record-Route: " + b", ".join(
                    b"<sip:hop%d.example.net;lr;x=%s>" % (i, b"r" * 400) for i in range(15))
                    + b", ", 1)
            r2 = re.sub(rb"(\r\nTo: [^\r]*;tag=)[^;\r]+", rb"\1otherdialog", uas.reply(data, 200, "OK", a2), 1)
            uas.s.sendto(r1, addr)
            time.sleep(0.2)
            uas.s.sendto(r2, addr)
        elif not data.startswith(b"ACK") and not data.startswith(b"SIP/2.0"):
            uas.s.sendto(uas.reply(data, 200, "OK"), addr)

    with scripted_uas(fz, cid, scripted):
        s = fz.udp[0]
        fz.flush_udp()
        inv = fz.req("INVITE", "sip:bob@rampart.test", cid=cid, ftag="o2", port=s.getsockname()[1],
                     body=F.sdp(fz.rng, 40044, srtp=False))
        fz.dsend(s, inv)
        got = []
        deadline = time.time() + 3
        while time.time() < deadline:
            d = fz.recv_udp(s, deadline - time.time(), want=b"SIP/2.0 2")
            if d:
                got.append(d)
        tags = [re.search(rb"\r\nTo: [^\r]*;tag=([^;\r]+)", d).group(1) for d in got]
        check("200 with %s over 4 KB, then a 200 of another dialog: the caller gets the "
              "first only" % what, len(got) >= 1 and b"otherdialog" not in tags, tags)
        calls = [c for c in ctlproto.Client(fz.csock).ok("calls").get("calls", [])
                 if c.get("call-id") == cid]
        if calls:
            ctlproto.Client(fz.csock).call("call.drop", id=calls[0]["id"])


def bye_mediad_stopped(fz, tmp):
    """The caller's BYE while mediad does not answer (stopped): the BYE is
    relayed and answered all the same, and the proxy says that the mediad
    session was not deleted and why (rp_media_end's error was dropped)."""
    import signal
    fz.uas.rng.seed(12345)
    d = {}
    call, sess = answered_call(fz, "x=1", "sip:bob@rampart.test", d)
    if not call:
        check("a call to bob", False)
        return
    s, port, ttag, rr, contact = dialog_of(fz, d)
    fz.dsend(s, fz.req("ACK", contact, port=port, cid=d["cid"], ftag="rg", cseq=1,
                       ttag=ttag, extra=[("Route", rr)]))
    os.kill(fz.md.pid, signal.SIGSTOP)
    try:
        fz.dsend(s, fz.req("BYE", contact, port=port, cid=d["cid"], ftag="rg", cseq=2,
                           ttag=ttag, extra=[("Route", rr)]))
        r = None
        deadline = time.time() + 10
        while time.time() < deadline:
            r = fz.recv_udp(s, deadline - time.time(), want=b"SIP/2.0 ")
            if r and b"BYE" in r.split(b"CSeq:", 1)[-1][:20]:
                break
    finally:
        os.kill(fz.md.pid, signal.SIGCONT)
    st = r.split(b"\r\n", 1)[0] if r else r
    check("the caller's BYE with mediad stopped: 200", st == b"SIP/2.0 200 OK", st)
    want = "call %s: mediad session not deleted (" % d["cid"]
    with open(os.path.join(tmp, "proxy.log"), errors="replace") as f:
        lines = [ln for ln in f if want in ln]
    check("the proxy logs the mediad session it could not delete, and why",
          len(lines) == 1 and "timed out" in lines[0], lines)
    ctlproto.Client(fz.msock).call("session.delete", session=sess)


def user_with_semicolon(fz):
    """RFC 3261 lets the user part hold ';' (user-unreserved, 25.1): in
    sip:carol;x=y@host the user is "carol;x=y" (the URI parameters start
    after the host), and an AOR is the whole user (10.3 step 5 drops only
    URI parameters; 19.1.4 compares users as a whole after unescaping). So
    the registrar saves and finds "carol;x=y" as one AOR, apart from
    "carol": a Request-URI sip:dave;x=y@host is not dave's (404)."""
    reg = fz.udp[1]
    port = reg.getsockname()[1]
    for user in ("carol;x=y", "dave"):
        fz.flush_udp()
        reg.sendto(fz.req("REGISTER", "sip:rampart.test", user=user, to=user + "@rampart.test",
                          port=port, extra=[("Expires", "600")]), ("127.0.0.1", fz.ports["udp"]))
        r = fz.recv_udp(reg, 3, want=b"SIP/2.0 ")
        check("REGISTER of sip:%s@rampart.test: 200" % user,
              r is not None and r.startswith(b"SIP/2.0 200"), r and r[:100])
    aors = [x.get("aor") for x in
            ctlproto.Client(fz.csock).ok("registrations").get("registrations", [])]
    check("the AOR is the whole user part, ';' included",
          "sip:carol;x=y@rampart.test" in aors and "sip:carol@rampart.test" not in aors, aors)
    c = fz.udp[0]
    for ruri, user in (("sip:carol;x=y@rampart.test", b"carol;x=y"),
                       ("sip:carol%3Bx=y@rampart.test", b"carol;x=y"),  # 19.1.4: unescaped
                       ("sip:dave@rampart.test", b"dave"),
                       ("sip:carol@rampart.test", None),
                       ("sip:dave;x=y@rampart.test", None),
                       ("sip:Carol;x=y@rampart.test", None)):         # users: case matters
        fz.flush_udp()
        c.sendto(fz.req("MESSAGE", ruri, port=c.getsockname()[1], body="hi"),
                 ("127.0.0.1", fz.ports["udp"]))
        got = fz.recv_udp(reg, 2, want=b"MESSAGE ") if user else None
        if got:   # answer it: no retransmissions into the next case
            reg.sendto(fz.uas.reply(got, 200, "OK"), ("127.0.0.1", fz.ports["udp"]))
        r = fz.recv_udp(c, 3, want=b"SIP/2.0 ")
        st = r.split(b"\r\n", 1)[0] if r else r
        if user:
            check("MESSAGE to %s reaches the binding of %s" % (ruri, user.decode()),
                  got is not None and got.startswith(b"MESSAGE sip:%s@127.0.0.1:%d " % (user, port))
                  and st == b"SIP/2.0 200 OK", (got and got[:80], st))
        else:
            check("MESSAGE to %s: 404 (no such AOR)" % ruri,
                  st == b"SIP/2.0 404 Not Found", st)


def ctl_reasons_utf8(fz):
    """An error-reason that quotes the client's bytes (an unknown command,
    an unknown suite) is valid UTF-8 of one line, from both daemons: the
    bytes that are not are escaped as \\xNN (they were echoed raw)."""
    bad = b"no\xff\xfe\xc3\x1b\ncmd"
    for who, path in (("proxy", fz.csock), ("mediad", fz.msock)):
        r = ctlproto.Client(path).call(bad)
        why = r.get("error-reason")
        check("%s: an unknown command of non-UTF-8 bytes gets a UTF-8 reason with them "
              "escaped" % who, isinstance(why, str) and
              "no\\xff\\xfe\\xc3\\x1b\\x0acmd" in why, r)
    c = ctlproto.Client(fz.msock)
    sid = c.ok("session.create", label="utf8-check")["session"]
    key = {"suite": b"AES\xe9\xff", "key": b"k" * 16, "salt": b"s" * 14}
    r = c.call("leg.update", session=sid, leg="a", address="127.0.0.1", port=40000,
               **{"srtp-in": key})
    why = r.get("error-reason")
    check("mediad: an unknown suite of non-UTF-8 bytes gets a UTF-8 reason with them escaped",
          r.get("result") == "error" and isinstance(why, str) and "AES\\xe9\\xff" in why, r)
    c.call("session.delete", session=sid)


def busy_callee_bad_from_host(fz):
    """The callee's 486 to an INVITE whose From host is no IPv4 address:
    the proxy ACKs it (built from the INVITE it sent, RFC 3261 17.1.1.3)
    and relays it; the ACK was never made (the kept request was parsed
    again with its From URI, which failed)."""
    cid = "regress-486-%d" % time.time_ns()
    uas = fz.uas
    seen = []

    def scripted(data, addr):
        seen.append(data.split(b" ", 1)[0].decode("latin1"))
        if data.startswith(b"INVITE "):
            uas.s.sendto(uas.reply(data, 486, "Busy Here"), addr)

    with scripted_uas(fz, cid, scripted):
        s = fz.udp[0]
        fz.flush_udp()
        inv = fz.req("INVITE", "sip:+1555@trunk.test", cid=cid, port=s.getsockname()[1],
                     body=F.sdp(fz.rng, 40040, srtp=False))
        inv = inv.replace(b"From: <sip:alice@rampart.test>", b"From: <sip:x@256.256.256.256>", 1)
        fz.dsend(s, inv)
        r = fz.recv_udp(s, 5, want=b"SIP/2.0 486")
        check("486 from the callee relayed (From host 256.256.256.256)", r is not None, r)
        deadline = time.time() + 3
        while time.time() < deadline and "ACK" not in seen:
            time.sleep(0.05)
        check("the callee's 486 is ACKed (From host 256.256.256.256)", "ACK" in seen, seen)


def drop_long_route_set(fz, hops):
    """call.drop of a call whose callee's 200 carries 'hops' Record-Route
    entries below ours (all pointing back at the fake UAS, loose routing):
    the BYE toward the callee carries them all, nearest first, or with over
    64 of them is not sent and call.drop says why (they were cut at 16 and
    the BYE went with a partial route)."""
    cid = "rs%d-%d" % (hops, time.time_ns())
    uas = fz.uas
    got = []

    def scripted(data, addr):
        got.append(data)
        if data.startswith(b"INVITE "):
            r = uas.reply(data, 200, "OK", F.sdp(fz.rng, 30490, srtp=False, sess=9, ver=1))
            rr = b", ".join(b"<sip:127.0.0.1:%d;lr;h=%d>" % (uas.port, i) for i in range(hops))
            uas.s.sendto(r.replace(b"Record-Route: ", b"Record-Route: " + rr + b", ", 1), addr)
        elif not data.startswith(b"ACK") and not data.startswith(b"SIP/2.0"):
            uas.s.sendto(uas.reply(data, 200, "OK"), addr)

    with scripted_uas(fz, cid, scripted):
        s = fz.udp[0]
        fz.flush_udp()
        fz.dsend(s, fz.req("INVITE", "sip:bob@rampart.test", cid=cid, ftag="rs",
                           port=s.getsockname()[1], body=F.sdp(fz.rng, 40046, srtp=False)))
        ok = fz.recv_udp(s, 5, want=b"SIP/2.0 200")
        check("200 with %d Record-Route entries below ours reaches the caller" % hops,
              ok is not None, ok)
        calls = [c for c in ctlproto.Client(fz.csock).ok("calls").get("calls", [])
                 if c.get("call-id") == cid]
        check("the call is listed", calls, calls)
        if not calls:
            return
        r = ctlproto.Client(fz.csock).call("call.drop", id=calls[0]["id"])
        bye = fz.recv_udp(s, 5, want=b"BYE ")
        if bye:
            fz.dsend(s, fz.uas.reply(bye, 200, "OK"))
        check("call.drop (%d entries below us): BYE to the caller sent" % hops,
              r.get("result") == "ok" and r.get("bye-caller") == "sent", r)
        if hops > 64:
            check("call.drop (%d entries below us): no BYE to the callee, and why" % hops,
                  r.get("bye-callee") == "not sent: the route set toward it has over 64 "
                  "entries", r)
            time.sleep(0.5)
            check("the callee got no BYE with a partial route",
                  not any(d.startswith(b"BYE ") for d in got), [d[:60] for d in got])
            return
        check("call.drop (%d entries below us): BYE to the callee sent" % hops,
              r.get("bye-callee") == "sent", r)
        deadline = time.time() + 5
        while time.time() < deadline and not any(d.startswith(b"BYE ") for d in got):
            time.sleep(0.05)
        byes = [d for d in got if d.startswith(b"BYE ")]
        route = re.search(rb"\r\nRoute: ([^\r]*)", byes[0]) if byes else None
        want = b", ".join(b"<sip:127.0.0.1:%d;lr;h=%d>" % (uas.port, i)
                          for i in reversed(range(hops)))
        check("the callee's BYE carries all %d entries, nearest first" % hops,
              route is not None and route.group(1) == want, route and route.group(1)[:300])


def cancel_crosses_200(fz, mutate_ct):
    """The caller's CANCEL right behind its INVITE; the callee has already
    answered 180 and 200 (with SDP) when the CANCEL reaches it (200 to the
    CANCEL, no 487). The 200 goes to the caller, who ACKs: the call must be
    listed with its mediad session until its BYE, then both gone (sipfuzz
    seed 14: the session stayed, owned by no call). mutate_ct: the INVITE's
    Content-Type misspelt (appication/sdp), as the fuzzer's was."""
    cid = "regress-cancel200-%d-%d" % (mutate_ct, time.time_ns())
    uas = fz.uas
    seen = []

    def scripted(data, addr):
        seen.append(data.split(b" ", 1)[0].decode("latin1"))
        if data.startswith(b"INVITE "):
            ans = F.sdp(fz.rng, 31072, srtp=False, sess=7, ver=2)
            uas.s.sendto(uas.reply(data, 180, "Ringing"), addr)
            uas.s.sendto(uas.reply(data, 200, "OK", ans), addr)
        elif data.startswith(b"CANCEL ") or data.startswith(b"BYE "):
            uas.s.sendto(uas.reply(data, 200, "OK"), addr)

    label = "CANCEL crossing the callee's 200%s" % (" (Content-Type appication/sdp)"
                                                   if mutate_ct else "")
    with scripted_uas(fz, cid, scripted):
        s = fz.udp[1]
        port = s.getsockname()[1]
        fz.flush_udp()
        before = fz.mediad_sessions()
        inv = fz.req("INVITE", "sip:bob@rampart.test", port=port, cid=cid, ftag="cx", cseq=1,
                     body=F.sdp(fz.rng, 40948, srtp=False))
        if mutate_ct:
            inv = inv.replace(b"Content-Type: application/sdp", b"Content-Type: appication/sdp")
        br = re.search(rb"branch=([^;\r]+)", inv).group(1).decode()
        can = fz.req("CANCEL", "sip:bob@rampart.test", port=port, cid=cid, ftag="cx", cseq=1,
                     branch=br)
        fz.dsend(s, inv)
        fz.dsend(s, can)
        final = None
        deadline = time.time() + 5
        while time.time() < deadline:
            d = fz.recv_udp(s, deadline - time.time(), want=b"SIP/2.0 ")
            if d and re.match(rb"SIP/2.0 [2-6]\d\d ", d) and b"INVITE" in \
                    d.split(b"CSeq:", 1)[-1][:20]:
                final = d
                break
        check("%s: the caller gets a final answer" % label, final is not None, final)
        if not final:
            return
        st = final.split(b"\r\n", 1)[0]
        _, fh, _ = F.parse(final)
        ttag = re.search(r";tag=([^;>]+)", F.hval(fh, "To") or "")
        ttag = ttag.group(1) if ttag else "x"
        if not st.startswith(b"SIP/2.0 200"):
            # 487: the proxy ended the call itself; nothing may stay.
            fz.dsend(s, fz.req("ACK", "sip:bob@rampart.test", port=port, cid=cid, ftag="cx",
                               cseq=1, branch=br, ttag=ttag))
        else:
            rr = F.hval(fh, "Record-Route")
            contact = re.search(r"<([^>]+)>", F.hval(fh, "Contact")).group(1)
            ex = [("Route", rr)] if rr else []
            fz.dsend(s, fz.req("ACK", contact, port=port, cid=cid, ftag="cx", cseq=1,
                               ttag=ttag, extra=ex))
            time.sleep(0.5)
            calls = [c for c in ctlproto.Client(fz.csock).ok("calls").get("calls", [])
                     if c.get("call-id") == cid]
            sess = fz.mediad_sessions()
            new = [x for x in (sess or []) if x not in (before or [])]
            check("%s: answered 200, the call is listed with its mediad session" % label,
                  len(calls) == 1 and calls[0].get("session") in new, (calls, new))
            fz.dsend(s, fz.req("BYE", contact, port=port, cid=cid, ftag="cx", cseq=2,
                               ttag=ttag, extra=ex))
        deadline = time.time() + 8
        after = None
        while time.time() < deadline:
            after = fz.mediad_sessions()
            calls = [c for c in ctlproto.Client(fz.csock).ok("calls").get("calls", [])
                     if c.get("call-id") == cid]
            if after == before and not calls:
                break
            time.sleep(0.2)
        check("%s (%s): then no call and no mediad session left" % (label, st.decode()),
              after == before and not calls, (before, after, calls, seen))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("proxy")
    ap.add_argument("mediad")
    a = ap.parse_args()
    # The fuzzer's setup, with nothing mutated.
    args = argparse.Namespace(proxy=a.proxy, mediad=a.mediad, seed=7, uas_mut=0.0, mut_p=0.0,
                              sipp=False)
    tmp = tempfile.mkdtemp(prefix="rampart-fuzz-regress-")
    fz = F.Fuzzer(args, tmp)
    rcs = {}
    try:
        fz.start()
        for in_uri in (False, True):
            drop_long_contact(fz, in_uri)
        bye_not_relayed(fz)
        bare_cr_via(fz)
        for tp in ("udp", "tls"):
            for ftag, badhost, big in ((True, False, False), (False, False, False),
                                       (True, True, False), (False, True, True)):
                refused_then_good_200(fz, tp, ftag, badhost, big)
        busy_callee_bad_from_host(fz)
        for what in ("contact", "record-route"):
            other_dialog_after_big_2xx(fz, what)
        for hops in (20, 70):
            drop_long_route_set(fz, hops)
        ctl_reasons_utf8(fz)
        user_with_semicolon(fz)
        for mutate_ct in (False, True):
            cancel_crosses_200(fz, mutate_ct)
        bye_mediad_stopped(fz, tmp)
        check("no finding in the setup", not fz.findings.items, fz.findings.items)
    finally:
        if hasattr(fz, "px"):
            rcs = fz.stop()
    for name, rc in rcs.items():
        check("%s exits 0 at SIGTERM" % name, rc == 0, rc)
    for log in ("proxy.log", "mediad.log"):
        lines = F.E.sanitizer_lines(os.path.join(tmp, log))
        check("no sanitizer report in " + log, not lines, lines[:5])
    if failures:
        print("logs in %s\n%d failed: %s" % (tmp, len(failures), ", ".join(failures)))
        return 1
    os.system("rm -rf " + tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
