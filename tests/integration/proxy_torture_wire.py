#!/usr/bin/env python3
"""proxy_torture_wire.py PROXY MEDIAD: every RFC 4475 torture message
(tests/unit/data/rfc4475/) sent to a live rampart-proxy over UDP, over TCP
one connection a message, and over TCP pipelined on one connection; each
outcome checked against what RFC 4475 (and RFC 3261 where it decides) says
an element must do. tests/unit/test_sip_torture.c checks the parser on the
same bytes; this checks what the proxy does with them on the wire.

The messages are sent as they are but for what makes them reach us and
our fake UAS:
- the top Via's sent-by becomes 127.0.0.1:PORT (our socket over UDP, a
  unique number over TCP) with the transport actually used, so that
  answers come back to us (RFC 3261 18.2.2) and no two runs of one message
  share a transaction key; the rest of the Via (a broken parameter list,
  no branch) stays as it was;
- every Call-ID gets a suffix per run (".udp", ".tcp", ".pipe"), so the
  registrar does not see a REGISTER again with the same Call-ID and CSeq.
Request-URIs are left alone: the routing script relays everything but
REGISTER to a trunk whose address is the fake UAS (a UDP socket that
answers INVITE 486 and anything else 200, with Server: torture-uas), and
is the registrar for the domain example.com. A real rampart-mediad anchors
the media of the INVITEs with SDP, as in production.

Outcomes, per message (EXPECT below, with the why):
- relay: the fake UAS got it and its final answer came back to us;
- reply CODE [REASON]: the proxy answered it itself, the UAS got nothing;
- drop: no answer and the UAS got nothing (responses with no transaction,
  RFC 3261 18.1.2 / 16.7; a message with no usable Via, 18.2.1).
After every message the proxy must answer OPTIONS from 8 UDP source ports
(SO_REUSEPORT spreads them over the workers; a bounded wait, not a timing
assertion) and, after the TCP runs, over TCP. Every wait is bounded (about
25 s in all); ports are picked by the kernel."""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

PROXY, MEDIAD = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import e2e_common as E  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import proxy_call_run as pcr  # noqa: E402  (same PROXY argument)

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "unit", "data", "rfc4475")
failures = []

CONF = """
log_level = info;
log_rate_burst = 0;
# The kernel's hash spreads our source ports over the workers, so that
# the liveness OPTIONS reach every worker (auto sends a light load to
# worker 0 only).
udp_steering = hash;
realm = "example.com";
domain = "example.com";
mediad_socket = "%(msock)s";
user j.user { ha1_md5 = "d03b1c803d446cc473926ad83d7ff641"; }
trunk uas {
    address = "127.0.0.1:%(uas)d";
    inbound { source = 192.0.2.1; }
}
route request {
    if (method == "REGISTER") {
        if (has_header("Authorization")) { authenticate; }
        save;
    }
    relay uas;
}
"""

