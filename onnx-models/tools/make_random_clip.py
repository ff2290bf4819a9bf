#!/usr/bin/python3
"""Writes a CLIP-architecture model with random (seeded) weights, exported to ONNX
in the folder layouts that `mmsearch models import` reads.

Purpose: real CLIP weights live on model hubs this machine cannot reach, yet the
import code, the encoders and the speed measurements need graphs of CLIP's exact
shape. This script builds them from the architecture alone:

  image tower  ViT: patch embedding (conv, no bias), class token, learned positions,
               ln_pre, N pre-LayerNorm residual blocks (multi-head attention, MLP 4x with
               quick_gelu), ln_post on the class token, linear projection.
  text tower   token embedding (49408 tokens), learned positions (77), N blocks with a
               causal mask (plus the padding mask when the graph takes attention_mask),
               ln_final, the state at the end token, linear projection.

Default sizes are OpenAI CLIP ViT-B/32 (image: patch 32, width 768, 12 layers, 12
heads, 224 px; text: width 512, 8 heads, 12 layers, 77 tokens; embedding 512, about
88M + 63M parameters). --tiny shrinks both towers (width 64, 2 layers, 2 heads,
32 px images, patch 8, embedding 32) so tests can build a model in seconds; the
vocabulary and context stay CLIP's, so the real tokenizer fits both.

Layouts (--layout):
  huggingface  what Hugging Face / optimum exports look like:
                 onnx/vision_model.onnx   pixel_values [N,3,S,S] float32 -> image_embeds [N,D]
                 onnx/text_model.onnx     input_ids, attention_mask [N,L] int64 -> text_embeds [N,D]
                                          (--text-output hidden: -> last_hidden_state [N,L,D],
                                          every position projected, for argmax-EOT pooling)
                 config.json, preprocessor_config.json, tokenizer.json,
                 special_tokens_map.json, tokenizer_config.json
               Outputs are not normalized (as in transformers' CLIP*ModelWithProjection).
  openclip     what OpenCLIP exports for photo managers (immich-style) look like:
                 visual/model.onnx        image [N,3,S,S] float32 -> image_embedding [N,D]
                 textual/model.onnx       text [N,77] int32 -> text_embedding [N,D]
                                          (no attention mask; end token found by argmax of
                                          the ids, padding is 0, as open_clip does)
                 config.json              open_clip_config.json style: {"model_cfg":
                                          {"embed_dim", "vision_cfg", "text_cfg"},
                                          "preprocess_cfg": {...}}
                 textual/vocab.json, textual/merges.txt
               Outputs are L2-normalized (open_clip encode_*(normalize=True)).
               Input/output names follow immich's exporter (image/text ->
               image_embedding/text_embedding); its later exports name both outputs
               "embedding", which the importer also accepts.

The tokenizer files are built from OpenAI's bpe_simple_vocab_16e6.txt.gz (default:
../shared/clip/ from the repository root): 256 byte symbols, the same with "</w>",
the first 48894 merges, <|startoftext|> = 49406 and <|endoftext|> = 49407.

Generated models are test fixtures and benchmark stand-ins: never commit them.

Usage:
  /usr/bin/python3 onnx-models/tools/make_random_clip.py --out DIR [--tiny]
      [--layout huggingface|openclip] [--text-output projected|hidden] [--seed N]
"""
import argparse
import gzip
import hashlib
import json
import os
import sys
import time

import torch
from torch import nn

VOCAB_SIZE = 49408
CONTEXT = 77
START_ID = 49406
END_ID = 49407
N_MERGES = 49152 - 256 - 2
MEAN = [0.48145466, 0.4578275, 0.40821073]
STD = [0.26862954, 0.26130258, 0.27577711]
NEG = -1e9


class Attention(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.head_dim = width // heads
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)

    def forward(self, x, bias):
        n, l, w = x.shape[0], x.shape[1], x.shape[2]
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        q = q.reshape(n, l, self.heads, self.head_dim).transpose(1, 2)
        k = k.reshape(n, l, self.heads, self.head_dim).transpose(1, 2)
        v = v.reshape(n, l, self.heads, self.head_dim).transpose(1, 2)
        scores = (q @ k.transpose(-1, -2)) * (self.head_dim ** -0.5)
        if bias is not None:
            scores = scores + bias
        y = scores.softmax(dim=-1) @ v
        return self.out(y.transpose(1, 2).reshape(n, l, w))


