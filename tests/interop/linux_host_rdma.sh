#!/bin/bash
# linux_host_rdma.sh: the Linux kernel's NVMe/RDMA host (nvme-rdma + nvme-cli) against our target on soft-RoCE
# (rxe on a veth pair inside the VM). Our target serves a file namespace (NSID 1, 128 MiB on tmpfs) and a RAM
# namespace (NSID 2, 64 MiB) on rdma:10.99.0.1:4420, with its discovery service on 8009. The kernel host:
#   - discovers through 8009 and 4420 (-t rdma): one record for the subsystem, trtype rdma, ipv4, port 4420;
#   - connects with two I/O queues (-i 2): queue_count 3, nvme list and id-ctrl show the configured serial,
#     model and NQN, keyed SGLs (SGLS bit 2), ICDOFF 0, IOCCSZ for 8 KiB of in-capsule data, IORCSZ 1;
#   - runs fio randwrite --verify=crc32c at 4 KiB, queue depth 16 (in-capsule writes, keyed reads with RDMA
#     WRITE) and over one block..128 KiB (keyed writes fetched with RDMA READ), on both namespaces; nvme-rdma
#     registers every keyed buffer with a fast-registration MR and asks for its invalidation (SGL subtype Fh):
#     the target must answer with SEND with Invalidate, or the host's MRs run out;
#   - makes ext4 on NSID 1, copies a tree, unmounts, fsck -fn finds it clean; the target's own file holds the
#     same file system (fsck -fn on it after the host has gone);
#   - disconnects; the target then stops on SIGTERM with status 0.
# Exit: 0 pass, 77 skip (no VM), else fail (the target's log and dmesg are printed).
# Environment: NVMF_BUILD_DIR (a build with RDMA), INTEROP_VM_TIMEOUT (default 420 s), VMRUN_KERNEL.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
interop_vm_ready ${VMRUN_KERNEL:+--meta "$VMRUN_KERNEL"}
interop_nvmf_ready

interop_guest linux_host_rdma "${INTEROP_VM_TIMEOUT:-420}" "$(cat <<'GUEST'
interop_fail_dump
. "$INTEROP_DIR/rdma_guest.sh"
nqn=nqn.2024-01.io.nvmf-toolkit:interop-rdma
sn=NVMFRDMAHOST01 mn="nvmf rdma target"
say "kernel $(uname -r)"
rdma_rxe_setup
modprobe nvme-rdma
truncate -s 128M /run/ns1.img
target_start main --listen "rdma:$RDMA_ADDR:4420" --discovery-port 8009 --subsystem "$nqn" \
  --namespace file:/run/ns1.img --namespace ram:64M --serial "$sn" --model "$mn" -v
say "our target listens on rdma:$RDMA_ADDR:4420 (discovery on 8009)"

# ---- discovery over RDMA, through the discovery port and through the I/O port
for port in 8009 4420; do
  disc=$(nvme discover -t rdma -a "$RDMA_ADDR" -s "$port" -o json)
  n=$(jq --arg nqn "$nqn" --arg a "$RDMA_ADDR" '[.records[] | select(.subnqn == $nqn and .trtype == "rdma" and
        .adrfam == "ipv4" and .traddr == $a and .trsvcid == "4420")] | length' <<<"$disc")
  [[ $n == 1 ]] || { echo "discovery -t rdma through $port: expected one record for $nqn, got $n: $disc"; exit 1; }
done
say "nvme discover -t rdma through 8009 and 4420: $nqn at rdma $RDMA_ADDR:4420"

# ---- connect with two I/O queues; identify data
host_connect rdma "$RDMA_ADDR" 4420 "$nqn" -i 2
ctrl=$(find_ctrl "$nqn")
expect_eq "state of $ctrl" "$(ctrl_state "$ctrl")" live
read -r qc < "/sys/class/nvme/$ctrl/queue_count"
expect_eq "queue_count of $ctrl (admin + 2 I/O queues)" "$qc" 3
read -r tr < "/sys/class/nvme/$ctrl/transport"
expect_eq "transport of $ctrl" "$tr" rdma
dev1=$(ns_dev_wait "$nqn" 1); dev2=$(ns_dev_wait "$nqn" 2)
f='"\(.sn | sub(" +$"; ""))|\(.mn | sub(" +$"; ""))|\(.subnqn)|\(.cntrltype)|'
f+='\(.icdoff)|\(.ioccsz)|\(.iorcsz)|\((.sgls / 4 | floor) % 2)"'
idc=$(nvme id-ctrl "/dev/$ctrl" -o json | jq -r "$f")
# IOCCSZ in 16-byte units: the 64-byte SQE plus 8 KiB of in-capsule data; SGLS bit 2: keyed SGL data blocks
expect_eq "id-ctrl sn|mn|subnqn|cntrltype|icdoff|ioccsz|iorcsz|keyed SGLs" "$idc" \
  "$sn|$mn|$nqn|1|0|$(((8192 + 64) / 16))|1|1"
