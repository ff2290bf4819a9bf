package catalog_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mmsearch/engine/catalog"
	"mmsearch/engine/store"
	"mmsearch/index"
	"mmsearch/index/flat"
	"mmsearch/index/hnsw"
	"mmsearch/index/indextest"
)

const dim = 8

var backends = []struct {
	name string
	b    index.Backend
}{
	{"hnsw", hnsw.Backend(hnsw.Config{Seed: 1})},
	{"flat", flat.Backend(index.Cosine)},
}

type fixture struct {
	dir  string
	logs *bytes.Buffer
}

func newFixture(t *testing.T) fixture {
	dir := t.TempDir()
	c := open(t, fixture{dir: dir}, backends[0].b, catalog.Options{})
	if err := c.SetModel(context.Background(), store.Model{Name: "test", Version: "1", Dim: dim, Fingerprint: "fp"}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	return fixture{dir: dir, logs: &bytes.Buffer{}}
}

func open(t *testing.T, f fixture, b index.Backend, opt catalog.Options) *catalog.Catalog {
	t.Helper()
	opt.DB = filepath.Join(f.dir, "library.db")
	opt.IndexFile = filepath.Join(f.dir, "index.bin")
	opt.Backend = b
	if f.logs != nil {
		opt.Logger = slog.New(slog.NewTextHandler(&lockedWriter{w: f.logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	c, err := catalog.Open(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// items makes n synthetic items named from prefix.
func items(prefix string, seed uint64, n int) []store.Item {
	vecs := indextest.Vectors(seed, n, dim)
	out := make([]store.Item, n)
	for i := range out {
		var h store.Hash
		copy(h[:], fmt.Sprintf("%s-%d", prefix, i))
		out[i] = store.Item{Path: fmt.Sprintf("/%s/%04d.png", prefix, i), Size: 1, MtimeNs: 1, Hash: h,
			Width: 1, Height: 1, Format: "png", Vector: vecs[i]}
	}
	return out
}

// indexed returns how many items the catalog's index holds and how many
// distinct ids a search for all of them returns.
func indexed(t *testing.T, c *catalog.Catalog, want int) (n, found int) {
	t.Helper()
	err := c.Read(context.Background(), func(v catalog.View) error {
		n = v.Len()
		res, err := v.Search(make([]float32, dim-1+1), want+10, index.SearchOptions{Ef: 4 * (want + 10)})
		if err != nil {
			return err
		}
		seen := map[uint64]bool{}
		for _, r := range res {
			seen[r.ID] = true
		}
		found = len(seen)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n, found
}

func storeCount(t *testing.T, c *catalog.Catalog) int {
	t.Helper()
	st, err := c.Reads().Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return int(st.Items)
}

func TestApplyThenRead(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			f := newFixture(t)
			c := open(t, f, be.b, catalog.Options{})
			ctx := context.Background()
			all := items("a", 1, 50)
			var ids []int64
			for i := 0; i < 50; i += 10 {
				a, err := c.Apply(ctx, catalog.Batch{Upsert: all[i : i+10]})
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, a.IDs...)
				if a.Generation != int64(i/10+1) {
					t.Fatalf("generation %d after %d batches", a.Generation, i/10+1)
				}
			}
			if _, err := c.Apply(ctx, catalog.Batch{Delete: ids[:5], Errors: []store.FileError{{Path: "/bad.png", Stage: store.StageDecode, Reason: "broken"}}}); err != nil {
				t.Fatal(err)
			}
			if n, found := indexed(t, c, 45); n != 45 || found != 45 || storeCount(t, c) != 45 {
				t.Fatalf("index %d, found %d, store %d; want 45", n, found, storeCount(t, c))
			}
			err := c.Read(ctx, func(v catalog.View) error {
				if v.Generation() != 6 {
					t.Errorf("view generation %d, want 6", v.Generation())
				}
				got, err := v.Vector(ids[7])
				if err != nil {
					return err
				}
				res, err := v.Search(got, 1, index.SearchOptions{})
				if err != nil || len(res) != 1 || res[0].ID != uint64(ids[7]) {
					t.Errorf("search for item %d's vector: %v %v", ids[7], res, err)
				}
				if _, err := v.Vector(ids[0]); !errors.Is(err, index.ErrNotFound) {
					t.Errorf("deleted item's vector: %v", err)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestOtherWriterPickedUp: a second catalog on the same database (its own
// connections, as another process would have) writes; the first one's
// readers see every item after one refresh period, and an Apply of the
// first right after the foreign write does not lose it.
func TestOtherWriterPickedUp(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	a := open(t, f, backends[0].b, catalog.Options{RefreshEvery: 50 * time.Millisecond})
	b := open(t, f, backends[0].b, catalog.Options{})
	if _, err := a.Apply(ctx, catalog.Batch{Upsert: items("a", 1, 20)}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Apply(ctx, catalog.Batch{Upsert: items("b", 2, 30)}); err != nil {
		t.Fatal(err)
	}
	// Right away: a's Apply sees, inside its transaction, that the store
	// moved under its index, and rebuilds rather than adding to it.
	if _, err := a.Apply(ctx, catalog.Batch{Upsert: items("c", 3, 5)}); err != nil {
		t.Fatal(err)
	}
	if n, found := indexed(t, a, 55); n != 55 || found != 55 {
		t.Fatalf("after a foreign write and an Apply: index %d, found %d, want 55", n, found)
	}
	if _, err := b.Apply(ctx, catalog.Batch{Upsert: items("d", 4, 10)}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(60 * time.Millisecond)
	if n, found := indexed(t, a, 65); n != 65 || found != 65 || storeCount(t, a) != 65 {
		t.Fatalf("after a refresh period: index %d, found %d, store %d, want 65", n, found, storeCount(t, a))
	}
}

// TestConcurrentApplyAndRead applies batches while readers search: every
// view is one generation, so its Len is a whole number of batches.
func TestConcurrentApplyAndRead(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	c := open(t, f, backends[0].b, catalog.Options{RefreshEvery: time.Millisecond})
	const batch, batches = 7, 30
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 3 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				err := c.Read(ctx, func(v catalog.View) error {
					if v.Len() != int(v.Generation())*batch {
						return fmt.Errorf("view at generation %d holds %d items", v.Generation(), v.Len())
					}
					_, err := v.Search(make([]float32, dim), 3, index.SearchOptions{})
					return err
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for i := range batches {
		if _, err := c.Apply(ctx, catalog.Batch{Upsert: items(fmt.Sprint("p", i), uint64(i), batch)}); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if n, found := indexed(t, c, batch*batches); n != batch*batches || found != batch*batches {
		t.Fatalf("index %d, found %d, want %d", n, found, batch*batches)
	}
}

// TestDamagedIndexFileRebuiltOnce: a damaged index file is reported as not
// fresh, rebuilt by the first reader and saved, so the next open loads it.
func TestDamagedIndexFileRebuiltOnce(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t)
			c := open(t, f, be.b, catalog.Options{})
			if _, err := c.Apply(ctx, catalog.Batch{Upsert: items("a", 1, 40)}); err != nil {
				t.Fatal(err)
			}
			if err := c.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
			if fs, err := c.IndexFileState(ctx); err != nil || !fs.Fresh || fs.Bytes == 0 {
				t.Fatalf("after Checkpoint: %+v %v", fs, err)
			}
			c.Close()
			p := filepath.Join(f.dir, "index.bin")
			for _, damage := range []string{"flip", "truncate", "append"} {
				data, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				switch damage {
				case "flip":
					data[len(data)/2] ^= 0x01
				case "truncate":
					data = data[:len(data)-30]
				case "append":
					data = append(data, 0)
				}
				if err := os.WriteFile(p, data, 0o644); err != nil {
					t.Fatal(err)
				}
				f.logs.Reset()
				c := open(t, f, be.b, catalog.Options{})
				fs, err := c.IndexFileState(ctx)
				if err != nil || fs.Fresh || !strings.Contains(fs.Problem, "corrupt") {
					t.Fatalf("%s: state %+v %v, want not fresh and corrupt", damage, fs, err)
				}
				if n, found := indexed(t, c, 40); n != 40 || found != 40 {
					t.Fatalf("%s: index %d, found %d", damage, n, found)
				}
				if !strings.Contains(f.logs.String(), "index rebuilt") {
					t.Fatalf("%s: no rebuild logged: %s", damage, f.logs)
				}
				if fs, err := c.IndexFileState(ctx); err != nil || !fs.Fresh {
					t.Fatalf("%s: rebuilt index not saved: %+v %v", damage, fs, err)
				}
				c.Close()
				f.logs.Reset()
				c = open(t, f, be.b, catalog.Options{})
				if n, _ := indexed(t, c, 40); n != 40 || strings.Contains(f.logs.String(), "index rebuilt") || !strings.Contains(f.logs.String(), "index loaded") {
					t.Fatalf("%s: the next open rebuilt again (index %d): %s", damage, n, f.logs)
				}
				c.Close()
			}
		})
	}
}

func TestCheckpointCompacts(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	c := open(t, f, backends[0].b, catalog.Options{})
	a, err := c.Apply(ctx, catalog.Batch{Upsert: items("a", 1, 100)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Apply(ctx, catalog.Batch{Delete: a.IDs[:40]}); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(filepath.Join(f.dir, "index.bin"))
	if err != nil {
		t.Fatal(err) // saved when the empty index was first built
	}
	if err := c.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	c.Close()
	c = open(t, f, backends[0].b, catalog.Options{})
	if n, found := indexed(t, c, 60); n != 60 || found != 60 {
		t.Fatalf("after compaction and reload: index %d, found %d", n, found)
	}
	after, _ := os.Stat(filepath.Join(f.dir, "index.bin"))
	if !after.ModTime().After(before.ModTime()) && after.Size() == before.Size() {
		t.Fatal("Checkpoint did not save")
	}
}

func TestReadOnly(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	c := open(t, f, backends[0].b, catalog.Options{})
	if _, err := c.Apply(ctx, catalog.Batch{Upsert: items("a", 1, 10)}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	ro := open(t, f, backends[0].b, catalog.Options{ReadOnly: true})
	if !ro.ReadOnly() {
		t.Fatal("not read-only")
	}
	if _, err := ro.Apply(ctx, catalog.Batch{Upsert: items("b", 2, 1)}); !errors.Is(err, store.ErrReadOnly) {
		t.Fatalf("Apply on a read-only catalog: %v", err)
	}
	if err := ro.SetModel(ctx, store.Model{Name: "x", Version: "1", Dim: dim, Fingerprint: "other"}); !errors.Is(err, store.ErrReadOnly) {
		t.Fatalf("SetModel on a read-only catalog: %v", err)
	}
	if n, found := indexed(t, ro, 10); n != 10 || found != 10 {
		t.Fatalf("read-only index %d, found %d", n, found)
	}
	if err := ro.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
}

// savedHNSW makes a library of n items whose hnsw index file is saved and
// returns the fixture and the file's path.
func savedHNSW(t *testing.T, n int) (fixture, string) {
	t.Helper()
	ctx := context.Background()
	f := newFixture(t)
	c := open(t, f, backends[0].b, catalog.Options{})
	if _, err := c.Apply(ctx, catalog.Batch{Upsert: items("a", 1, n)}); err != nil {
		t.Fatal(err)
	}
	if err := c.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	c.Close()
	return f, filepath.Join(f.dir, "index.bin")
}

// flipIn flips one bit in the middle of the payload of the hnsw section
// tagged section in the file at p.
func flipIn(t *testing.T, p, section string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(b, []byte(section))
	if at < 0 {
		t.Fatalf("no %s section in the file", section)
	}
	b[at+12+int(binary.LittleEndian.Uint64(b[at+4:]))/2+1] ^= 0x10
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDamageFoundBySearch damages the vectors or the layer-0 links of a
// saved hnsw index, which the catalog opens in place and checks node by
// node: the first search that reaches the damage fails inside Read, the
// index is rebuilt from the store and saved, and the search is answered
// from the rebuilt index, complete.
func TestDamageFoundBySearch(t *testing.T) {
	ctx := context.Background()
	f, _ := savedHNSW(t, 300)
	f.logs.Reset()
	c := open(t, f, backends[0].b, catalog.Options{})
	if n, found := indexed(t, c, 300); n != 300 || found != 300 || !strings.Contains(f.logs.String(), "in_place=true") {
		t.Fatalf("intact file: index %d, found %d, logs: %s", n, found, f.logs)
	}
	c.Close()
	for _, section := range []string{"VECS", "LNK0"} {
		t.Run(section, func(t *testing.T) {
			f, p := savedHNSW(t, 300)
			flipIn(t, p, section)
			f.logs.Reset()
			c := open(t, f, backends[0].b, catalog.Options{})
			if n, found := indexed(t, c, 300); n != 300 || found != 300 {
				t.Fatalf("index %d, found %d, want 300", n, found)
			}
			logs := f.logs.String()
			if !strings.Contains(logs, "in_place=true") || !strings.Contains(logs, "the index file is damaged") || !strings.Contains(logs, "index rebuilt") {
				t.Fatalf("damage not found by the search: %s", logs)
			}
			if fs, err := c.IndexFileState(ctx); err != nil || !fs.Fresh {
				t.Fatalf("rebuilt index not saved: %+v %v", fs, err)
			}
			// Apply works on the rebuilt index.
			if _, err := c.Apply(ctx, catalog.Batch{Upsert: items("b", 2, 5)}); err != nil {
				t.Fatal(err)
			}
			if n, found := indexed(t, c, 305); n != 305 || found != 305 {
				t.Fatalf("after apply: index %d, found %d", n, found)
			}
		})
	}
}

// TestDamageFoundBeforeApply damages a vector of a saved hnsw index that no
// search reaches before an Apply: the Apply checks the whole index first,
// rebuilds it from the store, and the change lands on the rebuilt index.
func TestDamageFoundBeforeApply(t *testing.T) {
	ctx := context.Background()
	f, p := savedHNSW(t, 200)
	flipIn(t, p, "VECS")
	f.logs.Reset()
	c := open(t, f, backends[0].b, catalog.Options{})
	if _, err := c.Apply(ctx, catalog.Batch{Upsert: items("b", 2, 10)}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(f.logs.String(), "the index file is damaged") {
		t.Fatalf("damage not found before the change: %s", f.logs)
	}
	if n, found := indexed(t, c, 210); n != 210 || found != 210 {
		t.Fatalf("index %d, found %d, want 210", n, found)
	}
}

// TestOldLayoutUpgraded rewrites a saved index file in an older layout:
// the library layout MMSLIBX2 (no padding, no header checksum) around the
// current hnsw stream, and around an hnsw stream of format version 1 (no
// padding sections, no per-node checksums), which is what libraries saved
// before in-place opening hold. Either is read whole, rewritten once in
// the current layout without a rebuild, and the next open maps it in place.
func TestOldLayoutUpgraded(t *testing.T) {
	for _, tc := range []struct {
		name   string
		hnswV1 bool
	}{{"X2 around hnsw v2", false}, {"X2 around hnsw v1", true}} {
		t.Run(tc.name, func(t *testing.T) {
			f, p := savedHNSW(t, 120)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			fpLen := int(binary.LittleEndian.Uint16(b[16:]))
			nameEnd := 18 + fpLen + 1 + int(b[18+fpLen])
			payloadStart := (nameEnd + 4 + 63) / 64 * 64
			payload := b[payloadStart : len(b)-20]
			if tc.hnswV1 {
				payload = hnswVersion1(t, payload)
			}
			old := append([]byte("MMSLIBX2"), b[8:nameEnd]...)
			old = append(old, payload...)
			sum := crc32.Checksum(old, crc32.MakeTable(crc32.Castagnoli))
			old = binary.LittleEndian.AppendUint64(old, uint64(len(payload)))
			old = binary.LittleEndian.AppendUint32(old, sum)
			old = append(old, "MMSLIBX$"...)
			if err := os.WriteFile(p, old, 0o644); err != nil {
				t.Fatal(err)
			}
			for i, want := range []string{"in_place=false", "in_place=true"} {
				f.logs.Reset()
				c := open(t, f, backends[0].b, catalog.Options{})
				if n, found := indexed(t, c, 120); n != 120 || found != 120 {
					t.Fatalf("open %d: index %d, found %d", i, n, found)
				}
				logs := f.logs.String()
				if !strings.Contains(logs, want) || strings.Contains(logs, "index rebuilt") {
					t.Fatalf("open %d: want %s and no rebuild: %s", i, want, logs)
				}
				if i == 0 && !strings.Contains(logs, "rewriting the index file") {
					t.Fatalf("old layout not rewritten: %s", logs)
				}
				c.Close()
			}
			b, err = os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if string(b[:8]) != "MMSLIBX3" || !bytes.Contains(b, []byte("NCRC")) {
				t.Fatalf("file starts %q after the upgrade (per-node checksums: %v)", b[:8], bytes.Contains(b, []byte("NCRC")))
			}
		})
	}
}

// hnswVersion1 rewrites an hnsw stream of format version 2 as version 1
// wrote it: the same sections without the padding and the per-node
// checksums, each section's CRC32-C seeded with the new file header.
func hnswVersion1(t *testing.T, v2 []byte) []byte {
	t.Helper()
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	if string(v2[:8]) != "MMSHNSW\x00" || binary.LittleEndian.Uint32(v2[8:]) != 2 {
		t.Fatalf("not an hnsw version 2 stream: % x", v2[:12])
	}
	out := append([]byte(nil), v2[:8]...)
	out = binary.LittleEndian.AppendUint32(out, 1)
	seed := crc32.Checksum(out, castagnoli)
	var tags []string
	for off := 12; off < len(v2); {
		tag := string(v2[off : off+4])
		n := int(binary.LittleEndian.Uint64(v2[off+4:]))
		sec := v2[off : off+12+n]
		off += 12 + n + 4
		if tag == "PAD\x00" || tag == "NCRC" {
			continue
		}
		tags = append(tags, tag)
		out = append(out, sec...)
		out = binary.LittleEndian.AppendUint32(out, crc32.Update(seed, castagnoli, sec))
	}
	if got := strings.Join(tags, ","); got != "HEAD,VECS,LABL,LNK0,UPPR" {
		t.Fatalf("version 1 sections %s", got)
	}
	return out
}
