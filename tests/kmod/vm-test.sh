#!/bin/sh
# Runs INSIDE the test VM (via scripts/vm/run-in-vm.sh), as root:
#   vm-test.sh <rampart.ko> <nlclient>
# Loads the module, runs the netlink ABI self test, checks load-time
# validation, capacity and unloading with flows still installed.
set -u
ko=$1
nlc=$2
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

step "packet path: namespaces and veth (caller -> rampart -> callee)"
sh "$(dirname "$0")/netns-test.sh" "$nlc" || bad "netns-test"

step "stress: add/update/get/del/dump/flush racing forwarded packets"
"$nlc" stress 3000 || bad "stress"

step "unload with flows installed and packets flowing (exit path frees them)"
"$nlc" fill 50 12000 && ok "50 flows added" || bad "fill"
"$nlc" version
"$nlc" udp-send 127.0.0.1 12000 100 &
sender=$!
sleep 1
rmmod rampart && ok "rmmod with 50 flows while forwarding" || bad "rmmod"
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
