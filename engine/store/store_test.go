package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var testModel = Model{Name: "tiny-clip", Version: "1", Dim: 4, Fingerprint: strings.Repeat("ab", 32)}

// openTest opens a fresh store with testModel in a temporary folder.
func openTest(t *testing.T) *Store {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "library.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if err := s.SetModel(ctx, testModel); err != nil {
		t.Fatal(err)
	}
	return s
}

// item makes a valid item whose vector and hash derive from seed.
func item(path string, seed int) Item {
	v := make([]float32, testModel.Dim)
	for i := range v {
		v[i] = float32(seed) + float32(i)/10
	}
	return Item{
		Path: path, Size: int64(1000 + seed), MtimeNs: int64(seed) * 1e9, Hash: sha256.Sum256([]byte(path)),
		Width: 640, Height: 480, Format: "jpeg", Vector: v,
	}
}

func sameItem(t *testing.T, got, want Item) {
	t.Helper()
	if got.Path != want.Path || got.Size != want.Size || got.MtimeNs != want.MtimeNs || got.Hash != want.Hash ||
		got.Width != want.Width || got.Height != want.Height || got.Format != want.Format {
		t.Errorf("item = %+v\nwant %+v", got, want)
	}
	if len(got.Vector) != len(want.Vector) {
		t.Fatalf("vector has %d values, want %d", len(got.Vector), len(want.Vector))
	}
	for i := range want.Vector {
		if math.Float32bits(got.Vector[i]) != math.Float32bits(want.Vector[i]) {
			t.Errorf("vector[%d] = %08x, want %08x", i, math.Float32bits(got.Vector[i]), math.Float32bits(want.Vector[i]))
		}
	}
	if !want.IndexedAt.IsZero() && !got.IndexedAt.Equal(want.IndexedAt) {
		t.Errorf("IndexedAt = %v, want %v", got.IndexedAt, want.IndexedAt)
	}
}

func TestOpenCreatesSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "library.db")
	before := time.Now().Add(-time.Second)
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	var mode string
	if err := s.r.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	for _, db := range []*sql.DB{s.r, s.w} {
		var fk, sync, busy int
		if err := db.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
			t.Errorf("foreign_keys = %d, %v", fk, err)
		}
		if err := db.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil || sync != 1 {
			t.Errorf("synchronous = %d, %v; want 1 (NORMAL)", sync, err)
		}
		if err := db.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy); err != nil || busy != 10000 {
			t.Errorf("busy_timeout = %d, %v", busy, err)
		}
	}
	if _, err := s.r.ExecContext(ctx, "INSERT INTO meta (key, value) VALUES ('x', 'y')"); err == nil {
		t.Error("the read pool accepted a write")
	}
	created, err := s.CreatedAt(ctx)
	if err != nil || created.Before(before) || created.After(time.Now()) {
		t.Errorf("CreatedAt = %v, %v", created, err)
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.SchemaVersion != SchemaVersion() || st.Items != 0 || st.Errors != 0 || st.Generation != 0 || st.HasModel || st.DBBytes == 0 {
		t.Errorf("Stats of a new library = %+v", st)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Opening again migrates nothing and keeps the creation time.
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	again, err := s.CreatedAt(ctx)
	if err != nil || !again.Equal(created) {
		t.Errorf("CreatedAt after reopening = %v, %v; want %v", again, err, created)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("this is not a database\n", 200)), 0o644); err != nil {
		t.Fatal(err)
	}
	tooNew := filepath.Join(dir, "new.db")
	raw, err := sql.Open("sqlite", tooNew)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	tests := []struct {
		name, path, msg string
		is              error
	}{
		{"missing folder", filepath.Join(dir, "nope", "library.db"), "no such file or directory", os.ErrNotExist},
		{"a folder", dir, "is a folder", nil},
		{"not a database", garbage, "not a database", nil},
		{"newer schema", tooNew, fmt.Sprintf("schema version 99, this program knows up to %d", SchemaVersion()), ErrSchemaTooNew},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(ctx, tc.path)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded", tc.path)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Open error %q does not contain %q", err, tc.msg)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("Open error %v is not %v", err, tc.is)
			}
		})
	}
}

