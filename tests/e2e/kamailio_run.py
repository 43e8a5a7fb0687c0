#!/usr/bin/env python3
"""kamailio_run.py PROXY MEDIAD RAMPARTCTL: Rampart and Kamailio 5.6 as
peers, on loopback with free ports.

 a. Rampart in front of a Kamailio UDP core: sipp UAC over TLS (sipp over
    TCP through stunnel, which verifies the proxy's certificate) offering
    SRTP -> rampart-proxy (TLS listener, require) -> trunk 'core' (UDP,
    plain) -> Kamailio (record_route, t_relay) -> sipp UAS. The UAS sees
    RTP/AVP without a=crypto and Kamailio's and Rampart's Record-Route, the
    UAC our SRTP answer; mediad holds the session during the call and BYE
    deletes it.
 b. Rampart's outbound trunk to a Kamailio TLS endpoint: a plain UDP caller
    -> rampart-proxy -> trunk 'ktls' (TLS, require, server_name and CA of
    the test PKI: RFC 5922 verification) -> Kamailio (TLS in, UDP out) ->
    sipp UAS, which gets RTP/SAVP with our key and answers SRTP; the caller
    gets plain RTP. The same call toward a Kamailio whose certificate names
    another host (SAN DNS:other.example only) is refused by Rampart: the
    caller gets an error, the far UAS nothing, and Kamailio never sees the
    INVITE.
Skips (77) only when kamailio, sipp, stunnel or openssl is missing."""
import os
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
KAM_MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"

# The stateful relay of tests/bench/signaling/kamailio.cfg, with the TLS
# listener optional and INVITEs logged (the test reads the log).
KAM_CFG = """#!KAMAILIO
debug=2
log_stderror=yes
fork=yes
children=2
tcp_children=2
disable_core_dump=yes
auto_aliases=no
dns=no
rev_dns=no
use_dns_cache=off
enable_tls=%(enable_tls)s
server_signature=no
listen=udp:127.0.0.1:%(udp)d
%(tls_listen)s
mpath="%(modules)s"
%(tls_load)s
loadmodule "pv.so"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
%(tls_params)s
request_route {
	if (!mf_process_maxfwd_header("10")) {
		sl_send_reply("483", "Too Many Hops");
		exit;
	}
	if (has_totag()) {
		if (loose_route()) {
			t_relay();
			exit;
		}
		if (is_method("ACK")) {
			if (t_check_trans()) {
				t_relay();
			}
			exit;
		}
		sl_send_reply("404", "Not here");
		exit;
	}
	if (is_method("CANCEL")) {
		if (t_check_trans()) {
			t_relay();
		}
		exit;
	}
	if (!is_method("ACK")) {
		t_check_trans();
	}
	if (is_method("INVITE")) {
		xlog("L_NOTICE", "KAMTEST INVITE $ru from $si:$sp proto $pr\\n");
		record_route();
	}
	if (!t_relay()) {
		sl_reply_error();
	}
	exit;
}
"""

TLS_PARAMS = """modparam("tls", "certificate", "%(cert)s")
modparam("tls", "private_key", "%(key)s")
modparam("tls", "tls_method", "TLSv1.2+")
modparam("tls", "verify_certificate", 0)
modparam("tls", "require_certificate", 0)
"""

PROXY_CFG = """
log_level = info;
timer_t1 = 200;
mediad_socket = "%(sock)s";
# Outbound TLS verifies against the global CA set: rampart-proxy has one
# client TLS store (a trunk's own ca_file is not applied yet).
tls { ca_file = "%(d)s/ca.pem"; }
listen udp 127.0.0.1:%(udp)d;
listen tls 127.0.0.1:%(tls)d {
    cert = "%(d)s/server.pem";
    key = "%(d)s/server.key";
    media_encryption = require;
}
# (a) the plain core behind us: Kamailio over UDP.
trunk core {
    address = "127.0.0.1:%(kam_udp)d";
    inbound { source = 192.0.2.1/32; }
    media_encryption = disable;
}
# (b) a TLS peer: Kamailio's TLS endpoint, verified per RFC 5922.
trunk ktls {
    address = "127.0.0.1:%(kam_tls)d";
    transport = tls;
    inbound { source = 192.0.2.2/32; }
    server_name = "sip.test.example";
    ca_file = "%(d)s/ca.pem";
    verify_server = yes;
    media_encryption = require;
}
# (b) the same peer type, whose certificate names another host.
trunk ktls_wrong {
    address = "127.0.0.1:%(kam2_tls)d";
    transport = tls;
    inbound { source = 192.0.2.3/32; }
    server_name = "sip.test.example";
    ca_file = "%(d)s/ca.pem";
    verify_server = yes;
    media_encryption = require;
}
route request {
    if (has_header("Route")) { relay; }
    if (method == "ACK" || method == "CANCEL") { relay; }
    record_route;
    if (ruri.user == "viatls") { relay ktls; }
    if (ruri.user == "wrongcert") { relay ktls_wrong; }
    relay core;
}
"""


