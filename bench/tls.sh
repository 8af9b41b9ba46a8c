#!/usr/bin/env bash
# NVMe/TCP over TLS 1.3 beside plain TCP, same target and host, loopback: 4 KiB randread at QD 1 and 32 and
# 128 KiB sequential read at QD 16, plain and with each suite (TLS_AES_128_GCM_SHA256 from an HMAC-01 key,
# TLS_AES_256_GCM_SHA384 from an HMAC-02 key). Records are protected in user space unless the kernel's TLS
# takes over. Prints IOPS, MiB/s and TLS as a share of plain; the goal is >= 60 % at QD 32.
#
#   bench/tls.sh [--time SECONDS] [--rounds N] [--adaptive-poll US]
#   # default 10 s per case, 3 rounds, the default polling mode; target on core 0, perf on core 1;
#   # --adaptive-poll 0 runs both ends in pure interrupt mode
#
# Run it on a quiet machine (it prints the load average before and after). BUILD_DIR overrides build-release.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${BUILD_DIR:-build-release}"
seconds=10
rounds=3
poll=()
while [ $# -gt 0 ]; do
  case $1 in
    --time) seconds=$2; shift 2;;
    --rounds) rounds=$2; shift 2;;
    --adaptive-poll) poll=(--adaptive-poll "$2"); shift 2;;
    *) echo "usage: bench/tls.sh [--time SECONDS] [--rounds N] [--adaptive-poll US]" >&2; exit 2;;
  esac
done
source bench/lib/loopback.sh
bench_build "$build_dir"

work=$(mktemp -d)
chmod 700 "$work"
trap 'kill "$target_pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
sub=nqn.2024-01.io.nvmf:bench-tls
host256=nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-000000000256
host384=nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-000000000384
"$nvmf" gen-tls-key -m 1 > "$work/k256"
"$nvmf" gen-tls-key -m 2 > "$work/k384"

bench_start_target "$work" --subsystem "$sub" --namespace null:16G \
  --listen tcp:127.0.0.1:4420 --listen tcp:127.0.0.1:4421,tls=required \
  --tls-psk "$host256=$work/k256" --tls-psk "$host384=$work/k384" "${poll[@]}"

run() {  # name port hostnqn key pattern size qd
  local extra=()
  [ -n "$4" ] && extra=(--tls-key "$4")
  taskset -c 1 "$nvmf" perf --transport tcp -a 127.0.0.1 -s "$2" -n "$sub" --hostnqn "$3" "${extra[@]}" "${poll[@]}" \
    -w "$5" -o "$6" -q "$7" -T "$seconds" --cores 1 --quiet --output-format json > "$work/$1.json"
}

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
# Interleaved: each round runs every case and channel once, so a slow stretch of the shared machine hits all of
# them alike; the figure of a case is its best round, and the spread (worst/best) is printed beside it.
cases=("randread 4096 1" "randread 4096 32" "read 131072 16")
for round in $(seq "$rounds"); do
  for c in "${cases[@]}"; do
    set -- $c
    name="$1-$2-qd$3"
    run "$name-plain-$round" 4420 "$host256" "" "$1" "$2" "$3"
    run "$name-aes128-$round" 4421 "$host256" "$work/k256" "$1" "$2" "$3"
    run "$name-aes256-$round" 4421 "$host384" "$work/k384" "$1" "$2" "$3"
  done
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
grep -h "record layer" "$work/target.log" | sed 's/^/target: /' || true

python3 - "$work" "$rounds" "${cases[@]}" <<'PY'
import json, sys
work, rounds, cases = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
print(f"{'case':<22} {'channel':<8} {'IOPS':>10} {'MiB/s':>9} {'spread':>7} {'share':>7}   (best of {rounds})")
for c in cases:
    pattern, size, qd = c.split()
    name = f"{pattern}-{size}-qd{qd}"
    best = {}
    for ch in ("plain", "aes128", "aes256"):
        runs = [json.load(open(f"{work}/{name}-{ch}-{r}.json"))["phases"][-1] for r in range(1, rounds + 1)]
        top = max(runs, key=lambda p: p["iops"])
        best[ch] = (top, min(p["iops"] for p in runs) / top["iops"])
    plain = best["plain"][0]["iops"]
    for ch, (p, spread) in best.items():
        print(f"{name:<22} {ch:<8} {p['iops']:10.0f} {p['mib_per_second']:9.1f} {100 * spread:6.0f}% "
              f"{100 * p['iops'] / plain:6.1f}%")
PY
