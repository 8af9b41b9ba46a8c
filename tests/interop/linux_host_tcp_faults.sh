#!/bin/bash
# linux_host_tcp_faults.sh: injected backend faults seen by the Linux NVMe/TCP host, in the VM. Our target serves
# a RAM namespace whose LBAs 2048-4095 fail reads, 8192-8199 fail writes (media errors) and 12288-12295 fail
# writes for want of space (fault: backend, docs/configuration.md):
#   - dd reading the failing range fails with ENODATA ("No data available": the block layer's errno for a
#     medium error, BLK_STS_MEDIUM, which the kernel host makes of Unrecovered Read Error); the kernel log names
#     the NVMe status (sct 0x2 / sc 0x81) and the block layer a critical medium error;
#   - dd writing the write-fault range fails the same way (sct 0x2 / sc 0x80, Write Fault, a medium error too),
#     the no-space range with "No space left on device" (sct 0x0 / sc 0x81, Capacity Exceeded);
#   - around and after the faults the same controller reads and writes its other LBAs intact (the target keeps
#     serving, the host never resets the controller).
# Exit: 0 pass, 77 skip (no VM), else fail (the target's log and dmesg are printed).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
interop_vm_ready ${VMRUN_KERNEL:+--meta "$VMRUN_KERNEL"}
interop_nvmf_ready

interop_guest linux_host_tcp_faults "${INTEROP_VM_TIMEOUT:-240}" "$(cat <<'GUEST'
interop_fail_dump
nqn=nqn.2024-01.io.nvmf-toolkit:interop-faults
target_start main --listen tcp:127.0.0.1:4420 --subsystem "$nqn" --serial NVMFINTEROPFLT1 \
  --namespace 'fault:ram:16M?read_error=lba:2048-4095,write_error=lba:8192-8199,write_nospace=lba:12288-12295'
host_connect tcp 127.0.0.1 4420 "$nqn"
dev=$(ns_dev_wait "$nqn" 1)
ctrl=$(find_ctrl "$nqn")
dmesg -C

# blk-mq reads ahead through the page cache otherwise: direct I/O of exactly the blocks meant.
head -c 1M /dev/urandom > /tmp/good
dd if=/tmp/good of="$dev" bs=1M count=1 oflag=direct status=none
same_bytes "$dev" 0 /tmp/good 0 $((1 << 20))
say "LBAs 0-2047 written and read back"

if dd if="$dev" of=/dev/null bs=4096 skip=$((2048 * 512 / 4096)) count=1 iflag=direct 2> /tmp/dd.err; then
  echo "reading LBA 2048 succeeded although it is configured to fail"; exit 1
fi
grep -q "No data available" /tmp/dd.err || { echo "dd did not report a medium error:"; cat /tmp/dd.err; exit 1; }
say "dd read of LBA 2048: $(head -1 /tmp/dd.err)"

if dd if=/tmp/good of="$dev" bs=4096 seek=$((8192 * 512 / 4096)) count=1 oflag=direct 2> /tmp/dd.err; then
  echo "writing LBA 8192 succeeded although it is configured to fail"; exit 1
fi
grep -q "No data available" /tmp/dd.err || { echo "dd did not report a medium error:"; cat /tmp/dd.err; exit 1; }
say "dd write of LBA 8192: $(head -1 /tmp/dd.err)"

if dd if=/tmp/good of="$dev" bs=4096 seek=$((12288 * 512 / 4096)) count=1 oflag=direct 2> /tmp/dd.err; then
  echo "writing LBA 12288 succeeded although it is configured to find no space"; exit 1
fi
grep -q "No space left on device" /tmp/dd.err || { echo "dd did not report ENOSPC:"; cat /tmp/dd.err; exit 1; }
say "dd write of LBA 12288: $(head -1 /tmp/dd.err)"

# The kernel names each status (nvme_log_error: "... (sct 0x2 / sc 0x81) ..."); the wording before it depends
# on CONFIG_NVME_VERBOSE_ERRORS.
dmesg > /tmp/dmesg.txt
grep -E "nvme.*sct 0x2 / sc 0x81" /tmp/dmesg.txt || { echo "no Unrecovered Read Error in the kernel log:"; cat /tmp/dmesg.txt; exit 1; }
grep -E "nvme.*sct 0x2 / sc 0x80" /tmp/dmesg.txt || { echo "no Write Fault in the kernel log:"; cat /tmp/dmesg.txt; exit 1; }
grep -E "nvme.*sct 0x0 / sc 0x81" /tmp/dmesg.txt || { echo "no Capacity Exceeded in the kernel log:"; cat /tmp/dmesg.txt; exit 1; }
grep -E "critical medium error, dev nvme" /tmp/dmesg.txt || { echo "the block layer reported no medium error"; exit 1; }

# The same controller keeps serving: no reset, data around the faults intact.
expect_eq "controller state" "$(ctrl_state "$ctrl")" live
dd if=/tmp/good of="$dev" bs=4096 seek=$((8200 * 512 / 4096)) count=16 oflag=direct status=none
same_bytes "$dev" $((8200 * 512)) /tmp/good 0 $((16 * 4096))
same_bytes "$dev" 0 /tmp/good 0 $((1 << 20))
say "the controller stayed live; LBAs beside the faults read and write intact"
host_disconnect "$nqn"
target_stop main
say "PASS"
GUEST
)"
