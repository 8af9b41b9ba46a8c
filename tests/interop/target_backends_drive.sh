#!/bin/bash
# target_backends_drive.sh: our target in front of a real NVMe drive (qemu's emulated NVMe controller, attached
# with vmrun --nvme-drive), through both drive-facing backends:
#   blk:/dev/nvme0n1   the block device (O_DIRECT io_uring, RWF_DSYNC for FUA, fdatasync for Flush)
#   nvme:/dev/ng0n1    the generic character device (io_uring NVMe passthrough: the host's commands go to the
#                      drive as they are)
# For each: start `nvmf target` on 127.0.0.1 (no discovery port); with our own host tools write 1 MiB of random
# data (128 KiB commands, some with FUA), Flush, Compare it (a match succeeds; a mismatch fails with the
# drive's Compare Failure), read it back through the target, write zeroes over part of a second pattern, check
# Identify Namespace (capacity and block size of the drive); run `nvmf perf --verify` on its own region; stop the
# target; then read the drive directly (dd iflag=direct from /dev/nvme0n1) and compare. Then the Linux host
# (nvme-tcp over 127.0.0.1, two I/O queues) in front of each backend: fio randwrite with crc32c verification,
# 4 KiB at depth 16 and one block..128 KiB at depth 16 (16 MiB each); through nvme: also Identify (capacity, an
# NGUID of its own) and O_DIRECT writes with fsync. Once every target has stopped, the same fio jobs in verify-only
# mode read the drive directly: what the kernel host wrote through our target is on the drive. After the VM exits,
# the host checks that the image file holds the bytes of our own tools' writes.
# Exit: 0 pass, 77 skip (no VM), else fail.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
interop_vm_ready ${VMRUN_KERNEL:+--meta "$VMRUN_KERNEL"}
interop_nvmf_ready

work=$(mktemp -d /var/tmp/nvmf-drive.XXXXXX)
trap 'rm -rf "$work"' EXIT
img=$work/drive.img
truncate -s 256M "$img"
# The patterns come from the host so that it can check the image afterwards: 1 MiB each, per backend.
for b in blk nvme; do
  head -c $((1 << 20)) /dev/urandom > "$work/$b.pat"
  head -c $((256 << 10)) /dev/urandom > "$work/$b.zpat"
done
# Byte offsets on the drive (512-byte LBAs) of the data and of the write-zeroes region; perf uses the first 4 MiB.
declare -A data_off=([blk]=$((8 << 20)) [nvme]=$((40 << 20)))
declare -A zero_off=([blk]=$((12 << 20)) [nvme]=$((44 << 20)))

rc=0
t0=$SECONDS
# interop_guest's settings, plus the drive
VMRUN_APPEND="hardened_usercopy=off${VMRUN_APPEND:+ $VMRUN_APPEND}" vm_run --timeout "${INTEROP_VM_TIMEOUT:-330}" \
  --nvme-drive "$img" -e "NVMF=$NVMF" -e "INTEROP_WATCHDOG=${INTEROP_WATCHDOG:-300}" -- ". '$INTEROP_DIR/lib.sh'" "$(cat <<GUEST
