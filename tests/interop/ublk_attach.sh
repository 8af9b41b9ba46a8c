#!/bin/bash
# ublk_attach.sh: `nvmf attach` serves a namespace of our target as /dev/ublkbN through the kernel's ublk driver,
# in the VM on Debian's 6.12 kernel (6.1 is built without ublk; VMRUN_KERNEL overrides).
#   1. attach --daemon prints /dev/ublkbN and returns; list-attached -o json names it; ext4 is made on it, a tree
#      of files copied in, unmounted, fsck'd clean; detach removes the device and the server exits; the file
#      system is then checked and read back from the target's own backing file (every byte came through the
#      target);
#   2. a second attach (foreground server): fio randwrite with crc32c verify, 4 KiB at QD 1 and 512 B..1 MiB at
#      QD 32; discard and write zeroes through blkdiscard;
#   3. our target is killed and restarted while fio writes at QD 32: the host reconnects and fio ends clean; then
#      the serving process is SIGKILLed under fio, the device stays, `attach --recover` resumes it (ublk user
#      recovery) and fio ends clean;
#   4. SIGTERM to the server removes the device;
#   5. against nvmet (the kernel target), one server for two namespaces (two devices): fio verify through the first,
#      data written to the second read back from nvmet's file; then 4 KiB random reads at QD 32
#      on /dev/ublkbN and on the kernel's nvme-tcp device of the same namespace, IOPS and CPU per I/O side by side
#      (printed, not checked: under TCG only the ratio means anything).
# Exit: 0 pass, 77 skip (no VM), else fail (the target's and the server's logs and dmesg are printed).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
export VMRUN_KERNEL=${VMRUN_KERNEL:-linux-image-6.12-amd64}
interop_vm_ready --meta "$VMRUN_KERNEL"
interop_nvmf_ready

interop_guest ublk_attach "${INTEROP_VM_TIMEOUT:-240}" "$(cat <<'GUEST'
interop_fail_dump
trap 'rc=$?; [[ $rc -eq 0 ]] || { for f in /run/attach*.log; do [[ -f $f ]] && { echo "=== $f"; tail -n 40 "$f"; }; done; }; _interop_on_exit $rc' EXIT
nqn=nqn.2024-01.io.nvmf-toolkit:interop-ublk
say "kernel $(uname -r)"
modprobe ublk_drv
modprobe loop 2>/dev/null || true
truncate -s 256M /run/ns1.img
args=(--listen tcp:127.0.0.1:4420 --subsystem "$nqn" --namespace file:/run/ns1.img --serial NVMFINTEROPUB01 -v)
target_start main "${args[@]}"
conn=(-t tcp -a 127.0.0.1 -s 4420 -n "$nqn" --reconnect-delay 1 --ctrl-loss-tmo 60)

# ---- 1: daemon, file system, detach, read back through the target
dev=$("$NVMF" attach "${conn[@]}" --daemon 2> /run/attach-daemon.log)
[[ $dev == /dev/ublkb* && -b $dev ]] || { echo "attach printed '$dev', not a block device"; exit 1; }
expect_eq "logical block size" "$(cat /sys/block/${dev#/dev/}/queue/logical_block_size)" 512
expect_eq "size in sectors" "$(cat /sys/block/${dev#/dev/}/size)" $((256 * 2048))
"$NVMF" list-attached -o json > /tmp/list.json
expect_eq "list-attached" "$(jq -r '.attached[0].device + " " + .attached[0].subnqn' /tmp/list.json)" "$dev $nqn"
server=$(jq -r '.attached[0].pid' /tmp/list.json)
say "attach --daemon: $dev served by pid $server"
mkfs.ext4 -q -F "$dev"
mkdir -p /mnt/u
mount "$dev" /mnt/u
cp -a /usr/include/linux /mnt/u/tree
umount /mnt/u
e2fsck -fn "$dev" > /tmp/fsck.out 2>&1 || { cat /tmp/fsck.out; exit 1; }
say "ext4 made, $(du -sm /usr/include/linux | cut -f1) MiB tree copied, unmounted, fsck clean"
"$NVMF" detach "$dev"
wait_for "! kill -0 $server 2>/dev/null" 20
[[ ! -e $dev ]] || { echo "$dev still exists after detach"; exit 1; }
expect_eq "list-attached after detach" "$("$NVMF" list-attached -o json | jq -c .attached)" "[]"
say "detached: the device is gone, the server exited"
e2fsck -fn /run/ns1.img > /tmp/fsck.out 2>&1 || { cat /tmp/fsck.out; exit 1; }
mount -o loop,ro /run/ns1.img /mnt/u
diff -r /usr/include/linux /mnt/u/tree
umount /mnt/u
say "the target's backing file holds a clean ext4 with the tree, byte for byte"

