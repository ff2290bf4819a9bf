"""CLIP byte-level BPE tokenizer and trainer, written for the emoji-clip recipe.

The encoder mirrors OpenAI CLIP's SimpleTokenizer step for step, because the Go engine
tokenizes with that algorithm and the ids seen in training must be the ids seen at query
time:

1. clean: HTML-unescape (twice), trim, collapse whitespace runs to one space, lower-case
   (CLIP also runs ftfy.fix_text first; captions here are plain text, so that is a no-op);
2. split with the pattern
   ``<|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+``
   (Python's ``re`` has no ``\\p{..}`` classes, so :func:`pretokenize` scans the text by
   hand with Unicode categories, trying the alternatives in the same leftmost-first order);
3. map each piece's UTF-8 bytes through GPT-2's ``bytes_to_unicode`` table;
4. byte-pair merge, with ``</w>`` appended to the last symbol, always merging the adjacent
   pair of lowest rank first.

The vocabulary follows CLIP's layout: the 256 byte symbols, the same 256 with ``</w>``,
one token per merge in rank order, then ``<|startoftext|>`` and ``<|endoftext|>``.
"""

import html
import json
import unicodedata

SOT = "<|startoftext|>"
EOT = "<|endoftext|>"
_CONTRACTIONS = ("'s", "'t", "'re", "'ve", "'m", "'ll", "'d")


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable unicode character table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def clean(text):
    """Basic and whitespace cleaning as in CLIP, then lower-case."""
    text = html.unescape(html.unescape(text)).strip()
    text = " ".join(text.split())
    return text.lower()


def _is_letter(ch):
    return unicodedata.category(ch).startswith("L")


def _is_number(ch):
    return unicodedata.category(ch).startswith("N")


def pretokenize(text):
    """Splits cleaned text like CLIP's regular expression (leftmost-first alternation)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if text.startswith(SOT, i):
            out.append(SOT)
            i += len(SOT)
            continue
        if text.startswith(EOT, i):
            out.append(EOT)
            i += len(EOT)
            continue
        if ch == "'":
            m = next((c for c in _CONTRACTIONS if text.startswith(c, i)), None)
            if m is not None:
                out.append(m)
                i += len(m)
                continue
        if _is_letter(ch):
            j = i + 1
            while j < n and _is_letter(text[j]):
                j += 1
            out.append(text[i:j])
            i = j
            continue
        if _is_number(ch):
            out.append(ch)
            i += 1
            continue
        j = i + 1
        while j < n and not (text[j].isspace() or _is_letter(text[j]) or _is_number(text[j])):
            j += 1
        out.append(text[i:j])
        i = j
    return out


_B2U = bytes_to_unicode()


def piece_symbols(piece):
    """The byte-level symbols of one pre-token, ``</w>`` on the last one."""
    s = [_B2U[b] for b in piece.encode("utf-8")]
    s[-1] = s[-1] + "</w>"
    return s


class Tokenizer:
    """Encodes text with a vocabulary and ranked merges in CLIP's layout."""

    def __init__(self, merges):
        self.merges = list(merges)
        self.ranks = {m: r for r, m in enumerate(self.merges)}
        vocab = list(_B2U.values())
        vocab = vocab + [v + "</w>" for v in vocab]
        vocab += ["".join(m) for m in self.merges]
        vocab += [SOT, EOT]
        self.vocab = vocab
        self.encoder = {t: i for i, t in enumerate(vocab)}
        if len(self.encoder) != len(vocab):
            raise ValueError("duplicate tokens in vocabulary")
        self.sot = self.encoder[SOT]
        self.eot = self.encoder[EOT]
        self.cache = {SOT: [SOT], EOT: [EOT]}

    @classmethod
    def load(cls, merges_path):
        """Loads a Hugging Face style merges.txt (first line ``#version: ...``)."""
        merges = []
        with open(merges_path, encoding="utf-8") as f:
            for k, line in enumerate(f):
                line = line.rstrip("\n")
                if k == 0 and line.startswith("#version"):
                    continue
                if not line:
                    continue
                a, b = line.split(" ")
                merges.append((a, b))
        return cls(merges)

    def bpe(self, piece):
        """Byte-pair merges one pre-token; returns its tokens."""
        if piece in self.cache:
            return self.cache[piece]
        word = piece_symbols(piece)
        while len(word) > 1:
            best, best_rank = None, None
            for p in zip(word, word[1:]):
                r = self.ranks.get(p)
                if r is not None and (best_rank is None or r < best_rank):
                    best, best_rank = p, r
            if best is None:
                break
            a, b = best
            merged = []
            i = 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == a and word[i + 1] == b:
                    merged.append(a + b)
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        self.cache[piece] = word
        return word

    def encode(self, text):
        """Token ids of text, without start and end tokens."""
        ids = []
        for piece in pretokenize(clean(text)):
            ids.extend(self.encoder[t] for t in self.bpe(piece))
        return ids

    def tokenize(self, text, context_length):
        """[SOT] ids [EOT], truncated so EOT stays last; returns (ids, mask) padded with EOT."""
        ids = [self.sot] + self.encode(text)
        ids = ids[: context_length - 1] + [self.eot]
        n = len(ids)
        return ids + [self.eot] * (context_length - n), [1] * n + [0] * (context_length - n)

    def save(self, vocab_path, merges_path):
        """Writes vocab.json and merges.txt (Hugging Face CLIP layout)."""
        with open(vocab_path, "w", encoding="utf-8") as f:
            json.dump(self.encoder, f, ensure_ascii=False, separators=(",", ":"))
            f.write("\n")
        with open(merges_path, "w", encoding="utf-8") as f:
            f.write("#version: 0.2\n")
            for a, b in self.merges:
                f.write(f"{a} {b}\n")


def train_bpe(texts, vocab_size):
    """Learns merges on the pre-tokenized texts until the vocabulary has vocab_size entries.

    Pairs are counted over word frequencies; the most frequent pair is merged next, ties
    broken by the pair's string so the result does not depend on dictionary order.
    Merging stops early when no pair occurs at least twice.
    """
    freq = {}
    for t in texts:
        for p in pretokenize(clean(t)):
            if p in (SOT, EOT):
                continue
            freq[p] = freq.get(p, 0) + 1
    words = [piece_symbols(p) for p in sorted(freq)]
    counts = [freq[p] for p in sorted(freq)]
    pair_count = {}
    pair_words = {}
    for wi, w in enumerate(words):
        for p in zip(w, w[1:]):
            pair_count[p] = pair_count.get(p, 0) + counts[wi]
            pair_words.setdefault(p, set()).add(wi)
    n_merges = vocab_size - 512 - 2
    merges = []
    while len(merges) < n_merges and pair_count:
        best = max(pair_count.items(), key=lambda kv: (kv[1], kv[0][0], kv[0][1]))
        (a, b), c = best
        if c < 2:
            break
        merges.append((a, b))
        for wi in sorted(pair_words.pop((a, b), ())):
            w = words[wi]
            cnt = counts[wi]
            for p in zip(w, w[1:]):
                pair_count[p] -= cnt
                if pair_count[p] <= 0:
                    del pair_count[p]
            merged = []
            i = 0
            while i < len(w):
                if i < len(w) - 1 and w[i] == a and w[i + 1] == b:
                    merged.append(a + b)
                    i += 2
                else:
                    merged.append(w[i])
                    i += 1
            words[wi] = merged
            for p in zip(merged, merged[1:]):
                pair_count[p] = pair_count.get(p, 0) + cnt
                pair_words.setdefault(p, set()).add(wi)
        pair_count.pop((a, b), None)
    return Tokenizer(merges)
