#!/bin/bash
# linux_host_rdma_restart.sh: our target dies (SIGKILL) under a connected Linux NVMe/RDMA host (nvme-rdma on
# soft-RoCE, rxe on a veth pair in the VM) and comes back on the same file namespace. The host connects with two
# I/O queues, --reconnect-delay 1 --ctrl-loss-tmo 30; the two kill phases are restart_guest.sh's (the kernel
# tears the dead process's QPs down, the host sees its queues fail, and the restarted target must listen on the
# same rdma_cm port again at once). Then:
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
. "$INTEROP_DIR/restart_guest.sh"
restart_kill_phases "$nqn" "${args[@]}"

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
