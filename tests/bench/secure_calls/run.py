#!/usr/bin/env python3
"""Rampart secure-calls benchmark: rampart-proxy + rampart-mediad against
Kamailio 5.6 + rtpengine 10.5 (docs/bench-secure-calls.md).

sipp UAC -> SBC -> sipp UAS: INVITE with an SRTP offer (RTP/SAVP + a=crypto
AES_CM_128_HMAC_SHA1_80) / 100 / 180 / 200 with the callee's plain RTP/AVP
answer / ACK / BYE / 200. The SBC terminates SRTP: the callee must get
RTP/AVP without a=crypto, the caller RTP/SAVP with the relay's own key (both
sipp scenarios check it; a call that fails a check is not counted). The
caller's side is TLS by default (sipp over TCP through stunnel, one
long-lived connection), the callee's UDP; RAMPART_BENCH_TRANSPORT=udp puts
the caller on UDP too (keys in clear: allow_sdes_over_insecure for Rampart;
Kamailio has no such rule).

The figure is completed calls per CPU-second of the SBC's processes
together: rampart-proxy + rampart-mediad, or Kamailio (all its processes) +
rtpengine, from the scheduler's per-thread run time before and after each
run. Runs are interleaved (rampart, kamailio, rampart, ...), each with
freshly started daemons, at the same offered rate; medians of the valid runs
are compared. Last line on stdout:
  bench: secure_calls_per_cpu_s rampart=<x> kamailio_rtpengine=<y> ratio=<r>

Environment (all optional):
  RAMPART_BENCH_SMOKE=1       short smoke run (100 calls/s, 3 s, 1 run each)
  RAMPART_BENCH_RATE          offered calls per second (default 500)
  RAMPART_BENCH_SECONDS       seconds of traffic per run (default 15)
  RAMPART_BENCH_RUNS          runs per SBC (default 3)
  RAMPART_BENCH_SETTLE        seconds of CPU accounting after the UAC exits
                              (default 6)
  RAMPART_BENCH_TRANSPORT     tls (default) or udp: the caller's side
  RAMPART_BENCH_MAX_SECONDS   no new run starts after this (default 570)
  RAMPART_BENCH_ONLY          rampart or kamailio: measure one SBC only (for
                              profiling; the ratio is then 'unavailable')
  RAMPART_BENCH_NO_INSTALL=1  do not apt-get install missing packages
  RAMPART_BENCH_KEEP=1        keep the work directory (logs, CSVs, configs)
  RAMPART_PROXY, RAMPART_MEDIAD  binaries (default: build-bench/, then build/)
Exit status: 0 when the figure line was printed (also with 'unavailable'),
1 when the Kamailio + rtpengine reference could not be measured, 2 on
set-up errors.
"""

import argparse
import os
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
# The signaling benchmark's harness (ports, processes, CPU accounting, sipp
# statistics, packages) is reused as is.
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(HERE, "..", "signaling"))
sys.path.insert(0, os.path.join(ROOT, "tests", "tools"))
import run as sig  # noqa: E402
import ctlproto  # noqa: E402

ADDR = sig.ADDR
# Media port ranges: out of 10000-31999 (other benchmarks and tests) and of
# the kernel's ephemeral range; 4,000 ports each (RTP+RTCP on both legs: 4
# a call, 1,000 calls at once, far more than a run has in flight).
MEDIAD_PORTS = (2000, 5999)
RTPENGINE_PORTS = (6000, 9999)
RECV_TIMEOUT_MS = sig.RECV_TIMEOUT_MS
START = time.monotonic()
SBCS = ["rampart", "kamailio"]
LABEL = {"rampart": "rampart", "kamailio": "kamailio_rtpengine"}


def log(msg):
    print(f"secure-calls: {msg}", file=sys.stderr, flush=True)


def fill(template, dest, values):
    """sig.fill reads its templates from its own directory."""
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


