#!/usr/bin/env bash
# Installs the ONNX Runtime shared library that mmsearch loads at run time.
#
# The library comes from the npm package onnxruntime-node (fetched with `npm pack`,
# the only client this project uses for it), whose tarball is checked against the
# sha512 pinned below before anything is extracted. The library for this CPU is
# copied into the mmsearch cache:
#
#   ${MMSEARCH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mmsearch}/onnxruntime/<version>/<os>-<arch>/libonnxruntime.so
#
# Idempotent: when the library is already there with the pinned digest, it does nothing.
set -euo pipefail

ORT_VERSION="1.24.3"
# npm "integrity" of onnxruntime-node@1.24.3 (sha512, base64).
ORT_TARBALL_SHA512="JH7+czbc8ALA819vlTgcV+Q214/+VjGeBHDjX81+ZCD0PCVCIFGFNtT0V4sXG/1JXypKPgScQcB3ij/hk3YnTg=="

die() { echo "setup-onnxruntime: $*" >&2; exit 1; }

os=$(uname -s)
arch=$(uname -m)
case "$os/$arch" in
  Linux/x86_64)          plat=linux-x64;   inner=linux/x64 ;;
  Linux/aarch64|Linux/arm64) plat=linux-arm64; inner=linux/arm64 ;;
  *) die "unsupported platform $os/$arch: onnxruntime-node ships Linux x64 and arm64 libraries only; set ONNXRUNTIME_SHARED_LIBRARY_PATH to a library you built" ;;
esac

cache=${MMSEARCH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mmsearch}
dest="$cache/onnxruntime/$ORT_VERSION/$plat"
lib="$dest/libonnxruntime.so"
stamp="$dest/.installed"

if [[ -f "$lib" && -f "$stamp" ]] && [[ "$(cat "$stamp")" == "$ORT_TARBALL_SHA512" ]]; then
  echo "onnxruntime $ORT_VERSION already installed: $lib"
  exit 0
fi

command -v npm >/dev/null 2>&1 || die "npm not found: install Node.js and npm (Debian: apt-get install npm), then rerun make setup"
command -v tar >/dev/null 2>&1 || die "tar not found"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "fetching onnxruntime-node@$ORT_VERSION with npm pack ..."
(cd "$work" && npm pack --silent "onnxruntime-node@$ORT_VERSION" >/dev/null) \
  || die "npm pack onnxruntime-node@$ORT_VERSION failed (is the npm registry reachable?)"
tgz="$work/onnxruntime-node-$ORT_VERSION.tgz"
[[ -f "$tgz" ]] || die "npm pack did not produce $tgz"

got=$(openssl dgst -sha512 -binary "$tgz" 2>/dev/null | base64 -w0 || true)
if [[ -z "$got" ]]; then
  got=$(sha512sum "$tgz" | cut -d' ' -f1 | xxd -r -p | base64 -w0)
fi
[[ "$got" == "$ORT_TARBALL_SHA512" ]] || die "checksum mismatch for onnxruntime-node-$ORT_VERSION.tgz: got sha512-$got, want sha512-$ORT_TARBALL_SHA512"

tar -xzf "$tgz" -C "$work" "package/bin/napi-v6/$inner/libonnxruntime.so.1" \
  || die "tarball has no library for $inner"
mkdir -p "$dest"
cp "$work/package/bin/napi-v6/$inner/libonnxruntime.so.1" "$lib.tmp"
mv "$lib.tmp" "$lib"
ln -sf libonnxruntime.so "$dest/libonnxruntime.so.1"
echo "$ORT_TARBALL_SHA512" > "$stamp"
echo "onnxruntime $ORT_VERSION installed: $lib"
