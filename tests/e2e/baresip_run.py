#!/usr/bin/env python3
"""baresip_run.py PROXY MEDIAD RAMPARTCTL: two real baresip user agents
through rampart-proxy + rampart-mediad.

UA1 (alice) registers and calls over TLS with SRTP mandatory (mediaenc
srtp-mand, trusting the test CA); UA2 (bob) over UDP with plain RTP. Both
play a WAV of two known tones (aufile; different tones per UA) and record
what they decode (the sndfile filter). A tshark capture on loopback covers
the proxy's TLS port and both UAs' RTP ports. Checks, per call (alice calls
bob, then bob calls alice):
 - both UAs register (401 challenge answered), the call is established,
   mediad has one session with SRTP on alice's leg and plain on bob's;
 - each recording carries the other UA's two tones as its dominant
   frequencies (Goertzel over a 50 Hz grid);
 - hanging up deletes the mediad session.
And over the whole capture:
 - the TLS side (the proxy's TLS port) holds TLS records and no readable
   SIP ("SIP/2.0", "INVITE", "REGISTER");
 - alice's media is SRTP: RTP headers, but no payload equal to one seen on
   the plain side, and its payload does not decode to the tones;
 - bob's media is plain RTP, PT 0 (PCMU), and its payload decodes to
   alice's tones;
 - both UAs ask for rtcp-mux (RFC 5761): RTCP (SRTCP on alice's side)
   reaches each of them on the port that carries its RTP.
Skips (77) only when baresip or tshark is not installed."""
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import e2e_common as E  # noqa: E402

PROXY, MEDIAD, CTL = sys.argv[1], sys.argv[2], sys.argv[3]
MKCERTS = os.path.join(HERE, "..", "integration", "proxy_mkcerts.sh")
BARESIP_MODULES = "/usr/lib/baresip/modules"
TONES_ALICE = (650, 1700)      # what alice plays (Hz); 50 Hz grid
TONES_BOB = (950, 2300)        # what bob plays
RATE = 8000

USERS = """
user alice {
    ha1_md5 = "d03b1c803d446cc473926ad83d7ff641";
}
user bob {
    ha1_md5 = "820367d3f25dd3df38a521fbb501da71";
}
"""

# The embedded default's routing (proxy/cfg_default.c) on test ports and a
# test-CA certificate.
PROXY_CFG = """
log_level = %(log_level)s;
realm = "rampart";
auth_algorithms = md5;            # Debian 12 baresip (libre 1.1) knows MD5 only
domain = "127.0.0.1", "localhost";
mediad_socket = "%(sock)s";
listen udp 127.0.0.1:%(udp)d { media_encryption = allow; }
listen tls 127.0.0.1:%(tls)d {
    cert = "%(d)s/server.pem";
    key = "%(d)s/server.key";
    media_encryption = require;
}
%(users)s
route request {
    if (has_header("Route")) { relay; }
    if (method == "CANCEL" || method == "ACK") { relay; }
    if (!is_local(ruri.host)) { reply 403 "Relaying Denied"; }
    if (method == "OPTIONS" && ruri.user == "") { reply 200 "OK"; }
    if (method == "REGISTER") { authenticate; save; }
    if (method == "INVITE" || method == "MESSAGE" || method == "SUBSCRIBE") { authenticate; }
    record_route;
    if (!lookup()) { reply 404 "Not Found"; }
    log(info, "$rm from $fu ($si) to $ru");
    relay;
}
"""


