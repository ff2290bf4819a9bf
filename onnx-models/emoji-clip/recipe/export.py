#!/usr/bin/python3
"""Exports a trained emoji-clip checkpoint to the model folder the engine loads.

Writes into --model-dir (default: onnx-models/emoji-clip/):
  vision_model.onnx  pixel_values float32 [N,3,64,64] -> image_embeds float32 [N,256]
  text_model.onnx    input_ids int64 [N,L], attention_mask int64 [N,L] -> text_embeds [N,256]
                     (N and L dynamic, L <= 32; outputs are L2-normalized)
  vocab.json, merges.txt   copied from the training data folder
  model.json         the manifest (schema 1) with both files' sha256
  reference.json     parity data: 4 reference pictures (reference/*.png, written here too)
                     as float32 tensors, 8 texts as token ids, and PyTorch's embeddings
Both graphs are exported by torch.onnx.export at opset 14 with the weights inside the file,
then checked with onnx.checker.
"""

import argparse
import base64
import hashlib
import json
import os
import shutil
import sys

import numpy as np
import onnx
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import augment  # noqa: E402
import cliptok  # noqa: E402
import emojidata as ed  # noqa: E402
import model as M  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OPSET = 14
REFERENCE_IMAGES = [("google", "1F436"), ("twitter", "1F431"), ("google", "1F499"), ("twitter", "1F469-200D-1F373")]
REFERENCE_TEXTS = ["dog face", "an emoji of cat face", "red heart", "man cook: dark skin tone", "blue",
                   "flag: Japan", "It's a dog's life!", "grinning face with big eyes"]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def b64f32(a):
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f4").tobytes()).decode()


