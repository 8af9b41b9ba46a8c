#!/bin/bash
# linux_host_tcp_auth.sh: the Linux kernel's NVMe/TCP host (nvme-tcp, nvme-cli 2.3) authenticating to our target
# with DH-HMAC-CHAP (NVMe Base 2.0, 8.13), in the VM on Debian's 6.12 kernel (6.1 is built without NVMe
# authentication). One boot; our target serves a RAM namespace to one host that must authenticate:
#   - `nvme connect -S` (unidirectional; the host secret made by nvme-cli, transformed with the host NQN): the
#     kernel reports the hash and group we chose (SHA-512, ffdhe2048: strongest hash, cheapest FFDHE group),
#     our target logs the host authenticated on every queue, fio writes and verifies (crc32c);
#   - `-S -C` (bidirectional, the controller secret made by our gen-dhchap-key) after `target-ctl
#     set-host-dhchap` narrowed the host to SHA-256 and the null group: the kernel checked our response;
#   - re-authentication through sysfs (dhchap_secret) while fio runs: once with the same secret, once with a
#     new one the target was given at run time (SHA-384, ffdhe3072): every queue re-authenticates, fio verifies,
#     the controller never leaves "live";
#   - refusals: a wrong host secret, and a wrong controller secret (the kernel answers our Success1 with
#     AUTH_Failure2): the connect fails, no controller stays, the kernel log says authentication failed (no
#     transport error), our target logs the failure.
# Exit: 0 pass, 77 skip (no VM or no 6.12 kernel package), else fail (the target's log and dmesg are printed).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
# NVMe in-band authentication needs 6.12 (NVME_HOST_AUTH, NVME_TARGET_AUTH); fetched like the default kernel.
export VMRUN_KERNEL=${NVMF_AUTH_KERNEL:-linux-image-6.12-amd64}
interop_vm_ready --meta "$VMRUN_KERNEL"
interop_nvmf_ready

interop_guest linux_host_tcp_auth "${INTEROP_VM_TIMEOUT:-300}" "$(cat <<'GUEST'
interop_fail_dump
nqn=nqn.2024-01.io.nvmf-toolkit:interop-auth
hid=0f0e0d0c-0b0a-4908-8706-050403020100 host=nqn.2014-08.org.nvmexpress:uuid:0f0e0d0c-0b0a-4908-8706-050403020100
ctl=(target-ctl --socket /run/nvmf-auth.sock)
# nvme-cli makes the host secret (HH 01: transformed with the host NQN), our tool the controller secrets
key=$(nvme gen-dhchap-key -m 1 -n "$host")
key2=$(nvme gen-dhchap-key -l 48)
ckey=$("$NVMF" gen-dhchap-key -m 2 -n "$nqn")
wrong=$(nvme gen-dhchap-key -m 1 -n "$host")
wrong_ckey=$("$NVMF" gen-dhchap-key -m 2 -n "$nqn")
[[ $key == DHHC-1:01:* && $ckey == DHHC-1:02:* ]] || { echo "unexpected secret formats"; exit 1; }
"$NVMF" check-dhchap-key -k "$key" > /dev/null   # nvme-cli's secret passes our check
nvme check-dhchap-key -k "$ckey" > /dev/null     # and ours nvme-cli's

target_start main --listen tcp:127.0.0.1:4420 --subsystem "$nqn" --namespace ram:64M --allow-host "$host" \
  --dhchap-key "$host=$key" --dhchap-ctrl-key "$host=$ckey" --control-socket /run/nvmf-auth.sock
tlog=/run/target-main.log
say "our target is up (kernel $(uname -r))"
modprobe nvme-tcp

auth_lines() { grep -c "host $host $1 " "$tlog" || true; }   # what our target logged per queue
klog_since() { dmesg | tail -n "+$(( $1 + 1 ))"; }           # kernel log lines after a mark
klog_mark() { dmesg | wc -l; }

connect_ok() {   # LABEL HASH GROUP nvme-connect-args...
  local label=$1 hash=$2 group=$3 mark before ctrl qc; shift 3
  mark=$(klog_mark); before=$(auth_lines authenticated)
  host_connect tcp 127.0.0.1 4420 "$nqn" -q "$host" -I "$hid" "$@"
  dev=$(ns_dev_wait "$nqn" 1); ctrl=$(find_ctrl "$nqn")
  expect_eq "state of $ctrl" "$(ctrl_state "$ctrl")" live
  klog_since "$mark" | grep -q "$ctrl: qid 0: authenticated with hash hmac($hash) dhgroup $group" ||
    { echo "$label: no 'qid 0: authenticated with hash hmac($hash) dhgroup $group' in the kernel log:";
      klog_since "$mark"; return 1; }
  read -r qc < "/sys/class/nvme/$ctrl/queue_count"
  expect_eq "$label: queues our target saw authenticated (admin + I/O)" "$(( $(auth_lines authenticated) - before ))" "$qc"
  say "$label: $ctrl live, $qc queues authenticated (hmac($hash), $group)"
}

