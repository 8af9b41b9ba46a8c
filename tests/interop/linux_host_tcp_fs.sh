#!/bin/bash
# linux_host_tcp_fs.sh: a file system on our target through the Linux NVMe/TCP host, in the VM.
# Our target serves a 256 MiB file namespace (on tmpfs). The kernel host connects (two I/O queues, digests on),
# makes ext4 on it, mounts it, copies a tree of files (/usr/include/linux, nvme and x86_64-linux-gnu: about 1200
# small files, plus a 24 MiB random file), unmounts, and fsck -fn must find it clean; nvme flush; it reconnects
# (a new controller) and the tree must still be there, identical. Last, with the host gone and our target
# stopped, the target's own file is checked directly: fsck -fn clean, and the tree extracted from it with
# debugfs (no loop device needed) is identical.
# Exit: 0 pass, 77 skip (no VM), else fail (the target's log and dmesg are printed).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
interop_vm_ready ${VMRUN_KERNEL:+--meta "$VMRUN_KERNEL"}
interop_nvmf_ready

interop_guest linux_host_tcp_fs "${INTEROP_VM_TIMEOUT:-300}" "$(cat <<'GUEST'
interop_fail_dump
nqn=nqn.2024-01.io.nvmf-toolkit:interop-fs
truncate -s 256M /run/ns1.img
target_start main --listen tcp:127.0.0.1:4420 --subsystem "$nqn" --namespace file:/run/ns1.img \
  --serial NVMFINTEROPFS01 -v
modprobe nvme-tcp
mkdir -p /tmp/src /mnt/fs /mnt/loop
cp -a /usr/include/linux /usr/include/nvme /usr/include/x86_64-linux-gnu /tmp/src/
head -c $((24 << 20)) /dev/urandom > /tmp/src/big.bin
files=$(find /tmp/src -type f | wc -l)

host_connect tcp 127.0.0.1 4420 "$nqn" -i 2 -g -G
dev=$(ns_dev_wait "$nqn" 1)
mkfs.ext4 -q -F "$dev"
mount "$dev" /mnt/fs
cp -a /tmp/src /mnt/fs/tree
sync
umount /mnt/fs
fsck.ext4 -fn "$dev" > /tmp/fsck.out 2>&1 || { cat /tmp/fsck.out; exit 1; }
nvme flush "$dev"
say "ext4 on $dev: $files files copied, unmounted, fsck clean, flushed"
host_disconnect "$nqn"

host_connect tcp 127.0.0.1 4420 "$nqn"
dev=$(ns_dev_wait "$nqn" 1)
mount -o ro "$dev" /mnt/fs
diff -r /tmp/src /mnt/fs/tree > /tmp/diff.out ||
  { echo "the tree differs after reconnecting:"; head -n 40 /tmp/diff.out; exit 1; }
umount /mnt/fs
say "reconnected as $dev: the tree is identical"
host_disconnect "$nqn"
target_stop main

fsck.ext4 -fn /run/ns1.img > /tmp/fsck.out 2>&1 || { cat /tmp/fsck.out; exit 1; }
debugfs -R "rdump /tree /mnt/loop" /run/ns1.img 2> /tmp/debugfs.out ||
  { echo "debugfs rdump failed:"; cat /tmp/debugfs.out; exit 1; }
diff -r /tmp/src /mnt/loop/tree > /tmp/diff.out ||
  { echo "the target's file holds another tree:"; head -n 40 /tmp/diff.out; exit 1; }
say "the target's own file: fsck clean, the same tree: PASS"
GUEST
)"
