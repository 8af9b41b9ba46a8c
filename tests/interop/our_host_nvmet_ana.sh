#!/bin/bash
# our_host_nvmet_ana.sh: the host library's multipath set (initiator/multipath.hpp, driven by
# tests/interop/multipath_check.cpp) against the Linux kernel target with ANA, in the VM. nvmet serves one
# subsystem with a file namespace on two ports (4420, 4421); while the program writes and reads back chunks
# through both paths, port 4420's ANA group 1 goes inaccessible (configfs ports/<p>/ana_groups/1/ana_state),
# then optimized again: the program sees the states change (nvmet's ANA change notice and log 0Ch), every
# command succeeds with the data intact, and both paths carried I/O.
# Exit: 0 pass, 77 skip (no VM), else fail.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
interop_vm_ready ${VMRUN_KERNEL:+--meta "$VMRUN_KERNEL"}
interop_nvmf_ready
interop_guest our_host_nvmet_ana "${INTEROP_VM_TIMEOUT:-180}" "$(cat <<'GUEST'
interop_fail_dump
nqn=nqn.2024-01.io.nvmf-toolkit:interop-nvmet-ana
host=nqn.2014-08.org.nvmexpress:uuid:3c5b1a9e-6d2f-4e8a-9b7c-1f0e2d3c4b5a
make_backing_file /run/ns1.img 64M
nvmet_tcp_setup "$nqn" 4420 /run/ns1.img
port_a=$(nvmet_port_add tcp 127.0.0.1 4420)
port_b=$(nvmet_port_add tcp 127.0.0.1 4421)
nvmet_port_link "$port_b" "$nqn"
state_a=$INTEROP_NVMET/ports/$port_a/ana_groups/1/ana_state
check=${NVMF%/utils/nvmf}/tests/interop/multipath_check
"$check" 127.0.0.1 4420 4421 "$nqn" 14 "$host" > /tmp/mp.out 2>&1 &
pid=$!
wait_for "grep -q 'path 1 ana' /tmp/mp.out || ! kill -0 $pid 2>/dev/null" 30
kill -0 "$pid" 2>/dev/null || { wait "$pid" || true; echo "multipath_check ended early:"; cat /tmp/mp.out; exit 1; }
say "multipath_check runs over ports $port_a (4420) and $port_b (4421)"
nap 3
echo inaccessible > "$state_a"
say "nvmet port $port_a: group 1 $(< "$state_a")"
nap 4
echo optimized > "$state_a"
say "nvmet port $port_a: group 1 $(< "$state_a")"
rc=0; wait "$pid" || rc=$?
cat /tmp/mp.out
[[ $rc -eq 0 ]] || { echo "multipath_check failed (status $rc)"; exit 1; }
# path 0 seen optimized, then inaccessible, then optimized again
seq=$(grep '^path 0 ana' /tmp/mp.out | awk '{print $4}' | paste -sd ' ')
expect_eq "ANA states of path 0 seen by the host" "$seq" "1 3 1"
[[ $(cat /tmp/mp.out) =~ ios\ path0=([0-9]+)\ path1=([0-9]+) ]] || { echo "no totals"; exit 1; }
(( BASH_REMATCH[1] > 0 && BASH_REMATCH[2] > 0 )) || { echo "a path carried no I/O"; exit 1; }
nvmet_teardown
say "PASS"
GUEST
)"
