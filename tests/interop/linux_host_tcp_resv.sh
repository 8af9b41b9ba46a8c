#!/bin/bash
# linux_host_tcp_resv.sh: NVMe reservations of our target driven by the Linux NVMe/TCP host and nvme-cli 2.3, in the
# VM (nvmet has none before 6.13). One subsystem with a file namespace, two hosts (two host NQNs and host IDs),
# each with its own controller through its own port. The kernel's native multipath is turned off so that each
# controller has its own block device, /dev/nvmeXn1, and a command goes through the host it is meant to.
#   1. both hosts register (resv-register); A acquires Write Exclusive; B's write fails with Reservation Conflict
#      (nvme-cli's status 0x083; dd through the block layer fails as well), B's read succeeds, A's write succeeds;
#      resv-report -e shows the type, both keys and A as holder; without -e it is refused (Host Identifier
#      Inconsistent Format, 0x018: fabrics host IDs are 128-bit); after A releases, B's write succeeds;
#   2. A acquires again; B preempts and aborts A (resv-acquire -a 2 with A's key): B holds, A is unregistered and
#      its writes conflict; the Reservation Notification log (80h) read through A's controller holds one
#      "registration preempted" page for NSID 1, then none; B's log has none;
#   3. A registers again; B clears (resv-release -a 1): no registrant, no reservation, A's log says "reservation
#      preempted" and A writes again;
#   4. the block layer's persistent-reservation ioctls: IOC_PR_REGISTER is refused (the kernel always asks for
#      PTPL, which this target does not offer); reserve, preempt and abort, release and clear work as above.
# Exit: 0 pass, 77 skip (no VM), else fail (the target's log and dmesg are printed).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
interop_vm_ready ${VMRUN_KERNEL:+--meta "$VMRUN_KERNEL"}
interop_nvmf_ready

interop_guest linux_host_tcp_resv "${INTEROP_VM_TIMEOUT:-300}" "$(cat <<'GUEST'
interop_fail_dump
nqn=nqn.2024-01.io.nvmf-toolkit:interop-resv
host_a=nqn.2014-08.org.nvmexpress:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427
host_b=nqn.2014-08.org.nvmexpress:uuid:6f1c3d52-9a8e-4d4b-8f43-2a5c1e7d9b10
modprobe nvme_core multipath=N
expect_eq "nvme_core multipath" "$(< /sys/module/nvme_core/parameters/multipath)" N
truncate -s 16M /run/resv.img
target_start resv --listen tcp:127.0.0.1:4420 --listen tcp:127.0.0.1:4421 --discovery-port 0 --subsystem "$nqn" \
  --namespace file:/run/resv.img --serial NVMFINTEROPRS01 -v
# nvme-cli 2.3 refuses a second controller to the same subsystem, address and port: one port per host
host_connect tcp 127.0.0.1 4420 "$nqn" --hostnqn "$host_a" --hostid "${host_a##*:}"
host_connect tcp 127.0.0.1 4421 "$nqn" --hostnqn "$host_b" --hostid "${host_b##*:}"
wait_for "[[ \$(find_ctrl '$nqn' | wc -l) == 2 ]]" 30
ctrl_of() {
  local c v
  for c in $(find_ctrl "$nqn"); do read -r v < "/sys/class/nvme/$c/hostnqn"; [[ $v != "$1" ]] || echo "$c"; done
}
ctrl_a=$(ctrl_of "$host_a"); ctrl_b=$(ctrl_of "$host_b")
ns_of() { local d; for d in /sys/class/nvme/$1/nvme*n1; do [[ ! -e $d ]] || echo "/dev/${d##*/}"; done; }
wait_for "[[ -b \$(ns_of $ctrl_a) && -b \$(ns_of $ctrl_b) ]]" 30
dev_a=$(ns_of "$ctrl_a"); dev_b=$(ns_of "$ctrl_b")
say "host A: $ctrl_a ($dev_a), host B: $ctrl_b ($dev_b)"
oncs=$(nvme id-ctrl "/dev/$ctrl_a" -o json | jq .oncs)
(( oncs & 0x20 )) || { echo "ONCS $oncs: no reservations bit"; exit 1; }
expect_eq "RESCAP" "$(nvme id-ns "$dev_a" -o json | jq .rescap)" 254

