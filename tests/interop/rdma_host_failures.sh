#!/bin/bash
# rdma_host_failures.sh: failures on NVMe/RDMA between our host (nvmf perf / id-ctrl -t rdma) and our target, on
# soft-RoCE (rxe on a veth pair) in the VM. Every host command runs under a timeout: a hang fails the test.
#   1. The target is SIGKILLed under a running `nvmf perf -t rdma` (reconnect delay 1 s, controller loss timeout
#      4 s): the kernel flushes the dead process's QPs, our host's queues see the QP error or the DISCONNECTED
#      event, reconnect attempts are refused (nobody listens), and perf exits non-zero with an error that names the
#      lost connection, well before its own run time is over.
#   2. The target is SIGKILLed under perf and restarted at once on the same file namespace (controller loss
#      timeout 30 s): the host reconnects and perf finishes its run without an I/O error.
#   3. Two hosts against one target (host A verifies NSID 1, host B writes NSID 2); B is SIGKILLed mid-I/O (its
#      QPs go to the error state with commands in flight): A's perf --verify finishes without an I/O or verify
#      error, a new host still connects, and the target stops cleanly on SIGTERM (the dead host's queues were torn
#      down, none is left waiting).
# Exit: 0 pass, 77 skip (no VM), else fail (the target's log and dmesg are printed).
# Environment: NVMF_BUILD_DIR (a build with RDMA), INTEROP_VM_TIMEOUT (default 360 s), VMRUN_KERNEL.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
interop_vm_ready ${VMRUN_KERNEL:+--meta "$VMRUN_KERNEL"}
interop_nvmf_ready

interop_guest rdma_host_failures "${INTEROP_VM_TIMEOUT:-360}" "$(cat <<'GUEST'
interop_fail_dump
. "$INTEROP_DIR/rdma_guest.sh"
nqn=nqn.2024-01.io.nvmf-toolkit:rdma-failures
say "kernel $(uname -r)"
rdma_rxe_setup
# rxe's packets cross the veth through the per-CPU backlog (1000 packets by default). Under emulation a host at
# 16 x 128 KiB in flight overflows it; RC traffic recovers by retransmission, but a dropped CM REQ is resent only
# after the CM response timeout (~8 s), past our host's connect timeout. A deeper backlog keeps the test about
# failures we cause, not ones the emulated network adds.
echo 100000 > /proc/sys/net/core/netdev_max_backlog
modprobe rdma_ucm
truncate -s 64M /run/ns1.img
targs=(--listen "rdma:$RDMA_ADDR:4420" --discovery-port 0 --subsystem "$nqn" --namespace file:/run/ns1.img
  --namespace ram:64M --serial NVMFRDMAFAIL01 --control-socket none -v)
conn=(--transport rdma -a "$RDMA_ADDR" -s 4420 -n "$nqn")
host_a=nqn.2014-08.org.nvmexpress:uuid:aaaaaaaa-0000-4000-8000-000000000001
host_b=nqn.2014-08.org.nvmexpress:uuid:bbbbbbbb-0000-4000-8000-000000000002
target_start main "${targs[@]}"

# perf_bg OUT TIMEOUT PERF-ARGS...: run nvmf perf in the background under a hard timeout (status 124: hung)
# A connect that fails at start-up is retried (twice): under emulation the veth can still drop a CM REQ, which
# rdma_cm resends only after its response timeout, past our connect timeout. The failures under test come later.
perf_bg() {
  local out=$1 limit=$2; shift 2
  ( for attempt in 1 2 3; do
      rc=0
      timeout -k 5 "$limit" "$NVMF" perf "${conn[@]}" --quiet --output-format json "$@" > "$out" 2> "$out.err" ||
        rc=$?
      [[ $rc != 0 ]] && grep -q '^nvmf: failed to connect' "$out.err" || break
      cp "$out.err" "$out.connect-failure-$attempt"
    done
    echo "$rc" > "$out.rc" ) &
}
perf_rc() { wait_for "[[ -s $1.rc ]]" "$2" && read -r rc < "$1.rc" && echo "$rc"; }
# I/O queue connects the target has logged so far (its log is appended to across restarts)
io_queues() { grep -c 'I/O queue [0-9]* .* connected' /run/target-main.log || true; }
# wait until the target's log shows $1 more I/O queue connects than $2 (the runs are under way)
io_queue_up() {
  wait_for "(( \$(io_queues) >= $2 + $1 ))" 45 && return 0
  local f; for f in /tmp/p*.err; do echo "=== $f"; tail -n 20 "$f"; done; return 1
}