func TestOddDatabasePath(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "lib ?#%20 \xff&x=1")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, filepath.Join(dir, "library.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.SetModel(ctx, testModel); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "library.db")); err != nil {
		t.Fatalf("the database is not where it was asked to be: %v", err)
	}
}

func TestModel(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "library.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Model(ctx); !errors.Is(err, ErrNoModel) {
		t.Errorf("Model of a new library: %v, want ErrNoModel", err)
	}
	if _, err := s.UpsertItems(ctx, []Item{item("/a.jpg", 1)}); !errors.Is(err, ErrNoModel) {
		t.Errorf("UpsertItems without a model: %v, want ErrNoModel", err)
	}
	for _, bad := range []Model{
		{Version: "1", Dim: 4, Fingerprint: "x"},
		{Name: "m", Dim: 0, Fingerprint: "x"},
		{Name: "m", Dim: MaxDim + 1, Fingerprint: "x"},
		{Name: "m", Dim: 4},
	} {
		if err := s.SetModel(ctx, bad); err == nil {
			t.Errorf("SetModel(%+v) accepted", bad)
		}
	}
	if err := s.SetModel(ctx, testModel); err != nil {
		t.Fatal(err)
	}
	if err := s.SetModel(ctx, testModel); err != nil {
		t.Errorf("SetModel with the same model: %v", err)
	}
	s.Close()

	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if m, err := s.Model(ctx); err != nil || m != testModel {
		t.Errorf("Model after reopening = %+v, %v; want %+v", m, err, testModel)
	}
	other := []Model{
		{Name: "openai-vit-b32", Version: "1", Dim: 512, Fingerprint: "cd"},
		{Name: testModel.Name, Version: "2", Dim: testModel.Dim, Fingerprint: testModel.Fingerprint},
		{Name: testModel.Name, Version: testModel.Version, Dim: testModel.Dim, Fingerprint: "ff"},
	}
	for _, m := range other {
		err := s.SetModel(ctx, m)
		if !errors.Is(err, ErrModelMismatch) {
			t.Fatalf("SetModel(%+v) = %v, want ErrModelMismatch", m, err)
		}
		var mm *ModelMismatchError
		if !errors.As(err, &mm) || mm.Library != testModel || mm.Requested != m {
			t.Errorf("mismatch error %#v", err)
		}
		msg := err.Error()
		if !strings.Contains(msg, `"tiny-clip" version "1"`) || !strings.Contains(msg, fmt.Sprintf("%q version %q", m.Name, m.Version)) {
			t.Errorf("message does not name both models: %s", msg)
		}
	}
	if m, err := s.Model(ctx); err != nil || m != testModel {
		t.Errorf("a refused SetModel changed the model to %+v, %v", m, err)
	}
}

func TestItemsRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	a := item("/photos/a.jpg", 1)
	a.Vector = []float32{float32(math.Copysign(0, -1)), math.SmallestNonzeroFloat32, math.MaxFloat32, -1.0 / 3}
	a.IndexedAt = time.Unix(1700000000, 123456789)
	b := item("/photos/b.png", 2)
	b.Format = "png"
	dup := item("/backup/a copy.jpg", 3)
	dup.Hash = a.Hash
	ids, err := s.UpsertItems(ctx, []Item{a, b, dup})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 3 || ids[0] <= 0 || ids[0] == ids[1] || ids[1] == ids[2] {
		t.Fatalf("ids = %v", ids)
	}
	for i, want := range []Item{a, b, dup} {
		got, err := s.ItemByID(ctx, ids[i])
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != ids[i] {
			t.Errorf("ItemByID(%d).ID = %d", ids[i], got.ID)
		}
		sameItem(t, got, want)
		got, err = s.ItemByPath(ctx, want.Path)
		if err != nil {
			t.Fatal(err)
		}
		sameItem(t, got, want)
	}
	got, _ := s.ItemByID(ctx, ids[1])
	if d := time.Since(got.IndexedAt); d < 0 || d > time.Minute {
		t.Errorf("IndexedAt defaulted to %v", got.IndexedAt)
	}

	same, err := s.ItemsByHash(ctx, a.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if len(same) != 2 || same[0].ID != ids[0] || same[1].ID != ids[2] {
		t.Errorf("ItemsByHash = %+v, want ids %d and %d", same, ids[0], ids[2])
	}
	if none, err := s.ItemsByHash(ctx, Hash{}); err != nil || len(none) != 0 {
		t.Errorf("ItemsByHash(zero) = %v, %v", none, err)
	}

	if _, err := s.ItemByID(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Errorf("ItemByID(999) = %v, want ErrNotFound", err)
	}
	if _, err := s.ItemByPath(ctx, "/photos/c.jpg"); !errors.Is(err, ErrNotFound) {
		t.Errorf("ItemByPath(missing) = %v, want ErrNotFound", err)
	}

	// Upserting a known path replaces the row and keeps its id.
	b2 := item("/photos/b.png", 7)
	ids2, err := s.UpsertItems(ctx, []Item{b2})
	if err != nil {
		t.Fatal(err)
	}
	if ids2[0] != ids[1] {
		t.Errorf("re-upserted item got id %d, want %d", ids2[0], ids[1])
	}
	got, err = s.ItemByPath(ctx, b2.Path)
	if err != nil {
		t.Fatal(err)
	}
	sameItem(t, got, b2)

	states, err := s.FileStates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != 3 {
		t.Fatalf("FileStates has %d entries", len(states))
	}
	if st := states[b2.Path]; st.ID != ids[1] || st.Size != b2.Size || st.MtimeNs != b2.MtimeNs || st.Hash != b2.Hash {
		t.Errorf("FileStates[%q] = %+v", b2.Path, st)
	}
}

func TestOddPaths(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	long := "/" + strings.Repeat("d/", 1000) + strings.Repeat("x", 1999) // 4000 bytes
	paths := []string{
		"/photos/\xff\xfe.jpg",
		"/photos/\xc3\x28 invalid.jpg",
		"/photos/caf\xe9.jpg", // Latin-1 é
		"/photos/café.jpg",    // the UTF-8 spelling is a different file
		"/photos/\uFFFD.jpg",  // and so is the replacement character
		"/p?q#r%41 s&t=u'v\".jpg",
		long,
	}
	if len(long) != 4000 {
		t.Fatalf("long path is %d bytes", len(long))
	}
	var items []Item
	for i, p := range paths {
		items = append(items, item(p, i))
	}
	ids, err := s.UpsertItems(ctx, items)
	if err != nil {
		t.Fatal(err)
	}
	states, err := s.FileStates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range paths {
		got, err := s.ItemByPath(ctx, p)
		if err != nil {
			t.Fatalf("ItemByPath(%q): %v", p, err)
		}
		if got.ID != ids[i] || got.Path != p {
			t.Errorf("ItemByPath(%q) = id %d path %q, want id %d", p, got.ID, got.Path, ids[i])
		}
		if st, ok := states[p]; !ok || st.ID != ids[i] {
			t.Errorf("FileStates[%q] = %+v, %v", p, st, ok)
		}
	}
	errs := []FileError{{Path: paths[0], Stage: StageDecode, Reason: "not an image"}, {Path: long, Stage: StageRead, Reason: "EIO"}}
	if err := s.RecordErrors(ctx, errs); err != nil {
		t.Fatal(err)
	}
	got, err := s.Errors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Path != long || got[1].Path != paths[0] {
		t.Errorf("Errors() paths = %q", []string{got[0].Path, got[1].Path})
	}
}

