#!/usr/bin/python3
"""PyTorch-side evaluation of emoji-clip on the held-out style (OpenMoji, never trained on).

Candidates are all images of the evaluation folder (make_eval_set.py). Text queries go
through the model's templates (prompt ensembling, as the engine does). Reports:
  text->image R@1/5/10    query: the emoji's name (first caption); hit: that exact emoji;
  image->image R@1/10      query: the Google or Twitter picture of the emoji (on white);
  withheld R@10            the same, restricted to concepts never trained on in any style;
  analogies R@1/10         per family of analogies.jsonl, query as in make_analogies.py, and
                           the same with the source picture alone as the query (baseline);
  dog face - "dog" + "cat" the rank of the cat face.
Writes JSON (--out) and prints it.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import augment  # noqa: E402
import cliptok  # noqa: E402
import emojidata as ed  # noqa: E402
import model as M  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATES = ["{}", "an emoji of {}"]


def embed_images(model, arrays, bs=256):
    out = []
    with torch.no_grad():
        for i in range(0, len(arrays), bs):
            x = torch.from_numpy(np.stack(arrays[i:i + bs])).permute(0, 3, 1, 2).float() / 255.0
            out.append(model.visual(augment.normalize(x)))
    return torch.cat(out)


def embed_texts(model, tok, texts, context, bs=512):
    """Template-ensembled, normalized text embeddings."""
    acc = None
    with torch.no_grad():
        for t in TEMPLATES:
            rows = [tok.tokenize(t.format(s), context) for s in texts]
            ids = torch.tensor([r[0] for r in rows])
            mask = torch.tensor([r[1] for r in rows])
            e = torch.cat([model.text(ids[i:i + bs], mask[i:i + bs]) for i in range(0, len(rows), bs)])
            acc = e if acc is None else acc + e
    return torch.nn.functional.normalize(acc, dim=-1)


def recall(ranks, ks):
    r = np.asarray(ranks)
    return {f"R@{k}": round(float((r < k).mean()), 4) if len(r) else None for k in ks}


def rank_of(scores, target):
    return int((scores > scores[target]).sum().item())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True, help="folder written by train.py")
    ap.add_argument("--merges", required=True, help="merges.txt of the model")
    ap.add_argument("--eval-dir", default=os.path.join(ed.data_dir(), "eval-" + ed.HELDOUT_STYLE))
    ap.add_argument("--analogies", default=os.path.join(HERE, "..", "analogies.jsonl"))
    ap.add_argument("--out", default=None)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.time()
    model, cfg = M.load_checkpoint(args.checkpoint)
    tok = cliptok.Tokenizer.load(args.merges)
    L = cfg["context_length"]

    recs = [json.loads(l) for l in open(os.path.join(args.eval_dir, "captions.jsonl"), encoding="utf-8")]
    paths = [r["image"] for r in recs]
    index = {p: i for i, p in enumerate(paths)}
    ids = [r["labels"][0] for r in recs]
    withheld = np.array([bool(r.get("withheld")) for r in recs])
    imgs = [np.asarray(Image.open(os.path.join(args.eval_dir, p)).convert("RGB")) for p in paths]
    E = embed_images(model, imgs)
    print(f"embedded {len(E)} eval images ({time.time() - t0:.0f}s)", flush=True)

    T = embed_texts(model, tok, [r["captions"][0] for r in recs], L)
    S = T @ E.t()
    t2i = np.array([rank_of(S[i], i) for i in range(len(recs))])
    print(f"embedded {len(T)} names ({time.time() - t0:.0f}s)", flush=True)

    items = {it["id"]: it for it in ed.load_catalog()}
    i2i = {}
    for st in ("google", "twitter"):
        q_idx = [i for i, iid in enumerate(ids) if st in items[iid]["files"]]
        Q = embed_images(model, [ed.on_white(ed.load_rgba(items[ids[i]], st)) for i in q_idx])
        S2 = Q @ E.t()
        i2i[st] = (np.array(q_idx), np.array([rank_of(S2[k], i) for k, i in enumerate(q_idx)]))
    print(f"cross-style queries done ({time.time() - t0:.0f}s)", flush=True)

    res = {
        "eval_set": {"style": ed.HELDOUT_STYLE, "images": len(recs), "withheld_concept_images": int(withheld.sum())},
        "text_to_image": dict(recall(t2i, (1, 5, 10)), queries=len(t2i)),
        "text_to_image_seen_concepts": dict(recall(t2i[~withheld], (1, 5, 10)), queries=int((~withheld).sum())),
        "text_to_image_withheld_concepts": dict(recall(t2i[withheld], (1, 5, 10)), queries=int(withheld.sum())),
    }
    allq = np.concatenate([i2i[s][1] for s in i2i])
    allw = np.concatenate([withheld[i2i[s][0]] for s in i2i])
    res["image_to_image_cross_style"] = dict(recall(allq, (1, 10)), queries=len(allq),
                                             by_query_style={s: recall(i2i[s][1], (1, 10)) for s in i2i})
    res["image_to_image_withheld_concepts"] = dict(recall(allq[allw], (1, 10)), queries=int(allw.sum()))

    # Analogies.
    an = [json.loads(l) for l in open(args.analogies, encoding="utf-8")]
    words = sorted({t["text"] for a in an for t in a["subtract"] + a["add"]} | {"dog", "cat"})
    W = dict(zip(words, embed_texts(model, tok, words, L)))
    fam, base = {}, {}
    for a in an:
        s = index[a["source"]]
        sc0 = E @ E[s]
        sc0[s] = -1e9
        base.setdefault(a["family"], []).append(min(rank_of(sc0, index[e]) for e in a["expected"]))
        q = E[s].clone()
        for t in a["subtract"]:
            q -= t["weight"] * W[t["text"]]
        for t in a["add"]:
            q += t["weight"] * W[t["text"]]
        q = torch.nn.functional.normalize(q, dim=0)
        sc = E @ q
        sc[s] = -1e9
        r = min(rank_of(sc, index[e]) for e in a["expected"])
        fam.setdefault(a["family"], []).append(r)
    res["analogies"] = {f: dict(recall(r, (1, 10)), queries=len(r)) for f, r in sorted(fam.items())}
    res["analogies_mean"] = {k: round(float(np.mean([res["analogies"][f][k] for f in fam])), 4) for k in ("R@1", "R@10")}
    # Baseline: the source picture alone, no words (how much the arithmetic adds).
    res["analogies_baseline_image_only"] = {f: recall(r, (1, 10)) for f, r in sorted(base.items())}
    res["analogies_baseline_image_only_mean"] = {
        k: round(float(np.mean([res["analogies_baseline_image_only"][f][k] for f in base])), 4) for k in ("R@1", "R@10")}

    # The headline example.
    dog, cat = index.get("img/1F436.png"), index.get("img/1F431.png")
    q = torch.nn.functional.normalize(E[dog] - W["dog"] + W["cat"], dim=0)
    sc = E @ q
    sc[dog] = -1e9
    top = torch.argsort(sc, descending=True)[:5].tolist()
    res["dog_face_minus_dog_plus_cat"] = {"cat_face_rank": rank_of(sc, cat) + 1,
                                          "top5": [recs[i]["captions"][0] for i in top]}
    res["seconds"] = round(time.time() - t0, 1)
    txt = json.dumps(res, indent=1)
    print(txt)
    if args.out:
        with open(args.out, "w") as f:
            f.write(txt + "\n")


if __name__ == "__main__":
    main()