head -c 4096 /dev/urandom > /tmp/block
# write 4 KiB at LBA 0 through DEV with nvme-cli; prints the NVMe status (0x000 on success)
nvme_write() {
  local out
  if out=$(nvme write "$1" -s 0 -c 7 -z 4096 -d /tmp/block 2>&1); then echo 0x000; return; fi
  local st; st=$(nvme_cli_status "$out"); echo "${st:-failed: $out}"
}
dd_write() { dd if=/tmp/block of="$1" bs=4096 count=1 oflag=direct status=none 2>/dev/null; }
dd_read() { dd if="$1" of=/dev/null bs=4096 count=1 iflag=direct status=none 2>/dev/null; }

# ---- 1: Write Exclusive
nvme resv-register "$dev_a" -n 1 -k 0xA1 -r 0
nvme resv-register "$dev_b" -n 1 -k 0xB2 -r 0
nvme resv-acquire "$dev_a" -n 1 -c 0xA1 -t 1 -a 0
expect_eq "B's write under A's Write Exclusive (nvme write)" "$(nvme_write "$dev_b")" 0x083
! dd_write "$dev_b" || { echo "B's block-layer write succeeded under A's Write Exclusive"; exit 1; }
dd_read "$dev_b" || { echo "B's read failed under Write Exclusive"; exit 1; }
expect_eq "A's write as holder" "$(nvme_write "$dev_a")" 0x000
report=$(nvme resv-report "$dev_b" -n 1 -e -o json)
jq -e '.rtype == 1 and .regctl == 2 and .ptpls == 0 and
       ([.regctlext[] | select(.rcsts == 1) | .rkey] == [161]) and
       ([.regctlext[].rkey] | sort == [161, 178]) and ([.regctlext[].cntlid] | unique == [65535])' \
  <<< "$report" > /dev/null || { echo "unexpected report: $report"; exit 1; }
out=$(nvme resv-report "$dev_b" -n 1 -o json 2>&1) && { echo "regular report accepted: $out"; exit 1; }
expect_eq "regular report status" "$(nvme_cli_status "$out")" 0x018
say "Write Exclusive: B's write conflicts (0x083, and through dd), B reads, A writes; report: $(jq -c '{rtype, regctl}' <<< "$report")"
nvme resv-release "$dev_a" -n 1 -c 0xA1 -t 1 -a 0
expect_eq "B's write after the release" "$(nvme_write "$dev_b")" 0x000
dd_write "$dev_b" || { echo "B's block-layer write failed after the release"; exit 1; }
say "released: B writes"

# ---- 2: preempt and abort
nvme resv-acquire "$dev_a" -n 1 -c 0xA1 -t 1 -a 0
nvme resv-acquire "$dev_b" -n 1 -c 0xB2 -p 0xA1 -t 1 -a 2
report=$(nvme resv-report "$dev_a" -n 1 -e -o json)
jq -e '.rtype == 1 and .regctl == 1 and .regctlext[0].rkey == 178 and .regctlext[0].rcsts == 1' <<< "$report" \
  > /dev/null || { echo "unexpected report after preempt and abort: $report"; exit 1; }
expect_eq "A's write after being preempted" "$(nvme_write "$dev_a")" 0x083
expect_eq "B's write as the new holder" "$(nvme_write "$dev_b")" 0x000
# Reservation Notification log: LPC (8 bytes), type, NALP, 2 reserved, NSID
log_page() { nvme get-log "/dev/$1" -i 0x80 -l 64 -b | od -An -v -tu1 -w64; }
read -r -a page <<< "$(log_page "$ctrl_a")"
expect_eq "A's notification: count" "${page[0]}" 1
expect_eq "A's notification: type (registration preempted)" "${page[8]}" 1
expect_eq "A's notification: pages left" "${page[9]}" 0
expect_eq "A's notification: NSID" "${page[12]}" 1
read -r -a page <<< "$(log_page "$ctrl_a")"
expect_eq "A's notification log once read: type" "${page[8]}" 0
read -r -a page <<< "$(log_page "$ctrl_b")"
expect_eq "B's notification log (the issuer): type" "${page[8]}" 0
say "preempt and abort: B holds, A unregistered and refused, A's log: one 'registration preempted' page"