func TestUpsertValidation(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	mod := func(f func(*Item)) Item {
		it := item("/x.jpg", 1)
		f(&it)
		return it
	}
	tests := []struct {
		name string
		it   Item
		msg  string
	}{
		{"short vector", mod(func(it *Item) { it.Vector = it.Vector[:3] }), "vector has 3 values, the model's dimension is 4"},
		{"long vector", mod(func(it *Item) { it.Vector = append(it.Vector, 1) }), "vector has 5 values"},
		{"NaN", mod(func(it *Item) { it.Vector[2] = float32(math.NaN()) }), "vector value 2 is NaN"},
		{"Inf", mod(func(it *Item) { it.Vector[0] = float32(math.Inf(-1)) }), "vector value 0 is -Inf"},
		{"empty path", mod(func(it *Item) { it.Path = "" }), "empty path"},
		{"NUL in path", mod(func(it *Item) { it.Path = "/a\x00b" }), "NUL byte"},
		{"negative size", mod(func(it *Item) { it.Size = -1 }), "negative size"},
		{"negative width", mod(func(it *Item) { it.Width = -1 }), "negative dimensions"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			good := item("/good.jpg", 2)
			_, err := s.UpsertItems(ctx, []Item{good, tc.it})
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("UpsertItems error %v, want %q", err, tc.msg)
			}
			// The batch is all or nothing.
			if _, err := s.ItemByPath(ctx, good.Path); !errors.Is(err, ErrNotFound) {
				t.Errorf("the good item of a failed batch was stored: %v", err)
			}
		})
	}
	if g, err := s.Generation(ctx); err != nil || g != 0 {
		t.Errorf("Generation after failed batches = %d, %v", g, err)
	}
}

func TestDeleteItemsNeverReusesIDs(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	ids, err := s.UpsertItems(ctx, []Item{item("/a", 1), item("/b", 2)})
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.DeleteItems(ctx, []int64{ids[1], 12345})
	if err != nil || n != 1 {
		t.Fatalf("DeleteItems = %d, %v; want 1", n, err)
	}
	if _, err := s.ItemByID(ctx, ids[1]); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted item still there: %v", err)
	}
	if _, err := s.ItemByID(ctx, ids[0]); err != nil {
		t.Errorf("the other item went: %v", err)
	}
	c, err := s.UpsertItems(ctx, []Item{item("/c", 3)})
	if err != nil {
		t.Fatal(err)
	}
	if c[0] <= ids[1] {
		t.Errorf("new item got id %d after deleting id %d: ids are reused", c[0], ids[1])
	}
}