# name -> (UDP outcome, TCP outcome, why). An outcome: "relay", "drop", or
# "CODE" / "CODE Reason" for the proxy's own final answer. The TCP outcome
# applies to both TCP runs (one connection each, and pipelined).
R, D = "relay", "drop"
EXPECT = {
    # 3.1.1 valid messages: a proxy processes them.
    "wsinv": (R, R, "3.1.1.1: valid; LWS, folding and compact forms everywhere"),
    "intmeth": (R, R, "3.1.1.2: valid; an unknown method with odd tokens is relayed"),
    "esc01": (R, R, "3.1.1.3: valid; escaped characters in URIs, none unescaped on the way"),
    "escnull": ("200", "200", "3.1.1.4: valid REGISTER with %00 in the AOR user: the "
                "registrar stores it (compares escaped forms; never unescapes into a C string)"),
    "esc02": (R, R, "3.1.1.5: RE%47IST%45R is an unknown method, not REGISTER: relayed"),
    "lwsdisp": (R, R, "3.1.1.6: valid; a display name with no LWS before <"),
    "longreq": (R, R, "3.1.1.7: valid; long values and 34 Vias"),
    # UDP: Content-Length 0 ends the REGISTER; the rest of the datagram is
    # ignored (RFC 3261 18.3). TCP: the INVITE is a second message; see
    # the special check below (relayed).
    # On TCP the INVITE's SDP has 'm =video' (and 3 bytes more than its
    # Content-Length): the media layer cannot read it, 488 (checked below).
    "dblreq": ("200", "200", "3.1.1.8: the REGISTER is answered; on UDP the INVITE after it "
               "is not a message, on TCP it is the next one"),
    "semiuri": (R, R, "3.1.1.9: valid; ';' in the user part"),
    "transports": (R, R, "3.1.1.10: valid; Vias with unknown transports below the top"),
    "mpart01": (R, R, "3.1.1.11: valid MESSAGE with a multipart body holding NULs"),
    "unreason": (D, D, "3.1.1.12: a valid response, but it matches no transaction of ours: "
                 "dropped (RFC 3261 16.7 / 18.1.2; its top Via is not ours)"),
    "noreason": (D, D, "3.1.1.13: a valid 100 with no reason phrase, no transaction: dropped"),
    # 3.1.2 invalid messages: 400 with a reason phrase, or dropped.
    # RFC 4475 wants 400; the sent-by is readable (we put ours there), so
    # the proxy can say why.
    "badinv01": ("400", "400", "3.1.2.1: ';;,;,,' in the top Via and Contact: 400"),
    # UDP: 400. A stream: the proxy waits for the rest of the body
    # (RFC 4475: 'the element would wait for more data'); see below.
    "clerr": ("400 Content-Length Mismatch", "wait", "3.1.2.2: Content-Length larger than "
              "the body: 400 over UDP, a stream waits for the rest"),
    "ncl": ("400 Bad Content-Length", "400 Bad Content-Length",
            "3.1.2.3: negative Content-Length: 400 (a stream is closed after it, 18.3)"),
    "scalar02": ("400 Bad CSeq", "400 Bad CSeq", "3.1.2.4: CSeq over 2^31: 400"),
    "scalarlg": (D, D, "3.1.2.5: a response with overlarge scalars: discarded"),
    "quotbal": ("400", "400", "3.1.2.6: unterminated quoted display name in To: 400"),
    "ltgtruri": ("400", "400", "3.1.2.7: Request-URI in <>: 400"),
    "lwsruri": ("400", "400", "3.1.2.8: LWS in the Request-URI: 400"),
    "lwsstart": ("400", "400", "3.1.2.9: several SP between request-line elements: 400"),
    "trws": ("400", "400", "3.1.2.10: SP after SIP/2.0 in the request line: 400"),
    "escruri": ("400", "400", "3.1.2.11: escaped headers in the Request-URI: 400"),
    # RFC 4475 3.1.2.12: 400, or be liberal and ignore a bad Date that is
    # not used. The proxy never uses Date: relayed (allowed).
    "baddate": (R, R, "3.1.2.12: Date in EST: the Date is not used, so relayed (allowed)"),
    # 3.1.2.13: a registrar must reject the unparseable Contact with 400.
    "regbadct": ("400", "400", "3.1.2.13: registrar: Contact addr-spec with '?' outside <>"),
    # RFC 4475 says 'should' 400; RFC 3261 16.3 item 1 has a proxy check
    # only what it uses and leave the rest unchanged, and the proxy parses
    # From/To URIs only when it reads them: relayed (allowed).
    "badaspec": (R, R, "3.1.2.14: SP inside < > around the To URI: a proxy does not read it"),
    "baddn": ("400", "400", "3.1.2.15: unquoted display name with a comma: 400"),
    "badvers": ("505", "505", "3.1.2.16: SIP/7.0: 505 Version Not Supported"),
    "mismatch01": ("400 CSeq Method Mismatch", "400 CSeq Method Mismatch",
                   "3.1.2.17: CSeq method differs from the request method: 400"),
    # 3.1.2.18: 501 is preferred at proxies, 400 is also acceptable.
    "mismatch02": ("400 CSeq Method Mismatch", "400 CSeq Method Mismatch",
                   "3.1.2.18: unknown method, CSeq method differs: 400 (RFC allows 400 or 501)"),
    "bigcode": (D, D, "3.1.2.19: a response with a 4294967301 status: discarded"),
    # 3.2 transaction layer
    "badbranch": (R, R, "3.2.1: branch 'z9hG4bK' alone: valid, relayed (matched RFC 2543 style)"),
    # 3.3 application layer
    "insuf": ("400 Missing Header", "400 Missing Header",
              "3.3.1: no Call-ID, From, To, Max-Forwards: 400"),
    "unkscm": ("416", "416", "3.3.2: an unknown Request-URI scheme: 416 Unsupported URI Scheme"),
    "novelsc": ("416", "416", "3.3.3: soap.beep: Request-URI: 416"),
    # Parsed (the point of the message); the registrar cannot take an isbn:
    # AOR and says so (RFC 3261 10.3 leaves the code open: 416 here).
    "unksm2": ("416", "416", "3.3.4: the registrar cannot use an isbn: To as an AOR"),
    "bext01": ("420", "420", "3.3.5: Proxy-Require with unknown options: 420 Bad Extension "
               "with Unsupported (RFC 3261 16.3 item 5); Require is for the UAS"),
    "invut": (R, R, "3.3.6: unknown body type: the UAS's business (415); a proxy relays"),
    # 3.3.7: a registrar should answer 401 with a new challenge.
    "regaut01": ("401", "401", "3.3.7: Authorization of an unknown scheme: 401 with a challenge"),
    "multi01": ("400 Duplicate Header", "400 Duplicate Header",
                "3.3.8: two To, From, Call-ID and CSeq: 400"),
    "mcl01": ("400 Duplicate Header", "400 Duplicate Header",
              "3.3.9: two Content-Length values: 400 (a stream is closed after it)"),
    "bcast": (D, D, "3.3.10: a response (second Via 255.255.255.255) of no transaction: "
              "dropped, never sent to a broadcast address"),
    "zeromf": ("483", "483", "3.3.11: Max-Forwards 0 to a user (not to us): 483 Too Many Hops"),
    "cparam01": ("200", "200", "3.3.12: Contact addr-spec; ;unknownparam is the header's: stored"),
    "cparam02": ("200", "200", "3.3.13: Contact with a header parameter list: stored"),
    "regescrt": ("200", "200", "3.3.14: Contact URI with an escaped header: stored as is"),
    "sdp01": (R, R, "3.3.15: Accept lists an unknown type: the UAS's business (406)"),
    # 3.4: RFC 2543 message: no branch, no Max-Forwards, no Content-Length.
    # UDP: relayed. TCP: Content-Length is mandatory on a stream (RFC 3261
    # 18.3, 20.14): 400 Missing Content-Length and the close (allowed: RFC
    # 4475 sent it over UDP).
    "inv2543": (R, "400 Missing Content-Length", "3.4.1: RFC 2543 INVITE: relayed over UDP"),
}
# Messages after which a stream cannot be framed any more: sent last on
# their own pipelined connection.
STREAM_END = ("clerr", "ncl", "mcl01", "inv2543")
# Closed by the proxy after its 400.
STREAM_CLOSE = ("ncl", "mcl01", "inv2543")


