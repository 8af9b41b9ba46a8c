#!/usr/bin/env bash
# RAM namespace memory options through a real `nvmf target` over NVMe/TCP on loopback: a prefaulted namespace and
# (where the system has transparent huge pages) a prefaulted one in huge pages beside a sparse one. The target's
# resident anonymous memory covers both prefaulted namespaces from the start; data written over TCP reads back
# (nvmf write/read, perf --verify); Write Zeroes reads back as zeroes and gives no memory back. The options are
# refused on other backends with the field and the reason. Every wait is bounded.
set -euo pipefail

: "${NVMF_BIN:?NVMF_BIN: path of the nvmf binary}"
work=$(mktemp -d)
subnqn=nqn.2024-01.io.nvmf:ram-prefault-test
target_pid=""
fail() { echo "FAIL: $*"; tail -n 30 "$work/target.log" 2>/dev/null; exit 1; }
cleanup() { [ -n "$target_pid" ] && kill -9 "$target_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

port=$((45000 + $$ % 2000))
thp=$(sed -n 's/.*\[\(.*\)\].*/\1/p' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || true)
huge=true
[ "$thp" = always ] || [ "$thp" = madvise ] || huge=false
cat > "$work/target.json" <<JSON
{"listeners": ["tcp:127.0.0.1:$port"], "discovery_port": 0,
 "subsystems": [{"nqn": "$subnqn",
                 "namespaces": [{"backend": "ram", "size": "64M", "prefault": true},
                                {"backend": "ram", "size": "64M", "prefault": true, "huge_pages": $huge},
                                {"backend": "ram", "size": "1G"}]}]}
JSON
"$NVMF_BIN" target --config "$work/target.json" --control-socket none --ready-file "$work/ready" \
  >"$work/target.log" 2>&1 &
target_pid=$!
for _ in $(seq 100); do [ -s "$work/ready" ] && break; sleep 0.1; done
[ -s "$work/ready" ] || fail "target not ready"

grep -q "namespace 1 = ram:67108864 bytes, prefaulted" "$work/target.log" || fail "namespace 1 not logged as prefaulted"
if $huge; then
  grep -Eq "namespace 2 = ram:67108864 bytes, prefaulted, [0-9]+ MiB in huge pages" "$work/target.log" ||
    fail "namespace 2 not logged with its huge pages"
fi
rss_kib() { awk '/^RssAnon:/ {print $2}' "/proc/$target_pid/status"; }
rss_before=$(rss_kib)
# Two prefaulted 64 MiB namespaces are resident; the sparse 1 GiB one is not (it would be 1 GiB more).
[ "$rss_before" -ge $((128 * 1024)) ] || fail "RssAnon ${rss_before} KiB: the prefaulted namespaces are not resident"
[ "$rss_before" -lt $((512 * 1024)) ] || fail "RssAnon ${rss_before} KiB: the sparse namespace was populated too"

host=(-a 127.0.0.1 -s "$port" -n "$subnqn")
head -c $((1 << 20)) /dev/urandom > "$work/data"
for nsid in 1 2 3; do
  "$NVMF_BIN" write "${host[@]}" -N "$nsid" -S 1000 -z $((1 << 20)) -d "$work/data" >/dev/null ||
    fail "write to namespace $nsid"
  "$NVMF_BIN" read "${host[@]}" -N "$nsid" -S 1000 -z $((1 << 20)) -d "$work/back" >/dev/null ||
    fail "read from namespace $nsid"
  cmp -s "$work/data" "$work/back" || fail "namespace $nsid read back different data"
done
for nsid in 1 2; do
  "$NVMF_BIN" perf "${host[@]}" -N "$nsid" --verify -w randwrite -q 32 -o 4096 -T 1 --quiet >"$work/perf.out" 2>&1 ||
    { cat "$work/perf.out"; fail "perf --verify on namespace $nsid"; }
done
# Write Zeroes over the written range: zeroes come back, and the memory stays (cleared in place).
"$NVMF_BIN" write-zeroes "${host[@]}" -N 1 -S 1000 -c 2047 >/dev/null || fail "write-zeroes"
"$NVMF_BIN" read "${host[@]}" -N 1 -S 1000 -z $((1 << 20)) -d "$work/back" >/dev/null || fail "read after write-zeroes"
cmp -s "$work/back" <(head -c $((1 << 20)) /dev/zero) || fail "write-zeroes did not read back as zeroes"
rss_after=$(rss_kib)
[ "$rss_after" -ge $((128 * 1024)) ] || fail "RssAnon ${rss_after} KiB after write-zeroes: memory was given back"
kill "$target_pid"
wait "$target_pid" || fail "target exit status $?"
target_pid=""

# Refusals: the field and the reason, nothing served.
if "$NVMF_BIN" target --listen "tcp:127.0.0.1:$port" --namespace null:1M,prefault --control-socket none \
     >"$work/refused.log" 2>&1; then fail "prefault on a null namespace was accepted"; fi
grep -q "unknown option 'prefault'" "$work/refused.log" ||
  { cat "$work/refused.log"; fail "no reason for null:1M,prefault"; }
cat > "$work/bad.json" <<JSON
{"listeners": ["tcp:127.0.0.1:$port"], "discovery_port": 0,
 "subsystems": [{"nqn": "$subnqn", "namespaces": [{"backend": "file", "path": "$work/data", "prefault": true}]}]}
JSON
if "$NVMF_BIN" target --config "$work/bad.json" --control-socket none >"$work/refused.log" 2>&1; then
  fail "prefault on a file namespace was accepted"
fi
grep -q "bad.json: /subsystems/0/namespaces/0/prefault" "$work/refused.log" &&
  grep -q "only a ram namespace can be prefaulted" "$work/refused.log" ||
  { cat "$work/refused.log"; fail "the file namespace's refusal does not name the field and reason"; }
echo "PASS: prefaulted RAM namespaces resident from the start (RssAnon ${rss_before} KiB, THP '$thp')," \
  "data verified over TCP"
