#!/usr/bin/env bash
# CI step: the fuzz suite (tests/fuzz). Builds only the libFuzzer harnesses (clang, ASan+UBSan, build-fuzz/) and
# runs `meson test --suite fuzz`: each harness replays its kept regression inputs, then fuzzes for
# NVMF_FUZZ_SECONDS (30 here: CI's time budget; bench/fuzz.sh runs long campaigns), two at a time (CI has 2
# cores). Fails when clang or libFuzzer is missing; NVMF_SKIP_FUZZ=1 skips it on purpose.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "${NVMF_SKIP_FUZZ:-0}" = 1 ]; then
  echo "fuzz suite skipped (NVMF_SKIP_FUZZ=1)"
  exit 0
fi
if ! command -v clang++ >/dev/null; then
  echo "fuzz suite: clang++ not found (scripts/install-deps.sh installs clang and libclang-rt-14-dev)" >&2
  exit 1
fi
dir=build-fuzz
opts=(-Dfuzz=enabled --buildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=true)
if [ -f "$dir/build.ninja" ]; then
  meson configure "$dir" "${opts[@]}" >/dev/null
else
  CC=clang CXX=clang++ meson setup "$dir" "${opts[@]}"
fi
# The harnesses and the corpus generator only (and the libraries they link), not the whole tree.
mapfile -t targets < <(meson introspect "$dir" --targets | python3 -c '
import json, os, sys
for t in json.load(sys.stdin):
    if t["name"].startswith("fuzz_") or t["name"] == "make_fuzz_corpus":
        print(os.path.relpath(t["filename"][0], sys.argv[1]))' "$dir")
start=$SECONDS
ninja -C "$dir" "${targets[@]}"
echo "fuzz build: $((SECONDS - start)) s"
start=$SECONDS
status=0
NVMF_FUZZ_SECONDS=${NVMF_FUZZ_SECONDS:-30} \
  meson test -C "$dir" --suite fuzz --no-rebuild --print-errorlogs --num-processes 2 || status=1
echo "fuzz runs: $((SECONDS - start)) s"
exit $status