class Kamailio:
    def __init__(self, d, name, udp, tls=None, cert=None, key=None):
        self.dir = os.path.join(d, name)
        os.makedirs(self.dir, exist_ok=True)
        self.udp, self.tls = udp, tls
        vals = {"udp": udp, "modules": KAM_MODULES,
                "enable_tls": "yes" if tls else "no",
                "tls_listen": "listen=tls:127.0.0.1:%d" % tls if tls else "",
                "tls_load": 'loadmodule "tls.so"' if tls else "",
                "tls_params": TLS_PARAMS % {"cert": cert, "key": key} if tls else ""}
        self.cfg = os.path.join(self.dir, "kamailio.cfg")
        with open(self.cfg, "w") as f:
            f.write(KAM_CFG % vals)
        self.logf = os.path.join(self.dir, "kamailio.log")
        out = open(self.logf, "w")
        # -DD: stay in the foreground (we own the process); -E: log to stderr
        self.p = subprocess.Popen(["kamailio", "-x", "tlsf", "-m", "64", "-M", "8", "-DD", "-E",
                                   "-f", self.cfg, "-Y", self.dir, "-w", self.dir,
                                   "-P", os.path.join(self.dir, "kamailio.pid")],
                                  stdout=out, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while time.time() < deadline and self.p.poll() is None:
            # The ports may be busy because someone else took them: only a
            # Kamailio still running a moment later counts as started.
            if self.listening():
                time.sleep(0.5)
                if self.p.poll() is None:
                    return
                break
            time.sleep(0.1)
        log = self.log()
        self.stop()
        raise RuntimeError("kamailio %s did not start:\n%s" % (name, log[-3000:]))

    def listening(self):
        ok = udp_busy(self.udp)
        if self.tls:
            ok = ok and tcp_open(self.tls)
        return ok

    def log(self):
        return open(self.logf, errors="replace").read()

    def invites(self):
        return re.findall(r"KAMTEST INVITE (\S+) from (\S+) proto (\S+)", self.log())

    def stop(self):
        E.stop(self.p, signal.SIGTERM, 10)


def start_kamailio(d, name, cert):
    """A Kamailio on free ports; another program may take a port between
    our probe and Kamailio's bind, so a failed start is retried."""
    for attempt in range(4):
        try:
            return Kamailio(d, name, E.free_port(), E.free_port(socket.SOCK_STREAM),
                            os.path.join(d, cert + ".pem"), os.path.join(d, cert + ".key"))
        except RuntimeError as e:
            if attempt == 3:
                raise
            print("kamailio %s start attempt %d: %s" % (name, attempt + 1, str(e)[-300:]))


def udp_busy(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", port))
        return False
    except OSError:
        return True
    finally:
        s.close()


def tcp_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), 0.5).close()
        return True
    except OSError:
        return False


