#!/usr/bin/env bash
# The bench and soak suites of the release build (scripts/test.sh builds it first): the benchmark tools' own
# tests, and a 60-second soak (bench/soak/soak.py: 64 associations cycling with verified I/O while the target is
# changed live; its RSS and descriptors must stay flat).
set -euo pipefail
cd "$(dirname "$0")/../.."
meson test -C build-release --print-errorlogs --num-processes 1 --logbase bench --suite bench --suite soak
