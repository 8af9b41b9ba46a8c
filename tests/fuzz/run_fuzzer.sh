#!/usr/bin/env bash
# One harness of the fuzz suite: replay the kept regression inputs, then fuzz for NVMF_FUZZ_SECONDS (default 60)
# starting from the seed corpus. New inputs go to a scratch directory, never into the source tree; a crash, leak,
# timeout or sanitizer report leaves its input in ARTIFACTS_DIR and fails the test.
# Usage: run_fuzzer.sh HARNESS NAME CORPUS_DIR REGRESSIONS_DIR ARTIFACTS_DIR MAX_LEN
set -euo pipefail
harness=$1 name=$2 corpus=$3 regressions=$4 artifacts=$5 max_len=$6
seconds=${NVMF_FUZZ_SECONDS:-60}
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1
export UBSAN_OPTIONS=${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}halt_on_error=1:print_stacktrace=1

mkdir -p "$artifacts"
shopt -s nullglob
kept=("$regressions"/*)
if [ ${#kept[@]} -gt 0 ]; then
  echo "== $name: replaying ${#kept[@]} regression input(s)"
  "$harness" -timeout=10 -rss_limit_mb=2048 "${kept[@]}"
fi

[ -d "$corpus" ] || { echo "$name: no seed corpus at $corpus" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "== $name: fuzzing for ${seconds}s"
# -timeout: one input running 10 s is a hang. timeout(1) is only the last guard if libFuzzer itself wedges.
set +e
timeout --signal=KILL $((seconds + 120)) "$harness" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -max_len="$max_len" -print_final_stats=1 -artifact_prefix="$artifacts/" "$work" "$corpus" >"$work.log" 2>&1
status=$?
set -e
# The progress lines (NEW, REDUCE, pulse) are many; the start, the last few and everything else are kept.
grep -v -E '^(#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)|"|###### |[[:space:]]+NEW_FUNC)' "$work.log" || true
grep -E '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)' "$work.log" | tail -n 3 || true
rm -f "$work.log"
if [ "$status" -ne 0 ]; then
  echo "$name: FINDING (exit $status); input kept in $artifacts/" >&2
  exit 1
fi