def check(name, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else ": " + str(detail)[:600]))
    sys.stdout.flush()
    if not cond:
        failures.append(name)


def headers(msg):
    """[(name, raw header text with its folded lines)] of a message."""
    head = msg.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]
    out = []
    for line in head:
        if line[:1] in (b" ", b"\t") and out:
            out[-1] = (out[-1][0], out[-1][1] + b"\r\n" + line)
        else:
            out.append((line.split(b":", 1)[0].strip().lower(), line))
    return out


class FakeUAS(threading.Thread):
    """The trunk's address: records what the proxy relays (by Call-ID) and
    answers INVITE 486 (the proxy ACKs it), ACK nothing, anything else 200,
    with Server: torture-uas so that its answers are told from the proxy's."""

    def __init__(self):
        super().__init__(daemon=True)
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", 0))
        self.s.settimeout(0.2)
        self.port = self.s.getsockname()[1]
        self.got = []
        self.lock = threading.Lock()
        self.stop_ev = threading.Event()

    def run(self):
        while not self.stop_ev.is_set():
            try:
                data, addr = self.s.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            if data.startswith(b"SIP/2.0 ") or not data.strip():
                continue
            with self.lock:
                self.got.append(data)
            method = data.split(b" ", 1)[0]
            if method == b"ACK":
                continue
            code = b"486 Busy Here" if method == b"INVITE" else b"200 OK"
            out = [b"SIP/2.0 " + code]
            for name, raw in headers(data):
                if name in (b"via", b"v", b"from", b"f", b"call-id", b"i", b"cseq"):
                    out.append(raw)
                elif name in (b"to", b"t"):
                    out.append(raw if re.search(rb";\s*tag\s*=", raw) else raw + b";tag=uas")
            out.append(b"Server: torture-uas")
            out.append(b"Content-Length: 0")
            try:
                self.s.sendto(b"\r\n".join(out) + b"\r\n\r\n", addr)
            except OSError:
                pass

    def saw(self, key):
        with self.lock:
            return any(key in d for d in self.got)

    def saw_within(self, key, wait):
        """Whether the request arrives within a bounded wait."""
        deadline = time.time() + wait
        while not self.saw(key) and time.time() < deadline:
            time.sleep(0.02)
        return self.saw(key)


