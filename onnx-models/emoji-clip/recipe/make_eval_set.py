#!/usr/bin/python3
"""Writes the held-out-style evaluation set: every OpenMoji emoji as a 64x64 RGB PNG on white.

Needs only fetch.sh and rsvg-convert (no training). Output, in
<cache>/emoji-data/eval-openmoji/ (or --out):
  img/<ID>.png       one picture per emoji item (skin-tone variants included)
  captions.jsonl     {"image": "img/<ID>.png", "captions": [name, ...], "labels": [ID, CONCEPT],
                      "withheld": bool}
The first caption is the CLDR short name ("man cook: dark skin tone"), the query used for
text->image recall. labels[0] is the exact emoji, labels[1] its base emoji (the concept);
"withheld" marks concepts kept out of training in every style.
"""

import argparse
import json
import os
import sys

from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import emojidata as ed  # noqa: E402


def default_out():
    return os.path.join(ed.data_dir(), "eval-" + ed.HELDOUT_STYLE)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=default_out())
    args = ap.parse_args()
    items = [it for it in ed.load_catalog() if ed.HELDOUT_STYLE in it["files"]]
    ed.rasterize_all(items, [ed.HELDOUT_STYLE])
    os.makedirs(os.path.join(args.out, "img"), exist_ok=True)
    tmp = os.path.join(args.out, "captions.jsonl.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for it in items:
            rel = "img/%s.png" % it["id"]
            dst = os.path.join(args.out, rel)
            if not os.path.isfile(dst):
                Image.fromarray(ed.on_white(ed.load_rgba(it, ed.HELDOUT_STYLE))).save(dst + ".tmp.png")
                os.replace(dst + ".tmp.png", dst)
            caps = [it["label"]] + [c for c, w in sorted(ed.captions(it), key=lambda cw: (-cw[1], cw[0]))
                                    if w >= 1.0 and c != it["label"].lower()]
            rec = {"image": rel, "captions": caps, "labels": [it["id"], it["concept"]], "withheld": it["withheld"]}
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    os.replace(tmp, os.path.join(args.out, "captions.jsonl"))
    print(f"eval set: {len(items)} {ed.HELDOUT_STYLE} images -> {args.out}")


if __name__ == "__main__":
    main()
