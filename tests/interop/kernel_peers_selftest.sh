#!/bin/bash
# kernel_peers_selftest.sh: proves the interop harness. In the VM, the Linux kernel's own NVMe/TCP target
# (nvmet-tcp, configfs, a file namespace on tmpfs) listens on 127.0.0.1:4420 and the kernel's own host
# (nvme-cli + nvme-tcp) discovers it, connects, writes a random pattern, reads it back, compares and disconnects.
# Exit: 0 pass, 77 skip (kernel or qemu cannot be had), anything else fail.
# Environment: INTEROP_VM_TIMEOUT (default 600 s), VMRUN_KERNEL (another kernel, e.g. linux-image-6.12-amd64).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

interop_vm_ready ${VMRUN_KERNEL:+--meta "$VMRUN_KERNEL"}
start=$SECONDS
rc=0
vm_run --timeout "${INTEROP_VM_TIMEOUT:-600}" -- ". '$here/lib.sh'" "$(cat <<'GUEST'
dump_on_error
nqn=nqn.2024-01.org.nvmf-toolkit:selftest
say "kernel $(uname -r)"
make_backing_file /run/ns1.img 64M
nvmet_tcp_setup "$nqn" 4420 /run/ns1.img
say "nvmet-tcp target up on 127.0.0.1:4420"
modprobe nvme-tcp
disc=$(nvme discover -t tcp -a 127.0.0.1 -s 4420)
echo "$disc" | grep -E '^(trtype|subnqn|traddr|trsvcid):'
[[ $disc == *"subnqn:  $nqn"* || $disc == *"subnqn: $nqn"* ]] || { echo "discovery log lacks $nqn"; exit 1; }
say "discovered"
host_connect tcp 127.0.0.1 4420 "$nqn"
wait_for "find_ns_dev '$nqn' 1 >/dev/null" 60
dev=$(find_ns_dev "$nqn" 1)
say "connected: $dev is NSID 1 of $nqn (controller $(find_ctrl "$nqn"))"
list=$(nvme list -o json)
[[ $list == *"\"$dev\""* ]] || { echo "nvme list -o json does not show $dev:"; echo "$list"; exit 1; }
size=$(blockdev --getsize64 "$dev")
[[ $size == 67108864 ]] || { echo "$dev has $size bytes, expected 64 MiB"; exit 1; }
head -c 4194304 /dev/urandom > /tmp/pattern
dd if=/tmp/pattern of="$dev" bs=1M seek=8 oflag=direct conv=fsync status=none
dd if="$dev" of=/tmp/readback bs=1M skip=8 count=4 iflag=direct status=none
cmp /tmp/pattern /tmp/readback
cmp -n 4194304 /tmp/pattern /run/ns1.img --ignore-initial=0:8388608   # and it really landed on the target side
say "4 MiB written through nvme-tcp, read back and compared (host and target side)"
host_disconnect "$nqn"
[[ ! -e $dev ]] || wait_for "[[ ! -e $dev ]]" 30
nvmet_teardown
say "disconnected, target torn down: PASS"
GUEST
)" || rc=$?
echo "selftest: ${rc} status, $((SECONDS - start)) s wall (VM boot included)"
exit "$rc"
