package hnsw

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"mmsearch/index"
	"mmsearch/index/internal/format"
	"mmsearch/index/internal/testdata"
)

// heapMapping is an index.Mapping over bytes in the heap, recording Close.
type heapMapping struct {
	b      []byte
	closed bool
}

func (m *heapMapping) Bytes() []byte   { return m.b }
func (m *heapMapping) Writable() error { return nil }
func (m *heapMapping) Close() error    { m.closed = true; return nil }

// saved builds an index over n mixture vectors (every 9th deleted) and
// returns it with its saved bytes and some queries.
func saved(t *testing.T, n int, cfg Config) (*Index, []byte, [][]float32) {
	t.Helper()
	data, queries := testdata.MixtureWithQueries(31, n, 20, 16, 8, 0.05)
	x, err := New(16, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(i)*5 + 2
	}
	if err := x.AddBatch(context.Background(), ids, data); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i += 9 {
		if err := x.Delete(ids[i]); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := x.Save(&buf); err != nil {
		t.Fatal(err)
	}
	return x, buf.Bytes(), queries
}

// sameAnswers checks that y answers every query as x does, exhaustively
// too (k and ef = everything, which visits every reachable node).
func sameAnswers(t *testing.T, x, y *Index, queries [][]float32) {
	t.Helper()
	for _, q := range queries {
		for _, o := range []struct{ k, ef int }{{10, 0}, {10, 100}, {x.Len(), x.Len() + x.Deleted()}} {
			a, err := x.Search(q, o.k, index.SearchOptions{Ef: o.ef})
			if err != nil {
				t.Fatal(err)
			}
			b, err := y.Search(q, o.k, index.SearchOptions{Ef: o.ef})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("k=%d ef=%d: mapped index answers\n%v\nwant\n%v", o.k, o.ef, b, a)
			}
		}
		// The exact scan of a set (every third id saved(...) gives, some
		// deleted, and one absent) reads the mapped vectors too.
		ids := []uint64{1}
		for i := 0; i < x.Len()+x.Deleted(); i += 3 {
			ids = append(ids, uint64(i)*5+2)
		}
		a, err := x.SearchIDs(q, 10, ids)
		if err != nil {
			t.Fatal(err)
		}
		b, err := y.SearchIDs(q, 10, ids)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) || (len(ids) > 2 && x.Contains(ids[2]) && len(a) == 0) {
			t.Fatalf("SearchIDs: mapped index answers\n%v\nwant\n%v", b, a)
		}
	}
}

// TestMapFile maps saved files (empty, small, across chunks) from disk:
// the mapped index answers as the saved one, saves the same bytes, and
// after a change (which makes it its own copy) keeps the file untouched.
func TestMapFile(t *testing.T) {
	for _, n := range []int{0, 1, 700, chunkSize + 300} {
		t.Run(itoa(n), func(t *testing.T) {
			x, b, queries := saved(t, n, Config{M: 6, EfConstruction: 40, Seed: 3})
			path := filepath.Join(t.TempDir(), "x.hnsw")
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			y, err := OpenFile(path)
			if err != nil {
				t.Fatal(err)
			}
			defer y.Close()
			if y.mapping == nil || !y.pending.Load() || y.lazy == nil {
				t.Fatal("OpenFile did not map the file")
			}
			if y.Len() != x.Len() || y.Deleted() != x.Deleted() || y.Config() != x.Config() {
				t.Fatalf("mapped Len/Deleted/Config %d/%d/%+v, want %d/%d/%+v", y.Len(), y.Deleted(), y.Config(), x.Len(), x.Deleted(), x.Config())
			}
			sameAnswers(t, x, y, queries)
			if n > 1 {
				want, _ := x.Vector(7)
				got, err := y.Vector(7)
				if err != nil || !reflect.DeepEqual(got, want) {
					t.Fatalf("Vector(7) = %v, %v", got, err)
				}
			}
			var again bytes.Buffer
			if err := y.Save(&again); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again.Bytes(), b) {
				t.Fatal("saving a mapped index gives different bytes")
			}
			// Change both the same way: the mapped one copies on write.
			for _, z := range []*Index{x, y} {
				if err := z.Add(1<<40, queries[0]); err != nil {
					t.Fatal(err)
				}
				if n > 2 {
					if err := z.Delete(7); err != nil {
						t.Fatal(err)
					}
					if err := z.Compact(context.Background()); err != nil {
						t.Fatal(err)
					}
				}
			}
			if y.pending.Load() || y.lazy != nil {
				t.Fatal("a changed mapped index still checks lazily")
			}
			sameAnswers(t, x, y, queries)
			onDisk, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(onDisk, b) {
				t.Fatal("changing the mapped index changed its file")
			}
			if err := y.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := y.Search(queries[0], 3, index.SearchOptions{}); !errors.Is(err, index.ErrClosed) {
				t.Fatalf("search after Close: %v, want ErrClosed", err)
			}
			if err := y.Add(5, queries[0]); !errors.Is(err, index.ErrClosed) {
				t.Fatalf("add after Close: %v, want ErrClosed", err)
			}
		})
	}
}

