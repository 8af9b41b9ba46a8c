#!/bin/bash
# our_host_nvmet_tcp.sh: our host tools (nvmf discover, id-ctrl, id-ns, read/write, perf --verify) against the
# Linux kernel's NVMe/TCP target (nvmet-tcp), in the VM. The kernel target serves one subsystem with a file
# namespace (NSID 1, 128 MiB on tmpfs, buffered) and a memory-backed null_blk namespace (NSID 2, 256 MiB, 4 KiB
# blocks) on two ports, 4420 and 8009.
#   - The kernel's own host (nvme-cli) reads the discovery logs and the identify data first: our JSON must carry
#     the same values (every field both print, except the per-controller CNTLID and FGUID's spelling).
#   - Our host writes, reads back and compares blocks (the file namespace's bytes must be in nvmet's file),
#     zeroes (null_blk only: see below) and deallocates ranges; a read past the end is refused (LBA Out of Range,
#     or by our tool itself from the identified size); Compare gets the controller's answer (nvmet has none:
#     Invalid Command Opcode unless ONCS says otherwise).
#   - nvmf perf --verify: random writes read back and checked, 4 KiB and 128 KiB, depth 32, one and two queues,
#     digests off and on, on both namespaces; no I/O or verify errors.
#   - block_api_check (the host library's block API from a program, two threads with a queue each): asynchronous
#     and synchronous I/O verified, Write Zeroes, deallocate, digests off and on.
# Exit: 0 pass, 77 skip (no VM), else fail (dmesg is printed).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
interop_vm_ready ${VMRUN_KERNEL:+--meta "$VMRUN_KERNEL"}
interop_nvmf_ready
interop_guest our_host_nvmet_tcp "${INTEROP_VM_TIMEOUT:-300}" "$(cat <<'GUEST'
interop_fail_dump
nqn=nqn.2024-01.io.nvmf-toolkit:interop-nvmet
nv() { timeout -k 5 60 "$NVMF" "$@"; }   # a hung command fails the test instead of stalling it
say "kernel $(uname -r)"

