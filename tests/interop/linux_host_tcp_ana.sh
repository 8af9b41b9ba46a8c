#!/bin/bash
# linux_host_tcp_ana.sh: the Linux host's native multipath over two ports of our target, with ANA, in the VM.
# One subsystem with a file namespace, two listeners (ports 1 = 4420 and 2 = 4421). The host connects through
# both: one subsystem, two controllers (unique CNTLIDs), one /dev/nvmeXnY node with two hidden paths, both
# "optimized" (nvme list-subsys). While fio (libaio, randwrite, crc32c verification) runs round after round:
#   1. `target-ctl set-ana-state --port 1 --group 1 --state inaccessible`: the host gets the ANA change notice,
#      re-reads log 0Ch and shows the path through 4420 as inaccessible; I/O goes through 4421;
#   2. `target-ctl remove-listener` of 4420: that controller loses its connection and retries;
#   3. `target-ctl add-listener` of 4420 again: the host reconnects, the path is optimized again (a new port
#      starts all optimized) and carries I/O once 4421 is set inaccessible;
#   then fio stops: no round saw an error, and the host logged no I/O error.
# Exit: 0 pass, 77 skip (no VM), else fail (the target's log, fio's output and dmesg are printed).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
interop_vm_ready ${VMRUN_KERNEL:+--meta "$VMRUN_KERNEL"}
interop_nvmf_ready

interop_guest linux_host_tcp_ana "${INTEROP_VM_TIMEOUT:-240}" "$(cat <<'GUEST'
interop_fail_dump
nqn=nqn.2024-01.io.nvmf-toolkit:interop-ana
sock=/run/nvmf-ana.sock
truncate -s 64M /run/ns1.img
target_start ana --listen tcp:127.0.0.1:4420 --listen tcp:127.0.0.1:4421 --discovery-port 0 --subsystem "$nqn" \
  --namespace file:/run/ns1.img --serial NVMFINTEROPANA01 --control-socket "$sock" -v
ctl() { "$NVMF" target-ctl --socket "$sock" "$@"; }

host_connect tcp 127.0.0.1 4420 "$nqn" --reconnect-delay 1 --ctrl-loss-tmo 120
host_connect tcp 127.0.0.1 4421 "$nqn" --reconnect-delay 1 --ctrl-loss-tmo 120
wait_for "[[ \$(find_ctrl '$nqn' | wc -l) == 2 ]]" 30
dev=$(ns_dev_wait "$nqn" 1)
# The controller and hidden path (nvmeXcYn1) of each port
for c in $(find_ctrl "$nqn"); do
  read -r addr < "/sys/class/nvme/$c/address"
  p=$(cd "/sys/class/nvme/$c" && echo nvme*c*n1)
  [[ -d /sys/block/$p ]] || { echo "no multipath leg of $c: $p"; ls "/sys/class/nvme/$c"; exit 1; }
  case $addr in
    *trsvcid=4420*) ctrl_a=$c path_a=$p ;;
    *trsvcid=4421*) ctrl_b=$c path_b=$p ;;
  esac
done
read -r cntlid_a < "/sys/class/nvme/$ctrl_a/cntlid"; read -r cntlid_b < "/sys/class/nvme/$ctrl_b/cntlid"
[[ $cntlid_a != "$cntlid_b" ]] || { echo "both controllers have CNTLID $cntlid_a"; exit 1; }
nodes=$(ls /dev | grep -c -E '^nvme[0-9]+n1$' || true)
expect_eq "multipath nodes of NSID 1" "$nodes" 1
ana() { local s; read -r s < "/sys/block/$1/ana_state" && echo "$s"; }
expect_eq "ANA state of $path_a" "$(ana "$path_a")" optimized
expect_eq "ANA state of $path_b" "$(ana "$path_b")" optimized
nvme list-subsys "$dev"
nvme list-subsys "$dev" | grep -c "live optimized" | { read -r n; expect_eq "optimized live paths in list-subsys" "$n" 2; }
say "one node $dev, paths $path_a ($ctrl_a, 4420) and $path_b ($ctrl_b, 4421), both optimized"
# The host enabled ANA change notices (Set Features 0Bh bit 11)
out=$(nvme get-feature "/dev/$ctrl_a" -f 0xb 2>&1)
[[ $out =~ Current\ value:\ ?(0x[0-9a-fA-F]+) ]] || { echo "unexpected get-feature 0Bh output: $out"; exit 1; }
(( BASH_REMATCH[1] & 0x800 )) || { echo "the host left ANA change notices disabled: $out"; exit 1; }

