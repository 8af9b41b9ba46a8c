#!/bin/bash
# ofi_verbs.sh: the ofi transport (NVMe/RDMA capsules over libfabric, fabric/ofi/) with libfabric's verbs provider
# on soft-RoCE (rxe on a veth pair inside the VM), both roles ours. One target listens on
# ofi:verbs:10.99.0.1:4420 and, for the ratio, on native rdma:10.99.0.1:4421; a RAM namespace and a file one.
#   - nvmf id-ctrl --transport ofi:verbs answers with the configured serial (keyed SGLs, SGLS bit 2);
#   - a 64 KiB write and read back over ofi:verbs, the bytes checked on the target's file;
#   - nvmf perf --verify --transport ofi:verbs, randrw (writes in-capsule at 4 KiB, fetched with fi_read at
#     128 KiB; reads pushed with fi_write), two queues: no I/O or verify errors, both directions counted;
#   - 4 KiB randread QD 16 over ofi:verbs and over native rdma, interleaved, best of 3: the ratio is printed (VM
#     under software emulation: ratios only, never absolute figures).
# Exit: 0 pass, 77 skip (no VM), else fail (the target's log is printed).
# Environment: NVMF_BUILD_DIR (a build with RDMA and libfabric), INTEROP_VM_TIMEOUT (default 420 s), VMRUN_KERNEL.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
interop_vm_ready ${VMRUN_KERNEL:+--meta "$VMRUN_KERNEL"}
interop_nvmf_ready

interop_guest ofi_verbs "${INTEROP_VM_TIMEOUT:-420}" "$(cat <<'GUEST'
interop_fail_dump
. "$INTEROP_DIR/rdma_guest.sh"
nqn=nqn.2024-01.io.nvmf-toolkit:ofi-verbs
nv() { timeout -k 5 90 "$NVMF" "$@"; }   # a hung command fails the test instead of stalling it
say "kernel $(uname -r)"
rdma_rxe_setup
truncate -s 64M /run/ns1.img
target_start main --listen "ofi:verbs:$RDMA_ADDR:4420" --listen "rdma:$RDMA_ADDR:4421" --discovery-port 0 \
  --subsystem "$nqn" --namespace file:/run/ns1.img --namespace ram:64M --serial NVMFOFIVERBS01 -v
say "our target listens on ofi:verbs:$RDMA_ADDR:4420 and rdma:$RDMA_ADDR:4421"
ofi=(--transport ofi:verbs -a "$RDMA_ADDR" -s 4420 -n "$nqn")

id=$(nv id-ctrl "${ofi[@]}" -o json)
expect_eq "serial" "$(jq -r '.sn' <<<"$id" | sed 's/ *$//')" "NVMFOFIVERBS01"
(( ($(jq -r '.sgls' <<<"$id") & 4) != 0 )) || { echo "SGLS lacks keyed SGL support: $id"; exit 1; }
say "id-ctrl over ofi:verbs: serial as configured, keyed SGLs"

head -c 65536 /dev/urandom > /tmp/in
nv write "${ofi[@]}" -N 1 --start-block 16 --data-size 65536 --data /tmp/in
nv read "${ofi[@]}" -N 1 --start-block 16 --data-size 65536 --data /tmp/out
cmp /tmp/in /tmp/out || { echo "read back over ofi:verbs differs from what was written"; exit 1; }
bs=$((1 << $(nv id-ns "${ofi[@]}" -N 1 -o json | jq -r '.lbafs[.flbas % 16].ds')))
dd if=/run/ns1.img of=/tmp/file bs="$bs" skip=16 count=$((65536 / bs)) status=none
cmp /tmp/file /tmp/in || { echo "the target's file does not hold the bytes written over ofi:verbs"; exit 1; }
say "64 KiB written and read back over ofi:verbs, same bytes in the target's file"

for size in 4096 131072; do
  for nsid in 1 2; do
    out=$(nv perf "${ofi[@]}" -N "$nsid" --verify -q 16 -P 2 -o "$size" -w randrw -T 4 --region-size 32 --quiet \
      --output-format json)
    jq -e '.ok and .verify_errors == 0 and .io_errors == 0 and ([.phases[].reads] | add) > 0 and
           ([.phases[].writes] | add) > 0' <<<"$out" > /dev/null \
      || { echo "perf --verify over ofi:verbs, nsid $nsid, $size-byte randrw: $out"; exit 1; }
  done
  say "perf --verify ofi:verbs ${size}B randrw on the file and RAM namespaces: no errors"
done

# The ratio: interleaved rounds, best of 3 per transport (software-emulated VM: only the ratio means anything).
best_ofi=0 best_rdma=0
for round in 1 2 3; do
  for t in ofi rdma; do
    if [[ $t == ofi ]]; then conn=("${ofi[@]}"); else conn=(--transport rdma -a "$RDMA_ADDR" -s 4421 -n "$nqn"); fi
    iops=$(nv perf "${conn[@]}" -N 2 -q 16 -o 4096 -w randread -T 3 --quiet --output-format json |
      jq -r '.phases[-1].iops | floor')
    say "round $round $t: $iops IOPS"
    if [[ $t == ofi ]]; then (( iops > best_ofi )) && best_ofi=$iops; else (( iops > best_rdma )) && best_rdma=$iops; fi
  done
done
(( best_ofi > 0 && best_rdma > 0 )) || { echo "no IOPS measured (ofi $best_ofi, rdma $best_rdma)"; exit 1; }
say "4 KiB randread QD 16, best of 3: ofi:verbs / native rdma = $((100 * best_ofi / best_rdma)) %"
target_stop main
say "PASS"
GUEST
)"
