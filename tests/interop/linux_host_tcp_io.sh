#!/bin/bash
# linux_host_tcp_io.sh: fio with crc32c verification through the Linux NVMe/TCP host against our target, in the
# VM. One subsystem, a file namespace (NSID 1, 256 MiB on tmpfs) and a RAM namespace (NSID 2, 64 MiB).
#   - connected with two I/O queues: random writes of 4 KiB and of one block..1 MiB (bsrange 512-1M), queue depth 1 and 32,
#     then every block read back and verified (fio --verify=crc32c --verify_fatal), on both namespaces;
#   - connected again with header and data digests: the one block..1 MiB run at depth 32 on both namespaces, plus
#     a mixed random read/write run with both namespaces at once;
#   - the file namespace's content, read by the host, equals the target's file byte for byte.
# Sizes are small (the guest is software-emulated); this is a correctness run, not a benchmark.
# Exit: 0 pass, 77 skip (no VM), else fail (the target's log, fio's output and dmesg are printed).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
interop_vm_ready ${VMRUN_KERNEL:+--meta "$VMRUN_KERNEL"}
interop_nvmf_ready

interop_guest linux_host_tcp_io "${INTEROP_VM_TIMEOUT:-420}" "$(cat <<'GUEST'
interop_fail_dump
nqn=nqn.2024-01.io.nvmf-toolkit:interop-io
size=32M
truncate -s 256M /run/ns1.img
target_start main --listen tcp:127.0.0.1:4420 --subsystem "$nqn" \
  --namespace file:/run/ns1.img --namespace ram:64M --serial NVMFINTEROPIO01 -v
modprobe nvme-tcp


host_connect tcp 127.0.0.1 4420 "$nqn" -i 2
dev1=$(ns_dev_wait "$nqn" 1); dev2=$(ns_dev_wait "$nqn" 2)
for dev in "$dev1" "$dev2"; do
  lbs=$(blockdev --getss "$dev")   # the block range starts at one logical block (512 B unless configured)
  for qd in 1 32; do
    run_fio "randwrite-4k-qd$qd" "$dev" --size="$size" --rw=randwrite --bs=4k --iodepth="$qd"
    run_fio "randwrite-$lbs-1M-qd$qd" "$dev" --size="$size" --rw=randwrite --bsrange="$lbs-1M" --iodepth="$qd"
  done
done
host_disconnect "$nqn"

host_connect tcp 127.0.0.1 4420 "$nqn" -i 2 -g -G
dev1=$(ns_dev_wait "$nqn" 1); dev2=$(ns_dev_wait "$nqn" 2)
for dev in "$dev1" "$dev2"; do
  lbs=$(blockdev --getss "$dev")
  run_fio "digests-randwrite-$lbs-1M-qd32" "$dev" --size="$size" --rw=randwrite --bsrange="$lbs-1M" --iodepth=32
done
# both namespaces at once, reads and writes mixed (verify reads back each job's own writes at the end)
fio --name=mixed1 --filename="$dev1" --name=mixed2 --filename="$dev2" --direct=1 --ioengine=libaio \
  --rw=randrw --bsrange=4k-128k --iodepth=16 --size=16M --verify=crc32c --verify_fatal=1 --randrepeat=0 \
  --output-format=json --output=/tmp/fio.json > /tmp/fio.out 2>&1 ||
  { echo "fio mixed on $dev1 + $dev2 failed:"; cat /tmp/fio.out; jq -c '.jobs[] | {jobname, error}' /tmp/fio.json; exit 1; }
jq -e '[.jobs[].error] | all(. == 0)' /tmp/fio.json > /dev/null
say "fio mixed randrw on $dev1 and $dev2 at once with digests: no errors"
nvme flush "$dev1"
# the whole file namespace as the host reads it, against the target's file
same_bytes "$dev1" 0 /run/ns1.img 0 $((256 << 20))
say "$dev1 (256 MiB) equals the target's file byte for byte"
host_disconnect "$nqn"
target_stop main
say "PASS"
GUEST
)"
