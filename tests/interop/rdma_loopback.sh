#!/bin/bash
# rdma_loopback.sh: our NVMe/RDMA controller side under our host side (tests/fabric/rdma_loopback) on soft-RoCE
# inside the VM: CM reject status, Connect data by RDMA READ, in-capsule and keyed I/O, SGL errors, 64 commands in
# flight, disconnect and queue teardown. Then the allocation-free test (tests/perf) over NVMe/RDMA: a steady mix of
# verified 4 KiB and 128 KiB I/O with the RAM and the file backend allocates nothing on either side.
# Exit: 0 pass, 77 skip (kernel or qemu cannot be had), anything else fail.
# Environment: NVMF_BUILD_DIR (default: build-rdma next to the sources), INTEROP_VM_TIMEOUT (default 300 s).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
build=${NVMF_BUILD_DIR:-$(cd "$here/../.." && pwd)/build-rdma}
loopback=$build/tests/fabric/rdma_loopback
alloc=$build/tests/perf/test_perf_allocation_free_io
for exe in "$loopback" "$alloc"; do
  [[ -x $exe ]] || { echo "rdma_loopback: $exe not built (ninja -C $build ${exe#"$build"/})"; exit 1; }
done

interop_vm_ready ${VMRUN_KERNEL:+--meta "$VMRUN_KERNEL"}
start=$SECONDS
rc=0
vm_run --timeout "${INTEROP_VM_TIMEOUT:-300}" -e "LOOPBACK=$loopback" -e "ALLOC=$alloc" -- ". '$here/lib.sh'; . '$here/rdma_guest.sh'" \
  "$(cat <<'GUEST'
dump_on_error
say "kernel $(uname -r)"
rdma_rxe_setup
modprobe rdma_ucm
"$LOOPBACK" "$RDMA_ADDR" 4420
# The RDMA cases only (NVMF_TEST_RDMA_ADDR); the test fails if none ran.
alloc_rc=0
NVMF_TEST_RDMA_ADDR=$RDMA_ADDR "$ALLOC" --gtest_filter='*rdma_*' > /tmp/alloc.log 2>&1 || alloc_rc=$?
tail -n 20 /tmp/alloc.log
[ "$alloc_rc" = 0 ] && grep -q '^\[  PASSED  \] 2 tests' /tmp/alloc.log ||
  { say "FAIL: allocation-free I/O over RDMA (status $alloc_rc, two RDMA cases expected)"; exit 1; }
say "PASS"
GUEST
)" || rc=$?
echo "rdma_loopback: status ${rc}, $((SECONDS - start)) s wall (VM boot included)"
exit "$rc"
