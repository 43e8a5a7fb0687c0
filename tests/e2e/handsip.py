"""handsip.py: SIP messages written by hand for the tests that talk to
rampart-proxy without sipp (tests/e2e/secure_call_run.py,
tests/integration/proxy_sdp_interop.py): an SDP with an optional a=crypto,
a UDP peer, requests and responses, and a Call from a caller through the
proxy to a callee up to the 200 and its ACK."""
import base64
import os
import re
import socket
import time


def key():
    return base64.b64encode(os.urandom(30)).decode()


def sdp(ip, port, proto="RTP/SAVP", crypto=None):
    s = ("v=0\r\no=- 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"
         "m=audio %d %s 0\r\na=rtpmap:0 PCMU/8000\r\n" % (ip, ip, port, proto))
    if crypto:
        s += "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s\r\n" % crypto
    return s


class Peer:
    """A SIP user agent on one UDP socket, messages made by hand."""

    def __init__(self, ip):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind((ip, 0))
        self.ip, self.port = self.s.getsockname()

    def send(self, data, to):
        self.s.sendto(data.encode(), to)

    def recv(self, pred=lambda m: True, seconds=4.0):
        """The first message that pred accepts (others are skipped)."""
        deadline = time.time() + seconds
        while True:
            left = deadline - time.time()
            if left <= 0:
                return None, None
            self.s.settimeout(left)
            try:
                data, addr = self.s.recvfrom(65535)
            except socket.timeout:
                return None, None
            m = data.decode(errors="replace")
            if pred(m):
                return m, addr


def hdr(m, name, all_=False):
    vals = re.findall(r"^%s:[ \t]*(.*?)\r$" % re.escape(name), m, re.M | re.I)
    return vals if all_ else (vals[0] if vals else None)


def body(m):
    return m.split("\r\n\r\n", 1)[1] if "\r\n\r\n" in m else ""


def status(m):
    mm = re.match(r"SIP/2\.0 (\d+)", m or "")
    return int(mm.group(1)) if mm else 0


def request(method, ruri, peer, callid, ftag, cseq, to_tag="", body_="", routes=(),
            branch=None, cseq_method=None):
    branch = branch or "z9hG4bK" + os.urandom(6).hex()
    lines = ["%s %s SIP/2.0" % (method, ruri),
             "Via: SIP/2.0/%s %s:%d;branch=%s;rport" % (getattr(peer, "via", "UDP"), peer.ip,
                                                         peer.port, branch),
             "Max-Forwards: 70",
             "From: <sip:alice@test>;tag=%s" % ftag,
             "To: <%s>%s" % (ruri.split(";")[0], (";tag=" + to_tag) if to_tag else ""),
             "Call-ID: %s" % callid,
             "CSeq: %d %s" % (cseq, cseq_method or method),
             "Contact: <sip:alice@%s:%d>" % (peer.ip, peer.port)]
    lines += ["Route: %s" % r for r in routes]
    if body_:
        lines.append("Content-Type: application/sdp")
    lines.append("Content-Length: %d" % len(body_))
    return "\r\n".join(lines) + "\r\n\r\n" + body_, branch


def response(req, code, reason, to_tag, body_="", peer=None):
    lines = ["SIP/2.0 %d %s" % (code, reason)]
    lines += ["Via: %s" % v for v in hdr(req, "Via", True)]
    lines += ["Record-Route: %s" % v for v in hdr(req, "Record-Route", True)]
    to = hdr(req, "To")
    if to_tag and ";tag=" not in to:
        to += ";tag=" + to_tag
    lines += ["From: %s" % hdr(req, "From"), "To: %s" % to,
              "Call-ID: %s" % hdr(req, "Call-ID"), "CSeq: %s" % hdr(req, "CSeq")]
    if peer:
        lines.append("Contact: <sip:bob@%s:%d>" % (peer.ip, peer.port))
    if body_:
        lines.append("Content-Type: application/sdp")
    lines.append("Content-Length: %d" % len(body_))
    return "\r\n".join(lines) + "\r\n\r\n" + body_


def is_req(method):
    return lambda m: m.startswith(method + " ")


def is_resp(method, minimum=101):
    return lambda m: (m.startswith("SIP/2.0") and status(m) >= minimum and
                      re.search(r"^CSeq:\s*\d+\s+%s\r$" % method, m, re.M | re.I) is not None)


def crypto_key(s):
    m = re.search(r"a=crypto:\d+ \S+ inline:([A-Za-z0-9+/=]+)", s or "")
    return m.group(1) if m else None


class Call:
    """Caller 'uac' -> proxy -> callee 'uas' up to the 200 and its ACK."""

    def __init__(self, uac, uas, proxy, user, offer):
        self.uac, self.uas, self.proxy = uac, uas, proxy
        self.callid = "e2e-" + os.urandom(6).hex()
        self.ftag = "ft" + os.urandom(3).hex()
        self.ttag = "tt" + os.urandom(3).hex()
        self.ruri = "sip:%s@%s:%d" % (user, uas.ip, uas.port)
        self.offer = offer
        self.cseq = 1

    def invite(self):
        msg, self.branch = request("INVITE", self.ruri, self.uac, self.callid, self.ftag, 1,
                                   body_=self.offer)
        self.inv = msg
        self.uac.send(msg, self.proxy)

    def callee_gets_invite(self):
        self.b_inv, self.b_addr = self.uas.recv(
            lambda x: x.startswith("INVITE ") and hdr(x, "Call-ID") == self.callid)
        return self.b_inv

    def answer(self, code, reason, sdp_=""):
        self.uas.send(response(self.b_inv, code, reason, self.ttag, sdp_, self.uas), self.b_addr)

    def caller_gets(self, method="INVITE", minimum=180):
        """Responses of this call only; a failure final is ACKed (hop by
        hop, as the transaction layer wants) so it is not retransmitted."""
        mine = is_resp(method, minimum)
        m, _ = self.uac.recv(lambda x: mine(x) and hdr(x, "Call-ID") == self.callid)
        if m and method == "INVITE" and status(m) >= 300:
            ack = self.inv.split("\r\n\r\n")[0] + "\r\n"
            ack = re.sub(r"^INVITE ", "ACK ", ack)
            ack = re.sub(r"(?m)^CSeq: 1 INVITE", "CSeq: 1 ACK", ack)
            ack = re.sub(r"(?m)^To: .*$", "To: " + hdr(m, "To") + "\r", ack)
            ack = re.sub(r"(?m)^Content-Type:.*\r\n", "", ack)
            ack = re.sub(r"(?m)^Content-Length: \d+", "Content-Length: 0", ack) + "\r\n"
            self.uac.send(ack, self.proxy)
        return m

    def routes(self, resp):
        return list(reversed(hdr(resp, "Record-Route", True)))

    def ack(self, resp):
        msg, _ = request("ACK", "sip:bob@%s:%d" % (self.uas.ip, self.uas.port), self.uac,
                         self.callid, self.ftag, self.cseq, to_tag=self.ttag,
                         routes=self.routes(resp))
        self.uac.send(msg, self.proxy)

    def in_dialog(self, method, resp, body_=""):
        self.cseq += 1
        msg, _ = request(method, "sip:bob@%s:%d" % (self.uas.ip, self.uas.port), self.uac,
                         self.callid, self.ftag, self.cseq, to_tag=self.ttag,
                         routes=self.routes(resp), body_=body_)
        self.uac.send(msg, self.proxy)
