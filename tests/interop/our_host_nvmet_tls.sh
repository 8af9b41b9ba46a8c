#!/bin/bash
# our_host_nvmet_tls.sh: our host tools over TLS 1.3 (TP 8011) against the Linux kernel's target (nvmet-tcp), in
# the VM on Debian's 6.12 kernel (VMRUN_KERNEL overrides). nvmet's port has addr_tsas tls1.3 and addr_treq
# required; nvmet hands the handshake to tlshd (ktls-utils, scripts/fetch-tlshd.sh), which looks the identity our
# host offers ("NVMe0R01 <hostnqn> <subnqn>") up in the .nvme keyring, where keyctl put the TLS PSK (derived by
# tls_psk.py, independently of our C++ code). Only the SHA-256 suite: Debian 12's GnuTLS computes PSK binders
# with SHA-256 only. The subsystem has a memory-backed null_blk namespace (NSID 1, 128 MiB, 4 KiB blocks).
#   - without --tls our host is refused (plain ICReq on a TLS port), and so is a key nvmet does not have;
#   - with the right key: nvmf discover lists the subsystem with TREQ required and SECTYPE TLS 1.3, id-ctrl
#     shows nvmet's serial, write/read back/compare on both sides of the connection (nvmet's device holds the
#     bytes), nvmf perf --verify (4 KiB and 128 KiB random writes read back and checked, two queues);
#   - our host's record layer is the kernel's (`tls` ULP, loaded here), and user space with NVMF_TLS_USERSPACE=1.
# Exit: 0 pass, 77 skip (no VM), else fail (tlshd's log and dmesg are printed).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
export VMRUN_KERNEL=${VMRUN_KERNEL:-linux-image-6.12-amd64}
interop_vm_ready --meta "$VMRUN_KERNEL"
interop_nvmf_ready
interop_tlshd_ready

# Keys and their keyring payloads are made here: Python starts slowly in the guest. Test keys only.
nqn=nqn.2024-01.io.nvmf-toolkit:interop-nvmet-tls
hostnqn=nqn.2014-08.org.nvmexpress:uuid:0c9e4a7d-2b51-4f3e-8d6a-5e4f3a2b1c0d
key=$("$NVMF" gen-tls-key -m 1) other=$("$NVMF" gen-tls-key -m 1)
psk_key=$("$here/tls_psk.py" "$key" "$hostnqn" "$nqn")
psk_disc=$("$here/tls_psk.py" "$key" "$hostnqn" nqn.2014-08.org.nvmexpress.discovery)

interop_guest our_host_nvmet_tls "${INTEROP_VM_TIMEOUT:-300}" "export TLSHD='$TLSHD'" \
  "nqn='$nqn' hostnqn='$hostnqn' key='$key' other='$other'" "psk_key='$psk_key'" "psk_disc='$psk_disc'" \
  "$(cat <<'GUEST'
interop_fail_dump
nv() { timeout -k 5 60 "$NVMF" "$@"; }   # a hung command fails the test instead of stalling it
say "kernel $(uname -r)"