// TestMapCorrupt damages a saved file and maps it. Truncation and damage to
// the small sections fail Map at once. Damage to a vector or a layer-0 link
// list is found when a search first reaches the node: every search either
// fails with ErrCorrupt or answers exactly as the intact index (it never
// used the damaged node; most damaged files are met by some search), and
// Verify, Add and Save fail.
func TestMapCorrupt(t *testing.T) {
	x, good, queries := saved(t, 600, Config{M: 4, EfConstruction: 30, Seed: 5})
	bounds := sectionBounds(t, good)
	if len(bounds) != 9 {
		t.Fatalf("found %d parts, want the preamble and 8 sections", len(bounds))
	}
	mapErr := func(b []byte) error {
		m := &heapMapping{b: b}
		y, err := Map(m)
		if err == nil {
			y.Close()
		}
		if err != nil && m.closed {
			t.Fatal("Map closed the mapping it failed on")
		}
		return err
	}
	t.Run("truncated", func(t *testing.T) {
		for off := 0; off < len(good); off += 1 + off/7 {
			if err := mapErr(good[:off]); !errors.Is(err, index.ErrCorrupt) {
				t.Fatalf("truncated at %d: %v, want ErrCorrupt", off, err)
			}
		}
		if err := mapErr(append(bytes.Clone(good), 0)); !errors.Is(err, index.ErrCorrupt) {
			t.Fatalf("a byte appended: %v, want ErrCorrupt", err)
		}
	})
	t.Run("small sections", func(t *testing.T) {
		// Preamble, HEAD, PAD, LABL, PAD, UPPR, NCRC; version bytes give
		// ErrVersion.
		for _, part := range []int{0, 1, 2, 4, 5, 7, 8} {
			bd := bounds[part]
			step := max(1, (bd[1]-bd[0])/150)
			for off := bd[0]; off < bd[1]; off += step {
				b := bytes.Clone(good)
				b[off] ^= 0x21
				err := mapErr(b)
				if !errors.Is(err, index.ErrCorrupt) && !(off >= 8 && off < 12 && errors.Is(err, index.ErrVersion)) {
					t.Fatalf("part %d byte %d flipped: %v, want ErrCorrupt", part, off, err)
				}
			}
		}
	})
	for _, tc := range []struct {
		name string
		part int
	}{{"flipped byte in vectors", 3}, {"flipped byte in links", 6}} {
		t.Run(tc.name, func(t *testing.T) {
			bd := bounds[tc.part]
			payload := [2]int{bd[0] + 12, bd[1] - 4}
			step := max(1, (payload[1]-payload[0])/60)
			lazyFound, scanFound, searchFound := 0, 0, 0
			for off := payload[0]; off < payload[1]; off += step {
				b := bytes.Clone(good)
				b[off] ^= 0x40
				y, err := Map(&heapMapping{b: b})
				if err != nil {
					if !errors.Is(err, index.ErrCorrupt) {
						t.Fatalf("byte %d: Map: %v, want ErrCorrupt", off, err)
					}
					continue // the entry point's own data
				}
				failed := false
				for _, q := range queries {
					for _, o := range []struct{ k, ef int }{{5, 0}, {x.Len(), x.Len() + x.Deleted()}} {
						got, err := y.Search(q, o.k, index.SearchOptions{Ef: o.ef})
						if err != nil {
							if !errors.Is(err, index.ErrCorrupt) {
								t.Fatalf("byte %d: search: %v, want ErrCorrupt", off, err)
							}
							failed = true
							continue
						}
						want, _ := x.Search(q, o.k, index.SearchOptions{Ef: o.ef})
						if !reflect.DeepEqual(got, want) {
							t.Fatalf("byte %d: a search answered from damaged data:\n%v\nwant\n%v", off, got, want)
						}
					}
				}
				// A graph search meets the damage only if it reaches the
				// node: a deleted or unreachable one it may never touch
				// (AddBatch builds in parallel, so which nodes those are
				// differs between runs). Counted over all offsets below.
				if failed {
					searchFound++
				}
				// The exact scan of every id meets it too, unless it lies in
				// a deleted node (which the scan skips): then it answers as
				// the intact index.
				all := make([]uint64, x.Len()+x.Deleted())
				for i := range all {
					all[i] = uint64(i)*5 + 2
				}
				got, err := y.SearchIDs(queries[0], 5, all)
				if want, _ := x.SearchIDs(queries[0], 5, all); err == nil && !reflect.DeepEqual(got, want) {
					t.Fatalf("byte %d: SearchIDs answered from damaged data:\n%v\nwant\n%v", off, got, want)
				}
				if err != nil && !errors.Is(err, index.ErrCorrupt) {
					t.Fatalf("byte %d: SearchIDs: %v, want ErrCorrupt", off, err)
				}
				if err != nil {
					scanFound++
				}
				lazyFound++
				if err := y.Verify(); !errors.Is(err, index.ErrCorrupt) {
					t.Fatalf("byte %d: Verify: %v, want ErrCorrupt", off, err)
				}
				if err := y.Add(1<<41, queries[0]); !errors.Is(err, index.ErrCorrupt) {
					t.Fatalf("byte %d: Add: %v, want ErrCorrupt", off, err)
				}
				if err := y.Save(&bytes.Buffer{}); !errors.Is(err, index.ErrCorrupt) {
					t.Fatalf("byte %d: Save: %v, want ErrCorrupt", off, err)
				}
				y.Close()
			}
			if lazyFound == 0 {
				t.Fatal("every damaged file failed Map: the lazy checks went untested")
			}
			if scanFound == 0 {
				t.Fatal("SearchIDs never met the damage")
			}
			t.Logf("graph searches met the damage in %d of %d damaged files; SearchIDs in %d", searchFound, lazyFound, scanFound)
			if searchFound < lazyFound/2 {
				t.Fatalf("graph searches met the damage in %d of %d damaged files, want at least half", searchFound, lazyFound)
			}
		})
	}
}

