#!/bin/bash
# linux_host_tcp_basic.sh: the Linux kernel's NVMe/TCP host (nvme-tcp + nvme-cli) against our target, in the VM.
# Our target serves one subsystem with a file namespace (NSID 1, 256 MiB on tmpfs) and a RAM namespace (NSID 2,
# 64 MiB), a discovery service on 8009 and I/O on 4420. The kernel host:
#   - discovers through 8009 and through the I/O port 4420; the log names our subsystem on tcp/127.0.0.1/4420;
#   - connects plain, with header and data digests (-g -G) and with two I/O queues (-i 2); each time the
#     identify data (nvme list, id-ctrl, id-ns) must show the configured serial, model, NQN, sizes and block size,
#     and data written with O_DIRECT must read back identical (and, for the file namespace, be in the file);
#   - reads past the end (LBA Out of Range), asks for a log page nobody implements (an error status, not a hang),
#     flushes, discards (blkdiscard) and zeroes (blkdiscard -z) a range: zeros read back, neighbours untouched;
#   - is refused when --allow-host names another host, accepted under the allowed host NQN;
#   - disconnects; the target then stops on SIGTERM with status 0.
# Exit: 0 pass, 77 skip (no VM), else fail (the target's log and dmesg are printed).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
interop_vm_ready ${VMRUN_KERNEL:+--meta "$VMRUN_KERNEL"}
interop_nvmf_ready

interop_guest linux_host_tcp_basic "${INTEROP_VM_TIMEOUT:-300}" "$(cat <<'GUEST'
interop_fail_dump
nqn=nqn.2024-01.io.nvmf-toolkit:interop-basic
sn=NVMFINTEROP0001 mn="nvmf interop target"
file_size=$((256 << 20)) ram_size=$((64 << 20))
truncate -s "$file_size" /run/ns1.img
target_args=(--listen tcp:127.0.0.1:4420 --discovery-port 8009 --subsystem "$nqn"
  --namespace file:/run/ns1.img --namespace ram:64M --serial "$sn" --model "$mn" -v)
target_start main "${target_args[@]}"
say "our target is up (kernel $(uname -r))"
modprobe nvme-tcp

# ---- discovery: through the discovery port and through the I/O port
for port in 8009 4420; do
  disc=$(nvme discover -t tcp -a 127.0.0.1 -s "$port" -o json)
  n=$(jq --arg nqn "$nqn" '[.records[] | select(.subnqn == $nqn and .trtype == "tcp" and .adrfam == "ipv4"
        and .traddr == "127.0.0.1" and .trsvcid == "4420" and .subtype == "nvme subsystem")] | length' <<<"$disc")
  if [[ $n != 1 ]]; then
    echo "discovery through port $port: expected one entry for $nqn on tcp/ipv4/127.0.0.1/4420, got $n:"
    echo "$disc"; exit 1
  fi
  bad=$(jq '[.records[] | select(.trsvcid == "8009" and .subtype == "nvme subsystem")] | length' <<<"$disc")
  expect_eq "NVM subsystem entries that point at the discovery port (via $port)" "$bad" 0
done
say "discovery log through 8009 and 4420 names $nqn at tcp 127.0.0.1:4420"

