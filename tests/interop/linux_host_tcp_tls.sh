#!/bin/bash
# linux_host_tcp_tls.sh: the Linux kernel's NVMe/TCP host over TLS 1.3 (TP 8011) against our target, in the VM on
# Debian's 6.12 kernel (the first Debian kernel with NVMe/TCP TLS; VMRUN_KERNEL overrides). The kernel hands its
# handshake to tlshd (ktls-utils, scripts/fetch-tlshd.sh), which finds the TLS PSK in the .nvme keyring under the
# identity "NVMe0R01 <hostnqn> <subnqn>"; Debian 12's nvme-cli 2.3 can neither insert that key nor connect with
# TLS, so the key goes in with keyctl (derived by tls_psk.py, independently of our C++ code) and the connect
# string with ",tls" is written to /dev/nvme-fabrics. Only the SHA-256 suite: Debian 12's GnuTLS computes PSK
# binders with SHA-256 only. Our target listens with tls=required and has the host's configured PSK.
#   - a plain (no TLS) connection to the tls=required listener is refused;
#   - a TLS connection with a key derived from another configured PSK is refused, and our target's log names the
#     host and the reason but never the key;
#   - with the right key: the controller comes up, fio writes and verifies with crc32c on a file namespace, and
#     ext4 is made, filled, checked (fsck) and read back on a RAM namespace;
#   - a second listener with tls=allowed takes the host with TLS and without (data checked both times);
#   - discovery over TLS (a discovery controller with its own key): the log carries TREQ required / not required
#     and TSAS SECTYPE TLS 1.3 per port;
#   - our target's record layer is the kernel's (`tls` ULP, loaded here) for every TLS connection;
#   - the target stops cleanly on SIGTERM, and its log holds the two refusals and no other warning.
# Exit: 0 pass, 77 skip (no VM), else fail (the target's and tlshd's logs and dmesg are printed).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
export VMRUN_KERNEL=${VMRUN_KERNEL:-linux-image-6.12-amd64}
interop_vm_ready --meta "$VMRUN_KERNEL"
interop_nvmf_ready
interop_tlshd_ready

# Keys and their keyring payloads are made here: Python starts slowly in the guest. Test keys only.
nqn=nqn.2024-01.io.nvmf-toolkit:interop-tls dnqn=nqn.2014-08.org.nvmexpress.discovery
hostid=7a3c51e2-6f1b-4c0d-9a8e-1d2c3b4a5f60 hostnqn=nqn.2014-08.org.nvmexpress:uuid:7a3c51e2-6f1b-4c0d-9a8e-1d2c3b4a5f60
key=$("$NVMF" gen-tls-key -m 1) other=$("$NVMF" gen-tls-key -m 1)
psk_key=$("$here/tls_psk.py" "$key" "$hostnqn" "$nqn") psk_other=$("$here/tls_psk.py" "$other" "$hostnqn" "$nqn")
psk_disc=$("$here/tls_psk.py" "$key" "$hostnqn" "$dnqn")

interop_guest linux_host_tcp_tls "${INTEROP_VM_TIMEOUT:-300}" "export TLSHD='$TLSHD'" \
  "nqn='$nqn' dnqn='$dnqn' hostid='$hostid' hostnqn='$hostnqn' key='$key' other='$other'" \
  "psk_key='$psk_key'" "psk_other='$psk_other'" "psk_disc='$psk_disc'" "$(cat <<'GUEST'
interop_fail_dump
say "kernel $(uname -r)"
modprobe nvme-tcp   # brings the .nvme keyring (nvme-keyring) tlshd links
modprobe tls        # kernel TLS for our target's sockets (tlshd would load it too)
tlshd_start
say "tlshd up: $("$TLSHD" --version 2>&1)"

( umask 077; echo "$key" > /run/host.psk )
truncate -s 256M /run/ns1.img
target_start main --listen tcp:127.0.0.1:4420,tls=required --listen tcp:127.0.0.1:4421,tls=allowed \
  --discovery-port 0 --subsystem "$nqn" \
  --namespace file:/run/ns1.img --namespace ram:64M --allow-host "$hostnqn" --tls-psk "$hostnqn=/run/host.psk" -v
say "our target is up: 127.0.0.1:4420 tls=required, 4421 tls=allowed, the host's PSK configured"

