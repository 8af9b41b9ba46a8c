#!/usr/bin/env bash
# The main job on an embedded default: installs what is missing, builds a release, then starts a target on
# 127.0.0.1 with a built-in RAM namespace, attaches the project's own initiator to it, runs verified I/O and
# prints the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
[ -f build-release/build.ninja ] || meson setup build-release --buildtype=release
ninja -C build-release
exec build-release/utils/nvmf demo "$@"