# ---- 1: target killed under perf, never comes back: a clear error, no hang
base=$(io_queues)
perf_bg /tmp/p1 60 --hostnqn "$host_a" -q 16 -o 4096 -w randrw -T 40 --reconnect-delay 1 --ctrl-loss-tmo 4 \
  --io-timeout 5
io_queue_up 1 "$base"
nap 2
t0=$SECONDS
target_kill main
say "target killed under perf"
rc=$(perf_rc /tmp/p1 50)
(( rc != 0 && rc != 124 )) || { echo "perf after the target died: status $rc (124: hung)"; cat /tmp/p1.err; exit 1; }
(( SECONDS - t0 < 30 )) || { echo "perf took $((SECONDS - t0)) s to give up (ctrl-loss-tmo 4 s)"; exit 1; }
# the log names the QP event (DISCONNECTED, or a work request in error), the final line the status the
# caught I/O ended with (Host Pathing Error, 3h/70h)
grep -q -E 'controller disconnected|work completion error' /tmp/p1.err &&
  tail -n 1 /tmp/p1.err | grep -q -E '^nvmf perf: .*(Pathing|connect|lost)' ||
  { echo "perf's error does not say the connection was lost:"; cat /tmp/p1.err /tmp/p1; exit 1; }
say "perf gave up after $((SECONDS - t0)) s with status $rc: $(tail -n 1 /tmp/p1.err)"

# ---- 2: target killed and restarted at once under perf: the host reconnects, the run completes
target_start main "${targs[@]}"
base=$(io_queues)
perf_bg /tmp/p2 90 --hostnqn "$host_a" -q 16 -o 4096 -w randrw -T 20 --reconnect-delay 1 --ctrl-loss-tmo 30
io_queue_up 1 "$base"
nap 2
target_kill main
base=$(io_queues)
target_start main "${targs[@]}"
say "target killed under perf and restarted"
rc=$(perf_rc /tmp/p2 80)
[[ $rc == 0 ]] || { echo "perf across a target restart: status $rc"; cat /tmp/p2.err /tmp/p2; exit 1; }
jq -e '.io_errors == 0' /tmp/p2 > /dev/null || { echo "perf across a target restart: $(cat /tmp/p2)"; exit 1; }
(( $(io_queues) > base )) || { echo "the restarted target never saw the host's I/O queue come back"; exit 1; }
say "perf reconnected to the restarted target and finished: $(jq -c '{ok, io_errors}' /tmp/p2)"

# ---- 3: one host killed mid-I/O; the other keeps working, the target keeps serving
base=$(io_queues)
perf_bg /tmp/pa 120 --hostnqn "$host_a" -q 16 -o 65536 -w randwrite --verify -T 20 -P 2 --region-size 16 -N 1
io_queue_up 2 "$base"   # one host connecting at a time: fewer CM requests in flight on the emulated link
perf_bg /tmp/pb 90 --hostnqn "$host_b" -q 16 -o 131072 -w randwrite -T 60 -N 2
io_queue_up 3 "$base"
nap 2
pb=$(pgrep -f -n -- "--hostnqn $host_b")
kill -KILL "$pb"
[[ ! -s /tmp/pa.rc ]] || { echo "host A's run was over before host B was killed: the test proves nothing"; exit 1; }
say "host B (pid $pb) killed mid-I/O, host A still running"
rc=$(perf_rc /tmp/pa 110)
[[ $rc == 0 ]] || { echo "host A's perf after host B died: status $rc"; cat /tmp/pa.err /tmp/pa; exit 1; }
jq -e '.ok and .io_errors == 0 and .verify_errors == 0' /tmp/pa > /dev/null ||
  { echo "host A's perf after host B died: $(cat /tmp/pa)"; exit 1; }
say "host A finished its verified run: $(jq -c '{ok, io_errors, verify_errors}' /tmp/pa)"
id=$(timeout -k 5 30 "$NVMF" id-ctrl -t rdma -a "$RDMA_ADDR" -s 4420 -n "$nqn" -o json)
expect_eq "id-ctrl after host B died: serial" "$(jq -r '.sn' <<<"$id" | sed 's/ *$//')" NVMFRDMAFAIL01
target_stop main
say "a new host connects after host B's death; the target stopped cleanly: PASS"
GUEST
)"
