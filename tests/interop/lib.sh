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
#
# The project's own binary (the nvmf command: target and host tools):
#   interop_nvmf_ready      host side: sets NVMF to the nvmf binary ($NVMF_BUILD_DIR/utils/nvmf, else
#                           build-release in the source tree); fails the script (status 1) if it is not built
#   interop_guest NAME TIMEOUT 'guest commands'   host side: vm_run the commands after sourcing lib.sh (NVMF
#                           exported), print a wall-time summary line, return their status
#   interop_fail_dump       guest side: on any failure (failing command or non-zero exit) print the command that
#                           failed, the logs of the targets started with target_start, and the kernel log tail
#   target_start NAME ARGS...   guest side: run `$NVMF target ARGS... --ready-file /run/target-NAME.ready` in the
#                           background (log /run/target-NAME.log) and wait until it is listening; fails if it
#                           exits first or is not ready within 30 s
#   target_stop NAME        SIGTERM, then wait (30 s) for a clean exit with status 0; print its warn/error lines
#   target_kill NAME        SIGKILL, and reap it
#   target_pid NAME         print the pid of a running target
#   ns_dev_wait SUBNQN NSID [SECS]   wait for namespace NSID of SUBNQN to appear, print its /dev node
#   ctrl_state CTRL         print /sys/class/nvme/CTRL/state
#   expect_eq WHAT GOT WANT print a mismatch and return 1 unless GOT == WANT (strings)
#   nvme_cli_status TEXT    the SCT/SC of an "NVMe status: ...(0xNNNN)" message of nvme-cli, as 0xNNN (DNR, More
#                           and CRD masked off), or nothing
#   random_file PATH MIB    PATH filled with MIB MiB from /dev/urandom
#   put_bytes SRC DEV OFF   write file SRC onto block device DEV at byte offset OFF (O_DIRECT, then fsync: the
#                           kernel sends a Flush when the controller has a volatile write cache)
#   same_bytes A OFF_A B OFF_B LEN   cmp LEN bytes of A at byte offset OFF_A with B at OFF_B (devices opened
#                           with O_DIRECT through dd when they are block devices, so the page cache cannot answer)
#   run_fio LABEL DEV FIO-ARGS...   fio (libaio, O_DIRECT) running the job FIO-ARGS describe (--size, --rw, --bs,
#                           ...) with crc32c verification, fatal on the first mismatch; a line of what was written and
#                           verified, fio's output only on failure (status 1). With --verify_only=1 it checks what the
#                           same job (same seed) wrote earlier, writing nothing.
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

# ---------------------------------------------------------------- the project's nvmf binary
interop_nvmf_ready() {
  local build=${NVMF_BUILD_DIR:-$(cd "$INTEROP_DIR/../.." && pwd)/build-release}
  NVMF=$build/utils/nvmf
  if [[ ! -x $NVMF ]]; then
    echo "interop: $NVMF is not built (set NVMF_BUILD_DIR, or: ninja -C $build utils/nvmf)" >&2
    exit 1
  fi
  export NVMF
}

# hardened_usercopy=off: Debian's 6.1 kernel (6.1.0-56) hits "kernel BUG at mm/usercopy.c:101: Kernel memory
# exposure attempt detected from page alloc" in tcp_recvmsg on loopback when a receive copies a socket buffer
# fragment that crosses the end of the sender's large folio (nvme-tcp sends fio's buffers by page reference;
# contiguous pages get coalesced into one fragment). Seen with 1 MiB writes at depth 32 in both nvmet-tcp's
# receive worker and our target's reactor thread (killed in the kernel: its queues hang). A false positive of the
# check, not a peer's behaviour: the check is turned off in the guest.
interop_guest() {
  local name=$1 limit=$2 rc=0 t0=$SECONDS; shift 2
  VMRUN_APPEND="hardened_usercopy=off${VMRUN_APPEND:+ $VMRUN_APPEND}" \
    vm_run --timeout "$limit" -e "NVMF=$NVMF" -e "INTEROP_WATCHDOG=$((limit > 60 ? limit - 30 : limit))" \
    -- ". '$INTEROP_DIR/lib.sh'" "$@" || rc=$?
  echo "$name: status $rc, $((SECONDS - t0)) s wall (VM boot included)"
  return "$rc"
}