func TestGeneration(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	want := int64(0)
	check := func(step string) {
		t.Helper()
		g, err := s.Generation(ctx)
		if err != nil || g != want {
			t.Fatalf("after %s: generation %d, %v; want %d", step, g, err, want)
		}
	}
	check("open")
	ids, err := s.UpsertItems(ctx, []Item{item("/a", 1), item("/b", 2)})
	if err != nil {
		t.Fatal(err)
	}
	want++
	check("first batch")
	if _, err := s.UpsertItems(ctx, []Item{item("/a", 5)}); err != nil {
		t.Fatal(err)
	}
	want++
	check("replacing an item")
	if err := s.RecordErrors(ctx, []FileError{{Path: "/bad", Stage: StageDecode, Reason: "x"}}); err != nil {
		t.Fatal(err)
	}
	check("recording an error")
	if _, err := s.UpsertItems(ctx, nil); err != nil {
		t.Fatal(err)
	}
	check("an empty batch")
	if n, err := s.DeleteItems(ctx, []int64{999}); err != nil || n != 0 {
		t.Fatal(n, err)
	}
	check("deleting nothing")

	tx, err := s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.UpsertItems(ctx, []Item{item("/c", 3)}); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.DeleteItems(ctx, ids[:1]); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	check("a rolled back batch")
	if _, err := s.ItemByPath(ctx, "/c"); !errors.Is(err, ErrNotFound) {
		t.Errorf("rolled back item is there: %v", err)
	}

	tx, err = s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.UpsertItems(ctx, []Item{item("/c", 3)}); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.DeleteItems(ctx, ids[:1]); err != nil {
		t.Fatal(err)
	}
	// Readers do not see the batch before it commits.
	check("an uncommitted batch")
	if _, err := s.ItemByPath(ctx, "/c"); !errors.Is(err, ErrNotFound) {
		t.Errorf("uncommitted item visible: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	want++
	check("a batch of an upsert and a delete")
	if err := tx.Commit(); err == nil {
		t.Error("second Commit succeeded")
	}
}

func TestErrorsRetriedOnlyOnChange(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	at := time.Unix(1700000000, 5)
	if err := s.RecordErrors(ctx, []FileError{
		{Path: "/p/broken.jpg", Size: 10, MtimeNs: 100, Stage: StageDecode, Reason: "unexpected EOF", At: at},
		{Path: "/p/locked.jpg", Size: 20, MtimeNs: 200, Stage: StageRead, Reason: "permission denied"},
		{Path: "/p/model.jpg", Size: 30, MtimeNs: 300, Stage: StageEncode, Reason: "out of memory"},
	}); err != nil {
		t.Fatal(err)
	}
	ok := item("/p/ok.jpg", 1)
	changedLater := item("/p/changed.jpg", 2)
	if _, err := s.UpsertItems(ctx, []Item{ok, changedLater}); err != nil {
		t.Fatal(err)
	}
	// The new version of changed.jpg failed; the old vector stays.
	if err := s.RecordErrors(ctx, []FileError{{Path: changedLater.Path, Size: 99, MtimeNs: 999, Stage: StageDecode, Reason: "truncated"}}); err != nil {
		t.Fatal(err)
	}

	errs, err := s.Errors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) != 4 || errs[0].Path != "/p/broken.jpg" || errs[0].Reason != "unexpected EOF" || !errs[0].At.Equal(at) ||
		errs[0].Stage != StageDecode || errs[0].Size != 10 || errs[0].MtimeNs != 100 {
		t.Fatalf("Errors() = %+v", errs)
	}

	snap, err := s.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path        string
		size, mtime int64
		want        Status
	}{
		{"/p/broken.jpg", 10, 100, StatusFailed},
		{"/p/broken.jpg", 10, 101, StatusRetry},
		{"/p/broken.jpg", 11, 100, StatusRetry},
		// A permission failure can pass: tried again though unchanged.
		{"/p/locked.jpg", 20, 200, StatusRetry},
		{"/p/ok.jpg", ok.Size, ok.MtimeNs, StatusUnchanged},
		{"/p/ok.jpg", ok.Size, ok.MtimeNs + 1, StatusChanged},
		{changedLater.Path, 99, 999, StatusFailed},
		{changedLater.Path, changedLater.Size, changedLater.MtimeNs, StatusUnchanged},
		{changedLater.Path, 5, 5, StatusChanged},
		{"/p/new.jpg", 1, 1, StatusNew},
	}
	for _, tc := range tests {
		if got := snap.Check(tc.path, tc.size, tc.mtime); got != tc.want {
			t.Errorf("Check(%q, %d, %d) = %v, want %v", tc.path, tc.size, tc.mtime, got, tc.want)
		}
	}

	// A later success clears the record; so does ClearError.
	fixed := item("/p/broken.jpg", 9)
	if _, err := s.UpsertItems(ctx, []Item{fixed}); err != nil {
		t.Fatal(err)
	}
	if err := s.ClearError(ctx, "/p/locked.jpg"); err != nil {
		t.Fatal(err)
	}
	if n, err := s.ClearErrors(ctx, []string{"/p/absent.jpg"}); err != nil || n != 0 {
		t.Errorf("ClearErrors(absent) = %d, %v", n, err)
	}
	// Recording again replaces the record.
	if err := s.RecordErrors(ctx, []FileError{{Path: "/p/model.jpg", Size: 31, MtimeNs: 301, Stage: StageDecode, Reason: "bad header"}}); err != nil {
		t.Fatal(err)
	}
	errs, err = s.Errors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range errs {
		got = append(got, fmt.Sprintf("%s %d %d %s %s", e.Path, e.Size, e.MtimeNs, e.Stage, e.Reason))
	}
	want := []string{"/p/changed.jpg 99 999 decode truncated", "/p/model.jpg 31 301 decode bad header"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("Errors() = %q, want %q", got, want)
	}

	if err := s.RecordErrors(ctx, []FileError{{Path: "/x", Stage: "parse", Reason: "?"}}); err == nil || !strings.Contains(err.Error(), `unknown stage "parse"`) {
		t.Errorf("unknown stage: %v", err)
	}
	if err := s.RecordErrors(ctx, []FileError{{Path: "", Stage: StageWalk}}); err == nil {
		t.Error("empty path accepted")
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Items != 3 || st.Errors != 2 || st.ErrorsByStage[StageDecode] != 2 || len(st.ErrorsByStage) != 1 || !st.HasModel || st.Model != testModel {
		t.Errorf("Stats = %+v", st)
	}
}

func TestIterVectors(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	var items []Item
	for i := range 50 {
		items = append(items, item(fmt.Sprintf("/v/%03d.jpg", i), i))
	}
	ids, err := s.UpsertItems(ctx, items)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[int64]Item{}
	for i, id := range ids {
		byID[id] = items[i]
	}
	var seen []int64
	gen, err := s.IterVectors(ctx, func(id int64, vec []float32) error {
		seen = append(seen, id)
		want := byID[id].Vector
		for i := range want {
			if math.Float32bits(vec[i]) != math.Float32bits(want[i]) {
				return fmt.Errorf("item %d vector[%d] = %v, want %v", id, i, vec[i], want[i])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if gen != 1 {
		t.Errorf("IterVectors generation = %d, want 1", gen)
	}
	if len(seen) != len(ids) {
		t.Fatalf("IterVectors visited %d items, want %d", len(seen), len(ids))
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] <= seen[i-1] {
			t.Fatalf("not in id order: %v", seen)
		}
	}

	stop := errors.New("stop")
	calls := 0
	_, err = s.IterVectors(ctx, func(int64, []float32) error {
		calls++
		if calls == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 3 {
		t.Errorf("IterVectors with a failing fn: %v after %d calls", err, calls)
	}

	cctx, cancel := context.WithCancel(ctx)
	calls = 0
	_, err = s.IterVectors(cctx, func(int64, []float32) error {
		calls++
		if calls == 2 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || calls != 2 {
		t.Errorf("IterVectors after cancel: %v after %d calls", err, calls)
	}
}

// TestReadersWhileWriting checks that searches proceed while batches are
// committed, and that they only ever see whole batches.
func TestReadersWhileWriting(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	const batches, perBatch = 40, 25
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for b := range batches {
			var items []Item
			for i := range perBatch {
				items = append(items, item(fmt.Sprintf("/w/%d/%d.jpg", b, i), b*perBatch+i))
			}
			if _, err := s.UpsertItems(ctx, items); err != nil {
				errc <- err
				return
			}
		}
	}()
	var mu sync.Mutex
	partial := 0 // snapshots taken while the writer was half way
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				finished := false
				select {
				case <-done:
					finished = true
				default:
				}
				n := 0
				gen, err := s.IterVectors(ctx, func(int64, []float32) error { n++; return nil })
				if err != nil {
					errc <- err
					return
				}
				if int64(n) != gen*perBatch {
					errc <- fmt.Errorf("snapshot at generation %d has %d items, want %d", gen, n, gen*perBatch)
					return
				}
				if gen > 0 && gen < batches {
					mu.Lock()
					partial++
					mu.Unlock()
				}
				st, err := s.Stats(ctx)
				if err != nil {
					errc <- err
					return
				}
				if st.Items != st.Generation*perBatch {
					errc <- fmt.Errorf("stats at generation %d count %d items", st.Generation, st.Items)
					return
				}
				if _, err := s.ItemByPath(ctx, "/w/0/0.jpg"); err != nil && !errors.Is(err, ErrNotFound) {
					errc <- err
					return
				}
				if finished {
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if partial == 0 {
		t.Error("no reader ever saw the library while the writer was half way")
	}
	t.Logf("%d snapshots taken during the writes", partial)
	st, err := s.Stats(ctx)
	if err != nil || st.Items != batches*perBatch || st.Generation != batches {
		t.Errorf("final stats %+v, %v", st, err)
	}
}

func TestIntegrityCheck(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "library.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetModel(ctx, testModel); err != nil {
		t.Fatal(err)
	}
	var items []Item
	for i := range 2000 {
		items = append(items, item(fmt.Sprintf("/c/%05d.jpg", i), i))
	}
	if _, err := s.UpsertItems(ctx, items); err != nil {
		t.Fatal(err)
	}
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Fatalf("healthy database: %v", err)
	}
	var root, pageSize int64
	if err := s.r.QueryRowContext(ctx, "SELECT rootpage FROM sqlite_schema WHERE name = 'items_content_hash'").Scan(&root); err != nil {
		t.Fatal(err)
	}
	if err := s.r.QueryRowContext(ctx, "PRAGMA page_size").Scan(&pageSize); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		t.Fatalf("the write-ahead log was not folded back on close (%d bytes)", fi.Size())
	}
	// Overwrite the root page of the hash index behind SQLite's back.
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, pageSize), (root-1)*pageSize); err != nil {
		t.Fatal(err)
	}
	f.Close()

	s, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("Open of a database with a damaged index: %v", err)
	}
	defer s.Close()
	err = s.IntegrityCheck(ctx)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("IntegrityCheck of a damaged database = %v, want ErrCorrupt", err)
	}
	t.Logf("IntegrityCheck: %v", err)
}

func TestFingerprintFiles(t *testing.T) {
	dir := t.TempDir()
	img, txt := filepath.Join(dir, "vision.onnx"), filepath.Join(dir, "text.onnx")
	if err := os.WriteFile(img, []byte("image tower"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(txt, []byte("text tower"), 0o644); err != nil {
		t.Fatal(err)
	}
	fp, err := FingerprintFiles(img, txt)
	if err != nil {
		t.Fatal(err)
	}
	// sha256(sha256("image tower") || sha256("text tower")), computed with Python's hashlib.
	if want := "dba35c2f198edb29e2efe6d745b896da251ba52a70b1dcd8dc5474ffa0679600"; fp != want {
		t.Errorf("FingerprintFiles = %s, want %s", fp, want)
	}
	if swapped, _ := FingerprintFiles(txt, img); swapped == fp {
		t.Error("the order of the files does not matter")
	}
	if _, err := FingerprintFiles(img, filepath.Join(dir, "missing.onnx")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := FingerprintFiles(); err == nil {
		t.Error("no files accepted")
	}
}

func TestHash(t *testing.T) {
	h := Hash(sha256.Sum256([]byte("abc")))
	const hexABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if h.String() != hexABC {
		t.Errorf("String() = %s", h)
	}
	back, err := ParseHash(hexABC)
	if err != nil || back != h {
		t.Errorf("ParseHash = %v, %v", back, err)
	}
	for _, bad := range []string{"", "abc", hexABC + "00", strings.Replace(hexABC, "b", "g", 1)} {
		if _, err := ParseHash(bad); err == nil {
			t.Errorf("ParseHash(%q) accepted", bad)
		}
	}
}

func TestStatusString(t *testing.T) {
	for s, want := range map[Status]string{StatusNew: "new", StatusUnchanged: "unchanged", StatusChanged: "changed",
		StatusFailed: "failed", StatusRetry: "retry", Status(0): "status(0)"} {
		if s.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(s), s.String(), want)
		}
	}
}

func TestItemsByIDs(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	want := []Item{item("/p/a.jpg", 1), item("/p/b.jpg", 2), item("/p/c.jpg", 3)}
	ids, err := s.UpsertItems(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		ask  []int64
		want []int // indexes into want
	}{
		{"none", nil, nil},
		{"one", []int64{ids[1]}, []int{1}},
		{"all, out of order", []int64{ids[2], ids[0], ids[1]}, []int{2, 0, 1}},
		{"unknown ids absent", []int64{ids[0], 999999}, []int{0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := s.ItemsByIDs(ctx, c.ask)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Fatalf("got %d items, want %d", len(got), len(c.want))
			}
			for _, i := range c.want {
				it, ok := got[ids[i]]
				if !ok {
					t.Fatalf("item %d missing", ids[i])
				}
				sameItem(t, it, want[i])
			}
		})
	}
}

func TestIDsWithPathPrefix(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	paths := []string{"/p/a.jpg", "/p/b/c.jpg", "/pq.jpg", "/p\xff\xff/x.jpg", "/q/d.jpg"}
	var items []Item
	for i, p := range paths {
		items = append(items, item(p, i+1))
	}
	ids, err := s.UpsertItems(ctx, items)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		prefix string
		want   []int // indexes into paths
	}{
		{"/p/", []int{0, 1}},
		{"/p", []int{0, 1, 2, 3}},
		{"/p\xff\xff", []int{3}},
		{"/q/d.jpg", []int{4}},
		{"/z", nil},
		{"", []int{0, 1, 2, 3, 4}},
	}
	for _, c := range cases {
		got, err := s.IDsWithPathPrefix(ctx, c.prefix)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(c.want) {
			t.Errorf("prefix %q: %d ids, want %d", c.prefix, len(got), len(c.want))
		}
		for _, i := range c.want {
			if !got[ids[i]] {
				t.Errorf("prefix %q: %q missing", c.prefix, paths[i])
			}
		}
	}
}