def start_stunnel(d, tls_port):
    accept = E.free_port(socket.SOCK_STREAM)
    conf = os.path.join(d, "stunnel.conf")
    with open(conf, "w") as f:
        f.write("foreground = yes\npid =\ndebug = 4\noutput = %s/stunnel.log\n\n[sip]\n"
                "client = yes\naccept = 127.0.0.1:%d\nconnect = 127.0.0.1:%d\n"
                "sslVersionMin = TLSv1.2\nCAfile = %s/ca.pem\nverifyChain = yes\n"
                "checkHost = sip.test.example\n" % (d, accept, tls_port, d))
    p = subprocess.Popen(["stunnel", conf], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while time.time() < deadline and p.poll() is None:
        if tcp_open(accept):
            return p, accept
        time.sleep(0.1)
    E.stop(p)
    raise RuntimeError("stunnel did not start")


def sipp_pair(d, name, uac_xml, uas_xml, uac_args, service, seconds=30, during=None):
    """sipp UAS on 127.0.0.2 (UDP), then the UAC with uac_args (which say how
    to reach the proxy). during(): called while the call is up (the UAC
    holds it 2 s after the ACK). Returns (uac rc, uas rc, text)."""
    sd = os.path.join(d, name)
    os.makedirs(sd, exist_ok=True)
    for _ in range(3):
        uas_port = E.free_port(socket.SOCK_DGRAM, "127.0.0.2")
        uas = subprocess.Popen(["sipp", "-sf", os.path.join(HERE, uas_xml), "-t", "u1",
                                "-i", "127.0.0.2", "-p", str(uas_port), "-m", "1",
                                "-timeout", "%ds" % seconds, "-timeout_error", "-nostdin",
                                "-trace_err", "-trace_msg",
                                "-cp", str(E.free_port()), "-mp", str(E.free_port())],
                               cwd=sd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        time.sleep(0.3)
        if uas.poll() is not None:
            continue
        uac = subprocess.Popen(["sipp", "-sf", os.path.join(HERE, uac_xml)] + uac_args +
                               ["-m", "1", "-s", service, "127.0.0.2:%d" % uas_port,
                                "-timeout", "%ds" % seconds, "-timeout_error", "-nostdin",
                                "-trace_err", "-trace_msg",
                                "-cp", str(E.free_port()), "-mp", str(E.free_port())],
                               cwd=sd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        result = {}
        if during:
            t = threading.Thread(target=lambda: result.setdefault("during", during()))
            t.start()
        try:
            uac_out = uac.communicate(timeout=seconds + 30)[0]
        except subprocess.TimeoutExpired:
            uac.kill()
            uac_out = uac.communicate()[0]
        if during:
            t.join()
        try:
            uas_out = uas.communicate(timeout=15)[0]
        except subprocess.TimeoutExpired:
            uas.kill()
            uas_out = uas.communicate()[0]
        text = uac_out.decode(errors="replace") + uas_out.decode(errors="replace")
        if "Unable to bind" in text:
            continue
        for f in sorted(os.listdir(sd)):
            if f.endswith("_errors.log"):
                text += "\n" + f + ":\n" + open(os.path.join(sd, f), errors="replace").read()[-1500:]
        uas_msgs = "".join(open(os.path.join(sd, f), errors="replace").read()
                           for f in os.listdir(sd)
                           if "uas" in f and f.endswith("_messages.log"))
        return uac.returncode, uas.returncode, text, uas_msgs, result.get("during")
    return -1, -1, "sipp could not start", "", None


def main():
    for tool in ("kamailio", "sipp", "stunnel", "openssl"):
        if not shutil.which(tool):
            E.skip("%s is not installed (scripts/setup installs it)" % tool)
    if not os.path.exists(os.path.join(KAM_MODULES, "tls.so")):
        E.skip("Kamailio's tls module is missing (package kamailio-tls-modules)")
    if not all(os.access(x, os.X_OK) for x in (PROXY, MEDIAD, CTL)):
        E.skip("rampart binaries missing")
    d = tempfile.mkdtemp(prefix="rp-kam-")
    subprocess.run(["sh", MKCERTS, d], check=True, stdout=subprocess.DEVNULL)
    mediad, sock, prange = E.start_mediad(MEDIAD, d)
    procs = []
    proxy_p = None
    ok_all = False
    try:
        kam = start_kamailio(d, "kam", "server")
        procs.append(kam)
        kam2 = start_kamailio(d, "kam-wrong", "wrong")
        procs.append(kam2)
        for attempt in range(5):
            try:
                proxy_p, ports, plog = E.start_proxy(PROXY, d, PROXY_CFG % {
                    "sock": sock, "udp": E.free_port(), "tls": E.free_port(socket.SOCK_STREAM),
                    "d": d, "kam_udp": kam.udp, "kam_tls": kam.tls, "kam2_tls": kam2.tls})
                break
            except RuntimeError as e:
                if attempt == 4:
                    raise
                print("proxy start attempt %d: %s" % (attempt + 1, str(e)[-300:]))
        st, accept = start_stunnel(d, ports["tls"])
        procs.append(st)

        # a. TLS + SRTP caller -> Rampart -> Kamailio (UDP) -> plain UAS.
        def during_a():
            time.sleep(1.0)
            return E.mediad_calls(CTL, sock)
        uac_rc, uas_rc, text, uas_msgs, dur = sipp_pair(
            d, "a", "kam_srtp_uac.xml", "srtp_uas.xml",
            ["-t", "t1", "-i", "127.0.0.1", "-p", "0", "-rsa", "127.0.0.1:%d" % accept],
            "viaudpcore", during=during_a)
        E.check("a: SRTP call over TLS through Rampart and a Kamailio UDP core completes "
                "(UAS: RTP/AVP, no a=crypto; UAC: RTP/SAVP with our key)",
                uac_rc == 0 and uas_rc == 0, text[-3000:] + open(plog).read()[-2000:])
        inv = kam.invites()
        E.check("a: Kamailio relayed the INVITE it got from Rampart over UDP",
                len(inv) == 1 and inv[0][2].upper() == "UDP" and "viaudpcore" in inv[0][0], inv)
        E.check("a: the UAS saw Kamailio's and Rampart's Record-Route",
                re.search(r"Record-Route:.*127\.0\.0\.1:%d" % kam.udp, uas_msgs) is not None and
                re.search(r"Record-Route:.*127\.0\.0\.1:%d" % ports["udp"], uas_msgs) is not None,
                uas_msgs[-2000:])
        calls = (dur or (None, ""))[0]
        E.check("a: during the call mediad has one session, SRTP toward the caller, plain "
                "toward Kamailio", calls is not None and len(calls) == 1 and
                (calls[0].get("a") or {}).get("srtp-in") not in (None, "plain") and
                (calls[0].get("b") or {}).get("srtp-out") == "plain", dur)
        E.check("a: BYE deleted the mediad session", E.wait_calls(CTL, sock, 0, 5) == 0,
                E.mediad_calls(CTL, sock)[1])

        # b. plain caller -> Rampart -> TLS trunk -> Kamailio TLS -> UAS.
        def during_b():
            time.sleep(1.0)
            return E.mediad_calls(CTL, sock)
        uac_rc, uas_rc, text, uas_msgs, dur = sipp_pair(
            d, "b", "kam_plain_uac.xml", "kam_srtp_uas.xml",
            ["-t", "u1", "-i", "127.0.0.1", "-p", "0", "-rsa", "127.0.0.1:%d" % ports["udp"]],
            "viatls", during=during_b)
        E.check("b: call over Rampart's TLS trunk to Kamailio completes (far end gets "
                "RTP/SAVP + our key, answers SRTP; caller gets plain RTP)",
                uac_rc == 0 and uas_rc == 0, text[-3000:] + open(plog).read()[-2000:])
        inv = [i for i in kam.invites() if "viatls" in i[0]]
        E.check("b: Kamailio got the INVITE over TLS", len(inv) == 1 and inv[0][2].upper() == "TLS",
                kam.invites())
        calls = (dur or (None, ""))[0]
        E.check("b: during the call mediad has one session, plain toward the caller, SRTP "
                "toward the trunk", calls is not None and len(calls) == 1 and
                (calls[0].get("a") or {}).get("srtp-in") == "plain" and
                (calls[0].get("b") or {}).get("srtp-out") not in (None, "plain"), dur)
        E.check("b: BYE deleted the mediad session", E.wait_calls(CTL, sock, 0, 5) == 0,
                E.mediad_calls(CTL, sock)[1])

        # b'. the same toward a Kamailio whose certificate names another host.
        uac_rc, uas_rc, text, uas_msgs, _ = sipp_pair(
            d, "b-wrong", "kam_plain_uac.xml", "kam_srtp_uas.xml",
            ["-t", "u1", "-i", "127.0.0.1", "-p", "0", "-rsa", "127.0.0.1:%d" % ports["udp"]],
            "wrongcert", seconds=12)
        status = re.findall(r"SIP/2\.0 ([3-6]\d\d)", text)
        E.check("b: a wrong-name certificate on the TLS peer: Rampart refuses (the caller "
                "fails, the far UAS gets no INVITE)", uac_rc != 0 and "INVITE" not in uas_msgs,
                (uac_rc, status, text[-1500:]))
        E.check("b: Kamailio with the wrong-name certificate never saw an INVITE",
                kam2.invites() == [], kam2.invites())
        log = open(plog).read()
        print("  proxy's TLS log lines: %s" % [l[-160:] for l in log.splitlines()
                                             if "tls connection" in l])
        E.check("b: Rampart logs the failed verification of the peer's certificate",
                re.search(r"127\.0\.0\.1:%d .*(?i:certificate|name|verif)" % kam2.tls,
                          log) is not None,
                log[-2000:])
        E.check("b: no mediad session left", E.wait_calls(CTL, sock, 0, 5) == 0,
                E.mediad_calls(CTL, sock)[1])
        for k in (kam, kam2):
            E.check("kamailio %s still running" % os.path.basename(k.dir), k.p.poll() is None,
                    k.log()[-1500:])
        E.check("proxy still running", proxy_p.poll() is None)
        ok_all = not E.failures
    finally:
        for p in procs:
            if isinstance(p, Kamailio):
                p.stop()
            else:
                E.stop(p)
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
                print(open(os.path.join(d, "proxy.log"), errors="replace").read()[-4000:])
            except OSError:
                pass
    return 1 if E.failures else 0


if __name__ == "__main__":
    sys.exit(main())
