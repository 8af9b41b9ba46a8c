#!/usr/bin/env bash
# The committed seed corpora are exactly what make_fuzz_corpus writes (so they come from the project's encoders).
# Usage: check_corpus.sh MAKE_FUZZ_CORPUS CORPUS_DIR   (regenerate: MAKE_FUZZ_CORPUS tests/fuzz/corpus)
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$1" "$work"
if ! diff -r "$work" "$2"; then
  echo "tests/fuzz/corpus differs from make_fuzz_corpus's output: regenerate it with $1 $2" >&2
  exit 1
fi
