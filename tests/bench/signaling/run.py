#!/usr/bin/env python3
"""Rampart signaling benchmark: rampart-proxy against Kamailio 5.6.

sipp UAC -> proxy -> sipp UAS (INVITE / 100 / 180 / 200 / ACK / BYE / 200) at a
fixed offered call rate, once over UDP and once with the caller on TLS (sipp
over TCP through stunnel, one long-lived connection) and the callee on UDP.
Both proxies run the same workload in the same invocation, interleaved
(rampart, kamailio, rampart, kamailio, ...), each run with freshly started
daemons. The figure is completed calls (sipp's SuccessfulCall count) per
CPU-second of the proxy (the run time of all its processes and threads, from
/proc/PID/task/TID/schedstat, or utime+stime from /proc/PID/stat where the
kernel has no schedstat, before and after the run); medians of the valid
runs are compared.

Final lines on stdout:
  bench: sip_calls_udp_per_cpu_s rampart=<x> kamailio=<y> ratio=<r>
  bench: sip_calls_tls_per_cpu_s rampart=<x> kamailio=<y> ratio=<r>
A proxy that completes no calls is reported as 'unavailable' (why: on stderr).

Environment (all optional):
  RAMPART_BENCH_SMOKE=1       short smoke run (100 calls/s, 3 s, 1 run each)
  RAMPART_BENCH_RATE          offered calls per second (default 1000)
  RAMPART_BENCH_SECONDS       seconds of traffic per run (default 15)
  RAMPART_BENCH_RUNS          runs per proxy and transport (default 3)
  RAMPART_BENCH_SETTLE        seconds of CPU accounting after the last call
                              (default 6: Kamailio frees a transaction 5 s
                              after its final reply; that work is counted)
  RAMPART_BENCH_TRANSPORTS    udp,tls (default both)
  RAMPART_BENCH_MAX_SECONDS   no new run starts after this (default 570)
  RAMPART_BENCH_NO_INSTALL=1  do not apt-get install missing packages
  RAMPART_BENCH_KEEP=1        keep the work directory (logs, CSVs, configs)
  RAMPART_PROXY               rampart-proxy binary (default: build-bench/,
                              then build/)
  RAMPART_PROXY_B             a second rampart-proxy binary (an A/B
                              comparison: e.g. another wolfSSL): run
                              interleaved with the other two as 'rampart_b',
                              with its own line
                              'bench: sip_calls_<t>_per_cpu_s_b rampart_b=..'
  RAMPART_BENCH_CONF          extra top-level settings for rampart's config
                              (e.g. 'batch_wait_us = 0;'); default none
  RAMPART_BENCH_CONF_B        the same for rampart_b; when set without
                              RAMPART_PROXY_B, rampart_b is the same binary
                              (an A/B of one setting)
  RAMPART_BENCH_PROXIES       which proxies run, e.g. 'rampart,rampart_b'
                              (default all: rampart, rampart_b if set,
                              kamailio); a proxy left out prints 'skipped'
  RAMPART_BENCH_LATENCY=1     also capture the proxy's UDP port on lo
                              (dumpcap) and report the delay each relayed
                              message spent in the proxy (p50/p99); the
                              capture adds CPU to every sender, so the
                              per-CPU figures of such runs are not
                              comparable with ordinary ones
Exit status: 0 when the figure lines were printed (even with 'unavailable'),
1 when the Kamailio reference could not be measured, 2 on set-up errors.
"""

import argparse
import collections
import csv
import os
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
ADDR = "127.0.0.1"
PACKAGES = ["kamailio", "kamailio-tls-modules", "stunnel4", "sip-tester",
            "openssl"]
KAMAILIO_MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"
CLK_TCK = os.sysconf("SC_CLK_TCK")
# A message still missing after this fails its call (sipp -recv_timeout):
# on loopback they arrive in milliseconds, or within a few seconds when a
# loaded machine drops datagrams and sipp retransmits. It bounds a run's tail.
RECV_TIMEOUT_MS = 10000
START = time.monotonic()


def log(msg):
    print(f"signaling: {msg}", file=sys.stderr, flush=True)


def env_num(name, default, kind=int):
    v = os.environ.get(name)
    if v is None or v == "":
        return default
    try:
        return kind(v)
    except ValueError:
        log(f"bad {name}={v!r}")
        sys.exit(2)


# ---------------------------------------------------------------- set-up

def installed(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg],
                       capture_output=True, text=True)
    return r.returncode == 0 and "install ok installed" in r.stdout


