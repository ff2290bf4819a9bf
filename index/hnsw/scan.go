package hnsw

import (
	"fmt"

	"mmsearch/index"
	"mmsearch/index/internal/pq"
	"mmsearch/index/internal/vec"
)

var _ index.IDSearcher = (*Index)(nil)

// SearchIDs returns up to k of ids nearest to query, nearest first, by
// comparing query with each of their vectors: the exact scan a filtered
// search switches to when the filter leaves so few ids that walking the
// graph past the rejected nodes would cost more than reading the matching
// ones. Ids that are absent or deleted are skipped; an id listed twice is
// returned once. On a mapped index each node is checked before it is used
// (see Map): damage fails the scan with an error wrapping index.ErrCorrupt.
func (x *Index) SearchIDs(query []float32, k int, ids []uint64) ([]index.Result, error) {
	if err := vec.Check(query, x.dim); err != nil {
		return nil, fmt.Errorf("hnsw: search ids: %w", err)
	}
	if k < 0 {
		return nil, fmt.Errorf("hnsw: search ids: %w: k = %d", index.ErrInvalidInput, k)
	}
	if k == 0 || len(ids) == 0 {
		return []index.Result{}, nil
	}
	s := x.getScratch()
	defer x.putScratch(s)

	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.closed {
		return nil, fmt.Errorf("hnsw: search ids: %w", index.ErrClosed)
	}
	// Look the nodes up in one hold of labelMu, then compute the distances
	// without it so inserts are not held up.
	nodes := s.batch[:0]
	x.labelMu.Lock()
	labels, err := x.labelMapLocked() // a mapped index builds it on first use
	if err != nil {
		x.labelMu.Unlock()
		return nil, fmt.Errorf("hnsw: search ids: %w", err)
	}
	for _, id := range ids {
		if n, ok := labels[id]; ok {
			nodes = append(nodes, n)
		}
	}
	x.labelMu.Unlock()
	s.batch = nodes
	if x.lazy != nil {
		for _, n := range nodes {
			if err := x.checkNode(n); err != nil {
				return nil, fmt.Errorf("hnsw: search ids: %w", err)
			}
		}
	}

	s.resetVisited(x.capacity())
	marks, gen := s.marks, s.gen
	s.top.Reset()
	for _, n := range nodes {
		if marks[n] == gen {
			continue
		}
		marks[n] = gen
		s.top.PushBounded(pq.Item{Dist: x.dist(query, n), ID: n}, k)
	}
	return x.drainResults(s), nil
}
