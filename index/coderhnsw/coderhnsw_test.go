package coderhnsw

import (
	"bytes"
	"context"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"mmsearch/index"
	"mmsearch/index/flat"
	"mmsearch/index/internal/testdata"
	"mmsearch/index/internal/vec"
)

func seqIDs(n int) []uint64 {
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(i)
	}
	return ids
}

func build(t *testing.T, metric index.Metric, data [][]float32) *Index {
	t.Helper()
	x, err := New(len(data[0]), Config{Metric: metric, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := x.AddBatch(context.Background(), seqIDs(len(data)), data); err != nil {
		t.Fatal(err)
	}
	return x
}

// TestSearchResults checks what the adapter promises whatever the library's
// recall: ids that exist, distances that match the metric, nearest first.
// The recall is logged, not asserted.
func TestSearchResults(t *testing.T) {
	tests := []struct {
		metric index.Metric
		data   [][]float32
	}{
		{index.Cosine, testdata.Mixture(1, 1500, 16, 10, 0.05)},
		{index.L2, testdata.Gaussian(2, 1500, 16)},
	}
	for _, tc := range tests {
		t.Run(tc.metric.String(), func(t *testing.T) {
			x := build(t, tc.metric, tc.data)
			if x.Len() != len(tc.data) {
				t.Fatalf("Len = %d", x.Len())
			}
			f, _ := flat.New(16, tc.metric)
			f.AddBatch(context.Background(), seqIDs(len(tc.data)), tc.data)
			hits := 0
			queries := tc.data[:100]
			for _, q := range queries {
				res, err := x.Search(q, 10, index.SearchOptions{Ef: 40})
				if err != nil {
					t.Fatal(err)
				}
				if len(res) != 10 {
					t.Fatalf("%d results", len(res))
				}
				for i, r := range res {
					if r.ID >= uint64(len(tc.data)) {
						t.Fatalf("unknown id %d", r.ID)
					}
					want := vec.Distance(tc.metric, q, tc.data[r.ID])
					if math.Abs(float64(r.Distance-want)) > 1e-4 {
						t.Fatalf("distance %g for id %d, want %g", r.Distance, r.ID, want)
					}
					if i > 0 && res[i-1].Distance > r.Distance {
						t.Fatalf("not sorted: %v", res)
					}
				}
				exact, _ := f.Search(q, 10, index.SearchOptions{})
				for _, e := range exact {
					for _, r := range res {
						if r.ID == e.ID {
							hits++
						}
					}
				}
			}
			t.Logf("coder/hnsw recall@10 = %.3f (not asserted)", float64(hits)/float64(10*len(queries)))
		})
	}
}

func TestFilterAndDelete(t *testing.T) {
	data := testdata.Mixture(3, 800, 8, 5, 0.05)
	x := build(t, index.Cosine, data)
	keep := func(id uint64) bool { return id%5 == 1 }
	for _, q := range data[:30] {
		res, err := x.Search(q, 7, index.SearchOptions{Filter: keep})
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 7 {
			t.Fatalf("%d filtered results, want 7", len(res))
		}
		for _, r := range res {
			if !keep(r.ID) {
				t.Fatalf("id %d rejected by the filter returned", r.ID)
			}
		}
	}
	for id := uint64(0); id < 800; id += 4 {
		if err := x.Delete(id); err != nil {
			t.Fatal(err)
		}
	}
	if err := x.Delete(0); !errors.Is(err, index.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if x.Len() != 600 {
		t.Fatalf("Len = %d after deletes", x.Len())
	}
	// The library's Delete can leave links to deleted nodes behind
	// (github.com/coder/hnsw issue #13), after which its Search may follow one
	// into a nil node and panic. The adapter must turn that into an error and
	// must never return a deleted id.
	panics := 0
	for _, q := range data[:100] {
		res, err := x.Search(q, 10, index.SearchOptions{})
		if err != nil {
			if !strings.Contains(err.Error(), "panicked") {
				t.Fatalf("unexpected error: %v", err)
			}
			panics++
			continue
		}
		for _, r := range res {
			if r.ID%4 == 0 {
				t.Fatalf("deleted id %d returned", r.ID)
			}
		}
	}
	t.Logf("%d of 100 searches hit the library's panic after deletes", panics)
}

// TestDeleteAll: the library panics when a node is added after every node
// was deleted (github.com/coder/hnsw issue #10); the adapter reports it.
func TestDeleteAll(t *testing.T) {
	x, _ := New(2, Config{})
	if err := x.Add(1, []float32{1, 0}); err != nil {
		t.Fatal(err)
	}
	if err := x.Delete(1); err != nil {
		t.Fatal(err)
	}
	if x.Len() != 0 {
		t.Fatalf("Len = %d", x.Len())
	}
	if res, err := x.Search([]float32{1, 0}, 1, index.SearchOptions{}); err != nil || len(res) != 0 {
		t.Fatalf("search of an emptied graph: %v, %v", res, err)
	}
	err := x.Add(1, []float32{0, 1})
	if err != nil && !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("add after deleting all: %v", err)
	}
	t.Logf("add after deleting all: %v", err)
}

func TestInvalidInput(t *testing.T) {
	_, errIP := New(4, Config{Metric: index.InnerProduct})
	_, errDim := New(0, Config{})
	x, _ := New(4, Config{})
	_, errSearch := x.Search([]float32{1}, 1, index.SearchOptions{})
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"inner product", errIP, index.ErrInvalidInput},
		{"zero dim", errDim, index.ErrInvalidInput},
		{"add dim", x.Add(1, []float32{1, 2}), index.ErrDimension},
		{"search dim", errSearch, index.ErrDimension},
		{"delete absent", x.Delete(3), index.ErrNotFound},
	}
	for _, tc := range tests {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, tc.err, tc.want)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := x.AddBatch(ctx, []uint64{1}, [][]float32{{1, 0, 0, 0}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled AddBatch: %v", err)
	}
}

func TestSaveLoad(t *testing.T) {
	data := testdata.Mixture(4, 400, 8, 5, 0.05)
	x := build(t, index.Cosine, data)
	var buf bytes.Buffer
	if err := x.Save(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	y, err := Load(bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if y.Len() != x.Len() || y.Dim() != 8 {
		t.Fatalf("loaded Len %d Dim %d", y.Len(), y.Dim())
	}
	// The library's layer entry points come from map iteration, so answers
	// may differ run to run (and its recall is low); the stored vectors must
	// not differ.
	for id, v := range data {
		got, ok := y.g.Lookup(uint64(id))
		if !ok || !reflect.DeepEqual(got, v) {
			t.Fatalf("id %d: loaded vector %v (present %v), want %v", id, got, ok, v)
		}
	}
	for off := 0; off < len(good); off += max(1, len(good)/300) {
		if _, err := Load(bytes.NewReader(good[:off])); !errors.Is(err, index.ErrCorrupt) {
			t.Fatalf("truncated at %d: %v", off, err)
		}
		b := bytes.Clone(good)
		b[off] ^= 0x10
		_, err := Load(bytes.NewReader(b))
		if !errors.Is(err, index.ErrCorrupt) && !(off >= 8 && off < 12 && errors.Is(err, index.ErrVersion)) {
			t.Fatalf("byte %d flipped: %v", off, err)
		}
	}
}
