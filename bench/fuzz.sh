#!/usr/bin/env bash
# Runs the libFuzzer harnesses for as long as asked and reports, per harness, executions per second and coverage
# (libFuzzer's cov: edges and ft: features at the end of the run), corpus size and findings.
# Needs the fuzz build: CC=clang CXX=clang++ meson setup build-fuzz -Dfuzz=enabled --buildtype=debugoptimized \
#   -Db_sanitize=address,undefined -Db_lundef=false && ninja -C build-fuzz
# Usage: bench/fuzz.sh [-C BUILD_DIR] [-j PARALLEL] [-t UNIT_TIMEOUT] SECONDS [HARNESS...]   (default: every harness,
#   1 at a time; a unit running past UNIT_TIMEOUT seconds, default 10, is a finding: raise it when the campaign runs
#   at low priority beside other work, where a unit can wait seconds for a CPU)
# The corpus grows across runs in BUILD_DIR/fuzz-corpus/<harness> (seeded from tests/fuzz/corpus); findings are
# written to BUILD_DIR/fuzz-findings/<harness>/ (copy one into tests/fuzz/regressions/<harness>/ once fixed).
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-fuzz jobs=1 unit_timeout=10
while getopts "C:j:t:" o; do
  case $o in C) build=$OPTARG ;; j) jobs=$OPTARG ;; t) unit_timeout=$OPTARG ;; *) exit 2 ;; esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { sed -n 5,7p "$0" >&2; exit 2; }
seconds=$1
shift
harnesses=("$@")
if [ ${#harnesses[@]} -eq 0 ]; then
  for f in "$build"/tests/fuzz/fuzz_*; do [ -x "$f" ] && harnesses+=("$(basename "$f" | sed 's/^fuzz_//')"); done
fi
[ ${#harnesses[@]} -gt 0 ] || { echo "no harnesses in $build/tests/fuzz (build with -Dfuzz=enabled)" >&2; exit 1; }
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

run_one() {  # name
  local name=$1 exe="$build/tests/fuzz/fuzz_$1" corpus="$build/fuzz-corpus/$1" findings="$build/fuzz-findings/$1"
  local log="$results/$name.log" max_len=16384
  case $name in rdma_cm) max_len=256 ;; config_json) max_len=4096 ;; host_identify) max_len=8192 ;; esac
  mkdir -p "$corpus" "$findings"
  ASAN_OPTIONS=detect_leaks=1 "$exe" -max_total_time="$seconds" -timeout="$unit_timeout" -rss_limit_mb=2048 \
    -max_len=$max_len -print_final_stats=1 -artifact_prefix="$findings/" "$corpus" "tests/fuzz/corpus/$name" \
    >"$log" 2>&1
  echo $? >"$results/$name.rc"
}
export -f run_one
export build seconds results unit_timeout
printf '%s\n' "${harnesses[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one {}'

printf '%-16s %8s %12s %9s %7s %7s %7s  %s\n' harness seconds executions exec/s cov ft corpus result
status=0
for name in "${harnesses[@]}"; do
  log="$results/$name.log"
  last=$(grep -E '^#[0-9]+' "$log" | grep ' cov: ' | tail -n 1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
  result=ok
  if [ "$(cat "$results/$name.rc")" != 0 ]; then
    result="FINDING: $(grep -m1 -E 'ERROR: |SUMMARY: |fuzz harness: ' "$log" || echo "exit $(cat "$results/$name.rc")")"
    status=1
    cp "$log" "$build/fuzz-findings/$name/last-run.log"
  fi
  printf '%-16s %8s %12s %9s %7s %7s %7s  %s\n' "$name" "$seconds" "${execs:--}" "${rate:--}" "${cov:--}" "${ft:--}" \
    "${corp:--}" "$result"
done
exit $status
