#!/usr/bin/python3
"""Builds the emoji-clip training set from the fetched packages.

Writes to --out (default: <cache>/emoji-data/train-v1/):
  train.npz   images uint8 [M,64,64,4] (RGBA) of the training styles, each image's item and
              style, the captions as token ids, and which captions belong to which item;
  meta.json   the items (id, concept, label, withheld), styles, templates, caption texts;
  vocab.json, merges.txt   the CLIP-style BPE vocabulary learnt on the training captions.

Held out of everything written here: the whole OpenMoji style, and the ~10% of concepts
that emojidata.withheld() picks (all their variants, in every style).
"""

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cliptok  # noqa: E402
import emojidata as ed  # noqa: E402

VOCAB_SIZE = 4096


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ed.data_dir(), "train-v1"))
    ap.add_argument("--vocab-size", type=int, default=VOCAB_SIZE)
    args = ap.parse_args()
    t0 = time.time()
    items = ed.load_catalog()
    ed.rasterize_all(items, ed.TRAIN_STYLES)
    train_items = [it for it in items if not it["withheld"] and any(s in it["files"] for s in ed.TRAIN_STYLES)]
    print(f"{len(items)} items, {len(train_items)} for training "
          f"({sum(it['withheld'] for it in items)} withheld)", flush=True)

    # Captions: unique texts, per-item membership with sampling weights.
    cap_index = {}
    caps = []
    ptr, idx, wts = [0], [], []
    for it in train_items:
        for text, w in ed.captions(it):
            if text not in cap_index:
                cap_index[text] = len(caps)
                caps.append(text)
            idx.append(cap_index[text])
            wts.append(w)
        ptr.append(len(idx))
    print(f"{len(caps)} distinct captions, {len(idx)} item-caption pairs", flush=True)

    corpus = list(caps) + [t.replace("{}", "") for t in ed.TEMPLATES]
    # Weight the corpus by use, so frequent words get whole tokens first.
    counts = np.bincount(np.asarray(idx), minlength=len(caps))
    corpus = [c for c, n in zip(caps, counts) for _ in range(int(n))] + corpus
    tok = cliptok.train_bpe(corpus, args.vocab_size)
    print(f"BPE: {len(tok.merges)} merges, vocabulary {len(tok.vocab)}", flush=True)

    tokens = [tok.encode(c) for c in caps]
    lens = np.array([len(t) for t in tokens], dtype=np.int32)
    tok_ptr = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    tok_flat = np.array([i for t in tokens for i in t], dtype=np.int32)
    tpl_prefix, tpl_suffix = [], []
    for t in ed.TEMPLATES:
        a, b = t.split("{}")
        tpl_prefix.append(tok.encode(a))
        tpl_suffix.append(tok.encode(b))
    # Spot-check that templated captions tokenize as prefix + caption + suffix.
    for c in caps[:: max(1, len(caps) // 200)]:
        for t, a, b in zip(ed.TEMPLATES, tpl_prefix, tpl_suffix):
            if tok.encode(t.format(c)) != a + tok.encode(c) + b:
                raise SystemExit(f"template {t!r} does not tokenize compositionally for {c!r}")

    images, img_item, img_style = [], [], []
    for i, it in enumerate(train_items):
        for s, st in enumerate(ed.TRAIN_STYLES):
            if st in it["files"]:
                images.append(ed.load_rgba(it, st))
                img_item.append(i)
                img_style.append(s)
    images = np.stack(images)
    print(f"{len(images)} training images", flush=True)

    os.makedirs(args.out, exist_ok=True)
    tok.save(os.path.join(args.out, "vocab.json"), os.path.join(args.out, "merges.txt"))
    np.savez_compressed(
        os.path.join(args.out, "train.npz"),
        images=images, img_item=np.array(img_item, np.int32), img_style=np.array(img_style, np.int8),
        cap_ptr=np.array(ptr, np.int64), cap_idx=np.array(idx, np.int32), cap_w=np.array(wts, np.float32),
        tok_ptr=tok_ptr, tok_flat=tok_flat,
    )
    meta = {
        "styles": list(ed.TRAIN_STYLES), "heldout_style": ed.HELDOUT_STYLE, "size": ed.SIZE,
        "templates": ed.TEMPLATES, "template_prefix": tpl_prefix, "template_suffix": tpl_suffix,
        "sot": tok.sot, "eot": tok.eot, "vocab_size": len(tok.vocab),
        "items": [{"id": it["id"], "concept": it["concept"], "label": it["label"]} for it in train_items],
        "captions": caps,
    }
    with open(os.path.join(args.out, "meta.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, ensure_ascii=False)
    size = os.path.getsize(os.path.join(args.out, "train.npz"))
    print(f"wrote {args.out} (train.npz {size / 2**20:.1f} MiB) in {time.time() - t0:.0f}s", flush=True)


if __name__ == "__main__":
    main()
