package flat

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"testing"

	"mmsearch/index"
	"mmsearch/index/internal/testdata"
)

func seqIDs(n int) []uint64 {
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(i)
	}
	return ids
}

type cand struct {
	id uint64
	d  float64
}

// bruteForce ranks data (by position id) in float64, nearest first, ties by id.
func bruteForce(metric index.Metric, q []float32, data [][]float32, keep func(uint64) bool) []cand {
	var all []cand
	for i, v := range data {
		if keep != nil && !keep(uint64(i)) {
			continue
		}
		var dot, l2 float64
		for j := range v {
			dot += float64(q[j]) * float64(v[j])
			d := float64(q[j]) - float64(v[j])
			l2 += d * d
		}
		d := l2
		switch metric {
		case index.Cosine:
			d = 1 - dot
		case index.InnerProduct:
			d = -dot
		}
		all = append(all, cand{uint64(i), d})
	}
	slices.SortFunc(all, func(a, b cand) int {
		switch {
		case a.d < b.d:
			return -1
		case a.d > b.d:
			return 1
		}
		return int(a.id) - int(b.id)
	})
	return all
}

// checkExact asserts res is the exact top-k: same distances as brute force
// (within float32 rounding) and ids that belong at those distances.
func checkExact(t *testing.T, res []index.Result, want []cand, k int) {
	t.Helper()
	if len(res) != min(k, len(want)) {
		t.Fatalf("%d results, want %d", len(res), min(k, len(want)))
	}
	dist := map[uint64]float64{}
	for _, c := range want {
		dist[c.id] = c.d
	}
	for i, r := range res {
		tol := 1e-5 * math.Max(1, math.Abs(want[i].d))
		if math.Abs(float64(r.Distance)-want[i].d) > tol {
			t.Fatalf("result %d distance %g, want %g", i, r.Distance, want[i].d)
		}
		d, ok := dist[r.ID]
		if !ok || math.Abs(d-want[i].d) > 2*tol {
			t.Fatalf("result %d is id %d (distance %g), not one of the exact neighbours", i, r.ID, d)
		}
		if i > 0 && res[i-1].Distance > r.Distance {
			t.Fatalf("results out of order: %v", res)
		}
	}
}

func TestExact(t *testing.T) {
	tests := []struct {
		name   string
		metric index.Metric
		data   [][]float32
	}{
		{"cosine small", index.Cosine, testdata.Mixture(1, 300, 16, 5, 0.05)},
		{"cosine parallel", index.Cosine, testdata.Mixture(2, 6000, 24, 20, 0.05)},
		{"ip parallel", index.InnerProduct, testdata.Gaussian(3, 5000, 20)},
		{"l2 parallel", index.L2, testdata.Gaussian(4, 5000, 20)},
		{"l2 tiny", index.L2, testdata.Gaussian(5, 3, 7)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dim := len(tc.data[0])
			x, err := New(dim, tc.metric)
			if err != nil {
				t.Fatal(err)
			}
			if err := x.AddBatch(context.Background(), seqIDs(len(tc.data)), tc.data); err != nil {
				t.Fatal(err)
			}
			queries := testdata.Gaussian(9, 20, dim)
			for _, q := range queries {
				for _, k := range []int{1, 10, 100} {
					res, err := x.Search(q, k, index.SearchOptions{})
					if err != nil {
						t.Fatal(err)
					}
					checkExact(t, res, bruteForce(tc.metric, q, tc.data, nil), k)
				}
			}
		})
	}
}

func TestFilter(t *testing.T) {
	data, queries := testdata.MixtureWithQueries(6, 5000, 1, 16, 10, 0.05)
	x, _ := New(16, index.Cosine)
	if err := x.AddBatch(context.Background(), seqIDs(len(data)), data); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		keep func(uint64) bool
		k    int
	}{
		{"mod 7", func(id uint64) bool { return id%7 == 0 }, 10},
		{"three ids", func(id uint64) bool { return id == 5 || id == 4000 || id == 123 }, 10},
		{"none", func(uint64) bool { return false }, 5},
	}
	q := queries[0]
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := x.Search(q, tc.k, index.SearchOptions{Filter: tc.keep})
			if err != nil {
				t.Fatal(err)
			}
			checkExact(t, res, bruteForce(index.Cosine, q, data, tc.keep), tc.k)
			for _, r := range res {
				if !tc.keep(r.ID) {
					t.Fatalf("id %d rejected by the filter returned", r.ID)
				}
			}
		})
	}
}

