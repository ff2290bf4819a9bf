package tokenizer

import (
	"fmt"
	"maps"
	"strings"
	"unicode/utf8"
)

// DefaultContextLength is CLIP's text context length.
const DefaultContextLength = 77

// Options control how batches are framed and how many words are cached.
// The loaders fill them from the vocabulary: the ids of <|startoftext|> and
// <|endoftext|>, pad id 0 and context length 77, as OpenAI CLIP uses.
// Hugging Face exports pad with the end id (49407 for CLIP) instead; the
// attention mask is what tells the model, so both give the same embeddings
// for models that take a mask or pool at the end token.
type Options struct {
	// ContextLength is the number of ids in each row of a batch, start and
	// end included; at least 2.
	ContextLength int
	// StartID is written first in each row.
	StartID int
	// EndID is written after the text's ids; it stays last when a row is
	// truncated.
	EndID int
	// PadID fills each row after the end id.
	PadID int
	// CacheSize bounds the number of words whose BPE result is cached:
	// 0 means DefaultCacheSize, a negative value turns the cache off.
	CacheSize int
}

// Tokenizer turns text into CLIP token ids. It is safe for concurrent use.
type Tokenizer struct {
	m     *model
	opts  Options
	cache *wordCache
}

// New builds a Tokenizer from a vocabulary (token -> id; ids must be exactly
// 0..len(vocab)-1) and merges in rank order. The vocabulary must hold the
// 512 byte symbols (with and without "</w>"), every merge's parts and
// result, and the special tokens <|startoftext|> and <|endoftext|>.
func New(vocab map[string]int, merges [][2]string) (*Tokenizer, error) {
	tokens, err := denseTokens(vocab)
	if err != nil {
		return nil, err
	}
	for i, mg := range merges {
		if mg[0] == "" || mg[1] == "" {
			return nil, formatErr(ErrMergeSyntax, 0, nil, "merge %d (%q %q) has an empty symbol", i+1, mg[0], mg[1])
		}
	}
	return newTokenizer(tokens, append([][2]string(nil), merges...))
}

// denseTokens inverts vocab into an id -> token list, requiring the ids to
// be exactly 0..len(vocab)-1.
func denseTokens(vocab map[string]int) ([]string, error) {
	tokens := make([]string, len(vocab))
	seen := make([]bool, len(vocab))
	for tok, id := range vocab {
		if id < 0 || id >= len(vocab) {
			return nil, formatErr(ErrBadID, 0, nil, "token %q has id %d; ids must be 0..%d", tok, id, len(vocab)-1)
		}
		if seen[id] {
			a, b := tokens[id], tok
			if a > b {
				a, b = b, a
			}
			return nil, formatErr(ErrDuplicateToken, 0, nil, "tokens %q and %q share id %d", a, b, id)
		}
		seen[id] = true
		tokens[id] = tok
	}
	return tokens, nil
}

func newTokenizer(tokens []string, merges [][2]string) (*Tokenizer, error) {
	m, err := newModel(tokens, merges)
	if err != nil {
		return nil, err
	}
	opts := Options{
		ContextLength: DefaultContextLength,
		StartID:       m.sot,
		EndID:         m.eot,
		PadID:         0,
	}
	return &Tokenizer{m: m, opts: opts, cache: newWordCache(opts.CacheSize)}, nil
}

// Options returns the tokenizer's options.
func (t *Tokenizer) Options() Options { return t.opts }

// WithOptions returns a Tokenizer sharing t's vocabulary with other
// options. It shares t's cache unless the cache size changes.
func (t *Tokenizer) WithOptions(o Options) (*Tokenizer, error) {
	if o.ContextLength < 2 {
		return nil, fmt.Errorf("tokenizer: context length %d: need at least 2 for the start and end ids", o.ContextLength)
	}
	n := len(t.m.tokens)
	for _, f := range []struct {
		name string
		id   int
	}{{"start", o.StartID}, {"end", o.EndID}, {"pad", o.PadID}} {
		if f.id < 0 || f.id >= n {
			return nil, fmt.Errorf("tokenizer: %s id %d outside the vocabulary [0, %d)", f.name, f.id, n)
		}
	}
	nt := &Tokenizer{m: t.m, opts: o, cache: t.cache}
	if o.CacheSize != t.opts.CacheSize {
		nt.cache = newWordCache(o.CacheSize)
	}
	return nt, nil
}

// VocabSize returns the number of tokens; every id is below it.
func (t *Tokenizer) VocabSize() int { return len(t.m.tokens) }

// StartOfText returns the vocabulary id of <|startoftext|>.
func (t *Tokenizer) StartOfText() int { return t.m.sot }

// EndOfText returns the vocabulary id of <|endoftext|>.
func (t *Tokenizer) EndOfText() int { return t.m.eot }

// Token returns the token with the given id.
func (t *Tokenizer) Token(id int) (string, bool) {
	if id < 0 || id >= len(t.m.tokens) {
		return "", false
	}
	return t.m.tokens[id], true
}

// ID returns the id of a token.
func (t *Tokenizer) ID(token string) (int, bool) {
	id, ok := t.m.ids[token]
	return id, ok
}

// Vocab returns a copy of the vocabulary, token -> id.
func (t *Tokenizer) Vocab() map[string]int { return maps.Clone(t.m.ids) }

