#!/usr/bin/env python3
"""sipfuzz.py: a bounded network mutation fuzzer for the whole daemons.

    sipfuzz.py --proxy PATH --mediad PATH [--seed N] [--seconds S]
               [--batch N] [--sipp-every N] [--keep]

Starts a real rampart-mediad and a rampart-proxy (UDP, TCP and TLS
listeners, a control socket, the metrics endpoint, a trunk, a digest user)
on loopback ports picked at run time, then sends batches of realistic
messages and short dialogs, each message mutated with some probability:

- seeds: OPTIONS; REGISTER with digest (the nonce of a real 401); INVITE
  with SDP and a=crypto to a registered fake UAS and through a trunk to it
  (the real mediad rewrites the SDP), ACK, re-INVITE, UPDATE, PRACK, BYE in
  the dialog along its Record-Route; CANCEL; responses with no transaction;
  the fake UAS's own answers to the proxy's client transactions.
- mutations: delete, duplicate or reorder headers; hostile numbers in
  CSeq, Max-Forwards, Content-Length, Expires, RSeq/RAck and ports; the
  wrong method in CSeq; odd URIs (IPv6 literals, parameters without values,
  escapes, very long); truncated or garbage SDP and a=crypto; byte flips,
  truncation, stray CRLFs; what real hostile peers send besides: header
  values folded onto continuation lines (LWS), compact header names mixed
  with long ones, several Via values comma-separated on one line (up to
  200), multipart bodies (the SDP inside, broken boundaries), 100-2,000
  small headers.
- transports: UDP; TCP (split at random points, several messages
  pipelined in one write); TLS; a TCP (now and then TLS) slow drip, one
  byte a write (bounded: 2 s), which must still be answered; a real TLS
  ClientHello followed by garbage.
- the control sockets of both daemons (bencode over SOCK_SEQPACKET):
  mutated and malformed requests; each must get exactly one answer, `ok` or
  `error` with an `error-reason`, the connection stays open, and a refused
  mediad request leaves the session list as it was.
- the metrics HTTP endpoint: malformed requests; /metrics still answers.

After every batch the daemons must be alive: OPTIONS over UDP (several
source ports, so every worker is asked), TCP and TLS answered 200, a clean
call with SRTP through the proxy and mediad completes (INVITE/200/ACK/BYE,
the answer rewritten to a relay port) and every --sipp-every batches one
through sipp, `ping` answered on both control sockets, /metrics answered.
At the end both daemons get SIGTERM and must exit 0 with no sanitizer
report in their logs. Exit status 0: no finding; 1: findings (printed,
logs kept). Every loop is bounded by --seconds and by counts; a fixed
--seed gives the same mutations (the timing of a loaded machine does not
repeat, so a run is reproducible in what it sends, not in interleaving).
"""
import argparse
import hashlib
import os
import random
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, HERE)
import e2e_common as E  # noqa: E402
import ctlproto  # noqa: E402

HA1 = "d03b1c803d446cc473926ad83d7ff641"   # alice:rampart:<some password>
CONF = """
log_level = info;
log_rate_burst = 20;
realm = "rampart";
domain = "rampart.test";
mediad_socket = "%(msock)s";
control_socket = "%(csock)s";
timer_t1 = 100;
# The kernel's hash, not worker 0 alone at low load: the mutated datagrams
# and the liveness OPTIONS from several source ports reach every worker.
udp_steering = hash;
user alice { ha1_md5 = "%(ha1)s"; }
trunk carrier {
    address = "127.0.0.1:%(uas)d";
    inbound { source = 192.0.2.1; }
    # SRTP with a=crypto toward the carrier (over UDP: allowed here).
    media_encryption = require;
    allow_sdes_over_insecure = yes;
}
route request {
    if (has_header("Route")) { relay; }
    if (method == "CANCEL" || method == "ACK") { relay; }
    if (method == "REGISTER") {
        if (from.user == "alice") { authenticate; }
        save;
    }
    if (ruri.host == "trunk.test") { record_route; relay carrier; }
    if (ruri.host == "rampart.test") {
        record_route;
        if (!lookup()) { reply 404 "Not Found"; }
        relay;
    }
    record_route;
    relay;
}
"""

NUMS = ["-1", "0", "1", "65535", "65536", "4294967295", "4294967296", "2147483648",
        "18446744073709551615", "18446744073709551616", "9" * 40, "abc", "0x10", "",
        " ", "1.5", "+1", "007", "1e3", "-0", "1 2", "\t7"]
URIS = ["sip:[::1]", "sip:x@[::1]:5060", "sip:[::ffff:127.0.0.1]:5060", "sip:[fe80::1%25lo]",
        "sip:[::1", "sip:[]", "sip:[1:2:3:4:5:6:7:8:9]", "sip:127.0.0.1;lr;transport;maddr=",
        "sip:a%00b@127.0.0.1", "sip:%zz@127.0.0.1", "sip:%41lice@rampart.test",
        "sip:" + "a" * 5000 + "@rampart.test", "sip:", "sip:@", "sips:x@[::1]:0",
        "sip:x@127.0.0.1:99999", "sip:x@127.0.0.1:-5", "tel:+15551234;phone-context=",
        "sip:x@rampart.test;" + ";".join("p%d" % i for i in range(300)),
        "sip:x@rampart.test?Route=%3Csip:evil%3E", "urn:service:sos", "<sip:x@y", "sip:x@y>",
        "sip:user:pass@rampart.test", "sip:x@256.256.256.256", "sip:bob@trunk.test:0"]
CRYPTO = ["AES_CM_128_HMAC_SHA1_80 inline:", "AES_CM_128_HMAC_SHA1_80 inline:@@@@",
          "AES_CM_128_HMAC_SHA1_80 inline:" + "A" * 400,
          "AEAD_AES_256_GCM inline:" + "QUJD" * 11 + "|2^99|1:1",
          "AES_CM_128_HMAC_SHA1_32 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:32;"
          "inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|2:32",
          "FOO_BAR inline:x", "", "AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7"
          "fQp9CnVubGVz|0|0:0 KDR=99 UNENCRYPTED_SRTP FEC_ORDER=x"]
SDP_LINES = ["m=audio 99999 RTP/AVP 0", "m=audio -1 RTP/SAVP 0", "m=audio 4000/99999 RTP/AVP 0",
             "c=IN IP6 ::1", "c=IN IP4 ", "c=IN IP4 999.1.1.1/300", "c=IN IP6 [::1]",
             "a=rtcp:0", "a=rtcp:70000 IN IP4 1.2.3.4", "a=rtpmap:", "a=fmtp:0 " + "x" * 3000,
             "m=video 0 RTP/AVP", "m=", "a=", "=", "a=inactive", "a=sendonly", "b=AS:-1",
             "o=- - - IN IP4 x", "m=audio 4000 RTP/SAVPF " + " ".join(str(i) for i in range(200)),
             "m=image 4000 udptl t38", "a=candidate:1 1 UDP 1 127.0.0.1 1 typ host",
             "a=fingerprint:sha-256 00", "a=setup:actpass"]


def md5(s):
    return hashlib.md5(s.encode()).hexdigest()


def b64key(rng):
    import base64
    return base64.b64encode(bytes(rng.getrandbits(8) for _ in range(30))).decode()


def sdp(rng, port, srtp=True, sess=1, ver=1):
    t = ("v=0\r\no=- %d %d IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
         "m=audio %d RTP/%s 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
         "a=rtpmap:101 telephone-event/8000\r\n" % (sess, ver, port, "SAVP" if srtp else "AVP"))
    if srtp:
        t += "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s\r\n" % b64key(rng)
    return t


