package engine

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"sort"
	"sync"

	"mmsearch/engine/store"
	"mmsearch/index"
)

// DuplicateMember is one file of a duplicate group.
type DuplicateMember struct {
	ID   int64  `json:"id"`
	Path string `json:"path"`
	// Similarity is the cosine similarity of this file's vector to the
	// group's first file (1 for identical content).
	Similarity float32 `json:"similarity"`
	// SHA256 is the content hash; identical files share it.
	SHA256 string `json:"sha256"`
}

// DuplicateGroup is a set of files with identical content, or, for a near
// search, of contents whose vectors are that close.
type DuplicateGroup struct {
	// Exact is true when every member has the same content.
	Exact   bool              `json:"exact"`
	Members []DuplicateMember `json:"members"`
}

// DuplicateOptions tunes Duplicates.
type DuplicateOptions struct {
	// Near, when above 0, also groups different contents whose vectors have
	// cosine similarity at least Near (linked transitively), found with the
	// HNSW index as Immich's duplicate finder does. 0 lists identical
	// content only.
	Near float32
	// Neighbours is how many nearest contents each one is compared with
	// (0 = 16).
	Neighbours int
}

// MaxNeighbours bounds DuplicateOptions.Neighbours.
const MaxNeighbours = 1000

// Duplicates lists groups of files with identical content (same SHA-256)
// and, with opt.Near, groups of near-duplicates. Groups are ordered by their
// first path; members by similarity, then path.
func (l *Library) Duplicates(ctx context.Context, opt DuplicateOptions) ([]DuplicateGroup, error) {
	if opt.Near < 0 || opt.Near > 1 {
		return nil, fmt.Errorf("near-duplicate threshold %v out of range (0, 1]", opt.Near)
	}
	if opt.Neighbours < 0 || opt.Neighbours > MaxNeighbours {
		return nil, fmt.Errorf("neighbours %d out of range [0, %d]", opt.Neighbours, MaxNeighbours)
	}
	if opt.Near == 0 {
		groups, err := l.store.DuplicateGroups(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]DuplicateGroup, 0, len(groups))
		for h, cs := range groups {
			g := DuplicateGroup{Exact: true}
			for _, c := range cs {
				g.Members = append(g.Members, DuplicateMember{ID: c.ID, Path: c.Path, Similarity: 1, SHA256: h.String()})
			}
			out = append(out, g)
		}
		sortGroups(out)
		return out, nil
	}
	return l.nearDuplicates(ctx, opt)
}

func sortGroups(gs []DuplicateGroup) {
	sort.Slice(gs, func(i, j int) bool { return gs[i].Members[0].Path < gs[j].Members[0].Path })
}

// nearDuplicates links each content to its nearest neighbours at or above
// the threshold and returns the connected groups.
func (l *Library) nearDuplicates(ctx context.Context, opt DuplicateOptions) ([]DuplicateGroup, error) {
	k := opt.Neighbours
	if k == 0 {
		k = 16
	}
	idx, err := l.cat.Current(ctx)
	if err != nil {
		return nil, err
	}
	all, err := l.store.AllCopies(ctx)
	if err != nil {
		return nil, err
	}
	// One node per content: its first copy's id stands for it.
	hashes := make([]store.Hash, 0, len(all))
	for h := range all {
		hashes = append(hashes, h)
	}
	sort.Slice(hashes, func(i, j int) bool { return bytes.Compare(hashes[i][:], hashes[j][:]) < 0 })
	node := make(map[int64]int, len(hashes)) // any copy's id → node
	for i, h := range hashes {
		for _, c := range all[h] {
			node[c.ID] = i
		}
	}
	parent := make([]int, len(hashes))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	work := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				vec, err := idx.Vector(uint64(all[hashes[i]][0].ID))
				if err != nil {
					continue // deleted meanwhile
				}
				hits, err := idx.Search(vec, k+1, index.SearchOptions{Ef: max(64, 2*(k+1))})
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				for _, h := range hits {
					j, ok := node[int64(h.ID)]
					if ok && j != i && 1-h.Distance >= opt.Near {
						if a, b := find(i), find(j); a != b {
							parent[max(a, b)] = min(a, b)
						}
					}
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for i := range hashes {
		select {
		case work <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if firstErr != nil {
		return nil, firstErr
	}
	comps := map[int][]int{}
	for i := range hashes {
		r := find(i)
		comps[r] = append(comps[r], i)
	}
	var out []DuplicateGroup
	for _, nodes := range comps {
		n := 0
		for _, i := range nodes {
			n += len(all[hashes[i]])
		}
		if n < 2 {
			continue
		}
		g := DuplicateGroup{Exact: len(nodes) == 1}
		sort.Slice(nodes, func(a, b int) bool { return all[hashes[nodes[a]]][0].Path < all[hashes[nodes[b]]][0].Path })
		anchor, err := idx.Vector(uint64(all[hashes[nodes[0]]][0].ID))
		if err != nil {
			continue
		}
		for _, i := range nodes {
			sim := float32(1)
			if i != nodes[0] {
				v, err := idx.Vector(uint64(all[hashes[i]][0].ID))
				if err != nil {
					continue
				}
				sim = dot(anchor, v)
			}
			for _, c := range all[hashes[i]] {
				g.Members = append(g.Members, DuplicateMember{ID: c.ID, Path: c.Path, Similarity: sim, SHA256: hashes[i].String()})
			}
		}
		sort.SliceStable(g.Members[1:], func(a, b int) bool {
			return g.Members[1+a].Similarity > g.Members[1+b].Similarity
		})
		out = append(out, g)
	}
	sortGroups(out)
	return out, nil
}

func dot(a, b []float32) float32 {
	var s float32
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}