# ---- the kernel target
make_backing_file /run/ns1.img 128M
modprobe null_blk nr_devices=0
nb=/sys/kernel/config/nullb/nullb9   # 6.1 names the disk after this item
mkdir "$nb"
echo 256 > "$nb/size"; echo 4096 > "$nb/blocksize"; echo 1 > "$nb/memory_backed"; echo 1 > "$nb/discard"
echo 1 > "$nb/power"
nullb=; wait_for "compgen -G '/sys/block/nullb*' > /dev/null" 10
for b in /sys/block/nullb*; do [[ -e $b ]] && nullb=/dev/${b##*/}; done
[[ -b $nullb ]] || { echo "no null_blk device appeared"; exit 1; }
nvmet_subsys_add "$nqn"
echo NVMETINTEROP0001 > "$INTEROP_NVMET/subsystems/$nqn/attr_serial"
echo "nvmet interop" > "$INTEROP_NVMET/subsystems/$nqn/attr_model"
nvmet_ns_add "$nqn" 1 /run/ns1.img
nvmet_ns_add "$nqn" 2 "$nullb"
for svc in 4420 8009; do nvmet_port_link "$(nvmet_port_add tcp 127.0.0.1 "$svc")" "$nqn"; done
say "nvmet-tcp: $nqn (NSID 1 file, NSID 2 $nullb) on 127.0.0.1 ports 4420 and 8009"

# ---- reference answers from the kernel's own host
host_connect tcp 127.0.0.1 4420 "$nqn"
kdev1=$(ns_dev_wait "$nqn" 1); kdev2=$(ns_dev_wait "$nqn" 2)
ref_ctrl=$(nvme id-ctrl "/dev/$(find_ctrl "$nqn")" -o json)
ref_ns1=$(nvme id-ns "$kdev1" -o json); ref_ns2=$(nvme id-ns "$kdev2" -o json)
host_disconnect "$nqn"
ref_disc_8009=$(nvme discover -t tcp -a 127.0.0.1 -s 8009 -o json)
ref_disc_4420=$(nvme discover -t tcp -a 127.0.0.1 -s 4420 -o json)

# same_fields LABEL OURS REFERENCE MIN: every field both JSON documents have, at any depth (psds[0].max_power,
# lbafs[2].ds), must agree (strings without trailing blanks, numbers as text), except the per-controller CNTLID
# and FGUID's spelling; at least MIN top-level fields must be shared. Fields only nvme-cli prints are listed.
same_fields() {
  local out missing
  out=$(jq -rn --argjson a "$2" --argjson b "$3" --argjson min "$4" '
    def norm: if type == "string" then sub(" +$"; "") elif type == "number" then tostring else tojson end;
    def diffs($x; $y; $p):
      if ($x | type) == "object" and ($y | type) == "object" then
        $x | keys[] | select(. as $k | $y | has($k)) | select(IN("cntlid", "fguid") | not) as $k
        | diffs($x[$k]; $y[$k]; "\($p).\($k)")
      elif ($x | type) == "array" and ($y | type) == "array" and ($x | length) == ($y | length) then
        range(0; $x | length) as $i | diffs($x[$i]; $y[$i]; "\($p)[\($i)]")
      elif ($x | norm) != ($y | norm) then "DIFF \($p): ours \($x | tojson), nvme-cli \($y | tojson)"
      else empty end;
    ([$a | keys[] | select(. as $k | $b | has($k))] | length) as $common
    | diffs($a; $b; ""),
      (if $common < $min then "DIFF only \($common) fields in common (want >= \($min))" else empty end),
      "COMMON \($common)",
      ([$b | paths(scalars) | map(if type == "number" then 0 else . end) | join(".")] - [$a | paths(scalars) |
        map(if type == "number" then 0 else . end) | join(".")] | unique | select(length > 0) | "MISSING " + join(" "))')
  if grep -q '^DIFF' <<<"$out"; then echo "$1 differs from nvme-cli's:"; grep '^DIFF' <<<"$out"; return 1; fi
  missing=$(sed -n 's/^MISSING //p' <<<"$out")
  say "$1: $(sed -n 's/^COMMON //p' <<<"$out") fields, all equal to nvme-cli's${missing:+ (only nvme-cli prints: $missing)}"
}

# ---- discovery, digests off and on
recs='[.records[] | {trtype, adrfam, subtype, portid, trsvcid, subnqn, traddr, sectype}] | sort_by(.subnqn, .trsvcid)'
for svc in 8009 4420; do
  ref=ref_disc_$svc
  for dg in "" "-g -G"; do
    # shellcheck disable=SC2086
    ours=$(nv discover -a 127.0.0.1 -s "$svc" $dg -o json)
    if [[ $(jq -c "$recs" <<<"$ours") != "$(jq -c "$recs" <<<"${!ref}")" ]]; then
      echo "nvmf discover -s $svc $dg: records differ from nvme discover's"
      echo "ours:"; jq -c "$recs" <<<"$ours"; echo "nvme-cli:"; jq -c "$recs" <<<"${!ref}"; exit 1
    fi
  done
  [[ $(jq --arg n "$nqn" '[.records[] | select(.subnqn == $n)] | length' <<<"$ours") -ge 1 ]] ||
    { echo "nvmf discover -s $svc: $nqn missing"; echo "$ours"; exit 1; }
done
nv discover -a 127.0.0.1 | grep -q "subnqn: *$nqn" || { echo "nvmf discover (normal output, port 8009) lacks $nqn"; exit 1; }
say "nvmf discover (8009 default and 4420, digests off and on): the same records as nvme discover"

# ---- identify
same_fields "nvmf id-ctrl" "$(nv id-ctrl -n "$nqn" -o json)" "$ref_ctrl" 40
same_fields "nvmf id-ctrl -g -G" "$(nv id-ctrl -n "$nqn" -g -G -o json)" "$ref_ctrl" 40
same_fields "nvmf id-ns -N 1" "$(nv id-ns -n "$nqn" -N 1 -o json)" "$ref_ns1" 15
same_fields "nvmf id-ns -N 2" "$(nv id-ns -n "$nqn" -N 2 -o json)" "$ref_ns2" 15
expect_eq "id-ctrl sn" "$(nv id-ctrl -n "$nqn" -o json | jq -r '.sn | sub(" +$"; "")')" NVMETINTEROP0001
nv id-ctrl -n "$nqn" | grep -q "^sn *: *NVMETINTEROP0001" || { echo "nvmf id-ctrl (normal output) lacks the serial"; exit 1; }

# ---- read, write, compare, zeroes, deallocate
for nsid in 1 2; do
  ref=ref_ns$nsid
  bs=$(( 1 << $(jq -r '.lbafs[.flbas % 16].ds' <<<"${!ref}") )); nsze=$(jq -r .nsze <<<"${!ref}")
  blocks=$(( 65536 / bs )); slba=$(( 1000 + nsid ))
  head -c 65536 /dev/urandom > /tmp/pat
  nv write -n "$nqn" -N "$nsid" -S "$slba" -c $((blocks - 1)) -z 65536 -d /tmp/pat > /dev/null
  nv read -n "$nqn" -N "$nsid" -S "$slba" -c $((blocks - 1)) -z 65536 -d /tmp/back > /dev/null
  cmp /tmp/pat /tmp/back
  backing=/run/ns1.img; [[ $nsid == 1 ]] || backing=$nullb
  same_bytes /tmp/pat 0 "$backing" $((slba * bs)) 65536
  oncs=$(jq -r .oncs <<<"$ref_ctrl")
  if (( oncs & 1 )); then
    nv compare -n "$nqn" -N "$nsid" -S "$slba" -c $((blocks - 1)) -z 65536 -d /tmp/pat > /dev/null
    cmpnote="Compare matched"
  else
    out=$(nv compare -n "$nqn" -N "$nsid" -S "$slba" -c $((blocks - 1)) -z 65536 -d /tmp/pat 2>&1) &&
      { echo "Compare succeeded although nvmet's ONCS ($oncs) has no Compare: $out"; exit 1; }
    [[ ${out,,} == *opcode* ]] || { echo "Compare on nvmet: expected Invalid Command Opcode, got: $out"; exit 1; }
    cmpnote="Compare refused: $out"
  fi
  out=$(nv read -n "$nqn" -N "$nsid" -S "$nsze" -c 0 -z "$bs" -d /tmp/past 2>&1) &&
    { echo "read at LBA $nsze (past the end of NSID $nsid) succeeded: $out"; exit 1; }
  # refused by the controller (LBA Out of Range), or by our tool before sending, from the size it identified
  [[ ${out,,} == *"out of range"* || ${out,,} == *"exceed the namespace"* ]] ||
    { echo "read past the end of NSID $nsid: expected LBA Out of Range, got: $out"; exit 1; }
  # nvmet zeroes a file with fallocate(ZERO_RANGE), which tmpfs lacks (status 0x183, Linux's "ONCS not
  # supported"): Write Zeroes only on the null_blk namespace
  wz=
  if [[ $nsid == 2 ]]; then
    wz="write-zeroes, "
    nv write-zeroes -n "$nqn" -N "$nsid" -S "$slba" -c $((blocks / 2 - 1)) > /dev/null
    nv read -n "$nqn" -N "$nsid" -S "$slba" -c $((blocks - 1)) -z 65536 -d /tmp/back > /dev/null
    cmp -n 32768 /tmp/back /dev/zero
    cmp -i 32768 /tmp/pat /tmp/back
  fi
  nv dsm -n "$nqn" -N "$nsid" --slbs "$slba" --blocks "$blocks" --ad > /dev/null
  nv flush -n "$nqn" -N "$nsid" > /dev/null
  say "NSID $nsid ($bs B blocks): write/read/cmp (also in the backing store)," \
    "past-the-end read refused ($out), ${wz}dsm, flush; $cmpnote"
done
nv smart-log -n "$nqn" -o json | jq -e 'type == "object"' > /dev/null
nv error-log -n "$nqn" -o json > /dev/null
say "smart-log and error-log: fine"

# ---- perf --verify: a check of every block read back, digests off and on, one and two queues
run_perf() {   # LABEL ARGS...
  local label=$1 out; shift
  out=$(timeout -k 5 90 "$NVMF" perf -r "trtype:tcp traddr:127.0.0.1 trsvcid:4420 subnqn:$nqn" \
        --verify --quiet --output-format json "$@") || { echo "nvmf perf $label failed:"; echo "$out"; return 1; }
  if ! jq -e '.ok == true and .io_errors == 0 and .verify_errors == 0 and
              ([.phases[].writes] | add) > 0 and ([.phases[].reads] | add) > 0' <<<"$out" > /dev/null; then
    echo "nvmf perf $label: not clean:"; echo "$out"; return 1
  fi
  say "perf --verify $label: $(jq -r '[.phases[] | "\(.name) \(.ios) I/Os"] | join(", ")' <<<"$out"), no errors"
}
for nsid in 1 2; do
  run_perf "NSID $nsid randwrite 4k qd32" -N "$nsid" -w randwrite -o 4096 -q 32 -T 2 --region-size 32
  run_perf "NSID $nsid randwrite 128k qd32 -P 2 -g -G" -N "$nsid" -w randwrite -o 131072 -q 32 -P 2 -T 2 -g -G --region-size 64
done
run_perf "NSID 1 randrw 4k qd16 -g -G" -N 1 -w randrw -o 4096 -q 16 -T 2 -g -G --region-size 16

# ---- the block API (tests/interop/block_api_check.cpp): two threads with a queue each, asynchronous and
# synchronous I/O verified, Write Zeroes and deallocate; on the null_blk namespace (nvmet cannot zero a tmpfs
# file), digests off and on
check_prog=${NVMF%/utils/nvmf}/tests/interop/block_api_check
for digests in "" "-g -G"; do
  out=$(timeout -k 5 120 "$check_prog" -a 127.0.0.1 -s 4420 -n "$nqn" --nsid 2 --threads 2 $digests 2>&1) ||
    { echo "block_api_check ${digests:-(no digests)} failed:"; echo "$out"; exit 1; }
  say "block API ${digests:-without digests}: $(tail -n 1 <<<"$out")"
done
nvmet_teardown
say "PASS"
GUEST
)"