// TestFailureClasses checks that a failure's class is stored, defaults from
// its stage, decides whether an unchanged file is tried again, and that
// records written before classes existed get the class of their stage.
func TestFailureClasses(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	recorded := []FileError{
		{Path: "/p/corrupt.jpg", Size: 1, MtimeNs: 1, Stage: StageDecode, Reason: "unexpected EOF"},
		{Path: "/p/huge.png", Size: 2, MtimeNs: 2, Stage: StageRead, Class: ClassContent, Reason: "over the limit"},
		{Path: "/p/vanished.png", Size: 3, MtimeNs: 3, Stage: StageRead, Reason: "file vanished"},
		{Path: "/p/eio.png", Size: 4, MtimeNs: 4, Stage: StageRead, Class: ClassTransient, Reason: "input/output error"},
		{Path: "/p/locked", Size: 5, MtimeNs: 5, Stage: StageWalk, Reason: "permission denied"},
		{Path: "/p/odd.png", Size: 6, MtimeNs: 6, Stage: StageDecode, Class: ClassTransient, Reason: "decoder ran out of memory"},
	}
	if err := s.RecordErrors(ctx, recorded); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordErrors(ctx, []FileError{{Path: "/x", Stage: StageRead, Class: "sometimes", Reason: "?"}}); err == nil || !strings.Contains(err.Error(), `unknown failure class "sometimes"`) {
		t.Errorf("unknown class: %v", err)
	}
	snap, err := s.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path       string
		wantClass  Class
		wantStatus Status // for the same size and time
	}{
		{"/p/corrupt.jpg", ClassContent, StatusFailed},
		{"/p/huge.png", ClassContent, StatusFailed},
		{"/p/vanished.png", ClassTransient, StatusRetry},
		{"/p/eio.png", ClassTransient, StatusRetry},
		{"/p/locked", ClassTransient, StatusRetry},
		{"/p/odd.png", ClassTransient, StatusRetry},
	}
	for i, tc := range tests {
		e := snap.Errors[tc.path]
		if e.Class != tc.wantClass {
			t.Errorf("%s: class %q, want %q", tc.path, e.Class, tc.wantClass)
		}
		r := recorded[i]
		if got := snap.Check(tc.path, r.Size, r.MtimeNs); got != tc.wantStatus {
			t.Errorf("Check(%s, unchanged) = %v, want %v", tc.path, got, tc.wantStatus)
		}
		if got := snap.Check(tc.path, r.Size+1, r.MtimeNs); got != StatusRetry {
			t.Errorf("Check(%s, changed) = %v, want retry", tc.path, got)
		}
	}

	// A database of schema version 1 (no class column) is migrated: its
	// records take the class of their stage.
	path := filepath.Join(t.TempDir(), "v1.db")
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(migrations[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`INSERT INTO errors (path, size, mtime_ns, stage, reason, at) VALUES
		(CAST('/old/broken.jpg' AS BLOB), 1, 1, 'decode', 'bad', 0),
		(CAST('/old/locked.jpg' AS BLOB), 2, 2, 'read', 'permission denied', 0),
		(CAST('/old/dir' AS BLOB), 3, 3, 'walk', 'permission denied', 0);
		PRAGMA user_version = 1`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	old, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	errs, err := old.Errors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range errs {
		got = append(got, e.Path+" "+string(e.Class))
	}
	want := []string{"/old/broken.jpg content", "/old/dir transient", "/old/locked.jpg transient"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("migrated records %q, want %q", got, want)
	}
}
