#!/usr/bin/python3
"""Trains the emoji-clip dual encoder (CLIP-style, symmetric InfoNCE, learnable temperature).

Each step samples a batch of distinct emoji items; for each item it draws one caption
(weighted by caption kind, sometimes wrapped in a prompt template) and two pictures of it,
from two different artwork styles where the item has them, each augmented independently.
The loss is the CLIP loss between texts and both views, with several positives per row
where a caption belongs to more than one item in the batch ("cook" fits every cook), plus
an image-image InfoNCE term between the two views (style invariance), plus an alignment
term, 1 - cos(caption, its own pictures), that narrows the gap between the text and image
embeddings so that vector arithmetic mixing them (picture - "dog" + "cat") lands near pictures.

With --analogy-weight, each step also draws --analogy-batch attribute relations mined from
the training labels (relations.py: "dog face" -> "cat face" is sub "dog", add "cat"; groups
sampled uniformly) and adds an InfoNCE term in which the query
normalize(picture(a) - text(sub) + text(add)), the engine's arithmetic, must find picture(b)
(another style where the item has one) among every picture of the step, picture(a) included
as a hard negative. This trains the vector arithmetic the product is about, on the training
styles only.

With --init-onnx the run starts from an exported model folder (v2 fine-tunes the shipped v1
weights); BatchNorm statistics then stay frozen. --validate reports text->image and analogy
R@10, before and after, on the withheld concepts drawn in the training styles (never trained
on, by v1 or v2): the numbers used to choose settings, since the held-out OpenMoji style must
not be.

The learning rate warms up, then follows a cosine to zero over --steps, or over
--time-budget seconds when that is given (the run then also stops at the budget).
Writes <out>/checkpoint_visual.npz and checkpoint_text.npz (weights as float32 arrays,
readable by any PyTorch version),
<out>/config.json and <out>/train_log.json.
"""

import argparse
import contextlib
import json
import math
import os
import platform
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import augment  # noqa: E402
import cliptok  # noqa: E402
import emojidata as ed  # noqa: E402
import model as M  # noqa: E402
import relations  # noqa: E402


def load_data(path):
    d = np.load(os.path.join(path, "train.npz"))
    meta = json.load(open(os.path.join(path, "meta.json"), encoding="utf-8"))
    return {k: d[k] for k in d.files}, meta


class Sampler:
    """Draws item batches, captions, token rows and the positive masks (numpy, seeded)."""

    def __init__(self, data, meta, context, seed):
        self.rng = np.random.default_rng(seed)
        self.d = data
        self.meta = meta
        self.L = context
        self.n_items = len(meta["items"])
        self.n_caps = len(meta["captions"])
        self.item_imgs = [[] for _ in range(self.n_items)]
        for j, it in enumerate(data["img_item"]):
            self.item_imgs[it].append(j)
        ptr, w = data["cap_ptr"], data["cap_w"]
        self.cum = [np.cumsum(w[ptr[i]:ptr[i + 1]]) for i in range(self.n_items)]
        pairs = np.repeat(np.arange(self.n_items, dtype=np.int64), np.diff(ptr)) * self.n_caps + data["cap_idx"]
        self.pairs = np.sort(pairs)
        self.tpl_p = np.array([0.5] + [0.5 / (len(meta["templates"]) - 1)] * (len(meta["templates"]) - 1))

    def tokens(self, cap, tpl):
        d, m = self.d, self.meta
        body = d["tok_flat"][d["tok_ptr"][cap]:d["tok_ptr"][cap + 1]].tolist()
        ids = [m["sot"]] + m["template_prefix"][tpl] + body + m["template_suffix"][tpl]
        ids = ids[: self.L - 1] + [m["eot"]]
        n = len(ids)
        return ids + [m["eot"]] * (self.L - n), [1] * n + [0] * (self.L - n)

    def batch(self, b):
        items = self.rng.choice(self.n_items, size=b, replace=False)
        ptr, idx = self.d["cap_ptr"], self.d["cap_idx"]
        caps = np.empty(b, np.int64)
        va = np.empty(b, np.int64)
        vb = np.empty(b, np.int64)
        ids = np.empty((b, self.L), np.int64)
        mask = np.empty((b, self.L), np.int64)
        tpls = self.rng.choice(len(self.tpl_p), size=b, p=self.tpl_p)
        for k, i in enumerate(items):
            c = self.cum[i]
            caps[k] = idx[ptr[i] + int(np.searchsorted(c, self.rng.random() * c[-1], side="right").clip(0, len(c) - 1))]
            ids[k], mask[k] = self.tokens(caps[k], tpls[k])
            imgs = self.item_imgs[i]
            n = len(imgs)
            a = int(self.rng.integers(n))
            bb = (a + 1 + int(self.rng.integers(n - 1))) % n if n >= 2 else a
            va[k], vb[k] = imgs[a], imgs[bb]
        self.last_captions = caps
        keys = items[None, :].astype(np.int64) * self.n_caps + caps[:, None]
        pos = np.searchsorted(self.pairs, keys)
        pos = pos.clip(0, len(self.pairs) - 1)
        positive = self.pairs[pos] == keys  # [text i, item j]
        return items, ids, mask, va, vb, positive


