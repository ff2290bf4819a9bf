#!/usr/bin/python3
"""Writes the Google and Twitter pictures (on white, 64 px) of every emoji of the
OpenMoji eval set, as the cross-style query set of `mmsearch bench retrieval --queries`.

Usage: /usr/bin/python3 make_cross_queries.py [OUT]   (default <cache>/emoji-data/eval-cross-queries)
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import emojidata as ed  # noqa: E402
from PIL import Image  # noqa: E402

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ed.data_dir(), "eval-cross-queries")
os.makedirs(out, exist_ok=True)
ev = os.path.join(ed.data_dir(), "eval-openmoji", "captions.jsonl")
ids = [json.loads(l)["labels"][0] for l in open(ev, encoding="utf-8")]
items = {it["id"]: it for it in ed.load_catalog()}
n = 0
with open(os.path.join(out, "captions.jsonl"), "w", encoding="utf-8") as f:
    for st in ("google", "twitter"):
        os.makedirs(os.path.join(out, st), exist_ok=True)
        for iid in ids:
            it = items[iid]
            if st not in it["files"]:
                continue
            rel = f"{st}/{iid}.png"
            Image.fromarray(ed.on_white(ed.load_rgba(it, st))).save(os.path.join(out, rel))
            f.write(json.dumps({"image": rel, "labels": [iid, it["concept"]], "withheld": it["withheld"]}) + "\n")
            n += 1
print(f"{n} query images -> {out}")
