#!/usr/bin/env bash
# Installs the ONNX Runtime shared library that mmsearch loads at run time.
#
#   scripts/setup-onnxruntime.sh         the CPU build (`make setup`)
#   scripts/setup-onnxruntime.sh --gpu   also the GPU build with its CUDA provider (`make setup-gpu`)
#
# Every library comes from an npm package fetched with `npm pack` (the only
# client this project uses for them), whose tarball is checked against the
# sha512 pinned below before anything is extracted:
#
#   CPU: onnxruntime-node            -> <cache>/onnxruntime/<version>/<os>-<arch>/libonnxruntime.so
#   GPU: onnxruntime-node 1.29.0 (core library) and
#        com.github.asus4.onnxruntime.linux-x64-gpu 0.4.9 (libonnxruntime_providers_cuda.so and
#        libonnxruntime_providers_shared.so, built for ONNX Runtime 1.29.0 with CUDA 13 and cuDNN 9;
#        MIT licence, Copyright (c) Microsoft Corporation, kept beside the libraries as LICENSE)
#                                    -> <cache>/onnxruntime/1.29.0-cuda/linux-x64/
#
# <cache> is ${MMSEARCH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mmsearch}. The GPU build is
# Linux x64 only and needs the NVIDIA driver, CUDA 13 and cuDNN 9 on the machine to run on
# the GPU; without them `--device cuda` says what is missing and `--device auto` uses the CPU.
#
# Idempotent: a library already installed from the pinned tarball is left alone.
set -euo pipefail

ORT_VERSION="1.24.3"
# npm "integrity" of onnxruntime-node@1.24.3 (sha512, base64).
ORT_TARBALL_SHA512="JH7+czbc8ALA819vlTgcV+Q214/+VjGeBHDjX81+ZCD0PCVCIFGFNtT0V4sXG/1JXypKPgScQcB3ij/hk3YnTg=="

GPU_ORT_VERSION="1.29.0"
GPU_ORT_TARBALL_SHA512="WjiVVB72riILz8HbYvxvmjKyE/WmkYoSfKY++axo5jAR609HQg8MwiG/HhShpTcJfmmAdzxxmB+MMST3A+SiPA=="
GPU_PROVIDER_PACKAGE="com.github.asus4.onnxruntime.linux-x64-gpu"
GPU_PROVIDER_VERSION="0.4.9"
GPU_PROVIDER_SHA512="FopIhNE/Ng+v2X65wVc9clPCBCvhvA53Hxo2U0Kf5fGdVsC7iCA+mZ0KLWggcQAj7TIZ6pNidR4AC10g74Xo6w=="

die() { echo "setup-onnxruntime: $*" >&2; exit 1; }

gpu=false
case "${1:-}" in
  "") ;;
  --gpu) gpu=true ;;
  *) die "usage: $0 [--gpu]" ;;
esac

os=$(uname -s)
arch=$(uname -m)
case "$os/$arch" in
  Linux/x86_64)          plat=linux-x64;   inner=linux/x64 ;;
  Linux/aarch64|Linux/arm64) plat=linux-arm64; inner=linux/arm64 ;;
  *) die "unsupported platform $os/$arch: onnxruntime-node ships Linux x64 and arm64 libraries only; set ONNXRUNTIME_SHARED_LIBRARY_PATH to a library you built" ;;
esac

cache=${MMSEARCH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mmsearch}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# fetch NAME VERSION SHA512: npm pack NAME@VERSION into $work and check the
# tarball's sha512; prints the tarball's path.
fetch() {
  local name=$1 version=$2 want=$3
  command -v npm >/dev/null 2>&1 || die "npm not found: install Node.js and npm (Debian: apt-get install npm), then rerun make setup"
  echo "fetching $name@$version with npm pack ..." >&2
  (cd "$work" && npm pack --silent "$name@$version" >/dev/null) \
    || die "npm pack $name@$version failed (is the npm registry reachable?)"
  local tgz="$work/$name-$version.tgz"
  [[ -f "$tgz" ]] || die "npm pack did not produce $tgz"
  local got
  got=$(openssl dgst -sha512 -binary "$tgz" 2>/dev/null | base64 -w0 || true)
  if [[ -z "$got" ]]; then
    got=$(sha512sum "$tgz" | cut -d' ' -f1 | xxd -r -p | base64 -w0)
  fi
  [[ "$got" == "$want" ]] || die "checksum mismatch for $name-$version.tgz: got sha512-$got, want sha512-$want"
  echo "$tgz"
}

# extract TGZ MEMBER DEST: copy one member of a tarball to DEST atomically.
extract() {
  local tgz=$1 member=$2 dest=$3
  rm -rf "$work/x" && mkdir -p "$work/x"
  tar -xzf "$tgz" -C "$work/x" "$member" || die "$(basename "$tgz") has no $member"
  cp "$work/x/$member" "$dest.tmp"
  mv "$dest.tmp" "$dest"
}

# installed DIR STAMP: whether DIR holds an installation stamped STAMP.
installed() { [[ -f "$1/.installed" ]] && [[ "$(cat "$1/.installed")" == "$2" ]]; }

dest="$cache/onnxruntime/$ORT_VERSION/$plat"
if installed "$dest" "$ORT_TARBALL_SHA512" && [[ -f "$dest/libonnxruntime.so" ]]; then
  echo "onnxruntime $ORT_VERSION already installed: $dest/libonnxruntime.so"
else
  command -v tar >/dev/null 2>&1 || die "tar not found"
  tgz=$(fetch onnxruntime-node "$ORT_VERSION" "$ORT_TARBALL_SHA512")
  mkdir -p "$dest"
  extract "$tgz" "package/bin/napi-v6/$inner/libonnxruntime.so.1" "$dest/libonnxruntime.so"
  ln -sf libonnxruntime.so "$dest/libonnxruntime.so.1"
  echo "$ORT_TARBALL_SHA512" > "$dest/.installed"
  echo "onnxruntime $ORT_VERSION installed: $dest/libonnxruntime.so"
fi

$gpu || exit 0

[[ "$plat" == linux-x64 ]] || die "the GPU build is available for Linux x64 only, not $os/$arch"
gdest="$cache/onnxruntime/$GPU_ORT_VERSION-cuda/$plat"
gstamp="$GPU_ORT_TARBALL_SHA512 $GPU_PROVIDER_SHA512"
if installed "$gdest" "$gstamp" && [[ -f "$gdest/libonnxruntime.so" ]]; then
  echo "onnxruntime $GPU_ORT_VERSION (GPU build) already installed: $gdest/libonnxruntime.so"
  exit 0
fi
tgz=$(fetch onnxruntime-node "$GPU_ORT_VERSION" "$GPU_ORT_TARBALL_SHA512")
ptgz=$(fetch "$GPU_PROVIDER_PACKAGE" "$GPU_PROVIDER_VERSION" "$GPU_PROVIDER_SHA512")
mkdir -p "$gdest"
rm -f "$gdest/.installed"
extract "$tgz" "package/bin/napi-v6/$inner/libonnxruntime.so.1" "$gdest/libonnxruntime.so"
ln -sf libonnxruntime.so "$gdest/libonnxruntime.so.1"
for lib in libonnxruntime_providers_shared.so libonnxruntime_providers_cuda.so; do
  extract "$ptgz" "package/Plugins/Linux/x64/$lib" "$gdest/$lib"
done
extract "$ptgz" package/LICENSE "$gdest/LICENSE"
echo "$gstamp" > "$gdest/.installed"
echo "onnxruntime $GPU_ORT_VERSION (GPU build, CUDA provider) installed: $gdest/libonnxruntime.so"