class RelationSampler:
    """Draws attribute relations (relations.py) and their pictures and word tokens."""

    def __init__(self, meta, item_imgs, img_style, tok, context, seed):
        self.rng = np.random.default_rng(seed + 1)
        self.groups = list(relations.mine([it["label"] for it in meta["items"]]).values())
        self.item_imgs = item_imgs
        self.img_style = img_style
        words = sorted({w for g in self.groups for r in g for w in r[2:] if w})
        self.word = {w: k for k, w in enumerate(words)}
        rows = [tok.tokenize(w, context) for w in words]
        self.word_ids = np.array([r[0] for r in rows], np.int64)
        self.word_mask = np.array([r[1] for r in rows], np.int64)

    def picture_pair(self, a, b):
        ia = self.item_imgs[a][int(self.rng.integers(len(self.item_imgs[a])))]
        other = [j for j in self.item_imgs[b] if self.img_style[j] != self.img_style[ia]]
        cand = other or self.item_imgs[b]
        return ia, cand[int(self.rng.integers(len(cand)))]

    def batch(self, n):
        """(rows, words): rows are a items, b items, a pictures, b pictures, and the sub and add
        word as an index into words (-1: none); words are the step's distinct word indexes."""
        out = np.empty((6, n), np.int64)
        for k in range(n):
            g = self.groups[int(self.rng.integers(len(self.groups)))]
            a, b, sub, add = g[int(self.rng.integers(len(g)))]
            pa, pb = self.picture_pair(a, b)
            out[:, k] = (a, b, pa, pb, self.word[sub] if sub else -1, self.word[add] if add else -1)
        used, inv = np.unique(out[4:], return_inverse=True)
        inv = inv.reshape(2, n)
        if used[0] == -1:  # -1 sorts first: keep it -1, shift the rest
            used, inv = used[1:], inv - 1
        out[4:] = inv
        return out, used


def arithmetic(img_a, words, sub, add):
    """normalize(img_a - words[sub] + words[add]); index -1 means no word (the engine's add mode)."""
    zero = torch.zeros(1, words.shape[1], device=words.device, dtype=words.dtype)
    w = torch.cat([words, zero])  # index -1 picks the zero row
    return F.normalize(img_a - w[sub] + w[add], dim=-1)


def validation_set(data, meta):
    """The training pictures plus the withheld concepts' pictures in the training styles.

    Returns (images, img_item, img_style, labels, val_items, ids): items 0..n-1 are the
    training items, the rest the withheld ones (val_items), which neither v1 nor v2 trains on;
    ids are the items' emoji ids.
    """
    styles = meta["styles"]
    labels = [it["label"] for it in meta["items"]]
    ids = [it["id"] for it in meta["items"]]
    imgs, item, style, val = [], [], [], []
    for it in ed.load_catalog():
        if not it["withheld"]:
            continue
        have = [s for s in styles if s in it["files"]]
        if not have:
            continue
        k = len(labels)
        labels.append(it["label"])
        ids.append(it["id"])
        val.append(k)
        for s in have:
            imgs.append(ed.load_rgba(it, s))
            item.append(k)
            style.append(styles.index(s))
    return (np.concatenate([data["images"], np.stack(imgs)]), np.concatenate([data["img_item"], item]),
            np.concatenate([data["img_style"], style]), labels, val, ids)


