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

The learning rate warms up, then follows a cosine to zero over --steps, or over
--time-budget seconds when that is given (the run then also stops at the budget).
Writes <out>/checkpoint_visual.npz and checkpoint_text.npz (weights as float32 arrays,
readable by any PyTorch version),
<out>/config.json and <out>/train_log.json.
"""

import argparse
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
import model as M  # noqa: E402


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
        keys = items[None, :].astype(np.int64) * self.n_caps + caps[:, None]
        pos = np.searchsorted(self.pairs, keys)
        pos = pos.clip(0, len(self.pairs) - 1)
        positive = self.pairs[pos] == keys  # [text i, item j]
        return items, ids, mask, va, vb, positive


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
    model = M.DualEncoder(cfg, meta["eot"]).to(dev)
    if dev.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    sampler = Sampler(data, meta, cfg["context_length"], args.seed)
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
        with torch.no_grad():
            views = augment.augment(images[torch.from_numpy(np.concatenate([va, vb])).to(dev)])
            views = augment.normalize(views)
            if dev.type == "cuda":
                views = views.contiguous(memory_format=torch.channels_last)
        if amp:
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
                img = model.visual(views).float()
                txt = model.text(ids_t, mask_t).float()
        else:
            img = model.visual(views)
            txt = model.text(ids_t, mask_t)
        scale = model.logit_scale.exp().clamp(max=100)
        b = len(items)
        lt = scale * txt @ img.t()  # [B, 2B]
        pos2 = torch.cat([pos_t, pos_t], 1)
        ia, ib = img[:b], img[b:]
        loss_clip = 0.5 * (soft_ce(lt, pos2) + soft_ce(lt.t(), pos2.t()))
        lii = scale * ia @ ib.t()
        eye = torch.eye(b, device=dev)
        loss_ii = 0.5 * (soft_ce(lii, eye) + soft_ce(lii.t(), eye))
        loss_align = 2.0 - (txt * ia).sum(1).mean() - (txt * ib).sum(1).mean()
        loss = loss_clip + args.ii_weight * loss_ii + args.align_weight * loss_align
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
                   "t2i_acc": round(acc, 3), "ii_acc": round(acc_ii, 3), "scale": round(scale.item(), 2)}
            log.append(rec)
            print(json.dumps(rec), flush=True)

    elapsed = time.time() - t0
    os.makedirs(args.out, exist_ok=True)
    sd = {k: v.detach().float().cpu().numpy() for k, v in model.state_dict().items()}
    # Two files, one per tower, each well under 16 MiB.
    np.savez(os.path.join(args.out, "checkpoint_visual.npz"), **{k: v for k, v in sd.items() if k.startswith("visual.")})
    np.savez(os.path.join(args.out, "checkpoint_text.npz"), **{k: v for k, v in sd.items() if not k.startswith("visual.")})
    cfg["eot_id"] = meta["eot"]
    cfg["sot_id"] = meta["sot"]
    json.dump(cfg, open(os.path.join(args.out, "config.json"), "w"), indent=1)
    dev_name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else (platform.processor() or platform.machine())
    summary = {"steps": step, "batch_items": args.batch, "images_per_step": 2 * args.batch, "seconds": round(elapsed, 1),
               "device": f"{dev.type}: {dev_name}", "torch": torch.__version__, "threads": torch.get_num_threads(),
               "args": vars(args), "log": log}
    json.dump(summary, open(os.path.join(args.out, "train_log.json"), "w"), indent=1)
    print(f"done: {step} steps in {elapsed:.0f}s -> {args.out}", flush=True)


if __name__ == "__main__":
    main()
