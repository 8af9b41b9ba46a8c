#!/bin/bash
# linux_host_blk_restart.sh: our target killed (SIGKILL) in the middle of a Linux host's synchronous writes to a
# blk: namespace (a loop device in the VM), then restarted on the same device. The host (nvme-tcp,
# --reconnect-delay 1 --ctrl-loss-tmo 30) writes 32 chunks of 256 KiB one after the other with O_DIRECT|O_DSYNC
# (each completes only after FUA or a Flush), logging each chunk once dd has returned. The kill lands while
# chunks are being written; the write in flight waits in the host and completes after the restart.
# Checked: every chunk acknowledged before the kill reads back intact through the host and from the loop
# device's backing file, and so does every later one once the writer has finished.
# Exit: 0 pass, 77 skip (no VM), else fail (the target's log and dmesg are printed).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
interop_vm_ready ${VMRUN_KERNEL:+--meta "$VMRUN_KERNEL"}
interop_nvmf_ready

interop_guest linux_host_blk_restart "${INTEROP_VM_TIMEOUT:-300}" "$(cat <<'GUEST'
interop_fail_dump
nqn=nqn.2024-01.io.nvmf-toolkit:interop-blk-restart
modprobe loop 2>/dev/null || true
truncate -s 64M /run/blk.img
loopdev=$(losetup --find --show /run/blk.img)
args=(--listen tcp:127.0.0.1:4420 --subsystem "$nqn" --namespace "blk:$loopdev" --serial NVMFINTEROPBR01)
target_start main "${args[@]}"
host_connect tcp 127.0.0.1 4420 "$nqn" --reconnect-delay 1 --ctrl-loss-tmo 30
ctrl=$(find_ctrl "$nqn"); dev=$(ns_dev_wait "$nqn" 1)
chunk=$((256 << 10))
random_file /tmp/data 8
: > /tmp/acked
( for i in $(seq 0 31); do
    dd if=/tmp/data of="$dev" bs=$chunk skip="$i" seek="$i" count=1 oflag=direct,dsync conv=notrunc status=none
    echo "$i" >> /tmp/acked
  done ) &
writer=$!
wait_for "[[ \$(wc -l < /tmp/acked) -ge 6 ]]" 60
target_kill main
acked=$(wc -l < /tmp/acked)
say "target killed (SIGKILL) after $acked acknowledged chunks on $dev ($loopdev behind it)"
wait_for "[[ \$(ctrl_state $ctrl) != live ]]" 30
target_start main "${args[@]}"
wait_for "[[ \$(ctrl_state $ctrl) == live ]]" 40
say "target restarted on $loopdev; $ctrl live again"
# The chunks are written in order: the acknowledged ones are 0 .. acked-1.
expect_eq "chunks acknowledged in order" "$(head -n "$acked" /tmp/acked | tr '\n' ' ')" "$(seq -s ' ' 0 $((acked - 1))) "
same_bytes /tmp/data 0 /run/blk.img 0 $((acked * chunk))
same_bytes /tmp/data 0 "$dev" 0 $((acked * chunk))
say "the $acked chunks acknowledged before the kill read back intact (host and backing file)"
wait "$writer" || { echo "a write caught by the kill failed instead of completing after the restart"; exit 1; }
expect_eq "chunks written" "$(wc -l < /tmp/acked)" 32
same_bytes /tmp/data 0 "$dev" 0 $((32 * chunk))
same_bytes /tmp/data 0 /run/blk.img 0 $((32 * chunk))
say "all 32 chunks intact after the writer finished"
host_disconnect "$nqn"
target_stop main
losetup -d "$loopdev"
say "PASS"
GUEST
)"