def trimmed(ids, mask):
    """Token rows cut after the longest row's last real token, as tensors (the text tower is
    causal and reads the first end-of-text token, so the padding after it changes nothing)."""
    n = int(mask.sum(1).max())
    return torch.from_numpy(np.ascontiguousarray(ids[:, :n])), torch.from_numpy(np.ascontiguousarray(mask[:, :n]))


@torch.no_grad()
def embed_plain(model, images, idx, bs=256):
    """Embeddings of images[idx] (uint8 RGBA) as they are, on white: the evaluation view."""
    out = []
    for i in range(0, len(idx), bs):
        x = torch.from_numpy(images[idx[i:i + bs]]).permute(0, 3, 1, 2)
        out.append(model.visual(augment.normalize(augment.plain(x))))
    return torch.cat(out)


@torch.no_grad()
def validate(model, vset, meta, tok, context, max_analogies=800):
    """Text->image, cross-style image->image and analogy R@10 on the withheld concepts in the
    training styles.

    Candidates: one picture per item, training and withheld (Fluent where it has one, else
    its first style), plain on white. Text queries: each withheld item's label. Image
    queries: each withheld item's picture in another style. Analogies:
    relations (mined over all labels) whose target is a withheld item; the source picture in
    another style than the candidates where the item has one; the source item excluded.
    """
    model.eval()
    images, img_item, img_style, labels, val_items, _ = vset
    styles = meta["styles"]
    pref = styles.index("fluent") if "fluent" in styles else 0
    n = len(labels)
    cand = np.full(n, -1, np.int64)
    src = np.full(n, -1, np.int64)
    for j, (it, st) in enumerate(zip(img_item, img_style)):
        if cand[it] < 0 or st == pref:
            cand[it] = j
    for j, (it, st) in enumerate(zip(img_item, img_style)):
        if j != cand[it] and (src[it] < 0 or st != pref):
            src[it] = j
    src = np.where(src < 0, cand, src)

    def embed(idx):
        return embed_plain(model, images, idx)

    def texts(ts):
        rows = [tok.tokenize(t, context) for t in ts]
        return model.text(torch.tensor([r[0] for r in rows]), torch.tensor([r[1] for r in rows]))

    C = embed(cand)
    val = sorted(val_items)
    s = texts([labels[i] for i in val]) @ C.t()
    ranks = [int((s[k] > s[k, i]).sum()) for k, i in enumerate(val)]
    res = {"val_items": len(val), "t2i_R@10": round(float(np.mean(np.array(ranks) < 10)), 4)}
    cross = [i for i in val if src[i] != cand[i]]  # items with a picture in a second style
    if cross:
        s = embed(src[cross]) @ C.t()
        ranks = [int((s[k] > s[k, i]).sum()) for k, i in enumerate(cross)]
        res["i2i_R@10"] = round(float(np.mean(np.array(ranks) < 10)), 4)
    vs = set(val)
    rels = [r for g in relations.mine(labels).values() for r in g if r[1] in vs]
    rng = np.random.default_rng(7)
    if len(rels) > max_analogies:
        rels = [rels[i] for i in sorted(rng.choice(len(rels), max_analogies, replace=False))]
    fam = {}
    if rels:
        A = embed(src[[r[0] for r in rels]])
        words = sorted({w for r in rels for w in r[2:] if w})
        W = texts(words)
        wi = {w: k for k, w in enumerate(words)}
        sub = torch.tensor([wi[r[2]] if r[2] else -1 for r in rels])
        add = torch.tensor([wi[r[3]] if r[3] else -1 for r in rels])
        q = arithmetic(A, W, sub, add) @ C.t()
        for k, r in enumerate(rels):
            q[k, r[0]] = -9
            hit = int((q[k] > q[k, r[1]]).sum()) < 10
            fam.setdefault(relations.family(r[2], r[3]), []).append(hit)
    for f, hits in sorted(fam.items()):
        res[f"analogy_{f}_R@10"] = round(float(np.mean(hits)), 4)
        res[f"analogy_{f}_n"] = len(hits)
    if fam:
        res["analogy_mean_R@10"] = round(float(np.mean([np.mean(h) for h in fam.values()])), 4)
    return res