# ---- 2: fio verify, discard, write zeroes
"$NVMF" attach "${conn[@]}" -i 2 > /run/attach.out 2> /run/attach.log &
server=$!
wait_for "grep -q ublkb /run/attach.out" 20
dev=$(head -n1 /run/attach.out)
run_fio qd1-4k "$dev" --rw=randwrite --bs=4k --iodepth=1 --size=3M
run_fio qd32-mixed "$dev" --rw=randwrite --bsrange=512-1M --iodepth=32 --size=48M
blkdiscard -o 0 -l 1M "$dev"
blkdiscard -z -o 1M -l 1M "$dev"
expect_eq "zeroed range" "$(dd if="$dev" iflag=direct,skip_bytes skip=1M bs=1M count=1 status=none | tr -d '\0' | wc -c)" 0
say "blkdiscard (deallocate) and blkdiscard -z (write zeroes) done"

# ---- 3: the target killed and restarted under fio; then the serving process killed and resumed (--recover)
fio_bg() {
  fio --name="$1" --filename="$dev" --direct=1 --ioengine=libaio --rw=randwrite --bs=4k --iodepth=32 \
    --size=24M --verify=crc32c --do_verify=1 --verify_fatal=1 --output-format=json --output="/tmp/$1.json" \
    > "/tmp/$1.out" 2>&1 &
  fio_pid=$!
}
fio_wait() {
  local rc=0; wait "$fio_pid" || rc=$?
  if [[ $rc -ne 0 ]] || ! jq -e '[.jobs[].error] | all(. == 0)' "/tmp/$1.json" > /dev/null; then
    echo "fio $1 failed (status $rc)"; cat "/tmp/$1.out"; exit 1
  fi
  say "fio $1: clean ($(jq -r '.jobs[0].write.io_kbytes / 1024 | floor' "/tmp/$1.json") MiB written and verified)"
}
fio_bg restart
nap 2
target_kill main
say "target killed under fio"
nap 2
target_start main "${args[@]}"
say "target restarted"
fio_wait restart

fio_bg recover
nap 2
kill -KILL "$server"; wait "$server" 2>/dev/null || true
say "serving process killed under fio"
[[ -b $dev ]] || { echo "$dev vanished with its server"; exit 1; }
"$NVMF" attach "${conn[@]}" -i 2 --recover "$dev" > /run/attach-recover.out 2> /run/attach-recover.log &
server=$!
wait_for "grep -q ublkb /run/attach-recover.out" 20
expect_eq "resumed device" "$(head -n1 /run/attach-recover.out)" "$dev"
say "attach --recover resumed $dev"
fio_wait recover

# ---- 4: SIGTERM ends the server and removes the device
kill -TERM "$server"
rc=0; wait "$server" || rc=$?
expect_eq "server exit status" "$rc" 0
[[ ! -e $dev ]] || { echo "$dev still exists after SIGTERM"; exit 1; }
target_stop main
say "SIGTERM: the device is gone, the server exited 0"

