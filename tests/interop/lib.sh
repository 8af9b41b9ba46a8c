# lib.sh: shell helpers for the interop tests (bash). Source it; it defines functions and sets nothing else
# that outlives the call besides the INTEROP_* variables below.
#
# Host side (the test script itself):
#   interop_vm_ready        fetch/prepare the VM kernel; exits the script with 77 (skip) if it cannot be had
#   vm_run ARGS...          tests/interop/vm/vmrun ARGS...
# Guest side (inside `vm_run -- '. lib.sh; ...'`):
#   nvmet_tcp_setup NQN PORT BACKING [ADDR] [NSID]   kernel nvmet-tcp target: subsystem NQN (any host allowed),
#                           namespace NSID (default 1) on BACKING (block device or regular file), listening on
#                           ADDR (default 127.0.0.1) : PORT
#   nvmet_subsys_add NQN / nvmet_ns_add NQN NSID BACKING / nvmet_port_add TRTYPE ADDR SVCID / nvmet_port_link
#                           PORTID NQN     the pieces nvmet_tcp_setup is made of (RDMA: nvmet_port_add rdma ...)
#   nvmet_teardown          remove everything under /sys/kernel/config/nvmet (ports, subsystems, hosts)
#   make_backing_file PATH SIZE      sparse file (truncate sizes: 64M, 1G); keep it on tmpfs (/run or /tmp)
#   host_connect TRTYPE ADDR SVCID NQN [nvme-connect args...]   load nvme-TRTYPE, nvme connect
#   host_disconnect NQN     nvme disconnect -n NQN, then wait for its controllers to go
#   find_ns_dev SUBNQN NSID print /dev/nvmeXnY of namespace NSID of the subsystem SUBNQN (status 1 if none);
#                           never assume nvme0n1: names follow probe order, not NSIDs
#   find_ctrl SUBNQN        print the controller names (nvmeX) connected to SUBNQN
#   wait_for 'COND' SECS    evaluate COND until it succeeds (status 0) or SECS pass (status 1)
#   nap SECS                sleep without starting a process (SECS may be fractional)
#   say MSG                 progress line with the seconds since the script started
#   dump_on_error           on a failing command, print the kernel log tail (for diagnosing a failed run)
# Processes start slowly under emulation (tens to hundreds of ms each): the loops here use shell built-ins.

INTEROP_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
INTEROP_VMRUN=$INTEROP_DIR/vm/vmrun
INTEROP_NVMET=/sys/kernel/config/nvmet

# ---------------------------------------------------------------- host side
interop_vm_ready() {
  local rc=0
  "$INTEROP_DIR/vm/fetch-kernel" --quiet "$@" >/dev/null || rc=$?
  [[ $rc -eq 0 ]] && return 0
  [[ $rc -eq 77 ]] && exit 77
  echo "interop: fetch-kernel failed with status $rc" >&2; exit 1
}
vm_run() { "$INTEROP_VMRUN" "$@"; }

# ---------------------------------------------------------------- general
say() { echo "[${SECONDS}s] $*"; }

_interop_nap_fd=
nap() {
  # read -t on a FIFO nobody writes to: a sleep that needs no process start
  if [[ -z $_interop_nap_fd ]]; then
    local f
    f=$(mktemp -u "${TMPDIR:-/tmp}/interop-nap.XXXXXX") && mkfifo "$f" && exec {_interop_nap_fd}<>"$f" && rm -f "$f"
  fi
  read -r -t "$1" -u "$_interop_nap_fd" _ || true
}

wait_for() {
  local cond=$1 limit=$2 end=$((SECONDS + $2))
  while ! eval "$cond"; do
    if (( SECONDS >= end )); then echo "wait_for: '$cond' still false after ${limit} s" >&2; return 1; fi
    nap 0.2
  done
}

dump_on_error() {
  trap 'rc=$?; echo "--- failed (status $rc) at line $LINENO: $BASH_COMMAND"; echo "--- dmesg tail ---"; dmesg | tail -n 40; exit $rc' ERR
}

make_backing_file() { rm -f "$1"; truncate -s "$2" "$1"; }

# ---------------------------------------------------------------- kernel target (nvmet, configfs)
nvmet_subsys_add() {
  local s=$INTEROP_NVMET/subsystems/$1
  [[ -d $INTEROP_NVMET ]] || modprobe nvmet
  [[ -d $s ]] || mkdir "$s"
  echo 1 > "$s/attr_allow_any_host"
}

