#!/bin/bash
# linux_host_tcp_live.sh: namespaces and hosts changed on a running target (`nvmf target-ctl`) while the Linux
# NVMe/TCP host is connected and busy, in the VM. One subsystem with a file namespace (NSID 1); the host connects
# with an explicit host NQN; fio (libaio, randwrite, crc32c verification) runs round after round on NSID 1 during:
#   1. `target-ctl add-ns`: the target raises a Namespace Attribute Changed notice (OAES bit 8, enabled by the
#      host's Set Features 0Bh); the host reads log page 04h, rescans and /dev/nvmeXnY of NSID 2 appears on the
#      same controller (same /sys/class/nvme/nvmeX, same cntlid, no reconnect); 4 MiB written to it read back
#      through the host and equal the target's file;
#   2. `target-ctl remove-ns`: the node of NSID 2 disappears, still on the same controller, without reconnect;
#   then fio stops and no round saw an error (each round writes and verifies its whole range).
#   3. allowed hosts at run time: `add-host` of the connected host keeps its controller; a second host NQN is
#      refused (Connect: invalid host), allowed after `add-host`, and its controller closes on `remove-host`
#      (the host gives up after its short controller-loss timeout) while the first stays live.
# Exit: 0 pass, 77 skip (no VM), else fail (the target's log, fio's output and dmesg are printed).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
interop_vm_ready ${VMRUN_KERNEL:+--meta "$VMRUN_KERNEL"}
interop_nvmf_ready

interop_guest linux_host_tcp_live "${INTEROP_VM_TIMEOUT:-300}" "$(cat <<'GUEST'
interop_fail_dump
nqn=nqn.2024-01.io.nvmf-toolkit:interop-live
# Each host NQN connects with its own host ID (its UUID): Linux 6.12 refuses a second host NQN with the same
# host ID (nvme_fabrics: "found same hostid ... but different hostnqn").
host_a=nqn.2014-08.org.nvmexpress:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427
host_b=nqn.2014-08.org.nvmexpress:uuid:6f1c3d52-9a8e-4d4b-8f43-2a5c1e7d9b10
sock=/run/nvmf-live.sock
truncate -s 64M /run/ns1.img
truncate -s 32M /run/ns2.img
target_start live --listen tcp:127.0.0.1:4420 --listen tcp:127.0.0.1:4421 --discovery-port 0 --subsystem "$nqn" \
  --namespace file:/run/ns1.img --serial NVMFINTEROPLV01 --control-socket "$sock" -v
ctl() { "$NVMF" target-ctl --socket "$sock" "$@"; }

host_connect tcp 127.0.0.1 4420 "$nqn" --hostnqn "$host_a" --hostid "${host_a##*:}"
ctrl=$(find_ctrl "$nqn"); dev1=$(ns_dev_wait "$nqn" 1)
read -r cntlid < "/sys/class/nvme/$ctrl/cntlid"
say "connected: $ctrl (cntlid $cntlid), NSID 1 = $dev1"
# The same controller throughout: the only controller of the subsystem, live, with the cntlid it connected with
same_ctrl() {
  local now c
  now=$(find_ctrl "$nqn" | paste -sd ' ')
  expect_eq "controllers of $nqn ($1)" "$now" "$ctrl"
  read -r c < "/sys/class/nvme/$ctrl/cntlid"; expect_eq "cntlid of $ctrl ($1)" "$c" "$cntlid"
  expect_eq "state of $ctrl ($1)" "$(ctrl_state "$ctrl")" live
}
reconnects() { dmesg | grep -c -E "nvme[0-9]+: (reconnecting|starting error recovery|Reconnecting)" || true; }
rescans() { dmesg | grep -c "$ctrl: rescanning namespaces" || true; }
reconnects0=$(reconnects); rescans0=$(rescans)
# The host enabled Namespace Attribute Notices (Set Features 0Bh, bit 8), which it does only when OAES bit 8 is set
out=$(nvme get-feature "/dev/$ctrl" -f 0xb 2>&1)
[[ $out =~ Current\ value:\ ?(0x[0-9a-fA-F]+) ]] || { echo "unexpected get-feature 0Bh output: $out"; exit 1; }
(( BASH_REMATCH[1] & 0x100 )) || { echo "the host left Namespace Attribute Notices disabled: $out"; exit 1; }
say "asynchronous event configuration set by the host: ${BASH_REMATCH[1]}"

# fio on NSID 1, round after round until /tmp/fio.stop exists: each round writes 8 MiB (4 KiB, depth 16) and
# verifies it; the loop's status is the first failing round's.
rm -f /tmp/fio.stop
fio_loop() {
  local round=0
  while [[ ! -e /tmp/fio.stop ]]; do
    round=$((round + 1))
    if ! fio --name=live-ns1 --filename="$dev1" --direct=1 --ioengine=libaio --rw=randwrite --bs=4k \
        --iodepth=16 --size=8M --offset=$(( (round % 4) * 8 ))M --verify=crc32c --do_verify=1 --verify_fatal=1 \
        --randrepeat=0 --output-format=json --output=/tmp/fio.$round.json > /tmp/fio.$round.out 2>&1 ||
       ! jq -e '[.jobs[].error] | all(. == 0)' /tmp/fio.$round.json > /dev/null; then
      echo "fio round $round on $dev1 failed:"; cat /tmp/fio.$round.out; return 1
    fi
    echo "$round" > /tmp/fio.rounds
  done
}
( trap - ERR EXIT; fio_loop ) &
fio_pid=$!
wait_for "[[ -e /tmp/fio.rounds ]] || ! kill -0 $fio_pid 2>/dev/null" 60
kill -0 "$fio_pid" 2>/dev/null || { wait "$fio_pid" || true; echo "fio stopped before the changes"; exit 1; }
say "fio runs on $dev1 (round $(< /tmp/fio.rounds) done)"

