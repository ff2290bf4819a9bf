package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"mmsearch/index/hnsw"
)

// approximateLibrary imports n random 256-dimensional vectors into a
// library whose HNSW graph is deliberately sparse (M 4, insertion width
// 8), so that searches of different beam widths find different neighbours:
// the case paging must survive.
func approximateLibrary(t *testing.T, n int) *Library {
	t.Helper()
	ctx := context.Background()
	lib, err := Open(ctx, t.TempDir(), Options{Model: "../onnx-models/emoji-clip",
		Index: hnsw.Config{M: 4, EfConstruction: 8, Seed: 1, Workers: 1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lib.Close() })
	r := rand.New(rand.NewPCG(1, 2))
	items := make([]ImportItem, n)
	for i := range items {
		v := make([]float32, lib.Model().Dim())
		for j := range v {
			v[j] = float32(r.NormFloat64())
		}
		items[i] = ImportItem{Path: fmt.Sprintf("/synthetic/%05d.png", i), Vector: v, Width: 1, Height: 1, Format: "png"}
	}
	if _, err := lib.Import(ctx, items); err != nil {
		t.Fatal(err)
	}
	return lib
}

// TestPagedSearchIsOneRanking: on an index where the beam width changes
// what is found (checked first, so the test means something), pages of a
// paged search laid end to end equal one big page, page sizes and offsets
// that cross the tiers (32, 128, 512) included, and the ranking is sorted
// by score with ties by id within each tier.
func TestPagedSearchIsOneRanking(t *testing.T) {
	lib := approximateLibrary(t, 2000)
	ctx := context.Background()
	q := make([]float32, lib.Model().Dim())
	r := rand.New(rand.NewPCG(3, 4))
	for i := range q {
		q[i] = float32(r.NormFloat64())
	}
	search := func(opt SearchOptions) []Result {
		t.Helper()
		res, err := lib.SearchVector(ctx, q, opt)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	// The beam width matters on this index: an unpaged search of 64 with
	// its default width and one of width 1024 differ.
	narrow, wide := search(SearchOptions{K: 64}), search(SearchOptions{K: 64, Ef: 1024})
	if sameResults(narrow, wide) {
		t.Fatal("the test index is too easy: beam widths 128 and 1024 find the same 64 neighbours")
	}
	big := search(SearchOptions{K: 540, Paged: true})
	if len(big) != 540 {
		t.Fatalf("big page: %d results", len(big))
	}
	for i := 1; i < len(big); i++ {
		if i == 32 || i == 128 || i == 512 {
			continue // a new tier begins
		}
		if big[i-1].Score < big[i].Score || big[i-1].Score == big[i].Score && big[i-1].ID > big[i].ID {
			t.Fatalf("results %d and %d out of order", i-1, i)
		}
	}
	seen := map[int64]bool{}
	for _, res := range big {
		if seen[res.ID] {
			t.Fatalf("item %d twice in the ranking", res.ID)
		}
		seen[res.ID] = true
	}
	for _, tc := range []struct{ size, upTo int }{
		{7, 140}, // small pages across the first two tiers
		{50, 540}, {200, 540},
	} {
		var joined []Result
		for off := 0; off < tc.upTo; off += tc.size {
			joined = append(joined, search(SearchOptions{K: min(tc.size, tc.upTo-off), Offset: off, Paged: true})...)
		}
		if !sameResults(joined, big[:tc.upTo]) {
			t.Errorf("pages of %d laid end to end differ from the first %d of one page of %d", tc.size, tc.upTo, len(big))
		}
	}
	// With an explicit ef the same holds, for that ef.
	bigEf := search(SearchOptions{K: 300, Paged: true, Ef: 100})
	var joined []Result
	for off := 0; off < 300; off += 60 {
		joined = append(joined, search(SearchOptions{K: 60, Offset: off, Paged: true, Ef: 100})...)
	}
	if !sameResults(joined, bigEf) {
		t.Error("pages with ef 100 differ from one page with ef 100")
	}
	// An offset without paging is a caller's mistake.
	if _, err := lib.SearchVector(ctx, q, SearchOptions{K: 5, Offset: 5}); err == nil {
		t.Error("an offset without Paged was accepted")
	}
}

func sameResults(a, b []Result) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ID != b[i].ID || a[i].Score != b[i].Score {
			return false
		}
	}
	return true
}
