#!/usr/bin/env bash
# Builds the pinned Weaviate server (the remote index of `--index weaviate://`,
# started on loopback by the cluster tests and `mmsearch bench cluster`) into
# the cache, once: a second run finds it and does nothing.
#
#   ${MMSEARCH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mmsearch}/cluster/weaviate-<version>/weaviate-server
#
# It is built from source with `go install` through the Go module proxy (no
# prebuilt download exists on this kind of machine): about 170 MB, several
# minutes on two cores. The version must match internal/weaviated.Version.
set -euo pipefail
WEAVIATE_VERSION=v1.35.2

cache=${MMSEARCH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mmsearch}
dest="$cache/cluster/weaviate-$WEAVIATE_VERSION"
bin="$dest/weaviate-server"
if [ -x "$bin" ]; then
  echo "weaviate $WEAVIATE_VERSION already built: $bin"
  exit 0
fi
mkdir -p "$dest"
tmp=$(mktemp -d "$dest/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "building weaviate $WEAVIATE_VERSION with go install (several minutes, once) ..."
start=$(date +%s)
# Outside any module, so the project's go.mod plays no part.
(cd "$tmp" && GOBIN="$tmp" GOFLAGS= go install "github.com/weaviate/weaviate/cmd/weaviate-server@$WEAVIATE_VERSION")
mv "$tmp/weaviate-server" "$bin"
echo "weaviate $WEAVIATE_VERSION built in $(( $(date +%s) - start )) s: $bin"
