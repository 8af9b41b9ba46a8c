#!/bin/bash
# nbd_attach.sh: `nvmf attach` where the kernel has no ublk (Debian's default 6.1): the same command serves the
# namespace as /dev/nbdN through the nbd driver's netlink interface, in the VM.
#   1. attach --daemon picks NBD by itself and prints /dev/nbdN; list-attached says "nbd"; ext4 made, a tree of
#      files copied, unmounted, fsck'd clean; detach disconnects it and the server exits; the file system is then
#      checked and read back from the target's own backing file;
#   2. a second attach with two connections: fio randwrite with crc32c verify, 4 KiB at QD 1 and 512 B..1 MiB at
#      QD 32; trim (blkdiscard); our target killed and restarted under fio (the host reconnects, fio ends clean);
#      SIGTERM removes the device.
# Exit: 0 pass, 77 skip (no VM), else fail (the target's and the server's logs and dmesg are printed).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
interop_vm_ready ${VMRUN_KERNEL:+--meta "$VMRUN_KERNEL"}
interop_nvmf_ready

interop_guest nbd_attach "${INTEROP_VM_TIMEOUT:-180}" "$(cat <<'GUEST'
interop_fail_dump
trap 'rc=$?; [[ $rc -eq 0 ]] || { for f in /run/attach*.log; do [[ -f $f ]] && { echo "=== $f"; tail -n 40 "$f"; }; done; }; _interop_on_exit $rc' EXIT
nqn=nqn.2024-01.io.nvmf-toolkit:interop-nbd
say "kernel $(uname -r)"
! modprobe ublk_drv 2>/dev/null || { echo "this kernel has ublk: the suite is for one without"; exit 1; }
modprobe nbd
modprobe loop 2>/dev/null || true
truncate -s 256M /run/ns1.img
args=(--listen tcp:127.0.0.1:4420 --subsystem "$nqn" --namespace file:/run/ns1.img --serial NVMFINTEROPNB01 -v)
target_start main "${args[@]}"
conn=(-t tcp -a 127.0.0.1 -s 4420 -n "$nqn" --reconnect-delay 1 --ctrl-loss-tmo 60)

# ---- 1: daemon, file system, detach, read back through the target
dev=$("$NVMF" attach "${conn[@]}" --daemon 2> /run/attach-daemon.log)
[[ $dev == /dev/nbd* && -b $dev ]] || { echo "attach printed '$dev', not an NBD device"; exit 1; }
expect_eq "size in sectors" "$(cat /sys/block/${dev#/dev/}/size)" $((256 * 2048))
"$NVMF" list-attached -o json > /tmp/list.json
expect_eq "list-attached" "$(jq -r '.attached[0].device + " " + .attached[0].kind' /tmp/list.json)" "$dev nbd"
server=$(jq -r '.attached[0].pid' /tmp/list.json)
say "attach --daemon (no ublk here): $dev served by pid $server"
mkfs.ext4 -q -F "$dev"
mkdir -p /mnt/u
mount "$dev" /mnt/u
cp -a /usr/include/asm-generic /mnt/u/tree
umount /mnt/u
e2fsck -fn "$dev" > /tmp/fsck.out 2>&1 || { cat /tmp/fsck.out; exit 1; }
say "ext4 made, tree copied, unmounted, fsck clean"
"$NVMF" detach "$dev"
wait_for "! kill -0 $server 2>/dev/null" 20
expect_eq "list-attached after detach" "$("$NVMF" list-attached -o json | jq -c .attached)" "[]"
say "detached: the server exited"
e2fsck -fn /run/ns1.img > /tmp/fsck.out 2>&1 || { cat /tmp/fsck.out; exit 1; }
mount -o loop,ro /run/ns1.img /mnt/u
diff -r /usr/include/asm-generic /mnt/u/tree
umount /mnt/u
say "the target's backing file holds a clean ext4 with the tree, byte for byte"

# ---- 2: fio verify, trim, target restart under fio, SIGTERM
"$NVMF" attach "${conn[@]}" -i 2 > /run/attach.out 2> /run/attach.log &
server=$!
wait_for "grep -q nbd /run/attach.out" 20
dev=$(head -n1 /run/attach.out)
run_fio qd1-4k "$dev" --rw=randwrite --bs=4k --iodepth=1 --size=1M
run_fio qd32-mixed "$dev" --rw=randwrite --bsrange=512-1M --iodepth=32 --size=16M
blkdiscard -o 0 -l 1M "$dev"
say "blkdiscard (trim) done"
fio --name=restart --filename="$dev" --direct=1 --ioengine=libaio --rw=randwrite --bs=4k --iodepth=32 \
  --size=6M --verify=crc32c --do_verify=1 --verify_fatal=1 --output-format=json --output=/tmp/restart.json \
  > /tmp/restart.out 2>&1 &
fio_pid=$!
nap 1
target_kill main
say "target killed under fio"
nap 1
target_start main "${args[@]}"
rc=0; wait "$fio_pid" || rc=$?
if [[ $rc -ne 0 ]] || ! jq -e '[.jobs[].error] | all(. == 0)' /tmp/restart.json > /dev/null; then
  echo "fio across the restart failed (status $rc)"; cat /tmp/restart.out; exit 1
fi
say "fio across the target restart: clean"
kill -TERM "$server"
rc=0; wait "$server" || rc=$?
expect_eq "server exit status" "$rc" 0
target_stop main
say "SIGTERM: the server exited 0"
GUEST
)"
