#!/usr/bin/env bash
# Fetches the source of exactly the installed fio (Debian's fio ships no headers, and an external ioengine must be
# built against the fio it is loaded into: fio checks only FIO_IOOPS_VERSION, while struct thread_data and
# struct io_u change between releases). Unpacks it into ~/.cache/nvmf-fio/fio-VERSION and runs fio's ./configure
# there so config-host.h exists. Idempotent; prints the directory on stdout (everything else goes to stderr).
#
# The machine's sources.list has no deb-src entry, so apt reads a private one (same mirror and suite as the
# binary entries) with private state, leaving the system's apt lists untouched.
set -euo pipefail

log() { echo "fetch-fio-source: $*" >&2; }

version=$(dpkg-query -W -f='${Version}' fio 2>/dev/null) || { log "fio is not installed"; exit 1; }
upstream=${version#*:}
upstream=${upstream%-*}
cache=${NVMF_FIO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nvmf-fio}
dest="$cache/fio-$version"

if [ -f "$dest/config-host.h" ] && [ -f "$dest/ioengines.h" ]; then
  echo "$dest"
  exit 0
fi

command -v dpkg-source >/dev/null || { log "dpkg-source missing (apt-get install dpkg-dev)"; exit 1; }
mkdir -p "$cache"
work=$(mktemp -d "$cache/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT

# deb-src lines mirroring the binary sources (one-line and deb822 formats); Debian 12's default is deb822.
srclist="$work/sources.list"
: >"$srclist"
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
  [ -f "$f" ] && sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "$f" >>"$srclist"
done
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  awk 'BEGIN { RS=""; FS="\n" }
       { uris=""; suites=""; comps=""; types="";
         for (i = 1; i <= NF; i++) {
           if ($i ~ /^Types:/) types=$i; else if ($i ~ /^URIs:/) { uris=$i; sub(/^URIs:[ \t]*/, "", uris) }
           else if ($i ~ /^Suites:/) { suites=$i; sub(/^Suites:[ \t]*/, "", suites) }
           else if ($i ~ /^Components:/) { comps=$i; sub(/^Components:[ \t]*/, "", comps) } }
         if (types !~ /deb/) next;
         n = split(uris, u, " "); m = split(suites, s, " ");
         for (a = 1; a <= n; a++) for (b = 1; b <= m; b++) print "deb-src " u[a] " " s[b] " " comps }' \
    "$f" >>"$srclist"
done
[ -s "$srclist" ] || { log "no apt sources found to derive a deb-src entry from"; exit 1; }

mkdir -p "$work/lists/partial" "$work/download"
apt_opts=(-o "Dir::Etc::SourceList=$srclist" -o Dir::Etc::SourceParts=/dev/null
          -o "Dir::State::Lists=$work/lists" -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
log "fetching the source of fio $version"
apt-get -q "${apt_opts[@]}" update >&2
(cd "$work/download" && apt-get -q "${apt_opts[@]}" source --download-only "fio=$version" >&2)

dsc=$(ls "$work/download"/fio_*.dsc)
dpkg-source --no-check -x "$dsc" "$work/fio-$version" >&2

# The Debian patches are applied by dpkg-source (3.0 quilt), so the tree is what the package was built from.
# Debian's own configure line (debian/rules) minus the GUI, so config-host.h matches the installed binary.
log "configuring fio $upstream (for config-host.h)"
(cd "$work/fio-$version" && ./configure --disable-native --prefix=/usr >&2)
[ -f "$work/fio-$version/config-host.h" ] || { log "fio's configure wrote no config-host.h"; exit 1; }

rm -rf "$dest"
mv "$work/fio-$version" "$dest"
echo "$dest"