def save_checkpoint(out, model, cfg, meta, summary):
    """Writes what export.py reads: the weights as float32 arrays in two files, one per tower
    (each well under 16 MiB), config.json with the tokenizer's special ids, and the run's
    summary as train_log.json."""
    os.makedirs(out, exist_ok=True)
    sd = {k: v.detach().float().cpu().numpy() for k, v in model.state_dict().items()}
    np.savez(os.path.join(out, "checkpoint_visual.npz"), **{k: v for k, v in sd.items() if k.startswith("visual.")})
    np.savez(os.path.join(out, "checkpoint_text.npz"), **{k: v for k, v in sd.items() if not k.startswith("visual.")})
    cfg = dict(cfg, eot_id=meta["eot"], sot_id=meta["sot"])
    json.dump(cfg, open(os.path.join(out, "config.json"), "w"), indent=1)
    json.dump(summary, open(os.path.join(out, "train_log.json"), "w"), indent=1)


@torch.no_grad()
def validate_spec(model, vset, meta, tok, context, spec_path, source_style="google", cand_style="twitter"):
    """The analogy spec's families (analogies.jsonl: colour, skin tone, gender, animal face)
    on the training styles: source pictures in source_style, every item's cand_style picture
    a candidate (the source item excluded), add mode as in the engine. R@10 per family and
    their mean. The pictures are training pictures (withheld concepts' excepted), so this
    checks the arithmetic on the training styles, not on an unseen one.
    """
    model.eval()
    images, img_item, img_style, labels, _, ids = vset
    styles = meta["styles"]
    si, ci = styles.index(source_style), styles.index(cand_style)
    pic = {}
    for j, (it, st) in enumerate(zip(img_item, img_style)):
        pic[(int(it), int(st))] = j
    index = {iid: k for k, iid in enumerate(ids)}
    cand_items = sorted(k for k in range(len(ids)) if (k, ci) in pic)
    col = {k: c for c, k in enumerate(cand_items)}

    def embed(idx):
        return embed_plain(model, images, idx)

    C = embed(np.array([pic[(k, ci)] for k in cand_items]))
    rows = []
    for line in open(spec_path, encoding="utf-8"):
        r = json.loads(line)
        a = index.get(r["source"][4:-4])
        b = [index.get(e[4:-4]) for e in r["expected"]]
        if a is None or (a, si) not in pic or not all(x in col for x in b if x is not None):
            continue
        rows.append((r["family"], a, [x for x in b if x is not None],
                     [w["text"] for w in r["subtract"]], [w["text"] for w in r["add"]]))
    words = sorted({w for r in rows for w in r[3] + r[4]})
    wr = [tok.tokenize(w, context) for w in words]
    W = model.text(torch.tensor([x[0] for x in wr]), torch.tensor([x[1] for x in wr]))
    wi = {w: k for k, w in enumerate(words)}
    A = embed(np.array([pic[(r[1], si)] for r in rows]))
    fam = {}
    for k, (f, a, bs, sub, add) in enumerate(rows):
        q = A[k] - sum((W[wi[w]] for w in sub), torch.zeros_like(A[k])) + sum((W[wi[w]] for w in add), torch.zeros_like(A[k]))
        sc = F.normalize(q, dim=-1) @ C.t()
        if a in col:
            sc[col[a]] = -9
        best = max(float(sc[col[b]]) for b in bs)
        fam.setdefault(f, []).append(int((sc > best).sum()) < 10)
    res = {f"spec_{f}_R@10": round(float(np.mean(h)), 4) for f, h in sorted(fam.items())}
    res.update({f"spec_{f}_n": len(h) for f, h in sorted(fam.items())})
    if fam:
        res["spec_mean_R@10"] = round(float(np.mean([np.mean(h) for h in fam.values()])), 4)
    return res


