#!/bin/sh
# Run one shell command as root inside a throw-away VM of the Debian kernel.
#
#   scripts/vm/run-in-vm.sh "<command>"
#
# The guest sees the host's whole filesystem (9p, read-only) under a tmpfs
# overlay, so the command runs the host's binaries in the host's current
# directory, and anything it writes vanishes with the VM.  qemu uses software
# emulation (TCG): the build machines cannot load modules and their /dev/kvm
# does not boot stock kernels.
#
# Prints the command's output (stdout and stderr together), then one verdict
# line.  Exit status:
#   0   the command exited 0, the kernel logged no WARN/BUG/oops/panic/
#       sanitizer report and is not tainted beyond O (out-of-tree) and
#       E (unsigned module);
#   77  skipped: qemu or the kernel image is unusable here (SKIP: line), or
#       the command itself exited 77;
#   1   anything else (the kernel log is printed).
#
# Environment: RAMPART_VM_TIMEOUT (seconds, default 300), RAMPART_VM_SMP (1:
# with 2 vCPUs, multi-threaded TCG on a busy 2-core host has starved a vCPU
# into RCU stalls and a hung guest; use 2 for SMP coverage on a quiet host),
# RAMPART_VM_MEM (MiB, 1024), RAMPART_VM_CPU (qemu CPU model, default max;
# e.g. Nehalem has no AES-NI and no AVX: docs/tls.md), RAMPART_VM_VERBOSE=1
# (print the whole serial log), RAMPART_VM_CACHE (see setup-vm.sh),
# RAMPART_VM_APPEND (extra kernel command line; default slub_debug=FZPU: SLUB
# poisoning and red zones catch use-after-free and overflows in the module's
# allocations).  PATH,
# RAMPART_* and [AUL]SAN_OPTIONS are passed on to the command.
set -u

here=$(cd "$(dirname "$0")" && pwd)
. "$here/vm-lib.sh"