work=$work
declare -A data_off=([blk]=${data_off[blk]} [nvme]=${data_off[nvme]})
declare -A zero_off=([blk]=${zero_off[blk]} [nvme]=${zero_off[nvme]})
GUEST
)" "$(cat <<'GUEST'
interop_fail_dump
nqn=nqn.2024-01.io.nvmf-toolkit:drive
port=4430
[[ -b /dev/nvme0n1 && -c /dev/ng0n1 ]] || { echo "no emulated drive (/dev/nvme0n1, /dev/ng0n1)"; ls /dev; exit 1; }
drive_blocks=$(( $(blockdev --getsize64 /dev/nvme0n1) / 512 ))
say "drive: $(< /sys/class/nvme/nvme0/model) $(blockdev --getss --getsize64 /dev/nvme0n1 | paste -sd ' ') (kernel $(uname -r))"
host=(-s "$port" -n "$nqn" -k 0)
# Our host tools print "write: Success" on stderr: keep the output for failures only.
run() { "$@" > /tmp/run.out 2>&1 || { local rc=$?; echo "FAILED ($rc): $*"; cat /tmp/run.out; return "$rc"; }; }
cpu_ticks() { local s; read -r s < "/proc/$1/stat"; s=${s##*) }; set -- $s; echo $(( ${12} + ${13} )); }
chunk=$((128 << 10))

for b in blk nvme; do
  case $b in blk) spec=blk:/dev/nvme0n1;; nvme) spec=nvme:/dev/ng0n1;; esac
  target_start "$b" --listen "tcp:127.0.0.1:$port" --discovery-port 0 --subsystem "$nqn" --namespace "$spec" -v
  grep -m1 "namespace 1 = " "/run/target-$b.log" | sed 's/^/  /'

  # Identify Namespace through the target: the drive's capacity and 512-byte blocks
  read -r nsze ds <<<"$("$NVMF" id-ns "${host[@]}" -o json | jq -r '"\(.nsze) \(.lbafs[.flbas % 16].ds)"')"
  expect_eq "$spec: nsze | block size" "$nsze|$((1 << ds))" "$drive_blocks|512"

  # 1 MiB in 128 KiB Writes, every other one with FUA
  off=${data_off[$b]} pat=$work/$b.pat
  for ((i = 0; i < 8; i++)); do
    dd if="$pat" of=/tmp/piece bs=$chunk skip=$i count=1 status=none
    fua=(); (( i % 2 )) && fua=(-f)
    run "$NVMF" write "${host[@]}" -S $(( (off + i * chunk) / 512 )) -z $chunk -d /tmp/piece "${fua[@]}"
  done
  run "$NVMF" flush "${host[@]}"
  # Compare: the data matches; one flipped byte makes the drive (or, for blk:, the target) report Compare Failure
  dd if="$pat" of=/tmp/piece bs=$chunk count=1 status=none
  run "$NVMF" compare "${host[@]}" -S $((off / 512)) -z $chunk -d /tmp/piece
  printf '\xff' | dd of=/tmp/piece bs=1 seek=1000 conv=notrunc status=none
  if out=$("$NVMF" compare "${host[@]}" -S $((off / 512)) -z $chunk -d /tmp/piece 2>&1); then
    dd if="$pat" bs=1 skip=1000 count=1 status=none | od -An -tx1
    echo "$spec: Compare with a changed byte succeeded"; exit 1
  fi
  [[ $out == *"SCT 2h SC 85h"* ]] || { echo "$spec: mismatching Compare: expected SCT 2h SC 85h, got: $out"; exit 1; }
  # Read back through the target
  for ((i = 0; i < 8; i++)); do
    run "$NVMF" read "${host[@]}" -S $(( (off + i * chunk) / 512 )) -z $chunk -d /tmp/back.$i
  done
  cat /tmp/back.{0..7} > /tmp/back
  cmp /tmp/back "$pat"
  say "$spec: 1 MiB written (half FUA), flushed, compared (match ok, mismatch SCT 2h SC 85h) and read back"

  # Write Zeroes over 64 KiB in the middle of a 256 KiB pattern
  zoff=${zero_off[$b]} zpat=$work/$b.zpat
  for ((i = 0; i < 2; i++)); do
    dd if="$zpat" of=/tmp/piece bs=$chunk skip=$i count=1 status=none
    run "$NVMF" write "${host[@]}" -S $(( (zoff + i * chunk) / 512 )) -z $chunk -d /tmp/piece
  done
  run "$NVMF" write-zeroes "${host[@]}" -S $(( (zoff + chunk - 32768) / 512 )) -c 127
  run "$NVMF" dsm "${host[@]}" --slbs $(( (zoff + (1 << 20)) / 512 )) --blocks 256 --ad
  say "$spec: Write Zeroes over 64 KiB; Dataset Management deallocate of 128 KiB: success"

  # Concurrent verified I/O in the first 4 MiB (below the data)
  "$NVMF" perf -s "$port" -n "$nqn" -w randrw -q 16 -o 65536 -T 3 --verify --region-size 4 --quiet \
    > /tmp/perf.out 2>&1 ||
    { cat /tmp/perf.out; exit 1; }
  grep -q "verify: [1-9][0-9]* reads checked, 0 mismatches" /tmp/perf.out || { cat /tmp/perf.out; exit 1; }
  say "$spec: perf --verify (randrw, 64 KiB, depth 16, first 4 MiB): $(grep -m1 '^verify:' /tmp/perf.out)"
  # Idle, the target sleeps: the passthrough rings are watched by a poll that is only armed with I/O in flight
  pid=$(target_pid "$b"); t1=$(cpu_ticks "$pid"); nap 2; t2=$(cpu_ticks "$pid")
  (( t2 - t1 <= 20 )) || { echo "$spec: the idle target used $((t2 - t1)) CPU ticks in 2 s"; exit 1; }
  say "$spec: idle target: $((t2 - t1)) CPU ticks in 2 s"
  target_stop "$b"

  # The drive itself holds the data
  same_bytes "$pat" 0 /dev/nvme0n1 "$off" $((1 << 20))
  head -c 65536 /dev/zero > /tmp/zero
  same_bytes "$zpat" 0 /dev/nvme0n1 "$zoff" $((chunk - 32768))
  same_bytes /tmp/zero 0 /dev/nvme0n1 $((zoff + chunk - 32768)) 65536
  same_bytes "$zpat" $((chunk + 32768)) /dev/nvme0n1 $((zoff + chunk + 32768)) $((chunk - 32768))
  say "$spec: after the target stopped, /dev/nvme0n1 holds the data and the zeroes"
done
# The Linux host (nvme-tcp) in front of each backend: fio randwrite with crc32c verification, 4 KiB at depth 16
# and one block..128 KiB at depth 16, each in its own 16 MiB region above the data written so far.
# fio_job BACKEND 4k|512-128k: the job's arguments. A fixed seed per job, so that after the targets stop the same
# job in verify-only mode replays its offsets and sizes against the drive itself (/dev/nvme0n1).
declare -A fio_off=([blk]=96 [nvme]=128)   # MiB
fio_job() {
  case $2 in
    4k) echo "--rw=randwrite --bs=4k --iodepth=16 --offset=${fio_off[$1]}M --size=16M --randseed=${fio_off[$1]}";;
    512-128k) echo "--rw=randwrite --bsrange=512-128k --iodepth=16 --offset=$((fio_off[$1] + 16))M --size=16M" \
                   "--randseed=$((fio_off[$1] + 16))";;
  esac
}
for b in blk nvme; do
  case $b in blk) spec=blk:/dev/nvme0n1;; nvme) spec=nvme:/dev/ng0n1;; esac
  target_start "kh-$b" --listen "tcp:127.0.0.1:$port" --discovery-port 0 --subsystem "$nqn" --namespace "$spec"
  host_connect tcp 127.0.0.1 "$port" "$nqn" -i 2
  dev=$(ns_dev_wait "$nqn" 1)
  [[ $dev != /dev/nvme0n1 ]] || { echo "the fabrics namespace took the drive's name"; exit 1; }
  expect_eq "kernel host: logical block size of $dev ($spec)" "$(blockdev --getss "$dev")" 512
  for job in 4k 512-128k; do
    run_fio "$b-randwrite-$job-qd16" "$dev" $(fio_job "$b" "$job")
  done
  ! dmesg | grep -E "I/O error|blk_update_request" || { echo "the host logged I/O errors on $dev"; exit 1; }
  [[ $b == blk ]] || break   # the nvme: target stays up for the checks below
  host_disconnect "$nqn"
  target_stop "kh-$b"
