#!/usr/bin/env bash
# Persist Through Power Loss through a real restart: `nvmf target` with a namespace naming a PTPL file
# (ptpl_file); a host registers with CPTPL 11b and acquires Write Exclusive; the target is SIGKILLed and started
# again from the same configuration; the reservation report shows the same registrant, key, holder and PTPLS 1.
# Then the host clears PTPL (CPTPL 10b) and after another kill the namespace starts with no registrant. Every wait
# is bounded; loopback only.
set -euo pipefail

: "${NVMF_BIN:?NVMF_BIN: path of the nvmf binary}"
work=$(mktemp -d)
subnqn=nqn.2024-01.io.nvmf:ptpl-test
target_pid=""
fail() { echo "FAIL: $*"; tail -n 30 "$work/target.log" 2>/dev/null; exit 1; }
cleanup() { [ -n "$target_pid" ] && kill -9 "$target_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

port=$((43000 + $$ % 2000))
cat > "$work/target.json" <<JSON
{"listeners": ["tcp:127.0.0.1:$port"], "discovery_port": 0,
 "subsystems": [{"nqn": "$subnqn",
                 "namespaces": [{"backend": "ram", "size": "16M", "ptpl_file": "$work/ns1.ptpl"}]}]}
JSON
start_target() {
  rm -f "$work/ready"
  "$NVMF_BIN" target --config "$work/target.json" --control-socket none --ready-file "$work/ready" \
    >"$work/target.log" 2>&1 &
  target_pid=$!
  for _ in $(seq 100); do [ -s "$work/ready" ] && return 0; sleep 0.1; done
  fail "target not ready"
}
kill_target() { kill -9 "$target_pid"; wait "$target_pid" 2>/dev/null || true; target_pid=""; }
host=(-a 127.0.0.1 -s "$port" -n "$subnqn" -N 1 -I 6a0d3b2c-7c3e-4b1f-9e51-5b6f0b1d2c3e)
report() { "$NVMF_BIN" resv-report "${host[@]}" --eds -o json; }

start_target
"$NVMF_BIN" resv-register "${host[@]}" --nrkey 0x1234 --rrega 0 --cptpl 3 >/dev/null || fail "register with CPTPL 11b"
"$NVMF_BIN" resv-acquire "${host[@]}" --crkey 0x1234 --rtype 1 >/dev/null || fail "acquire"
[ "$(stat -c %a "$work/ns1.ptpl")" = 600 ] || fail "the PTPL file is not 0600"
kill_target
start_target
report > "$work/report1.json" || fail "report after restart"
python3 - "$work/report1.json" <<'PY' || fail "the reservation did not survive the restart: $(cat "$work/report1.json")"
import json, sys
r = json.load(open(sys.argv[1]))
regs = r["regctlext"]
assert r["rtype"] == 1 and r["ptpls"] == 1 and len(regs) == 1, r
assert regs[0]["rkey"] == 0x1234 and regs[0]["rcsts"] == 1, regs
assert regs[0]["hostid"] == "6a0d3b2c7c3e4b1f9e515b6f0b1d2c3e", regs
PY
"$NVMF_BIN" resv-register "${host[@]}" --crkey 0x1234 --nrkey 0x1234 --rrega 2 --cptpl 2 >/dev/null ||
  fail "replace with CPTPL 10b"
kill_target
start_target
report > "$work/report2.json" || fail "report after the second restart"
python3 - "$work/report2.json" <<'PY' || fail "PTPL was cleared but state survived: $(cat "$work/report2.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["ptpls"] == 0 and r["rtype"] == 0 and not r.get("regctlext"), r
PY
echo "PASS: PTPL kept the reservation across a SIGKILL and forgot it once cleared"