def ensure_packages(no_install):
    missing = [p for p in PACKAGES if not installed(p)]
    if missing:
        if no_install or os.geteuid() != 0:
            log(f"missing Debian packages: {' '.join(missing)} "
                "(run as root without RAMPART_BENCH_NO_INSTALL to install)")
            sys.exit(2)
        log(f"installing: {' '.join(missing)}")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        cmd = ["apt-get", "install", "-y", "--no-install-recommends"] + missing
        if subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL).returncode:
            subprocess.run(["apt-get", "update"], env=env,
                           stdout=subprocess.DEVNULL)
            if subprocess.run(cmd, env=env,
                              stdout=subprocess.DEVNULL).returncode:
                log("apt-get install failed")
                sys.exit(2)
    stop_system_kamailio()


def stop_system_kamailio():
    """The benchmark starts its own Kamailio; Debian's package enables a
    system service that must not be left running (it would also hold 5060)."""
    if os.path.isdir("/run/systemd/system"):
        for verb in ("is-active", "is-enabled"):
            r = subprocess.run(["systemctl", "-q", verb, "kamailio.service"])
            if r.returncode == 0:
                action = "stop" if verb == "is-active" else "disable"
                log(f"systemctl {action} kamailio.service")
                subprocess.run(["systemctl", "-q", action,
                                "kamailio.service"])
        return
    pidfile = "/run/kamailio/kamailio.pid"
    try:
        with open(pidfile) as f:
            pid = int(f.read().strip())
        with open(f"/proc/{pid}/comm") as f:
            running = f.read().strip() == "kamailio"
    except (OSError, ValueError):
        running = False
    if running:
        log("stopping the kamailio system service")
        subprocess.run(["service", "kamailio", "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def find_rampart():
    p = os.environ.get("RAMPART_PROXY")
    if p:
        return os.path.abspath(p) if os.access(p, os.X_OK) else None
    for d in ("build-bench", "build"):
        p = os.path.join(ROOT, d, "proxy", "rampart-proxy")
        if os.access(p, os.X_OK):
            return p
    return None


_used_ports = set()


def _port_range():
    """Ports below the kernel's ephemeral range: nothing else on the machine
    gets them without asking for them by number, so a port found free here
    stays free until the daemon binds it."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return 10000, max(10100, low) - 8


def free_port():
    """A port free for both UDP and TCP on ADDR."""
    lo, hi = _port_range()
    for _ in range(500):
        port = random.randint(lo, hi)
        if port in _used_ports:
            continue
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            u.bind((ADDR, port))
            t.bind((ADDR, port))
        except OSError:
            continue
        finally:
            u.close()
            t.close()
        _used_ports.add(port)
        return port
    raise RuntimeError("no free port found")


def free_port_block(n):
    """n consecutive ports free for UDP: sipp binds its media port -mp and
    the ones above it (RTCP, video) even when no media flows."""
    for _ in range(200):
        base = free_port()
        socks = []
        try:
            for i in range(1, n):
                u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(u)
                u.bind((ADDR, base + i))
        except OSError:
            continue
        finally:
            for u in socks:
                u.close()
        _used_ports.update(range(base, base + n))
        return base
    raise RuntimeError("no free port block found")


def fill(template, dest, values):
    with open(os.path.join(HERE, template)) as f:
        text = f.read()
    for k, v in values.items():
        text = text.replace(f"@{k}@", str(v))
    left = re.findall(r"@[A-Z_]+@", text)
    if left:
        raise RuntimeError(f"{template}: unfilled {left}")
    with open(dest, "w") as f:
        f.write(text)
    return dest


def make_cert(work):
    """A throw-away ECDSA P-256 certificate for 127.0.0.1, for both proxies."""
    cert = os.path.join(work, "cert.pem")
    key = os.path.join(work, "key.pem")
    r = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
         "-out", cert, "-days", "2", "-subj", f"/CN={ADDR}",
         "-addext", f"subjectAltName=IP:{ADDR}"],
        capture_output=True, text=True)
    if r.returncode:
        log("openssl failed: " + r.stderr.strip())
        sys.exit(2)
    return cert, key


# ---------------------------------------------------------------- processes

def proc_stat(pid):
    """(ppid, utime+stime ticks) of a process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    rest = data[data.rindex(")") + 2:].split()
    # rest[0] is field 3 (state): ppid is field 4, utime/stime 14/15.
    return int(rest[1]), int(rest[11]) + int(rest[12])


def proc_tree(root):
    """root and all its descendants (Kamailio forks its workers)."""
    children = collections.defaultdict(list)
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = proc_stat(int(name))
            if st:
                children[st[0]].append(int(name))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_seconds(root):
    """utime+stime of root and its descendants; a process's stat already
    sums all its threads."""
    total = 0
    for pid in proc_tree(root):
        st = proc_stat(pid)
        if st:
            total += st[1]
    return total / CLK_TCK


def sched_seconds(root):
    """The scheduler's exact run time (ns, /proc/PID/task/TID/schedstat) of
    root and its descendants: a cross-check of the tick-based figure, and
    precise enough for short idle samples. None if not available."""
    total = 0
    try:
        for pid in proc_tree(root):
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return total / 1e9


def ctx_switches(root):
    """Voluntary + involuntary context switches of root's threads and its
    descendants' (each sleep of a worker is one voluntary switch). None if
    not available."""
    vol = nonvol = 0
    try:
        for pid in proc_tree(root):
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/status") as f:
                    for line in f:
                        if line.startswith("voluntary_ctxt_switches:"):
                            vol += int(line.split()[1])
                        elif line.startswith("nonvoluntary_ctxt_switches:"):
                            nonvol += int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return vol, nonvol


def udp_drops(port):
    """Datagrams dropped (receive buffer full) on ADDR:port's sockets."""
    want = f"{socket.htonl(0x7f000001):08X}:{port:04X}"
    total = 0
    with open("/proc/net/udp") as f:
        next(f)
        for line in f:
            cols = line.split()
            if cols[1] == want:
                total += int(cols[-1])
    return total


def pcap_delays(path, port):
    """Per relayed message, the time from its arrival on the proxy's UDP
    port to its departure from it (a pcap of lo): messages are matched by
    Call-ID, CSeq and start line, first copy of each. Returns the delays in
    microseconds (the 100 Trying, made by the proxy, matches nothing)."""
    import struct
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return []
    if len(data) < 24:
        return []
    magic = struct.unpack("<I", data[:4])[0]
    if magic not in (0xa1b2c3d4, 0xa1b23c4d):
        return []
    scale = 1e3 if magic == 0xa1b23c4d else 1.0  # ns or us resolution
    linktype = struct.unpack("<I", data[20:24])[0]
    l2 = 14 if linktype == 1 else 16 if linktype == 113 else 0
    off = 24
    first_in, first_out = {}, {}
    while off + 16 <= len(data):
        sec, frac, caplen, _ = struct.unpack("<IIII", data[off:off + 16])
        pkt = data[off + 16:off + 16 + caplen]
        off += 16 + caplen
        t_us = sec * 1e6 + frac / scale
        ip = pkt[l2:]
        if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        ihl = (ip[0] & 15) * 4
        sport, dport = struct.unpack(">HH", ip[ihl:ihl + 4])
        body = ip[ihl + 8:]
        head = body.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
        if not head or not head[0]:
            continue
        start = head[0].split(b" ")
        token = start[1] if start[0].startswith(b"SIP/") and len(start) > 1 \
            else start[0]
        cid = cseq = b""
        for h in head[1:]:
            name, _, val = h.partition(b":")
            name = name.strip().lower()
            if name in (b"call-id", b"i"):
                cid = val.strip()
            elif name == b"cseq":
                cseq = b" ".join(val.split())
        key = (cid, cseq, token)
        if dport == port:
            first_in.setdefault(key, t_us)
        elif sport == port:
            first_out.setdefault(key, t_us)
    return sorted(first_out[k] - t for k, t in first_in.items()
                  if k in first_out and first_out[k] >= t)


def proxy_counters(binary, rundir):
    """rampart-proxy's worker counters (messages, loop rounds, coalescing
    sleeps) through rampartctl from the same build, or None."""
    import json
    ctl = os.path.join(os.path.dirname(os.path.dirname(binary)), "common",
                       "rampartctl")
    if not os.access(ctl, os.X_OK):
        return None
    try:
        out = subprocess.run([ctl, "--proxy-socket",
                              os.path.join(rundir, "proxy.sock"), "--json",
                              "stats", "proxy"], capture_output=True,
                             text=True, timeout=10).stdout
        d = json.loads(out)
    except (OSError, ValueError, subprocess.SubprocessError):
        return None

    def find(o, k):
        if isinstance(o, dict):
            if k in o:
                return o[k]
            for v in o.values():
                x = find(v, k)
                if x is not None:
                    return x
        return None
    vals = {k: find(d, k) for k in ("udp-messages", "stream-messages",
                                    "worker-rounds", "batch-sleeps")}
    return None if any(v is None for v in vals.values()) else vals


def listening(port, proto):
    """Is ADDR:port bound (udp) or listening (tcp)?"""
    want = f"{socket.htonl(0x7f000001):08X}:{port:04X}"
    path = "/proc/net/udp" if proto == "udp" else "/proc/net/tcp"
    with open(path) as f:
        next(f)
        for line in f:
            cols = line.split()
            if cols[1] == want and (proto == "udp" or cols[3] == "0A"):
                return True
    return False


class Daemon:
    """A process started in its own session so that it and its children
    can be stopped by its process-group id."""

    def __init__(self, name, cmd, logpath, cwd):
        self.name = name
        self.logf = open(logpath, "wb")
        self.logpath = logpath
        self.proc = subprocess.Popen(cmd, stdout=self.logf,
                                     stderr=subprocess.STDOUT, cwd=cwd,
                                     stdin=subprocess.DEVNULL,
                                     start_new_session=True)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def wait_ports(self, ports, timeout=15.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if not self.alive():
                return False
            if all(listening(p, proto) for p, proto in ports):
                return True
            time.sleep(0.05)
        return False

    def stop(self):
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=8)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # leftover children
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self.logf.close()

    def log_tail(self, n=5):
        return tail_file(self.logpath, n)


def tail_file(path, n=5):
    try:
        with open(path, errors="replace") as f:
            lines = [line.rstrip() for line in f if line.strip()]
        return lines[-n:]
    except OSError:
        return []


# ---------------------------------------------------------------- sipp

def sipp_stats(path):
    """Last row of sipp's -trace_stat CSV as a dict, or None."""
    try:
        with open(path, newline="", errors="replace") as f:
            rows = [r for r in csv.reader(f, delimiter=";") if r]
    except OSError:
        return None
    if len(rows) < 2:
        return None
    head, last = rows[0], rows[-1]
    out = {}
    for k, v in zip(head, last):
        try:
            out[k] = int(v)
        except ValueError:
            out[k] = v
    return out


def sipp_errors(path, n=3):
    """The most frequent reasons calls failed, from sipp's -trace_err file
    (one event per timestamped entry; late retransmissions absorbed by
    sipp are not failures and are left out)."""
    try:
        with open(path, errors="replace") as f:
            text = f.read()
    except OSError:
        return []
    reasons = collections.Counter()
    for ev in re.split(r"\d{4}-\d\d-\d\d\t[\d:.]+\t[\d.]+: ", text)[1:]:
        first = ev.split("\n", 1)[0]
        if first.startswith(("Dead call", "Discarding message")):
            continue
        first = re.sub(r"Call-I[dD] '[^']*'", "Call-Id '...'", first)
        first = re.sub(r"Call-I[dD]: \S+", "Call-Id: ...", first)
        first = re.sub(r"received '.*", "received", first)
        if first.endswith("received"):
            m = re.search(r"received '([^\r\n]*)", ev)
            if m:
                first += f" '{m.group(1)}'"
        reasons[first.strip()[:200]] += 1
    return [f"{c}x {r}" for r, c in reasons.most_common(n)]


# ---------------------------------------------------------------- one run

class Run:
    def __init__(self, proxy, transport, idx):
        self.proxy = proxy
        self.transport = transport
        self.idx = idx
        self.offered = self.ok = self.failed = 0
        self.cpu = 0.0
        self.idle_cpu_per_s = 0.0
        self.tick_cpu = 0.0
        self.cpu_source = "utime+stime"
        self.other_cpu = {}
        self.valid = False
        self.why = ""
        self.load = ""
        self.proxy_log = None
        self.ctxsw = None
        self.ctxsw_vol = 0
        self.counters = None
        self.drops = None
        self.delays = []

    @property
    def per_cpu(self):
        return self.ok / self.cpu if self.cpu > 0 else 0.0


def start_proxy(name, work, rundir, cert, key, udp_port, tls_port, rampart):
    extra = os.environ.get("RAMPART_BENCH_CONF_B" if name == "rampart_b"
                           else "RAMPART_BENCH_CONF", "")
    vals = dict(ADDR=ADDR, UDP_PORT=udp_port, TLS_PORT=tls_port, CERT=cert,
                KEY=key, RUNDIR=rundir, MODULES=KAMAILIO_MODULES, EXTRA=extra)
    if name == "kamailio":
        cfg = fill("kamailio.cfg", os.path.join(rundir, "kamailio.cfg"), vals)
        # tlsf: Debian's default allocator (qm) roughly halves Kamailio's
        # calls per CPU-second; tlsf is Kamailio at its best.
        cmd = ["kamailio", "-x", "tlsf", "-m", "256", "-M", "16", "-DD", "-E",
               "-f", cfg, "-Y", rundir, "-w", rundir]
    else:
        cfg = fill("rampart.conf", os.path.join(rundir, "rampart.conf"), vals)
        cmd = [rampart, "--config", cfg]
    return Daemon(name, cmd, os.path.join(rundir, f"{name}.log"), rundir)


# A crash in the proxy's log (Kamailio's main process logs "child process N
# exited by a signal 11" before it stops everything), or a sanitizer report
# when the proxy under test is a sanitizer build.
CRASH_RE = re.compile(r"SIGSEGV|SIGABRT|exited by a signal|double free|"
                      r"core dumped|Segmentation fault|AddressSanitizer|"
                      r"LeakSanitizer|runtime error:")


def session(name, transport, idx, *args):
    """One run; a harness error makes an invalid run, not a traceback. A run
    that lost a port race with another program is retried once."""
    for attempt in (1, 2):
        try:
            r = session1(name, transport, idx, *args)
        except (OSError, RuntimeError, subprocess.SubprocessError) as e:
            r = Run(name, transport, idx)
            r.why = f"harness error: {e}"
        if r.valid and r.proxy_log:
            # Sanitizer builds report leaks when the proxy exits.
            with open(r.proxy_log, errors="replace") as f:
                m = CRASH_RE.search(f.read())
            if m:
                r.valid = False
                r.why = f"'{m.group(0)}' in {name}'s log after it stopped"
        if r.valid or "Address already in use" not in r.why or attempt == 2:
            return r
        log(f"{transport} {name} run {idx}: port taken by another program, "
            "retrying with new ports")
    return r


def session1(name, transport, idx, calls, rate, settle, work, cert, key,
             rampart, latency=False):
    """Start the proxy (and stunnel, UAS), drive `calls` calls, stop all."""
    r = Run(name, transport, idx)
    r.offered = calls
    with open("/proc/loadavg") as f:
        r.load = f.read().split()[0]  # other work on the box: noise
    # A fresh directory per attempt: session() retries a run that lost a
    # port race, and the first attempt's directory is still there.
    rundir = tempfile.mkdtemp(prefix=f"{transport}-{name}-{idx}-", dir=work)
    udp_port, tls_port = free_port(), free_port()
    daemons = []
    cap = None
    try:
        proxy = start_proxy(name, work, rundir, cert, key, udp_port, tls_port,
                            rampart)
        daemons.append(proxy)
        r.proxy_log = proxy.logpath
        if not proxy.wait_ports([(udp_port, "udp"), (tls_port, "tcp")]):
            r.why = f"{name} did not start: " + " | ".join(proxy.log_tail())
            return r
        target = f"{ADDR}:{udp_port}"
        stunnel = None
        if transport == "tls":
            accept = free_port()
            scfg = fill("stunnel.conf", os.path.join(rundir, "stunnel.conf"),
                        dict(ADDR=ADDR, ACCEPT_PORT=accept, TLS_PORT=tls_port,
                             RUNDIR=rundir, CERT=cert))
            stunnel = Daemon("stunnel", ["stunnel", scfg],
                             os.path.join(rundir, "stunnel.out"), rundir)
            daemons.append(stunnel)
            if not stunnel.wait_ports([(accept, "tcp")]):
                r.why = "stunnel did not start: " + " | ".join(
                    stunnel.log_tail())
                return r
            target = f"{ADDR}:{accept}"
        uas_port = free_port()
        uas = Daemon("uas", ["sipp", "-sf", os.path.join(HERE, "uas.xml"),
                             "-i", ADDR, "-p", str(uas_port), "-t", "u1",
                             "-cp", str(free_port()),
                             "-mp", str(free_port_block(4)),
                             "-recv_timeout", str(RECV_TIMEOUT_MS),
                             "-nostdin", "-trace_err", "-error_file",
                             os.path.join(rundir, "uas_err.log"),
                             "-trace_stat", "-stf",
                             os.path.join(rundir, "uas.csv"), "-fd", "1"],
                     os.path.join(rundir, "uas.out"), rundir)
        daemons.append(uas)
        if not uas.wait_ports([(uas_port, "udp")]):
            r.why = "sipp UAS did not start: " + " | ".join(uas.log_tail())
            return r

        # Idle CPU of the proxy for 1 s (timers, housekeeping): reported,
        # not subtracted.
        c0 = sched_seconds(proxy.pid)
        time.sleep(1.0)
        c1 = sched_seconds(proxy.pid)
        if c0 is not None and c1 is not None:
            r.idle_cpu_per_s = c1 - c0

        uac_csv = os.path.join(rundir, "uac.csv")
        uac_err = os.path.join(rundir, "uac_err.log")
        vt, ct, t = ("TLS", "tls", "t1") if transport == "tls" else \
            ("UDP", "udp", "u1")
        guard = int(calls / rate) + RECV_TIMEOUT_MS // 1000 + 15
        cmd = ["sipp", "-sf", os.path.join(HERE, "uac.xml"), "-i", ADDR,
               "-p", str(free_port()), "-t", t, "-cp", str(free_port()),
               "-mp", str(free_port_block(4)),
               "-recv_timeout", str(RECV_TIMEOUT_MS),
               "-key", "via_transport", vt, "-key", "contact_transport", ct,
               "-key", "uas", f"{ADDR}:{uas_port}", "-s", "bench",
               "-r", str(rate), "-m", str(calls), "-timeout", f"{guard}s",
               "-nostdin", "-trace_err", "-error_file", uac_err,
               "-trace_stat", "-stf", uac_csv, "-fd", "1", target]
        others = [d for d in daemons if d is not proxy]
        if latency and transport == "udp":
            # Raw pcap (-P) so pcap_delays can read it with the stdlib.
            cap = subprocess.Popen(
                ["dumpcap", "-q", "-P", "-i", "lo", "-f", f"udp port {udp_port}",
                 "-w", os.path.join(rundir, "proxy.pcap")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True)
            time.sleep(1.0)
        o0 = {d.name: cpu_seconds(d.pid) for d in others}
        k0 = proxy_counters(rampart, rundir) if name != "kamailio" else None
        x0 = ctx_switches(proxy.pid)
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        p0 = cpu_seconds(proxy.pid)
        s0 = sched_seconds(proxy.pid)
        t0 = time.monotonic()
        with open(os.path.join(rundir, "uac.out"), "wb") as out:
            uac = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, cwd=rundir,
                                   start_new_session=True)
            try:
                uac.wait(timeout=guard + 15)
            except subprocess.TimeoutExpired:
                os.killpg(uac.pid, signal.SIGKILL)
                uac.wait()
        elapsed = time.monotonic() - t0
        # Only the UAC was reaped in between: its CPU, for the record.
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        uac_cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
        time.sleep(settle)
        p1 = cpu_seconds(proxy.pid)
        s1 = sched_seconds(proxy.pid)
        x1 = ctx_switches(proxy.pid)
        k1 = proxy_counters(rampart, rundir) if k0 else None
        if k1:
            r.counters = {k: k1[k] - k0[k] for k in k0}
        o1 = {d.name: cpu_seconds(d.pid) for d in others}
        if x0 is not None and x1 is not None:
            r.ctxsw = (x1[0] - x0[0]) + (x1[1] - x0[1])
            r.ctxsw_vol = x1[0] - x0[0]
        r.drops = udp_drops(udp_port)
        if cap:
            cap.send_signal(signal.SIGTERM)
            try:
                cap.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(cap.pid, signal.SIGKILL)
                cap.wait()
            r.delays = pcap_delays(os.path.join(rundir, "proxy.pcap"), udp_port)
        # The figure uses the scheduler's exact run time when the kernel
        # has it: utime+stime, rounded per process to 10 ms ticks, read
        # 6-9% low for Kamailio's 13 processes in testing (exact for
        # rampart-proxy's one process); both are reported.
        r.tick_cpu = p1 - p0
        r.cpu = r.tick_cpu
        if s0 is not None and s1 is not None:
            r.cpu = s1 - s0
            r.cpu_source = "schedstat"
        r.other_cpu = {k: o1[k] - o0[k] for k in o0}
        r.other_cpu["sipp-uac"] = uac_cpu
        r.other_cpu["elapsed"] = elapsed

        st = sipp_stats(uac_csv)
        if st is None:
            r.why = "sipp UAC wrote no statistics: " + " | ".join(
                tail_file(os.path.join(rundir, "uac.out")))
            return r
        r.ok = st.get("SuccessfulCall(C)", 0)
        r.failed = st.get("FailedCall(C)", 0)
        r.offered = st.get("OutgoingCall(C)", calls) or calls

        crashed = not proxy.alive()
        with open(proxy.logpath, errors="replace") as f:
            if CRASH_RE.search(f.read()):
                crashed = True
        if crashed:
            r.why = f"{name} crashed during the run (run invalid): " + \
                " | ".join(proxy.log_tail(3))
            return r
        if r.ok == 0:
            reasons = sipp_errors(uac_err)
            r.why = "no call completed" + (
                "; sipp: " + "; ".join(reasons) if reasons else "")
            return r
        if r.ok < 0.5 * calls:
            r.why = (f"only {r.ok} of {calls} calls completed (run invalid); "
                     "sipp: " + "; ".join(sipp_errors(uac_err)))
            return r
        r.valid = True
        return r
    finally:
        if cap and cap.poll() is None:
            os.killpg(cap.pid, signal.SIGKILL)
            cap.wait()
        for d in reversed(daemons):
            d.stop()


def describe(r):
    o = r.other_cpu
    extra = ", ".join(f"{k} {v:.2f} s" for k, v in o.items() if k != "elapsed")
    s = (f"{r.transport} {r.proxy} run {r.idx}: {r.offered} offered, {r.ok} "
         f"completed, {r.failed} failed, proxy CPU {r.cpu:.2f} s "
         f"({r.cpu_source}; utime+stime {r.tick_cpu:.2f} s)"
         + f", idle {r.idle_cpu_per_s:.4f} CPU-s/s")
    if r.cpu > 0:
        s += f", {r.per_cpu:.0f} calls/CPU-s"
    if r.ok and r.cpu > 0:
        s += f" ({r.cpu / r.ok * 1e6:.1f} us/call"
        if r.ctxsw is not None:
            s += (f", {r.ctxsw / r.ok:.2f} context switches/call, "
                  f"{r.ctxsw_vol / r.ok:.2f} of them voluntary")
        s += ")"
    if r.counters:
        c = r.counters
        m = c["udp-messages"] + c["stream-messages"]
        s += (f", {m} messages in {c['worker-rounds']} worker rounds"
              f" ({m / max(1, c['worker-rounds']):.2f} per round),"
              f" {c['batch-sleeps']} coalescing sleeps")
    if r.drops:
        s += f", {r.drops} datagrams dropped at the proxy's UDP port"
    if r.delays:
        d = r.delays
        s += (f", in-proxy delay p50 {d[len(d) // 2]:.0f} us p99 "
              f"{d[min(len(d) - 1, len(d) * 99 // 100)]:.0f} us "
              f"({len(d)} messages)")
    if "elapsed" in o:
        s += f", traffic {o['elapsed']:.1f} s"
    if extra:
        s += f" [{extra}]"
    s += f" load {r.load}"
    if not r.valid:
        s += f" INVALID: {r.why}"
    return s


# ---------------------------------------------------------------- main

def main():
    smoke = os.environ.get("RAMPART_BENCH_SMOKE", "") not in ("", "0")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rate", type=int, default=env_num(
        "RAMPART_BENCH_RATE", 100 if smoke else 1000))
    ap.add_argument("--seconds", type=float, default=env_num(
        "RAMPART_BENCH_SECONDS", 3 if smoke else 15, float))
    ap.add_argument("--runs", type=int, default=env_num(
        "RAMPART_BENCH_RUNS", 1 if smoke else 3))
    ap.add_argument("--settle", type=float, default=env_num(
        "RAMPART_BENCH_SETTLE", 1 if smoke else 6, float))
    ap.add_argument("--transports", default=os.environ.get(
        "RAMPART_BENCH_TRANSPORTS", "udp,tls"))
    ap.add_argument("--max-seconds", type=float, default=env_num(
        "RAMPART_BENCH_MAX_SECONDS", 570, float))
    ap.add_argument("--keep", action="store_true",
                    default=os.environ.get("RAMPART_BENCH_KEEP", "")
                    not in ("", "0"))
    a = ap.parse_args()
    transports = [t for t in a.transports.split(",") if t]
    if a.rate < 1 or a.seconds <= 0 or a.runs < 1 or \
            any(t not in ("udp", "tls") for t in transports):
        log("bad arguments")
        return 2

    ensure_packages(os.environ.get("RAMPART_BENCH_NO_INSTALL", "")
                    not in ("", "0"))
    for tool in ("sipp", "kamailio", "stunnel", "openssl"):
        if not shutil.which(tool):
            log(f"{tool} not found")
            return 2
    rampart = find_rampart()
    work = tempfile.mkdtemp(prefix="rampart-bench-signaling-")
    cert, key = make_cert(work)
    calls = max(1, int(a.rate * a.seconds))
    log(f"{a.rate} calls/s offered for {a.seconds:g} s ({calls} calls) per "
        f"run, {a.runs} run(s) per proxy and transport, settle {a.settle:g} "
        f"s; work dir {work}")
    if not rampart:
        log("rampart-proxy binary not found (build it, or set RAMPART_PROXY)")

    per_session = a.seconds + a.settle + 6  # start, idle sample, stop
    rampart_b = os.environ.get("RAMPART_PROXY_B") or None
    if rampart_b and not os.access(rampart_b, os.X_OK):
        log(f"RAMPART_PROXY_B={rampart_b}: not an executable")
        return 2
    if not rampart_b and os.environ.get("RAMPART_BENCH_CONF_B") is not None:
        rampart_b = rampart  # one binary, two configurations
    proxies = ["rampart"] + (["rampart_b"] if rampart_b else []) + ["kamailio"]
    only = [p for p in os.environ.get("RAMPART_BENCH_PROXIES", "").split(",")
            if p]
    if any(p not in proxies for p in only):
        log(f"RAMPART_BENCH_PROXIES: choose from {','.join(proxies)}")
        return 2
    skipped = [p for p in proxies if only and p not in only]
    latency = os.environ.get("RAMPART_BENCH_LATENCY", "") not in ("", "0")
    if latency and not shutil.which("dumpcap"):
        log("RAMPART_BENCH_LATENCY: dumpcap not found")
        return 2
    binary = {"rampart": rampart, "rampart_b": rampart_b}
    results = {t: {p: [] for p in proxies} for t in transports}
    why = {t: {} for t in transports}
    cut_short = False
    for t in transports:
        # A short probe per proxy first: a proxy that completes no call is
        # reported unavailable instead of spending full runs on it.
        usable = []
        for p in proxies:
            if p in skipped:
                continue
            if p == "rampart" and not rampart:
                why[t][p] = "rampart-proxy binary not found"
                continue
            pr = session(p, t, 0, 5, 10, 0.2, work, cert, key, binary.get(p))
            log("probe " + describe(pr))
            if pr.ok < 5:
                why[t][p] = f"probe: {pr.ok}/5 calls completed: " + (
                    pr.why or f"{pr.failed} failed")
                if p == "rampart" and "501 Not Implemented" in why[t][p]:
                    why[t][p] += (" -- this rampart-proxy answers INVITEs "
                                  "itself: it has no proxy core (no relaying)"
                                  " yet")
                continue
            usable.append(p)
        for i in range(1, a.runs + 1):
            for p in usable:
                if time.monotonic() - START + per_session > a.max_seconds:
                    cut_short = True
                    break
                r = session(p, t, i, calls, a.rate, a.settle, work, cert, key,
                            binary.get(p), latency)
                log(describe(r))
                results[t][p].append(r)
    if cut_short:
        log(f"time budget ({a.max_seconds:g} s) reached: fewer runs than "
            "asked; medians are of the runs made")

    rc = 0
    lines = []
    for t in transports:
        fig = {}
        for p in proxies:
            runs = results[t][p]
            valid = [r for r in runs if r.valid]
            if valid:
                fig[p] = statistics.median(r.per_cpu for r in valid)
                log(f"{t} {p}: median of {len(valid)} valid run(s) "
                    f"{fig[p]:.0f} calls/CPU-s (runs: " + ", ".join(
                        f"{r.per_cpu:.0f}" for r in valid) + f"); "
                    f"failed calls {sum(r.failed for r in runs)}, invalid "
                    f"runs {len(runs) - len(valid)}")
                cs = [r.ctxsw / r.ok for r in valid if r.ctxsw is not None]
                if cs:
                    log(f"{t} {p}: median {statistics.median(r.cpu / r.ok * 1e6 for r in valid):.1f}"
                        f" us/call, {statistics.median(cs):.2f} context "
                        "switches/call (runs: " + ", ".join(
                            f"{c:.2f}" for c in cs) + ")")
                dl = sorted(x for r in valid for x in r.delays)
                if dl:
                    log(f"{t} {p}: in-proxy delay of relayed messages, all "
                        f"runs: p50 {dl[len(dl) // 2]:.0f} us, p90 "
                        f"{dl[len(dl) * 9 // 10]:.0f} us, p99 "
                        f"{dl[len(dl) * 99 // 100]:.0f} us ({len(dl)} messages)")
            elif p in skipped:
                pass
            else:
                reason = why[t].get(p) or "; ".join(
                    r.why for r in runs) or "no run"
                log(f"{t} {p}: unavailable: {reason}")
                if p == "kamailio":
                    rc = 1

        def v(p):
            return f"{fig[p]:.0f}" if p in fig else \
                "skipped" if p in skipped else "unavailable"
        ratio = (f"{fig['rampart'] / fig['kamailio']:.2f}"
                 if "rampart" in fig and "kamailio" in fig else
                 "skipped" if skipped else "unavailable")
        lines.append(f"bench: sip_calls_{t}_per_cpu_s rampart={v('rampart')} "
                     f"kamailio={v('kamailio')} ratio={ratio}")
        if rampart_b:
            ratio_b = (f"{fig['rampart_b'] / fig['kamailio']:.2f}"
                       if "rampart_b" in fig and "kamailio" in fig
                       else "skipped" if skipped else "unavailable")
            lines.append(f"bench: sip_calls_{t}_per_cpu_s_b "
                         f"rampart_b={v('rampart_b')} kamailio={v('kamailio')} "
                         f"ratio_b={ratio_b}")
    if a.keep or rc:
        log(f"logs kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    log(f"total {time.monotonic() - START:.0f} s")
    for line in lines:
        print(line, flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
