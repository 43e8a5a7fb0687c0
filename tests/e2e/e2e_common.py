"""Helpers shared by the real-peer e2e drivers (baresip_run.py,
kamailio_run.py): checks, free ports, starting rampart-mediad and
rampart-proxy on temporary paths, rampartctl queries, a pcap reader and the
audio arithmetic (WAV writing, mu-law, Goertzel). Standard library only."""
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

failures = []


def check(name, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else ": " + str(detail)[-3000:]))
    sys.stdout.flush()
    if not cond:
        failures.append(name)
    return cond


def verdict(d, log="proxy.log"):
    """The exit status of a test that ran in the temporary dir d: 1 with the
    failures named and the tail of d/log shown (d kept for a look), else 0
    with d removed."""
    if failures:
        print("proxy log tail:\n" + open(os.path.join(d, log), errors="replace").read()[-4000:])
        print("%d failed: %s" % (len(failures), ", ".join(failures)))
        return 1
    shutil.rmtree(d, ignore_errors=True)
    return 0


def skip(reason):
    """Exit 77 (meson's SKIP) saying why, loudly."""
    print("SKIP: " + reason)
    sys.stdout.flush()
    sys.exit(77)


def free_port(kind=socket.SOCK_DGRAM, ip="127.0.0.1"):
    s = socket.socket(socket.AF_INET, kind)
    s.bind((ip, 0))
    p = s.getsockname()[1]
    s.close()
    return p


def free_port_both(ip="127.0.0.1"):
    """A port free for UDP and TCP alike (SIP UAs listen on both)."""
    for _ in range(100):
        p = free_port(socket.SOCK_DGRAM, ip)
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind((ip, p))
            return p
        except OSError:
            continue
        finally:
            t.close()
    raise RuntimeError("no port free for both UDP and TCP")


def free_range(n, ip="127.0.0.1", lo=20000, hi=60000):
    """An even base port b with b..b+n-1 free for UDP right now."""
    for _ in range(200):
        b = random.randrange(lo, hi - n) // 2 * 2
        socks = []
        try:
            for p in range(b, b + n):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind((ip, p))
            return b
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free UDP port range")


def stop(p, sig=signal.SIGTERM, wait=10):
    if p is not None and p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(wait)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def start_mediad(mediad, d, name="mediad", nports=64, extra="", log_level="info"):
    """rampart-mediad on 127.0.0.1 with a free port range and a control
    socket in d; extra: more config lines. Returns (Popen, socket path, (lo, hi))."""
    for _ in range(4):
        lo = free_range(nports)
        sock = os.path.join(d, name + ".sock")
        conf = os.path.join(d, name + ".conf")
        with open(conf, "w") as f:
            f.write("listen = 127.0.0.1\nports = %d-%d\nworkers = 1\nengine = mmsg\n"
                    "control = %s\nlog-level = %s\n%s" % (lo, lo + nports - 1, sock, log_level,
                                                           extra))
        log = open(os.path.join(d, name + ".log"), "a")
        p = subprocess.Popen([mediad, "--config", conf], stderr=log, stdout=log)
        for _ in range(50):
            if os.path.exists(sock) or p.poll() is not None:
                break
            time.sleep(0.1)
        if os.path.exists(sock) and p.poll() is None:
            return p, sock, (lo, lo + nports - 1)
        stop(p)
    raise RuntimeError("mediad did not start")


def start_proxy(proxy, d, cfg, name="proxy", want=("udp", "tls")):
    """rampart-proxy on cfg (text). Waits until it listens on every
    transport in want; returns (Popen, {transport: port}, log path)."""
    path = os.path.join(d, name + ".conf")
    with open(path, "w") as f:
        f.write(cfg)
    logf = os.path.join(d, name + ".log")
    out = open(logf, "w")
    p = subprocess.Popen([proxy, "--config", path, "--state-dir", d, "--workers", "2",
                          "--control", "none", "--log-level",
                          os.environ.get("RP_LOG_LEVEL", "info")],
                         stdout=out, stderr=subprocess.STDOUT)
    deadline = time.time() + 15
    while time.time() < deadline and p.poll() is None:
        text = open(logf).read()
        ports = {}
        for t in want:
            m = re.search(r"listening on %s:127\.0\.0\.1:(\d+)" % t, text)
            if m:
                ports[t] = int(m.group(1))
        if len(ports) == len(want) and "running" in text:
            return p, ports, logf
        time.sleep(0.05)
    stop(p)
    raise RuntimeError("proxy did not start:\n" + open(logf).read()[-3000:])