class Baresip:
    """One baresip process with its own config dir, driven over ctrl_tcp
    (netstring-framed JSON commands, responses and events)."""

    def __init__(self, d, name, ip, account, play, rtp_lo, ca):
        self.name, self.ip = name, ip
        self.dir = os.path.join(d, name)
        self.rec = os.path.join(self.dir, "rec")
        os.makedirs(self.rec, exist_ok=True)
        self.sip_port = E.free_port_both(ip)
        self.ctrl_port = E.free_port(socket.SOCK_STREAM)
        self.rtp = (rtp_lo, rtp_lo + 9)
        with open(os.path.join(self.dir, "config"), "w") as f:
            f.write("\n".join([
                "poll_method epoll",
                "net_interface %s" % ip,
                "sip_listen %s:%d" % (ip, self.sip_port),
                "sip_cafile %s" % ca,
                "call_local_timeout 120",
                "call_max_calls 4",
                # no audio devices: the source is a WAV, the player a bridge
                # device nobody reads; the sndfile filter records what was
                # decoded (dump-<time>-dec.wav) and what was sent (-enc).
                "audio_source aufile,%s" % play,
                "audio_player aubridge,nil-%s" % name,
                "audio_alert aubridge,nil-%s" % name,
                "ausrc_srate %d" % RATE, "auplay_srate %d" % RATE,
                "ausrc_channels 1", "auplay_channels 1",
                "audio_buffer 20-160",
                "rtp_ports %d-%d" % self.rtp,
                # RFC 5761: baresip offers and accepts a=rtcp-mux; the
                # proxy passes it on per leg, so RTCP rides the RTP ports.
                "rtcp_mux yes",
                "jitter_buffer_delay 1-10",
                "snd_path %s" % self.rec,
                "module_path %s" % BARESIP_MODULES,
                "module g711.so",
                "module aufile.so",
                "module aubridge.so",
                "module sndfile.so",
                "module srtp.so",
                "module_tmp account.so",
                "module_app menu.so",         # dial, hangup, ...
                "module_app ctrl_tcp.so",
                "ctrl_tcp_listen 127.0.0.1:%d" % self.ctrl_port,
                ""]))
        with open(os.path.join(self.dir, "accounts"), "w") as f:
            f.write(account + "\n")
        open(os.path.join(self.dir, "contacts"), "w").close()
        self.log = open(os.path.join(self.dir, "baresip.log"), "w")
        self.p = subprocess.Popen(["baresip", "-s", "-f", self.dir],    # -s: SIP trace stdin=subprocess.DEVNULL,
                                  stdout=self.log, stderr=subprocess.STDOUT)
        self.events = queue.Queue()
        self.responses = queue.Queue()
        self.sock = None
        deadline = time.time() + 15
        while time.time() < deadline and self.p.poll() is None:
            try:
                self.sock = socket.create_connection(("127.0.0.1", self.ctrl_port), 1)
                break
            except OSError:
                time.sleep(0.1)
        if self.sock is None:
            raise RuntimeError("%s: no ctrl_tcp connection; log:\n%s" % (name, self.logtext()))
        self.sock.settimeout(None)
        self.token = 0
        threading.Thread(target=self._reader, daemon=True).start()

    def logtext(self):
        self.log.flush()
        return open(os.path.join(self.dir, "baresip.log"), errors="replace").read()

    def _reader(self):
        buf = b""
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            buf += data
            while b":" in buf:
                n, rest = buf.split(b":", 1)
                if not n.isdigit():
                    return
                n = int(n)
                if len(rest) < n + 1:
                    break
                msg, buf = rest[:n], rest[n + 1:]
                try:
                    doc = json.loads(msg.decode(errors="replace"))
                except ValueError:
                    continue
                (self.responses if doc.get("response") else self.events).put(doc)

    def command(self, cmd, params="", seconds=10):
        self.token += 1
        tok = "%s-%d" % (self.name, self.token)
        data = json.dumps({"command": cmd, "params": params, "token": tok}).encode()
        self.sock.sendall(b"%d:%s," % (len(data), data))
        deadline = time.time() + seconds
        while time.time() < deadline:
            try:
                r = self.responses.get(timeout=max(0.01, deadline - time.time()))
            except queue.Empty:
                break
            if r.get("token") == tok:
                return r
        return None

    def wait_event(self, types, seconds=20):
        """The first event whose type is in types; None on timeout. Other
        events are dropped (logged to stdout for the record)."""
        deadline = time.time() + seconds
        while time.time() < deadline:
            try:
                ev = self.events.get(timeout=max(0.01, deadline - time.time()))
            except queue.Empty:
                break
            print("  %s event: %s %s" % (self.name, ev.get("type"), ev.get("param", "")))
            if ev.get("type") in types:
                return ev
        return None

    def wait_registered(self, seconds):
        """The reginfo text once it shows the account registered (the
        REGISTER_OK event may come before ctrl_tcp is connected), else
        None."""
        deadline = time.time() + seconds
        self.last_reginfo = ""
        while time.time() < deadline:
            r = self.command("reginfo", seconds=3) or {}
            data = self.last_reginfo = re.sub(r"\x1b\[[0-9;]*m", "", r.get("data", ""))
            if re.search(r"\bOK\b", data):
                return data
            time.sleep(0.3)
        return None

    def drain(self):
        """Forgets queued events (those of an earlier call)."""
        while True:
            try:
                self.events.get_nowait()
            except queue.Empty:
                return

    def dumps(self):
        return set(os.listdir(self.rec))

    def stop(self):
        try:
            if self.sock:
                self.command("quit", seconds=2)
        except OSError:
            pass
        E.stop(self.p, signal.SIGTERM, 5)
        if self.sock:
            self.sock.close()


