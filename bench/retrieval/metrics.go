package retrieval

import (
	"fmt"
	"sort"
)

// KValue is a figure at one cut-off k, such as recall@k.
type KValue struct {
	K     int     `json:"k"`
	Value float64 `json:"value"`
}

// Score summarizes the ranks of a set of queries.
type Score struct {
	// Queries is the number of queries scored.
	Queries int `json:"queries"`
	// Recall is recall@k for each k: the fraction of queries with a hit
	// among their first k results.
	Recall []KValue `json:"recall"`
	// MRR is the mean reciprocal rank of the first hit, counting a query
	// without a hit in its first Depth results as 0 (MRR@Depth).
	MRR float64 `json:"mrr"`
	// Depth is the number of results looked at per query.
	Depth int `json:"depth"`
	// R1Ties is recall@1 counting also the queries whose first hit scores
	// the same as the first result (within TieEpsilon). Identical
	// embeddings — one picture under two labels — come in no defined
	// order; this is how an evaluation that ranks by "scores strictly
	// greater" counts them.
	R1Ties float64 `json:"r1_with_ties"`
}

// TieEpsilon is the largest score difference counted as a tie.
const TieEpsilon = 1e-6

// At returns recall@k, or -1 when k was not measured.
func (s Score) At(k int) float64 {
	for _, r := range s.Recall {
		if r.K == k {
			return r.Value
		}
	}
	return -1
}

// FirstHit returns the 1-based position of the first element of got for
// which hit is true, or 0 when none is.
func FirstHit[T any](got []T, hit func(T) bool) int {
	for i, g := range got {
		if hit(g) {
			return i + 1
		}
	}
	return 0
}

// RankOf returns the 1-based position of the first element of got for which
// hit is true (0 when none is), and whether its score ties the first
// element's within TieEpsilon.
func RankOf[T any](got []T, hit func(T) bool, score func(T) float32) (int, bool) {
	r := FirstHit(got, hit)
	if r == 0 {
		return 0, false
	}
	d := float64(score(got[0])) - float64(score(got[r-1]))
	return r, d <= TieEpsilon && d >= -TieEpsilon
}

// Scorer accumulates ranks (1-based position of the first hit, 0 for none
// within depth) into recall@k and MRR.
type Scorer struct {
	ks    []int
	depth int
	ranks []int
	ties  int // queries whose first hit ties the first result
}

// NewScorer returns a scorer for the cut-offs ks; ranks beyond the largest
// k are not seen. ks must be positive.
func NewScorer(ks []int) (*Scorer, error) {
	ks, err := NormalizeKs(ks)
	if err != nil {
		return nil, err
	}
	return &Scorer{ks: ks, depth: ks[len(ks)-1]}, nil
}

// NormalizeKs sorts and de-duplicates ks and checks they are positive.
func NormalizeKs(ks []int) ([]int, error) {
	if len(ks) == 0 {
		return nil, fmt.Errorf("no k given for recall@k")
	}
	out := append([]int(nil), ks...)
	sort.Ints(out)
	j := 0
	for i, k := range out {
		if k < 1 {
			return nil, fmt.Errorf("recall@%d: k must be at least 1", k)
		}
		if i == 0 || k != out[j-1] {
			out[j] = k
			j++
		}
	}
	return out[:j], nil
}

// Add records one query's rank: the 1-based position of its first hit, or
// 0 when it had none; tiesFirst says the hit scored the same as the first
// result. Ranks beyond the depth count as misses.
func (s *Scorer) Add(rank int, tiesFirst bool) {
	if rank < 0 || rank > s.depth {
		rank = 0
	}
	s.ranks = append(s.ranks, rank)
	if rank == 1 || (rank > 0 && tiesFirst) {
		s.ties++
	}
}

// Len is the number of ranks recorded.
func (s *Scorer) Len() int { return len(s.ranks) }

// Score computes recall@k and MRR over the recorded ranks. With no ranks
// every figure is 0.
func (s *Scorer) Score() Score {
	out := Score{Queries: len(s.ranks), Depth: s.depth}
	hits := make([]int, len(s.ks))
	rr := 0.0
	for _, r := range s.ranks {
		if r == 0 {
			continue
		}
		rr += 1 / float64(r)
		for i, k := range s.ks {
			if r <= k {
				hits[i]++
			}
		}
	}
	for i, k := range s.ks {
		v := 0.0
		if len(s.ranks) > 0 {
			v = float64(hits[i]) / float64(len(s.ranks))
		}
		out.Recall = append(out.Recall, KValue{K: k, Value: v})
	}
	if len(s.ranks) > 0 {
		out.MRR = rr / float64(len(s.ranks))
		out.R1Ties = float64(s.ties) / float64(len(s.ranks))
	}
	return out
}
