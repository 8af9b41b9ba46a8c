#!/usr/bin/env bash
# The ofi transport (NVMe/RDMA capsules over libfabric's tcp provider) beside our native NVMe/TCP, same target
# process, same cores, loopback: 4 KiB randread at QD 1, 32 and 128 and 128 KiB sequential read at QD 16.
# Interleaved rounds, best of N per case with the spread, target CPU time per I/O (utime + stime of the target
# process across the run, from /proc), and ofi as a share of native TCP. The goal (issue 15): >= 70 % at QD 32.
#
#   bench/ofi.sh [--time SECONDS] [--rounds N]   # default 10 s per case, 3 rounds; target on core 0, perf on core 1
#   bench/ofi.sh --profile [--time SECONDS]
#       # instead: where the target's CPU goes at 4 KiB randread QD 32, native TCP against ofi: `perf record -e
#       # cpu-clock` on the target during one run of each, its samples split by library (ours, libfabric, libc,
#       # kernel), in microseconds of target CPU per I/O, with the system calls per I/O (raw_syscalls:sys_enter)
#   bench/ofi.sh --registration [--provider NAME] [--address ADDR]
#       # instead: what fi_mr_reg + fi_close cost per size (4 KiB .. 1 MiB) against a registration-cache hit and a
#       # bounce copy (bench/ofi_mr_cost.cpp); tcp on 127.0.0.1 by default, verbs with an RDMA device's address
#
# Run it on a quiet machine. BUILD_DIR overrides build-release.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${BUILD_DIR:-build-release}"
seconds=10
rounds=3
registration=0
profile=0
provider=tcp
address=127.0.0.1
while [ $# -gt 0 ]; do
  case $1 in
    --time) seconds=$2; shift 2;;
    --rounds) rounds=$2; shift 2;;
    --registration) registration=1; shift;;
    --profile) profile=1; shift;;
    --provider) provider=$2; shift 2;;
    --address) address=$2; shift 2;;
    *) echo "usage: bench/ofi.sh [--time SECONDS] [--rounds N] | --profile [--time SECONDS]" \
         "| --registration [--provider NAME] [--address ADDR]" >&2
       exit 2;;
  esac
done
if [ ! -f "$build_dir/build.ninja" ]; then
  meson setup "$build_dir" --buildtype=release -Dtests=disabled
fi
if [ "$registration" = 1 ]; then
  ninja -C "$build_dir" -j 2 bench/nvmf-ofi-mr-cost
  exec "$build_dir/bench/nvmf-ofi-mr-cost" --provider "$provider" --address "$address" --rounds "$rounds"
fi
ninja -C "$build_dir" -j 2 utils/nvmf
nvmf="$build_dir/utils/nvmf"

work=$(mktemp -d)
target_pid=""
trap '[ -n "$target_pid" ] && kill "$target_pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"' EXIT
sub=nqn.2024-01.io.nvmf:bench-ofi

taskset -c 0 "$nvmf" target --cores 0 --subsystem "$sub" --namespace null:16G --discovery-port 0 \
  --listen tcp:127.0.0.1:0 --listen ofi:tcp:127.0.0.1:0 \
  --control-socket none --ready-file "$work/ready" > "$work/target.log" 2>&1 &
target_pid=$!
for _ in $(seq 100); do [ "$(cat "$work/ready" 2>/dev/null | wc -l)" -ge 2 ] && break; sleep 0.1; done
[ -s "$work/ready" ] || { cat "$work/target.log"; exit 1; }
tcp_port=$(grep '^tcp:' "$work/ready" | head -n1 | sed 's/.*://')
ofi_port=$(grep '^ofi:' "$work/ready" | head -n1 | sed 's/.*://')
ticks=$(getconf CLK_TCK)

cpu_ticks() { awk '{print $14 + $15}' "/proc/$target_pid/stat"; }
run() {  # name transport port pattern size qd
  local before after
  before=$(cpu_ticks)
  taskset -c 1 "$nvmf" perf --transport "$2" -a 127.0.0.1 -s "$3" -n "$sub" \
    -w "$4" -o "$5" -q "$6" -T "$seconds" --cores 1 --quiet --output-format json > "$work/$1.json"
  after=$(cpu_ticks)
  echo $(( after - before )) > "$work/$1.cpu"
}

