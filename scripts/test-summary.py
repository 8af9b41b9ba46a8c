#!/usr/bin/env python3
"""Counts the GoogleTest cases and Meson tests that ran and prints one closing line: 'N passed, N failed'.

A Meson test that reported SKIP (exit 77: its tools or its peer could not be had) fails the summary (exit 1), since
a suite CI means to run must not pass by not running. A skip is accepted only when asked for by name:
NVMF_SKIP_<NAME>=1 in the environment, NAME being the test's name or one of its suites, upper-cased with every
other character than a letter or digit turned into '_' (NVMF_SKIP_INTEROP=1, NVMF_SKIP_FUZZ=1,
NVMF_SKIP_FUNCTIONAL_FIO_ENGINE=1). GoogleTest cases skipped inside a binary are listed, not failed.
"""
import json, os, re, sys


def suites_and_name(pretty):
    """Meson logs 'project:suite1+suite2 / name' (or only 'name' when the project has a single suite)."""
    if " / " not in pretty:
        return [], pretty
    head, name = pretty.split(" / ", 1)
    suites = head.split(":", 1)[1].split("+") if ":" in head else []
    return suites, name


def skip_allowed(pretty):
    suites, name = suites_and_name(pretty)
    for word in [name] + suites:
        if os.environ.get("NVMF_SKIP_" + re.sub(r"[^A-Z0-9]", "_", word.upper())) == "1":
            return True
    return False


passed = failed = skipped = 0
refused_skips, gtest_skips, failures = [], [], []
for path in sys.argv[1:]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        continue
    for line in lines:
        t = json.loads(line)
        out = t.get("stdout") or ""
        if t["result"] == "SKIP" and not skip_allowed(t["name"]):
            reason = next((l for l in out.splitlines() if "SKIP" in l), "no reason printed")
            refused_skips.append(f"{t['name']} ({path}): {reason.strip()}")
        # A GoogleTest binary reports each case; count those, else count the Meson test itself.
        ok = len(re.findall(r"^\[       OK \]", out, re.M))
        bad = len(re.findall(r"^\[  FAILED  \] .*\(\d+ ms\)", out, re.M))
        skip_cases = re.findall(r"^\[  SKIPPED \] (.*) \(\d+ ms\)", out, re.M)
        gtest_skips += skip_cases
        failures += [f"{t['name']} ({path}): {case}"
                     for case in re.findall(r"^\[  FAILED  \] (.*) \(\d+ ms\)", out, re.M)]
        skip = len(skip_cases)
        if ok or bad or skip:
            passed, failed, skipped = passed + ok, failed + bad, skipped + skip
            if t["result"] not in ("OK", "SKIP") and not bad:
                failed += 1  # the binary itself failed (crash, sanitizer report) after its cases
                failures.append(f"{t['name']} ({path}): {t['result']} after its cases")
        elif t["result"] == "OK":
            passed += 1
        elif t["result"] == "SKIP":
            skipped += 1
        else:
            failed += 1
            failures.append(f"{t['name']} ({path}): {t['result']}")
for case in sorted(set(gtest_skips)):
    print(f"skipped case: {case}")
for f in failures:
    print(f"FAILED: {f}")
for s in refused_skips:
    print(f"SKIPPED, which CI does not accept (set NVMF_SKIP_<TEST or SUITE>=1 to skip on purpose): {s}")
print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if refused_skips else 0)