list=$(nvme list -o json | jq -r '.Devices[] |
  "\(.DevicePath) \(.NameSpace) \(.SerialNumber | sub(" +$"; ""))|\(.ModelNumber | sub(" +$"; ""))|\(.PhysicalSize)"')
expect_eq "nvme list: $dev1" "$(grep "^$dev1 " <<<"$list")" "$dev1 1 $sn|$mn|$((128 << 20))"
expect_eq "nvme list: $dev2" "$(grep "^$dev2 " <<<"$list")" "$dev2 2 $sn|$mn|$((64 << 20))"
say "$ctrl live over rdma with 2 I/O queues: $dev1, $dev2; identify data as configured"

# ---- data: dd round trip, checked on the target's file too
random_file /tmp/pat 4
put_bytes /tmp/pat "$dev1" $((5 << 20))
same_bytes /tmp/pat 0 "$dev1" $((5 << 20)) $((4 << 20))
same_bytes /tmp/pat 0 /run/ns1.img $((5 << 20)) $((4 << 20))
say "4 MiB written with O_DIRECT read back identical, and is in the target's file"

for dev in "$dev1" "$dev2"; do
  lbs=$(blockdev --getss "$dev")
  run_fio "randwrite-4k-qd16" "$dev" --size=16M --rw=randwrite --bs=4k --iodepth=16
  run_fio "randwrite-$lbs-128k-qd16" "$dev" --size=16M --rw=randwrite --bsrange="$lbs-128k" --iodepth=16
done
fio --name=mixed1 --filename="$dev1" --name=mixed2 --filename="$dev2" --direct=1 --ioengine=libaio \
  --rw=randrw --bsrange=4k-128k --iodepth=16 --size=8M --verify=crc32c --verify_fatal=1 --randrepeat=0 \
  --output-format=json --output=/tmp/fio.json > /tmp/fio.out 2>&1 ||
  { echo "fio mixed on $dev1 + $dev2 failed:"; cat /tmp/fio.out; exit 1; }
jq -e '[.jobs[].error] | all(. == 0)' /tmp/fio.json > /dev/null
say "fio mixed randrw 4k..128k on both namespaces at once: no errors"
! dmesg | grep -q -i -E "nvme.*(MR|memory region|invalidat).*fail" ||
  { echo "the host logged a memory registration or invalidation failure:"; dmesg | tail -n 20; exit 1; }

# ---- a file system
mkdir -p /tmp/src /mnt/fs
cp -a /usr/include/linux /usr/include/nvme /tmp/src/
head -c $((8 << 20)) /dev/urandom > /tmp/src/big.bin
files=$(find /tmp/src -type f | wc -l)
mkfs.ext4 -q -F "$dev1"
mount "$dev1" /mnt/fs
cp -a /tmp/src /mnt/fs/tree
sync
umount /mnt/fs
fsck.ext4 -fn "$dev1" > /tmp/fsck.out 2>&1 || { cat /tmp/fsck.out; exit 1; }
mount -o ro "$dev1" /mnt/fs
diff -r /tmp/src /mnt/fs/tree > /tmp/diff.out || { echo "the tree differs:"; head -n 40 /tmp/diff.out; exit 1; }
umount /mnt/fs
nvme flush "$dev1"
say "ext4 on $dev1: $files files copied, unmounted, fsck clean, remounted identical"

# nvme-rdma recovers silently from much (a bogus remote invalidation, a timed-out command, a queue error): any of
# that during the run is a failure here, even though the I/O above succeeded after the recovery.
expect_eq "state of $ctrl after the run" "$(ctrl_state "$ctrl")" live
if dmesg | grep -E "nvme nvme[0-9]+: .*(Bogus|error recovery|timeout|Reconnecting|failed)"; then
  echo "the host logged a recovery or a transport error during the run"; exit 1
fi
host_disconnect "$nqn"
say "disconnected"
target_stop main
fsck.ext4 -fn /run/ns1.img > /tmp/fsck.out 2>&1 || { cat /tmp/fsck.out; exit 1; }
say "target stopped on SIGTERM with status 0; its file holds a clean ext4: PASS"
GUEST
)"
