#!/usr/bin/env bash
# The main job, end to end, on the bundled model: build a sample collection
# (OpenMoji artwork, a style the bundled model never saw in training, plus the
# shared test photos when ../shared is there), index it, run three queries and
# write an HTML contact sheet of the results.
#
# Called by `make demo` after set-up and build. Output goes to $DEMO_OUT
# (default demo-out/): the library, each query's JSON, contact-sheet.html.
set -euo pipefail
cd "$(dirname "$0")/.."

out=${DEMO_OUT:-demo-out}
bin=bin/mmsearch
model=onnx-models/emoji-clip
cache=${MMSEARCH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mmsearch}
eval_set="$cache/emoji-data/eval-openmoji"

scripts/setup-debian-packages.sh demo
onnx-models/emoji-clip/recipe/fetch.sh | grep -v "already present" || true
if [[ ! -s "$eval_set/captions.jsonl" ]]; then
  echo "demo: rasterizing the OpenMoji collection (once) ..."
  /usr/bin/python3 onnx-models/emoji-clip/recipe/make_eval_set.py --out "$eval_set"
fi

# image_for NAME prints the collection's picture whose first caption is NAME.
image_for() {
  /usr/bin/python3 - "$eval_set" "$1" <<'PY'
import json, os, sys
root, name = sys.argv[1], sys.argv[2]
with open(os.path.join(root, "captions.jsonl"), encoding="utf-8") as f:
    for line in f:
        rec = json.loads(line)
        if rec["captions"] and rec["captions"][0] == name:
            print(os.path.join(root, rec["image"]))
            sys.exit(0)
sys.exit("demo: no picture named %r in %s" % (name, root))
PY
}

mkdir -p "$out"
roots=("$eval_set/img")
[[ -d ../shared/images/formats ]] && roots+=(../shared/images/formats)
echo "demo: indexing ${roots[*]}"
"$bin" index --library "$out/library" --model "$model" "${roots[@]}"
# The collection must really be in the library: a demo that quietly indexed
# only the shared photos would still "work" and show nothing of the model.
want=$(find "$eval_set/img" -type f -name '*.png' | wc -l)
have=$("$bin" index --library "$out/library" --model "$model" --json "$eval_set/img" 2>/dev/null |
  /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin); print(r.get("found", 0))')
if [[ "$have" -lt "$want" ]]; then
  echo "demo: the library sees $have of the $want pictures in $eval_set/img" >&2
  exit 1
fi

dog=$(image_for "dog face")
cook=$(image_for "man cook")
queries=(
  "$dog - \"dog\" + \"cat\""
  "$cook - \"man\" + \"woman\""
  "\"red heart\" - \"red\" + \"blue\""
)
results=()
i=0
for q in "${queries[@]}"; do
  i=$((i + 1))
  echo
  echo "demo: mmsearch search -k 8 '$q'"
  "$bin" search --library "$out/library" -k 8 "$q"
  "$bin" search --library "$out/library" -k 8 --json "$q" >"$out/query$i.json"
  results+=("$out/query$i.json")
done
echo
"$bin" sheet --out "$out/contact-sheet.html" "${results[@]}"
echo "demo: open $out/contact-sheet.html to see the pictures"
