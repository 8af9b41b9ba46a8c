#!/usr/bin/env bash
# Where the server side's CPU goes, ours beside the ceiling's, for one bench/run.py case: `nvmf target` (null
# namespace, or RAM with --ram) on core 0 under `nvmf perf` on core 1, then `nvmf-ceiling server` on core 0 under
# its client with the same message shape, each profiled with `perf record -e cpu-clock` (kernel symbols
# included). Prints, per symbol, microseconds of server CPU per I/O on each side (the symbol's share of the samples
# times the server's CPU per I/O from /proc), the largest first, so that what our target does beyond the ceiling
# stands out.
#
#   bench/server_profile.sh [--time SECONDS] [--case randread|randwrite] [--qd N] [--top N] [--adaptive-poll US]
#                           [--ram]
#       defaults: 5 s, randread, QD 128, 25 symbols, interrupt mode (--adaptive-poll 0, the ceiling's own mode)
#       --ram: a prefaulted 1 GiB RAM namespace against the ceiling with 1 GiB of payload memory, instead of null
#       against the plain ceiling
#
# Run it on a quiet machine (the shares hold under load, the microseconds do not). BUILD_DIR overrides
# build-release.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib/loopback.sh
build_dir="${BUILD_DIR:-build-release}"
seconds=5 pattern=randread qd=128 top=25 adaptive=0 namespace=null:1G memory=()
while [ $# -gt 0 ]; do
  case $1 in
    --time) seconds=$2; shift 2;;
    --case) pattern=$2; shift 2;;
    --qd) qd=$2; shift 2;;
    --top) top=$2; shift 2;;
    --adaptive-poll) adaptive=$2; shift 2;;
    --ram) namespace=ram:1G,prefault memory=(--payload-memory 1G); shift;;
    *) sed -n 9,13p "$0" >&2; exit 2;;
  esac
done
case $pattern in
  randread) request=72 response=$((24 + 4096));;
  randwrite) request=$((72 + 4096)) response=24;;
  *) echo "server_profile.sh: --case is randread or randwrite" >&2; exit 2;;
esac
command -v perf >/dev/null || { echo "server_profile.sh needs perf (linux-perf)" >&2; exit 1; }
bench_build "$build_dir"
ninja -C "$build_dir" -j 2 bench/nvmf-ceiling
ceiling="$build_dir/bench/nvmf-ceiling"

work=$(mktemp -d)
target_pid="" server_pid=""
cleanup() {
  local pid
  for pid in $target_pid $server_pid; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# profile NAME PID COMMAND...: runs COMMAND (the load) while perf samples PID; leaves NAME.data, NAME.cpu.
profile() {
  local name=$1 pid=$2 before after recorder
  shift 2
  perf record -q -e cpu-clock -F 4999 -p "$pid" -o "$work/$name.data" 2>/dev/null &
  recorder=$!
  sleep 0.3
  before=$(cpu_ticks "$pid")
  "$@" > "$work/$name.json"
  after=$(cpu_ticks "$pid")
  kill -INT "$recorder"
  wait "$recorder" || true
  echo $((after - before)) > "$work/$name.cpu"
  perf report -i "$work/$name.data" --sort sym --stdio -q 2>/dev/null > "$work/$name.syms"
}

sub=nqn.2024-01.io.nvmf:server-profile
bench_start_target "$work" --subsystem "$sub" --namespace "$namespace" --listen tcp:127.0.0.1:0 --adaptive-poll "$adaptive"
port=$(head -n 1 "$work/ready" | sed 's/.*://')
load=(taskset -c 1 "$nvmf" perf --transport tcp -a 127.0.0.1 -s "$port" -n "$sub" -w "$pattern" -o 4096
      -q "$qd" --cores 1 --quiet --adaptive-poll "$adaptive" --output-format json)
"${load[@]}" -T 1 > /dev/null  # warm-up: connections, pool buffers
profile ours "$target_pid" "${load[@]}" -T "$seconds"
kill "$target_pid"
wait "$target_pid" 2>/dev/null || true
target_pid=""

ceiling_port=$(bench_free_port 47100)
poll=()
[ "$adaptive" != 0 ] && poll=(--poll)  # the ceiling has no adaptive mode: its polling one is the nearest
taskset -c 0 "$ceiling" server --listen "127.0.0.1:$ceiling_port" --cpu 0 "${poll[@]}" "${memory[@]}" > "$work/ceiling.log" 2>&1 &
server_pid=$!
for _ in $(seq 150); do ss -Hltn "sport = :$ceiling_port" | grep -q . && break; sleep 0.1; done
cload=(taskset -c 1 "$ceiling" client --connect "127.0.0.1:$ceiling_port" --cpu 1 --request-size "$request"
       --response-size "$response" --queue-depth "$qd" "${poll[@]}" -o json)
"${cload[@]}" --time 1 > /dev/null
profile ceiling "$server_pid" "${cload[@]}" --time "$seconds"

python3 - "$work" "$ticks" "$top" "$pattern" "$qd" "$namespace" <<'PY'
import json, sys
work, ticks, top, pattern, qd, namespace = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), *sys.argv[4:7]
def side(name):
    data = json.load(open(f"{work}/{name}.json"))
    ios = data["phases"][-1]["ios"] if "phases" in data else data["ios"]
    us = 1e6 * int(open(f"{work}/{name}.cpu").read()) / ticks / ios
    syms = {}
    for line in open(f"{work}/{name}.syms"):
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[0].endswith("%"):
            key = f"{parts[1]} {parts[2].strip()}"
            syms[key] = syms.get(key, 0.0) + us * float(parts[0].rstrip("%")) / 100
    return ios, us, syms
ours_ios, ours_us, ours = side("ours")
ceil_ios, ceil_us, ceil = side("ceiling")
print(f"server CPU per I/O, 4 KiB {pattern} QD {qd}, {namespace}: ours {ours_us:.2f} us ({ours_ios} I/Os), "
      f"ceiling {ceil_us:.2f} us ({ceil_ios} messages)")
for kind, label in (("[k]", "kernel"), ("[.]", "user space")):
    o = sum(v for k, v in ours.items() if k.startswith(kind))
    c = sum(v for k, v in ceil.items() if k.startswith(kind))
    print(f"  {label:<11} ours {o:5.2f} us   ceiling {c:5.2f} us   difference {o - c:+5.2f} us")
print(f"{'symbol':<48} {'ours us':>8} {'ceiling us':>11} {'difference':>11}")
names = sorted(set(ours) | set(ceil), key=lambda k: -(ours.get(k, 0) + ceil.get(k, 0)))[:top]
for k in names:
    print(f"{k[:48]:<48} {ours.get(k, 0):8.3f} {ceil.get(k, 0):11.3f} {ours.get(k, 0) - ceil.get(k, 0):+11.3f}")
PY
