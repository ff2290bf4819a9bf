package hnsw

import (
	"cmp"
	"slices"
	"testing"

	"mmsearch/index"
	"mmsearch/index/internal/testdata"
)

// onePercent returns two filters that each accept 1 % of n ids: one spread
// at random over the space, and one holding a single region of it (the
// vectors with the largest first coordinate), which random queries mostly
// miss, so the walk must cross many rejected nodes to reach it.
func onePercent(data [][]float32) (scattered, region index.Filter, count int) {
	n := len(data)
	count = n / 100
	// A multiplicative hash picks a fixed pseudo-random 1 %.
	scattered = func(id uint64) bool { return (id*0x9e3779b97f4a7c15)>>32%100 == 7 }
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(data[b][0], data[a][0]) })
	in := make([]bool, n)
	for _, i := range order[:count] {
		in[i] = true
	}
	region = func(id uint64) bool { return id < uint64(n) && in[id] }
	return scattered, region, count
}

// TestFilterOnePercentRecall is the filter recall test of issue 13: 20,000
// vectors (32 dimensions, 50 clusters), filters accepting 1 % of them, and
// recall@10 of the graph walk at the default beam against the exact filtered
// search must be at least 0.95, with every query getting its 10 results.
// The walk passes through rejected nodes but returns only accepted ones, and
// keeps expanding until ef accepted nodes are found.
func TestFilterOnePercentRecall(t *testing.T) {
	const n, k = 20000, 10
	data, queries := testdata.MixtureWithQueries(13, n, 100, 32, 50, 0.1)
	x, f := build(t, data, Config{EfConstruction: 100, Seed: 13})
	scattered, region, count := onePercent(data)
	got := 0
	for id := range uint64(n) {
		if scattered(id) {
			got++
		}
	}
	if got < count*8/10 || got > count*12/10 {
		t.Fatalf("the scattered filter accepts %d ids, want about %d", got, count)
	}
	for _, tc := range []struct {
		name   string
		filter index.Filter
	}{{"scattered", scattered}, {"one region", region}} {
		t.Run(tc.name, func(t *testing.T) {
			for _, q := range queries {
				res, err := x.Search(q, k, index.SearchOptions{Filter: tc.filter})
				if err != nil {
					t.Fatal(err)
				}
				if len(res) != k {
					t.Fatalf("%d results, want %d", len(res), k)
				}
				for _, r := range res {
					if !tc.filter(r.ID) {
						t.Fatalf("result %d is rejected by the filter", r.ID)
					}
				}
			}
			r := recall(t, x, f, queries, k, index.SearchOptions{Filter: tc.filter})
			t.Logf("recall@%d = %.4f", k, r)
			if r < 0.95 {
				t.Errorf("recall@%d = %.4f, want ≥ 0.95", k, r)
			}
		})
	}
}

// TestSearchIDs checks the exact scan of a set of ids against the flat
// index's filtered search: the same ids at the same distances, with absent,
// deleted and repeated ids skipped.
func TestSearchIDs(t *testing.T) {
	data, queries := testdata.MixtureWithQueries(5, 2000, 20, 16, 10, 0.2)
	x, f := build(t, data, Config{Seed: 5})
	if err := x.Delete(40); err != nil {
		t.Fatal(err)
	}
	if err := f.Delete(40); err != nil {
		t.Fatal(err)
	}
	var ids []uint64
	for id := uint64(0); id < 2000; id += 37 {
		ids = append(ids, id)
	}
	ids = append(ids, 40, 40, 74, 999999) // deleted, repeated (74 = 2·37), absent
	set := map[uint64]bool{}
	for _, id := range ids {
		set[id] = true
	}
	in := func(id uint64) bool { return set[id] }
	for _, k := range []int{0, 1, 10, 100} {
		for _, q := range queries {
			got, err := x.SearchIDs(q, k, ids)
			if err != nil {
				t.Fatal(err)
			}
			want, err := f.Search(q, k, index.SearchOptions{Filter: in})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("k=%d: %d results, want %d", k, len(got), len(want))
			}
			for i := range got {
				if got[i].ID != want[i].ID || !near32(got[i].Distance, want[i].Distance) {
					t.Fatalf("k=%d: result %d = %+v, want %+v", k, i, got[i], want[i])
				}
			}
		}
	}
	if _, err := x.SearchIDs(make([]float32, 3), 1, ids); err == nil {
		t.Error("a query of the wrong dimension was accepted")
	}
	if _, err := x.SearchIDs(queries[0], -1, ids); err == nil {
		t.Error("k = -1 was accepted")
	}
}

func near32(a, b float32) bool {
	d := a - b
	return d < 1e-5 && d > -1e-5
}