# ---------------------------------------------------------------- our target in the guest
declare -A INTEROP_TARGET_PID=()
_interop_failed_cmd=

interop_fail_dump() {
  set -E
  trap '_interop_failed_cmd=${_interop_failed_cmd:-"line $LINENO${FUNCNAME:+ (in ${FUNCNAME[*]})}: $BASH_COMMAND (status $?)"}' ERR
  trap '_interop_on_exit $?' EXIT
  # A hang would end in vmrun's timeout, which loses the guest's logs: print them shortly before it.
  if [[ -n ${INTEROP_WATCHDOG:-} ]]; then
    ( trap - ERR; sleep "$INTEROP_WATCHDOG"
      echo "=== WATCHDOG: the test still runs after $INTEROP_WATCHDOG s (hung?); processes:"
      ps -eo pid,stat,etime,args | grep -v -e '\[' -e 'ps -eo' || true
      interop_dump_logs ) &
  fi
}

interop_dump_logs() {
  local n
  for n in /run/target-*.log; do
    [[ -f $n ]] || continue
    echo "=== $n (last 60 lines)"; tail -n 60 "$n"
  done
  [[ -f /run/tlshd.log ]] && { echo "=== /run/tlshd.log (last 30 lines)"; tail -n 30 /run/tlshd.log; }
  echo "=== dmesg (last 40 lines)"; dmesg | tail -n 40
}

_interop_on_exit() {
  local rc=$1
  # a kernel oops or warning during the run fails it, whatever the commands said
  local bad='kernel BUG|Oops|WARNING: CPU|general protection|blocked for more than'
  if [[ $rc -eq 0 ]] && dmesg | grep -E -q "$bad"; then
    echo "=== the kernel logged a BUG, oops, warning or hung task:"
    dmesg | grep -E -A 12 "$bad" | head -n 60
    rc=1
  fi
  [[ $rc -eq 0 ]] && return 0
  trap - ERR
  echo "=== FAILED with status $rc${_interop_failed_cmd:+ at $_interop_failed_cmd}"
  interop_dump_logs
  exit "$rc"
}

target_start() {
  local name=$1 ready=/run/target-$1.ready log=/run/target-$1.log pid end=$((SECONDS + 30)); shift
  rm -f "$ready"
  "$NVMF" target "$@" --ready-file "$ready" >> "$log" 2>&1 &
  pid=$!
  INTEROP_TARGET_PID[$name]=$pid
  while [[ ! -e $ready ]]; do
    if ! kill -0 "$pid" 2>/dev/null; then
      local rc=0; wait "$pid" || rc=$?
      unset "INTEROP_TARGET_PID[$name]"
      echo "target_start: nvmf target $* exited with status $rc before it was ready; its log:" >&2
      cat "$log" >&2; return 1
    fi
    if (( SECONDS >= end )); then
      echo "target_start: nvmf target $* not ready after 30 s; its log:" >&2; cat "$log" >&2; return 1
    fi
    nap 0.1
  done
}

target_pid() { [[ -n ${INTEROP_TARGET_PID[$1]:-} ]] && echo "${INTEROP_TARGET_PID[$1]}"; }

