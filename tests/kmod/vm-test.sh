#!/bin/sh
# Runs INSIDE the test VM (via scripts/vm/run-in-vm.sh), as root:
#   vm-test.sh <rampart.ko> <nlclient> <srtptest>
# Loads the module, runs the netlink ABI self test, checks load-time
# validation, capacity and unloading with flows still installed.
set -u
ko=$1
nlc=$2
srtp=$3
fails=0
step() { echo "== $*"; }
ok() { echo "ok - $*"; }
bad() { echo "not ok - $*"; fails=$((fails + 1)); }

step "load-time parameter check"
if insmod "$ko" max_flows=0 2>/dev/null; then
	bad "max_flows=0 accepted"
	rmmod rampart
else
	ok "max_flows=0 refused"
fi
grep -q '^rampart ' /proc/modules && bad "module left loaded after failed init"

step "insmod"
insmod "$ko" || { echo "not ok - insmod $ko"; exit 1; }
ok "insmod"

step "netlink self test"
"$nlc" selftest || bad "nlclient selftest"

step "packet path: plain RTP over IPv4 loopback"
"$nlc" fwdtest || bad "nlclient fwdtest"

step "SRTP in the kernel against libsrtp (every suite, IPv4 loopback)"
"$srtp" check || bad "srtptest check"

step "SRTP again with the CPU's crypto drivers (AES-NI, SHA-1 SSSE3/AVX, CLMUL GHASH)"
# The VM has no udev to load them; the first run used the generic C ones.
if modprobe -q -a aesni_intel sha1_ssse3 ghash_clmulni_intel 2>/dev/null; then
	"$srtp" check >/tmp/srtp-accel.txt 2>&1 || { cat /tmp/srtp-accel.txt; bad "srtptest check (accelerated drivers)"; }
	tail -n 1 /tmp/srtp-accel.txt
else
	echo "# accelerated crypto drivers not available; skipped"
fi

step "packet path: namespaces and veth (caller -> rampart -> callee), RTP and SRTP"
sh "$(dirname "$0")/netns-test.sh" "$nlc" "$srtp" || bad "netns-test"

step "stress: add/update/get/del/dump/flush racing forwarded packets"
"$nlc" stress 3000 || bad "stress"

step "SRTP churn: flows added/updated/deleted/flushed under SRTP traffic"
"$srtp" churn 1500 || bad "srtp churn"

step "unload with flows installed and packets flowing (exit path frees them)"
"$nlc" fill 50 12000 && ok "50 flows added" || bad "fill"
"$nlc" version
"$nlc" udp-send 127.0.0.1 12000 100 &
sender=$!
sleep 1
rmmod rampart && ok "rmmod with 50 flows while forwarding" || bad "rmmod"
wait $sender

step "unload with 50 SRTP->SRTP flows while SRTP packets run through them"
insmod "$ko" || bad "insmod again"
"$srtp" fill 50 13000 && ok "50 SRTP flows added" || bad "srtp fill"
"$srtp" send 13000 20000 2000 &
sender=$!
sleep 2
[ "$("$nlc" packets 127.0.0.1 13000)" -gt 0 ] 2>/dev/null && ok "SRTP flows forwarding" || bad "no SRTP packet forwarded before rmmod"
rmmod rampart && ok "rmmod with 50 SRTP flows while forwarding" || bad "rmmod (SRTP)"
wait $sender

step "capacity"
insmod "$ko" max_flows=8 || bad "insmod max_flows=8"
"$nlc" capacity || bad "capacity"
"$nlc" flush
rmmod rampart && ok "rmmod" || bad "rmmod"

step "family gone after rmmod"
if "$nlc" version 2>/dev/null; then bad "family still answers"; else ok "family gone"; fi

echo "vm-test: $fails failed step(s)"
[ "$fails" -eq 0 ]