def adjust(msg, tp, port, suffix):
    """The message with its top Via's sent-by and transport ours, and a
    suffix on every Call-ID."""
    msg = re.sub(rb"(?mi)^((?:call-id|i)[ \t]*:[ \t]*)([^\r\n]*)",
                 lambda m: m.group(1) + m.group(2) + suffix.encode(), msg)
    m = re.search(rb"(?mi)^(?:via|v)[ \t]*:", msg)
    if not m:
        return msg
    rest = msg[m.end():]
    rest = re.sub(rb"^(\s*SIP\s*/\s*\d+\.\d+\s*/\s*)([A-Za-z]+)(\s+)([^\s;,]+)",
                  lambda v: v.group(1) + tp.encode() + v.group(3) + b"127.0.0.1:%d" % port,
                  rest, count=1)
    return msg[:m.end()] + rest


def key_of(name, msg):
    """What ties answers and the relayed copy to the message: its
    (suffixed) Call-ID, or the CSeq line when there is no Call-ID."""
    m = re.search(rb"(?mi)^(?:call-id|i)[ \t]*:[ \t]*([^\r\n]*)", msg)
    if m:
        return m.group(1).strip()
    return re.search(rb"(?mi)^cseq[ \t]*:[ \t]*([^\r\n]*)", msg).group(1).strip()


def finals(data):
    """The final responses in a byte stream (or one datagram): list of
    (status line, whole message)."""
    out = []
    for m in re.finditer(rb"SIP/2\.0 ([1-9]\d\d)[^\r\n]*", data):
        if m.group(1)[:1] != b"1":
            end = data.find(b"\r\n\r\n", m.start())
            out.append((m.group(0), data[m.start():end if end > 0 else len(data)]))
    return out


