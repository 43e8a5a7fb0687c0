#!/usr/bin/env python3
"""minidns.py ZONE.json [--port N] [--log FILE]: a small authoritative DNS
server for tests (Python standard library only), on 127.0.0.1, UDP and TCP.

It prints "port N" on stdout once it listens (port 0 = the kernel picks one)
and re-reads ZONE.json whenever the file's mtime changes, so a test moves a
name by rewriting the file. The zone:

  {"silent": false,              # true: read queries, never answer
   "soa_min": 5,                 # negative TTL (SOA MINIMUM) in NXDOMAIN/NODATA
   "truncate": ["name", ...],    # UDP answers for these names carry TC=1, no records
   "tcp_close": ["name", ...],   # TCP queries for these names: closed unanswered
   "servfail": ["name", ...],    # these names get SERVFAIL
   "records": [
     ["host.test", "A", 30, "127.0.0.1"],
     ["host.test", "AAAA", 30, "::1"],
     ["_sip._udp.host.test", "SRV", 30, [PRIO, WEIGHT, PORT, "target.test"]],
     ["host.test", "NAPTR", 30, [ORDER, PREF, "s", "SIP+D2U", "", "_sip._udp.host.test"]],
     ["alias.test", "CNAME", 30, "host.test"]]}

A name absent from the records gets NXDOMAIN; a name present with no
record of the asked type gets NODATA; both with an SOA in the authority
section. A UDP answer longer than the query's EDNS payload size (512 bytes
without EDNS) is sent with TC=1 and no records, as a real server would
(RFC 1035 4.2.1, RFC 6891): the client asks again over TCP. Each query is
appended to --log as "TYPE NAME" (one a line; "TCP TYPE NAME" over TCP)."""
import argparse
import ipaddress
import json
import os
import socket
import struct
import sys
import threading

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "AAAA": 28, "SRV": 33, "NAPTR": 35}
TNAMES = {v: k for k, v in TYPES.items()}


def enc_name(n):
    out = b""
    for label in n.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def dec_name(msg, at):
    labels = []
    while True:
        n = msg[at]
        if n == 0:
            return ".".join(labels), at + 1
        if n & 0xC0:
            raise ValueError("compressed question")
        labels.append(msg[at + 1:at + 1 + n].decode("ascii", "replace"))
        at += 1 + n


def cstr(s):
    b = s.encode()
    return bytes([len(b)]) + b


def rdata(rtype, v):
    if rtype == "A":
        return ipaddress.IPv4Address(v).packed
    if rtype == "AAAA":
        return ipaddress.IPv6Address(v).packed
    if rtype == "CNAME":
        return enc_name(v)
    if rtype == "SRV":
        return struct.pack("!HHH", v[0], v[1], v[2]) + enc_name(v[3])
    if rtype == "NAPTR":
        return (struct.pack("!HH", v[0], v[1]) + cstr(v[2]) + cstr(v[3]) + cstr(v[4]) +
                enc_name(v[5]))
    raise ValueError(rtype)


def rr(name, rtype, ttl, data):
    return enc_name(name) + struct.pack("!HHIH", rtype, 1, ttl, len(data)) + data


class Zone:
    def __init__(self, path):
        self.path = path
        self.mtime = None
        self.z = {}
        self.lock = threading.Lock()

    def get(self):
        with self.lock:
            try:
                m = os.stat(self.path).st_mtime_ns
                if m != self.mtime:
                    with open(self.path) as f:
                        self.z = json.load(f)
                    self.mtime = m
            except (OSError, ValueError) as e:
                print("minidns: zone: %s" % e, file=sys.stderr, flush=True)
            return self.z


