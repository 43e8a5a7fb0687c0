#!/bin/sh
# meson test (suite 'kmod'): build rampart.ko against the Debian kernel the
# VM boots, then run tests/kmod/vm-test.sh inside the VM.
#   run-kmod-test.sh <source root> <kmod build dir> <nlclient> <srtptest>
# Exit 77 (SKIP, with the reason) when there are no kernel headers or the
# VM cannot run here.
set -u
src=$1
out=$2
nlc=$3
srtp=$4
if ! make -s -C "$src/kmod" OUT="$out" check-kdir 2>"$out.why"; then
	echo "SKIP: $(head -n 1 "$out.why")"
	exit 77
fi
make -s -C "$src/kmod" OUT="$out" || { echo "FAIL: building rampart.ko"; exit 1; }
# Busy 2-core machines run TCG slowly: the test takes ~20 s when idle and
# close to 900 s with ~20 runnable tasks on 2 cores (waiting for another VM's
# lock comes on top); meson allows 1800.
: "${RAMPART_VM_TIMEOUT:=1500}"
export RAMPART_VM_TIMEOUT
# One VM at a time across developers' and parallel meson runs (TCG on 2 cores).
exec flock /tmp/rampart-vm.lock "$src/scripts/vm/run-in-vm.sh" \
	"sh '$src/tests/kmod/vm-test.sh' '$out/rampart.ko' '$nlc' '$srtp'"