// Merges returns a copy of the merges in rank order.
func (t *Tokenizer) Merges() [][2]string { return append([][2]string(nil), t.m.mergeList...) }

// Encode returns the ids of text, without start and end ids and without
// truncation.
func (t *Tokenizer) Encode(text string) []int {
	clean := cleanText(text)
	return t.appendIDs(make([]int, 0, len(clean)/3+2), clean)
}

// appendIDs appends the ids of cleaned text s to dst.
func (t *Tokenizer) appendIDs(dst []int, s string) []int {
	for i := 0; ; {
		start, end, kind, ok := nextPiece(s, i)
		if !ok {
			return dst
		}
		i = end
		switch kind {
		case pieceStart:
			dst = append(dst, t.m.sot)
			continue
		case pieceEnd:
			dst = append(dst, t.m.eot)
			continue
		}
		word := s[start:end]
		if ids, ok := t.cache.get(word); ok {
			dst = append(dst, ids...)
			continue
		}
		n := len(dst)
		dst = t.m.bpe(dst, word)
		if t.cache != nil && len(word) <= maxCachedWord {
			t.cache.put(strings.Clone(word), append([]int(nil), dst[n:]...))
		}
	}
}

// Batch is a batch of texts as padded rows of ids, laid out row-major for
// a tensor of shape [Rows, Cols].
type Batch struct {
	// IDs holds Rows*Cols ids: start id, the text's ids, end id, padding.
	IDs []int64
	// Mask is 1 where IDs holds a real token (start, text or end) and 0 on
	// padding.
	Mask []int64
	// Rows is the number of texts, Cols the context length.
	Rows, Cols int
	// Lengths is the number of real tokens in each row; the end id of row i
	// is at column Lengths[i]-1.
	Lengths []int
	// Truncated reports rows whose text did not fit and was cut.
	Truncated []bool
}

// Row returns the ids and mask of row i, as slices of b.IDs and b.Mask.
func (b *Batch) Row(i int) (ids, mask []int64) {
	lo, hi := i*b.Cols, (i+1)*b.Cols
	return b.IDs[lo:hi:hi], b.Mask[lo:hi:hi]
}

// Tokenize encodes texts into a batch framed by the tokenizer's options:
// each row is the start id, the text's ids and the end id, truncated to the
// context length with the end id kept last (as the reference does with
// truncate=True), then padded with the pad id.
func (t *Tokenizer) Tokenize(texts []string) *Batch {
	return t.tokenize(texts, t.opts.ContextLength)
}

// EncodeBatch encodes texts like Tokenize but with the given context length
// (0 or less means the tokenizer's), and returns one slice per row. The
// rows share two backing arrays.
func (t *Tokenizer) EncodeBatch(texts []string, contextLength int) (ids, mask [][]int64, err error) {
	if contextLength <= 0 {
		contextLength = t.opts.ContextLength
	}
	if contextLength < 2 {
		return nil, nil, fmt.Errorf("tokenizer: context length %d: need at least 2 for the start and end ids", contextLength)
	}
	b := t.tokenize(texts, contextLength)
	ids = make([][]int64, b.Rows)
	mask = make([][]int64, b.Rows)
	for i := range b.Rows {
		ids[i], mask[i] = b.Row(i)
	}
	return ids, mask, nil
}

func (t *Tokenizer) tokenize(texts []string, cols int) *Batch {
	b := &Batch{
		IDs:       make([]int64, len(texts)*cols),
		Mask:      make([]int64, len(texts)*cols),
		Rows:      len(texts),
		Cols:      cols,
		Lengths:   make([]int, len(texts)),
		Truncated: make([]bool, len(texts)),
	}
	var buf []int
	for i, text := range texts {
		buf = t.appendIDs(buf[:0], cleanText(text))
		ids, mask := b.Row(i)
		n := len(buf) + 2
		if n > cols {
			n = cols
			b.Truncated[i] = true
		}
		ids[0] = int64(t.opts.StartID)
		for j := 1; j < n-1; j++ {
			ids[j] = int64(buf[j-1])
		}
		ids[n-1] = int64(t.opts.EndID)
		for j := range n {
			mask[j] = 1
		}
		for j := n; j < cols; j++ {
			ids[j] = int64(t.opts.PadID)
		}
		b.Lengths[i] = n
	}
	return b
}

// Decode turns ids back into text, for debugging: byte symbols become the
// bytes they stand for, "</w>" a space, invalid UTF-8 and unknown ids
// U+FFFD. Cleaning (lower-casing, whitespace) is not undone.
func (t *Tokenizer) Decode(ids []int) string {
	var raw []byte
	for _, id := range ids {
		tok, ok := t.Token(id)
		if !ok {
			raw = utf8.AppendRune(raw, utf8.RuneError)
			continue
		}
		for _, r := range tok {
			if b, ok := bytesToRunes.dec[r]; ok {
				raw = append(raw, b)
			} else {
				raw = utf8.AppendRune(raw, r)
			}
		}
	}
	var b strings.Builder
	for len(raw) > 0 {
		r, size := utf8.DecodeRune(raw)
		b.WriteRune(r)
		raw = raw[size:]
	}
	return strings.ReplaceAll(b.String(), endOfWord, " ")
}
