#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: unit and functional tests in a release build and again
# under ASan+UBSan, then the interop suite (Linux kernel host and target under qemu) with the release build.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

setup() {  # dir, meson options...
  local dir=$1; shift
  if [ -f "$dir/build.ninja" ]; then meson configure "$dir" "$@" >/dev/null; else meson setup "$dir" "$@"; fi
}

setup build-release --buildtype=release -Dwerror=true
# No -Werror here: GCC 12's sanitizer instrumentation raises false maybe-uninitialized and stringop-overflow
# warnings inside libstdc++ (std::regex, vector::resize); the release build keeps -Werror for our own code.
# -Og -g1 (line tables) with assertions on: GCC 12 compiles ASan+UBSan code at -O2 -g about 3x slower, and this
# build was CI's longest step; stack traces keep their file and line.
setup build-asan --buildtype=plain -Doptimization=g -Ddebug=true -Dc_args=-g1 -Dcpp_args=-g1 -Db_ndebug=false \
  -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=false

status=0
timings=()
step() {  # name, command...: runs it, records its wall time, and carries on after a failure
  local name=$1 start=$SECONDS; shift
  "$@" || { status=1; name="$name (FAILED)"; }
  timings+=("$(printf '%-28s %5d s' "$name" $((SECONDS - start)))")
}
step "release build" ninja -C build-release
step "release unit+functional" meson test -C build-release --suite unit --suite functional --print-errorlogs --num-processes 2
# Only what the sanitizer run executes: the bench and interop tools are the largest files and run elsewhere.
step "asan build" ninja -C build-asan $(scripts/ci/test-targets.py build-asan unit functional)
step "asan unit+functional" meson test -C build-asan --suite unit --suite functional --print-errorlogs --num-processes 2
step "package" scripts/ci/package.sh
step "tsan" scripts/ci/tsan.sh
step "bench+soak" scripts/ci/bench.sh
step "fuzz" scripts/ci/fuzz.sh
if [ "${NVMF_SKIP_INTEROP:-0}" != 1 ]; then
  step "interop (VM)" meson test -C build-release --suite interop --print-errorlogs --num-processes 1 --logbase interop
fi
echo "CI steps (wall time):"
printf '  %s\n' "${timings[@]}"
echo "  total                        $SECONDS s"

# Every test log of this run (each step writes its own --logbase); a skipped suite fails unless asked for.
python3 scripts/test-summary.py build-*/meson-logs/*.json || status=1
exit $status