def find_bin(env, sub):
    p = os.environ.get(env)
    if p:
        return os.path.abspath(p) if os.access(p, os.X_OK) else None
    for d in ("build-bench", "build"):
        p = os.path.join(ROOT, d, sub)
        if os.access(p, os.X_OK):
            return p
    return None


def stop_system_rtpengine():
    """Debian's rtpengine-daemon may run a service: we start our own."""
    if not os.path.isdir("/run/systemd/system"):
        return
    for svc in ("rtpengine-daemon", "rtpengine"):
        for verb, action in (("is-active", "stop"), ("is-enabled", "disable")):
            r = subprocess.run(["systemctl", "-q", verb, svc + ".service"],
                               stderr=subprocess.DEVNULL)
            if r.returncode == 0:
                log(f"systemctl {action} {svc}.service")
                subprocess.run(["systemctl", "-q", action, svc + ".service"])


def cpu_of(daemons):
    """(schedstat seconds or None, utime+stime seconds) summed over daemons
    (each with all its descendants and threads)."""
    sched, ticks = 0.0, 0.0
    for d in daemons:
        s = sig.sched_seconds(d.pid)
        sched = None if (s is None or sched is None) else sched + s
        ticks += sig.cpu_seconds(d.pid)
    return sched, ticks


def mediad_stats(sock):
    try:
        c = ctlproto.Client(sock)
        r = c.ok("stats")
        c.s.close()
        return r
    except (OSError, RuntimeError, ValueError) as e:
        return {"error": str(e)}


def rtpengine_calls(ng_port):
    """Number of calls rtpengine still holds (ng 'list'), or None."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    try:
        # rtpengine caches replies by cookie: a fresh one every time.
        cookie = b"bench-%d-%d" % (os.getpid(), time.monotonic_ns())
        s.sendto(cookie + b" " + ctlproto.benc({"command": "list", "limit": 100000}),
                 (ADDR, ng_port))
        data, _ = s.recvfrom(1 << 20)
        resp, _ = ctlproto.bdec(data[data.index(b" ") + 1:])
        if resp.get("result") != "ok" or "calls" not in resp:
            return None
        return len(resp["calls"])
    except (OSError, ValueError, RuntimeError):
        return None
    finally:
        s.close()


class Run(sig.Run):
    def __init__(self, sbc, transport, idx):
        super().__init__(sbc, transport, idx)
        self.logs = []
        self.left = None      # relay sessions still open after the run
        self.parts = {}       # CPU seconds per SBC process
        self.relay = ""       # the relay's own counters, when it has them


def wait_log(d, text, timeout=30.0):
    """rampart-proxy listens before its core is installed (it answers 501
    until then): ready is its 'running with N workers' notice. Slow only
    under valgrind, which profiling runs use."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and d.alive():
        with open(d.logpath, errors="replace") as f:
            if text in f.read():
                return True
        time.sleep(0.05)
    return False