# --- messages as (start line, [(name, value)], body) ----------------------

def build(start, hdrs, body, fix_len=True):
    out = start + "\r\n"
    for k, v in hdrs:
        if k.lower() in ("content-length", "l") and fix_len:
            continue
        out += "%s: %s\r\n" % (k, v)
    if fix_len:
        out += "Content-Length: %d\r\n" % len(body.encode("latin1"))
    return (out + "\r\n" + body).encode("latin1")


def parse(data):
    text = data.decode("latin1")
    head, _, body = text.partition("\r\n\r\n")
    lines = head.split("\r\n")
    hdrs = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and hdrs:
            hdrs[-1] = (hdrs[-1][0], hdrs[-1][1] + "\r\n" + line)
            continue
        k, _, v = line.partition(":")
        hdrs.append((k.strip(), v.strip()))
    return lines[0], hdrs, body


def hval(hdrs, name):
    for k, v in hdrs:
        if k.lower() == name.lower():
            return v
    return None


class Mutator:
    def __init__(self, rng):
        self.r = rng

    def mutate(self, data, n=None):
        """data mutated by 1-3 operators; returns (bytes, [operator names])."""
        r = self.r
        ops = []
        for _ in range(n or r.choice((1, 1, 1, 2, 3))):
            op = r.choice(self.OPS)
            ops.append(op.__name__)
            try:
                data = op(self, data)
            except (ValueError, IndexError):
                pass
        return data, ops

    def _edit(self, data, fn, fix_len=True):
        start, hdrs, body = parse(data)
        start, hdrs, body = fn(start, hdrs, body)
        return build(start, hdrs, body, fix_len)

    def del_header(self, data):
        def f(s, h, b):
            if h:
                del h[self.r.randrange(len(h))]
            return s, h, b
        return self._edit(data, f)

    def dup_header(self, data):
        def f(s, h, b):
            if h:
                i = self.r.randrange(len(h))
                h.insert(self.r.randrange(len(h) + 1), h[i])
            return s, h, b
        return self._edit(data, f)

    def reorder(self, data):
        def f(s, h, b):
            self.r.shuffle(h)
            return s, h, b
        return self._edit(data, f)

    def number(self, data):
        r = self.r

        def f(s, h, b):
            names = [i for i, (k, _) in enumerate(h) if k.lower() in (
                "cseq", "max-forwards", "expires", "rseq", "rack", "via", "contact",
                "session-expires", "min-se", "content-length")]
            if not names:
                return s, h, b
            i = r.choice(names)
            k, v = h[i]
            nums = list(re.finditer(r"\d+", v))
            if nums:
                m = r.choice(nums)
                v = v[:m.start()] + r.choice(NUMS) + v[m.end():]
            else:
                v = r.choice(NUMS)
            h[i] = (k, v)
            return s, h, b
        # A hostile Content-Length must reach the wire as written.
        return self._edit(data, f, fix_len=r.random() < 0.7)

    def cseq_method(self, data):
        def f(s, h, b):
            h = [(k, re.sub(r"[A-Z]+$", self.r.choice(
                ["INVITE", "ACK", "BYE", "CANCEL", "PRACK", "UPDATE", "REGISTER", "FOO", "",
                 "invite"]), v)) if k.lower() == "cseq" else (k, v) for k, v in h]
            return s, h, b
        return self._edit(data, f)

    def odd_uri(self, data):
        r = self.r

        def f(s, h, b):
            u = r.choice(URIS)
            where = r.randrange(4)
            if where == 0 and not s.startswith("SIP/"):
                p = s.split(" ")
                if len(p) == 3:
                    s = "%s %s %s" % (p[0], u, p[2])
            else:
                names = [i for i, (k, _) in enumerate(h) if k.lower() in (
                    "to", "from", "contact", "route", "record-route", "via")]
                if names:
                    i = r.choice(names)
                    k, v = h[i]
                    if k.lower() == "via":
                        v = re.sub(r"127\.0\.0\.1(:\d+)?", r.choice(
                            ["[::1]:5060", "[::1", "[]", "x" * 3000, "127.0.0.1:0",
                             "127.0.0.1:" + r.choice(NUMS)]), v, count=1)
                    else:
                        v = "<%s>%s" % (u, r.choice(["", ";tag=x", ";tag", ";lr", ";expires="]))
                    h[i] = (k, v)
            return s, h, b
        return self._edit(data, f)

    def sdp_mutate(self, data):
        r = self.r

        def f(s, h, b):
            if not b:
                b = sdp(r, 4000)
                h.append(("Content-Type", "application/sdp"))
            lines = b.split("\r\n")
            k = r.randrange(5)
            if k == 0:
                b = b[:r.randrange(len(b) + 1)]
            elif k == 1:
                lines.insert(r.randrange(len(lines) + 1), r.choice(SDP_LINES))
                b = "\r\n".join(lines)
            elif k == 2:
                b = re.sub(r"a=crypto:\d+ [^\r]*", "a=crypto:%s %s" % (
                    r.choice(["1", "0", "-1", "99999999999", "x"]), r.choice(CRYPTO)), b)
                if "a=crypto" not in b:
                    b += "a=crypto:1 %s\r\n" % r.choice(CRYPTO)
            elif k == 3:
                del lines[r.randrange(len(lines))]
                b = "\r\n".join(lines)
            else:
                b = b.replace("\r\n", r.choice(["\n", "\r", "\r\n\r\n", "\x00"]))
            return s, h, b
        return self._edit(data, f)

    def long_value(self, data):
        def f(s, h, b):
            if h:
                i = self.r.randrange(len(h))
                h[i] = (h[i][0], h[i][1] + ";" + "x" * self.r.choice((300, 5000, 40000)))
            return s, h, b
        return self._edit(data, f)

    def flip(self, data):
        b = bytearray(data)
        for _ in range(self.r.randrange(1, 8)):
            if b:
                b[self.r.randrange(len(b))] = self.r.randrange(256)
        return bytes(b)

    def truncate(self, data):
        return data[:self.r.randrange(len(data) + 1)]

    def crlf(self, data):
        i = self.r.randrange(len(data) + 1)
        return data[:i] + self.r.choice([b"\r\n", b"\r\n\r\n", b"\n", b"\r", b" \r\n "]) + data[i:]

    def fold(self, data):
        """A header value folded onto continuation lines (RFC 3261 7.3.1),
        at a space, before ';' or after ',', or right after the colon."""
        r = self.r

        def f(s, h, b):
            if not h:
                return s, h, b
            i = r.randrange(len(h))
            k, v = h[i]
            for _ in range(r.choice((1, 1, 2, 5))):
                cuts = [m.start() for m in re.finditer(r"[ ;,]", v)] + [0]
                c = r.choice(cuts)
                v = v[:c] + r.choice(["\r\n ", "\r\n\t", "\r\n    ", " \r\n "]) + v[c:]
            h[i] = (k, v)
            return s, h, b
        return self._edit(data, f)

    COMPACT = {"via": "v", "from": "f", "to": "t", "call-id": "i", "contact": "m",
               "content-length": "l", "content-type": "c", "subject": "s", "supported": "k",
               "event": "o", "refer-to": "r", "allow-events": "u", "content-encoding": "e"}

    def compact(self, data):
        """Compact header names (RFC 3261 7.3.3) mixed with long ones, in
        either case; Content-Length too (as it was, the body is unchanged)."""
        r = self.r

        def f(s, h, b):
            out = []
            for k, v in h:
                c = self.COMPACT.get(k.lower())
                if c and r.random() < 0.5:
                    k = r.choice([c, c.upper()])
                elif r.random() < 0.2:
                    k = r.choice([k.upper(), k.lower()])
                out.append((k, v))
            return s, out, b
        return self._edit(data, f, fix_len=False)

    def via_comma(self, data):
        """Several Via values on one line: all merged into the first, one
        more after the top value, or 20-200 more (loopback addresses only:
        a response may be sent to them)."""
        r = self.r

        def f(s, h, b):
            idx = [i for i, (k, _) in enumerate(h) if k.lower() in ("via", "v")]
            if not idx:
                return s, h, b
            k, top = idx[0], h[idx[0]]
            kind = r.randrange(3)
            if kind == 0 and len(idx) > 1:
                vals = [h[i][1] for i in idx]
                h = [x for j, x in enumerate(h) if j not in idx[1:]]
                h[k] = (top[0], r.choice([", ", ",", " ,\r\n ", " , "]).join(vals))
            elif kind == 1:
                h[k] = (top[0], top[1] + ", SIP/2.0/%s %s;branch=z9hG4bKvc%d" % (
                    r.choice(["UDP", "TCP", "TLS", "SCTP"]),
                    r.choice(["127.0.0.1:9", "127.0.0.2", "[::1]:9", "127.0.0.1:9;rport"]),
                    r.randrange(10**6)))
            else:
                h[k] = (top[0], top[1] + "".join(
                    ", SIP/2.0/UDP 127.1.%d.%d:9;branch=z9hG4bKvm%d" % (j // 250, j % 250 + 1, j)
                    for j in range(r.choice((20, 200)))))
            return s, h, b
        return self._edit(data, f)

    def multipart(self, data):
        """The body (the SDP, if any) inside a multipart/mixed with another
        part (ISUP-like binary, text, a nested multipart), the boundary
        quoted or not, the closing delimiter right, missing or wrong."""
        r = self.r

        def f(s, h, b):
            bd = r.choice(["unique-boundary-1", "x", "a" * 70, "b'()+_,-./:=?", "--"])
            parts = [("application/sdp", b)] if b else []
            parts.append((r.choice(["application/isup;version=itu-t92+;base=itu-t92+",
                                    "text/plain", "application/octet-stream",
                                    "multipart/mixed;boundary=inner"]),
                          r.choice(["\x01\x00\x49\x00\xff\x0d\x0a", "hello", "--" + bd + "\r\n",
                                    "", "--inner\r\n\r\n--inner--"])))
            r.shuffle(parts)
            body = "".join("--%s\r\nContent-Type: %s\r\n\r\n%s\r\n" % (bd, ct, pb)
                           for ct, pb in parts)
            body += r.choice(["--%s--\r\n" % bd, "--%s--\r\n" % bd, "", "--%s\r\n" % bd,
                              "--wrong--\r\n"])
            h = [(k, v) for k, v in h if k.lower() not in ("content-type", "c")]
            h.append(("Content-Type", "multipart/mixed;boundary=%s" % (
                '"%s"' % bd if r.random() < 0.3 else bd)))
            return s, h, body
        return self._edit(data, f)

    def many_headers(self, data):
        """100 to 2,000 small headers (X-a: b) somewhere among the others."""
        r = self.r

        def f(s, h, b):
            at = r.randrange(len(h) + 1)
            h[at:at] = [(r.choice(["X-a", "x-A", "X-a"]), "b")] * r.choice((100, 500, 2000))
            return s, h, b
        return self._edit(data, f)

    def method(self, data):
        def f(s, h, b):
            if not s.startswith("SIP/"):
                p = s.split(" ", 1)
                s = self.r.choice(["INVITE", "ACK", "BYE", "CANCEL", "PRACK", "UPDATE", "INFO",
                                   "REFER", "NOTIFY", "SUBSCRIBE", "X" * 300, "", "inv ite"]) + \
                    " " + (p[1] if len(p) > 1 else "")
            else:
                s = "SIP/2.0 %s X" % self.r.choice(["100", "180", "183", "199", "200", "299",
                                                   "401", "407", "487", "699", "700", "1000",
                                                   "099", "abc"])
            return s, h, b
        return self._edit(data, f)

    OPS = [del_header, dup_header, reorder, number, number, cseq_method, odd_uri, odd_uri,
           sdp_mutate, sdp_mutate, long_value, flip, flip, truncate, crlf, method,
           fold, compact, via_comma, via_comma, multipart, many_headers]


# --- the peers -------------------------------------------------------------

class FakeUAS(threading.Thread):
    """A UAS on a UDP socket: answers what the proxy relays to it (INVITE:
    sometimes 180 or 183 first, then 200 with an SDP answer of the offer's
    profile, sometimes 486 or nothing; others 200; ACK nothing), with its
    answers mutated now and then, and stray responses of no transaction."""

    def __init__(self, rng, mut_p):
        super().__init__(daemon=True)
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", 0))
        self.s.settimeout(0.2)
        self.port = self.s.getsockname()[1]
        self.rng, self.mut = rng, Mutator(rng)
        self.mut_p = mut_p
        self.stop_ev = threading.Event()
        self.lock = threading.Lock()
        self.got = 0
        self.mutated = 0
        self.tf = None

    def reply(self, req, code, reason, body="", extra=""):
        start, hdrs, _ = parse(req)
        out = []
        for k, v in hdrs:
            lk = k.lower()
            if lk in ("via", "v", "record-route", "from", "f", "call-id", "i", "cseq"):
                out.append((k, v))
            elif lk in ("to", "t"):
                out.append((k, v if "tag=" in v else v + ";tag=uas%d" % (hash(v) & 0xffff)))
        out.append(("Contact", "<sip:bob@127.0.0.1:%d>" % self.port))
        if extra:
            for line in extra.split("\r\n"):
                if line:
                    k, _, v = line.partition(": ")
                    out.append((k, v))
        if body:
            out.append(("Content-Type", "application/sdp"))
        return build("SIP/2.0 %d %s" % (code, reason), out, body)

    def send(self, data, addr):
        if self.rng.random() < self.mut_p:
            data, _ = self.mut.mutate(data)
            self.mutated += 1
        if self.tf:
            self.tf.write(b"=== uas %.3f %d\n" % (time.time(), len(data)) + data + b"\n")
        try:
            self.s.sendto(data, addr)
        except OSError:
            pass

    def run(self):
        while not self.stop_ev.is_set():
            try:
                data, addr = self.s.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.handle(data, addr)

    def handle(self, data, addr):
        r = self.rng
        self.got += 1
        if data.startswith(b"SIP/2.0") or not data.strip():
            return
        try:
            start, hdrs, body = parse(data)
        except Exception:
            return
        m = start.split(" ", 1)[0]
        if m == "ACK":
            return
        if m == "INVITE":
            k = r.random()
            if k < 0.05:
                return                     # silent: the caller's CANCEL or timer B
            if k < 0.12:
                self.send(self.reply(data, 486, "Busy Here"), addr)
                return
            if k < 0.4:
                self.send(self.reply(data, r.choice((180, 183)), "Ringing"), addr)
            srtp = "RTP/SAVP" in body
            ans = sdp(r, 30000 + r.randrange(1000) * 2, srtp=srtp, sess=7, ver=r.randrange(3))
            self.send(self.reply(data, 200, "OK", ans), addr)
            if r.random() < 0.05:         # a retransmitted 200
                self.send(self.reply(data, 200, "OK", ans), addr)
            return
        if m == "CANCEL":
            self.send(self.reply(data, 200, "OK"), addr)
            return
        self.send(self.reply(data, 200, "OK"), addr)
        if r.random() < 0.03:             # a response with no transaction
            self.send(re.sub(rb"branch=[^;\r,]+", b"branch=z9hG4bKnone%d" % r.randrange(10**6),
                             self.reply(data, 200, "OK")), addr)


class Findings:
    def __init__(self):
        self.items = []

    def add(self, what, detail=""):
        line = "%s: %s" % (what, str(detail)[:800])
        print("FINDING " + line)
        sys.stdout.flush()
        self.items.append(line)


class Fuzzer:
    def __init__(self, a, tmp):
        self.a, self.tmp = a, tmp
        self.rng = random.Random(a.seed)
        self.mut = Mutator(self.rng)
        self.findings = Findings()
        self.n = 0
        self.sent = {"udp": 0, "tcp": 0, "tls": 0, "mutated": 0, "dialogs": 0,
                     "ctl": 0, "http": 0, "liveness": 0, "sipp": 0}
        self.nonce = None
        self.codes = {}
        self.nc = 0
        # Everything sent, for the findings (kept with the logs).
        self.tf = open(os.path.join(tmp, "sent.trace"), "wb")
        self.streams = {}

    # --- start and stop ---------------------------------------------------

    def start(self):
        a = self.a
        self.uas = FakeUAS(random.Random(a.seed + 1), a.uas_mut)
        self.uas.tf = open(os.path.join(self.tmp, "uas.trace"), "wb")
        self.md, self.msock, (self.lo, self.hi) = E.start_mediad(
            a.mediad, self.tmp, nports=256, log_level="notice")
        self.csock = os.path.join(self.tmp, "proxy.sock")
        # Port 0, read back from the log: a port found free here could be
        # handed to one of the proxy's port-0 SIP listeners before the proxy
        # binds its metrics (seen: "Address already in use", no start).
        self.metrics_port = None
        conf = os.path.join(self.tmp, "fuzz.conf")
        with open(conf, "w") as f:
            f.write(CONF % {"msock": self.msock, "csock": self.csock, "ha1": HA1,
                            "uas": self.uas.port})
        self.plog = os.path.join(self.tmp, "proxy.log")
        self.pf = open(self.plog, "w")
        self.px = subprocess.Popen(
            [a.proxy, "--config", conf, "--state-dir", self.tmp, "--workers", "2",
             "--log-level", "info", "--metrics-listen", "127.0.0.1:0",
             "--listen", "udp:127.0.0.1:0", "--listen", "tcp:127.0.0.1:0",
             "--listen", "tls:127.0.0.1:0"], stdout=self.pf, stderr=subprocess.STDOUT)
        self.ports = {}
        deadline = time.time() + 20
        while time.time() < deadline and self.px.poll() is None:
            text = open(self.plog, errors="replace").read()
            self.ports = {t: int(p) for t, p in
                          re.findall(r"listening on (\w+):127\.0\.0\.1:(\d+)", text)}
            m = re.search(r"metrics on http://127\.0\.0\.1:(\d+)/metrics", text)
            self.metrics_port = int(m.group(1)) if m else None
            if (len(self.ports) == 3 and self.metrics_port and "running" in text and
                    os.path.exists(self.csock)):
                break
            time.sleep(0.05)
        if len(self.ports) != 3 or not self.metrics_port:
            raise RuntimeError("proxy did not start:\n" + open(self.plog).read()[-3000:])
        self.udp = [self.udp_sock() for _ in range(8)]
        # bob (the fake UAS) registers; alice registers with digest.
        self.register_bob()
        self.uas.start()
        self.register_alice()

    def stop(self):
        self.uas.stop_ev.set()
        for s in list(self.streams.values()):
            try:
                s.close()
            except OSError:
                pass
        rcs = {}
        for name, p in (("proxy", self.px), ("mediad", self.md)):
            if p.poll() is not None:
                rcs[name] = p.returncode
                continue
            p.send_signal(signal.SIGTERM)
            try:
                rcs[name] = p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                rcs[name] = "hung at SIGTERM (killed)"
        self.pf.close()
        return rcs

    # --- transports ---------------------------------------------------------

    def udp_sock(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        s.settimeout(0.5)
        return s

    def stream(self, tp, fresh=False):
        s = self.streams.get(tp)
        if s is not None and not fresh:
            return s
        if s is not None:
            try:
                s.close()
            except OSError:
                pass
        raw = socket.create_connection(("127.0.0.1", self.ports[tp]), 3)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tp == "tls":
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            raw = ctx.wrap_socket(raw, server_hostname="localhost")
        raw.settimeout(0.02)
        self.streams[tp] = raw
        return raw

    def drain(self, s, wait):
        out = b""
        s.settimeout(wait)
        try:
            while True:
                c = s.recv(65536)
                if not c:
                    return out, True
                out += c
                s.settimeout(0.01)
        except (socket.timeout, ssl.SSLWantReadError):
            return out, False
        except OSError:
            return out, True

    def send_stream(self, tp, msgs):
        """Writes msgs (pipelined) over the tp connection, split at random
        points; a closed connection is reopened next time."""
        data = b"".join(msgs)
        self.trace(tp, data)
        r = self.rng
        try:
            s = self.stream(tp)
            cuts = sorted(r.randrange(len(data) + 1) for _ in range(r.choice((0, 0, 1, 3, 8))))
            prev = 0
            for c in cuts + [len(data)]:
                if c > prev:
                    s.sendall(data[prev:c])
                prev = c
            got, closed = self.drain(s, 0.02)
            self.tally(got)
        except OSError:
            closed = True
        if closed:
            self.streams.pop(tp, None)
        self.sent[tp] += len(msgs)

    def send_udp(self, data, wait=0.0):
        s = self.rng.choice(self.udp)
        self.trace("udp", data[:65000])
        try:
            s.sendto(data[:65000], ("127.0.0.1", self.ports["udp"]))
        except OSError:
            pass
        self.sent["udp"] += 1
        if wait:
            return self.recv_udp(s, wait)
        return None

    def recv_udp(self, s, wait, want=None):
        """The first message on s (skipping 1xx unless want says 1xx),
        or None after wait seconds."""
        deadline = time.time() + wait
        while time.time() < deadline:
            s.settimeout(max(0.01, deadline - time.time()))
            try:
                d = s.recv(65536)
            except socket.timeout:
                return None
            except OSError:
                return None
            self.tally(d)
            if want and not d.startswith(want):
                continue
            return d
        return None

    def tally(self, data):
        """Counts the status codes of what came back; a 500 from the proxy
        itself (no To tag of the fake UAS) is an internal error on hostile
        input, kept as a finding."""
        for m in re.finditer(rb"SIP/2.0 (\d{3}) ([^\r\n]*)", data):
            code = int(m.group(1))
            self.codes[code] = self.codes.get(code, 0) + 1
            if code == 500 and b"tag=uas" not in data[m.start():m.start() + 2000]:
                self.findings.add("500", data[m.start():m.start() + 600])

    def flush_udp(self):
        for s in self.udp:
            s.settimeout(0)
            try:
                while True:
                    self.tally(s.recv(65536))
            except OSError:
                pass

    # --- seeds ------------------------------------------------------------

    def req(self, method, ruri, tp="UDP", port=9, user="alice", to="bob@rampart.test",
            cseq=None, cid=None, ftag=None, ttag=None, extra=(), body="", branch=None):
        self.n += 1
        n = self.n
        h = [("Via", "SIP/2.0/%s 127.0.0.1:%d;branch=%s;rport" % (
            tp, port, branch or "z9hG4bKfz%d" % n)),
             ("Max-Forwards", "70"),
             ("From", "<sip:%s@rampart.test>;tag=%s" % (user, ftag or "f%d" % n)),
             ("To", "<sip:%s>%s" % (to, ";tag=" + ttag if ttag else "")),
             ("Call-ID", cid or "fz-%d-%d" % (self.a.seed, n)),
             ("CSeq", "%d %s" % (cseq or n % 100000 + 1, method)),
             ("Contact", "<sip:%s@127.0.0.1:%d>" % (user, port))]
        h += list(extra)
        if body:
            h.append(("Content-Type", "application/sdp"))
        return build("%s %s SIP/2.0" % (method, ruri), h, body)

    def register_bob(self):
        # From the UAS's own socket: the registrar keeps the source address
        # (rport), so that is where calls to bob go. The UAS thread starts later.
        s = self.uas.s
        r = None
        for _ in range(5):
            s.sendto(self.req("REGISTER", "sip:rampart.test", user="bob", to="bob@rampart.test",
                              port=self.uas.port, extra=[("Expires", "3600")]),
                     ("127.0.0.1", self.ports["udp"]))
            r = self.recv_udp(s, 2)
            if r and r.startswith(b"SIP/2.0 200"):
                return
        raise RuntimeError("bob's REGISTER: %r" % (r[:200] if r else r))

    def auth_register(self, port=9, cid=None):
        """A REGISTER with valid digest credentials for the last nonce."""
        ha2 = md5("REGISTER:sip:rampart.test")
        cn = "%08x" % self.rng.getrandbits(32)
        self.nc += 1
        resp = md5("%s:%s:%08x:%s:auth:%s" % (HA1, self.nonce, self.nc, cn, ha2))
        auth = ('Digest username="alice", realm="rampart", nonce="%s", uri="sip:rampart.test", '
                'response="%s", algorithm=MD5, qop=auth, nc=%08x, cnonce="%s"' % (
                    self.nonce, resp, self.nc, cn))
        return self.req("REGISTER", "sip:rampart.test", user="alice", to="alice@rampart.test",
                        port=port, cid=cid, extra=[("Expires", "600"), ("Authorization", auth)])

    def register_alice(self):
        s = self.udp[0]
        for _ in range(5):
            s.sendto(self.req("REGISTER", "sip:rampart.test", user="alice", to="alice@rampart.test",
                              cid="alice-reg"), ("127.0.0.1", self.ports["udp"]))
            r = self.recv_udp(s, 2)
            m = r and re.search(rb'nonce="([^"]+)"', r)
            if m:
                self.nonce = m.group(1).decode()
                s.sendto(self.auth_register(cid="alice-reg"), ("127.0.0.1", self.ports["udp"]))
                r = self.recv_udp(s, 2)
                if r and r.startswith(b"SIP/2.0 200"):
                    return True
        self.findings.add("setup", "alice's digest REGISTER not accepted: %r" % (r[:300] if r else r))
        return False

    def trace(self, tp, data):
        self.tf.write(b"=== %s %.3f %d\n" % (tp.encode(), time.time(), len(data)) + data + b"\n")

    def dsend(self, s, data):
        self.trace("udp-dialog", data)
        try:
            s.sendto(data, ("127.0.0.1", self.ports["udp"]))
        except OSError:
            pass

    def maybe(self, data):
        if self.rng.random() < self.a.mut_p:
            self.sent["mutated"] += 1
            return self.mut.mutate(data)[0]
        return data

    def dialog(self, mutate=True, target=None):
        """A call on UDP from one of our sockets: INVITE with SRTP SDP, the
        final answer, ACK, then in-dialog requests along the Record-Route,
        then BYE; any step may be mutated. Returns the INVITE's final
        status line (bytes) or None."""
        r = self.rng
        s = r.choice(self.udp)
        port = s.getsockname()[1]
        self.flush_udp()
        mz = self.maybe if mutate else (lambda d: d)
        cid = "fzd-%d-%d" % (self.a.seed, self.n)
        ftag = "a%d" % self.n
        ruri = target or r.choice(["sip:bob@rampart.test", "sip:+15551234@trunk.test"])
        to = ruri[4:]
        # Plain RTP from the caller (an SRTP offer over UDP gets 488: keys
        # never go back over insecure signaling); SRTP toward the trunk.
        offer = sdp(r, 40000 + 2 * r.randrange(1000), srtp=mutate and r.random() < 0.2)
        inv = self.req("INVITE", ruri, port=port, cid=cid, ftag=ftag, cseq=1, to=to, body=offer)
        self.dsend(s, mz(inv))
        self.sent["udp"] += 1
        self.sent["dialogs"] += 1
        if mutate and r.random() < 0.1:
            # CANCEL before the answer (same branch as the INVITE).
            br = re.search(rb"branch=([^;\r]+)", inv).group(1).decode()
            c = self.req("CANCEL", ruri, port=port, cid=cid, ftag=ftag, cseq=1, to=to, branch=br)
            self.dsend(s, mz(c))
        final = None
        deadline = time.time() + (3.0 if not mutate else 0.6)
        while time.time() < deadline:
            d = self.recv_udp(s, deadline - time.time())
            if d is None:
                break
            if re.match(rb"SIP/2.0 [2-6]\d\d ", d) and b"INVITE" in d.split(b"CSeq:", 1)[-1][:30]:
                final = d
                break
        if final is None or not final.startswith(b"SIP/2.0 200"):
            if final is not None:
                # ACK of the non-2xx goes hop by hop (same branch).
                br = re.search(rb"branch=([^;\r]+)", inv).group(1).decode()
                tt = re.search(rb"^(?:To|t):[^\r]*;tag=([^;\r>]+)", final, re.M | re.I)
                self.dsend(s, self.req("ACK", ruri, port=port, cid=cid, ftag=ftag, cseq=1, to=to,
                                       branch=br, ttag=tt.group(1).decode() if tt else None))
            return final, None
        _, fh, fbody = parse(final)
        ttag = re.search(r";tag=([^;>]+)", hval(fh, "To") or "")
        ttag = ttag.group(1) if ttag else "x"
        rr = [v for k, v in fh if k.lower() == "record-route"]
        route = ", ".join(reversed(", ".join(rr).split(", "))) if rr else None
        # The fake UAS may have mangled its own Contact: fall back to the Request-URI.
        cm = re.search(r"<([^>]+)>", hval(fh, "Contact") or "")
        contact = cm.group(1) if cm else ruri
        ex = [("Route", route)] if route else []

        def indlg(method, cseq, body="", extra=()):
            return self.req(method, contact, port=port, cid=cid, ftag=ftag, cseq=cseq, to=to,
                            ttag=ttag, extra=ex + list(extra), body=body)
        self.dsend(s, mz(indlg("ACK", 1)))
        cseq = 2
        if mutate:
            for _ in range(r.randrange(4)):
                m = r.choice(["INVITE", "UPDATE", "PRACK", "INFO", "OPTIONS", "MESSAGE"])
                body = sdp(r, 40000 + 2 * r.randrange(1000), ver=cseq) if m in ("INVITE",
                                                                                  "UPDATE") else ""
                extra = [("RAck", "1 1 INVITE")] if m == "PRACK" else []
                self.dsend(s, mz(indlg(m, cseq, body, extra)))
                self.sent["udp"] += 1
                d = self.recv_udp(s, 0.3)
                if m == "INVITE" and d and d.startswith(b"SIP/2.0 200"):
                    self.dsend(s, indlg("ACK", cseq))
                cseq += 1
        self.dsend(s, mz(indlg("BYE", cseq)))
        self.sent["udp"] += 1
        bye = self.recv_udp(s, 3.0 if not mutate else 0.3, want=b"SIP/2.0 ")
        return final, (fbody, bye)

    def single(self):
        """One seed message, mutated, over a random transport; now and
        then a slow drip or a TLS ClientHello followed by garbage."""
        r = self.rng
        k = r.random()
        if k < 0.01:
            return self.drip()
        if k < 0.03:
            return self.tls_garbage()
        tp = r.choice(["udp"] * 6 + ["tcp"] * 2 + ["tls"] * 2)
        T = tp.upper()
        k = r.randrange(8)
        if k == 0:
            m = self.req("OPTIONS", "sip:rampart.test", tp=T)
        elif k == 1:
            m = self.auth_register() if self.nonce else self.req("REGISTER", "sip:rampart.test")
        elif k == 2:
            m = self.req("REGISTER", "sip:rampart.test", tp=T, user="u%d" % r.randrange(50),
                         to="u@rampart.test", extra=[("Expires", r.choice(["0", "60", "3600"]))])
        elif k == 3:
            m = self.req("INVITE", r.choice(["sip:bob@rampart.test", "sip:+1555@trunk.test",
                                             "sip:nobody@rampart.test"]), tp=T,
                         body=sdp(r, 40000 + 2 * r.randrange(1000)))
        elif k == 4:
            m = self.req(r.choice(["BYE", "ACK", "CANCEL", "UPDATE", "PRACK"]),
                         "sip:bob@127.0.0.1:%d" % self.uas.port, tp=T, ttag="t1",
                         extra=[("Route", "<sip:127.0.0.1:%d;lr>" % self.ports[tp])])
        elif k == 5:
            m = build("SIP/2.0 %s OK" % r.choice(["100", "180", "200", "487", "401"]),
                      [("Via", "SIP/2.0/%s 127.0.0.1:%d;branch=z9hG4bKnx%d" % (
                          T, self.ports[tp], r.randrange(10**6))),
                       ("From", "<sip:a@rampart.test>;tag=1"), ("To", "<sip:b@rampart.test>;tag=2"),
                       ("Call-ID", "nx%d" % r.randrange(10**6)), ("CSeq", "1 INVITE")], "")
        elif k == 6:
            m = self.req("MESSAGE", "sip:bob@rampart.test", tp=T, body="hello")
        else:
            m = self.req("SUBSCRIBE", "sip:bob@rampart.test", tp=T, extra=[("Event", "presence")])
        data = self.maybe(m)
        if tp == "udp":
            self.send_udp(data)
        else:
            msgs = [data] + [self.maybe(self.req("OPTIONS", "sip:rampart.test", tp=T))
                             for _ in range(r.choice((0, 0, 1, 3)))]
            self.send_stream(tp, msgs)

    def drip(self):
        """An OPTIONS over a fresh TCP (or TLS) connection one byte a write
        (for TLS one record each), at most 2 s of it (the rest in one
        write): it must be answered 200 within a bounded wait."""
        r = self.rng
        tp = "tcp" if r.random() < 0.7 else "tls"
        m = self.req("OPTIONS", "sip:rampart.test", tp=tp.upper())
        self.trace(tp + "-drip", m)
        self.sent["drip"] = self.sent.get("drip", 0) + 1
        got = b""
        try:
            s = self.stream(tp, fresh=True)
            self.streams.pop(tp, None)
            t_end = time.time() + 2
            i = 0
            while i < len(m) and time.time() < t_end:
                s.sendall(m[i:i + 1])
                i += 1
                time.sleep(0.002)
            s.sendall(m[i:])
            deadline = time.time() + 5
            while b"SIP/2.0 200" not in got and time.time() < deadline:
                d, closed = self.drain(s, 0.5)
                got += d
                if closed:
                    break
            s.close()
        except OSError as e:
            got += str(e).encode()
        self.tally(got)
        if b"SIP/2.0 200" not in got:
            self.findings.add("drip", "%s OPTIONS sent one byte a write unanswered: %r" % (
                tp, got[:200]))

    def tls_garbage(self):
        """A real ClientHello (Python's ssl through memory BIOs), then
        garbage: random bytes, a record header claiming 64 KB, an alert of
        nonsense; at once or after the server's first flight. Nothing to
        expect but no harm (the liveness checks after the batch)."""
        r = self.rng
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        t = ctx.wrap_bio(inc, out, server_hostname=r.choice(["localhost", "x" * 63 + "." + "y" * 63,
                                                             "a.b"]))
        try:
            t.do_handshake()
        except ssl.SSLError:
            pass
        hello = out.read()
        if r.random() < 0.2:
            hello = hello[:r.randrange(len(hello) + 1)]
        junk = r.choice([bytes(r.getrandbits(8) for _ in range(r.choice((1, 64, 4096)))),
                         b"\x17\x03\x03\xff\xff" + b"A" * 1000, b"\x15\x03\x03\x00\x02\xff\xff",
                         b"\x16\x03\x03\x00\x00", b"OPTIONS sip:x SIP/2.0\r\n\r\n",
                         b"\x14\x03\x03\x00\x01\x01" * 50])
        self.trace("tls-garbage", hello + junk)
        self.sent["tls-garbage"] = self.sent.get("tls-garbage", 0) + 1
        try:
            s = socket.create_connection(("127.0.0.1", self.ports["tls"]), 3)
            s.settimeout(0.3)
            if r.random() < 0.5:
                s.sendall(hello + junk)
            else:
                s.sendall(hello)
                try:
                    s.recv(65536)
                except OSError:
                    pass
                s.sendall(junk)
            try:
                s.recv(65536)
            except OSError:
                pass
            s.close()
        except OSError:
            pass

    # --- control sockets and metrics ---------------------------------------

    def ctl_fuzz(self, path, who, n):
        r = self.rng
        try:
            c = ctlproto.Client(path)
            cmds = [x["name"] for x in c.ok("commands")["commands"]]
        except Exception as e:  # noqa: BLE001
            self.findings.add(who + " control", "commands failed: %r" % e)
            return
        before = self.mediad_sessions() if who == "mediad" else None
        vals = [0, -1, 2**63 - 1, -2**63, "", "x" * 3000, b"\xff\x00", [], {}, [1, [2, [3]]],
                {"a": {"b": 1}}, "sess", "1", 999999999]
        keys = ["session", "call-id", "id", "max", "file", "key", "chain", "name", "listener",
                "events", "sdp", "leg", "tag", "from-tag", "to-tag", "address", "port", "crypto",
                "brief", "direction", "media", "version", "cookie", "command"]
        for i in range(n):
            k = r.randrange(10)
            cookie = "fz-%d" % i
            if k < 6:
                d = {"command": r.choice(cmds + ["nope", ""]), "cookie": cookie}
                for _ in range(r.randrange(4)):
                    d[r.choice(keys)] = r.choice(vals)
                if d.get("command") == "config.reload" and r.random() < 0.7:
                    d["command"] = "config.check"
                if r.random() < 0.5:   # the cookie itself mutated only now and then
                    d["cookie"] = cookie
                raw = ctlproto.benc(d)
            elif k < 8:
                raw = ctlproto.benc({"command": r.choice(cmds), "cookie": cookie})
                raw = bytearray(raw)
                for _ in range(r.randrange(1, 4)):
                    op = r.randrange(3)
                    p = r.randrange(len(raw) + 1)
                    if op == 0 and raw:
                        raw[min(p, len(raw) - 1)] = r.randrange(256)
                    elif op == 1:
                        raw[p:p] = r.choice([b"i03e", b"i-0e", b"ie", b"05:", b"l", b"d", b"e",
                                             b"99999999999:", b"i99999999999999999999e"])
                    else:
                        del raw[p:]
                raw = bytes(raw)
            else:
                raw = r.choice([b"d", b"le", b"i1e", b"d" * 40 + b"e" * 40,
                                b"d7:command4:ping6:cookie1:xe" + b"junk", b"d7:command4:pinge",
                                b"d6:cookie1:x7:command" + b"l" * 100 + b"e" * 100 + b"e",
                                b"d1:a1:b1:a1:be", b"d6:cookie" + b"9" * 30 + b":xe",
                                b"d7:command4:ping6:cookie1:x7:versioni2ee",
                                b"d7:command4:ping6:cookie" + b"300:" + b"c" * 300 + b"e",
                                b"l" + b"i1e" * 70000 + b"e"])
            if not raw:
                # A zero-length SEQPACKET reads as end of file: the server
                # closes, as it should; nothing to check.
                continue
            self.sent["ctl"] += 1
            try:
                c.s.send(raw[:65536 + 100])
                resp = None
                for _ in range(20):
                    got, _ = ctlproto.bdec(c.s.recv(1 << 20))
                    if isinstance(got, dict) and "result" in got:
                        resp = got
                        break
            except Exception as e:  # noqa: BLE001
                self.findings.add(who + " control", "no answer to %r: %r" % (raw[:120], e))
                try:
                    c = ctlproto.Client(path)
                except Exception:  # noqa: BLE001
                    return
                continue
            if resp is None or resp.get("result") not in ("ok", "error") or (
                    resp.get("result") == "error" and
                    not isinstance(resp.get("error-reason"), (str, bytes))):
                self.findings.add(who + " control", "bad answer %r to %r" % (resp, raw[:120]))
            if who == "mediad" and resp and resp.get("result") == "ok" and "session" in resp and \
                    isinstance(resp.get("session"), int):
                try:
                    c.call("session.delete", session=resp["session"])
                except Exception:  # noqa: BLE001
                    pass
            if who == "mediad" and resp and resp.get("result") == "error":
                after = self.mediad_sessions(c)
                if before is not None and after is not None and after != before:
                    self.findings.add("mediad control", "a refused request changed the session "
                                      "list %r -> %r: %r" % (before, after, raw[:200]))
                before = after
        try:
            c.s.close()
        except OSError:
            pass

    def mediad_sessions(self, c=None):
        try:
            c = c or ctlproto.Client(self.msock)
            r = c.call("session.list")
            return sorted(r.get("sessions", [])) if r.get("result") == "ok" else None
        except Exception:  # noqa: BLE001
            return None

    def http_fuzz(self, n):
        r = self.rng
        reqs = [b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", b"GET /healthz HTTP/1.0\r\n\r\n",
                b"POST /metrics HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", b"GET\r\n\r\n",
                b"GET /%00 HTTP/1.1\r\n\r\n", b"GET " + b"/a" * 5000 + b" HTTP/1.1\r\n\r\n",
                b"GET /metrics HTTP/1.1\r\n" + b"X: y\r\n" * 2000 + b"\r\n",
                b"GET /metrics HTTP/9.9\r\n\r\n", b"\x16\x03\x01\x00\x05hello",
                b"GET /metrics HTTP/1.1\r\n\r\nGET /metrics HTTP/1.1\r\n\r\n" * 20,
                b"GET /metrics", b"", b"\r\n" * 1000, b"GET /../../etc/passwd HTTP/1.1\r\n\r\n"]
        for _ in range(n):
            data = r.choice(reqs)
            if r.random() < 0.4:
                data = self.mut.flip(data)
            self.sent["http"] += 1
            try:
                s = socket.create_connection(("127.0.0.1", self.metrics_port), 2)
                s.settimeout(0.3)
                s.sendall(data)
                try:
                    s.recv(65536)
                except OSError:
                    pass
                s.close()
            except OSError:
                pass

    def http_get(self, path="/metrics"):
        try:
            s = socket.create_connection(("127.0.0.1", self.metrics_port), 3)
            s.settimeout(5)
            s.sendall(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" %
                      path.encode())
            out = b""
            while True:
                c = s.recv(65536)
                if not c:
                    break
                out += c
            s.close()
            return out
        except OSError as e:
            return str(e).encode()

    # --- liveness -----------------------------------------------------------

    def liveness(self, label, sipp=False):
        self.sent["liveness"] += 1
        ok = True
        for name, p in (("proxy", self.px), ("mediad", self.md)):
            if p.poll() is not None:
                self.findings.add("crash", "%s exited with %s after %s" % (name, p.returncode,
                                                                           label))
                return False
        self.flush_udp()
        # Every worker: OPTIONS from several source ports, a few tries each
        # (a bounded wait for a loaded machine, not a timing assertion).
        for i, s in enumerate(self.udp):
            got = None
            for _ in range(3):
                s.sendto(self.req("OPTIONS", "sip:rampart.test", port=s.getsockname()[1]),
                         ("127.0.0.1", self.ports["udp"]))
                got = self.recv_udp(s, 3.0, want=b"SIP/2.0 200")
                if got:
                    break
            if not got:
                self.findings.add("liveness", "UDP OPTIONS from socket %d unanswered after %s" % (
                    i, label))
                ok = False
        for tp in ("tcp", "tls"):
            got = b""
            for _ in range(2):
                try:
                    s = self.stream(tp, fresh=True)
                    s.sendall(self.req("OPTIONS", "sip:rampart.test", tp=tp.upper()))
                    deadline = time.time() + 5
                    while b"SIP/2.0 200" not in got and time.time() < deadline:
                        d, closed = self.drain(s, 1.0)
                        got += d
                        if closed:
                            break
                except OSError as e:
                    got += str(e).encode()
                if b"SIP/2.0 200" in got:
                    break
            if b"SIP/2.0 200" not in got:
                self.findings.add("liveness", "%s OPTIONS unanswered after %s: %r" % (
                    tp, label, got[:200]))
                ok = False
        for who, path in (("proxy", self.csock), ("mediad", self.msock)):
            try:
                r = ctlproto.Client(path).call("ping")
                good = r.get("result") == "ok"
            except Exception as e:  # noqa: BLE001
                good, r = False, e
            if not good:
                self.findings.add("liveness", "%s control ping after %s: %r" % (who, label, r))
                ok = False
        m = self.http_get()
        if not m.startswith(b"HTTP/1.1 200") and not m.startswith(b"HTTP/1.0 200"):
            self.findings.add("liveness", "/metrics after %s: %r" % (label, m[:200]))
            ok = False
        # A clean SRTP call through the proxy and the real mediad.
        for target in ("sip:bob@rampart.test", "sip:+15551234@trunk.test"):
            res = None
            for _ in range(2):
                with self.uas.lock:
                    saved = self.uas.mut_p
                    self.uas.mut_p = 0.0
                    rng_state = self.uas.rng.getstate()
                    self.uas.rng.seed(12345)
                try:
                    final, rest = self.dialog(mutate=False, target=target)
                finally:
                    with self.uas.lock:
                        self.uas.mut_p = saved
                        self.uas.rng.setstate(rng_state)
                res = (final, rest)
                if final and final.startswith(b"SIP/2.0 200") and rest and rest[1] and \
                        rest[1].startswith(b"SIP/2.0 200"):
                    break
            final, rest = res
            ports = [int(p) for p in re.findall(r"^m=audio (\d+) ", rest[0] if rest else "", re.M)]
            if not (final and final.startswith(b"SIP/2.0 200") and rest and rest[1] and
                    rest[1].startswith(b"SIP/2.0 200") and ports and
                    self.lo <= ports[0] <= self.hi):
                self.findings.add("liveness", "clean call to %s after %s: final %r, answer ports "
                                  "%r, BYE %r" % (target, label, final and final[:60], ports,
                                                  rest and rest[1] and rest[1][:60]))
                ok = False
        if sipp and self.a.sipp:
            ok = self.sipp_call(label) and ok
        return ok

    def sipp_call(self, label):
        self.sent["sipp"] += 1
        d = os.path.join(self.tmp, "sipp-%d" % self.sent["sipp"])
        os.makedirs(d, exist_ok=True)
        integ = os.path.join(HERE, "..", "integration")
        detail = ""
        for _ in range(3):
            uas_port = E.free_port()
            common = ["-i", "127.0.0.1", "-m", "1", "-timeout", "20s", "-timeout_error",
                      "-nostdin", "-trace_err"]
            uas = subprocess.Popen(["sipp", "-sf", os.path.join(integ, "proxy_call_uas.xml"),
                                    "-t", "u1", "-p", str(uas_port), "-cp", str(E.free_port()),
                                    "-mp", str(E.free_port())] + common, cwd=d,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            time.sleep(0.3)
            try:
                uac = subprocess.run(["sipp", "-sf", os.path.join(integ, "proxy_call_uac.xml"),
                                      "-t", "u1", "-p", str(E.free_port()), "-cp",
                                      str(E.free_port()), "-mp", str(E.free_port()), "-s", "sipp",
                                      "-rsa", "127.0.0.1:%d" % self.ports["udp"],
                                      "127.0.0.1:%d" % uas_port] + common, cwd=d,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=40)
                rc = uac.returncode
                out = uac.stdout
            except subprocess.TimeoutExpired:
                rc, out = "timeout", b""
            try:
                uout = uas.communicate(timeout=25)[0]
            except subprocess.TimeoutExpired:
                uas.kill()
                uout = uas.communicate()[0]
            if rc == 0 and uas.returncode == 0:
                return True
            detail = "uac rc=%s uas rc=%s %s %s" % (rc, uas.returncode, out[-400:], uout[-300:])
            if b"Unable to bind" not in out + uout:
                break
        self.findings.add("liveness", "sipp call after %s: %s" % (label, detail))
        return False

    def orphans(self, label, settle=10.0):
        """State check: every mediad session belongs to a call the proxy
        knows (its `calls` list), once transactions in flight have had time
        to end (timer B/F at timer_t1 100 ms: 6.4 s). Then the calls left
        (dialogs the fuzzer never ended) are dropped by call.drop, which
        must delete their sessions, so a long run does not run out of ports."""
        deadline = time.time() + settle
        orphans = []
        while True:
            try:
                pc = ctlproto.Client(self.csock)
                calls = pc.ok("calls")
                known = {c.get("session") for c in calls.get("calls", [])}
                sess = self.mediad_sessions()
            except Exception as e:  # noqa: BLE001
                self.findings.add("state", "calls/session.list after %s: %r" % (label, e))
                return
            if sess is None:
                self.findings.add("state", "mediad session.list failed after %s" % label)
                return
            orphans = [x for x in sess if x not in known]
            if not orphans or calls.get("truncated") or time.time() > deadline:
                break
            time.sleep(0.5)
        if orphans and not calls.get("truncated"):
            q = []
            try:
                mc = ctlproto.Client(self.msock)
                q = [mc.call("session.query", session=x) for x in orphans[:2]]
            except Exception:  # noqa: BLE001
                pass
            self.findings.add("state", "after %s: mediad sessions no proxy call owns: %r %r (proxy "
                              "calls: %r)" % (label, orphans[:10], q, [
                                  (c.get("call-id"), c.get("state"), c.get("session"))
                                  for c in calls.get("calls", [])][:10]))
        for c in calls.get("calls", []):
            try:
                pc.call("call.drop", id=c["id"])
            except Exception:  # noqa: BLE001
                pass
        self.sent["dropped"] = self.sent.get("dropped", 0) + len(calls.get("calls", []))

    # --- the run ------------------------------------------------------------

    def run(self):
        a = self.a
        t_end = time.time() + a.seconds
        self.liveness("start-up", sipp=True)
        batch = 0
        while time.time() < t_end and batch < a.max_batches:
            batch += 1
            r = self.rng
            for i in range(a.batch):
                if time.time() > t_end:
                    break
                k = r.random()
                if k < 0.2:
                    self.dialog()
                else:
                    self.single()
            self.ctl_fuzz(self.csock, "proxy", a.ctl)
            self.ctl_fuzz(self.msock, "mediad", a.ctl)
            self.http_fuzz(max(1, a.ctl // 4))
            if batch % a.state_every == 0:
                self.orphans("batch %d" % batch)
            if not self.liveness("batch %d" % batch,
                                 sipp=a.sipp_every > 0 and batch % a.sipp_every == 0):
                break
        self.liveness("the last batch", sipp=True)
        self.orphans("the last batch")
        return batch


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--proxy", required=True)
    ap.add_argument("--mediad", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--batch", type=int, default=150, help="seed messages/dialogs per batch")
    ap.add_argument("--max-batches", type=int, default=1000)
    ap.add_argument("--ctl", type=int, default=40, help="control requests per daemon per batch")
    ap.add_argument("--mut-p", type=float, default=0.7, help="probability a message is mutated")
    ap.add_argument("--uas-mut", type=float, default=0.15,
                    help="probability a fake UAS answer is mutated")
    ap.add_argument("--sipp-every", type=int, default=4)
    ap.add_argument("--state-every", type=int, default=5,
                    help="check mediad sessions against proxy calls every N batches")
    ap.add_argument("--keep", action="store_true", help="keep the logs even without findings")
    a = ap.parse_args()
    a.sipp = subprocess.run(["which", "sipp"], capture_output=True).returncode == 0
    if not a.sipp:
        print("note: sipp not installed; the sipp liveness call is left out")
    tmp = tempfile.mkdtemp(prefix="rampart-sipfuzz-")
    fz = Fuzzer(a, tmp)
    batches = 0
    t0 = time.time()
    try:
        fz.start()
        batches = fz.run()
    except Exception as e:  # noqa: BLE001
        traceback.print_exc()  # where the harness itself broke
        fz.findings.add("harness", repr(e))
    finally:
        rcs = fz.stop() if hasattr(fz, "px") else {}
    for name, rc in rcs.items():
        if rc != 0:
            fz.findings.add("exit", "%s exit status %s (a sanitizer report or a crash)" % (name, rc))
    for log in ("proxy.log", "mediad.log"):
        for line in E.sanitizer_lines(os.path.join(tmp, log))[:5]:
            fz.findings.add("sanitizer", "%s: %s" % (log, line))
    print("sipfuzz: seed %d, %.0f s, %d batches; sent %s; answers seen %s; fake UAS got %d, "
          "mutated %d of its answers" % (a.seed, time.time() - t0, batches, fz.sent,
                                         dict(sorted(fz.codes.items())),
                       fz.uas.got if hasattr(fz, "uas") else 0,
                       fz.uas.mutated if hasattr(fz, "uas") else 0))
    if fz.findings.items:
        print("%d finding(s); logs kept in %s" % (len(fz.findings.items), tmp))
        for log in ("proxy.log", "mediad.log"):
            p = os.path.join(tmp, log)
            if os.path.exists(p):
                print("--- %s tail:\n%s" % (log, open(p, errors="replace").read()[-2500:]))
        return 1
    if a.keep:
        print("logs kept in " + tmp)
    else:
        subprocess.run(["rm", "-rf", tmp])
    return 0


if __name__ == "__main__":
    sys.exit(main())
