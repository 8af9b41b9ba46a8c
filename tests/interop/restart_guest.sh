# restart_guest.sh: the kill-and-restart phases that linux_host_tcp_restart.sh and linux_host_rdma_restart.sh
# share (source after lib.sh, inside vmrun).
# restart_kill_phases NQN TARGET_ARGS...: the host is connected to NQN on the target "main" started with
# TARGET_ARGS (a 256 MiB file namespace). Writes two random 8 MiB ranges with O_DIRECT and flushes, then
#   1. SIGKILL: the host leaves "live"; the target restarts on the same port and file; the same controller goes
#      back to "live", the namespace keeps its block device (a namespace whose identifiers changed would be
#      removed by the host), and every block written and flushed before the kill reads back intact.
#   2. SIGKILL again, then a read and a write issued while no target runs: they wait in the host and complete
#      after the restart, the read with the right data, the write landing in the target's file.
# Leaves ctrl, dev, mib and /tmp/c (written at 50 MiB) for the caller's further phases.

restart_kill_phases() {
  local nqn=$1
  shift
  ctrl=$(find_ctrl "$nqn"); dev=$(ns_dev_wait "$nqn" 1)
  mib=$((1 << 20))
  random_file /tmp/a 8; random_file /tmp/b 8; random_file /tmp/c 8
  put_bytes /tmp/a "$dev" 0
  put_bytes /tmp/b "$dev" $((100 * mib))
  nvme flush "$dev"
  say "$dev ($ctrl): 2 x 8 MiB written and flushed"

  # ---- 1: kill, restart, reconnect, read back
  target_kill main
  say "target killed (SIGKILL)"
  wait_for "[[ \$(ctrl_state $ctrl) != live ]]" 30
  say "$ctrl left live: $(ctrl_state "$ctrl")"
  target_start main "$@"
  say "target restarted on the same port and file"
  wait_for "[[ \$(ctrl_state $ctrl) == live ]]" 40
  say "$ctrl live again"
  expect_eq "block device of NSID 1 after the reconnect" "$(ns_dev_wait "$nqn" 1)" "$dev"
  ! dmesg | grep -q "identifiers changed" || { echo "the host saw the namespace's identifiers change"; exit 1; }
  same_bytes /tmp/a 0 "$dev" 0 $((8 * mib))
  same_bytes /tmp/b 0 "$dev" $((100 * mib)) $((8 * mib))
  say "every block written before the kill reads back intact"

  # ---- 2: I/O issued while the target is down completes after it is back
  target_kill main
  wait_for "[[ \$(ctrl_state $ctrl) != live ]]" 30
  dd if="$dev" iflag=direct,skip_bytes skip=$((100 * mib)) bs=1M count=8 of=/tmp/during status=none &
  reader=$!
  dd if=/tmp/c of="$dev" oflag=direct,seek_bytes seek=$((50 * mib)) bs=1M conv=fsync,notrunc status=none &
  writer=$!
  nap 2
  kill -0 "$reader" 2>/dev/null || { echo "the read completed with no target running"; wait "$reader" || true; exit 1; }
  kill -0 "$writer" 2>/dev/null || { echo "the write completed with no target running"; wait "$writer" || true; exit 1; }
  say "a read and a write wait in the host ($(ctrl_state "$ctrl")) while no target runs"
  target_start main "$@"
  wait_for "[[ \$(ctrl_state $ctrl) == live ]]" 40
  wait "$reader" || { echo "the read issued during the outage failed"; exit 1; }
  wait "$writer" || { echo "the write issued during the outage failed"; exit 1; }
  cmp /tmp/b /tmp/during
  same_bytes /tmp/c 0 "$dev" $((50 * mib)) $((8 * mib))
  same_bytes /tmp/c 0 /run/ns1.img $((50 * mib)) $((8 * mib))
  same_bytes /tmp/a 0 /run/ns1.img 0 $((8 * mib))
  say "the read and the write issued during the outage completed after the restart, data intact"
}
