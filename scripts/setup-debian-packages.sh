#!/usr/bin/env bash
# Installs the Debian packages a make target needs, only those missing.
#
#   scripts/setup-debian-packages.sh build   # cgo build: libjpeg-turbo and libheif headers
#   scripts/setup-debian-packages.sh test    # + headless Chromium, PyTorch (test fixtures), hnswlib and FAISS (peers),
#                                            #   heif-enc/heif-convert (HEIC/AVIF test pictures)
#   scripts/setup-debian-packages.sh demo    # + SVG rasterizer, PIL and NumPy for the demo's emoji collection
#   scripts/setup-debian-packages.sh model   # + SVG rasterizer and PyTorch for the model recipe
#
# Idempotent: when everything is installed it only runs dpkg-query.
set -euo pipefail

want=(libjpeg62-turbo-dev libheif-dev)
case "${1:-build}" in
  build) ;;
  test)  want+=(chromium python3-torch python3-numpy python3-hnswlib python3-faiss libheif-examples) ;;
  demo)  want+=(librsvg2-bin python3-pil python3-numpy) ;;
  model) want+=(librsvg2-bin python3-torch python3-numpy python3-pil python3-onnx) ;;
  *) echo "usage: $0 build|test|demo|model" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup: missing packages ${missing[*]} and no apt-get: install them with your package manager" >&2
  exit 1
fi
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || { echo "setup: missing packages ${missing[*]}: run as root or install them: apt-get install ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
echo "setup: installing ${missing[*]} ..."
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists once when they are missing or older than a day.
if [[ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -1)" ]]; then
  $sudo apt-get update -qq
fi
$sudo apt-get install -y -qq "${missing[@]}" >/dev/null
