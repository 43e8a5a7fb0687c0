#!/bin/sh
# meson test (suite 'kmod'): does scripts/vm/run-in-vm.sh tell good runs
# from bad ones? One VM boot per case (~6 s each under TCG).
#   harness-selftest.sh <source root>
set -u
vm=$1/scripts/vm/run-in-vm.sh
pass=0 fail=0

expect() { # expect RC DESCRIPTION COMMAND [OUTPUT-SUBSTRING]
	want=$1 what=$2 cmd=$3 grepfor=${4:-}
	# The shared lock: one VM at a time with other developers' runs.
	out=$(flock /tmp/rampart-vm.lock "$vm" "$cmd" 2>&1)
	rc=$?
	if [ $rc -eq 77 ] && [ "$want" != 77 ]; then
		echo "$out" | grep '^SKIP:'
		exit 77
	fi
	if [ $rc -eq "$want" ] && { [ -z "$grepfor" ] || echo "$out" | grep -qF -- "$grepfor"; }; then
		echo "ok - $what (exit $rc)"
		pass=$((pass + 1))
	else
		echo "not ok - $what (exit $rc, wanted $want)"
		echo "$out" | tail -n 20 | sed 's/^/    /'
		fail=$((fail + 1))
	fi
}

expect 0 "success, output passed through, taint O|E alone is fine" \
	'echo marker-$((6*7)); echo 12288 >/proc/sys/kernel/tainted' "marker-42"
expect 1 "command failure" 'exit 3' "command exited 3"
expect 77 "command skip" 'exit 77'
expect 1 "kernel WARN in the log" \
	'echo "<4>WARNING: CPU: 0 PID: 1 at rampart-harness-selftest" >/dev/kmsg' "kernel reported a problem"
expect 1 "SLUB debug report in the log" \
	'echo "<3>BUG kmalloc-64 (Not tainted): Poison overwritten" >/dev/kmsg' "kernel reported a problem"
expect 1 "taint beyond O/E (W)" 'echo 512 >/proc/sys/kernel/tainted' "tainted"
RAMPART_VM_TIMEOUT=20 expect 1 "time limit" 'sleep 600' "timed out"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
