#!/bin/bash
# rdma_loopback.sh: our NVMe/RDMA controller side under our host side (tests/fabric/rdma_loopback) on soft-RoCE
# inside the VM: CM reject status, Connect data by RDMA READ, in-capsule and keyed I/O, SGL errors, 64 commands in
# flight, disconnect and queue teardown.
# Exit: 0 pass, 77 skip (kernel or qemu cannot be had), anything else fail.
# Environment: NVMF_BUILD_DIR (default: build-rdma next to the sources), INTEROP_VM_TIMEOUT (default 300 s).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
build=${NVMF_BUILD_DIR:-$(cd "$here/../.." && pwd)/build-rdma}
loopback=$build/tests/fabric/rdma_loopback
[[ -x $loopback ]] || { echo "rdma_loopback: $loopback not built (ninja -C $build tests/fabric/rdma_loopback)";
  exit 1; }

interop_vm_ready ${VMRUN_KERNEL:+--meta "$VMRUN_KERNEL"}
start=$SECONDS
rc=0
vm_run --timeout "${INTEROP_VM_TIMEOUT:-300}" -e "LOOPBACK=$loopback" -- ". '$here/lib.sh'; . '$here/rdma_guest.sh'" \
  "$(cat <<'GUEST'
dump_on_error
say "kernel $(uname -r)"
rdma_rxe_setup
modprobe rdma_ucm
"$LOOPBACK" "$RDMA_ADDR" 4420
say "PASS"
GUEST
)" || rc=$?
echo "rdma_loopback: status ${rc}, $((SECONDS - start)) s wall (VM boot included)"
exit "$rc"
