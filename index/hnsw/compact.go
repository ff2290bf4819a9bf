package hnsw

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"mmsearch/index"
	"mmsearch/index/internal/pq"
)

// Compact removes tombstoned nodes for good. Each surviving node whose links
// pointed at removed nodes gets a new list chosen with the selection heuristic
// from its surviving neighbours and the surviving neighbours of its removed
// ones (a fresh layer search when there are none). Then the survivors are
// renumbered into the lowest slots, freeing whole chunks.
//
// Searches and inserts wait while Compact runs. When ctx is done before the
// graph is rewritten, Compact returns ctx.Err() and leaves the index as it was.
func (x *Index) Compact(ctx context.Context) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return fmt.Errorf("hnsw: compact: %w", index.ErrClosed)
	}
	if x.dead.Load() == 0 {
		return nil
	}
	if err := x.ownLocked(); err != nil {
		return fmt.Errorf("hnsw: compact: %w", err)
	}
	n := x.count
	newID := make([]uint32, n)
	live := 0
	for id := range uint32(n) {
		if x.isDead(id) {
			newID[id] = noNode
			continue
		}
		newID[id] = uint32(live)
		live++
	}

	// New link lists, computed from the old graph, which stays unchanged
	// until every list is ready.
	w0 := x.m0 + 1
	link0 := make([]uint32, live*w0)
	upper := make([][]uint32, live)
	workers := max(1, min(int(x.workers.Load()), n/256+1))
	var next atomic.Int64
	var wg sync.WaitGroup
	const step = 256
	for range workers {
		wg.Go(func() {
			s := x.getScratch()
			defer x.putScratch(s)
			for ctx.Err() == nil {
				lo := int(next.Add(step)) - step
				if lo >= n {
					return
				}
				for id := uint32(lo); id < uint32(min(lo+step, n)); id++ {
					nid := newID[id]
					if nid == noNode {
						continue
					}
					lv := x.level(id)
					if lv > 0 {
						upper[nid] = make([]uint32, lv*(x.m+1))
					}
					for l := 0; l <= lv; l++ {
						var dst []uint32
						if l == 0 {
							dst = link0[int(nid)*w0 : int(nid+1)*w0]
						} else {
							dst = upper[nid][(l-1)*(x.m+1) : l*(x.m+1)]
						}
						x.repairList(id, l, newID, dst, s)
					}
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("hnsw: compact: %w", err)
	}

	// Entry point: keep it when it survives, else the highest surviving node.
	entry := uint64(emptyEntry)
	if e := x.entry.Load(); e != emptyEntry {
		if ep, l := unpackEntry(e); newID[ep] != noNode {
			entry = packEntry(newID[ep], l)
		}
	}
	if entry == emptyEntry && live > 0 {
		best, bestLevel := uint32(0), -1
		for id := range uint32(n) {
			if newID[id] != noNode && x.level(id) > bestLevel {
				best, bestLevel = newID[id], x.level(id)
			}
		}
		entry = packEntry(best, bestLevel)
	}

	// Move the survivors down. New ids never exceed old ones, so moving in
	// ascending order never overwrites a node still to be moved.
	for id := range uint32(n) {
		nid := newID[id]
		if nid == noNode {
			continue
		}
		src, dst := x.nodes[id>>chunkShift], x.nodes[nid>>chunkShift]
		if nid != id {
			copy(x.vector(nid), x.vector(id))
			dst.labels[nid&chunkMask] = src.labels[id&chunkMask]
			dst.levels[nid&chunkMask] = src.levels[id&chunkMask]
		}
		dst.upper[nid&chunkMask] = upper[nid]
		copy(x.block(nid, 0), link0[int(nid)*w0:int(nid+1)*w0])
	}
	// Clear what lies past the survivors so reused slots start blank.
	for id := uint32(live); id < uint32(n); id++ {
		nc := x.nodes[id>>chunkShift]
		nc.labels[id&chunkMask] = 0
		nc.levels[id&chunkMask] = 0
		nc.upper[id&chunkMask] = nil
		clear(x.block(id, 0))
	}
	for _, nc := range x.nodes {
		clear(nc.dead[:])
	}
	var words int64
	for _, u := range upper {
		words += int64(len(u))
	}
	x.upperWords.Store(words)
	keep := (live + chunkSize - 1) / chunkSize
	clear(x.vecs[keep:])
	clear(x.links[keep:])
	clear(x.nodes[keep:])
	x.vecs, x.links, x.nodes = x.vecs[:keep], x.links[:keep], x.nodes[:keep]

	x.labelMu.Lock()
	x.count = live
	clear(x.labels)
	for id := range uint32(live) {
		x.labels[x.label(id)] = id
	}
	x.labelMu.Unlock()
	x.entry.Store(entry)
	x.dead.Store(0)
	return nil
}

// repairList writes into dst (a count and slots) node id's list on layer with
// removed nodes replaced and ids renumbered by newID. Callers hold mu
// exclusively; the old graph is only read.
func (x *Index) repairList(id uint32, layer int, newID []uint32, dst []uint32, s *scratch) {
	blk := x.block(id, layer)
	cnt := int(blk[0])
	links := blk[1 : 1+cnt]
	clean := true
	for _, nb := range links {
		if newID[nb] == noNode {
			clean = false
			break
		}
	}
	if clean {
		for i, nb := range links {
			dst[1+i] = newID[nb]
		}
		dst[0] = uint32(cnt)
		return
	}
	v := x.vector(id)
	cands := s.pair[:0]
	add := func(nb uint32) {
		if nb != id && newID[nb] != noNode && !containsID(cands, nb) {
			cands = append(cands, pq.Item{Dist: x.dist(v, nb), ID: nb})
		}
	}
	for _, nb := range links {
		if newID[nb] != noNode {
			add(nb)
			continue
		}
		hop := x.block(nb, layer)
		for _, nb2 := range hop[1 : 1+int(hop[0])] {
			add(nb2)
		}
	}
	if len(cands) == 0 {
		// Nothing survives nearby: search the layer for this node's
		// neighbourhood as an insert would.
		ep, top := unpackEntry(x.entry.Load())
		cur, curDist := ep, x.dist(v, ep)
		for l := top; l > layer; l-- {
			cur, curDist, _ = x.greedy(v, cur, curDist, l) // owned: nothing lazy to fail
		}
		x.searchLayer(s, v, cur, curDist, x.efC, layer, nil, id)
		cands = s.top.DrainSorted(cands)
	}
	s.pair = cands
	slices.SortFunc(cands, cmpItem)
	sel := x.selectNeighbors(cands, x.maxLinks(layer), s.sel2[:0])
	s.sel2 = sel
	for i, it := range sel {
		dst[1+i] = newID[it.ID]
	}
	dst[0] = uint32(len(sel))
}
