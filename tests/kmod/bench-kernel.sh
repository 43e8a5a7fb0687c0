#!/bin/sh
# bench-kernel.sh <build dir>: SRTP->RTP (AES_CM_128_HMAC_SHA1_80) packets
# per CPU-second through rampart.ko versus through rampart-mediad's
# userspace path, both in one VM run (TCG: absolute numbers mean nothing,
# the ratio is the figure). Prints
#   bench: kernel_vs_userspace_pkts ratio=<r>
# plus info lines. Exit 77 (SKIP) without qemu / kernel headers.
#
# Userspace: mediad (1 worker) with 50 sessions created over its control
# socket, driven by tests/integration/mtraffic --bench, which reports the
# daemon's packets per CPU-second (its utime + stime).
# Kernel: srtptest bench: 50 flows, packets protected by libsrtp
# beforehand; the machine's busy CPU time forwarding them minus the busy
# time of sending the same packets to be dropped at the hook (what the
# sender and the receive path cost either way). The VM boots without
# slub_debug (the harness's default for tests): a production kernel has
# none, and its per-allocation checks and stack traces cost the two paths
# differently (mediad's path allocates and frees an skb per packet, the
# kernel's reuses the one it received).
# The two alternate, mediad first: ROUNDS (default 3) runs of each; the
# ratio is the median of the kernel's runs over the median of mediad's.
# The guest's clock counts instructions (RAMPART_VM_ICOUNT, default 3: 8 ns
# each; empty: the host's clock), so a CPU-second in the guest is a fixed
# number of instructions whatever the host's load.
# docs/kmod.md, "Benchmark", says what is counted on each side.
set -u
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
out=$build/tests/kmod/kmod-obj
srtp=$build/tests/kmod/srtptest
mediad=$build/mediad/rampart-mediad
mtraffic=$build/tests/integration/mtraffic
for x in "$srtp" "$mediad" "$mtraffic"; do
	[ -x "$x" ] || { echo "bench kernel: $x not built" >&2; exit 1; }
done
if ! make -s -C "$src/kmod" OUT="$out" check-kdir 2>"$out.why"; then
	echo "SKIP: $(head -n 1 "$out.why")"
	exit 77
fi
make -s -C "$src/kmod" OUT="$out" >/dev/null 2>&1 || { echo "bench kernel: building rampart.ko failed" >&2; exit 1; }

rounds=${ROUNDS:-3}
icount=${RAMPART_VM_ICOUNT-3}
case $rounds in ''|*[!0-9]*|0) echo "bench kernel: ROUNDS must be a positive number" >&2; exit 2 ;; esac

inner=$(mktemp /tmp/rampart-bench-kernel.XXXXXX)
trap 'rm -f "$inner"' EXIT INT TERM
cat >"$inner" <<EOF
set -u
dir=\$(mktemp -d)
cat >"\$dir/mediad.conf" <<CONF
listen = 127.0.0.1
ports = 30000-30399
workers = 1
media-timeout = 60
delete-timeout = 120
control = \$dir/mediad.sock
log-level = notice
CONF
"$mediad" --config "\$dir/mediad.conf" 2>"\$dir/mediad.log" &
pid=\$!
i=0
while [ \$i -lt 100 ] && [ ! -S "\$dir/mediad.sock" ]; do sleep 0.1; i=\$((i + 1)); done
# ROUNDS x (mediad, kernel), alternating: a drift hits both sides alike.
# A real host's udev loads the CPU's crypto drivers (the VM has no udev):
# without them the kernel would run generic C AES/SHA-1 against OpenSSL's
# AES-NI in mediad. Loaded before rampart.ko so the flows pick them.
modprobe -q -a aesni_intel sha1_ssse3 ghash_clmulni_intel 2>/dev/null
grep -E '^driver' /proc/crypto | grep -E -m 3 'aesni|sha1-(ssse3|avx)' | sed 's/^/kernel crypto /'
r=0
while [ \$r -lt $rounds ]; do
	"$mtraffic" --control "\$dir/mediad.sock" --bench \$pid --sessions 50 --seconds 8 \
		--suite AES_CM_128_HMAC_SHA1_80 >"\$dir/u.txt" 2>&1
	cat "\$dir/u.txt"
	sed -n 's/.* \([0-9.]*\) pkts per CPU-second.*/\1/p' "\$dir/u.txt" >>"\$dir/user.txt"
	insmod "$out/rampart.ko" || exit 1
	"$srtp" bench 50 100000 >"\$dir/k.txt" 2>&1 || { cat "\$dir/k.txt"; exit 1; }
	rmmod rampart
	cat "\$dir/k.txt"
	sed -n 's/.* \([0-9.]*\) pkts per CPU-second.*/\1/p' "\$dir/k.txt" >>"\$dir/kern.txt"
	r=\$((r + 1))
done
kill \$pid; wait \$pid
med() { sort -n "\$1" | awk '{ v[NR] = \$1 } END { if (NR) printf "%.0f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
u=\$(med "\$dir/user.txt")
k=\$(med "\$dir/kern.txt")
[ -n "\$u" ] && [ -n "\$k" ] || { echo "bench kernel: no figure"; exit 1; }
echo "RUNS mediad \$(tr '\n' ' ' <"\$dir/user.txt")kernel \$(tr '\n' ' ' <"\$dir/kern.txt")"
echo "RESULT \$k \$u"
EOF
res=$(RAMPART_VM_APPEND=${RAMPART_VM_APPEND-} RAMPART_VM_TIMEOUT=${RAMPART_VM_TIMEOUT:-1500} \
	RAMPART_VM_ICOUNT=$icount \
	flock /tmp/rampart-vm.lock \
	"$src/scripts/vm/run-in-vm.sh" "sh $inner" 2>&1)
rc=$?
echo "$res" | grep -E '^(bench |kernel|RUNS )' | sed 's/^/info: /'
if [ $rc -eq 77 ]; then echo "$res" | grep '^SKIP'; exit 77; fi
line=$(echo "$res" | grep '^RESULT ' | tail -n 1)
if [ $rc -ne 0 ] || [ -z "$line" ]; then
	echo "$res" | tail -n 40 >&2
	echo "bench kernel: the VM run failed" >&2
	exit 1
fi
set -- $line
echo "info: medians: kernel $2 pkts per CPU-second, mediad (userspace) $3 pkts per CPU-second${icount:+ (guest clock: 2^$icount ns per instruction)}"
awk -v k="$2" -v u="$3" 'BEGIN { printf "bench: kernel_vs_userspace_pkts ratio=%.2f\n", (u > 0 ? k / u : 0) }'
