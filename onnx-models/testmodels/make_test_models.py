#!/usr/bin/python3
"""Writes the tiny ONNX models the Go encoder tests run.

Their outputs have a closed form that the Go tests recompute exactly:

  vision: image_embeds[n, k] = sum_i pixel_values[n].flatten()[i] * WV[i, k]
          WV[i, k] = ((7*i + 3*k) % 11 - 5) / 8
  text:   text_embeds[n, k]  = sum_j input_ids[n, j] * attention_mask[n, j] * WT[j, k]
          WT[j, k] = ((5*j + 2*k) % 7 - 3)

All weights are small binary fractions, so float32 sums of the test inputs are
exact in any order. The text tower's tokenizer is a byte-level CLIP BPE
vocabulary with a handful of merges, written beside the graphs.

With --variant 2 the vision weights are WV[i, k] = ((5*i + 3*k) % 13 - 6) / 8 and the
model is named tiny-test-2: a second, different model for the "one library, one model" tests.

Usage: /usr/bin/python3 make_test_models.py [--variant 2] OUT_DIR
"""
import hashlib
import json
import os
import sys

import torch

SIZE = 8          # image side
DIM = 4           # embedding dimension
CTX = 8           # text context length
MERGES = [("t", "h"), ("th", "e</w>"), ("c", "a"), ("ca", "t</w>"), ("d", "o"), ("do", "g</w>")]


VARIANT = 1


def vision_weights():
    n = 3 * SIZE * SIZE
    if VARIANT == 2:
        return torch.tensor([[((5 * i + 3 * k) % 13 - 6) / 8 for k in range(DIM)] for i in range(n)], dtype=torch.float32)
    return torch.tensor([[((7 * i + 3 * k) % 11 - 5) / 8 for k in range(DIM)] for i in range(n)], dtype=torch.float32)


def text_weights():
    return torch.tensor([[float((5 * j + 2 * k) % 7 - 3) for k in range(DIM)] for j in range(CTX)], dtype=torch.float32)


class Vision(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("w", vision_weights())

    def forward(self, pixel_values):
        return pixel_values.reshape(pixel_values.shape[0], -1) @ self.w


class Text(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("w", text_weights())

    def forward(self, input_ids, attention_mask):
        x = (input_ids * attention_mask).to(torch.float32)
        return x @ self.w


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def write_tokenizer(out):
    chars = bytes_to_unicode()
    vocab = chars + [c + "</w>" for c in chars] + ["".join(m) for m in MERGES] + ["<|startoftext|>", "<|endoftext|>"]
    with open(os.path.join(out, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({tok: i for i, tok in enumerate(vocab)}, f, ensure_ascii=False)
    with open(os.path.join(out, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in MERGES:
            f.write(f"{a} {b}\n")
    return len(vocab) - 2, len(vocab) - 1


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    global VARIANT
    args = sys.argv[1:]
    if args[:1] == ["--variant"]:
        VARIANT = int(args[1])
        args = args[2:]
    out = args[0]
    os.makedirs(out, exist_ok=True)
    torch.onnx.export(Vision(), (torch.zeros(2, 3, SIZE, SIZE),), os.path.join(out, "vision_model.onnx"),
                      input_names=["pixel_values"], output_names=["image_embeds"],
                      dynamic_axes={"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}}, opset_version=14)
    ids = torch.zeros(2, CTX, dtype=torch.int64)
    torch.onnx.export(Text(), (ids, ids), os.path.join(out, "text_model.onnx"),
                      input_names=["input_ids", "attention_mask"], output_names=["text_embeds"],
                      dynamic_axes={"input_ids": {0: "batch"}, "attention_mask": {0: "batch"}, "text_embeds": {0: "batch"}},
                      opset_version=14)
    start, end = write_tokenizer(out)
    manifest = {
        "schema": 1,
        "name": "tiny-test" if VARIANT == 1 else f"tiny-test-{VARIANT}",
        "version": "1",
        "description": "closed-form test model for the Go encoder tests (onnx-models/testmodels/make_test_models.py)",
        "embedding_dim": DIM,
        "image": {
            "onnx": "vision_model.onnx", "sha256": sha256(os.path.join(out, "vision_model.onnx")),
            "input": {"name": "pixel_values", "dtype": "float32"},
            "output": {"name": "image_embeds", "dtype": "float32"},
            "size": SIZE, "resize": "shortest_edge", "interpolation": "bicubic", "crop": "center",
            "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "channel_order": "RGB",
        },
        "text": {
            "onnx": "text_model.onnx", "sha256": sha256(os.path.join(out, "text_model.onnx")),
            "input_ids": {"name": "input_ids", "dtype": "int64"},
            "attention_mask": {"name": "attention_mask", "dtype": "int64"},
            "output": {"name": "text_embeds", "dtype": "float32"},
            "pooling": "projected",
            "tokenizer": {"kind": "clip-bpe", "vocab": "vocab.json", "merges": "merges.txt"},
            "context_length": CTX, "start_id": start, "end_id": end, "pad_id": 0,
            "templates": ["{}"],
        },
    }
    with open(os.path.join(out, "model.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