def judge(label, name, want, got, uas_saw):
    """got: the final answers (status line, message) seen for the message."""
    why = EXPECT[name][2]
    lines = [g[0].decode(errors="replace") for g in got]
    if want == R:
        ok = uas_saw and len(got) >= 1 and all(b"torture-uas" in g[1] for g in got)
    elif want == D:
        ok = not got and not uas_saw
    else:
        ok = (len(got) >= 1 and lines[0].startswith("SIP/2.0 " + want) and not uas_saw and
              b"torture-uas" not in got[0][1])
        if ok and want.startswith("4") and want[:3] != "401":
            # a reason phrase that says why (not empty, not the bare default)
            reason = lines[0][12:].strip()
            ok = reason not in ("", "Bad Request")
    check("%s %s: %s (%s)" % (label, name, want, why), ok,
          "answers %r, UAS got it: %s" % (lines, uas_saw))


def load():
    msgs = {}
    for f in sorted(os.listdir(DATA)):
        if f.endswith(".dat"):
            with open(os.path.join(DATA, f), "rb") as fh:
                msgs[f[:-4]] = fh.read()
    return msgs


OPT_N = [0]


def options(tp, port):
    OPT_N[0] += 1
    n = OPT_N[0]
    return ("OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/%s 127.0.0.1:%d;branch=z9hG4bKtw%d;"
            "rport\r\nMax-Forwards: 70\r\nFrom: <sip:t@127.0.0.1>;tag=t%d\r\nTo: <sip:t@127.0.0.1>"
            "\r\nCall-ID: torture-alive-%d\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n" % (
                tp, port, n, n, n)).encode()


def alive(px, socks, after, tcp=False):
    """OPTIONS from every socket (every worker) answered 200; with tcp, over
    a fresh TCP connection too. Bounded waits, a few tries each."""
    bad = []
    for s in socks:
        got = None
        for _ in range(3):
            s.sendto(options("UDP", s.getsockname()[1]), ("127.0.0.1", px.ports["udp"]))
            deadline = time.time() + 3
            while time.time() < deadline:
                s.settimeout(max(0.01, deadline - time.time()))
                try:
                    d = s.recv(65536)
                except OSError:
                    break
                if d.startswith(b"SIP/2.0 200 ") and b"torture-alive-" in d:
                    got = d
                    break
            if got:
                break
        if not got:
            bad.append(s.getsockname()[1])
    if tcp:
        line, _ = stream(px, [options("TCP", 9)], 5)
        if b"SIP/2.0 200 " not in line:
            bad.append("tcp")
    if bad or px.p.poll() is not None:
        check("still answers OPTIONS on every worker after " + after, False, bad)
        return False
    return True


def stream(px, pieces, wait, until=None):
    """Sends the pieces on a fresh TCP connection; reads until 'until'
    (a function of what came) says stop, the proxy closes, or wait passes.
    Returns (bytes read, closed by the proxy)."""
    s = socket.create_connection(("127.0.0.1", px.ports["tcp"]), 3)
    out, closed = b"", False
    deadline = time.time() + wait
    try:
        for p in pieces:
            s.sendall(p)
        while time.time() < deadline and not (until and until(out)):
            s.settimeout(max(0.01, deadline - time.time()))
            try:
                c = s.recv(65536)
            except socket.timeout:
                break
            if not c:
                closed = True
                break
            out += c
    except OSError:
        closed = True
    s.close()
    return out, closed


def run_udp(px, uas, msgs, socks):
    for name, raw in msgs.items():
        want = EXPECT[name][0]
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        msg = adjust(raw, "UDP", s.getsockname()[1], ".udp")
        key = key_of(name, msg)
        s.sendto(msg, ("127.0.0.1", px.ports["udp"]))
        got = []
        deadline = time.time() + (0.5 if want == D else 5)
        while time.time() < deadline and not got:
            s.settimeout(max(0.01, deadline - time.time()))
            try:
                got += finals(s.recv(65536))
            except OSError:
                break
        if got and got[0][0].startswith(b"SIP/2.0 486"):
            # The hop-by-hop ACK of the 486 (RFC 3261 17.1.1.3), so the
            # proxy stops retransmitting it.
            s.sendto(ack_of(msg, got[0][1]), ("127.0.0.1", px.ports["udp"]))
        s.close()
        if want == D:
            time.sleep(0.1)
        judge("udp", name, want, got, uas.saw(key))
        if name == "dblreq":
            # The INVITE after the REGISTER is no message over UDP.
            check("udp dblreq: the INVITE after the empty body is ignored",
                  not uas.saw(b"dblreq.0ha0isnda977644900765@192.0.2.15.udp"))
        alive(px, socks, "udp " + name)


