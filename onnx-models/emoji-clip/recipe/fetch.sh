#!/usr/bin/env bash
# Fetches the open emoji artwork and metadata the emoji-clip model is trained on.
#
# Every package comes from the npm registry through `npm pack` and is checked against
# the sha512 ("integrity") pinned below before it is unpacked into
#
#   ${MMSEARCH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mmsearch}/emoji-data/<name>-<version>/
#
# Only the parts the recipe needs are extracted (emoji.json and the 64 px PNGs of the
# emoji-datasource packages, the colour SVGs of OpenMoji and Fluent Emoji, the English
# emojibase data, and every package's licence and readme files).
#
# Idempotent: a package whose folder carries a stamp with the pinned digest is skipped.
set -euo pipefail

# name@version  sha512 (npm "integrity", base64)  extraction patterns
PACKAGES=(
  "emoji-datasource-google@16.0.0|ZRexfzs7MVoLnmzZmNsO4TKhnAJp5D++Vm6PpUpH/jEQQlemp3l88CjZ+DoZ2faM9R4QxZkOPJCoT8DlPhfQ3A==|package/emoji.json package/img/google/64 package/LICENSE* package/README*"
  "emoji-datasource-twitter@16.0.0|7F+uCuHH+7Qnrc15P5tnbvKkg9E6tlzi4MnT2uW1RlN4pLYTza6cP/dstIfSDMtpjFLWuZewWg8jBbuL2eyELQ==|package/emoji.json package/img/twitter/64 package/LICENSE* package/README*"
  "openmoji@17.0.0|EBnYrNGdcdw+OSXmENeNE1yBNRu6tOraTmoOyUbJkTmvT/+XETp8RZLSJFzD3lrPc5N9CzsyPnRTk0Vp4UaI9w==|package/data/openmoji.csv package/color/svg package/LICENSE.txt package/README.md"
  "fluentui-emoji@1.3.0|JTXXwqIie2rWTgOkIJDJxr0WtwTz2WU4kdOq8buLVThYwQ264aFR2jdTyuon2oEbLqqGMT64zI4btyn1saB2xw==|package/icons/flat package/LICENSE* package/README* package/package.json"
  "emojibase-data@17.0.0|Yvgb5AWoHViHV/gq1qr5ZAarcBip+B27/ZLRsUJkbgAEaLlZ/fof9g882LTpmEpyhBNEC0m2SEmItljHsTygjA==|package/en/data.json package/en/shortcodes/emojibase.json package/LICENSE* package/README*"
)

die() { echo "fetch: $*" >&2; exit 1; }

cache=${MMSEARCH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mmsearch}
root="$cache/emoji-data"
mkdir -p "$root"

command -v npm >/dev/null 2>&1 || die "npm not found: install Node.js and npm (Debian: apt-get install npm)"
command -v tar >/dev/null 2>&1 || die "tar not found"

sha512b64() {
  openssl dgst -sha512 -binary "$1" 2>/dev/null | base64 -w0 ||
    sha512sum "$1" | cut -d' ' -f1 | xxd -r -p | base64 -w0
}

for entry in "${PACKAGES[@]}"; do
  IFS='|' read -r spec want patterns <<<"$entry"
  name=${spec%@*}
  version=${spec##*@}
  dest="$root/$name-$version"
  stamp="$dest/.fetched"
  if [[ -f "$stamp" ]] && [[ "$(cat "$stamp")" == "$want" ]]; then
    echo "fetch: $spec already present in $dest"
    continue
  fi
  work=$(mktemp -d)
  echo "fetch: npm pack $spec ..."
  (cd "$work" && npm pack --silent "$spec" >/dev/null) ||
    { rm -rf "$work"; die "npm pack $spec failed (is the npm registry reachable?)"; }
  tgz="$work/$name-$version.tgz"
  [[ -f "$tgz" ]] || { rm -rf "$work"; die "npm pack did not produce $tgz"; }
  got=$(sha512b64 "$tgz")
  if [[ "$got" != "$want" ]]; then
    rm -rf "$work"
    die "checksum mismatch for $name-$version.tgz: got sha512-$got, want sha512-$want"
  fi
  rm -rf "$dest.tmp"
  mkdir -p "$dest.tmp"
  # shellcheck disable=SC2086 # patterns are intentionally split into words
  tar -xzf "$tgz" -C "$dest.tmp" --strip-components=1 --wildcards $patterns 2>/dev/null ||
    { rm -rf "$work" "$dest.tmp"; die "extracting $spec failed (package layout changed?)"; }
  echo "$want" >"$dest.tmp/.fetched"
  rm -rf "$dest"
  mv "$dest.tmp" "$dest"
  rm -rf "$work"
  echo "fetch: $spec -> $dest"
done
echo "fetch: done ($root)"