def start_sbc(name, rundir, cert, key, transport, rampart, mediad):
    """The SBC's daemons (relay first: the proxy connects to it), and the
    SIP ports to send to: (daemons, udp_port, tls_port, uas_port, info)."""
    udp_port, uas_port = sig.free_port(), sig.free_port()
    tls_port = sig.free_port() if transport == "tls" else None
    daemons, info = [], {}
    vals = dict(ADDR=ADDR, UDP_PORT=udp_port, UAS_PORT=uas_port, CERT=cert,
                KEY=key, RUNDIR=rundir, MODULES=sig.KAMAILIO_MODULES)
    if name == "rampart":
        vals.update(PORT_MIN=MEDIAD_PORTS[0], PORT_MAX=MEDIAD_PORTS[1],
                    INSECURE="yes" if transport == "udp" else "no",
                    TRANSPORT=transport,
                    TLS_LISTEN=(f"listen tls {ADDR}:{tls_port} {{\n"
                                f"    cert = \"{cert}\";\n"
                                f"    key = \"{key}\";\n"
                                "    min_version = 1.2;\n}"
                                if tls_port else ""))
        mcfg = fill("mediad.conf", os.path.join(rundir, "mediad.conf"), vals)
        m = sig.Daemon("mediad", [mediad, "--config", mcfg],
                       os.path.join(rundir, "mediad.log"), rundir)
        daemons.append(m)
        sock = os.path.join(rundir, "mediad.sock")
        end = time.monotonic() + 10
        while not os.path.exists(sock) and m.alive() and \
                time.monotonic() < end:
            time.sleep(0.05)
        if not os.path.exists(sock):
            return daemons, None, "mediad did not start: " + \
                " | ".join(m.log_tail())
        info["mediad_sock"] = sock
        pcfg = fill("rampart.conf", os.path.join(rundir, "rampart.conf"), vals)
        p = sig.Daemon("rampart-proxy", [rampart, "--config", pcfg],
                       os.path.join(rundir, "rampart-proxy.log"), rundir)
    else:
        ng = sig.free_port()
        info["ng_port"] = ng
        # Userspace only (--table=-1); threads = CPUs like mediad's
        # workers; no delete delay, so a BYE frees the ports at once like
        # mediad's session.delete.
        r = sig.Daemon("rtpengine", [
            "rtpengine", "--foreground", "--config-file=none", "--table=-1",
            f"--interface={ADDR}", f"--listen-ng={ADDR}:{ng}",
            f"--port-min={RTPENGINE_PORTS[0]}",
            f"--port-max={RTPENGINE_PORTS[1]}",
            f"--num-threads={os.cpu_count() or 2}", "--delete-delay=0",
            "--log-stderr", "--log-level=4"],
            os.path.join(rundir, "rtpengine.log"), rundir)
        daemons.append(r)
        if not r.wait_ports([(ng, "udp")]):
            return daemons, None, "rtpengine did not start: " + \
                " | ".join(r.log_tail())
        tls = transport == "tls"
        vals.update(
            NG_PORT=ng, ENABLE_TLS="yes" if tls else "no",
            TLS_LISTEN=f"listen=tls:{ADDR}:{tls_port}" if tls else "",
            TLS_LOAD='loadmodule "tls.so"' if tls else "",
            TLS_PARAMS=(f'modparam("tls", "certificate", "{cert}")\n'
                        f'modparam("tls", "private_key", "{key}")\n'
                        'modparam("tls", "tls_method", "TLSv1.2+")\n'
                        'modparam("tls", "verify_certificate", 0)\n'
                        'modparam("tls", "require_certificate", 0)'
                        if tls else ""))
        kcfg = fill("kamailio.cfg", os.path.join(rundir, "kamailio.cfg"), vals)
        # tlsf: Kamailio at its best (BENCH-NOTES).
        p = sig.Daemon("kamailio", [
            "kamailio", "-x", "tlsf", "-m", "256", "-M", "16", "-DD", "-E",
            "-f", kcfg, "-Y", rundir, "-w", rundir],
            os.path.join(rundir, "kamailio.log"), rundir)
    daemons.append(p)
    ports = [(udp_port, "udp")] + ([(tls_port, "tcp")] if tls_port else [])
    if not p.wait_ports(ports) or \
            (name == "rampart" and not wait_log(p, "running with")):
        return daemons, None, f"{p.name} did not start: " + \
            " | ".join(p.log_tail())
    return daemons, (udp_port, tls_port, uas_port, info), ""


def session(name, transport, idx, *args):
    """One run; harness errors make an invalid run. A port race lost to
    another program is retried once."""
    for attempt in (1, 2):
        try:
            r = session1(name, transport, idx, *args)
        except (OSError, RuntimeError, subprocess.SubprocessError) as e:
            r = Run(name, transport, idx)
            r.why = f"harness error: {e}"
        if r.valid:
            for path in r.logs:
                with open(path, errors="replace") as f:
                    m = sig.CRASH_RE.search(f.read())
                if m:
                    r.valid = False
                    r.why = (f"'{m.group(0)}' in {os.path.basename(path)} "
                             "after it stopped")
        if r.valid or "Address already in use" not in r.why or attempt == 2:
            return r
        log(f"{name} run {idx}: port taken by another program, retrying")
    return r