class Block(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = Attention(width, heads)
        self.ln_2 = nn.LayerNorm(width)
        self.fc = nn.Linear(width, 4 * width)
        self.proj = nn.Linear(4 * width, width)

    def forward(self, x, bias):
        x = x + self.attn(self.ln_1(x), bias)
        h = self.fc(self.ln_2(x))
        h = h * torch.sigmoid(1.702 * h)  # quick_gelu
        return x + self.proj(h)


class Vision(nn.Module):
    def __init__(self, size, patch, width, layers, heads, embed, normalize):
        super().__init__()
        grid = size // patch
        scale = width ** -0.5
        self.normalize = normalize
        self.conv = nn.Conv2d(3, width, kernel_size=patch, stride=patch, bias=False)
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional = nn.Parameter(scale * torch.randn(grid * grid + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.blocks = nn.ModuleList([Block(width, heads) for _ in range(layers)])
        self.ln_post = nn.LayerNorm(width)
        self.projection = nn.Parameter(scale * torch.randn(width, embed))

    def forward(self, pixels):
        x = self.conv(pixels).flatten(2).transpose(1, 2)
        cls = self.class_embedding.reshape(1, 1, -1).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + self.positional
        x = self.ln_pre(x)
        for b in self.blocks:
            x = b(x, None)
        y = self.ln_post(x[:, 0, :]) @ self.projection
        if self.normalize:
            y = y / y.norm(dim=-1, keepdim=True)
        return y


class Text(nn.Module):
    """CLIP's text transformer. mode: "hf" (int64 ids + attention_mask, end token =
    first END_ID), "hf-hidden" (same, every position projected, [N,L,D]), or
    "openclip" (int32 ids, no mask, end token = argmax of ids, normalized)."""

    def __init__(self, width, layers, heads, embed, mode):
        super().__init__()
        self.mode = mode
        self.token_embedding = nn.Embedding(VOCAB_SIZE, width)
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        self.positional = nn.Parameter(0.01 * torch.randn(CONTEXT, width))
        self.blocks = nn.ModuleList([Block(width, heads) for _ in range(layers)])
        self.ln_final = nn.LayerNorm(width)
        self.projection = nn.Parameter((width ** -0.5) * torch.randn(width, embed))
        self.register_buffer("causal", torch.full((CONTEXT, CONTEXT), NEG).triu(1), persistent=False)

    def forward(self, input_ids, attention_mask=None):
        ids = input_ids.long()
        l = ids.shape[1]
        x = self.token_embedding(ids) + self.positional[:l]
        bias = self.causal[:l, :l].reshape(1, 1, l, l)
        if attention_mask is not None:
            bias = bias + (1.0 - attention_mask.to(torch.float32)).reshape(ids.shape[0], 1, 1, l) * NEG
        for b in self.blocks:
            x = b(x, bias)
        x = self.ln_final(x)
        if self.mode == "hf-hidden":
            return x @ self.projection
        if self.mode == "openclip":
            eot = ids.argmax(dim=-1)
        else:
            eot = (ids == END_ID).to(torch.float32).argmax(dim=-1)
        pooled = x.gather(1, eot.reshape(-1, 1, 1).expand(-1, 1, x.shape[-1])).squeeze(1)
        y = pooled @ self.projection
        if self.mode == "openclip":
            y = y / y.norm(dim=-1, keepdim=True)
        return y


class TextHF(nn.Module):
    def __init__(self, text):
        super().__init__()
        self.text = text

    def forward(self, input_ids, attention_mask):
        return self.text(input_ids, attention_mask)


class TextOpenCLIP(nn.Module):
    def __init__(self, text):
        super().__init__()
        self.text = text

    def forward(self, text):
        return self.text(text)


def init_weights(module):
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=m.weight.shape[1] ** -0.5)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight, std=(m.weight[0].numel()) ** -0.5)


def bytes_to_unicode():
    """GPT-2 / CLIP byte -> printable character table, in CLIP's order."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def clip_vocab(bpe_path):
    with gzip.open(bpe_path, "rt", encoding="utf-8") as f:
        lines = f.read().split("\n")
    if "#version" not in lines[0]:
        raise SystemExit(f"{bpe_path}: first line is not a #version header")
    merges = [tuple(l.split()) for l in lines[1:1 + N_MERGES]]
    if len(merges) != N_MERGES or any(len(m) != 2 for m in merges):
        raise SystemExit(f"{bpe_path}: want {N_MERGES} merges of two symbols")
    chars = bytes_to_unicode()
    tokens = chars + [c + "</w>" for c in chars] + ["".join(m) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    assert len(tokens) == VOCAB_SIZE
    return {t: i for i, t in enumerate(tokens)}, merges


def special_token(content, id_):
    return {"id": id_, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": False, "special": True}


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=2)
        f.write("\n")


def write_tokenizer_json(path, vocab, merges):
    """A Hugging Face tokenizers file of CLIP's BPE (model, special tokens and the
    usual CLIP normalizer / pre-tokenizer / post-processor / decoder)."""
    tj = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [special_token("<|startoftext|>", START_ID), special_token("<|endoftext|>", END_ID)],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "NFC"},
            {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": " "},
            {"type": "Lowercase"},
        ]},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {
                "Regex": "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+"},
             "behavior": "Removed", "invert": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
        ]},
        "post_processor": {"type": "RobertaProcessing", "sep": ["<|endoftext|>", END_ID],
                           "cls": ["<|startoftext|>", START_ID], "trim_offsets": False, "add_prefix_space": False},
        "decoder": {"type": "BPEDecoder", "suffix": "</w>"},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<|endoftext|>", "continuing_subword_prefix": "",
                  "end_of_word_suffix": "</w>", "fuse_unk": False, "byte_fallback": False,
                  "vocab": vocab, "merges": [f"{a} {b}" for a, b in merges]},
    }
    write_json(path, tj)


def write_vocab_merges(folder, vocab, merges):
    write_json(os.path.join(folder, "vocab.json"), vocab)
    with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(f"{a} {b}\n")


def export(model, args, path, input_names, output_names, dynamic_axes):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    model.eval()
    with torch.no_grad():
        torch.onnx.export(model, args, path, input_names=input_names, output_names=output_names,
                          dynamic_axes=dynamic_axes, opset_version=14, do_constant_folding=True)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="output folder (created)")
    p.add_argument("--tiny", action="store_true", help="width 64, 2 layers, 32 px images: a fixture built in seconds")
    p.add_argument("--layout", choices=["huggingface", "openclip"], default="huggingface")
    p.add_argument("--text-output", choices=["projected", "hidden"], default="projected",
                   help="huggingface layout: text_embeds [N,D] or last_hidden_state [N,L,D] (argmax-EOT pooling)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--bpe", default=os.path.join(root, "..", "shared", "clip", "bpe_simple_vocab_16e6.txt.gz"),
                   help="OpenAI CLIP's bpe_simple_vocab_16e6.txt.gz")
    a = p.parse_args()
    if a.layout == "openclip" and a.text_output != "projected":
        p.error("--text-output hidden applies to the huggingface layout only")
    if not os.path.exists(a.bpe):
        p.error(f"{a.bpe} not found (pass --bpe)")

    if a.tiny:
        cfg = dict(size=32, patch=8, vwidth=64, vlayers=2, vheads=2, twidth=64, tlayers=2, theads=2, embed=32)
    else:
        cfg = dict(size=224, patch=32, vwidth=768, vlayers=12, vheads=12, twidth=512, tlayers=12, theads=8, embed=512)

    torch.manual_seed(a.seed)
    normalize = a.layout == "openclip"
    vision = Vision(cfg["size"], cfg["patch"], cfg["vwidth"], cfg["vlayers"], cfg["vheads"], cfg["embed"], normalize)
    mode = "openclip" if a.layout == "openclip" else ("hf-hidden" if a.text_output == "hidden" else "hf")
    text = Text(cfg["twidth"], cfg["tlayers"], cfg["theads"], cfg["embed"], mode)
    init_weights(vision)
    init_weights(text)
    n_vision = sum(t.numel() for t in vision.parameters())
    n_text = sum(t.numel() for t in text.parameters())

    out = a.out
    os.makedirs(out, exist_ok=True)
    vocab, merges = clip_vocab(a.bpe)
    started = time.time()
    pixels = torch.zeros(2, 3, cfg["size"], cfg["size"])
    ids = torch.zeros(2, CONTEXT, dtype=torch.int64)
    ids[:, 0] = START_ID
    ids[:, 1] = END_ID
    mask = torch.zeros(2, CONTEXT, dtype=torch.int64)
    mask[:, :2] = 1

    if a.layout == "huggingface":
        vpath = os.path.join(out, "onnx", "vision_model.onnx")
        tpath = os.path.join(out, "onnx", "text_model.onnx")
        export(vision, (pixels,), vpath, ["pixel_values"], ["image_embeds"],
               {"pixel_values": {0: "batch_size"}, "image_embeds": {0: "batch_size"}})
        tout = "last_hidden_state" if a.text_output == "hidden" else "text_embeds"
        tout_axes = {0: "batch_size", 1: "sequence_length"} if a.text_output == "hidden" else {0: "batch_size"}
        export(TextHF(text), (ids, mask), tpath, ["input_ids", "attention_mask"], [tout],
               {"input_ids": {0: "batch_size", 1: "sequence_length"},
                "attention_mask": {0: "batch_size", 1: "sequence_length"}, tout: tout_axes})
        write_json(os.path.join(out, "config.json"), {
            "architectures": ["CLIPModel"],
            "model_type": "clip",
            "projection_dim": cfg["embed"],
            "_mmsearch_note": f"random weights, seed {a.seed} (onnx-models/tools/make_random_clip.py)",
            "text_config": {"model_type": "clip_text_model", "hidden_size": cfg["twidth"],
                            "num_hidden_layers": cfg["tlayers"], "num_attention_heads": cfg["theads"],
                            "intermediate_size": 4 * cfg["twidth"], "max_position_embeddings": CONTEXT,
                            "vocab_size": VOCAB_SIZE, "hidden_act": "quick_gelu", "projection_dim": cfg["embed"],
                            "bos_token_id": START_ID, "eos_token_id": END_ID, "pad_token_id": 1},
            "vision_config": {"model_type": "clip_vision_model", "hidden_size": cfg["vwidth"],
                              "num_hidden_layers": cfg["vlayers"], "num_attention_heads": cfg["vheads"],
                              "intermediate_size": 4 * cfg["vwidth"], "image_size": cfg["size"],
                              "patch_size": cfg["patch"], "hidden_act": "quick_gelu", "projection_dim": cfg["embed"]},
        })
        write_json(os.path.join(out, "preprocessor_config.json"), {
            "crop_size": {"height": cfg["size"], "width": cfg["size"]},
            "do_center_crop": True, "do_convert_rgb": True, "do_normalize": True, "do_rescale": True, "do_resize": True,
            "image_mean": MEAN, "image_std": STD, "image_processor_type": "CLIPImageProcessor",
            "resample": 3, "rescale_factor": 1 / 255, "size": {"shortest_edge": cfg["size"]},
        })
        write_tokenizer_json(os.path.join(out, "tokenizer.json"), vocab, merges)
        write_json(os.path.join(out, "special_tokens_map.json"), {
            "bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>",
            "pad_token": "<|endoftext|>", "unk_token": "<|endoftext|>"})
        write_json(os.path.join(out, "tokenizer_config.json"), {
            "tokenizer_class": "CLIPTokenizer", "model_max_length": CONTEXT, "do_lower_case": True,
            "bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>",
            "pad_token": "<|endoftext|>", "unk_token": "<|endoftext|>"})
        written = [vpath, tpath]
    else:
        vpath = os.path.join(out, "visual", "model.onnx")
        tpath = os.path.join(out, "textual", "model.onnx")
        export(vision, (pixels,), vpath, ["image"], ["image_embedding"],
               {"image": {0: "batch_size"}, "image_embedding": {0: "batch_size"}})
        export(TextOpenCLIP(text), (ids.to(torch.int32),), tpath, ["text"], ["text_embedding"],
               {"text": {0: "batch_size"}, "text_embedding": {0: "batch_size"}})
        write_json(os.path.join(out, "config.json"), {
            "model_cfg": {
                "embed_dim": cfg["embed"],
                "vision_cfg": {"image_size": cfg["size"], "layers": cfg["vlayers"], "width": cfg["vwidth"],
                               "patch_size": cfg["patch"]},
                "text_cfg": {"context_length": CONTEXT, "vocab_size": VOCAB_SIZE, "width": cfg["twidth"],
                             "heads": cfg["theads"], "layers": cfg["tlayers"]},
            },
            "preprocess_cfg": {"mean": MEAN, "std": STD, "interpolation": "bicubic", "resize_mode": "shortest",
                               "size": cfg["size"]},
            "_mmsearch_note": f"random weights, seed {a.seed} (onnx-models/tools/make_random_clip.py)",
        })
        write_vocab_merges(os.path.join(out, "textual"), vocab, merges)
        written = [vpath, tpath]

    for path in written:
        print(f"{os.path.relpath(path, out)}  {os.path.getsize(path)} bytes  sha256 {sha256(path)}")
    print(f"parameters: image {n_vision}, text {n_text}; layout {a.layout}; seed {a.seed}; "
          f"exported in {time.time() - started:.1f}s")


if __name__ == "__main__":
    sys.exit(main())
