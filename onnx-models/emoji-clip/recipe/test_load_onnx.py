#!/usr/bin/python3
"""model.load_onnx_weights rebuilds the PyTorch model from the shipped ONNX graphs:
/usr/bin/python3 -m unittest discover onnx-models/emoji-clip/recipe (needs python3-torch and
python3-onnx; skipped without them)."""

import base64
import json
import os
import sys
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.normpath(os.path.join(HERE, ".."))
sys.path.insert(0, HERE)

try:
    import onnx  # noqa: F401
    import torch

    import model as M
except ImportError as e:  # pragma: no cover
    torch = None
    MISSING = str(e)


@unittest.skipIf(torch is None, "needs torch and onnx")
class LoadOnnxTest(unittest.TestCase):
    def test_reference_embeddings(self):
        ref = json.load(open(os.path.join(MODEL, "reference.json"), encoding="utf-8"))
        vocab = json.load(open(os.path.join(MODEL, "vocab.json"), encoding="utf-8"))
        cfg = dict(M.DEFAULT_CONFIG, vocab_size=len(vocab))
        eot = vocab["<|endoftext|>"]
        m = M.DualEncoder(cfg, eot)
        M.load_onnx_weights(m, MODEL)
        m.eval()
        im = ref["images"]
        px = np.frombuffer(base64.b64decode(im["pixel_values_b64"]), dtype="<f4").reshape(im["shape"]).copy()
        with torch.no_grad():
            got = m.visual(torch.from_numpy(px)).numpy()
            self.assertLess(np.abs(got - np.asarray(im["image_embeds"], np.float32)).max(), 1e-5)
            for t in ref["texts"]:
                out = m.text(torch.tensor([t["input_ids"]]), torch.tensor([t["attention_mask"]])).numpy()[0]
                self.assertLess(np.abs(out - np.asarray(t["text_embeds"], np.float32)).max(), 1e-5, t["text"])

    def test_shape_mismatch_is_an_error(self):
        vocab = json.load(open(os.path.join(MODEL, "vocab.json"), encoding="utf-8"))
        cfg = dict(M.DEFAULT_CONFIG, vocab_size=len(vocab), text_mlp=256)
        m = M.DualEncoder(cfg, vocab["<|endoftext|>"])
        with self.assertRaises(ValueError):
            M.load_onnx_weights(m, MODEL)


if __name__ == "__main__":
    unittest.main()
