#!/bin/bash
# linux_host_rdma_restart.sh: our target dies (SIGKILL) under a connected Linux NVMe/RDMA host (nvme-rdma on
# soft-RoCE, rxe on a veth pair in the VM) and comes back on the same file namespace. The host connects with two
# I/O queues, --reconnect-delay 1 --ctrl-loss-tmo 30, writes two random 8 MiB ranges with O_DIRECT and flushes.
#   1. SIGKILL: the kernel tears the dead process's QPs down and the host sees its queues fail (a QP error or a
#      DISCONNECTED event), leaves "live" (error recovery); the target restarts (same rdma_cm port: it must be
#      able to listen on it again at once); the same controller goes back to "live", the namespace keeps its
#      block device (a namespace whose identifiers changed would be removed by the host), and every block
#      written and flushed before the kill reads back intact.
#   2. SIGKILL again, then a read and a write issued while no target runs: they wait in the host and complete
#      after the restart, the read with the right data, the write landing in the target's file.
#   3. SIGTERM with the host connected: the target closes its QPs and exits 0 within target_stop's 30 s; the
#      host reconnects to the next start.
# Exit: 0 pass, 77 skip (no VM), else fail (the target's log and dmesg are printed).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
interop_vm_ready ${VMRUN_KERNEL:+--meta "$VMRUN_KERNEL"}
interop_nvmf_ready

interop_guest linux_host_rdma_restart "${INTEROP_VM_TIMEOUT:-300}" "$(cat <<'GUEST'
interop_fail_dump
. "$INTEROP_DIR/rdma_guest.sh"
rdma_rxe_setup
modprobe nvme-rdma
nqn=nqn.2024-01.io.nvmf-toolkit:interop-rdma-restart
truncate -s 256M /run/ns1.img
args=(--listen "rdma:$RDMA_ADDR:4420" --discovery-port 0 --subsystem "$nqn" --namespace file:/run/ns1.img
  --serial NVMFRDMARS01 -v)
target_start main "${args[@]}"
host_connect rdma "$RDMA_ADDR" 4420 "$nqn" -i 2 --reconnect-delay 1 --ctrl-loss-tmo 30
ctrl=$(find_ctrl "$nqn"); dev=$(ns_dev_wait "$nqn" 1)
mib=$((1 << 20))
random_file /tmp/a 8; random_file /tmp/b 8; random_file /tmp/c 8
put_bytes /tmp/a "$dev" 0
put_bytes /tmp/b "$dev" $((100 * mib))
nvme flush "$dev"
say "$dev ($ctrl): 2 x 8 MiB written and flushed"

# ---- 1: kill, restart, reconnect, read back
target_kill main
say "target killed (SIGKILL)"
wait_for "[[ \$(ctrl_state $ctrl) != live ]]" 30
say "$ctrl left live: $(ctrl_state "$ctrl")"
target_start main "${args[@]}"
say "target restarted on the same port and file"
wait_for "[[ \$(ctrl_state $ctrl) == live ]]" 40
say "$ctrl live again"
expect_eq "block device of NSID 1 after the reconnect" "$(ns_dev_wait "$nqn" 1)" "$dev"
! dmesg | grep -q "identifiers changed" || { echo "the host saw the namespace's identifiers change"; exit 1; }
same_bytes /tmp/a 0 "$dev" 0 $((8 * mib))
same_bytes /tmp/b 0 "$dev" $((100 * mib)) $((8 * mib))
say "every block written before the kill reads back intact"

# ---- 2: I/O issued while the target is down completes after it is back
target_kill main
wait_for "[[ \$(ctrl_state $ctrl) != live ]]" 30
dd if="$dev" iflag=direct,skip_bytes skip=$((100 * mib)) bs=1M count=8 of=/tmp/during status=none &
reader=$!
dd if=/tmp/c of="$dev" oflag=direct,seek_bytes seek=$((50 * mib)) bs=1M conv=fsync,notrunc status=none &
writer=$!
nap 2
kill -0 "$reader" 2>/dev/null || { echo "the read completed with no target running"; wait "$reader" || true; exit 1; }
kill -0 "$writer" 2>/dev/null || { echo "the write completed with no target running"; wait "$writer" || true; exit 1; }
say "a read and a write wait in the host ($(ctrl_state "$ctrl")) while no target runs"
target_start main "${args[@]}"
wait_for "[[ \$(ctrl_state $ctrl) == live ]]" 40
wait "$reader" || { echo "the read issued during the outage failed"; exit 1; }
wait "$writer" || { echo "the write issued during the outage failed"; exit 1; }
cmp /tmp/b /tmp/during
same_bytes /tmp/c 0 "$dev" $((50 * mib)) $((8 * mib))
same_bytes /tmp/c 0 /run/ns1.img $((50 * mib)) $((8 * mib))
same_bytes /tmp/a 0 /run/ns1.img 0 $((8 * mib))
say "the read and the write issued during the outage completed after the restart, data intact"

# ---- 3: a clean stop (SIGTERM) under the connected host: the target tears its live QPs down and exits 0 in time
t0=$SECONDS
target_stop main
say "target stopped on SIGTERM with the host connected, in $((SECONDS - t0)) s"
wait_for "[[ \$(ctrl_state $ctrl) != live ]]" 30
target_start main "${args[@]}"
wait_for "[[ \$(ctrl_state $ctrl) == live ]]" 40
same_bytes /tmp/c 0 "$dev" $((50 * mib)) $((8 * mib))
say "$ctrl live again after the clean restart, data intact"

host_disconnect "$nqn"
target_stop main
say "PASS"
GUEST
)"
