#!/usr/bin/env bash
# Writes the held-out-style (OpenMoji) evaluation set without training anything:
# fetch.sh, then make_eval_set.py (rasterizes the SVGs with rsvg-convert). Prints the folder:
#   ${MMSEARCH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mmsearch}/emoji-data/eval-openmoji/
#     img/<ID>.png  (64x64 RGB on white)   captions.jsonl
# Idempotent: existing PNGs are kept. PYTHON overrides the interpreter (default /usr/bin/python3).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=${PYTHON:-/usr/bin/python3}
command -v rsvg-convert >/dev/null 2>&1 || { echo "make_eval_set: rsvg-convert not found (Debian: apt-get install librsvg2-bin)" >&2; exit 1; }
"$here/fetch.sh" >&2
cache=${MMSEARCH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mmsearch}
"$PY" "$here/make_eval_set.py" --out "$cache/emoji-data/eval-openmoji" >&2
echo "$cache/emoji-data/eval-openmoji"
