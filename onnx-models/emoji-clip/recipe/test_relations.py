#!/usr/bin/python3
"""Tests of relations.mine: /usr/bin/python3 -m unittest discover onnx-models/emoji-clip/recipe"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import relations  # noqa: E402


class MineTest(unittest.TestCase):
    LABELS = ["dog face", "cat face", "dog", "cat", "man cook", "woman cook",
              "santa claus", "santa claus: light skin tone", "santa claus: dark skin tone", "red apple"]

    def setUp(self):
        self.groups = relations.mine(self.LABELS)
        self.all = {r for g in self.groups.values() for r in g}

    def rel(self, a, b):
        i, j = self.LABELS.index(a), self.LABELS.index(b)
        return {(s, t) for x, y, s, t in self.all if (x, y) == (i, j)}

    def test_families(self):
        cases = [
            ("dog face", "cat face", ("dog", "cat")),          # substitution
            ("cat face", "dog face", ("cat", "dog")),          # and its reverse
            ("dog face", "dog", ("face", "")),                 # insertion, removed
            ("cat", "cat face", ("", "face")),                 # insertion, added
            ("man cook", "woman cook", ("man", "woman")),
            ("santa claus: light skin tone", "santa claus: dark skin tone", ("light skin tone", "dark skin tone")),
            ("santa claus: dark skin tone", "santa claus", ("dark skin tone", "")),
        ]
        for a, b, want in cases:
            with self.subTest(a=a, b=b):
                self.assertIn(want, self.rel(a, b))

    def test_no_false_relations(self):
        for a, b in [("dog face", "woman cook"), ("red apple", "dog"), ("dog", "dog face: light skin tone")]:
            if b in self.LABELS:
                self.assertEqual(self.rel(a, b), set(), (a, b))
        self.assertFalse(any(a == b for a, b, _, _ in self.all), "a relation from an item to itself")

    def test_groups_and_families(self):
        key = [k for k, g in self.groups.items() if (0, 1, "dog", "cat") in g]
        self.assertEqual(len(key), 1)
        self.assertIn((1, 0, "cat", "dog"), self.groups[key[0]], "reverse in the same group")
        self.assertEqual(relations.family("dog", "cat"), "substitution")
        self.assertEqual(relations.family("face", ""), "insertion")
        self.assertEqual(relations.family("light skin tone", "dark skin tone"), "qualifier")

    def test_deterministic(self):
        self.assertEqual(relations.mine(self.LABELS), relations.mine(list(self.LABELS)))


if __name__ == "__main__":
    unittest.main()
