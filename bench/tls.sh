#!/usr/bin/env bash
# NVMe/TCP over TLS 1.3 beside plain TCP, same target and host, loopback: 4 KiB randread at QD 1 and 32 and
# 128 KiB sequential read at QD 16, plain and with each suite (TLS_AES_128_GCM_SHA256 from an HMAC-01 key,
# TLS_AES_256_GCM_SHA384 from an HMAC-02 key). Records are protected in user space unless the kernel's TLS
# takes over. Prints IOPS, MiB/s and TLS as a share of plain; the goal is >= 60 % at QD 32.
#
#   bench/tls.sh [--time SECONDS]      # default 10 s per case; target on core 0, perf on core 1
#
# Run it on a quiet machine. BUILD_DIR overrides build-release.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${BUILD_DIR:-build-release}"
seconds=10
[ "${1:-}" = "--time" ] && seconds="$2"
if [ ! -f "$build_dir/build.ninja" ]; then
  meson setup "$build_dir" --buildtype=release -Dtests=disabled
fi
ninja -C "$build_dir" -j 2 utils/nvmf
nvmf="$build_dir/utils/nvmf"

work=$(mktemp -d)
chmod 700 "$work"
trap 'kill "$target_pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
sub=nqn.2024-01.io.nvmf:bench-tls
host256=nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-000000000256
host384=nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-000000000384
"$nvmf" gen-tls-key -m 1 > "$work/k256"
"$nvmf" gen-tls-key -m 2 > "$work/k384"

taskset -c 0 "$nvmf" target --cores 0 --subsystem "$sub" --namespace null:16G --discovery-port 0 \
  --listen tcp:127.0.0.1:4420 --listen tcp:127.0.0.1:4421,tls=required \
  --tls-psk "$host256=$work/k256" --tls-psk "$host384=$work/k384" \
  --control-socket none --ready-file "$work/ready" > "$work/target.log" 2>&1 &
target_pid=$!
for _ in $(seq 100); do [ -s "$work/ready" ] && break; sleep 0.1; done
[ -s "$work/ready" ] || { cat "$work/target.log"; exit 1; }

run() {  # name port hostnqn key pattern size qd
  local extra=()
  [ -n "$4" ] && extra=(--tls-key "$4")
  taskset -c 1 "$nvmf" perf --transport tcp -a 127.0.0.1 -s "$2" -n "$sub" --hostnqn "$3" "${extra[@]}" \
    -w "$5" -o "$6" -q "$7" -t "$seconds" --cores 1 --quiet --output-format json > "$work/$1.json"
}

printf '%-22s %-10s %12s %10s %8s\n' case channel IOPS MiB/s share
for c in "randread 4096 1" "randread 4096 32" "read 131072 16"; do
  set -- $c
  name="$1-$2-qd$3"
  run "$name-plain" 4420 "$host256" "" "$1" "$2" "$3"
  run "$name-aes128" 4421 "$host256" "$work/k256" "$1" "$2" "$3"
  run "$name-aes256" 4421 "$host384" "$work/k384" "$1" "$2" "$3"
  python3 - "$work" "$name" <<'PY'
import json, sys
work, name = sys.argv[1], sys.argv[2]
def phase(ch):
    return json.load(open(f"{work}/{name}-{ch}.json"))["phases"][-1]
plain = phase("plain")["iops"]
for ch in ("plain", "aes128", "aes256"):
    p = phase(ch)
    print(f"{name:<22} {ch:<10} {p['iops']:12.0f} {p['mib_per_second']:10.1f} {100 * p['iops'] / plain:7.1f}%")
PY
done
