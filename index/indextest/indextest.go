// Package indextest is the conformance suite of index.Index: every backend
// (hnsw, flat, coderhnsw, and any remote one) runs it from its own tests, so
// the engine can rely on the same behaviour from all of them: add, replace,
// delete, vectors by id, filters, compaction, persistence through the
// Backend's Load, damage detection and concurrent use.
package indextest

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"mmsearch/index"
)

// Options describes what a backend promises beyond the interface.
type Options struct {
	// MinSelfRecall is the share of stored vectors that must find themselves
	// first when searched with Ef 200 (1 for exact indexes).
	MinSelfRecall float64
	// BrokenDelete, when set, says why the backend's Delete and replacing
	// Add cannot be relied on; the cases that delete or replace are skipped
	// with this reason, and Concurrent only adds and searches.
	BrokenDelete string
}

// Run runs the suite against backend, whose indexes rank by cosine distance.
func Run(t *testing.T, backend index.Backend, opt Options) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, index.Backend, Options)
	}{
		{"AddSearch", testAddSearch},
		{"AddBatch", testAddBatch},
		{"Vector", testVector},
		{"Replace", testReplace},
		{"Delete", testDelete},
		{"Compact", testCompact},
		{"Filter", testFilter},
		{"Dimension", testDimension},
		{"SaveLoad", testSaveLoad},
		{"LoadDamaged", testLoadDamaged},
		{"Concurrent", testConcurrent},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, backend, opt) })
	}
}

const dim = 16

// Vectors returns n seeded random unit vectors of dimension d.
func Vectors(seed uint64, n, d int) [][]float32 {
	rng := rand.New(rand.NewPCG(seed, seed^0x5bd1e995))
	out := make([][]float32, n)
	for i := range out {
		v := make([]float32, d)
		var s float64
		for j := range v {
			x := rng.NormFloat64()
			v[j] = float32(x)
			s += x * x
		}
		for j := range v {
			v[j] /= float32(math.Sqrt(s))
		}
		out[i] = v
	}
	return out
}

func newIndex(t *testing.T, b index.Backend) index.Index {
	t.Helper()
	x, err := b.New(dim)
	if err != nil {
		t.Fatalf("%s: New: %v", b.Name, err)
	}
	if x.Dim() != dim || x.Len() != 0 || x.Metric() != index.Cosine {
		t.Fatalf("%s: new index: dim %d len %d metric %v", b.Name, x.Dim(), x.Len(), x.Metric())
	}
	return x
}

// filled returns an index holding vecs under ids 1..len(vecs).
func filled(t *testing.T, b index.Backend, vecs [][]float32) index.Index {
	t.Helper()
	x := newIndex(t, b)
	for i, v := range vecs {
		if err := x.Add(uint64(i+1), v); err != nil {
			t.Fatalf("Add(%d): %v", i+1, err)
		}
	}
	return x
}

// selfRecall is the share of ids whose own vector finds them first.
func selfRecall(t *testing.T, x index.Index, vecs [][]float32, ids []uint64) float64 {
	t.Helper()
	hits := 0
	for _, id := range ids {
		res, err := x.Search(vecs[id-1], 1, index.SearchOptions{Ef: 200})
		if err != nil {
			t.Fatal(err)
		}
		if len(res) == 1 && res[0].ID == id {
			hits++
		}
	}
	return float64(hits) / float64(len(ids))
}

func allIDs(n int) []uint64 {
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(i + 1)
	}
	return ids
}

func skipBrokenDelete(t *testing.T, opt Options) {
	t.Helper()
	if opt.BrokenDelete != "" {
		t.Skip(opt.BrokenDelete)
	}
}

func testAddSearch(t *testing.T, b index.Backend, opt Options) {
	vecs := Vectors(1, 300, dim)
	x := filled(t, b, vecs)
	if x.Len() != len(vecs) {
		t.Fatalf("Len %d, want %d", x.Len(), len(vecs))
	}
	if r := selfRecall(t, x, vecs, allIDs(len(vecs))); r < opt.MinSelfRecall {
		t.Fatalf("self recall %.3f, want ≥ %.3f", r, opt.MinSelfRecall)
	}
	res, err := x.Search(vecs[0], 10, index.SearchOptions{Ef: 50})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 10 {
		t.Fatalf("%d results, want 10", len(res))
	}
	if !slices.IsSortedFunc(res, func(a, b index.Result) int { return cmpf(a.Distance, b.Distance) }) {
		t.Fatalf("results not nearest first: %v", res)
	}
	if d := res[0].Distance; d < -1e-4 || d > 2+1e-4 {
		t.Fatalf("cosine distance %g outside [0, 2]", d)
	}
	if res, err := x.Search(vecs[0], 1000, index.SearchOptions{Ef: 1000}); err != nil || len(res) > len(vecs) {
		t.Fatalf("k over Len: %d results, %v", len(res), err)
	}
}

