#!/bin/sh
# Runs INSIDE the test VM (scripts/vm/run-in-vm.sh), as root:
#   mediad-offload.sh <rampart.ko> <rampart-mediad> <mediad_offload_test>
# rampart-mediad with the kernel fast path: offload with the module loaded
# (kernel = auto), the same traffic with kernel = off, header checks on
# offloaded flows, rmmod mid-stream, and kernel = required without the
# module.
set -u
ko=$1
mediad=$2
drv=$3
fails=0
dir=$(mktemp -d /tmp/mediad-kmod.XXXXXX)
step() { echo "== $*"; }
ok() { echo "ok - $*"; }
bad() { echo "not ok - $*"; fails=$((fails + 1)); }

# start <kernel mode>: rampart-mediad on a fresh control socket, one worker.
start() {
	sock=$dir/m-$1.sock
	cat >"$dir/m.conf" <<CONF
listen = 127.0.0.1
ports = 30000-30200
workers = 1
kernel = $1
control = $sock
log-level = info
CONF
	"$mediad" --config "$dir/m.conf" >"$dir/log-$1" 2>&1 &
	pid=$!
}
stop() {
	kill "$pid" 2>/dev/null
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	sed 's/^/  mediad: /' "$dir/log-$1"
}

step "insmod"
insmod "$ko" || { echo "not ok - insmod $ko"; exit 1; }
ok "insmod"

step "kernel = auto with the module: offload, summed counters, leg.update, delete"
start auto
"$drv" "$sock" offload || bad "offload"
stop auto
grep -q "fast path on" "$dir/log-auto" && ok "mediad logged the fast path" || bad "no 'fast path on' log"

step "kernel = off: the same traffic, userspace only, byte-exact"
start off
"$drv" "$sock" off || bad "kernel=off"
stop off

step "media timeouts count the module's packets"
start auto
"$drv" "$sock" timeout || bad "timeout"
stop auto

step "header checks on offloaded flows: plain, SRTP->RTP, RTP->SRTP (AES-CM, AES-GCM)"
start auto
"$drv" "$sock" malformed || bad "malformed"
stop auto

step "rmmod mid-stream: mediad carries on in userspace"
start auto
"$drv" "$sock" rmmod || bad "rmmod"
stop auto
grep -q "module gone" "$dir/log-auto" && ok "mediad logged the take-back" || bad "no 'module gone' log"

step "SRTP in the kernel: SRTP->RTP across a ROC wrap, RTP->SRTP, rmmod mid-stream"
grep -q '^rampart ' /proc/modules || insmod "$ko" || bad "insmod again"
start auto
"$drv" "$sock" srtp || bad "srtp"
stop auto

step "SRTP state in sync: 70,000 packets each way in the kernel, handed-up packets, leg.update, rmmod"
grep -q '^rampart ' /proc/modules || insmod "$ko" || bad "insmod again"
start auto
"$drv" "$sock" resync || bad "resync"
stop auto

step "kernel = required without the module refuses to start"
grep -q '^rampart ' /proc/modules && rmmod rampart
"$mediad" --kernel required --control "$dir/req.sock" >"$dir/log-req" 2>&1 &
rpid=$!
i=0
while kill -0 "$rpid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 "$rpid" 2>/dev/null; then
	kill -9 "$rpid"; wait "$rpid" 2>/dev/null
	bad "kernel=required kept running without the module"
else
	wait "$rpid"; rc=$?
	sed 's/^/  mediad: /' "$dir/log-req"
	[ "$rc" -ne 0 ] && ok "exit status $rc" || bad "exit status 0"
	grep -q "kernel = required but the rampart module is not loaded" "$dir/log-req" &&
		ok "clear error" || bad "no clear error"
fi

echo "mediad-offload: $fails failed step(s)"
[ "$fails" -eq 0 ]
