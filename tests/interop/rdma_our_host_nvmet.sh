#!/bin/bash
# rdma_our_host_nvmet.sh: our NVMe/RDMA host (tests/fabric/rdma_smoke, fabric/rdma/host_queue) against the Linux
# kernel target (nvmet-rdma) on soft-RoCE inside the VM: rdma_cm connect with the NVMe/RDMA private data, Fabrics
# Connect, Property Get CAP, enable, Identify controller and namespace, I/O queue, writes and reads in every data
# path (in-capsule, keyed with remote invalidation, multi-buffer), 16 in flight, shutdown. The data is also
# checked on the target's backing file.
# Exit: 0 pass, 77 skip (kernel or qemu cannot be had), anything else fail.
# Environment: NVMF_BUILD_DIR (default: build-rdma next to the sources), INTEROP_VM_TIMEOUT (default 300 s),
# VMRUN_KERNEL (another kernel, e.g. linux-image-6.12-amd64).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
build=${NVMF_BUILD_DIR:-$(cd "$here/../.." && pwd)/build-rdma}
smoke=$build/tests/fabric/rdma_smoke
[[ -x $smoke ]] || { echo "rdma_our_host_nvmet: $smoke not built (ninja -C $build tests/fabric/rdma_smoke)"; exit 1; }

interop_vm_ready ${VMRUN_KERNEL:+--meta "$VMRUN_KERNEL"}
start=$SECONDS
rc=0
vm_run --timeout "${INTEROP_VM_TIMEOUT:-300}" -e "SMOKE=$smoke" -- ". '$here/lib.sh'; . '$here/rdma_guest.sh'" \
  "$(cat <<'GUEST'
dump_on_error
nqn=nqn.2024-01.org.nvmf-toolkit:rdma-smoke
say "kernel $(uname -r)"
rdma_rxe_setup
make_backing_file /run/ns1.img 64M
nvmet_subsys_add "$nqn"
nvmet_ns_add "$nqn" 1 /run/ns1.img
port=$(nvmet_port_add rdma "$RDMA_ADDR" 4420)
nvmet_port_link "$port" "$nqn"
say "nvmet-rdma target up on $RDMA_ADDR:4420"
"$SMOKE" "$RDMA_ADDR" 4420 "$nqn" 1
# The 1-block write at LBA 3 (4 KiB blocks on a file namespace) matched on the host; check the target's file too.
dd if=/run/ns1.img bs=4096 skip=3 count=1 status=none | od -An -tx1 | head -1 > /tmp/lba3
[[ $(tr -d ' 0\n' < /tmp/lba3) != "" ]] || { echo "LBA 3 of the target's backing file is still zero"; exit 1; }
nvmet_teardown
say "PASS"
GUEST
)" || rc=$?
echo "rdma_our_host_nvmet: status ${rc}, $((SECONDS - start)) s wall (VM boot included)"
exit "$rc"
