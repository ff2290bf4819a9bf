#!/usr/bin/env python3
"""Optional: checks the exported graphs with ONNX Runtime's Python package against reference.json.

Not part of `make model` (Debian has no onnxruntime for Python; the engine's Go tests do the
same check through ONNX Runtime's C API). Run it where `import onnxruntime` works:
    python3 onnx-models/emoji-clip/recipe/check_onnxruntime.py [model-dir]
Checks: sha256 of both files against model.json; image embeddings for the batch of 4 and for
one image alone (dynamic batch axis); text embeddings for the 8 texts padded to the context
length and trimmed to the longest text (dynamic sequence axis). Exits 1 when any differs
from PyTorch's by more than the tolerance.
"""

import base64
import hashlib
import json
import os
import sys

import numpy as np
import onnxruntime as ort


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    man = json.load(open(os.path.join(d, "model.json")))
    ref = json.load(open(os.path.join(d, "reference.json")))
    tol = ref["tolerance"]
    res = {"onnxruntime": ort.__version__}
    ok = True
    for tower in ("image", "text"):
        h = hashlib.sha256(open(os.path.join(d, man[tower]["onnx"]), "rb").read()).hexdigest()
        res[f"{tower}_sha256_ok"] = h == man[tower]["sha256"]
        ok &= res[f"{tower}_sha256_ok"]
    opts = ort.SessionOptions()
    vis = ort.InferenceSession(os.path.join(d, man["image"]["onnx"]), opts, providers=["CPUExecutionProvider"])
    txt = ort.InferenceSession(os.path.join(d, man["text"]["onnx"]), opts, providers=["CPUExecutionProvider"])
    x = np.frombuffer(base64.b64decode(ref["images"]["pixel_values_b64"]), dtype="<f4").reshape(ref["images"]["shape"])
    want = np.array(ref["images"]["image_embeds"], dtype=np.float32)
    got = vis.run(["image_embeds"], {"pixel_values": x})[0]
    one = vis.run(["image_embeds"], {"pixel_values": x[2:3]})[0]
    res["image_max_abs_diff"] = float(np.abs(got - want).max())
    res["image_batch1_max_abs_diff"] = float(np.abs(one[0] - want[2]).max())
    ids = np.array([t["input_ids"] for t in ref["texts"]], dtype=np.int64)
    mask = np.array([t["attention_mask"] for t in ref["texts"]], dtype=np.int64)
    want = np.array([t["text_embeds"] for t in ref["texts"]], dtype=np.float32)
    got = txt.run(["text_embeds"], {"input_ids": ids, "attention_mask": mask})[0]
    n = int(mask.sum(1).max())
    short = txt.run(["text_embeds"], {"input_ids": ids[:, :n], "attention_mask": mask[:, :n]})[0]
    res["text_max_abs_diff"] = float(np.abs(got - want).max())
    res["text_trimmed_to_%d_max_abs_diff" % n] = float(np.abs(short - want).max())
    for k, v in res.items():
        if k.endswith("diff") and not v <= tol:
            ok = False
    res["ok"] = bool(ok)
    print(json.dumps(res, indent=1))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
