#!/usr/bin/env bash
# NVMe/TCP data and header digests (CRC32C through ISA-L) against none, same target and host, loopback: 4 KiB
# randread QD 32, 4 KiB randwrite QD 32 and 128 KiB sequential read QD 16, each with digests off and with
# header + data digests (the host asks with -g -G, the target echoes). Prints IOPS, MiB/s, target and host CPU
# per I/O and digests as a share of none; the goal is >= 85 % at 4 KiB randread QD 32.
#
#   bench/digests.sh [--time SECONDS] [--rounds N] [--adaptive-poll US] [--namespace SPEC]
#   # default 10 s per case, 3 rounds, the default polling mode, null:16G; target on core 0, perf on core 1;
#   # --adaptive-poll 0 runs both ends in pure interrupt mode; --namespace ram:1G serves reads from memory
#
# Run it on a quiet machine (it prints the load average before and after). BUILD_DIR overrides build-release,
# PORT the listening port (default: the first free one from 4430).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${BUILD_DIR:-build-release}"
seconds=10
rounds=3
namespace=null:16G
poll=()
usage="usage: bench/digests.sh [--time SECONDS] [--rounds N] [--adaptive-poll US] [--namespace SPEC]"
while [ $# -gt 0 ]; do
  case $1 in
    --time) seconds=$2; shift 2;;
    --rounds) rounds=$2; shift 2;;
    --adaptive-poll) poll=(--adaptive-poll "$2"); shift 2;;
    --namespace) namespace=$2; shift 2;;
    *) echo "$usage" >&2; exit 2;;
  esac
done
source bench/lib/loopback.sh
bench_build "$build_dir"

work=$(mktemp -d)
trap 'kill "$target_pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
sub=nqn.2024-01.io.nvmf:bench-digests
port=${PORT:-$(bench_free_port 4430)}
bench_start_target "$work" --subsystem "$sub" --namespace "$namespace" --listen "tcp:127.0.0.1:$port" "${poll[@]}"

# Target CPU (user + system clock ticks) from /proc; the host's from wait4()'s rusage via GNU time.
target_ticks() { awk '{print $14 + $15}' "/proc/$target_pid/stat"; }
run() {  # name digest-flags pattern size qd
  local before after
  before=$(target_ticks)
  # shellcheck disable=SC2086  # $2 is zero or more flags
  /usr/bin/time -f "%U %S" -o "$work/$1.time" taskset -c 1 "$nvmf" perf --transport tcp -a 127.0.0.1 -s "$port" \
    -n "$sub" $2 "${poll[@]}" -w "$3" -o "$4" -q "$5" -T "$seconds" --cores 1 --quiet --output-format json \
    > "$work/$1.json"
  after=$(target_ticks)
  echo $((after - before)) > "$work/$1.ticks"
}

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
# Interleaved: each round runs every case with and without digests, so a slow stretch of the shared machine hits
# both alike; the figure of a case is its best round, and the spread (worst/best) is printed beside it.
cases=("randread 4096 32" "randwrite 4096 32" "read 131072 16")
for round in $(seq "$rounds"); do
  for c in "${cases[@]}"; do
    # shellcheck disable=SC2086  # split the case into its words
    set -- $c
    name="$1-$2-qd$3"
    run "$name-none-$round" "" "$1" "$2" "$3"
    run "$name-hddgst-$round" "-g -G" "$1" "$2" "$3"
  done
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
grep -i "digest error" "$work/target.log" | sed 's/^/target: /' || true  # there must be none

python3 - "$work" "$rounds" "$(getconf CLK_TCK)" "${cases[@]}" <<'PY'
import json, sys
work, rounds, hz, cases = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
# spread: worst round's IOPS / best round's; CPU per I/O: user + system time of that best round.
print(f"{'case':<22} {'digests':<8} {'IOPS':>10} {'MiB/s':>9} {'spread':>7} {'tgt us/IO':>9} {'host us/IO':>10} "
      f"{'share':>7}   (best of {rounds})")
def load(run):
    phase = json.load(open(f"{work}/{run}.json"))["phases"][-1]
    with open(f"{work}/{run}.time") as f:
        user, system = map(float, f.read().split()[-2:])
    target_s = int(open(f"{work}/{run}.ticks").read()) / hz
    return phase, target_s, user + system
for c in cases:
    pattern, size, qd = c.split()
    name = f"{pattern}-{size}-qd{qd}"
    best = {}
    for ch in ("none", "hddgst"):
        runs = [load(f"{name}-{ch}-{r}") for r in range(1, rounds + 1)]
        top = max(runs, key=lambda r: r[0]["iops"])
        best[ch] = (top, min(r[0]["iops"] for r in runs) / top[0]["iops"])
    none = best["none"][0][0]["iops"]
    for ch, ((p, target_s, host_s), spread) in best.items():
        ios = p["ios"]
        print(f"{name:<22} {ch:<8} {p['iops']:10.0f} {p['mib_per_second']:9.1f} {100 * spread:6.0f}% "
              f"{1e6 * target_s / ios:9.2f} {1e6 * host_s / ios:10.2f} {100 * p['iops'] / none:6.1f}%")
PY