def ack_of(inv, resp):
    """The ACK of a non-2xx final answer to inv (same branch, the
    answer's To)."""
    start = inv.split(b"\r\n", 1)[0].split(b" ")
    hs = headers(inv)
    via = [raw for hname, raw in hs if hname in (b"via", b"v")][:1]   # the top one
    keep = [raw for hname, raw in hs if hname in (b"from", b"f", b"call-id", b"i",
                                                  b"max-forwards")]
    to = [raw for hname, raw in headers(resp) if hname in (b"to", b"t")]
    cseq = re.search(rb"(?mi)^cseq[ \t]*:[ \t]*(\d+)", inv)
    lines = [b"ACK " + start[1] + b" SIP/2.0"] + via + keep + to[:1] + [
        b"CSeq: " + (cseq.group(1) if cseq else b"1") + b" ACK", b"Content-Length: 0"]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def tcp_judge(label, name, want, data, closed, uas, key):
    got = [g for g in finals(data) if key in g[1]]
    if want == "wait":
        check("%s %s: no answer, the connection stays open for the rest of the body (%s)" % (
            label, name, EXPECT[name][2]), not got and not closed and not uas.saw(key),
            (got, closed))
        return
    judge(label, name, want, got, uas.saw(key))


PORT_N = [40000]


def tcp_msg(name, raw, suffix):
    PORT_N[0] += 1
    return adjust(raw, "TCP", PORT_N[0], suffix)


def run_tcp(px, uas, msgs, socks):
    for name, raw in msgs.items():
        want = EXPECT[name][1]
        msg = tcp_msg(name, raw, ".tcp")
        key = key_of(name, msg)
        n = 2 if name == "dblreq" else 1
        data, closed = stream(px, [msg], 0.5 if want in (D, "wait") else 5,
                              until=None if name in STREAM_CLOSE else
                              lambda d, n=n: len(finals(d)) >= n)
        tcp_judge("tcp", name, want, data, closed, uas, key)
        if name == "dblreq":
            # On a stream the INVITE is the next message: relayed.
            k2 = b"dblreq.0ha0isnda977644900765@192.0.2.15.tcp"
            check("tcp dblreq: the INVITE after the REGISTER is a message of its own: 488 (its "
                  "SDP has 'm =video')", not uas.saw(k2) and any(
                      k2 in g[1] and g[0].startswith(b"SIP/2.0 488") for g in finals(data)),
                  finals(data))
        if name in STREAM_CLOSE:
            check("tcp %s: the connection is closed after the 400 (no framing past it)" % name,
                  closed)
        alive(px, socks, "tcp " + name)


