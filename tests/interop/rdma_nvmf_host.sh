#!/bin/bash
# rdma_nvmf_host.sh: the nvmf host tools over NVMe/RDMA (`-t rdma` through the initiator's transport factory)
# against the Linux kernel target (nvmet-rdma) on soft-RoCE inside the VM:
#   - nvmf discover -t rdma lists the subsystem with TRTYPE rdma; nvmf id-ctrl -t rdma reports nvmet's serial,
#     model and NQN (the admin queue's Connect data goes by keyed SGL: no in-capsule data on the RDMA admin queue);
#   - a write/read round trip through the block API (I/O queue Connect with the CNTLID in the CM private data),
#     with the bytes checked on nvmet's backing file;
#   - nvmf perf --verify --transport rdma at 4 KiB (in-capsule writes) and 128 KiB (keyed SGL), depth 16, two
#     queues: no I/O or verify errors.
# Exit: 0 pass, 77 skip (kernel or qemu cannot be had), anything else fail.
# Environment: NVMF_BUILD_DIR (the build holding utils/nvmf, built with RDMA), INTEROP_VM_TIMEOUT (default 300 s),
# VMRUN_KERNEL (another kernel, e.g. linux-image-6.12-amd64).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
interop_vm_ready ${VMRUN_KERNEL:+--meta "$VMRUN_KERNEL"}
interop_nvmf_ready
interop_guest rdma_nvmf_host "${INTEROP_VM_TIMEOUT:-300}" "$(cat <<'GUEST'
interop_fail_dump
. "$INTEROP_DIR/rdma_guest.sh"
nqn=nqn.2024-01.io.nvmf-toolkit:rdma-host
nv() { timeout -k 5 60 "$NVMF" "$@"; }   # a hung command fails the test instead of stalling it
say "kernel $(uname -r)"

rdma_rxe_setup
make_backing_file /run/ns1.img 64M
nvmet_subsys_add "$nqn"
echo NVMFRDMA0001 > "$INTEROP_NVMET/subsystems/$nqn/attr_serial"
echo "nvmet rdma interop" > "$INTEROP_NVMET/subsystems/$nqn/attr_model"
nvmet_ns_add "$nqn" 1 /run/ns1.img
nvmet_port_link "$(nvmet_port_add rdma "$RDMA_ADDR" 4420)" "$nqn"
say "nvmet-rdma target up on $RDMA_ADDR:4420"
conn=(-t rdma -a "$RDMA_ADDR" -s 4420)

disc=$(nv discover "${conn[@]}" -o json)
jq -e --arg n "$nqn" '[.records[] | select(.subnqn == $n and .trtype == "rdma")] | length == 1' <<<"$disc" \
  > /dev/null || { echo "discover -t rdma: $nqn missing: $disc"; exit 1; }

id=$(nv id-ctrl "${conn[@]}" -n "$nqn" -o json)
expect_eq "serial" "$(jq -r '.sn' <<<"$id" | sed 's/ *$//')" "NVMFRDMA0001"
expect_eq "model" "$(jq -r '.mn' <<<"$id" | sed 's/ *$//')" "nvmet rdma interop"
expect_eq "subnqn" "$(jq -r '.subnqn' <<<"$id")" "$nqn"
say "id-ctrl -t rdma: serial, model and NQN as configured"

bs=$((1 << $(nv id-ns "${conn[@]}" -n "$nqn" -o json | jq -r '.lbafs[.flbas % 16].ds')))
head -c 65536 /dev/urandom > /tmp/in
nv write "${conn[@]}" -n "$nqn" --start-block 16 --data-size 65536 --data /tmp/in
nv read "${conn[@]}" -n "$nqn" --start-block 16 --data-size 65536 --data /tmp/out
cmp /tmp/in /tmp/out || { echo "read back differs from what was written"; exit 1; }
dd if=/run/ns1.img of=/tmp/file bs="$bs" skip=16 count=$((65536 / bs)) status=none
cmp /tmp/file /tmp/in || { echo "nvmet's backing file does not hold the written bytes"; exit 1; }
say "64 KiB written and read back over RDMA, same bytes in nvmet's file"

for size in 4096 131072; do
  out=$(nv perf --verify --transport rdma -a "$RDMA_ADDR" -s 4420 -n "$nqn" -q 16 -P 2 -o "$size" -w randread \
    -T 4 --region-size 32 --quiet --output-format json)
  jq -e '.ok and .verify_errors == 0 and .io_errors == 0 and .phases[1].reads > 0' <<<"$out" > /dev/null \
    || { echo "perf --verify over rdma, $size-byte I/O: $out"; exit 1; }
  say "perf --verify rdma ${size}B: $(jq -r '.phases[1].iops | floor' <<<"$out") IOPS read-verify"
done
nvmet_teardown
say "PASS"
GUEST
)"
