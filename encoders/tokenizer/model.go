package tokenizer

import (
	"container/heap"
	"math"
)

const (
	endOfWord   = "</w>"
	startToken  = "<|startoftext|>"
	endToken    = "<|endoftext|>"
	noRank      = math.MaxInt32
	heapMinSize = 64 // words with more bytes than this use the heap-based merge loop
)

// merge is what a pair of adjacent symbols turns into.
type merge struct {
	rank int32 // position in the merges list: lower merges first
	id   int32 // id of the merged symbol
}

// model is the immutable vocabulary and merge table shared by Tokenizers.
type model struct {
	tokens    []string       // id -> token
	ids       map[string]int // token -> id
	mergeList [][2]string    // merges in rank order, as loaded
	merges    map[uint64]merge
	byteID    [256]int32 // id of each byte's symbol
	byteEndID [256]int32 // id of each byte's symbol with "</w>"
	sot, eot  int        // ids of <|startoftext|> and <|endoftext|>
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// newModel builds a model from a dense id -> token list and the merges in
// rank order. When a token appears twice in tokens the higher id wins, as
// in the reference's dict; when a merge appears twice its later rank wins.
func newModel(tokens []string, merges [][2]string) (*model, error) {
	if len(tokens) == 0 {
		return nil, formatErr(ErrUnknownToken, 0, nil, "empty vocabulary")
	}
	if len(tokens) > math.MaxInt32 {
		return nil, formatErr(ErrBadID, 0, nil, "vocabulary of %d tokens is too large", len(tokens))
	}
	m := &model{
		tokens:    tokens,
		ids:       make(map[string]int, len(tokens)),
		mergeList: merges,
		merges:    make(map[uint64]merge, len(merges)),
	}
	for id, tok := range tokens {
		m.ids[tok] = id
	}
	for b := 0; b < 256; b++ {
		for _, last := range []bool{false, true} {
			sym := byteSymbol(byte(b), last)
			id, ok := m.ids[sym]
			if !ok {
				return nil, formatErr(ErrUnknownToken, 0, nil, "byte 0x%02x has no symbol %q", b, sym)
			}
			if last {
				m.byteEndID[b] = int32(id)
			} else {
				m.byteID[b] = int32(id)
			}
		}
	}
	var ok bool
	if m.sot, ok = m.ids[startToken]; !ok {
		return nil, formatErr(ErrUnknownToken, 0, nil, "special token %q missing", startToken)
	}
	if m.eot, ok = m.ids[endToken]; !ok {
		return nil, formatErr(ErrUnknownToken, 0, nil, "special token %q missing", endToken)
	}
	for i, mg := range merges {
		a, okA := m.ids[mg[0]]
		b, okB := m.ids[mg[1]]
		ab, okAB := m.ids[mg[0]+mg[1]]
		switch {
		case !okA:
			return nil, formatErr(ErrUnknownToken, 0, nil, "merge %d (%q %q): part %q", i+1, mg[0], mg[1], mg[0])
		case !okB:
			return nil, formatErr(ErrUnknownToken, 0, nil, "merge %d (%q %q): part %q", i+1, mg[0], mg[1], mg[1])
		case !okAB:
			return nil, formatErr(ErrUnknownToken, 0, nil, "merge %d (%q %q): result %q", i+1, mg[0], mg[1], mg[0]+mg[1])
		}
		m.merges[pairKey(int32(a), int32(b))] = merge{rank: int32(i), id: int32(ab)}
	}
	return m, nil
}

// lookup returns the merge of the pair (a, b), or rank noRank.
func (m *model) lookup(a, b int32) merge {
	if mg, ok := m.merges[pairKey(a, b)]; ok {
		return mg
	}
	return merge{rank: noRank}
}

// bpe appends to dst the ids of word (the UTF-8 bytes of one pre-token)
// after byte-level BPE.
func (m *model) bpe(dst []int, word string) []int {
	n := len(word)
	switch {
	case n == 0:
		return dst
	case n == 1:
		return append(dst, int(m.byteEndID[word[0]]))
	case n > heapMinSize:
		return m.bpeHeap(dst, word)
	}
	var buf [heapMinSize]int32
	sym := buf[:n]
	for i := 0; i < n-1; i++ {
		sym[i] = m.byteID[word[i]]
	}
	sym[n-1] = m.byteEndID[word[n-1]]
	sym = m.mergeSmall(sym)
	for _, s := range sym {
		dst = append(dst, int(s))
	}
	return dst
}

// mergeSmall runs the reference merge loop: find the lowest-ranked pair,
// merge all its occurrences left to right, repeat. It is quadratic in the
// word length and meant for short words.
func (m *model) mergeSmall(sym []int32) []int32 {
	for len(sym) > 1 {
		best := merge{rank: noRank}
		var first, second int32
		for i := 0; i+1 < len(sym); i++ {
			if mg := m.lookup(sym[i], sym[i+1]); mg.rank < best.rank {
				best, first, second = mg, sym[i], sym[i+1]
			}
		}
		if best.rank == noRank {
			break
		}
		w := 0
		for i := 0; i < len(sym); {
			if i+1 < len(sym) && sym[i] == first && sym[i+1] == second {
				sym[w] = best.id
				i += 2
			} else {
				sym[w] = sym[i]
				i++
			}
			w++
		}
		sym = sym[:w]
	}
	return sym
}

// candidate is a pair of adjacent symbols waiting in the merge heap.
type candidate struct {
	rank        int32
	pos         int32 // index of the left symbol
	left, right int32 // the symbols when the pair was queued
}

type candidateHeap []candidate

func (h candidateHeap) Len() int { return len(h) }
func (h candidateHeap) Less(i, j int) bool {
	if h[i].rank != h[j].rank {
		return h[i].rank < h[j].rank
	}
	return h[i].pos < h[j].pos
}
func (h candidateHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *candidateHeap) Push(x any)   { *h = append(*h, x.(candidate)) }
func (h *candidateHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}

// bpeHeap gives the same result as mergeSmall in O(n log n): symbols form
// a linked list and candidate pairs wait in a heap ordered by (rank,
// position). All queued pairs of the lowest rank are taken as one batch
// and merged left to right, which is what the reference's pass over the
// word does; a merge can never create another pair of the same rank.
func (m *model) bpeHeap(dst []int, word string) []int {
	n := len(word)
	sym := make([]int32, n)
	next := make([]int32, n)
	prev := make([]int32, n)
	for i := 0; i < n; i++ {
		sym[i] = m.byteID[word[i]]
		next[i] = int32(i + 1)
		prev[i] = int32(i - 1)
	}
	sym[n-1] = m.byteEndID[word[n-1]]
	next[n-1] = -1
	alive := make([]bool, n)
	for i := range alive {
		alive[i] = true
	}
	h := make(candidateHeap, 0, n)
	push := func(p int32) {
		q := next[p]
		if q < 0 {
			return
		}
		if mg := m.lookup(sym[p], sym[q]); mg.rank != noRank {
			heap.Push(&h, candidate{rank: mg.rank, pos: p, left: sym[p], right: sym[q]})
		}
	}
	for i := 0; i+1 < n; i++ {
		if mg := m.lookup(sym[i], sym[i+1]); mg.rank != noRank {
			h = append(h, candidate{rank: mg.rank, pos: int32(i), left: sym[i], right: sym[i+1]})
		}
	}
	heap.Init(&h)
	var batch []candidate
	for h.Len() > 0 {
		rank := h[0].rank
		batch = batch[:0]
		for h.Len() > 0 && h[0].rank == rank {
			batch = append(batch, heap.Pop(&h).(candidate))
		}
		for _, c := range batch {
			p := c.pos
			q := next[p]
			if !alive[p] || q < 0 || sym[p] != c.left || sym[q] != c.right {
				continue // stale: a neighbour was merged since it was queued
			}
			sym[p] = m.merges[pairKey(c.left, c.right)].id
			alive[q] = false
			next[p] = next[q]
			if next[q] >= 0 {
				prev[next[q]] = p
			}
			if prev[p] >= 0 {
				push(prev[p])
			}
			push(p)
		}
	}
	for p := int32(0); p >= 0; p = next[p] {
		dst = append(dst, int(sym[p]))
	}
	return dst
}