def mediad_calls(ctl, sock):
    r = subprocess.run([ctl, "--mediad-socket", sock, "calls", "--json"],
                       capture_output=True, text=True, timeout=10)
    try:
        doc = json.loads(r.stdout)
    except ValueError:
        return None, r.stdout + r.stderr
    calls = doc.get("calls", doc) if isinstance(doc, dict) else doc
    return calls, r.stdout


def wait_calls(ctl, sock, n, seconds=5.0):
    """Polls until mediad has n sessions (or the time is up); the count."""
    deadline = time.time() + seconds
    while True:
        calls, _ = mediad_calls(ctl, sock)
        c = -1 if calls is None else len(calls)
        if c == n or time.time() > deadline:
            return c
        time.sleep(0.1)


def sanitizer_lines(path):
    try:
        text = open(path, errors="replace").read()
    except OSError:
        return []
    return [l for l in text.splitlines() if "AddressSanitizer" in l or "runtime error" in l]


# --- audio -----------------------------------------------------------------

def write_tones_wav(path, freqs, seconds, rate=8000, amp=0.35, seed=1):
    """A mono S16LE WAV: the sum of sines at freqs, each at amp/len(freqs)
    of full scale, plus a little white noise (-40 dB) so that no two RTP
    packets carry the same payload (pure tones on a 50 Hz grid repeat every
    20 ms, exactly one packet)."""
    n = int(seconds * rate)
    a = 32767 * amp / len(freqs)
    rnd = random.Random(seed)
    data = bytearray()
    for i in range(n):
        v = a * sum(math.sin(2 * math.pi * f * i / rate) for f in freqs)
        v += rnd.uniform(-1, 1) * 32767 * amp * 0.01
        data += struct.pack("<h", max(-32768, min(32767, int(round(v)))))
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE")
        f.write(b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16))
        f.write(b"data" + struct.pack("<I", len(data)) + bytes(data))


def read_wav(path):
    """(rate, channels, samples of channel 0) of a PCM16 WAV; chunks
    walked, so writers' extra chunks (LIST, fact) are fine."""
    raw = open(path, "rb").read()
    if raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        raise ValueError("not a WAV file")
    pos, rate, ch, bits, data = 12, 0, 0, 0, b""
    while pos + 8 <= len(raw):
        cid, sz = raw[pos:pos + 4], struct.unpack("<I", raw[pos + 4:pos + 8])[0]
        body = raw[pos + 8:pos + 8 + sz]
        if cid == b"fmt ":
            _, ch, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
        elif cid == b"data":
            data = body
        pos += 8 + sz + (sz & 1)
    if bits != 16 or not ch:
        raise ValueError("not 16-bit PCM")
    n = len(data) // 2
    s = struct.unpack("<%dh" % n, data[:n * 2])
    return rate, ch, list(s[::ch])


def ulaw_decode(b):
    """G.711 mu-law bytes to linear samples (ITU-T G.711)."""
    out = []
    for u in b:
        u = ~u & 0xff
        t = ((u & 0x0f) << 3) + 0x84
        t <<= (u & 0x70) >> 4
        out.append((0x84 - t) if (u & 0x80) else (t - 0x84))
    return out


def alaw_decode(b):
    out = []
    for a in b:
        a ^= 0x55
        t = (a & 0x0f) << 4
        seg = (a & 0x70) >> 4
        if seg == 0:
            t += 8
        elif seg == 1:
            t += 0x108
        else:
            t = (t + 0x108) << (seg - 1)
        out.append(t if (a & 0x80) else -t)
    return out


