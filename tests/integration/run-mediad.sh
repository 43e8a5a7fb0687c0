#!/bin/sh
# Starts rampart-mediad on a temp control socket and a small port range that
# is free when it starts (bind-probed: tests/tools/testports.py), runs
# mtraffic against it, stops it.
# usage: run-mediad.sh MEDIAD MTRAFFIC ENGINE [mtraffic args...]
set -u
mediad=$1; mtraffic=$2; engine=$3; shift 3
dir=$(mktemp -d /tmp/rampart-mediad-test.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

for attempt in 1 2 3; do
	# 48 ports: 12 sessions without rtcp-mux, so exhaustion is quick to reach.
	lo=$(python3 "$(dirname "$0")/../tools/testports.py" 48) || exit 1
	cat > "$dir/mediad.conf" <<CONF
# mtraffic test configuration
listen = 127.0.0.1
ports = $lo-$((lo + 47))
workers = 2
engine = $engine
media-timeout = 60
delete-timeout = 120
control = $dir/mediad.sock
log-level = notice
CONF
	"$mediad" --config "$dir/mediad.conf" 2>"$dir/mediad.log" &
	pid=$!
	i=0
	while [ $i -lt 50 ] && [ ! -S "$dir/mediad.sock" ] && kill -0 "$pid" 2>/dev/null; do
		sleep 0.1; i=$((i + 1))
	done
	if [ -S "$dir/mediad.sock" ]; then
		break
	fi
	echo "attempt $attempt: mediad did not start:"; cat "$dir/mediad.log"
	kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=
	# io_uring forced on a kernel that refuses it (old, io_uring_disabled,
	# seccomp): the fallback engine's test still runs; this one skips.
	if [ "$engine" = io_uring ] && grep -q "cannot start the io_uring engine" "$dir/mediad.log"; then
		echo "SKIP: io_uring is not available here"
		exit 77
	fi
done
[ -n "$pid" ] || exit 1
grep -q "engine $engine" "$dir/mediad.log" || { echo "wrong engine:"; cat "$dir/mediad.log"; exit 1; }

"$mtraffic" --control "$dir/mediad.sock" --exhaust "$@"
rc=$?
if ! kill -0 "$pid" 2>/dev/null; then
	echo "mediad died during the test"; rc=1
fi
kill "$pid"; wait "$pid"; st=$?; pid=
[ $st -eq 0 ] || { echo "mediad exit status $st"; rc=1; }
if [ $rc -ne 0 ]; then echo "--- mediad log"; cat "$dir/mediad.log"; fi
exit $rc