if [ "$profile" = 1 ]; then
  command -v perf >/dev/null || { echo "bench/ofi.sh --profile needs perf (linux-perf)" >&2; exit 1; }
  for t in tcp ofi; do
    port=$tcp_port; [ "$t" = ofi ] && port=$ofi_port
    run "warm-$t" "$t" "$port" randread 4096 32
    perf record -q -e cpu-clock -F 4999 -p "$target_pid" -o "$work/$t.data" 2>/dev/null &
    recorder=$!
    perf stat -x, -e raw_syscalls:sys_enter -p "$target_pid" -o "$work/$t.syscalls" 2>/dev/null &
    counter=$!
    sleep 0.5
    run "$t" "$t" "$port" randread 4096 32
    kill -INT "$recorder" "$counter"
    wait "$recorder" "$counter" || true
    perf report -i "$work/$t.data" --sort dso --stdio -q 2>/dev/null > "$work/$t.dso"
  done
  python3 - "$work" "$ticks" <<'PY'
import json, sys
work, ticks = sys.argv[1], int(sys.argv[2])
def group(dso):
    if "kernel" in dso: return "kernel"
    if "libfabric" in dso: return "libfabric"
    if dso.startswith("libc") or dso.startswith("libstdc++") or dso.startswith("ld-linux"): return "libc/libstdc++"
    if dso == "nvmf" or "nvmf" in dso: return "ours (nvmf)"
    return "other"
groups = ["ours (nvmf)", "libfabric", "libc/libstdc++", "kernel", "other"]
print("target CPU per I/O at 4 KiB randread QD 32, split by where perf's cpu-clock samples fell (microseconds)")
print(f"{'transport':<10} {'IOPS':>9} {'us/IO':>7} " + " ".join(f"{g:>15}" for g in groups) + f" {'syscalls/IO':>12}")
for t in ("tcp", "ofi"):
    phase = json.load(open(f"{work}/{t}.json"))["phases"][-1]
    us = 1e6 * int(open(f"{work}/{t}.cpu").read()) / ticks / phase["ios"]
    share = dict.fromkeys(groups, 0.0)
    for line in open(f"{work}/{t}.dso"):
        parts = line.split()
        if len(parts) >= 2 and parts[0].endswith("%"):
            share[group(" ".join(parts[1:]))] += float(parts[0].rstrip("%")) / 100
    syscalls = 0
    for line in open(f"{work}/{t}.syscalls"):
        f = line.split(",")
        if len(f) > 2 and "sys_enter" in f[2] and f[0].strip().isdigit():
            syscalls = int(f[0])
    print(f"{t:<10} {phase['iops']:9.0f} {us:7.2f} " + " ".join(f"{us * share[g]:15.2f}" for g in groups)
          + f" {syscalls / phase['ios']:12.2f}")
PY
  exit 0
fi

# Interleaved: each round runs every case over both transports, so a slow stretch of a shared machine hits both.
cases=("randread 4096 1" "randread 4096 32" "randread 4096 128" "read 131072 16")
for round in $(seq "$rounds"); do
  for c in "${cases[@]}"; do
    set -- $c
    name="$1-$2-qd$3"
    run "$name-tcp-$round" tcp "$tcp_port" "$1" "$2" "$3"
    run "$name-ofi-$round" ofi "$ofi_port" "$1" "$2" "$3"
  done
done

python3 - "$work" "$rounds" "$ticks" "${cases[@]}" <<'PY'
import json, sys
work, rounds, ticks, cases = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
print(f"{'case':<22} {'transport':<9} {'IOPS':>10} {'MiB/s':>9} {'spread':>7} {'tgt us/IO':>10} {'share':>7}"
      f"   (best of {rounds})")
for c in cases:
    pattern, size, qd = c.split()
    name = f"{pattern}-{size}-qd{qd}"
    best = {}
    for t in ("tcp", "ofi"):
        runs = []
        for r in range(1, rounds + 1):
            phase = json.load(open(f"{work}/{name}-{t}-{r}.json"))["phases"][-1]
            cpu_s = int(open(f"{work}/{name}-{t}-{r}.cpu").read()) / ticks
            runs.append((phase, cpu_s))
        top, cpu_s = max(runs, key=lambda x: x[0]["iops"])
        spread = min(p["iops"] for p, _ in runs) / top["iops"]
        best[t] = (top, spread, cpu_s)
    native = best["tcp"][0]["iops"]
    for t, (p, spread, cpu_s) in best.items():
        us_per_io = 1e6 * cpu_s / p["ios"] if p["ios"] else 0
        print(f"{name:<22} {t:<9} {p['iops']:10.0f} {p['mib_per_second']:9.1f} {100 * spread:6.0f}% "
              f"{us_per_io:10.2f} {100 * p['iops'] / native:6.0f}%")
PY