done
# ... still connected through nvme:/dev/ng0n1: O_DIRECT writes, fsync (Flush), Identify through it
read -r fabric_nguid fabric_nsze <<<"$(nvme id-ns "$dev" -o json | jq -r '"\(.nguid) \(.nsze)"')"
drive_nguid=$(nvme id-ns /dev/nvme0n1 -o json | jq -r .nguid)
expect_eq "kernel host: nsze of $dev" "$fabric_nsze" "$drive_blocks"
[[ $fabric_nguid != "$drive_nguid" ]] || { echo "$dev reports the drive's own NGUID $drive_nguid"; exit 1; }
put_bytes "$work/nvme.zpat" "$dev" $((72 << 20))
same_bytes "$work/nvme.zpat" 0 "$dev" $((72 << 20)) $((256 << 10))
host_disconnect "$nqn"
target_stop kh-nvme
same_bytes "$work/nvme.zpat" 0 /dev/nvme0n1 $((72 << 20)) $((256 << 10))
say "kernel host through nvme:/dev/ng0n1: $dev (NGUID $fabric_nguid, not the drive's), O_DIRECT + fsync data on the drive"
# What fio wrote through the Linux host and our target is on the drive: the same jobs, verify only, read directly
for b in blk nvme; do
  for job in 4k 512-128k; do
    run_fio "drive-verify-$b-$job" /dev/nvme0n1 $(fio_job "$b" "$job") --verify_only=1
    [[ $(jq '.jobs[0].read.io_kbytes' /tmp/fio.json) -ge 16384 ]] ||
      { echo "verify-only of $b $job on /dev/nvme0n1 read $(jq '.jobs[0].read.io_kbytes' /tmp/fio.json) KiB"; exit 1; }
  done
done

# Refused at start, with the reason: a block device given to nvme:, which wants the generic character device
if out=$(timeout 30 "$NVMF" target --listen "tcp:127.0.0.1:$port" --discovery-port 0 --subsystem "$nqn" \
         --namespace nvme:/dev/nvme0n1 2>&1); then
  echo "nvme:/dev/nvme0n1 was accepted"; exit 1
fi
[[ $out == *"/dev/nvme0n1"*"not a character device"* ]] || { echo "unclear refusal of nvme:/dev/nvme0n1: $out"; exit 1; }
say "nvme:/dev/nvme0n1 refused: $(tail -n 1 <<<"$out")"
say "PASS (in the guest)"
GUEST
)" || rc=$?
echo "target_backends_drive: guest status $rc, $((SECONDS - t0)) s wall (VM boot included)"
[[ $rc -eq 0 ]] || exit "$rc"

# The host side: the image holds what the guest wrote through both targets.
for b in blk nvme; do
  cmp <(dd if="$img" iflag=skip_bytes,count_bytes skip="${data_off[$b]}" count=$((1 << 20)) status=none) "$work/$b.pat"
  cmp <(dd if="$img" iflag=skip_bytes,count_bytes skip="${zero_off[$b]}" count=$((96 << 10)) status=none) \
    <(head -c $((96 << 10)) "$work/$b.zpat")
  cmp <(dd if="$img" iflag=skip_bytes,count_bytes skip=$((zero_off[$b] + (96 << 10))) count=65536 status=none) \
    <(head -c 65536 /dev/zero)
done
cmp <(dd if="$img" iflag=skip_bytes,count_bytes skip=$((72 << 20)) count=$((256 << 10)) status=none) "$work/nvme.zpat"
echo "target_backends_drive: the image holds the data written through blk: and nvme: (checked on the host)"
