#!/bin/sh
# Runs INSIDE the test VM with rampart.ko loaded:
#   netns-test.sh <nlclient> [<srtptest>]
# A caller and a callee namespace hang off the root namespace by veth pairs;
# the root namespace does not route (ip_forward=0), so RTP gets from caller
# to callee only if rampart.ko relays it. Addresses are RFC 5737
# documentation ranges; the VM has no network card, nothing leaves it.
#
#   rp-caller 198.51.100.1 --veth-- 198.51.100.2 [root: rampart] 203.0.113.2 --veth-- 203.0.113.1 rp-callee
set -u
nlc=$1
srtp=${2:-}
fails=0
ok() { echo "ok - $*"; }
bad() { echo "not ok - $*"; fails=$((fails + 1)); }

cleanup() {
	ip netns del rp-caller 2>/dev/null
	ip netns del rp-callee 2>/dev/null
	ip link del rp-r0 2>/dev/null
	ip link del rp-r1 2>/dev/null
}
cleanup
set -e
ip netns add rp-caller
ip netns add rp-callee
ip link add rp-r0 type veth peer name rp-c0
ip link add rp-r1 type veth peer name rp-e0
ip link set rp-c0 netns rp-caller
ip link set rp-e0 netns rp-callee
ip addr add 198.51.100.2/24 dev rp-r0
ip addr add 203.0.113.2/24 dev rp-r1
ip link set rp-r0 up
ip link set rp-r1 up
ip -n rp-caller addr add 198.51.100.1/24 dev rp-c0
ip -n rp-caller link set rp-c0 up
ip -n rp-caller link set lo up
ip -n rp-callee addr add 203.0.113.1/24 dev rp-e0
ip -n rp-callee link set rp-e0 up
ip -n rp-callee link set lo up
sysctl -qw net.ipv4.ip_forward=0
set +e

# relay NAME COUNT: the callee waits for COUNT packets while the caller sends
# COUNT; prints the receiver's summary line. Returns the receiver's status.
relay() {
	out=/tmp/rp-recv.$$
	ip netns exec rp-callee "$nlc" udp-recv 203.0.113.1 50000 "$2" 8 >"$out" 2>&1 &
	pid=$!
	i=0
	while ! grep -q listening "$out" 2>/dev/null && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	ip netns exec rp-caller "$nlc" udp-send 198.51.100.2 30000 "$2"
	wait $pid
	rc=$?
	tail -n 1 "$out"
	rm -f "$out"
	return $rc
}

csum_errors() { # namespace
	ip netns exec "$1" awk '/^Udp:/ { if (!h) { for (i = 1; i <= NF; i++) if ($i == "InCsumErrors") c = i; h = 1 } else print $c }' /proc/net/snmp
}

# Control: without a flow nothing crosses.
if relay none 1 >/dev/null; then bad "packets crossed without a flow"; else ok "no flow: nothing crosses (root ns does not route)"; fi

"$nlc" add-flow 198.51.100.2 30000 198.51.100.1 203.0.113.2 40000 203.0.113.1 50000 ||
	bad "add-flow"
line=$(relay offload 20)
rc=$?
echo "   $line"
[ $rc -eq 0 ] && echo "$line" | grep -q 'from 203.0.113.2:40000' &&
	ok "20 RTP packets relayed caller -> callee, from OUT_SRC (veth offloads on)" ||
	bad "relay with offloads"

if command -v ethtool >/dev/null 2>&1 &&
	ip netns exec rp-caller ethtool -K rp-c0 tx off >/dev/null 2>&1; then
	line=$(relay swcsum 20)
	rc=$?
	echo "   $line"
	[ $rc -eq 0 ] && [ "$(csum_errors rp-callee)" = 0 ] &&
		ok "20 more relayed with software checksums, verified by the callee" ||
		bad "relay with software checksums (callee InCsumErrors $(csum_errors rp-callee))"
	want=40
else
	echo "skip - ethtool missing: software-checksum case not run"
	want=20
fi
n=$("$nlc" packets 198.51.100.2 30000)
[ "$n" = "$want" ] && ok "PACKETS counter $n" || bad "PACKETS counter $n, wanted $want"

# SRTP across the namespaces: SRTP->RTP, RTP->SRTP and SRTP->SRTP with a new
# key (AES_CM_128_HMAC_SHA1_80), every payload checked by the callee (after
# libsrtp's unprotect where rampart protects), first with the veth's
# checksum offload on, then off on the root's side toward the callee: then
# the UDP checksum rampart leaves to the device (CHECKSUM_PARTIAL) is
# completed in software and verified by the callee's UDP stack.
# srelay MODE LPORT DPORT SEQ0
srelay() {
	out=/tmp/rp-srecv.$$
	ip netns exec rp-callee "$srtp" veth-recv 203.0.113.1 "$3" 20 "$4" 8 "$1" >"$out" 2>&1 &
	pid=$!
	i=0
	while ! grep -q listening "$out" 2>/dev/null && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	ip netns exec rp-caller "$srtp" veth-send 198.51.100.2 "$2" 20 "$4" "$1"
	wait $pid
	rc=$?
	tail -n 1 "$out"
	rm -f "$out"
	return $rc
}
if [ -n "$srtp" ]; then
	for m in in:30002:50002 out:30004:50004 both:30006:50006; do
		mode=${m%%:*}; rest=${m#*:}; lp=${rest%%:*}; dp=${rest#*:}
		"$srtp" veth-flow 198.51.100.2 "$lp" 203.0.113.2 40002 203.0.113.1 "$dp" "$mode" ||
			bad "SRTP veth-flow $mode"
		line=$(srelay "$mode" "$lp" "$dp" 0)
		rc=$?
		echo "   $line"
		[ $rc -eq 0 ] && echo "$line" | grep -q 'received 20 exact 20 from 203.0.113.2:40002' &&
			ok "SRTP $mode: 20 packets relayed caller -> callee, every one exact" ||
			bad "SRTP $mode relay"
	done
	if command -v ethtool >/dev/null 2>&1 && ethtool -K rp-r1 tx off >/dev/null 2>&1; then
		before=$(csum_errors rp-callee)
		for m in in:30002:50002 out:30004:50004 both:30006:50006; do
			mode=${m%%:*}; rest=${m#*:}; lp=${rest%%:*}; dp=${rest#*:}
			line=$(srelay "$mode" "$lp" "$dp" 20)
			rc=$?
			echo "   $line"
			[ $rc -eq 0 ] && echo "$line" | grep -q 'received 20 exact 20' &&
				ok "SRTP $mode: 20 more with software UDP checksums on the way out" ||
				bad "SRTP $mode relay with software checksums"
		done
		[ "$(csum_errors rp-callee)" = "$before" ] &&
			ok "the callee's UDP stack verified every SRTP-path checksum (InCsumErrors $before)" ||
			bad "callee InCsumErrors $(csum_errors rp-callee) (was $before)"
		swant=40
	else
		echo "skip - ethtool missing: SRTP software-checksum case not run"
		swant=20
	fi
	for lp in 30002 30004 30006; do
		n=$("$nlc" packets 198.51.100.2 $lp)
		[ "$n" = "$swant" ] && ok "SRTP flow :$lp PACKETS counter $n" ||
			bad "SRTP flow :$lp PACKETS counter $n, wanted $swant"
	done
else
	echo "skip - no srtptest given: SRTP over veth not run"
fi

"$nlc" flush >/dev/null
cleanup
echo "netns-test: $fails failed"
[ $fails -eq 0 ]