def goertzel_power(samples, rate, freq):
    """Signal power at freq (Goertzel), normalised by the length."""
    w = 2 * math.pi * freq / rate
    coeff = 2 * math.cos(w)
    s1 = s2 = 0.0
    for x in samples:
        s0 = x + coeff * s1 - s2
        s2, s1 = s1, s0
    p = s1 * s1 + s2 * s2 - coeff * s1 * s2
    return p / (len(samples) ** 2) if samples else 0.0


def dominant(samples, rate, lo=200, hi=3600, step=50, top=2):
    """The top frequencies on a step-Hz grid, strongest first, with the
    ratio of the weaker of them to the strongest other grid point (how
    clearly they stand out). The middle of the signal only: the start and
    end carry ringing, jitter-buffer fill and silence."""
    grid = list(range(lo, hi + 1, step))
    if not samples:
        return [], 0.0
    p = [(goertzel_power(samples, rate, f), f) for f in grid]
    p.sort(reverse=True)
    best = [f for _, f in p[:top]]
    weakest = p[top - 1][0]
    other = max((pw for pw, f in p[top:] if all(abs(f - b) > step for b in best)), default=0.0)
    return sorted(best), (weakest / other if other > 0 else float("inf"))


def active_middle(samples, rate, seconds=2.0, thresh=200):
    """Up to `seconds` of samples from the middle of the part whose level is
    above thresh (recordings start and end with silence)."""
    win = rate // 50
    idx = [i for i in range(0, len(samples) - win, win)
           if max(abs(x) for x in samples[i:i + win]) > thresh]
    if not idx:
        return []
    a, b = idx[0], idx[-1] + win
    mid = (a + b) // 2
    half = min(int(seconds * rate) // 2, (b - a) // 2)
    return samples[mid - half:mid + half]


# --- pcap --------------------------------------------------------------------

def read_pcap(path):
    """Yields (proto, src, src_port, dst, dst_port, payload) of the IPv4 UDP/TCP
    packets of a classic pcap file (link types Ethernet, Linux cooked, raw)."""
    raw = open(path, "rb").read()
    if len(raw) < 24:
        return
    magic = raw[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        raise ValueError("not a classic pcap file (use tshark -F pcap)")
    linktype = struct.unpack(e + "I", raw[20:24])[0]
    pos = 24
    while pos + 16 <= len(raw):
        incl = struct.unpack(e + "I", raw[pos + 8:pos + 12])[0]
        pkt = raw[pos + 16:pos + 16 + incl]
        pos += 16 + incl
        if linktype == 1:          # Ethernet
            if len(pkt) < 14 or pkt[12:14] != b"\x08\x00":
                continue
            ip = pkt[14:]
        elif linktype == 113:      # Linux cooked (SLL)
            if len(pkt) < 16 or pkt[14:16] != b"\x08\x00":
                continue
            ip = pkt[16:]
        elif linktype in (101, 228):
            ip = pkt
        else:
            continue
        if len(ip) < 20 or ip[0] >> 4 != 4:
            continue
        ihl = (ip[0] & 0x0f) * 4
        total = struct.unpack(">H", ip[2:4])[0]
        proto = ip[9]
        src, dst = socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20])
        l4 = ip[ihl:total]
        if proto == 17 and len(l4) >= 8:
            sp, dp = struct.unpack(">HH", l4[:4])
            yield "udp", src, sp, dst, dp, l4[8:]
        elif proto == 6 and len(l4) >= 20:
            sp, dp = struct.unpack(">HH", l4[:4])
            off = (l4[12] >> 4) * 4
            yield "tcp", src, sp, dst, dp, l4[off:]


def rtp_parse(p):
    """(payload type, payload) of an RTP packet, None if it is not one."""
    if len(p) < 12 or p[0] >> 6 != 2:
        return None
    pt = p[1] & 0x7f
    if 72 <= pt <= 76:             # RTCP (RFC 5761 section 4)
        return None
    off = 12 + 4 * (p[0] & 0x0f)
    if p[0] & 0x10:
        if len(p) < off + 4:
            return None
        off += 4 + 4 * struct.unpack(">H", p[off + 2:off + 4])[0]
    end = len(p)
    if p[0] & 0x20 and end > off:
        end -= p[-1]
    if end < off:
        return None
    return pt, p[off:end]
