#!/usr/bin/env bash
# The Debian packages: build nvmf-tools, libnvmf-host0 and libnvmf-host-dev with dpkg-buildpackage (only what
# they install: no tests, benchmarks or fio engine), fail on lintian errors, unpack them into a clean tree and
# check them from there: `nvmf --version` says the project version, the unit, man pages and completion are in
# place, and docs/examples/host_example.c builds against the installed -dev package (pkg-config into the tree)
# and runs against the installed `nvmf target`. Prints the time the step took (CI budget: 6 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/../.."
src=$PWD
start=$(date +%s)
for tool in dpkg-buildpackage dh lintian pkg-config cc; do
  command -v "$tool" >/dev/null || { echo "package.sh: $tool is missing (scripts/install-deps.sh)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/nvmf-package.XXXXXX)
target_pid=""
cleanup() {
  [ -n "$target_pid" ] && kill "$target_pid" 2>/dev/null && wait "$target_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# A copy of the sources without build trees: dpkg-buildpackage writes its .debs next to the source directory.
mkdir "$work/nvmf"
tar -C "$src" --exclude='./build*' --exclude=./.git --exclude='./obj-*' --exclude=./debian/.debhelper -cf - . |
  tar -C "$work/nvmf" -xf -
(cd "$work/nvmf" && dpkg-buildpackage -b -us -uc -j"$(nproc)") > "$work/build.log" 2>&1 ||
  { tail -n 60 "$work/build.log"; echo "package.sh: dpkg-buildpackage failed" >&2; exit 1; }
built=$(date +%s)
ls "$work"/*.deb

lintian --fail-on error "$work"/*.changes ||
  { echo "package.sh: lintian reports errors" >&2; exit 1; }

root="$work/root"
mkdir "$root"
for deb in "$work"/*.deb; do dpkg -x "$deb" "$root"; done
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
libdir="$root/usr/lib/$multiarch"
export LD_LIBRARY_PATH="$libdir"
nvmf="$root/usr/bin/nvmf"

want=$(grep -m1 -oP "^\s+version\s*:\s*'\K[^']+" "$src/meson.build")
got=$("$nvmf" --version)
[ "$got" = "nvmf $want" ] || { echo "package.sh: nvmf --version says '$got', expected 'nvmf $want'" >&2; exit 1; }
echo "installed: $got"
for f in lib/systemd/system/nvmf-target.service usr/share/man/man8/nvmf.8.gz usr/share/man/man8/nvmf-target.8.gz \
         usr/share/bash-completion/completions/nvmf usr/include/nvmf/host.h "usr/lib/$multiarch/pkgconfig/nvmf-host.pc"; do
  [ -e "$root/$f" ] || { echo "package.sh: $f is not in the packages" >&2; exit 1; }
done
grep -q "^ExecStart=/usr/bin/nvmf target --config /etc/nvmf/target.json$" "$root/lib/systemd/system/nvmf-target.service"

# The C example against the installed -dev package, run against the installed target.
export PKG_CONFIG_SYSROOT_DIR="$root" PKG_CONFIG_PATH="$libdir/pkgconfig"
# shellcheck disable=SC2046
cc -Wall -Werror "$src/docs/examples/host_example.c" $(pkg-config --cflags --libs nvmf-host) -o "$work/host_example"
nqn=nqn.2024-01.io.nvmf:package-check
"$nvmf" target --listen tcp:127.0.0.1:0 --discovery-port 0 --subsystem "$nqn" --namespace ram:16M \
  --control-socket none --ready-file "$work/ready" > "$work/target.log" 2>&1 &
target_pid=$!
for _ in $(seq 100); do [ -s "$work/ready" ] && break; sleep 0.1; done
[ -s "$work/ready" ] || { cat "$work/target.log"; echo "package.sh: the installed target did not start" >&2; exit 1; }
port=$(head -n 1 "$work/ready" | sed 's/.*://')
"$work/host_example" 127.0.0.1 "$port" "$nqn"

end=$(date +%s)
echo "package step: $((end - start)) s (dpkg-buildpackage $((built - start)) s), budget 360 s"
