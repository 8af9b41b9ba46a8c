#!/usr/bin/env bash
# Installs every Debian 12 package the toolkit needs to build, test and run its interop suite.
# Idempotent: installs only what is missing.
set -euo pipefail

packages=(
  build-essential meson ninja-build pkg-config python3
  libnvme-dev libjson-c-dev liburing-dev libisal-dev libcli11-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev librdmacm-dev libibverbs-dev
  # fuzz suite (tests/fuzz, scripts/ci/fuzz.sh): clang 14 and its libFuzzer runtime
  clang libclang-rt-14-dev
  # benchmark plots
  python3-matplotlib
  # interop suite (Debian's kernel under qemu) and the peers' own tools
  qemu-system-x86 busybox-static kmod cpio nvme-cli fio e2fsprogs util-linux iproute2
  rdma-core ibverbs-utils rdmacm-utils
  # fio ioengine: dpkg-source unpacks the installed fio's source (scripts/fetch-fio-source.sh)
  dpkg-dev
  # the Prometheus endpoint's test parses the exposition with the reference parser
  python3-prometheus-client
  # Debian packages (scripts/ci/package.sh): dpkg-buildpackage with debhelper, checked by lintian
  debhelper lintian
  # DH-HMAC-CHAP in-band authentication and NVMe/TCP TLS (TP 8011): OpenSSL 3
  libssl-dev
  # the ofi transport (fabric/ofi/): libfabric 1.17 with its tcp and verbs providers
  libfabric-dev
  # TLS interop suites: keyctl for the .nvme keyring; tlshd (scripts/fetch-tlshd.sh) from the next release's
  # ktls-utils source package, built with these (its Build-Depends)
  keyutils libgnutls28-dev libkeyutils-dev libglib2.0-dev libnl-3-dev libnl-genl-3-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
"$(dirname "$0")/fetch-fio-source.sh" >/dev/null || echo "warning: fio source not fetched: the fio ioengine will not be built" >&2
"$(dirname "$0")/fetch-tlshd.sh" >/dev/null || echo "warning: tlshd not fetched: the TLS interop suites will fail" >&2