# ---- what every connection must show
check_identity() {   # $1: label
  local ctrl dev1 dev2 list idc nn ns ds1 ds2 nsze1 nsze2 ncap1 dev nsid size d
  ctrl=$(find_ctrl "$nqn")
  expect_eq "controllers for $nqn" "$(wc -w <<<"$ctrl")" 1
  expect_eq "state of $ctrl" "$(ctrl_state "$ctrl")" live
  dev1=$(ns_dev_wait "$nqn" 1); dev2=$(ns_dev_wait "$nqn" 2)
  # one jq per document: processes start slowly in the guest
  idc=$(nvme id-ctrl "/dev/$ctrl" -o json |
    jq -r '"\(.sn | sub(" +$"; ""))|\(.mn | sub(" +$"; ""))|\(.subnqn)|\(.cntrltype)|\(.nn)"')
  expect_eq "id-ctrl sn|mn|subnqn|cntrltype (1: I/O controller)" "${idc%|*}" "$sn|$mn|$nqn|1"
  nn=${idc##*|}
  (( nn >= 2 )) || { echo "id-ctrl nn $nn < 2"; return 1; }
  ns='"\(.lbafs[.flbas % 16].ds) \(.nsze) \(.ncap)"'
  read -r ds1 nsze1 ncap1 <<<"$(nvme id-ns "$dev1" -o json | jq -r "$ns")"
  read -r ds2 nsze2 _ <<<"$(nvme id-ns "$dev2" -o json | jq -r "$ns")"
  expect_eq "NSID 1 nsze * block size" "$(( nsze1 << ds1 ))" "$file_size"
  expect_eq "NSID 2 nsze * block size" "$(( nsze2 << ds2 ))" "$ram_size"
  expect_eq "NSID 1 ncap" "$ncap1" "$nsze1"
  expect_eq "NSID 1 block size | size, as the kernel sees it" "$(blockdev --getss --getsize64 "$dev1" | paste -sd '|')" \
    "$((1 << ds1))|$file_size"
  expect_eq "NSID 2 block size | size, as the kernel sees it" "$(blockdev --getss --getsize64 "$dev2" | paste -sd '|')" \
    "$((1 << ds2))|$ram_size"
  list=$(nvme list -o json | jq -r '.Devices[] |
    "\(.DevicePath) \(.NameSpace) \(.SerialNumber | sub(" +$"; ""))|\(.ModelNumber | sub(" +$"; ""))|\(.PhysicalSize)"')
  for d in "$dev1:1:$file_size" "$dev2:2:$ram_size"; do
    IFS=: read -r dev nsid size <<<"$d"
    expect_eq "nvme list: $dev" "$(grep "^$dev " <<<"$list")" "$dev $nsid $sn|$mn|$size"
  done
  say "$1: $ctrl live, $dev1 (NSID 1, $((1 << ds1)) B blocks) and $dev2 (NSID 2, $((1 << ds2)) B blocks):" \
    "identify data as configured"
}

# dd through the host, read back with O_DIRECT and compare; the file namespace's bytes must be in the file too
check_data() {   # $1: label
  local dev1 dev2 off
  dev1=$(find_ns_dev "$nqn" 1); dev2=$(find_ns_dev "$nqn" 2)
  random_file /tmp/pat 4
  for off in $((3 << 20)) $((200 << 20)) $((file_size - (4 << 20))); do
    put_bytes /tmp/pat "$dev1" "$off"
    same_bytes /tmp/pat 0 "$dev1" "$off" $((4 << 20))
    same_bytes /tmp/pat 0 /run/ns1.img "$off" $((4 << 20))
  done
  put_bytes /tmp/pat "$dev2" $((60 << 20))
  same_bytes /tmp/pat 0 "$dev2" $((60 << 20)) $((4 << 20))
  # small and odd-sized transfers: one block, 3 blocks, 68 KiB (crosses in-capsule and R2T sizes)
  for bytes in 512 1536 69632; do
    head -c "$bytes" /dev/urandom > /tmp/small
    put_bytes /tmp/small "$dev2" $((1 << 20))
    same_bytes /tmp/small 0 "$dev2" $((1 << 20)) "$bytes"
  done
  say "$1: data written through nvme-tcp reads back identical (and is in the target's file)"
}

# ---- 1: plain connection, with the error and data-management checks
host_connect tcp 127.0.0.1 4420 "$nqn"
check_identity "plain"
check_data "plain"
ctrl=$(find_ctrl "$nqn"); dev1=$(find_ns_dev "$nqn" 1); dev2=$(find_ns_dev "$nqn" 2)
for dev in "$dev1" "$dev2"; do
  nsze=$(nvme id-ns "$dev" -o json | jq -r .nsze)
  out=$(nvme read "$dev" --start-block="$nsze" --block-count=0 --data-size="$(blockdev --getss "$dev")" \
        --data=/dev/null 2>&1) && { echo "$dev: read of LBA $nsze (one past the end) succeeded: $out"; exit 1; }
  expect_eq "$dev: status of a read past the end (SCT/SC; 0x080 LBA Out of Range) in: $out" \
    "$(nvme_cli_status "$out")" 0x080
done
out=$(nvme get-log "/dev/$ctrl" --log-id=0xbf --log-len=512 2>&1) && {
  echo "Get Log Page 0xBF (reserved) succeeded: $out"; exit 1; }
[[ $(nvme_cli_status "$out") == 0x* ]] || { echo "Get Log Page 0xBF: expected an NVMe status, got: $out"; exit 1; }
say "errors: read past the end -> LBA Out of Range; reserved log page -> ${out#*NVMe status: }"
nvme smart-log "/dev/$ctrl" -o json > /dev/null
nvme flush "$dev1"; nvme flush "$dev2"
say "smart-log and flush on both namespaces: success"

# discard (blkdiscard) and write zeroes (blkdiscard -z) inside a patterned range; the neighbours must survive
for dev in "$dev1" "$dev2"; do
  sysb=/sys/block/${dev#/dev/}/queue
  read -r dmax < "$sysb/discard_max_bytes"; read -r zmax < "$sysb/write_zeroes_max_bytes"
  [[ $dmax -gt 0 ]] || { echo "$dev: the kernel sees no discard support (ONCS DSM not set by the target)"; exit 1; }
  dlfeat=$(nvme id-ns "$dev" -o json | jq -r .dlfeat)
  random_file /tmp/pat 16
  put_bytes /tmp/pat "$dev" $((16 << 20))
  blkdiscard -o $((20 << 20)) -l $((4 << 20)) "$dev"
  blkdiscard -z -o $((24 << 20)) -l $((4 << 20)) "$dev"
  head -c $((4 << 20)) /dev/zero > /tmp/zero
  same_bytes /tmp/zero 0 "$dev" $((24 << 20)) $((4 << 20))
  if (( (dlfeat & 7) == 1 )); then
    same_bytes /tmp/zero 0 "$dev" $((20 << 20)) $((4 << 20))
    what="deallocated range reads zeros (DLFEAT $dlfeat)"
  else
    what="DLFEAT $dlfeat promises nothing for deallocated reads: not checked"
  fi
  same_bytes /tmp/pat 0 "$dev" $((16 << 20)) $((4 << 20))
  same_bytes /tmp/pat $((12 << 20)) "$dev" $((28 << 20)) $((4 << 20))
  [[ $dev != "$dev1" ]] || same_bytes /tmp/zero 0 /run/ns1.img $((24 << 20)) $((4 << 20))
  say "$dev: blkdiscard -z zeroes (write_zeroes_max_bytes $zmax), $what, neighbours intact"
done
host_disconnect "$nqn"
say "disconnected"

# ---- 2: header and data digests
host_connect tcp 127.0.0.1 4420 "$nqn" -g -G
check_identity "digests (-g -G)"
check_data "digests (-g -G)"
host_disconnect "$nqn"

# ---- 3: two I/O queues
host_connect tcp 127.0.0.1 4420 "$nqn" -i 2
check_identity "two I/O queues (-i 2)"
ctrl=$(find_ctrl "$nqn")
read -r qc < "/sys/class/nvme/$ctrl/queue_count"
expect_eq "queue_count of $ctrl (admin + I/O queues)" "$qc" 3
check_data "two I/O queues (-i 2)"
host_disconnect "$nqn"

# ---- 4: allowed hosts; the target restarts with --allow-host
target_stop main
say "target stopped on SIGTERM with status 0"
# each host NQN with its own host ID: newer kernels refuse a second host NQN for a host ID already in use
good_id=11111111-2222-3333-4444-555555555555 bad_id=66666666-7777-8888-9999-000000000000
good=nqn.2014-08.org.nvmexpress:uuid:$good_id bad=nqn.2014-08.org.nvmexpress:uuid:$bad_id
target_start main "${target_args[@]}" --allow-host "$good"
if nvme connect -t tcp -a 127.0.0.1 -s 4420 -n "$nqn" -q "$bad" -I "$bad_id" > /tmp/connect.out 2>&1; then
  echo "a host not in --allow-host was let in:"; cat /tmp/connect.out; exit 1
fi
! find_ctrl "$nqn" > /dev/null || { echo "a controller for $nqn exists after the refused connect"; exit 1; }
dmesg | grep -q "is not allowed" ||
  { echo "dmesg has no 'Connect for subsystem ... is not allowed' (invalid host status) line"; exit 1; }
host_connect tcp 127.0.0.1 4420 "$nqn" -q "$good" -I "$good_id"
ns_dev_wait "$nqn" 1 > /dev/null
ctrl=$(find_ctrl "$nqn")
expect_eq "hostnqn of $ctrl" "$(< "/sys/class/nvme/$ctrl/hostnqn")" "$good"
say "--allow-host: the other host refused (Connect Invalid Host), the allowed one connected"
listed=$(nvme discover -t tcp -a 127.0.0.1 -s 8009 -q "$bad" -I "$bad_id" -o json |
  jq --arg nqn "$nqn" '[.records[] | select(.subnqn == $nqn)] | length')
say "note: the discovery log shown to a host that is not allowed lists the subsystem $listed time(s) (nvmet: 0)"
host_disconnect "$nqn"
target_stop main
say "PASS"
GUEST
)"
