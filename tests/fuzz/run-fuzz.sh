#!/bin/sh
# run-fuzz.sh FUZZER CORPUS_DIR: a bounded libFuzzer run on a scratch copy of
# the seed corpus (the repository's corpus is never written to). Fails if the
# fuzzer finds a crash, a leak, a timeout or an out-of-memory.
set -eu
fuzzer=$1
seeds=$2
secs=${RAMPART_FUZZ_SECONDS:-30}
rc=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$work/artifacts"
if [ -d "$seeds" ]; then
	cp -r "$seeds"/. "$work/corpus/" 2>/dev/null || true
fi
echo "fuzzing $(basename "$fuzzer") for ${secs}s from $(ls "$work/corpus" | wc -l) seeds"
"$fuzzer" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	-max_len=65536 -print_final_stats=1 \
	-artifact_prefix="$work/artifacts/" "$work/corpus" || rc=$?
if [ -n "$(ls -A "$work/artifacts")" ]; then
	echo "fuzzer left artifacts:" >&2
	for f in "$work/artifacts"/*; do
		echo "== $f" >&2
		od -c "$f" | head -n 40 >&2
	done
	exit 1
fi
exit $rc