ios() { local r1 x x2 x3 x4 w1 rest; read -r r1 x x2 x3 w1 rest < "/sys/block/$1/stat"; echo $((r1 + w1)); }
rm -f /tmp/fio.stop
fio_loop() {
  local round=0
  while [[ ! -e /tmp/fio.stop ]]; do
    round=$((round + 1))
    if ! fio --name=ana --filename="$dev" --direct=1 --ioengine=libaio --rw=randwrite --bs=4k --iodepth=16 \
        --size=4M --offset=$(( (round % 8) * 4 ))M --verify=crc32c --do_verify=1 --verify_fatal=1 --randrepeat=0 \
        --output-format=json --output=/tmp/fio.$round.json > /tmp/fio.$round.out 2>&1 ||
       ! jq -e '[.jobs[].error] | all(. == 0)' /tmp/fio.$round.json > /dev/null; then
      echo "fio round $round on $dev failed:"; cat /tmp/fio.$round.out; return 1
    fi
    echo "$round" > /tmp/fio.rounds
  done
}
( trap - ERR EXIT; fio_loop ) &
fio_pid=$!
alive() { kill -0 "$fio_pid" 2>/dev/null || { wait "$fio_pid" || true; echo "fio stopped $1"; exit 1; }; }
wait_for "[[ -e /tmp/fio.rounds ]] || ! kill -0 $fio_pid 2>/dev/null" 60
alive "before the changes"
say "fio runs on $dev (round $(< /tmp/fio.rounds) done)"

# ---- 1: port 1 inaccessible
ctl set-ana-state --port 1 --group 1 --state inaccessible
wait_for "[[ \$(ana $path_a) == inaccessible ]]" 30 || { echo "$path_a is $(ana "$path_a")"; exit 1; }
expect_eq "ANA state of $path_b" "$(ana "$path_b")" optimized
nvme list-subsys "$dev"
# fio starts a new round every few seconds (slowly, under emulation): wait for I/O rather than sample a window
b0=$(ios "$path_b"); a0=$(ios "$path_a")
wait_for "(( \$(ios $path_b) > $b0 ))" 20 || { echo "no I/O on $path_b while $path_a is inaccessible"; exit 1; }
expect_eq "I/O completed on the inaccessible $path_a" "$(ios "$path_a")" "$a0"
alive "after set-ana-state"
say "port 1 inaccessible: $path_a $(ana "$path_a"), I/O on $path_b"

# ---- 2: its listener goes away
ctl remove-listener tcp:127.0.0.1:4420
wait_for "[[ \$(ctrl_state $ctrl_a) != live ]]" 30 || { echo "$ctrl_a stayed live"; exit 1; }
b0=$(ios "$path_b")
wait_for "(( \$(ios $path_b) > $b0 ))" 20 || { echo "no I/O on $path_b after the listener of 4420 went"; exit 1; }
alive "after remove-listener"
say "listener 4420 removed: $ctrl_a $(ctrl_state "$ctrl_a"), I/O goes on through $path_b"

# ---- 3: it comes back, optimized
ctl add-listener tcp:127.0.0.1:4420
wait_for "[[ \$(ctrl_state $ctrl_a) == live ]]" 60 || { echo "$ctrl_a did not reconnect: $(ctrl_state "$ctrl_a")"; exit 1; }
wait_for "[[ \$(ana $path_a) == optimized ]]" 30 || { echo "$path_a came back $(ana "$path_a")"; exit 1; }
nvme list-subsys "$dev"
# Port 2 is the port ID the new listener did not get; make it inaccessible so I/O must use the returned path.
port_b=$(ctl list | jq -r '.ports[] | select(.address == "tcp:127.0.0.1:4421") | .portid')
ctl set-ana-state --port "$port_b" --group 1 --state inaccessible
wait_for "[[ \$(ana $path_b) == inaccessible ]]" 30 || { echo "$path_b is $(ana "$path_b")"; exit 1; }
a0=$(ios "$path_a")
wait_for "(( \$(ios $path_a) > $a0 ))" 20 || { echo "no I/O on the returned $path_a"; exit 1; }
alive "after the path came back"
say "listener 4420 back: $ctrl_a live, $path_a optimized and carrying I/O"
ctl set-ana-state --port "$port_b" --group 1 --state optimized

touch /tmp/fio.stop
wait "$fio_pid"
! dmesg | grep -E "I/O error|blk_update_request|critical medium error" || { echo "the host logged I/O errors"; exit 1; }
say "fio: $(< /tmp/fio.rounds) rounds of 4 MiB written and verified with crc32c, no errors"
host_disconnect "$nqn"
target_stop ana
say "PASS"
GUEST
)"