# fabrics_connect OPTIONS: the kernel's own connect path (what nvme-cli writes); prints its reply
fabrics_connect() {
  local fd reply
  exec {fd}<>/dev/nvme-fabrics
  if ! echo -n "$1" >&"$fd"; then exec {fd}>&-; return 1; fi
  read -r reply <&"$fd"; exec {fd}>&-
  echo "$reply"
}
conn="transport=tcp,traddr=127.0.0.1,trsvcid=4420,nqn=$nqn,hostnqn=$hostnqn,hostid=$hostid"

# ---- 1: no TLS on a TLS-required listener
if out=$(fabrics_connect "$conn" 2>&1); then echo "a plain connection to the tls=required port was let in: $out"; exit 1; fi
! find_ctrl "$nqn" > /dev/null || { echo "a controller for $nqn exists after the refused plain connect"; exit 1; }
say "plain connection refused: ${out##*: }"

# ---- 2: TLS with a key derived from another configured PSK
tls_psk_add "$psk_other"
t0=$SECONDS
if out=$(fabrics_connect "$conn,tls" 2>&1); then echo "TLS with the wrong key was let in: $out"; exit 1; fi
! find_ctrl "$nqn" > /dev/null || { echo "a controller for $nqn exists after the refused TLS connect"; exit 1; }
wait_for "grep -q 'tls: refused connection.*$hostnqn' /run/target-main.log" 10
say "wrong key refused after $((SECONDS - t0)) s (${out##*: }); target: $(grep -m1 -o "tls: refused connection.*$hostnqn.*" /run/target-main.log)"
for k in "$key" "$other"; do
  b64=${k#NVMeTLSkey-1:01:}; b64=${b64%:}
  ! grep -qF -e "$b64" -e "${b64:0:16}" /run/target-main.log /run/tlshd.log ||
    { echo "a configured PSK appears in a log"; exit 1; }
done

# ---- 3: the right key
tls_psk_add "$psk_key"
reply=$(fabrics_connect "$conn,tls")
ctrl=$(find_ctrl "$nqn")
expect_eq "state of $ctrl" "$(ctrl_state "$ctrl")" live
dev1=$(ns_dev_wait "$nqn" 1); dev2=$(ns_dev_wait "$nqn" 2)
tlskey=$(cat "/sys/class/nvme/$ctrl/tls_key" 2>/dev/null || echo '?')
say "TLS connection up ($reply): $ctrl live, TLS key serial $tlskey; $dev1 and $dev2;" \
  "tlshd: $(grep -m1 -o 'Handshake with .* was successful' /run/tlshd.log || echo 'no success line')"
run_fio tls-4k "$dev1" --rw=randwrite --bs=4k --iodepth=16 --size=8M
run_fio tls-128k "$dev1" --rw=write --bs=128k --iodepth=4 --size=16M --offset=64M
mkfs.ext4 -q -F "$dev2"
mkdir -p /mnt/tls; mount "$dev2" /mnt/tls
random_file /tmp/pat 8
cp /tmp/pat /mnt/tls/pat; umount /mnt/tls
fsck.ext4 -fn "$dev2" > /tmp/fsck.out 2>&1 || { echo "fsck.ext4 found errors:"; cat /tmp/fsck.out; exit 1; }
mount -o ro "$dev2" /mnt/tls; cmp /tmp/pat /mnt/tls/pat; umount /mnt/tls
say "ext4 over TLS: mkfs, 8 MiB file written, fsck clean, read back identical"
host_disconnect "$nqn"

# ---- 4: the tls=allowed listener takes the kernel host with TLS and without (told apart by the first byte)
for opt in ",tls" ""; do
  fabrics_connect "${conn/trsvcid=4420/trsvcid=4421}$opt" > /dev/null
  ctrl=$(find_ctrl "$nqn"); expect_eq "state of $ctrl (port 4421${opt:-, plain})" "$(ctrl_state "$ctrl")" live
  # the kernel shows the controller's TLS key serial only for a TLS connection
  tk=; [[ -r /sys/class/nvme/$ctrl/tls_key ]] && read -r tk < "/sys/class/nvme/$ctrl/tls_key"
  if [[ -n $opt ]]; then [[ -n $tk ]] || { echo "$ctrl on 4421 with ,tls has no TLS key"; exit 1; }
  else [[ -z $tk ]] || { echo "$ctrl on 4421 without ,tls shows TLS key $tk"; exit 1; }; fi
  dev1=$(ns_dev_wait "$nqn" 1)
  put_bytes /tmp/pat "$dev1" $((128 << 20))
  same_bytes /tmp/pat 0 "$dev1" $((128 << 20)) $((8 << 20))
  same_bytes /tmp/pat 0 /run/ns1.img $((128 << 20)) $((8 << 20))
  host_disconnect "$nqn"
done
say "tls=allowed port 4421: the kernel host connected with TLS and without; data written reads back (and is in the file)"

# ---- 5: discovery over TLS: a discovery controller made through /dev/nvme-fabrics with its own key
tls_psk_add "$psk_disc"
reply=$(fabrics_connect "transport=tcp,traddr=127.0.0.1,trsvcid=4420,nqn=$dnqn,hostnqn=$hostnqn,hostid=$hostid,tls")
dctrl=nvme${reply#instance=}; dctrl=${dctrl%%,*}
disc=$(nvme discover -d "$dctrl" -o json)
# nvme-cli 2.3 names TREQ "unrecognized" when the SQ flow control bit is set beside "required" (nvmet sets it
# too), so TREQ and TSAS are read from the raw log: entries from byte 1024, 1024 bytes each, TREQ at byte 3,
# the TCP TSAS SECTYPE at byte 768 (NVMe-oF 5.4, Discovery Log Page; 2: TLS 1.3)
nvme get-log "/dev/$dctrl" --log-id=0x70 --log-len=5120 --raw-binary > /tmp/disc.bin
nvme disconnect -d "$dctrl" > /dev/null
entry=$(jq -c --arg n "$nqn" '[.records[] | select(.subnqn == $n) | {trsvcid, sectype}] | sort_by(.trsvcid)' <<<"$disc")
expect_eq "discovery log entries for $nqn (port, sectype)" "$entry" \
  '[{"trsvcid":"4420","sectype":"tls13"},{"trsvcid":"4421","sectype":"tls13"}]'
mapfile -t ports <<<"$(jq -r '.records[].trsvcid' <<<"$disc")"   # in the raw log's order
read -r nrec _ <<<"$(od -An -tu4 -j 8 -N 4 /tmp/disc.bin)"
expect_eq "records in the raw log and in nvme-cli's" "$nrec" "${#ports[@]}"
for ((i = 0; i < nrec && i < 4; i++)); do
  read -r treq <<<"$(od -An -tu1 -j $((1024 + i * 1024 + 3)) -N 1 /tmp/disc.bin)"
  read -r sectype <<<"$(od -An -tu1 -j $((1024 + i * 1024 + 768)) -N 1 /tmp/disc.bin)"
  want=1; [[ ${ports[i]} == 4421 ]] && want=2   # 01b required, 10b not required
  expect_eq "entry $i (port ${ports[i]}): TREQ secure channel bits" "$((treq & 3))" "$want"
  expect_eq "entry $i (port ${ports[i]}): TSAS SECTYPE (2: TLS 1.3)" "$sectype" 2
done
grep -q 'level=info.*tls: record layer in the kernel (tls ULP)' /run/target-main.log ||
  { echo "our target did not use kernel TLS"; exit 1; }
! grep -q 'record layer in user space' /run/target-main.log || { echo "a TLS connection fell back to user space:";
  grep 'record layer in user space' /run/target-main.log; exit 1; }
say "discovery over TLS ($dctrl): $entry; raw log: TREQ required on 4420, not required on 4421, SECTYPE TLS 1.3"
target_stop main
# the target's complaints: exactly the two refusals above, nothing from the TLS sessions or their close
bad=$(grep -E 'level=(warn|error)' /run/target-main.log | grep -v -e 'plain NVMe/TCP (ICReq) on a port that requires TLS' \
  -e "host $hostnqn): wrong PSK" || true)
[[ -z $bad ]] || { echo "unexpected warnings or errors in the target's log:"; echo "$bad"; exit 1; }
expect_eq "refusals in the target's log" "$(grep -c 'tls: refused connection' /run/target-main.log)" 2
say "PASS"
GUEST
)"