connect_refused() {   # LABEL KERNEL-MESSAGE TARGET-MESSAGE nvme-connect-args...
  local label=$1 kmsg=$2 tmsg=$3 mark tbefore out; shift 3
  mark=$(klog_mark); tbefore=$(grep -c "$tmsg" "$tlog" || true)
  if out=$(host_connect tcp 127.0.0.1 4420 "$nqn" -q "$host" -I "$hid" "$@" 2>&1); then
    echo "$label: the connect succeeded: $out"; return 1
  fi
  ! find_ctrl "$nqn" > /dev/null || { echo "$label: a controller for $nqn exists after the refusal"; return 1; }
  klog_since "$mark" | grep -q "$kmsg" ||
    { echo "$label: no '$kmsg' in the kernel log:"; klog_since "$mark"; return 1; }
  # an authentication failure, not a transport one (socket errors, a failed Connect command, timeouts)
  if klog_since "$mark" | grep -E -i 'receive failed|failed to send|socket|Connect command failed|timeout|I/O error'; then
    echo "$label: the kernel log shows a transport error"; return 1
  fi
  wait_for "(( \$(grep -c '$tmsg' '$tlog' || true) > $tbefore ))" 10 ||
    { echo "$label: our target did not log '$tmsg'"; return 1; }
  say "$label: refused ($(klog_since "$mark" | grep -m1 -o "$kmsg.*")); nvme connect said: ${out##*$'\n'}"
}


# ---- 1: unidirectional (-S): the target's choice among everything the Linux host offers
connect_ok "-S" sha512 ffdhe2048 -S "$key"
run_fio uni "$dev" --size=4M --rw=randwrite --bs=4k --iodepth=8
host_disconnect "$nqn"

# ---- 2: bidirectional (-S -C), the host narrowed at run time to SHA-256 and the null group
"$NVMF" "${ctl[@]}" set-host-dhchap "$host" --dhchap-key "$key" --dhchap-ctrl-key "$ckey" \
  --dhchap-hash sha256 --dhchap-dhgroup null > /dev/null
mark=$(klog_mark)
connect_ok "-S -C" sha256 null -S "$key" -C "$ckey"
klog_since "$mark" | grep -q "qid 0: controller authenticated" ||
  { echo "-S -C: the kernel did not log 'qid 0: controller authenticated'"; exit 1; }
# (fio runs on this bidirectional connection below, during the re-authentications)

# ---- 3: re-authentication through sysfs while fio runs (the same secret, then a new one)
ctrl=$(find_ctrl "$nqn"); read -r qc < "/sys/class/nvme/$ctrl/queue_count"
dev_ios() { local f; read -r -a f < "/sys/block/${dev#/dev/}/stat"; echo $(( f[0] + f[4] )); }   # reads + writes
reauth() {   # LABEL SECRET HASH GROUP
  local before mark
  before=$(auth_lines re-authenticated); mark=$(klog_mark)
  run_fio "reauth-$1" "$dev" --size=8M --rw=randwrite --bs=4k --iodepth=8 > /tmp/fio-bg.out 2>&1 &
  local fio_pid=$!
  local ios0; ios0=$(dev_ios)
  wait_for "(( \$(dev_ios) > ios0 + 64 ))" 20   # fio is writing
  kill -0 "$fio_pid" 2>/dev/null || { echo "reauth $1: fio ended before the re-authentication started"; exit 1; }
  echo -n "$2" > "/sys/class/nvme/$ctrl/dhchap_secret"
  wait_for "(( \$(grep -c 'host $host re-authenticated ' '$tlog' || true) >= $before + $qc ))" 30 ||
    { echo "reauth $1: our target logged $(( $(auth_lines re-authenticated) - before )) re-authentications," \
        "expected $qc"; klog_since "$mark"; exit 1; }
  local still=no; kill -0 "$fio_pid" 2>/dev/null && still=yes
  wait "$fio_pid" || { cat /tmp/fio-bg.out; exit 1; }
  cat /tmp/fio-bg.out
  klog_since "$mark" | grep -q "qid 0: authenticated with hash hmac($3) dhgroup $4" ||
    { echo "reauth $1: no 'authenticated with hash hmac($3) dhgroup $4' in the kernel log"; klog_since "$mark"; exit 1; }
  if klog_since "$mark" | grep -E 'authentication failed|reconnect|resetting|Removing ctrl'; then
    echo "reauth $1: the kernel logged a failure or a reconnect"; exit 1
  fi
  expect_eq "state of $ctrl after re-authentication $1" "$(ctrl_state "$ctrl")" live
  say "reauth $1: $qc queues re-authenticated (hmac($3), $4) with fio running (still running after: $still)"
}
reauth same "$key" sha256 null
"$NVMF" "${ctl[@]}" set-host-dhchap "$host" --dhchap-key "$key2" --dhchap-ctrl-key "$ckey" \
  --dhchap-hash sha384 --dhchap-dhgroup ffdhe3072 > /dev/null
reauth new-key "$key2" sha384 ffdhe3072
host_disconnect "$nqn"

# ---- 4: refusals: the wrong host secret (AUTH_Failure1 from us), the wrong controller secret (AUTH_Failure2
# from the kernel); the right pair still works afterwards
connect_refused "wrong -S" "qid 0: authentication failed" "DH-HMAC-CHAP authentication failed" -S "$wrong"
connect_refused "wrong -C" "qid 0: controller authentication failed" "refused controller" \
  -S "$key2" -C "$wrong_ckey"
connect_ok "after the refusals" sha384 ffdhe3072 -S "$key2" -C "$ckey"
host_disconnect "$nqn"
if grep -q -F -e "${key#DHHC-1:01:}" -e "${ckey#DHHC-1:02:}" -e "${key2#DHHC-1:00:}" "$tlog"; then
  echo "a secret appears in our target's log"; exit 1
fi
target_stop main
say "PASS"
GUEST
)"