def soft_ce(logits, targets):
    t = targets / targets.sum(1, keepdim=True)
    return -(t * F.log_softmax(logits, 1)).sum(1).mean()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="folder written by build_dataset.py")
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--batch", type=int, default=64, help="items per step (two views each)")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--wd", type=float, default=0.05)
    ap.add_argument("--warmup", type=float, default=0.04, help="fraction of the schedule")
    ap.add_argument("--ii-weight", type=float, default=0.5, help="weight of the view-view loss")
    ap.add_argument("--align-weight", type=float, default=0.3,
                    help="weight of 1 - cos(text, its own images): narrows the text-image gap for arithmetic")
    ap.add_argument("--time-budget", type=float, default=0, help="seconds; schedule by time and stop there")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--log-every", type=int, default=25)
    ap.add_argument("--analogy-weight", type=float, default=0.0, help="weight of the attribute-arithmetic loss")
    ap.add_argument("--analogy-batch", type=int, default=32, help="relations per step")
    ap.add_argument("--init-onnx", default="", help="start from this exported model folder (fine-tuning)")
    ap.add_argument("--init-scale", type=float, default=30.0, help="logit scale when starting from --init-onnx")
    ap.add_argument("--validate", action="store_true",
                    help="report R@10 on the withheld concepts in the training styles, before and after")
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    if args.device == "cpu":
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    data, meta = load_data(args.data)
    cfg = dict(M.DEFAULT_CONFIG, vocab_size=meta["vocab_size"], image_size=meta["size"])
    model = M.DualEncoder(cfg, meta["eot"])
    if args.init_onnx:
        M.load_onnx_weights(model, args.init_onnx)
        with torch.no_grad():
            model.logit_scale.fill_(math.log(args.init_scale))
    model = model.to(dev)

    def train_mode():
        model.train()
        if args.init_onnx:  # folded BatchNorm: statistics stay as loaded
            for mod in model.modules():
                if isinstance(mod, torch.nn.BatchNorm2d):
                    mod.eval()
    train_mode()
    if dev.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    tok = cliptok.Tokenizer.load(os.path.join(args.data, "merges.txt"))
    sampler = Sampler(data, meta, cfg["context_length"], args.seed)
    rel_sampler = None
    if args.analogy_weight > 0:
        rel_sampler = RelationSampler(meta, sampler.item_imgs, data["img_style"], tok, cfg["context_length"],
                                      args.seed)
        print(f"analogy loss: {sum(len(g) for g in rel_sampler.groups)} relations in {len(rel_sampler.groups)} groups, "
              f"{len(rel_sampler.word)} words", flush=True)
    validation = {}
    vset = validation_set(data, meta) if args.validate else None
    if vset is not None:
        validation["before"] = validate(model, vset, meta, tok, cfg["context_length"])
        print("validation before:", json.dumps(validation["before"]), flush=True)
        train_mode()
    images = torch.from_numpy(data["images"]).permute(0, 3, 1, 2).contiguous().to(dev)
    print(f"device {dev}, {len(images)} images, {sampler.n_items} items, {sampler.n_caps} captions; "
          f"params image {M.count_params(model.visual):,} text {M.count_params(model.text):,}", flush=True)

    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (decay if p.ndim >= 2 and not n.startswith("text.pos") and "tok" not in n else no_decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.wd}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.98), eps=1e-6)
    amp = dev.type == "cuda"
    t0 = time.time()
    log = []
    step = 0
    while True:
        el = time.time() - t0
        prog = step / args.steps
        if args.time_budget > 0:
            prog = max(prog, el / args.time_budget)
        if prog >= 1.0:
            break
        lr = args.lr * (prog / args.warmup if prog < args.warmup else 0.5 * (1 + math.cos(math.pi * (prog - args.warmup) / (1 - args.warmup))))
        for g in opt.param_groups:
            g["lr"] = lr
        items, ids, mask, va, vb, positive = sampler.batch(args.batch)
        ids_t = torch.from_numpy(ids).to(dev, non_blocking=True)
        mask_t = torch.from_numpy(mask).to(dev, non_blocking=True)
        pos_t = torch.from_numpy(positive).to(dev).float()
        pics = [va, vb]
        if rel_sampler is not None:
            rel, rel_words = rel_sampler.batch(args.analogy_batch)
            word_ids, word_mask = (t.to(dev) for t in trimmed(rel_sampler.word_ids[rel_words],
                                                               rel_sampler.word_mask[rel_words]))
            pics += [rel[2], rel[3]]
        with torch.no_grad():
            views = augment.augment(images[torch.from_numpy(np.concatenate(pics)).to(dev)])
            views = augment.normalize(views)
            if dev.type == "cuda":
                views = views.contiguous(memory_format=torch.channels_last)
        b = len(items)
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16) if amp else contextlib.nullcontext():
            img = model.visual(views).float()
            txt = model.text(ids_t, mask_t).float()
            if rel_sampler is not None:
                words = model.text(word_ids, word_mask).float()
        scale = model.logit_scale.exp().clamp(max=100)
        loss_analogy = torch.zeros((), device=dev)
        if rel_sampler is not None:
            r = args.analogy_batch
            rel_t = torch.from_numpy(rel).to(dev)
            img_a, img_b = img[2 * b:2 * b + r], img[2 * b + r:]
            img = img[:2 * b]
            q = arithmetic(img_a, words, rel_t[4], rel_t[5])
            cands = torch.cat([img_b, img_a, img])  # targets first, sources as hard negatives
            cand_items = torch.cat([rel_t[1], rel_t[0], torch.from_numpy(np.concatenate([items, items])).to(dev)])
            target = (rel_t[1][:, None] == cand_items[None, :]).float()
            loss_analogy = soft_ce(scale * q @ cands.t(), target)
        lt = scale * txt @ img.t()  # [B, 2B]
        pos2 = torch.cat([pos_t, pos_t], 1)
        ia, ib = img[:b], img[b:]
        loss_clip = 0.5 * (soft_ce(lt, pos2) + soft_ce(lt.t(), pos2.t()))
        lii = scale * ia @ ib.t()
        eye = torch.eye(b, device=dev)
        loss_ii = 0.5 * (soft_ce(lii, eye) + soft_ce(lii.t(), eye))
        loss_align = 2.0 - (txt * ia).sum(1).mean() - (txt * ib).sum(1).mean()
        loss = loss_clip + args.ii_weight * loss_ii + args.align_weight * loss_align + args.analogy_weight * loss_analogy
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        step += 1
        if step % args.log_every == 0 or step == 1:
            with torch.no_grad():
                acc = (pos2.gather(1, lt.argmax(1, keepdim=True))).mean().item()
                acc_ii = (lii.argmax(1) == torch.arange(b, device=dev)).float().mean().item()
            rec = {"step": step, "seconds": round(time.time() - t0, 1), "lr": lr, "loss": round(loss.item(), 4),
                   "loss_clip": round(loss_clip.item(), 4), "loss_ii": round(loss_ii.item(), 4), "loss_align": round(loss_align.item(), 4),
                   "loss_analogy": round(loss_analogy.item(), 4),
                   "t2i_acc": round(acc, 3), "ii_acc": round(acc_ii, 3), "scale": round(scale.item(), 2)}
            log.append(rec)
            print(json.dumps(rec), flush=True)

    elapsed = time.time() - t0
    if vset is not None:
        validation["after"] = validate(model, vset, meta, tok, cfg["context_length"])
        print("validation after:", json.dumps(validation["after"]), flush=True)
    dev_name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else (platform.processor() or platform.machine())
    save_checkpoint(args.out, model, cfg, meta, {
        "steps": step, "batch_items": args.batch, "images_per_step": 2 * args.batch, "seconds": round(elapsed, 1),
        "device": f"{dev.type}: {dev_name}", "torch": torch.__version__, "threads": torch.get_num_threads(),
        "args": vars(args), "validation": validation, "log": log})
    print(f"done: {step} steps in {elapsed:.0f}s -> {args.out}", flush=True)


if __name__ == "__main__":
    main()
