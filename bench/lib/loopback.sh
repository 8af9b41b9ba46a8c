# shellcheck shell=bash
# Shared by the loopback A/B benches (bench/tls.sh, bench/digests.sh): build the nvmf binary, find a free port,
# start one target pinned to core 0 and wait until it is ready. Source it after `cd` to the repository root.

# bench_build BUILD_DIR: configure a release build there if needed, build utils/nvmf, set $nvmf.
bench_build() {
  if [ ! -f "$1/build.ninja" ]; then
    meson setup "$1" --buildtype=release -Dtests=disabled
  fi
  ninja -C "$1" -j 2 utils/nvmf
  nvmf="$1/utils/nvmf"
}

# bench_free_port FIRST: the first TCP port from FIRST on that nothing listens on (other benches or tests may
# share this machine's loopback).
bench_free_port() {
  local port
  for port in $(seq "$1" $(($1 + 100))); do
    ss -Hltn "sport = :$port" | grep -q . || { echo "$port"; return; }
  done
  echo "no free port from $1" >&2
  return 1
}

# bench_start_target WORKDIR TARGET-ARGS...: `nvmf target` on core 0 with a ready file and its log in WORKDIR;
# sets $target_pid; prints the log and fails when the target is not ready within 10 s.
bench_start_target() {
  local work=$1
  shift
  taskset -c 0 "$nvmf" target --cores 0 --discovery-port 0 --control-socket none --ready-file "$work/ready" "$@" \
    > "$work/target.log" 2>&1 &
  # shellcheck disable=SC2034  # the caller's trap and CPU accounting use it
  target_pid=$!
  for _ in $(seq 100); do [ -s "$work/ready" ] && return; sleep 0.1; done
  cat "$work/target.log"
  return 1
}
