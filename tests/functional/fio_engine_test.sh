#!/usr/bin/env bash
# fio with our ioengine (utils/fio, libnvmf-fio.so) against a real `nvmf target` on loopback, through the job
# files the repository ships (bench/fio/): random writes verified with CRC32C, the same data verified again by a
# second fio process over a new association, random reads from two threads sharing one controller, and the
# negative case: verifying against a freshly started target (a zeroed RAM namespace) must fail, which shows that
# the checksums are computed over data that really crossed the fabric. Then several paths: two targets serving one
# file under one NQN, a CRC32C-verified job spread over both (trsvcid=PORT1,PORT2), read back through one alone.
# Exit 77 (skipped) with the reason when the engine was not built; every wait is bounded.
set -euo pipefail

: "${NVMF_BIN:?NVMF_BIN: path of the nvmf binary}"
: "${NVMF_SOURCE_DIR:?NVMF_SOURCE_DIR: the source tree (for bench/fio/)}"
if [ -z "${NVMF_FIO_ENGINE:-}" ] || [ ! -f "${NVMF_FIO_ENGINE}" ]; then
  echo "SKIP: ${NVMF_FIO_SKIP_REASON:-the fio engine was not built}"
  exit 77
fi
command -v fio >/dev/null || { echo "SKIP: fio is not installed"; exit 77; }

