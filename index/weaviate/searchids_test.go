package weaviate_test

import (
	"context"
	"slices"
	"testing"

	"mmsearch/index"
	"mmsearch/index/flat"
	"mmsearch/index/indextest"
	"mmsearch/index/weaviate"
	"mmsearch/internal/weaviated"
)

// TestSearchIDs checks the filtered search that runs inside Weaviate (a
// where clause on itemId): for sets of several sizes, ids it does not hold
// among them, it returns the same neighbours as an exact scan of the set.
func TestSearchIDs(t *testing.T) {
	node := weaviated.StartT(t, 1).Nodes[0]
	ctx := context.Background()
	const n, dim = 2000, 32
	vecs := indextest.Vectors(5, n, dim)
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(i + 1)
	}
	x, err := weaviate.New(ctx, weaviate.Config{Scheme: "http", Host: node.Addr(), Collection: "SearchIDs"}, dim, index.Cosine)
	if err != nil {
		t.Fatal(err)
	}
	exact, err := flat.New(dim, index.Cosine)
	if err != nil {
		t.Fatal(err)
	}
	for _, ix := range []index.Index{x, exact} {
		if err := ix.AddBatch(ctx, ids, vecs); err != nil {
			t.Fatal(err)
		}
	}
	q := indextest.Vectors(9, 1, dim)[0]
	for _, tc := range []struct {
		name string
		set  []uint64
		k    int
	}{
		{"every 7th", everyNth(ids, 7), 10},
		{"three", []uint64{5, 900, 1999}, 10},
		{"with unknown ids", append(everyNth(ids, 50), 5000, 6000), 10},
		{"none held", []uint64{5000}, 10},
		{"k over the set", everyNth(ids, 400), 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := x.SearchIDs(q, tc.k, tc.set)
			if err != nil {
				t.Fatal(err)
			}
			want, err := index.SearchIDs(exact, q, tc.k, tc.set)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(resultIDs(got), resultIDs(want)) {
				t.Fatalf("weaviate %v, exact scan %v", resultIDs(got), resultIDs(want))
			}
		})
	}
}

func everyNth(ids []uint64, n int) []uint64 {
	var out []uint64
	for i := 0; i < len(ids); i += n {
		out = append(out, ids[i])
	}
	return out
}

func resultIDs(rs []index.Result) []uint64 {
	out := make([]uint64, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}
