#!/usr/bin/env bash
# The ofi transport (NVMe/RDMA capsules over libfabric, fabric/ofi/) with the tcp provider on 127.0.0.1: a real
# `nvmf target --listen ofi:tcp:...` and our host tools. Identify (SGLS with keyed SGLs); an empty discovery log
# (ofi has no NVMe transport type); verified random I/O of 512 B to 1 MiB (MDTS 1 MiB) on two queues, and with a busy-polling host;
# keep-alive across a run three times the KATO; hostile handshakes (short private data, QID FFFFh, HSQSIZE 0)
# rejected with the NVMe/RDMA reject record and an oversized capsule ending only its connection, the target still
# serving afterwards; a queue whose set-up fails after the CONNREQ (the target out of descriptors) refused with
# fi_reject's "no resources" record at once; a killed target restarted on the same port while perf runs (the host reconnects, resends
# and the run passes). Every wait is bounded.
set -euo pipefail

: "${NVMF_BIN:?NVMF_BIN: path of the nvmf binary}"
: "${NVMF_OFI_PROBE:?NVMF_OFI_PROBE: path of ofi_handshake_probe}"

work=$(mktemp -d)
subnqn=nqn.2024-01.io.nvmf:ofi-test
target_pid=""
port=0
fail() { echo "FAIL: $*"; for f in "$work"/*.log; do echo "--- $f"; tail -n 30 "$f"; done; exit 1; }
stop_target() {
  if [ -n "$target_pid" ]; then
    kill "${1:--TERM}" "$target_pid" 2>/dev/null || true
    wait "$target_pid" 2>/dev/null || true
    target_pid=""
  fi
}
cleanup() { stop_target; rm -rf "$work"; }
trap cleanup EXIT

start_target() {  # $1: log name; listens on $port (0 the first time: the ready file tells the port)
  rm -f "$work/ready"
  "$NVMF_BIN" target --listen "ofi:tcp:127.0.0.1:$port" --discovery-port 0 --subsystem "$subnqn" \
    --namespace ram:64M --max-io-size 1M --ready-file "$work/ready" --control-socket none >"$work/$1.log" 2>&1 &
  target_pid=$!
  for _ in $(seq 100); do
    [ -s "$work/ready" ] && break
    sleep 0.1
  done
  [ -s "$work/ready" ] || fail "nvmf target did not listen on ofi within 10 s"
  port=$(head -n1 "$work/ready" | sed 's/.*://')
}
host=(-t ofi --ofi-provider tcp -a 127.0.0.1 -n "$subnqn")

start_target target1
echo "ofi listener on port $port"

"$NVMF_BIN" id-ctrl "${host[@]}" -s "$port" >"$work/id-ctrl.log" 2>&1 || fail "id-ctrl over ofi"
grep -q "^mn *: nvmf toolkit target" "$work/id-ctrl.log" || fail "id-ctrl output lacks the model number"
# SGLS bit 2: the controller takes Keyed SGL Data Blocks, as over RDMA.
sgls=$(sed -n 's/^sgls *: //p' "$work/id-ctrl.log")
[ -n "$sgls" ] && (( (sgls & 4) != 0 )) || fail "SGLS $sgls lacks keyed SGL support (bit 2)"
# NVMe-oF has no transport type for libfabric: the discovery log names no ofi port.
"$NVMF_BIN" discover "${host[@]/#$subnqn/nqn.2014-08.org.nvmexpress.discovery}" -s "$port" >"$work/discover.log" 2>&1 ||
  fail "discovery over ofi"
grep -q "Number of Records 0," "$work/discover.log" || fail "the discovery log lists an ofi port"

for size in 512 4096 65536 1048576; do
  timeout 60 "$NVMF_BIN" perf "${host[@]}" -s "$port" -o "$size" -q 16 -P 2 -w randrw -T 1 --verify --quiet \
    >"$work/perf-$size.log" 2>&1 || fail "verified I/O of $size bytes over ofi"
  grep -q "0 mismatches" "$work/perf-$size.log" || fail "verify of $size bytes did not report 0 mismatches"
done
echo "verified I/O 512 B..1 MiB on 2 queues: ok"
# Busy poll: the host's reactors poll the CQ every turn (Reactor::add_poller) instead of sleeping on its fd.
timeout 60 "$NVMF_BIN" perf "${host[@]}" -s "$port" --busy-poll -o 4096 -q 8 -w randrw -T 1 --verify --quiet \
  >"$work/busy-poll.log" 2>&1 || fail "verified I/O with a busy-polling host"
grep -q "0 mismatches" "$work/busy-poll.log" || fail "busy-poll verify did not report 0 mismatches"
echo "busy poll: ok"

# Keep-alive: KATO 1 s, a 3 s run; the target would end the association without Keep Alive commands.
timeout 60 "$NVMF_BIN" perf "${host[@]}" -s "$port" -k 1 -o 4096 -q 4 -w randread -T 3 --quiet \
  >"$work/keepalive.log" 2>&1 || fail "a run three times the keep-alive timeout"
grep -q "keep-alive timeout\|expired" "$work/target1.log" && fail "the target saw a keep-alive expire"
echo "keep-alive: ok"

for mode in short qid-ffff hsqsize-0 oversized-capsule; do
  timeout 20 "$NVMF_OFI_PROBE" 127.0.0.1 "$port" "$mode" >"$work/probe-$mode.log" 2>&1 ||
    fail "hostile handshake '$mode' not refused"
  cat "$work/probe-$mode.log"
done
kill -0 "$target_pid" 2>/dev/null || fail "the target died on hostile handshakes"
"$NVMF_BIN" id-ctrl "${host[@]}" -s "$port" >"$work/id-ctrl2.log" 2>&1 || fail "id-ctrl after hostile handshakes"
echo "hostile handshakes: refused, target still serving"

# A queue whose set-up fails after the CONNREQ is refused with fi_reject and the NVMe/RDMA reject record ("no
# resources"), so the host reports the refusal at once instead of waiting out its connect timeout. The failure is
# real: the target is left room for exactly one more descriptor (the provider's accepted socket), so the queue's
# domain cannot open its wait objects.
nofile_soft=$(prlimit --pid "$target_pid" --nofile --noheadings --output SOFT)
nofile_hard=$(prlimit --pid "$target_pid" --nofile --noheadings --output HARD)
open_fds=$(ls "/proc/$target_pid/fd" | wc -l)
prlimit --pid "$target_pid" --nofile=$((open_fds + 1)):"$nofile_hard"
started=$(date +%s)
if timeout 20 "$NVMF_BIN" id-ctrl "${host[@]}" -s "$port" >"$work/id-ctrl-refused.log" 2>&1; then
  fail "id-ctrl succeeded although the target could not set the queue up"
fi
elapsed=$(( $(date +%s) - started ))
prlimit --pid "$target_pid" --nofile="$nofile_soft":"$nofile_hard"
cat "$work/id-ctrl-refused.log"
grep -q "no resources" "$work/id-ctrl-refused.log" || fail "the host did not get the 'no resources' reject record"
[ "$elapsed" -lt 5 ] || fail "the refusal took ${elapsed} s (a timeout, not a reject)"
grep -q "rejecting" "$work/target1.log" || fail "the target did not log the rejected queue"
"$NVMF_BIN" id-ctrl "${host[@]}" -s "$port" >"$work/id-ctrl3.log" 2>&1 || fail "id-ctrl after the refused queue"
echo "queue set-up failure after CONNREQ: rejected with 'no resources' in ${elapsed} s, target still serving"

# A killed target, restarted on the same port while a verified run goes on: the host reconnects and resends.
timeout 60 "$NVMF_BIN" perf "${host[@]}" -s "$port" -k 1 --reconnect-delay 1 --ctrl-loss-tmo 30 -o 4096 -q 8 \
  -w randread -T 6 --quiet >"$work/reconnect.log" 2>&1 &
perf_pid=$!
sleep 2
stop_target -KILL
sleep 1
start_target target2
wait "$perf_pid" || fail "perf did not survive a killed and restarted target"
grep -q "reconnected" "$work/reconnect.log" || fail "perf did not report a reconnect"
echo "killed target and reconnect: ok"
