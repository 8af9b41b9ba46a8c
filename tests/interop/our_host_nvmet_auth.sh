#!/bin/bash
# our_host_nvmet_auth.sh: our host tools authenticating with DH-HMAC-CHAP (NVMe Base 2.0, 8.13) to the Linux
# kernel's target (nvmet-tcp), in the VM on Debian's 6.12 kernel (6.1 is built without NVMe authentication).
# One boot; nvmet serves a file namespace to one allowed host whose configfs entry (hosts/<nqn>/dhchap_key,
# dhchap_ctrl_key, dhchap_hash, dhchap_dhgroup) is rewritten between cases (nvmet reads it at each Connect):
#   - every hash (hmac(sha256), hmac(sha384), hmac(sha512)) with the null group and ffdhe2048, each hash and
#     each group once unidirectional (-S) and once bidirectional (-S -C): `nvmf perf --verify`
#     (random writes read back and checked) runs on every case, and our host's debug log must show the hash and
#     group nvmet was configured with, on the admin queue and the I/O queue;
#   - refusals: no secret (our host says authentication is required), a wrong host secret (nvmet answers
#     AUTH_Failure1, the kernel logs the mismatch), a wrong controller secret (our host refuses nvmet's response).
# Exit: 0 pass, 77 skip (no VM or no 6.12 kernel package), else fail (dmesg is printed).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
export VMRUN_KERNEL=${NVMF_AUTH_KERNEL:-linux-image-6.12-amd64}
interop_vm_ready --meta "$VMRUN_KERNEL"
interop_nvmf_ready
interop_guest our_host_nvmet_auth "${INTEROP_VM_TIMEOUT:-300}" "$(cat <<'GUEST'
interop_fail_dump
nqn=nqn.2024-01.io.nvmf-toolkit:interop-nvmet-auth
hid=a1b2c3d4-0000-4111-8222-333344445555 host=nqn.2014-08.org.nvmexpress:uuid:a1b2c3d4-0000-4111-8222-333344445555
say "kernel $(uname -r)"

# ---- nvmet: one subsystem, only our host allowed, its DH-HMAC-CHAP entry in configfs
make_backing_file /run/ns1.img 64M
nvmet_subsys_add "$nqn"
echo 0 > "$INTEROP_NVMET/subsystems/$nqn/attr_allow_any_host"
hdir=$INTEROP_NVMET/hosts/$host
mkdir "$hdir"
ln -s "$hdir" "$INTEROP_NVMET/subsystems/$nqn/allowed_hosts/$host"
nvmet_ns_add "$nqn" 1 /run/ns1.img
nvmet_port_link "$(nvmet_port_add tcp 127.0.0.1 4420)" "$nqn"
# our tool makes the host secret, nvme-cli the controller secret (each transformed with its owner's NQN)
key=$("$NVMF" gen-dhchap-key -m 1 -n "$host")
ckey=$(nvme gen-dhchap-key -m 3 -n "$nqn")
wrong=$("$NVMF" gen-dhchap-key -m 1 -n "$host")
wrong_ckey=$(nvme gen-dhchap-key -m 3 -n "$nqn")
echo -n "$key" > "$hdir/dhchap_key"
echo -n "$ckey" > "$hdir/dhchap_ctrl_key"
say "nvmet-tcp: $nqn on 127.0.0.1:4420, host $host with a host and a controller secret"

trid="trtype:tcp traddr:127.0.0.1 trsvcid:4420 subnqn:$nqn hostnqn:$host"
perf() {   # ARGS...: nvmf -v perf --verify; JSON on /tmp/perf.json, our debug log on /tmp/perf.log
  timeout -k 5 60 "$NVMF" -v perf -r "$trid" -I "$hid" --verify --quiet --output-format json -w randwrite \
    -o 4096 -q 8 -T 1 --region-size 8 "$@" > /tmp/perf.json 2> /tmp/perf.log
}

case_ok() {   # HASH GROUP uni|bi
  local hash=$1 group=$2 dir=$3 secrets=(-S "$key") n
  echo "hmac($hash)" > "$hdir/dhchap_hash"
  echo "$group" > "$hdir/dhchap_dhgroup"
  [[ $dir == uni ]] || secrets+=(-C "$ckey")
  perf "${secrets[@]}" || { echo "perf $hash $group $dir failed:"; cat /tmp/perf.json /tmp/perf.log; return 1; }
  jq -e '.ok == true and .io_errors == 0 and .verify_errors == 0 and ([.phases[].writes] | add) > 0 and
         ([.phases[].reads] | add) > 0' /tmp/perf.json > /dev/null ||
    { echo "perf $hash $group $dir: not clean:"; cat /tmp/perf.json; return 1; }
  local want="DH-HMAC-CHAP authenticated (hash $hash, DH group $group, ${dir}directional)"
  n=$(grep -c -F "$want" /tmp/perf.log || true)
  (( n >= 2 )) || { echo "$hash $group $dir: '$want' logged $n times, expected admin + I/O queue:";
                    grep -i dh-hmac /tmp/perf.log; return 1; }
  say "hmac($hash) $group ${dir}directional: $n queues authenticated," \
    "$(jq -r '[.phases[] | "\(.name) \(.ios) I/Os"] | join(", ")' /tmp/perf.json) verified"
}

case_ok sha256 null uni
case_ok sha256 ffdhe2048 bi
case_ok sha384 null bi
case_ok sha384 ffdhe2048 uni
case_ok sha512 null uni
case_ok sha512 ffdhe2048 bi

# ---- refusals
refused() {   # LABEL WANT-IN-OUR-ERROR ARGS...
  local label=$1 want=$2 out; shift 2
  if out=$(timeout -k 5 60 "$NVMF" id-ctrl -n "$nqn" -a 127.0.0.1 -s 4420 -q "$host" -I "$hid" "$@" 2>&1); then
    echo "$label: id-ctrl succeeded: $out"; return 1
  fi
  [[ $out == *"$want"* ]] || { echo "$label: expected '$want' in: $out"; return 1; }
  say "$label: refused: $(grep -m1 -F "$want" <<<"$out")"
}
echo "hmac(sha256)" > "$hdir/dhchap_hash"; echo ffdhe2048 > "$hdir/dhchap_dhgroup"
refused "no secret" "requires DH-HMAC-CHAP authentication"
mark=$(dmesg | wc -l)
refused "wrong host secret" "DH-HMAC-CHAP" -S "$wrong"
dmesg | tail -n "+$((mark + 1))" | grep -q "host response mismatch" ||
  { echo "nvmet did not log 'host response mismatch' for the wrong host secret"; dmesg | tail -n 20; exit 1; }
refused "wrong controller secret" "DH-HMAC-CHAP" -S "$key" -C "$wrong_ckey"
# the right secrets still work after the refusals
"$NVMF" id-ctrl -n "$nqn" -a 127.0.0.1 -s 4420 -q "$host" -I "$hid" -S "$key" -C "$ckey" -o json |
  jq -e --arg n "$nqn" '.subnqn == $n' > /dev/null
nvmet_teardown
say "PASS"
GUEST
)"