nvmet_ns_add() {
  local ns=$INTEROP_NVMET/subsystems/$1/namespaces/$2 backing=$3
  mkdir "$ns"
  echo -n "$backing" > "$ns/device_path"
  # a file (e.g. on tmpfs, which has no O_DIRECT) needs buffered I/O
  [[ -b $backing ]] || echo 1 > "$ns/buffered_io"
  echo 1 > "$ns/enable"
}

# nvmet_port_add TRTYPE ADDR SVCID: prints the port id (an existing port with the same address is reused)
nvmet_port_add() {
  local trtype=$1 addr=$2 svcid=$3 p id=1 v
  modprobe "nvmet-$trtype"
  for p in "$INTEROP_NVMET"/ports/*; do
    [[ -d $p ]] || continue
    read -r v < "$p/addr_trtype"; [[ $v == "$trtype" ]] || continue
    read -r v < "$p/addr_traddr"; [[ $v == "$addr" ]] || continue
    read -r v < "$p/addr_trsvcid"; [[ $v == "$svcid" ]] || continue
    echo "${p##*/}"; return 0
  done
  while [[ -e $INTEROP_NVMET/ports/$id ]]; do id=$((id + 1)); done
  p=$INTEROP_NVMET/ports/$id
  mkdir "$p"
  echo "$trtype" > "$p/addr_trtype"
  if [[ $addr == *:* ]]; then echo ipv6 > "$p/addr_adrfam"; else echo ipv4 > "$p/addr_adrfam"; fi
  echo "$addr" > "$p/addr_traddr"
  echo "$svcid" > "$p/addr_trsvcid"
  echo "$id"
}

nvmet_port_link() {
  [[ -e $INTEROP_NVMET/ports/$1/subsystems/$2 ]] ||
    ln -s "$INTEROP_NVMET/subsystems/$2" "$INTEROP_NVMET/ports/$1/subsystems/$2"
}

nvmet_tcp_setup() {
  local nqn=$1 svcid=$2 backing=$3 addr=${4:-127.0.0.1} nsid=${5:-1} port
  nvmet_subsys_add "$nqn"
  nvmet_ns_add "$nqn" "$nsid" "$backing"
  port=$(nvmet_port_add tcp "$addr" "$svcid")
  nvmet_port_link "$port" "$nqn"
}

nvmet_teardown() {
  local p l s n h
  [[ -d $INTEROP_NVMET ]] || return 0
  for p in "$INTEROP_NVMET"/ports/*; do
    [[ -d $p ]] || continue
    for l in "$p"/subsystems/* "$p"/referrals/*; do [[ -L $l ]] && rm -f "$l"; [[ -d $l ]] && rmdir "$l"; done
    rmdir "$p"
  done
  for s in "$INTEROP_NVMET"/subsystems/*; do
    [[ -d $s ]] || continue
    for h in "$s"/allowed_hosts/*; do [[ -L $h ]] && rm -f "$h"; done
    for n in "$s"/namespaces/*; do
      [[ -d $n ]] || continue
      echo 0 > "$n/enable"; rmdir "$n"
    done
    rmdir "$s"
  done
  for h in "$INTEROP_NVMET"/hosts/*; do [[ -d $h ]] && rmdir "$h"; done
  return 0
}

# ---------------------------------------------------------------- kernel host (nvme-cli, nvme-tcp / nvme-rdma)
host_connect() {
  local trtype=$1 addr=$2 svcid=$3 nqn=$4; shift 4
  modprobe "nvme-$trtype"   # without it nvme-cli fails with "Failed to scan topology"
  nvme connect -t "$trtype" -a "$addr" -s "$svcid" -n "$nqn" "$@"
}

find_ctrl() {
  local c v found=1
  for c in /sys/class/nvme/nvme*; do
    [[ -r $c/subsysnqn ]] || continue
    read -r v < "$c/subsysnqn"
    [[ $v == "$1" ]] && { echo "${c##*/}"; found=0; }
  done
  return $found
}

host_disconnect() {
  nvme disconnect -n "$1"
  wait_for "! find_ctrl '$1' >/dev/null" 30
}

find_ns_dev() {
  local b name v
  for b in /sys/block/nvme*; do
    name=${b##*/}
    [[ -b /dev/$name && -r $b/nsid ]] || continue   # skips hidden multipath legs (nvmeXcYnZ)
    read -r v < "$b/nsid"; [[ $v == "$2" ]] || continue
    # device/ is the controller (no multipath) or the subsystem (multipath head); both carry subsysnqn
    [[ -r $b/device/subsysnqn ]] || continue
    read -r v < "$b/device/subsysnqn"; [[ $v == "$1" ]] || continue
    echo "/dev/$name"; return 0
  done
  return 1
}