def newest_dump(ua, before, kind):
    new = sorted(f for f in ua.dumps() - before if f.endswith("-%s.wav" % kind))
    return os.path.join(ua.rec, new[-1]) if new else None


def check_recording(label, path, tones):
    if not E.check(label + ": recording exists", path is not None and os.path.exists(path)):
        return
    try:
        rate, _, s = E.read_wav(path)
    except (OSError, ValueError) as e:
        E.check(label + ": recording readable", False, e)
        return
    mid = E.active_middle(s, rate)
    got, clear = E.dominant(mid, rate)
    E.check("%s: dominant frequencies %s Hz (expected %s), %.1f s of signal, x%.0f above the "
            "rest" % (label, got, list(tones), len(mid) / max(rate, 1), clear),
            len(mid) >= rate and got == sorted(tones) and clear > 10,
            (got, clear, len(s), rate))


def one_call(label, caller, callee, target, ctl, sock, seconds=4.0):
    """caller dials target; both established; media flows for `seconds`;
    the caller hangs up. Returns (caller dumps before, callee dumps before)."""
    before = (caller.dumps(), callee.dumps())
    caller.drain()
    callee.drain()
    r = caller.command("dial", target)
    E.check(label + ": dial accepted", r is not None and r.get("ok"), r)
    ev_callee = callee.wait_event(("CALL_ESTABLISHED", "CALL_CLOSED"), 30)
    ev_caller = caller.wait_event(("CALL_ESTABLISHED", "CALL_CLOSED"), 30)
    est = (ev_callee or {}).get("type") == "CALL_ESTABLISHED" and \
        (ev_caller or {}).get("type") == "CALL_ESTABLISHED"
    E.check(label + ": call established on both UAs", est,
            (ev_caller, ev_callee, caller.logtext()[-2000:], callee.logtext()[-2000:]))
    if not est:
        caller.command("hangup")
        callee.command("hangup")
        return before
    time.sleep(1.0)
    calls, raw = E.mediad_calls(ctl, sock)
    ok = calls is not None and len(calls) == 1
    if ok:
        legs = {}
        for side in ("a", "b"):
            leg = calls[0].get(side) or {}
            legs[side] = leg
        # alice is on the TLS side: her leg is SRTP both ways, bob's plain.
        alice_leg = legs["a"] if caller.name == "alice" else legs["b"]
        bob_leg = legs["b"] if caller.name == "alice" else legs["a"]
        ok = (alice_leg.get("srtp-in") not in (None, "plain") and
              alice_leg.get("srtp-out") not in (None, "plain") and
              bob_leg.get("srtp-in") == "plain" and bob_leg.get("srtp-out") == "plain")
    E.check(label + ": mediad has one session, SRTP on alice's leg, plain on bob's", ok, raw)
    time.sleep(seconds)
    r = caller.command("hangup")
    c1 = caller.wait_event(("CALL_CLOSED",), 15)
    c2 = callee.wait_event(("CALL_CLOSED",), 15)
    E.check(label + ": hangup closes the call on both UAs", c1 is not None and c2 is not None,
            (r, c1, c2))
    n = E.wait_calls(ctl, sock, 0, 5)
    E.check(label + ": BYE deleted the mediad session", n == 0, E.mediad_calls(ctl, sock)[1])
    return before


