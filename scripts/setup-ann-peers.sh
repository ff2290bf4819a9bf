#!/usr/bin/env bash
# Builds the Go peers of `mmsearch bench ann` into the mmsearch cache
# (`make setup-peers`):
#
#   weaviate-hnsw: bench/peers/weaviatehnsw, Weaviate's Go HNSW package
#                  (github.com/weaviate/weaviate, BSD-3-Clause) in its own Go module
#                  -> <cache>/peers/weaviate-hnsw-<weaviate version>
#
# <cache> is ${MMSEARCH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mmsearch}, as for
# ONNX Runtime. The module's dependencies come through the Go module proxy and are
# checked against its committed go.sum. `bench ann` skips a peer whose binary is
# absent and says to run this.
#
# Idempotent: a binary built from the same sources (go.mod, go.sum and the .go
# files, hashed into a .sources stamp beside it) is reused; otherwise it is rebuilt.
set -euo pipefail
cd "$(dirname "$0")/.."

GO="${GO:-go}"
CACHE="${MMSEARCH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mmsearch}"
SRC="bench/peers/weaviatehnsw"

die() { echo "setup-ann-peers: $*" >&2; exit 1; }

command -v "$GO" >/dev/null || die "no Go toolchain ($GO) on PATH"
version="$(awk '$1 == "github.com/weaviate/weaviate" { print $2 }' "$SRC/go.mod" | head -n1)"
[ -n "$version" ] || die "$SRC/go.mod does not require github.com/weaviate/weaviate"
case "$version" in v[0-9]*) ;; *) die "odd weaviate version '$version' in $SRC/go.mod" ;; esac

out="$CACHE/peers/weaviate-hnsw-$version"
stamp="$out.sources"
sum="$(cd "$SRC" && find . -maxdepth 1 -type f \( -name 'go.mod' -o -name 'go.sum' -o \( -name '*.go' ! -name '*_test.go' \) \) -print | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1)"

if [ -x "$out" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then
  echo "setup-ann-peers: weaviate-hnsw $version up to date ($out)"
  exit 0
fi

mkdir -p "$CACHE/peers"
echo "setup-ann-peers: building weaviate-hnsw $version -> $out (first build compiles Weaviate's packages: minutes)"
start=$(date +%s)
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
"$GO" build -C "$SRC" -o "$tmp" .
mv -f "$tmp" "$out"
echo "$sum" >"$stamp"
echo "setup-ann-peers: built weaviate-hnsw $version in $(( $(date +%s) - start )) s"