func TestAddDeleteReplace(t *testing.T) {
	x, _ := New(2, index.L2)
	for i, v := range [][]float32{{0, 0}, {1, 0}, {2, 0}, {3, 0}} {
		if err := x.Add(uint64(10+i), v); err != nil {
			t.Fatal(err)
		}
	}
	if err := x.Delete(11); err != nil {
		t.Fatal(err)
	}
	if err := x.Delete(11); !errors.Is(err, index.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if err := x.Add(12, []float32{0, 5}); err != nil { // replace
		t.Fatal(err)
	}
	res, err := x.Search([]float32{0, 0}, 10, index.SearchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []index.Result{{ID: 10, Distance: 0}, {ID: 13, Distance: 9}, {ID: 12, Distance: 25}}
	if !reflect.DeepEqual(res, want) {
		t.Fatalf("got %v, want %v", res, want)
	}
	if x.Len() != 3 {
		t.Fatalf("Len = %d", x.Len())
	}
}

func TestInvalidInput(t *testing.T) {
	x, _ := New(3, index.Cosine)
	_, errSearch := x.Search([]float32{1, 2}, 1, index.SearchOptions{})
	_, errK := x.Search([]float32{1, 2, 3}, -1, index.SearchOptions{})
	_, errNew := New(0, index.Cosine)
	_, errMetric := New(3, index.Metric(7))
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"add dim", x.Add(1, []float32{1}), index.ErrDimension},
		{"add inf", x.Add(1, []float32{1, float32(math.Inf(1)), 0}), index.ErrInvalidInput},
		{"search dim", errSearch, index.ErrDimension},
		{"negative k", errK, index.ErrInvalidInput},
		{"batch lengths", x.AddBatch(context.Background(), []uint64{1}, nil), index.ErrInvalidInput},
		{"delete absent", x.Delete(4), index.ErrNotFound},
		{"zero dim", errNew, index.ErrInvalidInput},
		{"bad metric", errMetric, index.ErrInvalidInput},
	}
	for _, tc := range tests {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, tc.err, tc.want)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := x.AddBatch(ctx, []uint64{1}, [][]float32{{1, 0, 0}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled AddBatch: %v", err)
	}
	if x.Len() != 0 {
		t.Fatalf("Len = %d after failed adds", x.Len())
	}
}

func TestConcurrent(t *testing.T) {
	data := testdata.Mixture(8, 2000, 8, 5, 0.05)
	x, _ := New(8, index.Cosine)
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 1000 {
			if err := x.Add(uint64(i), data[i]); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Go(func() {
		if err := x.AddBatch(context.Background(), seqIDs(2000)[1000:], data[1000:]); err != nil {
			t.Error(err)
		}
	})
	for range 2 {
		wg.Go(func() {
			for i := range 200 {
				res, err := x.Search(data[i], 5, index.SearchOptions{})
				if err != nil {
					t.Error(err)
					return
				}
				for _, r := range res {
					if r.ID >= 2000 {
						t.Errorf("unknown id %d", r.ID)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if x.Len() != 2000 {
		t.Fatalf("Len = %d", x.Len())
	}
}

func TestSaveLoad(t *testing.T) {
	data := testdata.Gaussian(10, 700, 12)
	x, _ := New(12, index.InnerProduct)
	if err := x.AddBatch(context.Background(), seqIDs(700), data); err != nil {
		t.Fatal(err)
	}
	for id := uint64(0); id < 700; id += 13 {
		if err := x.Delete(id); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := x.Save(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	y, err := Load(bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if y.Len() != x.Len() || y.Dim() != 12 || y.Metric() != index.InnerProduct {
		t.Fatalf("loaded Len %d Dim %d Metric %v", y.Len(), y.Dim(), y.Metric())
	}
	for _, q := range testdata.Gaussian(11, 20, 12) {
		a, _ := x.Search(q, 10, index.SearchOptions{})
		b, _ := y.Search(q, 10, index.SearchOptions{})
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("loaded index answers %v, want %v", b, a)
		}
	}
	path := filepath.Join(t.TempDir(), "f.flat")
	if err := x.SaveFile(path); err != nil {
		t.Fatal(err)
	}
	if z, err := LoadFile(path); err != nil || z.Len() != x.Len() {
		t.Fatalf("LoadFile: %v", err)
	}

	// Damage: truncation anywhere and a flipped byte anywhere must fail.
	var parts []int // section starts
	for off := 12; off < len(good); {
		parts = append(parts, off)
		off += 12 + int(binary.LittleEndian.Uint64(good[off+4:])) + 4
	}
	if len(parts) != 3 {
		t.Fatalf("found %d sections, want 3", len(parts))
	}
	check := func(what string, b []byte, versionField bool) {
		t.Helper()
		_, err := Load(bytes.NewReader(b))
		if err == nil {
			t.Fatalf("%s: Load succeeded", what)
		}
		if !errors.Is(err, index.ErrCorrupt) && !(versionField && errors.Is(err, index.ErrVersion)) {
			t.Fatalf("%s: %v does not wrap ErrCorrupt", what, err)
		}
	}
	for off := 0; off < len(good); off += max(1, len(good)/500) {
		check("truncated", good[:off], false)
		b := bytes.Clone(good)
		b[off] ^= 0xff
		check("flipped", b, off >= 8 && off < 12)
	}
	for _, p := range parts {
		for _, off := range []int{p, p + 5, p + 12, p + 13} {
			check("truncated at section", good[:off], false)
			b := bytes.Clone(good)
			b[off] ^= 1
			check("flipped in section", b, false)
		}
	}
}

func BenchmarkSearch(b *testing.B) {
	data := testdata.Mixture(12, 50000, 128, 100, 0.06)
	x, _ := New(128, index.Cosine)
	if err := x.AddBatch(context.Background(), seqIDs(len(data)), data); err != nil {
		b.Fatal(err)
	}
	q := data[0]
	for b.Loop() {
		if _, err := x.Search(q, 10, index.SearchOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