# ---- 1: add NSID 2 while fio runs
nsid=$(ctl add-ns "$nqn" file:/run/ns2.img | jq -r .nsid)
expect_eq "NSID given by add-ns" "$nsid" 2
dev2=$(ns_dev_wait "$nqn" 2 30)
same_ctrl "after add-ns"
(( $(rescans) > rescans0 )) || { echo "$dev2 appeared but the host logged no rescan of $ctrl"; exit 1; }
say "NSID 2 appeared as $dev2 on $ctrl (the host rescanned on the notice; no reconnect)"
expect_eq "size of $dev2" "$(blockdev --getsize64 "$dev2")" $((32 << 20))
random_file /tmp/ns2.pat 4
put_bytes /tmp/ns2.pat "$dev2" $((1 << 20))
same_bytes /tmp/ns2.pat 0 "$dev2" $((1 << 20)) $((4 << 20))
same_bytes /tmp/ns2.pat 0 /run/ns2.img $((1 << 20)) $((4 << 20))
kill -0 "$fio_pid" 2>/dev/null || { wait "$fio_pid" || true; echo "fio stopped during add-ns"; exit 1; }
say "4 MiB written to $dev2 read back through the host and from the target's file; fio still runs"

# ---- 2: remove it while fio runs
rescans1=$(rescans)
ctl remove-ns "$nqn" 2
wait_for "! find_ns_dev '$nqn' 2 > /dev/null" 30
[[ ! -b $dev2 ]] || { echo "$dev2 still exists after remove-ns"; exit 1; }
same_ctrl "after remove-ns"
(( $(rescans) > rescans1 )) || { echo "$dev2 went but the host logged no second rescan of $ctrl"; exit 1; }
expect_eq "NSID 1 device after remove-ns" "$(find_ns_dev "$nqn" 1)" "$dev1"
kill -0 "$fio_pid" 2>/dev/null || { wait "$fio_pid" || true; echo "fio stopped during remove-ns"; exit 1; }
say "NSID 2 removed: $dev2 gone, $ctrl unchanged"

touch /tmp/fio.stop
wait "$fio_pid"
rounds=$(< /tmp/fio.rounds)
expect_eq "reconnects or error recoveries seen by the host" "$(reconnects)" "$reconnects0"
! dmesg | grep -E "I/O error|blk_update_request|critical medium error" || { echo "the host logged I/O errors"; exit 1; }
same_ctrl "after fio"
say "fio on $dev1: $rounds rounds of 8 MiB written and verified, no errors, across add-ns and remove-ns"

# ---- 3: allowed hosts at run time
ctl add-host "$nqn" "$host_a"
nap 1
same_ctrl "after add-host of the connected host"
# The second host comes through the second port: nvme-cli 2.3 refuses by itself ("already connected") a second
# controller to the same subsystem, address and port, whatever the host NQN (and -D does not lift it)
if out=$(nvme connect -t tcp -a 127.0.0.1 -s 4421 -n "$nqn" --hostnqn "$host_b" --hostid "${host_b##*:}" 2>&1); then
  echo "a host outside the allowed list connected: $out"; exit 1
fi
# the kernel's words for Connect status 184h (invalid host): the refusal came from the target
dmesg | grep -q "Connect for subsystem $nqn is not allowed, hostnqn: $host_b" ||
  { echo "connect of $host_b failed without the target refusing the host: $out"; dmesg | tail -n 5; exit 1; }
expect_eq "controllers of $nqn after the refused connect" "$(find_ctrl "$nqn" | paste -sd ' ')" "$ctrl"
say "with only $host_a allowed, $host_b is refused (Connect: invalid host)"
ctl add-host "$nqn" "$host_b"
host_connect tcp 127.0.0.1 4421 "$nqn" --hostnqn "$host_b" --hostid "${host_b##*:}" --reconnect-delay 1 --ctrl-loss-tmo 2
wait_for "[[ \$(find_ctrl '$nqn' | wc -l) == 2 ]]" 30
ctrl_b=$(find_ctrl "$nqn" | grep -v -x "$ctrl")
read -r v < "/sys/class/nvme/$ctrl_b/hostnqn"; expect_eq "host NQN of $ctrl_b" "$v" "$host_b"
say "$host_b allowed at run time: connected as $ctrl_b"
ctl remove-host "$nqn" "$host_b"
wait_for "[[ ! -e /sys/class/nvme/$ctrl_b ]]" 60
same_ctrl "after remove-host of the other host"
same_bytes /run/ns1.img 0 "$dev1" 0 $((1 << 20))
say "$host_b revoked: $ctrl_b closed and given up by the host; $ctrl untouched and reads"

host_disconnect "$nqn"
target_stop live
say "PASS"
GUEST
)"