target_stop() {
  local name=$1 pid=${INTEROP_TARGET_PID[$1]:-} rc=0 end=$((SECONDS + 30))
  [[ -n $pid ]] || { echo "target_stop: no target $name" >&2; return 1; }
  kill -TERM "$pid"
  while kill -0 "$pid" 2>/dev/null; do
    if (( SECONDS >= end )); then
      echo "target_stop: target $name (pid $pid) still running 30 s after SIGTERM" >&2
      kill -KILL "$pid"; wait "$pid" || true; unset "INTEROP_TARGET_PID[$name]"; return 1
    fi
    nap 0.1
  done
  wait "$pid" || rc=$?
  unset "INTEROP_TARGET_PID[$name]"
  [[ $rc -eq 0 ]] || { echo "target_stop: target $name exited with status $rc after SIGTERM" >&2; return 1; }
  # what the target complained about during the run (for the reader; the checks are the test's)
  grep -E -m 20 '^[0-9:.]+ (warn|error) |level=(warn|error) ' "/run/target-$name.log" | sed "s/^/target $name: /" || true
}

target_kill() {
  local name=$1 pid=${INTEROP_TARGET_PID[$1]:-}
  [[ -n $pid ]] || { echo "target_kill: no target $name" >&2; return 1; }
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
  unset "INTEROP_TARGET_PID[$name]"
}

ns_dev_wait() {
  wait_for "find_ns_dev '$1' '$2' >/dev/null" "${3:-30}" && find_ns_dev "$1" "$2"
}

ctrl_state() { local s; read -r s < "/sys/class/nvme/$1/state" && echo "$s"; }

expect_eq() {
  [[ $2 == "$3" ]] && return 0
  echo "MISMATCH: $1: got '$2', expected '$3'" >&2
  return 1
}

random_file() { head -c "$(($2 * 1048576))" /dev/urandom > "$1"; }

# Reads from a block device bypass the page cache (iflag=direct): the bytes come from the controller.
_interop_read_range() {
  local f=$1 off=$2 len=$3
  if [[ -b $f ]]; then
    dd if="$f" iflag=direct,skip_bytes,count_bytes skip="$off" count="$len" bs=1M status=none
  else
    dd if="$f" iflag=skip_bytes,count_bytes skip="$off" count="$len" bs=1M status=none
  fi
}

# (no process substitution: the guest has no /dev/fd)
same_bytes() {
  local a=$1 oa=$2 b=$3 ob=$4 len=$5 f=$1 of=$2
  if [[ -b $f ]]; then f=$b of=$ob b=$a ob=$oa; fi   # cmp reads the regular file itself, the device comes in a pipe
  if [[ -b $f ]]; then _interop_read_range "$f" "$of" "$len" > /tmp/.same_bytes; f=/tmp/.same_bytes of=0; fi
  _interop_read_range "$b" "$ob" "$len" | cmp -n "$len" -i "$of:0" "$f" - && return 0
  echo "DIFFER: $a @$oa and $3 @$4 over $len bytes" >&2
  return 1
}

put_bytes() { dd if="$1" of="$2" oflag=direct,seek_bytes seek="$3" bs=1M conv=fsync,notrunc status=none; }

run_fio() {
  local label=$1 dev=$2 rc=0; shift 2
  fio --name="$label" --filename="$dev" --direct=1 --ioengine=libaio --verify=crc32c --do_verify=1 \
    --verify_fatal=1 --randrepeat=0 --output-format=json --output=/tmp/fio.json "$@" > /tmp/fio.out 2>&1 || rc=$?
  if [[ $rc -ne 0 ]] || ! jq -e '[.jobs[].error] | all(. == 0)' /tmp/fio.json > /dev/null; then
    echo "fio $label on $dev failed (status $rc):"; cat /tmp/fio.out
    jq -c '.jobs[] | {jobname, error, written: .write.io_kbytes, read: .read.io_kbytes}' /tmp/fio.json 2>/dev/null
    return 1
  fi
  if [[ " $* " == *" --verify_only=1 "* ]]; then   # fio counts the replayed writes, but writes nothing
    say "fio $label on $dev: $(jq -r '.jobs[0].read.io_kbytes / 1024 | floor' /tmp/fio.json) MiB verified (verify only)"
  else
    say "fio $label on $dev: $(jq -r '[.jobs[] | "\(.write.io_kbytes / 1024 | floor) MiB written," +
      " \(.read.io_kbytes / 1024 | floor) MiB verified"] | join("; ")' /tmp/fio.json)"
  fi
}