# ---- 3: clear
nvme resv-register "$dev_a" -n 1 -k 0xA3 -r 0
nvme resv-release "$dev_b" -n 1 -c 0xB2 -a 1
report=$(nvme resv-report "$dev_a" -n 1 -e -o json)
jq -e '.rtype == 0 and .regctl == 0' <<< "$report" > /dev/null || { echo "unexpected report after clear: $report"; exit 1; }
read -r -a page <<< "$(log_page "$ctrl_a")"
expect_eq "A's notification after the clear: count" "${page[0]}" 2
expect_eq "A's notification after the clear: type (reservation preempted)" "${page[8]}" 3
expect_eq "A's write after the clear" "$(nvme_write "$dev_a")" 0x000
say "cleared: no registrant, A told \"reservation preempted\", A writes again"

# ---- 4: the block layer's persistent-reservation ioctls (linux/pr.h), which the kernel turns into the same
# commands. Its IOC_PR_REGISTER always asks for Persist Through Power Loss (CPTPL 11b), which this target cannot
# keep (RESCAP bit 0 clear): refused with Invalid Field, as SPDK refuses it without a PTPL file. The keys are
# registered with nvme-cli; reserve, preempt and abort, release and clear go through the ioctls.
nvme resv-register "$dev_a" -n 1 -k 0xC1 -r 0
nvme resv-register "$dev_b" -n 1 -k 0xC2 -r 0
# One python process for the whole sequence: a process start costs seconds under emulation.
python3 - "$dev_a" "$dev_b" <<'PY'
import fcntl, mmap, os, struct, sys
dev_a, dev_b = sys.argv[1], sys.argv[2]
layouts = {'register': (200, '<QQII'), 'reserve': (201, '<QII'), 'release': (202, '<QII'),
           'preempt-abort': (204, '<QQII'), 'clear': (205, '<QII')}
def pr(dev, op, *args):
    nr, fmt = layouts[op]
    fields = list(args) + [0] * (len(fmt) - 1 - len(args))
    buf = bytearray(struct.pack(fmt, *fields))
    fd = os.open(dev, os.O_RDONLY)
    try:
        return fcntl.ioctl(fd, 0x40000000 | len(buf) << 16 | ord('p') << 8 | nr, buf, True)
    except OSError as e:  # 6.12 turns Invalid Field into EINVAL; 6.1 returns the NVMe status
        return f"errno {e.errno}"
    finally:
        os.close(fd)
def writes(dev):  # a 4 KiB O_DIRECT write at offset 0 through the block layer
    block = mmap.mmap(-1, 4096)
    fd = os.open(dev, os.O_WRONLY | os.O_DIRECT)
    try:
        os.pwrite(fd, block, 0)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
def expect(what, got, want):
    if got != want:
        sys.exit(f"{what}: got {got!r}, want {want!r}")
r = pr(dev_a, 'register', 0xC1, 0xC5)
if r == 0:
    sys.exit("IOC_PR_REGISTER (CPTPL 11b) succeeded without PTPL support")
print(f"IOC_PR_REGISTER refused ({r if isinstance(r, str) else f'NVMe status {r:#x}'}): "
      "the kernel asks for PTPL, not supported here")
expect("IOC_PR_RESERVE (Write Exclusive) by A", pr(dev_a, 'reserve', 0xC1, 1), 0)
expect("B's write under A's reservation", writes(dev_b), False)
expect("A's write as holder", writes(dev_a), True)
expect("IOC_PR_PREEMPT_ABORT by B", pr(dev_b, 'preempt-abort', 0xC2, 0xC1, 1), 0)
expect("A's write once preempted", writes(dev_a), False)
expect("IOC_PR_RELEASE by B", pr(dev_b, 'release', 0xC2, 1), 0)
expect("A's write after the release", writes(dev_a), True)
expect("IOC_PR_CLEAR by B", pr(dev_b, 'clear', 0xC2), 0)
PY
report=$(nvme resv-report "$dev_a" -n 1 -e -o json)
jq -e '.rtype == 0 and .regctl == 0' <<< "$report" > /dev/null || { echo "unexpected report after IOC_PR_CLEAR: $report"; exit 1; }
say "block-layer PR ioctls: reserve, preempt and abort, release, clear behave as the NVMe commands"

nvme disconnect -n "$nqn"
wait_for "! find_ctrl '$nqn' >/dev/null" 30
target_stop resv
say "PASS"
GUEST
)"