# ---- nvmet: a TLS-only port
modprobe null_blk nr_devices=0
nb=/sys/kernel/config/nullb/nullb9
mkdir "$nb"
echo 128 > "$nb/size"; echo 4096 > "$nb/blocksize"; echo 1 > "$nb/memory_backed"; echo 1 > "$nb/power"
wait_for "compgen -G '/sys/block/nullb*' > /dev/null" 10
nullb=; for b in /sys/block/nullb*; do [[ -e $b ]] && nullb=/dev/${b##*/}; done
nvmet_subsys_add "$nqn"
echo NVMETTLS0001 > "$INTEROP_NVMET/subsystems/$nqn/attr_serial"
nvmet_ns_add "$nqn" 1 "$nullb"
modprobe nvmet-tcp   # brings the .nvme keyring (nvme-keyring) tlshd links
modprobe tls         # kernel TLS for our host's sockets (tlshd would load it too)
port=$INTEROP_NVMET/ports/1
mkdir "$port"
echo tcp > "$port/addr_trtype"; echo ipv4 > "$port/addr_adrfam"
echo 127.0.0.1 > "$port/addr_traddr"; echo 4420 > "$port/addr_trsvcid"
echo tls1.3 > "$port/addr_tsas"; echo required > "$port/addr_treq"
ln -s "$INTEROP_NVMET/subsystems/$nqn" "$port/subsystems/$nqn"
tlshd_start
say "nvmet-tcp: $nqn on 127.0.0.1:4420, addr_tsas $(< "$port/addr_tsas"), addr_treq $(< "$port/addr_treq"); tlshd up"

tls_psk_add "$psk_key"
tls_psk_add "$psk_disc"
conn=(-a 127.0.0.1 -s 4420 --hostnqn "$hostnqn")
say "TLS PSKs in the .nvme keyring for $nqn and the discovery NQN"

# ---- refusals
if out=$(nv id-ctrl "${conn[@]}" -n "$nqn" 2>&1); then echo "plain id-ctrl on nvmet's TLS port succeeded: $out"; exit 1; fi
say "without --tls: refused ($out)"
if out=$(nv id-ctrl "${conn[@]}" -n "$nqn" --tls-key "$other" 2>&1); then echo "id-ctrl with a key nvmet lacks succeeded"; exit 1; fi
say "a key nvmet does not have: refused ($out)"
b64=${other#NVMeTLSkey-1:01:}; b64=${b64%:}
[[ $out != *"${b64:0:16}"* ]] || { echo "our host printed the key in its error"; exit 1; }

# ---- discovery and identify over TLS
disc=$(nv discover "${conn[@]}" --tls-key "$key" -o json)
entry=$(jq -c --arg n "$nqn" '[.records[] | select(.subnqn == $n) | {trsvcid, treq, sectype}]' <<<"$disc")
say "nvmf discover over TLS: $entry"
jq -e 'length == 1 and .[0].trsvcid == "4420"' <<<"$entry" > /dev/null || { echo "$nqn not listed once: $disc"; exit 1; }
# nvmet's TLS port: TREQ 05h (required, SQ flow control disable supported), TSAS SECTYPE TLS 1.3
jq -e '.[0].treq == "required, sq flow control disable supported" and .[0].sectype == "tls13"' <<<"$entry" > /dev/null ||
  { echo "expected TREQ required (with the SQ flow control bit) and SECTYPE tls13 in: $entry"; exit 1; }
expect_eq "id-ctrl sn over TLS" \
  "$(nv id-ctrl "${conn[@]}" -n "$nqn" --tls --tls-key "$key" -o json | jq -r '.sn | sub(" +$"; "")')" NVMETTLS0001

# ---- which record layer our host uses: the kernel's, unless NVMF_TLS_USERSPACE forces user space
nv -v id-ctrl "${conn[@]}" -n "$nqn" --tls --tls-key "$key" > /dev/null 2> /tmp/ktls.err
grep -q 'level=debug.*tls: record layer in the kernel (tls ULP)' /tmp/ktls.err ||
  { echo "our host did not use kernel TLS:"; cat /tmp/ktls.err; exit 1; }
NVMF_TLS_USERSPACE=1 nv -v id-ctrl "${conn[@]}" -n "$nqn" --tls --tls-key "$key" > /dev/null 2> /tmp/utls.err
grep -q 'level=debug.*tls: record layer in user space: NVMF_TLS_USERSPACE is set' /tmp/utls.err ||
  { echo "NVMF_TLS_USERSPACE=1 did not keep our host in user space:"; cat /tmp/utls.err; exit 1; }
say "record layer: kernel TLS by default, user space with NVMF_TLS_USERSPACE=1 (id-ctrl both ways)"

# ---- data over TLS (kernel TLS), checked on nvmet's side too
head -c 65536 /dev/urandom > /tmp/pat
nv write "${conn[@]}" -n "$nqn" -N 1 -S 100 -c 15 -z 65536 -d /tmp/pat --tls-key "$key" > /dev/null
nv read "${conn[@]}" -n "$nqn" -N 1 -S 100 -c 15 -z 65536 -d /tmp/back --tls-key "$key" > /dev/null
cmp /tmp/pat /tmp/back
same_bytes /tmp/pat 0 "$nullb" $((100 * 4096)) 65536
say "write/read over TLS: identical, and in nvmet's device"
run_perf() {   # LABEL ARGS...
  local label=$1 out; shift
  out=$(timeout -k 5 120 "$NVMF" perf -r "trtype:tcp traddr:127.0.0.1 trsvcid:4420 subnqn:$nqn" --hostnqn "$hostnqn" \
        --tls-key "$key" --verify --quiet --output-format json "$@") ||
    { echo "nvmf perf $label failed:"; echo "$out"; return 1; }
  jq -e '.ok == true and .io_errors == 0 and .verify_errors == 0 and
         ([.phases[].writes] | add) > 0 and ([.phases[].reads] | add) > 0' <<<"$out" > /dev/null ||
    { echo "nvmf perf $label: not clean:"; echo "$out"; return 1; }
  say "perf --verify over TLS $label: $(jq -r '[.phases[] | "\(.name) \(.ios) I/Os"] | join(", ")' <<<"$out"), no errors"
}
run_perf "randwrite 4k qd16" -N 1 -w randwrite -o 4096 -q 16 -T 2 --region-size 16
run_perf "randwrite 128k qd8 -P 2" -N 1 -w randwrite -o 131072 -q 8 -P 2 -T 2 --region-size 32
grep -c 'Handshake with .* was successful' /run/tlshd.log | { read -r n; say "tlshd: $n successful handshakes"; }
nvmet_teardown
say "PASS"
GUEST
)"
