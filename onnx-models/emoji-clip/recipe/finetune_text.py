#!/usr/bin/python3
"""Fine-tunes the text tower of an exported emoji-clip model against its frozen image tower
(the v2 step of the recipe; runs on a CPU in minutes).

The image tower is loaded from --init-onnx and frozen. Every training picture is embedded
once, as it is on white and in --bank-views augmented views (augment.py), into a bank of
fixed vectors; each step then scores its texts against the whole bank, not against a batch:

  text->image   the caption of an item must rank that item's pictures (every style, every
                view) above all other pictures of the training set (multi-positive InfoNCE
                over the bank, so a caption shared by several items has them all as positives);
  arithmetic    for --analogy-batch attribute relations (relations.py, groups sampled
                uniformly), normalize(picture(a) - text(sub) + text(add)), the engine's add
                mode with picture(a) drawn from the bank, must rank b's pictures first, with
                a's own pictures as negatives;
  alignment     1 - cos(caption, mean of its item's pictures), the term that keeps texts near
                pictures so that mixing them lands near pictures.

Full-bank negatives are what the evaluation faces (every picture a candidate) and cost
little when the image side is fixed. The image tower, and so image->image retrieval, stays
as it was. --validate reports R@10 on the withheld concepts in the training styles before and
after (train.validate), for choosing settings without the held-out style.

Writes the same checkpoint files as train.py (export.py reads them).
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
import cliptok  # noqa: E402
import model as M  # noqa: E402
import train as T  # noqa: E402


@torch.no_grad()
def build_bank(model, images, views, seed):
    """[V*M, D] embeddings of every picture: the plain view, then `views` augmented ones."""
    torch.manual_seed(seed)
    model.visual.eval()
    out = []
    for v in range(views + 1):
        for i in range(0, len(images), 512):
            x = torch.from_numpy(images[i:i + 512]).permute(0, 3, 1, 2)
            x = augment.plain(x) if v == 0 else augment.augment(x)
            out.append(model.visual(augment.normalize(x)))
    return torch.cat(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="folder written by build_dataset.py")
    ap.add_argument("--init-onnx", required=True, help="exported model folder to start from")
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=1000000)
    ap.add_argument("--time-budget", type=float, default=900, help="seconds; schedule by time and stop there")
    ap.add_argument("--batch", type=int, default=256, help="captions per step")
    ap.add_argument("--analogy-batch", type=int, default=256, help="relations per step")
    ap.add_argument("--analogy-weight", type=float, default=1.0)
    ap.add_argument("--align-weight", type=float, default=0.3)
    ap.add_argument("--bank-views", type=int, default=2, help="augmented views per picture in the bank")
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--wd", type=float, default=0.05)
    ap.add_argument("--warmup", type=float, default=0.05)
    ap.add_argument("--scale", type=float, default=30.0, help="logit scale (fixed)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--validate", action="store_true")
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    data, meta = T.load_data(args.data)
    cfg = dict(M.DEFAULT_CONFIG, vocab_size=meta["vocab_size"], image_size=meta["size"])
    model = M.DualEncoder(cfg, meta["eot"])
    M.load_onnx_weights(model, args.init_onnx)
    with torch.no_grad():
        model.logit_scale.fill_(math.log(args.scale))
    for p in model.visual.parameters():
        p.requires_grad_(False)
    tok = cliptok.Tokenizer.load(os.path.join(args.data, "merges.txt"))
    L = cfg["context_length"]

    validation = {}
    vset = T.validation_set(data, meta) if args.validate else None
    if vset is not None:
        validation["before"] = T.validate(model, vset, meta, tok, L)
        print("validation before:", json.dumps(validation["before"]), flush=True)

    t0 = time.time()
    bank = build_bank(model, data["images"], args.bank_views, args.seed)
    n_img = len(data["images"])
    bank_item = torch.from_numpy(np.tile(data["img_item"], args.bank_views + 1)).long()
    n_items = len(meta["items"])
    # Each item's mean picture (plain view), the alignment target.
    plain = bank[:n_img]
    centre = torch.zeros(n_items, plain.shape[1]).index_add_(0, bank_item[:n_img], plain)
    centre = F.normalize(centre, dim=-1)
    print(f"bank: {len(bank)} vectors ({n_img} pictures x {args.bank_views + 1} views) in {time.time() - t0:.0f}s",
          flush=True)

    sampler = T.Sampler(data, meta, L, args.seed)
    rel_sampler = T.RelationSampler(meta, sampler.item_imgs, data["img_style"], tok, L, args.seed)
    # Which items each caption belongs to: caption -> item positives over the whole set.
    cap_items = {}
    for it in range(n_items):
        for c in data["cap_idx"][data["cap_ptr"][it]:data["cap_ptr"][it + 1]]:
            cap_items.setdefault(int(c), []).append(it)
    print(f"{sum(len(g) for g in rel_sampler.groups)} relations in {len(rel_sampler.groups)} groups; "
          f"text params {M.count_params(model.text):,}", flush=True)

    decay, no_decay = [], []
    for n, p in model.text.named_parameters():
        (decay if p.ndim >= 2 and n != "pos" and "tok" not in n else no_decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.wd}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.98), eps=1e-6)
    model.text.train()
    scale = args.scale
    rng = np.random.default_rng(args.seed + 2)
    n_views = args.bank_views + 1
    log = []
    step = 0
    t0 = time.time()
    while step < args.steps:
        prog = max(step / args.steps, (time.time() - t0) / args.time_budget)
        if prog >= 1.0:
            break
        lr = args.lr * (prog / args.warmup if prog < args.warmup else
                        0.5 * (1 + math.cos(math.pi * (prog - args.warmup) / (1 - args.warmup))))
        for g in opt.param_groups:
            g["lr"] = lr
        items, ids, mask, _, _, _ = sampler.batch(args.batch)
        # Positives over items for each caption: every item that has the caption's text.
        cap_of = sampler.last_captions
        pos_items = torch.zeros(len(items), n_items)
        for k, c in enumerate(cap_of):
            pos_items[k, cap_items[int(c)]] = 1.0
        pos_items[torch.arange(len(items)), torch.from_numpy(items)] = 1.0
        txt = model.text(*T.trimmed(ids, mask))
        loss_t2i = T.soft_ce(scale * M.scores(txt, bank), pos_items[:, bank_item])
        loss_align = 1.0 - (txt * centre[torch.from_numpy(items)]).sum(1).mean()

        rel, rel_words = rel_sampler.batch(args.analogy_batch)
        words = model.text(*T.trimmed(rel_sampler.word_ids[rel_words], rel_sampler.word_mask[rel_words]))
        view = torch.from_numpy(rng.integers(n_views, size=rel.shape[1]) * n_img + rel[2])
        q = T.arithmetic(bank[view], words, torch.from_numpy(rel[4]), torch.from_numpy(rel[5]))
        target = (bank_item[None, :] == torch.from_numpy(rel[1])[:, None]).float()
        loss_analogy = T.soft_ce(scale * M.scores(q, bank), target)

        loss = loss_t2i + args.analogy_weight * loss_analogy + args.align_weight * loss_align
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.text.parameters(), 1.0)
        opt.step()
        step += 1
        if step % args.log_every == 0 or step == 1:
            rec = {"step": step, "seconds": round(time.time() - t0, 1), "lr": lr, "loss": round(loss.item(), 4),
                   "loss_t2i": round(loss_t2i.item(), 4), "loss_analogy": round(loss_analogy.item(), 4),
                   "loss_align": round(loss_align.item(), 4)}
            log.append(rec)
            print(json.dumps(rec), flush=True)
    elapsed = time.time() - t0
    if vset is not None:
        validation["after"] = T.validate(model, vset, meta, tok, L)
        print("validation after:", json.dumps(validation["after"]), flush=True)

    T.save_checkpoint(args.out, model, cfg, meta, {
        "stage": "finetune_text", "init": os.path.abspath(args.init_onnx), "steps": step,
        "captions_per_step": args.batch, "relations_per_step": args.analogy_batch, "seconds": round(elapsed, 1),
        "device": "cpu: " + (platform.processor() or platform.machine()), "torch": torch.__version__,
        "threads": torch.get_num_threads(), "args": vars(args), "validation": validation, "log": log})
    print(f"done: {step} steps in {elapsed:.0f}s -> {args.out}", flush=True)


if __name__ == "__main__":
    main()