nvme_cli_status() {
  [[ $1 =~ NVMe\ status:.*\((0x[0-9a-fA-F]+)\) ]] || return 0
  printf '0x%03x\n' $(( BASH_REMATCH[1] & 0x7ff ))
}

# ---------------------------------------------------------------- NVMe/TCP TLS (tlshd, the .nvme keyring)
#   interop_tlshd_ready     host side: TLSHD = tlshd from scripts/fetch-tlshd.sh (fetched and cached once), and
#                           keyctl present; fails the script (status 1) when either cannot be had
#   tlshd_start             guest side: load the TLS modules, start tlshd with a tlshd.conf that links the .nvme
#                           keyring (log /run/tlshd.log), wait until it has linked it
#   tls_psk_add DERIVED     guest side: the same with tls_psk.py's output (derived on the host side, faster)
#   tls_psk_insert KEY HOSTNQN SUBNQN   guest side: put the version-0 TLS PSK of KEY into the .nvme keyring under
#                           "NVMe0R0H HOSTNQN SUBNQN", derived by tls_psk.py (independently of our C++ code), as a
#                           current nvme-cli inserts it; the same identity again replaces the key's payload
interop_tlshd_ready() {
  local root
  root=$(cd "$INTEROP_DIR/../.." && pwd)
  TLSHD=$("$root/scripts/fetch-tlshd.sh") ||
    { echo "interop: tlshd (ktls-utils) cannot be had: see scripts/fetch-tlshd.sh's messages above" >&2; exit 1; }
  command -v keyctl >/dev/null || { echo "interop: keyctl missing (apt-get install keyutils)" >&2; exit 1; }
  "$INTEROP_DIR/tls_psk.py" --self-test || exit 1
  export TLSHD
}

tlshd_start() {
  modprobe tls
  [[ -n ${TLSHD:-} && -x $TLSHD ]] || { echo "tlshd_start: TLSHD not set (interop_tlshd_ready)" >&2; return 1; }
  grep -q ' \.nvme: ' /proc/keys || { echo "tlshd_start: no .nvme keyring (load nvme-tcp or nvmet-tcp first)" >&2; return 1; }
  printf '[debug]\nloglevel=1\ntls=0\nnl=0\n\n[authenticate]\nkeyrings=.nvme\n' > /run/tlshd.conf
  "$TLSHD" -c /run/tlshd.conf -s > /run/tlshd.log 2>&1 &
  INTEROP_TLSHD_PID=$!
  # the last line it logs before it listens for the kernel's handshake requests
  wait_for "grep -q 'PSK SHA384 priority' /run/tlshd.log || ! kill -0 $INTEROP_TLSHD_PID" 15
  nap 0.3
  kill -0 "$INTEROP_TLSHD_PID" 2>/dev/null || { echo "tlshd exited; its log:" >&2; cat /run/tlshd.log >&2; return 1; }
}

tls_psk_insert() { tls_psk_add "$("$INTEROP_DIR/tls_psk.py" "$1" "$2" "$3")"; }

# tls_psk_add DERIVED: DERIVED is tls_psk.py's output (identity line, hex line), e.g. computed on the host side:
# Python starts slowly under emulation (seconds), so the suites derive there and pass the result in
tls_psk_add() {
  local identity=${1%%$'\n'*} hex=${1#*$'\n'}
  # printf's format turns \xHH into bytes: the binary payload without another process
  # shellcheck disable=SC2059
  printf "$(sed 's/../\\x&/g' <<<"$hex")" | keyctl padd psk "$identity" %:.nvme > /dev/null
}