// TestLoadVersion1 rewrites a saved file in format version 1 (no padding,
// no per-node checksums): Load still reads it, Map declines it with
// ErrVersion, and OpenFile falls back to Load.
func TestLoadVersion1(t *testing.T) {
	x, good, queries := saved(t, 500, Config{M: 6, Seed: 8})
	_, secs, err := format.Sections(good, magic, version, version)
	if err != nil {
		t.Fatal(err)
	}
	var v1 bytes.Buffer
	fw := format.NewWriter(&v1, magic, 1)
	for _, s := range secs {
		if s.Tag == format.TagPad || s.Tag == tagSums {
			continue
		}
		fw.Begin(s.Tag, uint64(len(s.Payload)))
		fw.Bytes(s.Payload)
		fw.End()
	}
	if err := fw.Err(); err != nil {
		t.Fatal(err)
	}
	y, err := Load(bytes.NewReader(v1.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	sameAnswers(t, x, y, queries)
	if _, err := Map(&heapMapping{b: v1.Bytes()}); !errors.Is(err, index.ErrVersion) {
		t.Fatalf("Map of version 1: %v, want ErrVersion", err)
	}
	path := filepath.Join(t.TempDir(), "v1.hnsw")
	if err := os.WriteFile(path, v1.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	z, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if z.mapping != nil {
		t.Fatal("a version 1 file was mapped")
	}
	sameAnswers(t, x, z, queries)
}

// TestMappedConcurrent searches a mapped index from several goroutines
// while another changes it (the first change makes it its own mid-way) and
// a last one closes it: no race, and searches either answer or report
// ErrClosed.
func TestMappedConcurrent(t *testing.T) {
	_, b, queries := saved(t, 2000, Config{M: 8, EfConstruction: 40, Seed: 4})
	y, err := Map(&heapMapping{b: b})
	if err != nil {
		t.Fatal(err)
	}
	more := testdata.Mixture(32, 300, 16, 8, 0.05)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				res, err := y.Search(queries[(g+i)%len(queries)], 10, index.SearchOptions{})
				if errors.Is(err, index.ErrClosed) {
					return
				}
				if err != nil || len(res) != 10 {
					t.Errorf("search: %d results, %v", len(res), err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i, v := range more {
			if err := y.Add(uint64(1<<32+i), v); err != nil {
				t.Errorf("add: %v", err)
				return
			}
		}
	})
	wg.Wait()
	if y.Len() != 2000-(2000+8)/9+300 {
		t.Fatalf("Len = %d after adds", y.Len())
	}
	var cl sync.WaitGroup
	for range 2 {
		cl.Go(func() {
			for range 50 {
				if _, err := y.Search(queries[0], 5, index.SearchOptions{}); err != nil && !errors.Is(err, index.ErrClosed) {
					t.Errorf("search around Close: %v", err)
					return
				}
			}
		})
	}
	if err := y.Close(); err != nil {
		t.Fatal(err)
	}
	cl.Wait()
}
