package store

import (
	"context"
	"path/filepath"
	"testing"
)

// TestSkippedRecords checks that skip records make Snapshot.Check answer
// StatusSkipped only while size and time match, are counted by kind, and
// give way to an item or a failure for the same path (and vice versa).
func TestSkippedRecords(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	tx, err := s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.RecordErrors(ctx, []FileError{{Path: "/p/clip.mov", Size: 9, MtimeNs: 9, Stage: StageDecode, Reason: "x"}}); err != nil {
		t.Fatal(err)
	}
	if err := tx.RecordSkipped(ctx, []SkippedFile{
		{Path: "/p/clip.mov", Size: 10, MtimeNs: 20, Kind: "video", Format: "quicktime"},
		{Path: "/p/a.json", Size: 1, MtimeNs: 2, Kind: "sidecar", Format: "json"},
		{Path: "/p/b.xmp", Size: 1, MtimeNs: 2, Kind: "sidecar", Format: "xmp"},
	}); err != nil {
		t.Fatal(err)
	}
	if err := tx.RecordSkipped(ctx, []SkippedFile{{Path: "/p/x", Kind: ""}}); err == nil {
		t.Error("a skip record without a kind was accepted")
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	snap, err := s.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st := snap.Check("/p/clip.mov", 10, 20); st != StatusSkipped {
		t.Errorf("unchanged skipped file: %v", st)
	}
	if st := snap.Check("/p/clip.mov", 11, 20); st != StatusNew {
		t.Errorf("changed skipped file: %v, want new", st)
	}
	if len(snap.Errors) != 0 {
		t.Errorf("skip record left the old failure: %v", snap.Errors)
	}
	by, err := s.SkippedByKind(ctx)
	if err != nil || by["video"] != 1 || by["sidecar"] != 2 {
		t.Errorf("by kind %v %v", by, err)
	}
	// The JSON becomes an image, the XMP a failure: their skip records go.
	if _, err := s.UpsertItems(ctx, []Item{item("/p/a.json", 1)}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordErrors(ctx, []FileError{{Path: "/p/b.xmp", Stage: StageDecode, Reason: "corrupt"}}); err != nil {
		t.Fatal(err)
	}
	sk, err := s.Skipped(ctx)
	if err != nil || len(sk) != 1 || sk[0].Path != "/p/clip.mov" || sk[0].Format != "quicktime" {
		t.Errorf("skipped after changes: %+v %v", sk, err)
	}
}

// TestForgetUnder checks that ForgetUnder removes a path and everything
// below it (items, failures, skip records), but not a sibling sharing the
// prefix, and that CountUnder agrees.
func TestForgetUnder(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	dir := filepath.FromSlash("/photos/2023")
	if _, err := s.UpsertItems(ctx, []Item{item(dir+"/a.jpg", 1), item(dir+"/sub/b.jpg", 2),
		item("/photos/2023-extra/c.jpg", 3), item("/photos/d.jpg", 4)}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordErrors(ctx, []FileError{{Path: dir + "/bad.jpg", Stage: StageDecode, Reason: "x"}}); err != nil {
		t.Fatal(err)
	}
	tx, _ := s.Begin(ctx)
	if err := tx.RecordSkipped(ctx, []SkippedFile{{Path: dir + "/v.mp4", Kind: "video"}}); err != nil {
		t.Fatal(err)
	}
	tx.Commit()
	for path, want := range map[string]int64{dir: 4, dir + "/": 4, "/photos/d.jpg": 1, "/photos/20": 0, "/nowhere": 0} {
		if n, err := s.CountUnder(ctx, path); err != nil || n != want {
			t.Errorf("CountUnder(%q) = %d, %v; want %d", path, n, err, want)
		}
	}
	gen0, _ := s.Generation(ctx)
	tx, err := s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f, err := tx.ForgetUnder(ctx, []string{dir, "/photos/d.jpg"})
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if len(f.IDs) != 3 || f.Errors != 1 || f.Skipped != 1 {
		t.Errorf("forgot %+v", f)
	}
	states, _ := s.FileStates(ctx)
	if _, ok := states["/photos/2023-extra/c.jpg"]; !ok || len(states) != 1 {
		t.Errorf("left %v, want only the sibling 2023-extra", states)
	}
	if gen, _ := s.Generation(ctx); gen != gen0+1 {
		t.Errorf("generation %d → %d, want one step", gen0, gen)
	}
}

// TestCopies checks the duplicate look-ups.
func TestCopies(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	a, b, c := item("/x/a.jpg", 1), item("/x/b.jpg", 2), item("/y/a copy.jpg", 3)
	c.Hash = a.Hash
	ids, err := s.UpsertItems(ctx, []Item{a, b, c})
	if err != nil {
		t.Fatal(err)
	}
	groups, err := s.DuplicateGroups(ctx)
	if err != nil || len(groups) != 1 || len(groups[a.Hash]) != 2 || groups[a.Hash][0].Path != "/x/a.jpg" {
		t.Fatalf("groups %+v %v", groups, err)
	}
	cp, err := s.CopiesByHash(ctx, []Hash{a.Hash, b.Hash})
	if err != nil || len(cp[a.Hash]) != 2 || len(cp[b.Hash]) != 1 {
		t.Errorf("copies %+v %v", cp, err)
	}
	hs, err := s.HashesOf(ctx, []int64{ids[2], 999})
	if err != nil || len(hs) != 1 || hs[ids[2]] != a.Hash {
		t.Errorf("hashes %v %v", hs, err)
	}
}