if [ $# -ne 1 ] || [ -z "$1" ]; then
	echo "usage: $0 \"<command>\"" >&2
	exit 2
fi

qemu=$(command -v qemu-system-x86_64 || true)
[ -n "$qemu" ] || vm_skip "qemu-system-x86_64 not installed (run scripts/vm/setup-vm.sh)"

setup_out=$("$here/setup-vm.sh" --no-install)
rc=$?
if [ $rc -eq 77 ]; then
	echo "$setup_out" | grep '^SKIP:'
	exit 77
elif [ $rc -ne 0 ]; then
	echo "$setup_out"
	echo "FAIL: setup-vm.sh exited $rc"
	exit 1
fi
img=$(echo "$setup_out" | tail -n 1)
[ -s "$img/vmlinux" ] && [ -s "$img/initramfs.cpio.gz" ] ||
	vm_skip "no kernel/initramfs in '$img'"

# The guest reads the command from the host's /tmp through 9p.
work=$(mktemp -d /tmp/rampart-vm.XXXXXX) || exit 1
trap 'rm -rf "$work"' EXIT INT TERM
printf '%s\n' "$1" >"$work/cmd"
pwd >"$work/cwd"
export -p | grep -E '^export (PATH|RAMPART_[A-Za-z0-9_]*|[AUL]SAN_OPTIONS)=' >"$work/env" || true
echo "export RAMPART_IN_VM=1" >>"$work/env"
chmod -R a+rX "$work"
log=$work/serial.log

# TCG is CPU-heavy and build machines are small: one VM at a time.
exec 8>"$(dirname "$img")/vm.lock"
if ! flock -w 900 8; then
	echo "FAIL: waited 900 s for another VM to finish ($(dirname "$img")/vm.lock)"
	exit 1
fi

tmo=${RAMPART_VM_TIMEOUT:-300}
# RAMPART_VM_ICOUNT=N: the guest's clock counts instructions (2^N ns each)
# instead of following the host's: CPU times measured inside then no longer
# move with the host's load (benchmarks; tests keep the real clock).
icount=
[ -n "${RAMPART_VM_ICOUNT:-}" ] && icount="-icount shift=$RAMPART_VM_ICOUNT,sleep=on"
timeout -k 10 "$tmo" "$qemu" \
	-accel tcg -machine pc -cpu "${RAMPART_VM_CPU:-max}" $icount \
	-smp "${RAMPART_VM_SMP:-1}" -m "${RAMPART_VM_MEM:-1024}" \
	-nodefaults -no-user-config -display none -no-reboot \
	-kernel "$img/vmlinux" -initrd "$img/initramfs.cpio.gz" \
	-append "console=ttyS0 quiet panic=-1 rcupdate.rcu_cpu_stall_timeout=60 ${RAMPART_VM_APPEND-slub_debug=FZPU} RAMPART_VM_DIR=$work" \
	-serial "file:$log" \
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
	>"$work/qemu.out" 2>&1 </dev/null
qrc=$?
exec 8>&-

tr -d '\r' <"$log" >"$work/serial.txt" 2>/dev/null || : >"$work/serial.txt"
s=$work/serial.txt
[ "${RAMPART_VM_VERBOSE:-0}" = 1 ] && cat "$s"

if ! [ -s "$s" ] && [ $qrc -ne 124 ] && [ $qrc -ne 137 ]; then
	# Nothing from the kernel at all: qemu itself could not run here. (A
	# time limit that struck first, on a loaded host, is a timeout below.)
	vm_skip "qemu exited $qrc before the kernel printed anything: $(head -c 400 "$work/qemu.out" | tr '\n' ' ')"
fi

# The command's output: between the BEGIN and DMESG markers.
sed -n '/^@@RAMPART-VM-BEGIN@@$/,/^@@RAMPART-VM-DMESG@@$/p' "$s" | sed '1d;$d'

end=$(grep -o '@@RAMPART-VM-END rc=[0-9]* taint=[0-9]*@@' "$s" | tail -n 1)
why=
if [ $qrc -eq 124 ] || [ $qrc -eq 137 ]; then
	why="timed out after ${tmo}s"
elif grep -q '@@RAMPART-VM-ERROR' "$s"; then
	why="VM init: $(grep -o '@@RAMPART-VM-ERROR.*@@' "$s" | head -n 1)"
elif [ -z "$end" ]; then
	why="VM stopped before the command finished (qemu exit $qrc)"
fi

# Kernel trouble anywhere: live console lines or the dmesg dump.
bad_re='WARNING:|BUG:|BUG [A-Za-z0-9_:-]+ \(|Oops|Kernel panic|general protection fault|kernel BUG at|UBSAN:|KASAN:|refcount_t:|list_add corruption|list_del corruption|detected stalls? on CPUs|blocked for more than|Call Trace:'
kbad=$(grep -v '^@@RAMPART' "$s" | sed -n '/^@@RAMPART-VM-BEGIN@@$/,/^@@RAMPART-VM-DMESG@@$/!p' |
	grep -E "$bad_re" | head -n 5)
kbad=$(sed -n '/^@@RAMPART-VM-DMESG@@$/,$p' "$s" | grep -E "$bad_re" | head -n 5)${kbad:+
$kbad}

crc=255 taint=0
if [ -n "$end" ]; then
	crc=$(echo "$end" | sed 's/.*rc=\([0-9]*\).*/\1/')
	taint=$(echo "$end" | sed 's/.*taint=\([0-9]*\).*/\1/')
fi
# Bits 12 (O, out-of-tree module) and 13 (E, unsigned module) are expected.
badtaint=$((taint & ~(4096 | 8192)))

if [ -z "$why" ] && [ -n "$kbad" ]; then
	why="kernel reported a problem: $(echo "$kbad" | head -n 1)"
fi
if [ -z "$why" ] && [ $badtaint -ne 0 ]; then
	why="kernel tainted (/proc/sys/kernel/tainted=$taint, unexpected bits $badtaint)"
fi

if [ -n "$why" ]; then
	if [ "${RAMPART_VM_VERBOSE:-0}" != 1 ]; then
		echo "---- VM serial log (last 120 lines) ----"
		tail -n 120 "$s"
		echo "---- qemu ----"
		head -c 2000 "$work/qemu.out"
	fi
	echo "FAIL: $why"
	exit 1
fi
if [ "$crc" -eq 77 ]; then
	echo "SKIP: command exited 77 in the VM"
	exit 77
fi
if [ "$crc" -ne 0 ]; then
	echo "FAIL: command exited $crc in the VM (kernel clean, taint=$taint)"
	exit 1
fi
echo "PASS: command exited 0 in the VM (kernel clean, taint=$taint)"
exit 0
