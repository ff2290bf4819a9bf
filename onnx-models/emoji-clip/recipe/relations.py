"""Attribute relations between training emoji, mined from their CLDR labels, for the
analogy loss of train.py and for the validation split.

A relation (a, b, sub, add) says that emoji b is emoji a with one attribute changed, so that
picture(a) - text(sub) + text(add) should land on picture(b). Mined generically from the
labels, without a list of families:

  substitution  labels of equal length that differ in one word:
                "dog face" / "cat face"      -> sub "dog",  add "cat"
                "man cook" / "woman cook"    -> sub "man",  add "woman"
  insertion     one label is the other with one more word:
                "dog face" / "dog"           -> sub "face"  (and the reverse, add "face")
  qualifier     labels "head: tail" that share the head, or one without a tail:
                "santa claus: light skin tone" / "santa claus: dark skin tone"
                                             -> sub "light skin tone", add "dark skin tone"
                "santa claus: light skin tone" / "santa claus" -> sub "light skin tone"

Only items of the training set are used (the withheld concepts and the OpenMoji style never
reach this module). Deterministic for a given meta.json.
"""

from collections import defaultdict

def _split(label):
    label = label.lower()
    if ":" in label:
        head, tail = label.split(":", 1)
        return head.strip(), tail.strip()
    return label.strip(), ""


def mine(labels):
    """Relations among labels (list of str), grouped: {group key: sorted [(a, b, sub, add)]}.

    a and b index labels; sub and add are strings, either possibly empty (insertions and
    qualifier removals). Every relation comes with its reverse. A group is one pattern
    ("<x> face", "santa claus: <tone>", ...); sampling groups uniformly keeps the big ones
    (some 260 flags) from drowning the small ones (ten animal faces).
    """
    rel = defaultdict(set)
    by_head = defaultdict(list)
    for i, lab in enumerate(labels):
        by_head[_split(lab)[0]].append(i)
    # Qualifiers: same head, different (or missing) tails.
    for head, idx in by_head.items():
        for a in idx:
            ta = _split(labels[a])[1]
            for b in idx:
                tb = _split(labels[b])[1]
                if a != b and ta != tb:
                    rel[("q", head)].add((a, b, ta, tb))
    # Word edits among plain labels (no qualifier).
    plain = [(i, _split(lab)[0].split()) for i, lab in enumerate(labels) if not _split(lab)[1]]
    by_len = defaultdict(list)
    for i, w in plain:
        by_len[len(w)].append((i, w))
    for n, group in by_len.items():
        # Substitution: bucket by the label with one word blanked.
        buckets = defaultdict(list)
        for i, w in group:
            for p in range(n):
                buckets[(p, tuple(w[:p] + ["\0"] + w[p + 1:]))].append((i, w[p]))
        for key, members in buckets.items():
            for a, wa in members:
                for b, wb in members:
                    if a != b and wa != wb:
                        rel[("s",) + key].add((a, b, wa, wb))
        # Insertion: a label of n+1 words minus one word is a label of n words.
        shorter = {tuple(w): i for i, w in by_len.get(n - 1, [])}
        for i, w in group:
            for p in range(n):
                j = shorter.get(tuple(w[:p] + w[p + 1:]))
                if j is not None:
                    rel[("i", w[p])].add((i, j, w[p], ""))
                    rel[("i", w[p])].add((j, i, "", w[p]))
    return {k: sorted(v) for k, v in sorted(rel.items()) if v}


def family(sub, add):
    """A coarse family name for reports: qualifier, insertion or substitution."""
    if " " in sub or " " in add:
        return "qualifier"
    if not sub or not add:
        return "insertion"
    return "substitution"