def start_capture(d, filt):
    path = os.path.join(d, "lo.pcap")
    errf = os.path.join(d, "tshark.err")
    p = subprocess.Popen(["tshark", "-i", "lo", "-q", "-F", "pcap", "-w", path, "-f", filt],
                         stdout=subprocess.DEVNULL, stderr=open(errf, "w"))
    deadline = time.time() + 20
    while time.time() < deadline and p.poll() is None:
        if "Capturing on" in open(errf, errors="replace").read():
            return p, path
        time.sleep(0.1)
    err = open(errf, errors="replace").read()
    E.stop(p, signal.SIGINT)
    raise RuntimeError("tshark did not start capturing: " + err[-1000:])


def analyse_capture(path, tls_port, alice_rtp, bob_rtp):
    """alice_rtp, bob_rtp: (address, first port, last port) of each UA's
    media."""
    def mine(rng, ip, port):
        return ip == rng[0] and rng[1] <= port <= rng[2]

    tls_bytes = b""
    tls_records = 0
    alice_pkts, bob_pkts = [], []
    # RTCP toward each UA, and the UA-side ports that carried its RTP:
    # with rtcp-mux (both UAs ask for it) RTCP must arrive on an RTP port.
    rtcp_to = {"alice": [], "bob": []}
    rtp_ports = {"alice": set(), "bob": set()}
    for proto, src, sp, dst, dp, pl in E.read_pcap(path):
        if proto == "udp" and len(pl) >= 8 and pl[0] >> 6 == 2:
            for who, rng in (("alice", alice_rtp), ("bob", bob_rtp)):
                if 200 <= pl[1] <= 204 and mine(rng, dst, dp):
                    rtcp_to[who].append(dp)
                elif E.rtp_parse(pl) is not None:
                    if mine(rng, dst, dp):
                        rtp_ports[who].add(dp)
                    elif mine(rng, src, sp):
                        rtp_ports[who].add(sp)
        if proto == "tcp" and tls_port in (sp, dp):
            tls_bytes += pl
            if pl[:1] in (b"\x16", b"\x17") and pl[1:2] == b"\x03":
                tls_records += 1
        elif proto == "udp":
            if mine(alice_rtp, src, sp) or mine(alice_rtp, dst, dp):
                alice_pkts.append(pl)
            elif mine(bob_rtp, src, sp) or mine(bob_rtp, dst, dp):
                bob_pkts.append((mine(bob_rtp, dst, dp), pl))
    E.check("capture: the TLS side carried TLS records (%d, %d bytes)" % (tls_records,
            len(tls_bytes)), tls_records >= 4 and len(tls_bytes) > 2000)
    readable = [w for w in (b"SIP/2.0", b"INVITE", b"REGISTER", b"a=crypto", b"m=audio")
                if w in tls_bytes]
    E.check("capture: no readable SIP on the TLS side", not readable, readable)
    for who in ("alice", "bob"):
        E.check("capture: RTCP reaches %s muxed on its RTP port (%d packets, ports %s, RTP "
                "ports %s)" % (who, len(rtcp_to[who]), sorted(set(rtcp_to[who])),
                               sorted(rtp_ports[who])),
                len(rtcp_to[who]) >= 1 and set(rtcp_to[who]) <= rtp_ports[who])

    # bob's side: plain RTP, PCMU; mediad -> bob carries alice's tones.
    bob_rtp_pkts = [(inward, E.rtp_parse(pl)) for inward, pl in bob_pkts]
    rtp_ok = [x for x in bob_rtp_pkts if x[1] is not None and x[1][0] in (0, 8)]
    to_bob = [r for inward, r in rtp_ok if inward]
    plain_payloads = set(r[1] for _, r in rtp_ok if len(r[1]) >= 80)
    E.check("capture: bob's side is plain RTP, PT 0/8 (%d of %d packets, %d toward bob)" %
            (len(rtp_ok), len(bob_pkts), len(to_bob)),
            len(to_bob) > 100 and len(rtp_ok) >= 0.9 * len(
                [1 for _, pl in bob_pkts if E.rtp_parse(pl) is not None]))
    samples = []
    for pt, pay in to_bob:
        samples += E.ulaw_decode(pay) if pt == 0 else E.alaw_decode(pay)
    got, clear = E.dominant(E.active_middle(samples, RATE), RATE)
    E.check("capture: the plain RTP toward bob decodes to alice's tones %s (got %s, x%.0f)" %
            (list(TONES_ALICE), got, clear), got == sorted(TONES_ALICE) and clear > 10)

    # alice's side: SRTP. Headers are RTP, payloads are not the plain ones.
    srtp = [E.rtp_parse(pl) for pl in alice_pkts]
    srtp = [r for r in srtp if r is not None]
    E.check("capture: alice's side carried RTP-framed packets (%d)" % len(srtp), len(srtp) > 100)
    same = 0
    for pt, pay in srtp:
        body = pay[:-10] if len(pay) > 10 else pay     # strip the 80-bit tag
        if body in plain_payloads or pay in plain_payloads:
            same += 1
    E.check("capture: no SRTP payload on alice's side equals a plain payload (%d plain "
            "payloads known)" % len(plain_payloads), same == 0 and len(plain_payloads) > 100,
            same)
    prefixes = set(p[:32] for p in plain_payloads)
    leaked = sum(1 for _, pay in srtp if pay[:32] in prefixes)
    E.check("capture: not even a 32-byte prefix of a plain payload on alice's side", leaked == 0,
            leaked)
    s_samples = []
    for pt, pay in srtp:
        s_samples += E.ulaw_decode(pay[:160])
    got, clear = E.dominant(s_samples[len(s_samples) // 4:len(s_samples) // 4 + 2 * RATE], RATE)
    E.check("capture: alice's SRTP payload does not decode to any tone (x%.1f)" % clear,
            clear < 3, (got, clear))


def main():
    for tool in ("baresip", "tshark", "openssl"):
        if not shutil.which(tool):
            E.skip("%s is not installed (scripts/setup installs it)" % tool)
    for mod in ("aufile", "sndfile", "aubridge", "srtp", "ctrl_tcp", "g711", "account"):
        if not os.path.exists(os.path.join(BARESIP_MODULES, mod + ".so")):
            E.skip("baresip module %s.so missing (package baresip-core)" % mod)
    if not all(os.access(x, os.X_OK) for x in (PROXY, MEDIAD, CTL)):
        E.skip("rampart binaries missing")
    d = tempfile.mkdtemp(prefix="rp-baresip-")
    subprocess.run(["sh", MKCERTS, d], check=True, stdout=subprocess.DEVNULL)
    mediad, sock, prange = E.start_mediad(MEDIAD, d)
    proxy_p = cap = None
    uas = []
    ok_all = False
    try:
        for attempt in range(5):
            try:
                proxy_p, ports, plog = E.start_proxy(PROXY, d, PROXY_CFG % {
                    "sock": sock, "udp": E.free_port(),
                    "log_level": os.environ.get("RP_LOG_LEVEL", "info"), "d": d, "users": USERS,
                    "tls": E.free_port(socket.SOCK_STREAM)})
                break
            except RuntimeError as e:
                if attempt == 4:
                    raise
                print("proxy start attempt %d: %s" % (attempt + 1, str(e)[-300:]))
        udp, tls = ports["udp"], ports["tls"]
        wav_a, wav_b = os.path.join(d, "alice.wav"), os.path.join(d, "bob.wav")
        E.write_tones_wav(wav_a, TONES_ALICE, 30)
        E.write_tones_wav(wav_b, TONES_BOB, 30)
        # The UAs' RTP ranges lie below the ones the other tests' mediads
        # and sipps use (sipp's default media port is 6000), so the
        # capture filter catches only this test's media and nobody else
        # finds these ports taken. (baresip 1.0 with a local address other than 127.0.0.1
        # fails every request with ENOSYS, so both UAs are on 127.0.0.1.)
        alice_ip = bob_ip = "127.0.0.1"
        alice_rtp = E.free_range(10, alice_ip, 2000, 5990)
        bob_rtp = E.free_range(10, bob_ip, 2000, 5990)
        while abs(bob_rtp - alice_rtp) < 10:
            bob_rtp = E.free_range(10, bob_ip, 2000, 5990)
        cap, pcap = start_capture(
            d, "(tcp port %d) or (udp port %d) or (udp and host %s and portrange %d-%d) or "
            "(udp and host %s and portrange %d-%d)" % (tls, udp, alice_ip, alice_rtp,
                                                       alice_rtp + 9, bob_ip, bob_rtp,
                                                       bob_rtp + 9))
        alice = Baresip(d, "alice", alice_ip,
                        "<sip:alice@127.0.0.1:%d;transport=tls>;auth_pass=alice-secret;"
                        "mediaenc=srtp-mand;audio_codecs=PCMU;answermode=auto;regint=600" % tls,
                        wav_a, alice_rtp, os.path.join(d, "ca.pem"))
        uas.append(alice)
        bob = Baresip(d, "bob", bob_ip,
                      "<sip:bob@127.0.0.1:%d;transport=udp>;auth_pass=bob-secret;"
                      "audio_codecs=PCMU;answermode=auto;regint=600" % udp,
                      wav_b, bob_rtp, os.path.join(d, "ca.pem"))
        uas.append(bob)
        for ua in uas:
            info = ua.wait_registered(20)
            E.check("%s registers (%s)" % (ua.name, "TLS" if ua is alice else "UDP"),
                    info is not None, repr(ua.last_reginfo) + ua.logtext()[-1500:])

        # 1. alice (TLS, SRTP) calls bob (UDP, RTP).
        b_alice, b_bob = one_call("alice->bob", alice, bob,
                                  "sip:bob@127.0.0.1:%d;transport=tls" % tls, CTL, sock)
        check_recording("alice->bob: bob's recording", newest_dump(bob, b_bob, "dec"),
                        TONES_ALICE)
        check_recording("alice->bob: alice's recording", newest_dump(alice, b_alice, "dec"),
                        TONES_BOB)
        # 2. the reverse: bob calls alice.
        b_bob, b_alice = one_call("bob->alice", bob, alice,
                                  "sip:alice@127.0.0.1:%d" % udp, CTL, sock)
        check_recording("bob->alice: alice's recording", newest_dump(alice, b_alice, "dec"),
                        TONES_BOB)
        check_recording("bob->alice: bob's recording", newest_dump(bob, b_bob, "dec"),
                        TONES_ALICE)
        time.sleep(0.5)
        E.stop(cap, signal.SIGINT)
        analyse_capture(pcap, tls, (alice_ip, alice_rtp, alice_rtp + 9),
                        (bob_ip, bob_rtp, bob_rtp + 9))
        E.check("proxy still running", proxy_p.poll() is None)
        ok_all = not E.failures
    finally:
        for ua in uas:
            ua.stop()
        E.stop(cap, signal.SIGINT)
        E.stop(proxy_p)
        E.stop(mediad)
        for name in ("proxy.log", "mediad.log"):
            bad = E.sanitizer_lines(os.path.join(d, name))
            E.check("no sanitizer report in " + name, not bad, "\n".join(bad))
        if ok_all and not E.failures:
            shutil.rmtree(d, ignore_errors=True)
        else:
            print("--- left for inspection: " + d)
            try:
                print(open(os.path.join(d, "proxy.log"), errors="replace").read()[-5000:])
            except OSError:
                pass
    return 1 if E.failures else 0


if __name__ == "__main__":
    sys.exit(main())
