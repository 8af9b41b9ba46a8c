#!/bin/bash
# linux_host_tcp_restart.sh: our target dies (SIGKILL) under a connected Linux NVMe/TCP host and comes back on
# the same file namespace, in the VM. The host connects with --reconnect-delay 1 --ctrl-loss-tmo 30; the two kill
# phases (acknowledged data intact after a restart; I/O issued during the outage completes after it) are
# restart_guest.sh's. TCP adds what the restart must do: bind the same port again at once, with the killed
# connections' sockets still in TIME_WAIT.
# Exit: 0 pass, 77 skip (no VM), else fail (the target's log and dmesg are printed).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
interop_vm_ready ${VMRUN_KERNEL:+--meta "$VMRUN_KERNEL"}
interop_nvmf_ready

interop_guest linux_host_tcp_restart "${INTEROP_VM_TIMEOUT:-300}" "$(cat <<'GUEST'
interop_fail_dump
nqn=nqn.2024-01.io.nvmf-toolkit:interop-restart
truncate -s 256M /run/ns1.img
args=(--listen tcp:127.0.0.1:4420 --subsystem "$nqn" --namespace file:/run/ns1.img --serial NVMFINTEROPRS01 -v)
target_start main "${args[@]}"
host_connect tcp 127.0.0.1 4420 "$nqn" --reconnect-delay 1 --ctrl-loss-tmo 30
. "$INTEROP_DIR/restart_guest.sh"
restart_kill_phases "$nqn" "${args[@]}"

host_disconnect "$nqn"
target_stop main
say "PASS"
GUEST
)"
