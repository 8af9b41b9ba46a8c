#!/usr/bin/env python3
"""Counts the GoogleTest cases and Meson tests that ran and prints one closing line: 'N passed, N failed'."""
import json, re, sys

passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        continue
    for line in lines:
        t = json.loads(line)
        out = t.get("stdout") or ""
        # A GoogleTest binary reports each case; count those, else count the Meson test itself.
        ok = len(re.findall(r"^\[       OK \]", out, re.M))
        bad = len(re.findall(r"^\[  FAILED  \] .*\(\d+ ms\)", out, re.M))
        skip = len(re.findall(r"^\[  SKIPPED \] .*\(\d+ ms\)", out, re.M))
        if ok or bad or skip:
            passed, failed, skipped = passed + ok, failed + bad, skipped + skip
            if t["result"] not in ("OK", "SKIP") and not bad:
                failed += 1  # the binary itself failed (crash, sanitizer report) after its cases
        elif t["result"] == "OK":
            passed += 1
        elif t["result"] == "SKIP":
            skipped += 1
        else:
            failed += 1
print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
