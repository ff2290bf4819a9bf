#!/usr/bin/python3
"""Validation figures of exported emoji-clip models on the training styles (no OpenMoji):

  withheld   train.validate: text->image, cross-style image->image and mined-relation
             analogy R@10 on the withheld concepts drawn in the training styles;
  spec       train.validate_spec: the analogy spec's families (analogies.jsonl) with Noto
             sources and Twemoji candidates.

    /usr/bin/python3 validate_model.py --data <train-v1> MODEL_DIR [MODEL_DIR ...]

Prints one JSON object per model. Comparing the spec figures here with the same families on
OpenMoji (bench analogy) separates what the arithmetic gets wrong from what the image tower
gets wrong on a style it never saw.
"""

import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cliptok  # noqa: E402
import model as M  # noqa: E402
import train as T  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="folder written by build_dataset.py")
    ap.add_argument("--spec", default=os.path.join(HERE, "..", "analogies.jsonl"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("models", nargs="+", help="exported model folders")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    data, meta = T.load_data(args.data)
    vset = T.validation_set(data, meta)
    tok = cliptok.Tokenizer.load(os.path.join(args.data, "merges.txt"))
    cfg = dict(M.DEFAULT_CONFIG, vocab_size=meta["vocab_size"], image_size=meta["size"])
    for d in args.models:
        m = M.DualEncoder(cfg, meta["eot"])
        M.load_onnx_weights(m, d)
        res = {"model": d, "withheld": T.validate(m, vset, meta, tok, cfg["context_length"]),
               "spec": T.validate_spec(m, vset, meta, tok, cfg["context_length"], args.spec)}
        print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