# ---- 5: against nvmet (the kernel target), and beside the kernel's own nvme-tcp on the same namespace
knqn=nqn.2024-01.io.nvmf-toolkit:interop-ublk-nvmet
truncate -s 128M /run/nvmet.img; truncate -s 32M /run/nvmet2.img
nvmet_tcp_setup "$knqn" 4430 /run/nvmet.img
nvmet_ns_add "$knqn" 2 /run/nvmet2.img
# one process, two namespaces, one device each
"$NVMF" attach -t tcp -a 127.0.0.1 -s 4430 -n "$knqn" -N 1 -N 2 > /run/attach-nvmet.out 2> /run/attach-nvmet.log &
server=$!
wait_for "[[ \$(grep -c ublkb /run/attach-nvmet.out) == 2 ]]" 20
udev=$(sed -n 1p /run/attach-nvmet.out) udev2=$(sed -n 2p /run/attach-nvmet.out)
expect_eq "second device's size in sectors" "$(cat /sys/block/${udev2#/dev/}/size)" $((32 * 2048))
random_file /tmp/ns2 4
put_bytes /tmp/ns2 "$udev2" 0
same_bytes /tmp/ns2 0 /run/nvmet2.img 0 $((4 << 20))
say "one server, two namespaces: $udev and $udev2 (4 MiB written to NSID 2, read back from nvmet's file)"
run_fio nvmet-qd32 "$udev" --rw=randwrite --bsrange=4k-128k --iodepth=32 --size=16M   # nvmet: 4 KiB blocks on tmpfs
host_connect tcp 127.0.0.1 4430 "$knqn"
kdev=$(ns_dev_wait "$knqn" 1)
# busy jiffies (USER_HZ 100) of the whole guest (user, nice, system, irq, softirq) over a fio run: CPU per I/O of everything
# taking part (fio, our server or the kernel host, nvmet), in microseconds.
busy() { local c u n s i w irq sirq rest; read -r c u n s i w irq sirq rest < /proc/stat; echo $((u + n + s + irq + sirq)); }
measure() {
  local b0 b1 ios
  b0=$(busy)
  fio --name=ratio --filename="$1" --direct=1 --ioengine=libaio --rw=randread --bs=4k --iodepth=32 --size=64M \
    --time_based --runtime=2 --output-format=json --output=/tmp/ratio.json > /dev/null
  b1=$(busy)
  ios=$(jq -r '.jobs[0].read.total_ios' /tmp/ratio.json)
  echo "$(jq -r '.jobs[0].read.iops | floor' /tmp/ratio.json) $(( (b1 - b0) * 10000 / (ios > 0 ? ios : 1) ))"
}
# Three interleaved rounds, the best of each side (TCG timing swings with the host's load), with the spread.
u_iops=0 k_iops=0 u_low=0 k_low=0 u_cpu=0 k_cpu=0
for round in 1 2 3; do
  read -r ui uc <<< "$(measure "$udev")"
  read -r ki kc <<< "$(measure "$kdev")"
  say "  round $round: ublk $ui IOPS ($uc us CPU per I/O), kernel $ki IOPS ($kc us)"
  ((ui > u_iops)) && { u_iops=$ui; u_cpu=$uc; }
  ((ki > k_iops)) && { k_iops=$ki; k_cpu=$kc; }
  ((u_low == 0 || ui < u_low)) && u_low=$ui
  ((k_low == 0 || ki < k_low)) && k_low=$ki
done
say "4 KiB randread QD 32 against nvmet, 2 s per run, 3 interleaved rounds, best of 3 (TCG: compare the ratio only):"
say "  $udev (nvmf attach): $u_iops IOPS, $u_cpu us CPU per I/O (worst round $u_low)"
say "  $kdev (kernel nvme-tcp): $k_iops IOPS, $k_cpu us CPU per I/O (worst round $k_low)"
say "  ratio ublk/kernel: IOPS $((u_iops * 100 / (k_iops > 0 ? k_iops : 1))) %, CPU per I/O $((u_cpu * 100 / (k_cpu > 0 ? k_cpu : 1))) %"
host_disconnect "$knqn"
kill -TERM "$server"
rc=0; wait "$server" || rc=$?
expect_eq "server exit status (nvmet)" "$rc" 0
[[ ! -e $udev && ! -e $udev2 ]] || { echo "a device outlived its server's SIGTERM"; exit 1; }
nvmet_teardown
say "nvmet: fio verify through $udev, then detached by SIGTERM"
GUEST
)"
