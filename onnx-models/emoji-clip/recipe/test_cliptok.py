#!/usr/bin/python3
"""Tests of the recipe's CLIP tokenizer: /usr/bin/python3 -m unittest discover onnx-models/emoji-clip/recipe"""

import gzip
import json
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import cliptok  # noqa: E402

SHARED = os.path.normpath(os.path.join(HERE, "..", "..", "..", "..", "shared"))
MODEL = os.path.normpath(os.path.join(HERE, ".."))


class PretokenizeTest(unittest.TestCase):
    def test_split(self):
        cases = [
            ("a photo of a cat", ["a", "photo", "of", "a", "cat"]),
            ("it's 12 dogs!!", ["it", "'s", "1", "2", "dogs", "!!"]),
            ("<|startoftext|>hi<|endoftext|>", ["<|startoftext|>", "hi", "<|endoftext|>"]),
            ("man cook: dark", ["man", "cook", ":", "dark"]),
            ("!'s", ["!'", "s"]),
            ("café 猫", ["café", "猫"]),
        ]
        for text, want in cases:
            with self.subTest(text=text):
                self.assertEqual(cliptok.pretokenize(cliptok.clean(text)), want)

    def test_clean(self):
        self.assertEqual(cliptok.clean("  A &amp;amp; B\t\nC "), "a & b c")


class GoldenTest(unittest.TestCase):
    def test_original_clip_vocabulary(self):
        bpe = os.path.join(SHARED, "clip", "bpe_simple_vocab_16e6.txt.gz")
        golden = os.path.join(SHARED, "golden", "tokenizer.jsonl")
        if not (os.path.isfile(bpe) and os.path.isfile(golden)):
            self.skipTest(f"shared test data not found under {SHARED}")
        lines = gzip.open(bpe).read().decode("utf-8").split("\n")
        tok = cliptok.Tokenizer([tuple(l.split()) for l in lines[1:49152 - 256 - 2 + 1]])
        self.assertEqual((tok.sot, tok.eot), (49406, 49407))
        for line in open(golden, encoding="utf-8"):
            r = json.loads(line)
            with self.subTest(text=r["text"]):
                self.assertEqual([tok.sot] + tok.encode(r["text"]) + [tok.eot], r["ids"])


class ModelVocabularyTest(unittest.TestCase):
    def test_vocab_matches_merges_and_reference(self):
        tok = cliptok.Tokenizer.load(os.path.join(MODEL, "merges.txt"))
        with open(os.path.join(MODEL, "vocab.json"), encoding="utf-8") as f:
            self.assertEqual(json.load(f), tok.encoder)
        ref = json.load(open(os.path.join(MODEL, "reference.json"), encoding="utf-8"))
        for t in ref["texts"]:
            with self.subTest(text=t["text"]):
                self.assertEqual([tok.sot] + tok.encode(t["text"]) + [tok.eot], t["ids"])
                ids, mask = tok.tokenize(t["text"], 32)
                self.assertEqual(ids, t["input_ids"])
                self.assertEqual(mask, t["attention_mask"])

    def test_truncation_keeps_end_token(self):
        tok = cliptok.Tokenizer.load(os.path.join(MODEL, "merges.txt"))
        ids, mask = tok.tokenize("dog " * 100, 32)
        self.assertEqual(len(ids), 32)
        self.assertEqual(ids[0], tok.sot)
        self.assertEqual(ids[-1], tok.eot)
        self.assertEqual(sum(mask), 32)


class TrainBPETest(unittest.TestCase):
    def test_learnt_merges_reencode_training_words(self):
        tok = cliptok.train_bpe(["red heart", "blue heart", "red circle", "heart heart"], 600)
        self.assertGreater(len(tok.merges), 0)
        self.assertEqual(len(tok.vocab), 514 + len(tok.merges))
        # The most frequent word becomes a single token.
        self.assertEqual(tok.bpe("heart"), ["heart</w>"])
        ids = tok.encode("red heart")
        self.assertEqual([tok.vocab[i] for i in ids], ["red</w>", "heart</w>"])


if __name__ == "__main__":
    unittest.main()
