#!/usr/bin/env bash
# One command for the performance page: builds a release, runs `nvmf target` on core 0 (null backend, then RAM)
# and `nvmf perf` on core 1 for every case, interleaved with the io_uring TCP ceiling (nvmf-ceiling) of the same
# shape on the same cores, three times; prints one table, writes JSON under bench/results/ and draws the plots.
#
#   bench/run.sh                      # pure interrupt mode (--adaptive-poll 0 on both tools; bench/adaptive_poll.py measures the default)
#   bench/run.sh --mode poll          # busy-polling target, perf and ceiling
#   bench/run.sh --time 5 --cases 4k-randread-qd1,4k-randread-qd32
#   bench/run.sh --ceiling-only       # only the ceiling: what this machine's loopback can do
#
# Every option is passed to bench/run.py (see bench/run.py --help). BUILD_DIR overrides build-release.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${BUILD_DIR:-build-release}"

if [ ! -f "$build_dir/build.ninja" ]; then
  meson setup "$build_dir" --buildtype=release -Dtests=disabled
fi
mode=interrupt
targets=(utils/nvmf bench/nvmf-ceiling)
for ((i = 1; i <= $#; i++)); do
  case "${!i}" in
    --mode) j=$((i + 1)); mode="${!j}" ;;
    --mode=*) mode="${!i#--mode=}" ;;
    --ceiling-only) targets=(bench/nvmf-ceiling) ;;
  esac
done
# Only what the benchmark runs; at most two jobs (the machines are small and shared).
ninja -C "$build_dir" -j 2 "${targets[@]}"

python3 bench/run.py --build-dir "$build_dir" "$@"

# Pictures need matplotlib from Debian's python3-matplotlib, which installs for /usr/bin/python3.
if /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
  /usr/bin/python3 bench/plot.py "bench/results/latest-$mode.json" --out bench/results
else
  echo "no plots: apt-get install python3-matplotlib, then: /usr/bin/python3 bench/plot.py bench/results/latest-$mode.json" >&2
fi