class TextGraph(torch.nn.Module):
    def __init__(self, text):
        super().__init__()
        self.text = text

    def forward(self, input_ids, attention_mask):
        return self.text(input_ids, attention_mask)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True, help="folder written by train.py")
    ap.add_argument("--data", required=True, help="folder written by build_dataset.py (vocab.json, merges.txt)")
    ap.add_argument("--model-dir", default=os.path.normpath(os.path.join(HERE, "..")))
    ap.add_argument("--version", default="1.0.0")
    args = ap.parse_args()
    M.FAST_CPU_LINEAR = False
    torch.set_num_threads(2)
    out = args.model_dir
    model, cfg = M.load_checkpoint(args.checkpoint)
    S, L = cfg["image_size"], cfg["context_length"]

    for f in ("vocab.json", "merges.txt"):
        shutil.copyfile(os.path.join(args.data, f), os.path.join(out, f))
    tok = cliptok.Tokenizer.load(os.path.join(out, "merges.txt"))
    with open(os.path.join(out, "vocab.json"), encoding="utf-8") as f:
        if json.load(f) != tok.encoder:
            raise SystemExit("vocab.json does not match the vocabulary rebuilt from merges.txt")
    if tok.eot != cfg["eot_id"] or tok.sot != cfg["sot_id"]:
        raise SystemExit("tokenizer special ids differ from the checkpoint's")

    vis_path = os.path.join(out, "vision_model.onnx")
    txt_path = os.path.join(out, "text_model.onnx")
    with torch.no_grad():
        torch.onnx.export(model.visual, (torch.zeros(2, 3, S, S),), vis_path, opset_version=OPSET,
                          input_names=["pixel_values"], output_names=["image_embeds"],
                          dynamic_axes={"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}},
                          do_constant_folding=True)
        ids, mask = tok.tokenize("an emoji of a dog face", L)
        ids2, mask2 = tok.tokenize("red heart", L)
        torch.onnx.export(TextGraph(model.text), (torch.tensor([ids, ids2]), torch.tensor([mask, mask2])), txt_path,
                          opset_version=OPSET, input_names=["input_ids", "attention_mask"], output_names=["text_embeds"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
                                        "text_embeds": {0: "batch"}},
                          do_constant_folding=True)
    for p in (vis_path, txt_path):
        onnx.checker.check_model(onnx.load(p))
    total = os.path.getsize(vis_path) + os.path.getsize(txt_path)
    print(f"exported {vis_path} ({os.path.getsize(vis_path):,} B), {txt_path} ({os.path.getsize(txt_path):,} B)")
    if total > 25_000_000:
        raise SystemExit(f"ONNX files are {total:,} bytes together, over the 25 MB budget")

    manifest = {
        "schema": 1,
        "name": "emoji-clip",
        "version": args.version,
        "description": "Small CLIP-style dual encoder trained by this project on open emoji artwork "
                       "(Noto, Twemoji, Fluent flat); for icons and emoji-like pictures, not photos.",
        "embedding_dim": cfg["embed_dim"],
        "image": {
            "onnx": "vision_model.onnx", "sha256": sha256(vis_path),
            "input": {"name": "pixel_values", "dtype": "float32"},
            "output": {"name": "image_embeds", "dtype": "float32"},
            "size": S, "resize": "shortest_edge", "interpolation": "bicubic", "crop": "center",
            "mean": list(augment.MEAN), "std": list(augment.STD), "channel_order": "RGB",
        },
        "text": {
            "onnx": "text_model.onnx", "sha256": sha256(txt_path),
            "input_ids": {"name": "input_ids", "dtype": "int64"},
            "attention_mask": {"name": "attention_mask", "dtype": "int64"},
            "output": {"name": "text_embeds", "dtype": "float32"},
            "pooling": "projected",
            "tokenizer": {"kind": "clip-bpe", "vocab": "vocab.json", "merges": "merges.txt"},
            "context_length": L, "start_id": tok.sot, "end_id": tok.eot, "pad_id": tok.eot,
            "templates": ["{}", "an emoji of {}"],
            # Causal attention with padded keys masked: padding after the
            # end token changes nothing, so the engine may cut it off.
            "trim_padding": True,
            # Trained on English emoji names and captions only.
            "languages": ["en"],
        },
    }
    with open(os.path.join(out, "model.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")

    # Reference data for the engine's parity test.
    items = {it["id"]: it for it in ed.load_catalog()}
    refdir = os.path.join(out, "reference")
    os.makedirs(refdir, exist_ok=True)
    pics, names = [], []
    for style, iid in REFERENCE_IMAGES:
        name = f"{style}-{iid}.png"
        Image.fromarray(ed.on_white(ed.load_rgba(items[iid], style))).save(os.path.join(refdir, name))
        pics.append(np.asarray(Image.open(os.path.join(refdir, name)).convert("RGB")))
        names.append("reference/" + name)
    x = augment.normalize(torch.from_numpy(np.stack(pics)).permute(0, 3, 1, 2).float() / 255.0).contiguous()
    rows = [tok.tokenize(t, L) for t in REFERENCE_TEXTS]
    with torch.no_grad():
        ie = model.visual(x).numpy()
        te = model.text(torch.tensor([r[0] for r in rows]), torch.tensor([r[1] for r in rows])).numpy()
    ref = {
        "model": "emoji-clip", "version": args.version, "tolerance": 1e-4,
        "note": "pixel_values: the PNGs in reference/ (64x64 RGB, no resize needed) /255, then "
                "(x-mean)/std, CHW; float32 little-endian, base64. input_ids: [SOT] tokens [EOT], "
                "padded with end_id to context_length; attention_mask 1 on real tokens.",
        "images": {"files": names, "shape": list(x.shape), "pixel_values_b64": b64f32(x.numpy()),
                   "image_embeds": [[round(float(v), 7) for v in row] for row in ie]},
        "texts": [{"text": t, "ids": [tok.sot] + tok.encode(t) + [tok.eot], "input_ids": r[0], "attention_mask": r[1],
                   "text_embeds": [round(float(v), 7) for v in e]} for t, r, e in zip(REFERENCE_TEXTS, rows, te)],
    }
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1)
        f.write("\n")
    print(f"wrote model.json, reference.json, vocab.json, merges.txt in {out}")


if __name__ == "__main__":
    main()