def session1(name, transport, idx, calls, rate, settle, work, cert, key,
             rampart, mediad):
    r = Run(name, transport, idx)
    r.offered = calls
    with open("/proc/loadavg") as f:
        r.load = f.read().split()[0]
    rundir = os.path.join(work, f"{name}-{idx}")
    os.makedirs(rundir)
    daemons = []
    try:
        daemons, ports, why = start_sbc(name, rundir, cert, key, transport,
                                        rampart, mediad)
        sbc = list(daemons)
        r.logs = [d.logpath for d in sbc]
        if not ports:
            r.why = why
            return r
        udp_port, tls_port, uas_port, info = ports
        target = f"{ADDR}:{udp_port}"
        if transport == "tls":
            accept = sig.free_port()
            scfg = sig.fill("stunnel.conf",
                            os.path.join(rundir, "stunnel.conf"),
                            dict(ADDR=ADDR, ACCEPT_PORT=accept,
                                 TLS_PORT=tls_port, RUNDIR=rundir, CERT=cert))
            st = sig.Daemon("stunnel", ["stunnel", scfg],
                            os.path.join(rundir, "stunnel.out"), rundir)
            daemons.append(st)
            if not st.wait_ports([(accept, "tcp")]):
                r.why = "stunnel did not start: " + " | ".join(st.log_tail())
                return r
            target = f"{ADDR}:{accept}"
        uas = sig.Daemon("uas", [
            "sipp", "-sf", os.path.join(HERE, "uas.xml"), "-i", ADDR,
            "-p", str(uas_port), "-t", "u1", "-cp", str(sig.free_port()),
            "-mp", str(sig.free_port_block(4)),
            "-recv_timeout", str(RECV_TIMEOUT_MS), "-nostdin", "-trace_err",
            "-error_file", os.path.join(rundir, "uas_err.log"),
            "-trace_stat", "-stf", os.path.join(rundir, "uas.csv"),
            "-fd", "1"], os.path.join(rundir, "uas.out"), rundir)
        daemons.append(uas)
        if not uas.wait_ports([(uas_port, "udp")]):
            r.why = "sipp UAS did not start: " + " | ".join(uas.log_tail())
            return r

        c0, _ = cpu_of(sbc)
        time.sleep(1.0)
        c1, _ = cpu_of(sbc)
        if c0 is not None and c1 is not None:
            r.idle_cpu_per_s = c1 - c0

        uac_csv = os.path.join(rundir, "uac.csv")
        uac_err = os.path.join(rundir, "uac_err.log")
        vt, ct, t = ("TLS", "tls", "t1") if transport == "tls" else \
            ("UDP", "udp", "u1")
        # An SBC that cannot keep up stretches the calls over up to three
        # times their nominal duration on a loaded box: let it finish them
        # (still bounded) rather than cut the offer short.
        guard = 3 * int(calls / rate) + RECV_TIMEOUT_MS // 1000 + 15
        cmd = ["sipp", "-sf", os.path.join(HERE, "uac.xml"), "-i", ADDR,
               "-p", str(sig.free_port()), "-t", t,
               "-cp", str(sig.free_port()), "-mp", str(sig.free_port_block(4)),
               "-recv_timeout", str(RECV_TIMEOUT_MS),
               "-key", "via_transport", vt, "-key", "contact_transport", ct,
               "-key", "uas", f"{ADDR}:{uas_port}", "-s", "bench",
               "-r", str(rate), "-m", str(calls), "-timeout", f"{guard}s",
               "-nostdin", "-trace_err", "-error_file", uac_err,
               "-trace_stat", "-stf", uac_csv, "-fd", "1", target]
        others = [d for d in daemons if d not in sbc]
        o0 = {d.name: sig.cpu_seconds(d.pid) for d in others}
        parts0 = {d.name: cpu_of([d])[0] for d in sbc}
        s0, p0 = cpu_of(sbc)
        t0 = time.monotonic()
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
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
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        uac_cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
        time.sleep(settle)
        s1, p1 = cpu_of(sbc)
        parts1 = {d.name: cpu_of([d])[0] for d in sbc}
        o1 = {d.name: sig.cpu_seconds(d.pid) for d in others}
        r.tick_cpu = p1 - p0
        r.cpu = r.tick_cpu
        if s0 is not None and s1 is not None:
            r.cpu = s1 - s0
            r.cpu_source = "schedstat"
            r.parts = {k: parts1[k] - parts0[k] for k in parts0
                       if parts0[k] is not None and parts1.get(k) is not None}
        r.other_cpu = {k: o1[k] - o0[k] for k in o0}
        r.other_cpu["sipp-uac"] = uac_cpu
        r.other_cpu["elapsed"] = elapsed
        if name == "rampart":
            st = mediad_stats(info["mediad_sock"])
            r.left = st.get("sessions-active")
            r.relay = (f"mediad: {st.get('sessions-created')} sessions created, "
                       f"port-exhausted {st.get('port-exhausted')}")
        else:
            r.left = rtpengine_calls(info["ng_port"])

        stt = sig.sipp_stats(uac_csv)
        if stt is None:
            r.why = "sipp UAC wrote no statistics: " + " | ".join(
                sig.tail_file(os.path.join(rundir, "uac.out")))
            return r
        r.ok = stt.get("SuccessfulCall(C)", 0)
        r.failed = stt.get("FailedCall(C)", 0)
        r.offered = stt.get("OutgoingCall(C)", calls) or calls
        for d in sbc:
            crashed = not d.alive()
            with open(d.logpath, errors="replace") as f:
                if sig.CRASH_RE.search(f.read()):
                    crashed = True
            if crashed:
                r.why = f"{d.name} crashed during the run (run invalid): " + \
                    " | ".join(d.log_tail(3))
                return r
        if r.ok == 0:
            reasons = sig.sipp_errors(uac_err) + \
                sig.sipp_errors(os.path.join(rundir, "uas_err.log"))
            r.why = "no call completed" + (
                "; sipp: " + "; ".join(reasons) if reasons else "")
            return r
        if r.ok < 0.5 * calls:
            r.why = (f"only {r.ok} of {calls} calls completed (run invalid); "
                     "sipp: " + "; ".join(sig.sipp_errors(uac_err)))
            return r
        r.valid = True
        return r
    finally:
        for d in reversed(daemons):
            d.stop()