work=$(mktemp -d)
cd "$work"  # fio leaves verify state files (*-verify.state) in its working directory on a failed verify
target_pid=""
stop_target() {
  if [ -n "$target_pid" ]; then
    kill "$target_pid" 2>/dev/null || true
    wait "$target_pid" 2>/dev/null || true
    target_pid=""
  fi
}
path_pids=()
cleanup() {
  stop_target
  for pid in "${path_pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*"
  for f in "$work"/*.log "$work"/*.err; do [ -s "$f" ] && { echo "---- $f"; tail -n 40 "$f"; }; done
  exit 1
}

subnqn=nqn.2024-01.io.nvmf.test:fio
start_target() {  # $1: log name
  rm -f "$work/ready"
  "$NVMF_BIN" target --listen tcp:127.0.0.1:0 --discovery-port 0 --subsystem "$subnqn" --namespace ram:64M \
    --block-size 4096 --ready-file "$work/ready" --control-socket none >"$work/$1.log" 2>&1 &
  target_pid=$!
  for _ in $(seq 100); do
    [ -s "$work/ready" ] && break
    kill -0 "$target_pid" 2>/dev/null || fail "nvmf target exited during start-up"
    sleep 0.1
  done
  [ -s "$work/ready" ] || fail "nvmf target did not listen within 10 s"
  NVMF_TRSVCID=$(head -n1 "$work/ready" | sed 's/.*://')
  export NVMF_TRSVCID
}

# A sanitized engine needs the sanitizer runtimes loaded first in the (uninstrumented) fio; fio's own leaks are
# not ours to report.
run_fio() {  # name, fio arguments...: writes $work/NAME.json, returns fio's exit code
  local name=$1; shift
  local rc=0
  env ${NVMF_FIO_PRELOAD:+LD_PRELOAD="$NVMF_FIO_PRELOAD" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1} \
    timeout 120 fio "$@" --output-format=json --output="$work/$name.json" 2>"$work/$name.err" || rc=$?
  return $rc
}

# Checks fio's JSON: $1 file, $2 expect "ok" (no job error, every listed direction moved data) or "error".
check_json() {
  python3 - "$@" <<'PY'
import json, sys
path, expect, *dirs = sys.argv[1:]
try:
    with open(path) as f:
        text = f.read()
    report = json.loads(text[text.index('{'):])  # fio may print notices before the JSON
except (OSError, ValueError) as e:
    sys.exit(f"{path}: no fio JSON report ({e})")
jobs = report.get("jobs", [])
if not jobs:
    sys.exit(f"{path}: no jobs in the report")
for job in jobs:
    name, err = job["jobname"], job["error"]
    if expect == "ok":
        if err != 0:
            sys.exit(f"{path}: job {name} failed with error {err}")
        for d in dirs:
            kb = job[d]["io_kbytes"]
            if kb <= 0:
                sys.exit(f"{path}: job {name} moved no {d} data (io_kbytes {kb})")
            print(f"{name}: {d} {kb} KiB, {job[d]['iops']:.0f} IOPS")
    elif err == 0:
        sys.exit(f"{path}: job {name} was expected to fail, but reported no error")
    else:
        print(f"{name}: failed as expected with error {err}")
PY
}

export NVMF_FIO_ENGINE NVMF_SUBNQN="$subnqn" NVMF_TRADDR=127.0.0.1
verify_job="$NVMF_SOURCE_DIR/bench/fio/nvmf-verify.fio"
randread_job="$NVMF_SOURCE_DIR/bench/fio/nvmf-randread.fio"

start_target target1
run_fio verify "$verify_job" || fail "fio randwrite+verify exited with $?"
check_json "$work/verify.json" ok write read || fail "randwrite+verify"
# A new process, a new association: the data written above reads back and verifies.
run_fio verify_again "$verify_job" --verify_only || fail "fio verify_only exited with $?"
check_json "$work/verify_again.json" ok read || fail "verify_only on the written target"
NVMF_IODEPTH=8 NVMF_NUMJOBS=2 NVMF_RUNTIME=2 run_fio randread "$randread_job" ||
  fail "fio randread exited with $?"
check_json "$work/randread.json" ok read || fail "randread"
grep -q '"numjobs" : "2"' "$work/randread.json" || fail "randread did not run two threads"
# Engine options from the command line: NVMe/TCP header and data digests, FUA writes, flushes (fsync=).
run_fio digests --name=digests --ioengine="external:$NVMF_FIO_ENGINE" --thread=1 --subnqn="$subnqn" \
  --traddr=127.0.0.1 --trsvcid="$NVMF_TRSVCID" --hdr_digest=1 --data_digest=1 --fua=1 --filename=nvmf \
  --rw=randwrite --bs=16k --iodepth=8 --size=4m --fsync=16 --verify=crc32c --do_verify=1 ||
  fail "fio with digests exited with $?"
check_json "$work/digests.json" ok write read || fail "digests"
python3 -c 'import json,sys; t=open(sys.argv[1]).read(); j=json.loads(t[t.index("{"):])
sys.exit(0 if j["jobs"][0]["sync"]["total_ios"] > 0 else "no flush was issued")' "$work/digests.json" ||
  fail "fsync= sent no flush"
# Refused with a reason: more than the controller's maximum transfer (MDTS 128 KiB by default).
if run_fio too_big --name=too_big --ioengine="external:$NVMF_FIO_ENGINE" --thread=1 --subnqn="$subnqn" \
  --trsvcid="$NVMF_TRSVCID" --filename=nvmf --rw=read --bs=1m --size=4m; then fail "a 1 MiB block size was accepted"; fi
grep -q "exceeds the controller's maximum transfer" "$work/too_big.err" || fail "no MDTS message for bs=1m"
stop_target

# A fresh target holds zeros where the verify job expects its checksummed blocks: fio must report the mismatch.
start_target target2
if run_fio verify_fresh "$verify_job" --verify_only; then fail "verify_only passed against a fresh target"; fi
check_json "$work/verify_fresh.json" error || fail "verify_only on a fresh target"
grep -q "verify" "$work/verify_fresh.err" || fail "fio did not name a verify failure"
stop_target

# Several paths: two `nvmf target` processes on one file, same subsystem NQN (so the same serial and NGUID).
start_path_target() {  # $1: name; sets path_port
  rm -f "$work/$1.ready"
  "$NVMF_BIN" target --listen tcp:127.0.0.1:0 --discovery-port 0 --subsystem "$subnqn-paths" \
    --namespace "file:$work/paths.img" --ready-file "$work/$1.ready" --control-socket none >"$work/$1.log" 2>&1 &
  path_pids+=($!)
  for _ in $(seq 100); do
    [ -s "$work/$1.ready" ] && break
    sleep 0.1
  done
  [ -s "$work/$1.ready" ] || fail "nvmf target $1 did not listen within 10 s"
  path_port=$(head -n1 "$work/$1.ready" | sed 's/.*://')
}
truncate -s 64M "$work/paths.img"
start_path_target path1
port1=$path_port
start_path_target path2
port2=$path_port
paths_job=(--name=paths --ioengine="external:$NVMF_FIO_ENGINE" --thread=1 --subnqn="$subnqn-paths"
  --traddr=127.0.0.1 --filename=nvmf --rw=randwrite --bs=4k --iodepth=16 --size=16m --verify=crc32c)
run_fio paths "${paths_job[@]}" --trsvcid="$port1,$port2" --policy=least-queued --do_verify=1 --fsync=32 ||
  fail "fio over two paths exited with $?"
check_json "$work/paths.json" ok write read || fail "verify over two paths"
python3 -c 'import json,sys; t=open(sys.argv[1]).read(); j=json.loads(t[t.index("{"):])
sys.exit(0 if j["jobs"][0]["sync"]["total_ios"] > 0 else "no flush was issued")' "$work/paths.json" ||
  fail "fsync= over two paths sent no flush"
# Both paths were connected: each target logged the controller our host created through it.
for name in path1 path2; do grep -q "created: subsystem $subnqn-paths" "$work/$name.log" || fail "$name was not used"; done
run_fio paths_second "${paths_job[@]}" --trsvcid="$port2" --verify_only || fail "verify_only on path 2 exited with $?"
check_json "$work/paths_second.json" ok read || fail "verify_only through the second path alone"
if run_fio paths_mismatch "${paths_job[@]}" --traddr=127.0.0.1,127.0.0.1,127.0.0.1 --trsvcid="$port1,$port2"; then
  fail "three addresses with two ports were accepted"
fi
grep -q "give one of them once" "$work/paths_mismatch.err" || fail "no message for unpaired traddr/trsvcid lists"
echo "fio engine: all checks passed"
