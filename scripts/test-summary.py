#!/usr/bin/env python3
"""Adds up meson's testlog.json of several build directories into one line:
'tests: N passed, N failed, N skipped'. Exit 1 if any test failed or if no
test ran at all."""
import json
import os
import sys

passed = failed = skipped = 0
failures = []
for d in sys.argv[1:]:
    path = os.path.join(d, "meson-logs", "testlog.json")
    if not os.path.exists(path):
        print(f"test-summary: {path} missing", file=sys.stderr)
        failed += 1
        failures.append(f"{d}: no test log")
        continue
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            t = json.loads(line)
            r = t.get("result", "")
            name = f"{d}:{t.get('name')}"
            if r == "OK" or r == "EXPECTEDFAIL":
                passed += 1
            elif r == "SKIP":
                skipped += 1
                print(f"SKIP {name}")
            else:
                failed += 1
                failures.append(f"{name} ({r})")
for f in failures:
    print(f"FAILED {f}")
print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or passed == 0 else 0)
