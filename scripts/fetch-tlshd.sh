#!/usr/bin/env bash
# Makes tlshd (ktls-utils) available for the TLS interop suites: the Linux host and nvmet hand their TLS
# handshakes to this user-space daemon, and Debian 12 does not package it. The next Debian release does
# (source package ktls-utils, built against GnuTLS, keyutils, glib and libnl, all in Debian 12), so apt reads a
# private list for that suite (deb and deb-src, same mirror and keyring as the system's own entries) with private
# state and cache, leaving the system's apt sources, lists and caches untouched.
#
# What is used, in this order (NVMF_TLSHD_FROM=source|package|auto, default auto):
#   source   apt-get source, then dpkg-buildpackage with Debian 12's build dependencies (dpkg-buildpackage checks
#            them and names any that is missing); the binary comes out of the built .deb.
#   package  that release's own binary package of the same source version (it needs only symbols Debian 12's
#            libc and GnuTLS have; the check below loads it). Used by auto only when the archive serves no
#            source for it (the mirror reachable from this project's machines serves the .deb but not the
#            source files), and said so on stderr.
# Either way the daemon must load and run here (`tlshd --version`), else this fails naming what is missing.
# Cached in ${NVMF_TLSHD_CACHE:-~/.cache/nvmf-tlshd}/ktls-utils-VERSION; idempotent; prints the path of the
# tlshd binary on stdout (everything else goes to stderr). NVMF_TLSHD_SUITE overrides the suite (trixie).
set -euo pipefail

log() { echo "fetch-tlshd: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

suite=${NVMF_TLSHD_SUITE:-trixie}
from=${NVMF_TLSHD_FROM:-auto}
cache=${NVMF_TLSHD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nvmf-tlshd}
case $from in source|package|auto) ;; *) die "NVMF_TLSHD_FROM must be source, package or auto (got '$from')";; esac

# A finished cache entry: the newest ktls-utils-* folder holding a tlshd that still runs.
check_runs() {   # tlshd binary: it must load against this machine's libraries (symbol versions included)
  local missing
  missing=$(ldd "$1" 2>&1 | awk '/not found/ {print $1}' | paste -sd ' ') || true
  [[ -z $missing ]] || { log "$1 needs libraries this machine lacks: $missing (scripts/install-deps.sh installs them)"; return 1; }
  "$1" --version >&2 || { log "$1 does not run here"; return 1; }
}
for d in "$cache"/ktls-utils-*/; do
  [[ -f $d/origin && -x $d/sbin/tlshd ]] || continue
  if [[ $from == auto || $(cut -d' ' -f1 "$d/origin") == "$from" ]] && check_runs "$d/sbin/tlshd" 2>/dev/null; then
    echo "${d%/}/sbin/tlshd"; exit 0
  fi
done

for t in apt-get dpkg-source dpkg-deb; do command -v "$t" >/dev/null || die "$t missing (apt-get install dpkg-dev)"; done
mkdir -p "$cache"
work=$(mktemp -d "$cache/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The system's Debian mirror(s) and keyring, from its own binary entries (one-line and deb822 formats).
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[[ -n $codename ]] || die "no VERSION_CODENAME in /etc/os-release"
entries=$(
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    sed -n "s/^[[:space:]]*deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]\+\)[[:space:]]\+${codename}[[:space:]].*/\2 -/p" "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    awk -v want="$codename" 'BEGIN { RS=""; FS="\n" }
      { uris=""; suites=""; key="-"
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/) { uris=$i; sub(/^URIs:[ \t]*/, "", uris) }
          else if ($i ~ /^Suites:/) { suites=" " $i " "; sub(/^ Suites:/, " ", suites) }
          else if ($i ~ /^Signed-By:[ \t]*\//) { key=$i; sub(/^Signed-By:[ \t]*/, "", key) } }
        if (suites !~ "[ \t]" want "[ \t]") next
        n = split(uris, u, " "); for (a = 1; a <= n; a++) print u[a], key }' "$f"
  done | sort -u)
[[ -n $entries ]] || die "no apt entry for $codename to take the Debian mirror from"
srclist=$work/sources.list
while read -r uri key; do
  opt=; [[ $key != - ]] && opt="[signed-by=$key] "
  echo "deb ${opt}$uri $suite main"
  echo "deb-src ${opt}$uri $suite main"
done <<<"$entries" > "$srclist"

mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/dl"
apt_opts=(-o "Dir::Etc::SourceList=$srclist" -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$work/lists"
          -o "Dir::Cache=$work/cache" -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
log "reading the $suite package lists"
apt-get -q "${apt_opts[@]}" update >&2 || die "apt-get update of the private $suite list failed"
version=$(apt-cache "${apt_opts[@]}" showsrc ktls-utils 2>/dev/null | awk '/^Version:/ {print $2; exit}')
[[ -n $version ]] || die "the $suite archive has no ktls-utils source package"
dest=$cache/ktls-utils-$version
build=$work/build

from_source() {
  log "fetching the source of ktls-utils $version ($suite)"
  (cd "$work/dl" && apt-get -q "${apt_opts[@]}" source --download-only "ktls-utils=$version" >&2) || return 2
  dpkg-source --no-check -x "$work"/dl/ktls-utils_*.dsc "$work/src" >&2 || die "dpkg-source could not unpack ktls-utils $version"
  command -v dpkg-buildpackage >/dev/null || die "dpkg-buildpackage missing (apt-get install dpkg-dev debhelper)"
  log "building ktls-utils $version with Debian $(cat /etc/debian_version)'s build dependencies"
  # dpkg-buildpackage checks Build-Depends first and stops naming each one that is missing.
  (cd "$work/src" && dpkg-buildpackage -b -uc -us >&2) || die "building ktls-utils $version failed (see above)"
  dpkg-deb -x "$work"/ktls-utils_*.deb "$build" || die "dpkg-buildpackage left no ktls-utils .deb"
  echo "source ktls-utils $version built here from the $suite source package" > "$work/origin"
}
from_package() {
  log "using the $suite binary package ktls-utils $version (Debian's own build of that source)"
  (cd "$work/dl" && apt-get -q "${apt_opts[@]}" download "ktls-utils=$version" >&2) ||
    die "apt-get download ktls-utils=$version from $suite failed"
  dpkg-deb -x "$work"/dl/ktls-utils_*.deb "$build" || die "cannot unpack the ktls-utils .deb"
  echo "package ktls-utils $version, Debian's $suite binary package" > "$work/origin"
}

case $from in
  source) from_source || die "the archive serves no source for ktls-utils $version";;
  package) from_package;;
  auto)
    rc=0; from_source || rc=$?
    if [[ $rc -eq 2 ]]; then
      log "NOTE: the archive serves no source files for ktls-utils $version: falling back to its binary package"
      from_package
    fi;;
esac
[[ -x $build/usr/sbin/tlshd ]] || die "the ktls-utils package has no usr/sbin/tlshd"
mkdir -p "$work/out/sbin"
cp "$build/usr/sbin/tlshd" "$work/out/sbin/tlshd"
cp "$work/origin" "$work/out/origin"
check_runs "$work/out/sbin/tlshd" || die "tlshd from ktls-utils $version cannot run on this machine"
rm -rf "$dest"
mv "$work/out" "$dest"
log "$(cat "$dest/origin")"
echo "$dest/sbin/tlshd"