func cmpf(a, b float32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func testAddBatch(t *testing.T, b index.Backend, opt Options) {
	vecs := Vectors(2, 300, dim)
	x := newIndex(t, b)
	if err := x.AddBatch(context.Background(), allIDs(len(vecs)), vecs); err != nil {
		t.Fatal(err)
	}
	if x.Len() != len(vecs) {
		t.Fatalf("Len %d, want %d", x.Len(), len(vecs))
	}
	if r := selfRecall(t, x, vecs, allIDs(len(vecs))); r < opt.MinSelfRecall {
		t.Fatalf("self recall %.3f, want ≥ %.3f", r, opt.MinSelfRecall)
	}
	if err := x.AddBatch(context.Background(), []uint64{1, 2}, vecs[:1]); err == nil {
		t.Fatal("AddBatch with 2 ids and 1 vector: no error")
	}
}

func testVector(t *testing.T, b index.Backend, _ Options) {
	vecs := Vectors(3, 50, dim)
	x := filled(t, b, vecs)
	for i, want := range vecs {
		got, err := x.Vector(uint64(i + 1))
		if err != nil {
			t.Fatal(err)
		}
		if !near(got, want) {
			t.Fatalf("Vector(%d) = %v, want %v", i+1, got, want)
		}
		got[0] = 42 // a copy: the index must not change
	}
	if got, _ := x.Vector(1); got[0] == 42 {
		t.Fatal("Vector returned the index's own storage")
	}
	if _, err := x.Vector(9999); !errors.Is(err, index.ErrNotFound) {
		t.Fatalf("Vector(absent) = %v, want ErrNotFound", err)
	}
}

// near reports whether a and b match within float32 rounding (backends may
// store a normalized copy).
func near(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-5 {
			return false
		}
	}
	return true
}

func testReplace(t *testing.T, b index.Backend, opt Options) {
	skipBrokenDelete(t, opt)
	vecs := Vectors(4, 60, dim)
	x := filled(t, b, vecs[:50])
	if err := x.Add(7, vecs[55]); err != nil {
		t.Fatal(err)
	}
	if x.Len() != 50 {
		t.Fatalf("Len after replacing %d, want 50", x.Len())
	}
	got, err := x.Vector(7)
	if err != nil || !near(got, vecs[55]) {
		t.Fatalf("Vector(7) after replace = %v, %v", got, err)
	}
	res, err := x.Search(vecs[55], 1, index.SearchOptions{Ef: 100})
	if err != nil || len(res) != 1 || res[0].ID != 7 {
		t.Fatalf("search for the replacement: %v, %v", res, err)
	}
}

func testDelete(t *testing.T, b index.Backend, opt Options) {
	skipBrokenDelete(t, opt)
	vecs := Vectors(5, 200, dim)
	x := filled(t, b, vecs)
	gone := map[uint64]bool{}
	for id := uint64(1); id <= 200; id += 3 {
		if err := x.Delete(id); err != nil {
			t.Fatalf("Delete(%d): %v", id, err)
		}
		gone[id] = true
	}
	if x.Len() != 200-len(gone) {
		t.Fatalf("Len %d, want %d", x.Len(), 200-len(gone))
	}
	if err := x.Delete(1); !errors.Is(err, index.ErrNotFound) {
		t.Fatalf("second Delete(1) = %v, want ErrNotFound", err)
	}
	if _, err := x.Vector(1); !errors.Is(err, index.ErrNotFound) {
		t.Fatalf("Vector(deleted) = %v, want ErrNotFound", err)
	}
	assertNone(t, x, vecs, gone)
	var left []uint64
	for _, id := range allIDs(200) {
		if !gone[id] {
			left = append(left, id)
		}
	}
	if r := selfRecall(t, x, vecs, left); r < opt.MinSelfRecall {
		t.Fatalf("self recall after deletes %.3f, want ≥ %.3f", r, opt.MinSelfRecall)
	}
}

