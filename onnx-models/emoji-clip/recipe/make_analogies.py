#!/usr/bin/python3
"""Builds analogies.jsonl, the analogy test spec, from the emoji structure (seeded).

One JSON object per line:
  {"family": "colour"|"skin-tone"|"gender"|"animal-face", "source": "img/<ID>.png",
   "subtract": [{"text": .., "weight": 1}], "add": [{"text": .., "weight": 1}],
   "expected": ["img/<ID>.png"], "expected_labels": ["<ID>"]}
Paths are relative to the held-out-style evaluation folder written by make_eval_set.py.
The query is normalize(normalize(image) - sum w*normalize(text) + sum w*normalize(text)),
ranked against every image of that folder except the source.

Families:
  colour       "<c1> <thing>" - "c1" + "c2" -> "<c2> <thing>" (hearts, circles, squares, books,
               apples, marks, flags), at most 24 ordered pairs per thing;
  skin-tone    "<x>: <t1> skin tone" - "<t1> skin tone" + "<t2> skin tone" -> "<x>: <t2> skin tone";
  gender       "man <x>" - "man" + "woman" -> "woman <x>" and back (also boy/girl, old man/old woman);
  animal-face  "<a> face" - "face" -> "<a>"; "<a>" + "face" -> "<a> face";
               "<a> face" - "<a>" + "<b>" -> "<b> face".
"""

import argparse
import itertools
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import emojidata as ed  # noqa: E402

COLOURS = ["light blue", "red", "orange", "yellow", "green", "blue", "purple", "brown", "black", "white", "pink", "grey"]
COLOUR_THINGS = ["heart", "circle", "square", "large square", "medium square", "medium-small square", "small square",
                 "book", "apple", "question mark", "exclamation mark", "flag"]
GENDER_PAIRS = [("man", "woman"), ("boy", "girl"), ("old man", "old woman"), ("men holding hands", "women holding hands")]
SEED = 20240601


def rec(family, src, sub, add, dst):
    return {"family": family, "source": "img/%s.png" % src["id"],
            "subtract": [{"text": t, "weight": 1} for t in sub], "add": [{"text": t, "weight": 1} for t in add],
            "expected": ["img/%s.png" % dst["id"]], "expected_labels": [dst["id"]]}


def build(items):
    rnd = random.Random(SEED)
    items = [it for it in items if ed.HELDOUT_STYLE in it["files"]]
    base = {it["label"]: it for it in items if not it["tones"]}
    out = []

    for thing in COLOUR_THINGS:
        have = [c for c in COLOURS if f"{c} {thing}" in base]
        pairs = list(itertools.permutations(have, 2))
        rnd.shuffle(pairs)
        for c1, c2 in sorted(pairs[:24]):
            out.append(rec("colour", base[f"{c1} {thing}"], [c1], [c2], base[f"{c2} {thing}"]))

    by_concept = {}
    for it in items:
        if len(it["tones"]) == 1:
            by_concept.setdefault(it["concept"], {})[it["tones"][0]] = it
    cands = []
    for concept in sorted(by_concept):
        tones = by_concept[concept]
        for t1, t2 in itertools.permutations(sorted(tones), 2):
            cands.append((tones[t1], tones[t2], t1, t2))
    rnd.shuffle(cands)
    for a, b, t1, t2 in sorted(cands[:150], key=lambda x: (x[0]["id"], x[1]["id"])):
        out.append(rec("skin-tone", a, [ed.TONE_NAMES[t1] + " skin tone"], [ed.TONE_NAMES[t2] + " skin tone"], b))

    pairs = [(m, "woman " + m[4:]) for m in sorted(base) if m.startswith("man ") and "woman " + m[4:] in base]
    pairs += [p for p in GENDER_PAIRS if p[0] in base and p[1] in base]
    for m, w in pairs:
        out.append(rec("gender", base[m], ["man"], ["woman"], base[w]))
        out.append(rec("gender", base[w], ["woman"], ["man"], base[m]))

    animals = [l[:-5] for l in sorted(base) if l.endswith(" face") and l[:-5] in base
               and base[l]["group"] == "animals and nature"]
    for a in animals:
        out.append(rec("animal-face", base[a + " face"], ["face"], [], base[a]))
        out.append(rec("animal-face", base[a], [], ["face"], base[a + " face"]))
    for a, b in itertools.permutations(animals, 2):
        out.append(rec("animal-face", base[a + " face"], [a], [b], base[b + " face"]))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "analogies.jsonl"))
    args = ap.parse_args()
    out = build(ed.load_catalog())
    with open(args.out, "w", encoding="utf-8") as f:
        for r in out:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    fams = {}
    for r in out:
        fams[r["family"]] = fams.get(r["family"], 0) + 1
    print(f"{len(out)} analogies {fams} -> {os.path.normpath(args.out)}")


if __name__ == "__main__":
    main()