def describe(r):
    s = sig.describe(r).replace("proxy CPU", "SBC CPU")
    if r.parts:
        s += " (" + ", ".join(f"{k} {v:.2f} s" for k, v in r.parts.items()) \
            + ")"
    if r.left is not None:
        s += f"; relay sessions left after the run: {r.left}"
    if r.relay:
        s += f" ({r.relay})"
    return s


def main():
    smoke = os.environ.get("RAMPART_BENCH_SMOKE", "") not in ("", "0")
    en = sig.env_num
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rate", type=int,
                    default=en("RAMPART_BENCH_RATE", 100 if smoke else 500))
    ap.add_argument("--seconds", type=float, default=en(
        "RAMPART_BENCH_SECONDS", 3 if smoke else 15, float))
    ap.add_argument("--runs", type=int,
                    default=en("RAMPART_BENCH_RUNS", 1 if smoke else 3))
    ap.add_argument("--settle", type=float, default=en(
        "RAMPART_BENCH_SETTLE", 1 if smoke else 6, float))
    ap.add_argument("--transport", default=os.environ.get(
        "RAMPART_BENCH_TRANSPORT", "tls"))
    ap.add_argument("--max-seconds", type=float, default=en(
        "RAMPART_BENCH_MAX_SECONDS", 570, float))
    ap.add_argument("--only", choices=SBCS, default=os.environ.get(
        "RAMPART_BENCH_ONLY") or None)
    ap.add_argument("--keep", action="store_true",
                    default=os.environ.get("RAMPART_BENCH_KEEP", "")
                    not in ("", "0"))
    a = ap.parse_args()
    if a.rate < 1 or a.seconds <= 0 or a.runs < 1 or \
            a.transport not in ("udp", "tls"):
        log("bad arguments")
        return 2

    sig.PACKAGES.append("rtpengine-daemon")
    sig.ensure_packages(os.environ.get("RAMPART_BENCH_NO_INSTALL", "")
                        not in ("", "0"))
    stop_system_rtpengine()
    for tool in ("sipp", "kamailio", "stunnel", "openssl", "rtpengine"):
        if not shutil.which(tool):
            log(f"{tool} not found")
            return 2
    rampart = find_bin("RAMPART_PROXY", "proxy/rampart-proxy")
    mediad = find_bin("RAMPART_MEDIAD", "mediad/rampart-mediad")
    work = tempfile.mkdtemp(prefix="rampart-bench-secure-calls-")
    cert, key = sig.make_cert(work)
    calls = max(1, int(a.rate * a.seconds))
    log(f"caller over {a.transport}, callee over udp; {a.rate} calls/s "
        f"offered for {a.seconds:g} s ({calls} calls) per run, {a.runs} "
        f"run(s) per SBC, settle {a.settle:g} s; work dir {work}")

    per_session = a.seconds + a.settle + 8
    results = {p: [] for p in SBCS}
    why = {}
    usable = []
    for p in SBCS:
        if a.only and p != a.only:
            why[p] = f"not measured (--only {a.only})"
            continue
        if p == "rampart" and not (rampart and mediad):
            why[p] = "rampart-proxy or rampart-mediad binary not found"
            continue
        pr = session(p, a.transport, 0, 5, 10, 0.2, work, cert, key, rampart,
                     mediad)
        log("probe " + describe(pr))
        if pr.ok < 5:
            why[p] = f"probe: {pr.ok}/5 calls completed: " + (
                pr.why or f"{pr.failed} failed: " + "; ".join(
                    sig.sipp_errors(os.path.join(work, f"{p}-0",
                                                 "uac_err.log"))))
            continue
        usable.append(p)
    cut_short = False
    for i in range(1, a.runs + 1):
        for p in usable:
            if time.monotonic() - START + per_session > a.max_seconds:
                cut_short = True
                break
            r = session(p, a.transport, i, calls, a.rate, a.settle, work,
                        cert, key, rampart, mediad)
            log(describe(r))
            results[p].append(r)
    if cut_short:
        log(f"time budget ({a.max_seconds:g} s) reached: fewer runs than "
            "asked; medians are of the runs made")

    rc = 0
    fig = {}
    for p in SBCS:
        runs = results[p]
        valid = [r for r in runs if r.valid]
        if valid:
            fig[p] = statistics.median(r.per_cpu for r in valid)
            log(f"{LABEL[p]}: median of {len(valid)} valid run(s) "
                f"{fig[p]:.0f} calls/CPU-s (runs: " + ", ".join(
                    f"{r.per_cpu:.0f}" for r in valid) +
                f"); failed calls {sum(r.failed for r in runs)}, invalid "
                f"runs {len(runs) - len(valid)}")
        else:
            reason = why.get(p) or "; ".join(r.why for r in runs) or "no run"
            log(f"{LABEL[p]}: unavailable: {reason}")
            if p == "kamailio" and not a.only:
                rc = 1

    def v(p):
        return f"{fig[p]:.0f}" if p in fig else "unavailable"
    ratio = (f"{fig['rampart'] / fig['kamailio']:.2f}"
             if "rampart" in fig and "kamailio" in fig else "unavailable")
    if a.keep or rc:
        log(f"logs kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    log(f"total {time.monotonic() - START:.0f} s")
    print(f"bench: secure_calls_per_cpu_s rampart={v('rampart')} "
          f"kamailio_rtpengine={v('kamailio')} ratio={ratio}", flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