// assertNone checks that no search returns a deleted id.
func assertNone(t *testing.T, x index.Index, vecs [][]float32, gone map[uint64]bool) {
	t.Helper()
	for id := range gone {
		res, err := x.Search(vecs[id-1], 20, index.SearchOptions{Ef: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if gone[r.ID] {
				t.Fatalf("search returned deleted id %d", r.ID)
			}
		}
	}
}

func testCompact(t *testing.T, b index.Backend, opt Options) {
	skipBrokenDelete(t, opt)
	vecs := Vectors(6, 300, dim)
	x := filled(t, b, vecs)
	gone := map[uint64]bool{}
	var left []uint64
	for _, id := range allIDs(300) {
		if id%2 == 0 {
			if err := x.Delete(id); err != nil {
				t.Fatal(err)
			}
			gone[id] = true
		} else {
			left = append(left, id)
		}
	}
	if err := x.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	if x.Deleted() != 0 || x.Len() != len(left) {
		t.Fatalf("after Compact: Deleted %d, Len %d, want 0, %d", x.Deleted(), x.Len(), len(left))
	}
	assertNone(t, x, vecs, gone)
	if r := selfRecall(t, x, vecs, left); r < opt.MinSelfRecall {
		t.Fatalf("self recall after Compact %.3f, want ≥ %.3f", r, opt.MinSelfRecall)
	}
	for _, id := range left[:10] {
		if v, err := x.Vector(id); err != nil || !near(v, vecs[id-1]) {
			t.Fatalf("Vector(%d) after Compact: %v", id, err)
		}
	}
}

func testFilter(t *testing.T, b index.Backend, _ Options) {
	vecs := Vectors(7, 200, dim)
	x := filled(t, b, vecs)
	even := func(id uint64) bool { return id%2 == 0 }
	res, err := x.Search(vecs[0], 10, index.SearchOptions{Ef: 100, Filter: even})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 10 {
		t.Fatalf("filtered search: %d results, want 10", len(res))
	}
	for _, r := range res {
		if !even(r.ID) {
			t.Fatalf("filter let %d through", r.ID)
		}
	}
}

func testDimension(t *testing.T, b index.Backend, _ Options) {
	x := newIndex(t, b)
	if err := x.Add(1, make([]float32, dim+1)); !errors.Is(err, index.ErrDimension) {
		t.Fatalf("Add with dimension %d: %v, want ErrDimension", dim+1, err)
	}
	if _, err := x.Search(make([]float32, dim-1), 1, index.SearchOptions{}); !errors.Is(err, index.ErrDimension) {
		t.Fatalf("Search with dimension %d: %v, want ErrDimension", dim-1, err)
	}
}

func save(t *testing.T, x index.Index) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := x.Save(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func testSaveLoad(t *testing.T, b index.Backend, opt Options) {
	skipBrokenDelete(t, opt)
	vecs := Vectors(8, 200, dim)
	x := filled(t, b, vecs)
	for id := uint64(2); id <= 200; id += 10 {
		if err := x.Delete(id); err != nil {
			t.Fatal(err)
		}
	}
	y, err := b.Load(bytes.NewReader(save(t, x)))
	if err != nil {
		t.Fatal(err)
	}
	if y.Len() != x.Len() || y.Dim() != x.Dim() || y.Metric() != x.Metric() {
		t.Fatalf("loaded: len %d dim %d metric %v, saved len %d dim %d metric %v", y.Len(), y.Dim(), y.Metric(), x.Len(), x.Dim(), x.Metric())
	}
	for _, id := range allIDs(200) {
		want, werr := x.Vector(id)
		got, gerr := y.Vector(id)
		if (werr == nil) != (gerr == nil) || (werr == nil && !near(got, want)) {
			t.Fatalf("Vector(%d): loaded %v %v, saved %v %v", id, got, gerr, want, werr)
		}
	}
	for i := 0; i < 20; i++ {
		q := vecs[i*7]
		a, err := x.Search(q, 5, index.SearchOptions{Ef: 100})
		if err != nil {
			t.Fatal(err)
		}
		c, err := y.Search(q, 5, index.SearchOptions{Ef: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(a) != len(c) || len(a) == 0 || a[0].ID != c[0].ID {
			t.Fatalf("query %d: saved %v, loaded %v", i, a, c)
		}
	}
	// The loaded index keeps working.
	if err := y.Add(1000, vecs[1]); err != nil || y.Len() != x.Len()+1 {
		t.Fatalf("Add after Load: %v, len %d", err, y.Len())
	}
}

func testLoadDamaged(t *testing.T, b index.Backend, _ Options) {
	x := filled(t, b, Vectors(9, 100, dim))
	good := save(t, x)
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"truncated", good[:len(good)/2]},
		{"flipped", func() []byte {
			d := slices.Clone(good)
			d[len(d)/2] ^= 0x10
			return d
		}()},
		{"bad magic", func() []byte {
			d := slices.Clone(good)
			d[0] ^= 0xff
			return d
		}()},
	} {
		if _, err := b.Load(bytes.NewReader(tc.data)); err == nil {
			t.Errorf("Load of %s file: no error", tc.name)
		} else if !errors.Is(err, index.ErrCorrupt) && !errors.Is(err, index.ErrVersion) {
			t.Errorf("Load of %s file: %v, want ErrCorrupt", tc.name, err)
		}
	}
}

func testConcurrent(t *testing.T, b index.Backend, opt Options) {
	vecs := Vectors(10, 400, dim)
	x := filled(t, b, vecs[:100])
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 100; i < 400; i++ {
			if err := x.Add(uint64(i+1), vecs[i]); err != nil {
				t.Error(err)
				return
			}
			if i%5 == 0 && opt.BrokenDelete == "" {
				if err := x.Delete(uint64(i - 50)); err != nil {
					t.Error(err)
					return
				}
			}
		}
	})
	for g := range 3 {
		wg.Go(func() {
			for i := range 200 {
				if _, err := x.Search(vecs[(i*g)%400], 5, index.SearchOptions{Ef: 32}); err != nil {
					t.Error(err)
					return
				}
				if _, err := x.Vector(uint64(1 + i%100)); err != nil && !errors.Is(err, index.ErrNotFound) {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	want := 400 - 60
	if opt.BrokenDelete != "" {
		want = 400
	}
	if x.Len() != want {
		t.Fatalf("Len %d after concurrent adds and deletes, want %d", x.Len(), want)
	}
}