def answer(zone, q, udp, log):
    if len(q) < 12:
        return None
    qid, flags, qd = struct.unpack("!HHH", q[:6])
    if qd != 1 or flags & 0x8000:
        return None
    try:
        name, at = dec_name(q, 12)
        qtype, qclass = struct.unpack("!HH", q[at:at + 4])
    except (ValueError, IndexError, struct.error):
        return None
    question = q[12:at + 4]
    # EDNS (RFC 6891): an OPT record in the additional section gives the
    # UDP payload size the client takes.
    udp_max = 512
    if struct.unpack("!H", q[10:12])[0] >= 1 and q[at + 4:at + 7] == b"\0\0\x29":
        udp_max = max(512, struct.unpack("!H", q[at + 7:at + 9])[0])
    z = zone.get()
    lname = name.lower().rstrip(".")
    if log:
        with open(log, "a") as f:
            f.write("%s%s %s\n" % ("" if udp else "TCP ", TNAMES.get(qtype, str(qtype)),
                                   name.lower()))
    if z.get("silent"):
        return None
    if not udp and lname in [n.lower() for n in z.get("tcp_close", [])]:
        return None
    recs = z.get("records", [])
    rd = flags & 0x0100
    hflags = 0x8400 | rd          # QR, AA
    an = []
    if lname in [n.lower() for n in z.get("servfail", [])]:
        return struct.pack("!HHHHHH", qid, hflags | 2, 1, 0, 0, 0) + question
    if udp and lname in [n.lower() for n in z.get("truncate", [])]:
        return struct.pack("!HHHHHH", qid, hflags | 0x0200, 1, 0, 0, 0) + question
    cur = lname
    for _ in range(8):           # follow CNAMEs inside the zone
        c = [r for r in recs if r[0].lower().rstrip(".") == cur and r[1] == "CNAME"]
        if not c or qtype == TYPES["CNAME"]:
            break
        an.append(rr(cur, 5, c[0][2], rdata("CNAME", c[0][3])))
        cur = c[0][3].lower().rstrip(".")
    for r in recs:
        if r[0].lower().rstrip(".") == cur and TYPES.get(r[1]) == qtype:
            an.append(rr(cur, qtype, r[2], rdata(r[1], r[3])))
    # A name exists when it owns records or is above one that does (an
    # empty non-terminal: NODATA, not NXDOMAIN, RFC 8020).
    exists = any(r[0].lower().rstrip(".") == cur or
                 r[0].lower().rstrip(".").endswith("." + cur) for r in recs)
    ns = []
    rcode = 0
    if not any(TYPES.get(r[1]) == qtype and r[0].lower().rstrip(".") == cur for r in recs):
        if not exists:
            rcode = 3
        soa_min = int(z.get("soa_min", 5))
        soa = (enc_name("ns.test") + enc_name("hostmaster.test") +
               struct.pack("!IIIII", 1, 3600, 600, 86400, soa_min))
        ns.append(rr("test", 6, soa_min, soa))
    out = (struct.pack("!HHHHHH", qid, hflags | rcode, 1, len(an), len(ns), 0) +
           question + b"".join(an) + b"".join(ns))
    if udp and len(out) > udp_max:
        return struct.pack("!HHHHHH", qid, hflags | 0x0200 | rcode, 1, 0, 0, 0) + question
    return out


def serve_tcp(ts, zone, log):
    while True:
        c, _ = ts.accept()
        c.settimeout(5)
        try:
            hdr = c.recv(2)
            if len(hdr) < 2:
                continue
            n = struct.unpack("!H", hdr)[0]
            q = b""
            while len(q) < n:
                k = c.recv(n - len(q))
                if not k:
                    break
                q += k
            a = answer(zone, q, False, log)
            if a:
                c.sendall(struct.pack("!H", len(a)) + a)
        except OSError:
            pass
        finally:
            c.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("zone")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--log")
    a = ap.parse_args()
    zone = Zone(a.zone)
    us = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ts = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ts.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # One port for both: bind UDP first, then TCP on the same number.
    for _ in range(50):
        us.bind(("127.0.0.1", a.port))
        port = us.getsockname()[1]
        try:
            ts.bind(("127.0.0.1", port))
            break
        except OSError:
            if a.port:
                raise
            us.close()
            us = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ts.listen(16)
    threading.Thread(target=serve_tcp, args=(ts, zone, a.log), daemon=True).start()
    print("port %d" % port, flush=True)
    while True:
        q, peer = us.recvfrom(4096)
        r = answer(zone, q, True, a.log)
        if r:
            us.sendto(r, peer)


if __name__ == "__main__":
    main()