def run_pipe(px, uas, msgs, socks):
    """All messages that leave the stream framed, in one write on one
    connection; then each that does not, after a good one, alone on its
    own connection (what follows it cannot be framed)."""
    # dblreq last: its INVITE carries 3 bytes more than its Content-Length,
    # which would start the next message.
    body = [n for n in msgs if n not in STREAM_END and n != "dblreq"] + ["dblreq"]
    sent = {n: tcp_msg(n, msgs[n], ".pipe") for n in body}
    keys = {n: key_of(n, sent[n]) for n in body}
    # Read until every message not dropped (and dblreq's INVITE) has its
    # final answer: a count would stop early on a retransmitted one.
    k2 = b"dblreq.0ha0isnda977644900765@192.0.2.15.pipe"
    want = [keys[n] for n in body if EXPECT[n][1] != D] + [k2]

    def enough(d):
        got = [g[1] for g in finals(d)]
        return all(any(k in g for g in got) for k in want)
    # 40 s at most (about 1 s on an idle machine): once, on the loaded CI
    # machine under ASan with sipfuzz beside it, dblreq's INVITE had no
    # answer within 15 s; if it happens again the check below says whether
    # the fake UAS got it.
    data, closed = stream(px, [b"".join(sent[n] for n in body)], 40, until=enough)
    check("pipelined: the connection stays open", not closed)
    for n in body:
        tcp_judge("pipelined", n, EXPECT[n][1], data, closed, uas, keys[n])
    check("pipelined dblreq: the INVITE after the REGISTER answered 488",
          any(k2 in g[1] and g[0].startswith(b"SIP/2.0 488") for g in finals(data)),
          "answers %r; the fake UAS got it: %s; %d finals in %d bytes" % (
              [g[0] for g in finals(data) if k2 in g[1]], uas.saw(k2), len(finals(data)),
              len(data)))
    alive(px, socks, "pipelined", tcp=True)
    for n in STREAM_END:
        first = tcp_msg("lwsdisp", msgs["lwsdisp"], ".pipe-%s-a" % n)
        bad = tcp_msg(n, msgs[n], ".pipe")
        after = tcp_msg("semiuri", msgs["semiuri"], ".pipe-%s-b" % n)
        want = EXPECT[n][1]
        data, closed = stream(px, [first + bad + after], 1.5 if want == "wait" else 5,
                              until=lambda d: want != "wait" and n not in STREAM_CLOSE and
                              len(finals(d)) >= 2)
        # After a close the UAS's answer to the first has no way back.
        check("pipelined %s: the message before it relayed" % n,
              uas.saw_within(b".pipe-%s-a" % n.encode(), 3) and (n in STREAM_CLOSE or any(
                  b".pipe-%s-a" % n.encode() in g[1] and g[0].startswith(b"SIP/2.0 200")
                  for g in finals(data))), finals(data))
        tcp_judge("pipelined", n, want, data, closed if want != "wait" else False, uas,
                  key_of(n, bad))
        # After a framing error nothing more is read; after clerr the next
        # message is (part of) its body, so never seen as a request.
        check("pipelined %s: the message after it is not processed" % n,
              not uas.saw(b".pipe-%s-b" % n.encode()) and
              not any(b".pipe-%s-b" % n.encode() in g[1] for g in finals(data)))
        alive(px, socks, "pipelined " + n)


def main():
    msgs = load()
    check("every RFC 4475 message has an expected outcome",
          sorted(msgs) == sorted(EXPECT) and len(msgs) == 49,
          set(msgs) ^ set(EXPECT))
    tmp = tempfile.mkdtemp(prefix="rampart-torture-")
    uas = FakeUAS()
    uas.start()
    md, msock, _ = E.start_mediad(MEDIAD, tmp, nports=64, log_level="notice")
    px = pcr.Proxy(tmp, CONF % {"uas": uas.port, "msock": msock}, name="torture", tls=False)
    socks = []
    try:
        for _ in range(8):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        if alive(px, socks, "start-up", tcp=True):
            run_udp(px, uas, msgs, socks)
            run_tcp(px, uas, msgs, socks)
            run_pipe(px, uas, msgs, socks)
            alive(px, socks, "the end", tcp=True)
    finally:
        uas.stop_ev.set()
        px.stop()
        md.send_signal(signal.SIGTERM)
        try:
            md.wait(10)
        except subprocess.TimeoutExpired:
            md.kill()
            md.wait()
    check("proxy exited cleanly", px.p.returncode == 0, px.p.returncode)
    log = px.text()
    check("no sanitizer report in the proxy log",
          "AddressSanitizer" not in log and "runtime error" not in log)
    if failures:
        print("log tail:\n" + log[-3000:])
        print("%d failed: %s" % (len(failures), ", ".join(failures)))
        sys.exit(1)
    subprocess.run(["rm", "-rf", tmp])


main()
