#!/bin/sh
# meson test 'mediad_offload' (suite kmod): build rampart.ko, then run
# tests/kmod/mediad-offload.sh in the VM (one VM at a time: flock).
#   mediad-offload-run.sh <source root> <kmod build dir> <rampart-mediad> <driver>
# Exit 77 (SKIP, with the reason) when there are no kernel headers or no VM.
set -u
src=$1
out=$2
mediad=$3
drv=$4
if ! make -s -C "$src/kmod" OUT="$out" check-kdir 2>"$out.why"; then
	echo "SKIP: $(head -n 1 "$out.why")"
	exit 77
fi
make -s -C "$src/kmod" OUT="$out" || { echo "FAIL: building rampart.ko"; exit 1; }
: "${RAMPART_VM_TIMEOUT:=600}"
export RAMPART_VM_TIMEOUT
exec flock /tmp/rampart-vm.lock "$src/scripts/vm/run-in-vm.sh" \
	"sh '$src/tests/kmod/mediad-offload.sh' '$out/rampart.ko' '$mediad' '$drv'"
