#!/usr/bin/env bash
# ThreadSanitizer step of CI (scripts/test.sh): a -Db_sanitize=thread build of only the test executables it runs,
# then those tests with halt_on_error, so any data race fails CI. Covered: tasks posted between reactors
# (fabric_unit); NVMe/TCP host and controller queues against a controller reactor on its own thread, whole and
# with every PDU split at every byte (fabric_tcp, fabric_tcp_fragmentation); the control socket and live
# configuration changes while I/O is in flight (target_unit); several host threads with their own queues on one
# controller of a multi-reactor target (functional_initiator); the C API with its admin thread and asynchronous
# events (functional_events_discovery). The nvmf binary is left out (its build alone would take most of the
# budget: 8 minutes on 2 cores, build included).
# No suppressions are needed: threads hand work over through a mutex and an eventfd, and io_uring's rings are
# shared with the kernel only.
set -euo pipefail
cd "$(dirname "$0")/../.."

dir=build-tsan
if [ -f "$dir/build.ninja" ]; then
  meson configure "$dir" -Db_sanitize=thread -Db_lundef=false -Dwerror=true >/dev/null
else
  meson setup "$dir" --buildtype=debugoptimized -Db_sanitize=thread -Db_lundef=false -Dwerror=true >/dev/null
fi
ninja -C "$dir" tests/fabric/test_fabric tests/fabric/test_fabric_tcp tests/fabric/test_fabric_tcp_fragmentation \
  tests/target/test_target tests/functional/test_functional_initiator \
  tests/functional/test_functional_events_discovery

export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"
meson test -C "$dir" --no-rebuild --print-errorlogs --num-processes 2 --logbase tsan \
  fabric_unit fabric_tcp fabric_tcp_fragmentation target_unit functional_initiator functional_events_discovery
