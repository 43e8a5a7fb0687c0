"""Test helpers shared by the tools tests: bencode and a client for the
daemons' control sockets (Unix SOCK_SEQPACKET, one bencode dict a message;
docs/control-protocol.md). Written independently of common/benc.c so that
the tests check the daemons against a second implementation."""
import socket

def benc(v):
    if isinstance(v, bool):
        v = int(v)
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    if isinstance(v, list):
        return b"l" + b"".join(benc(x) for x in v) + b"e"
    if isinstance(v, dict):
        out = b"d"
        for k in sorted(v, key=lambda k: k.encode() if isinstance(k, str) else k):
            out += benc(k) + benc(v[k])
        return out + b"e"
    raise TypeError(type(v))


def bdec(b, i=0):
    c = b[i:i + 1]
    if c == b"i":
        e = b.index(b"e", i)
        return int(b[i + 1:e]), e + 1
    if c == b"l":
        i += 1
        out = []
        while b[i:i + 1] != b"e":
            v, i = bdec(b, i)
            out.append(v)
        return out, i + 1
    if c == b"d":
        i += 1
        out = {}
        while b[i:i + 1] != b"e":
            k, i = bdec(b, i)
            v, i = bdec(b, i)
            out[k if isinstance(k, str) else k.decode("latin-1")] = v
        return out, i + 1
    colon = b.index(b":", i)
    n = int(b[i:colon])
    s = b[colon + 1:colon + 1 + n]
    try:
        return s.decode(), colon + 1 + n
    except UnicodeDecodeError:
        return s, colon + 1 + n


class Client:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.s.settimeout(5)
        self.s.connect(path)
        self.n = 0

    def call(self, command, **args):
        self.n += 1
        req = dict(args, command=command, cookie=f"t-{self.n}")
        self.s.send(benc(req))
        for _ in range(20):  # events may come first
            resp, _ = bdec(self.s.recv(65536))
            if resp.get("cookie") == f"t-{self.n}":
                return resp
        raise RuntimeError("no response")

    def ok(self, command, **args):
        r = self.call(command, **args)
        if r.get("result") != "ok":
            raise RuntimeError(f"{command}: {r}")
        return r
