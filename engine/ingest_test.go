package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mmsearch/engine/store"
)

func TestEncodeStreams(t *testing.T) {
	for _, tc := range []struct {
		cores, threads, streams  int
		wantStreams, wantThreads int
	}{
		{cores: 1, wantStreams: 1, wantThreads: 1},
		{cores: 2, wantStreams: 2, wantThreads: 1},
		{cores: 4, wantStreams: 4, wantThreads: 1},
		{cores: 8, wantStreams: 4, wantThreads: 2},
		{cores: 16, wantStreams: 4, wantThreads: 4},
		{cores: 0, wantStreams: 1, wantThreads: 1},
		{cores: 8, threads: 8, wantStreams: 1, wantThreads: 8},
		{cores: 8, threads: 3, wantStreams: 2, wantThreads: 3},
		{cores: 64, threads: 1, wantStreams: maxStreams, wantThreads: 1},
		{cores: 8, streams: 2, wantStreams: 2, wantThreads: 4},
		{cores: 2, streams: 3, wantStreams: 3, wantThreads: 1},
		{cores: 2, threads: 2, streams: 2, wantStreams: 2, wantThreads: 2},
	} {
		s, th := EncodeStreams(tc.cores, tc.threads, tc.streams)
		if s != tc.wantStreams || th != tc.wantThreads {
			t.Errorf("EncodeStreams(%d, %d, %d) = %d streams × %d threads, want %d × %d",
				tc.cores, tc.threads, tc.streams, s, th, tc.wantStreams, tc.wantThreads)
		}
	}
}

// TestIngestStreamsAgree indexes one folder with one inference at a time
// and with several at once, in different batch sizes: every file gets the
// same vector either way, each exactly once.
func TestIngestStreamsAgree(t *testing.T) {
	ctx := context.Background()
	photos := t.TempDir()
	const n = 23
	for i := range n {
		format := "png"
		if i%3 == 0 {
			format = "jpeg"
		}
		writeImage(t, filepath.Join(photos, fmt.Sprintf("img%02d.%s", i, format)), i, format)
	}
	vectors := func(opt IngestOptions) map[string][]float32 {
		lib := openLib(t, t.TempDir(), tinyModel)
		rep, err := lib.Ingest(ctx, []string{photos}, opt)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Indexed != n || rep.Failed != 0 {
			t.Fatalf("%+v: report %+v", opt, rep)
		}
		out := map[string][]float32{}
		for _, p := range itemPaths(t, lib) {
			it, err := lib.store.ItemByPath(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			out[p] = it.Vector
		}
		if len(out) != n {
			t.Fatalf("%+v: %d items, want %d", opt, len(out), n)
		}
		return out
	}
	one := vectors(IngestOptions{Streams: 1, BatchSize: 4, Workers: 1})
	for _, opt := range []IngestOptions{
		{Streams: 3, BatchSize: 2, Workers: 3},
		{Streams: 2, BatchSize: 5},
		{Streams: 4, BatchSize: 1, Workers: 2},
	} {
		got := vectors(opt)
		for p, want := range one {
			v := got[p]
			if len(v) != len(want) {
				t.Fatalf("%+v: %s has %d values, want %d", opt, p, len(v), len(want))
			}
			for i := range v {
				if d := v[i] - want[i]; d > 1e-5 || d < -1e-5 {
					t.Fatalf("%+v: %s value %d = %g, one stream gave %g", opt, p, i, v[i], want[i])
				}
			}
		}
	}
}

// TestIngestCountingWalk: the counting walk lists, ahead of the workers and
// before any file is read, exactly the files the real walk finds and those
// of them it queues, with the same exclusions (hidden names, the library's
// own folder, default excludes, an ignore file) and a folder reached through a link counted once; and
// Progress is never called after Index returns.
func TestIngestCountingWalk(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	photos := filepath.Join(base, "photos")
	other := filepath.Join(base, "other")
	for _, d := range []string{filepath.Join(photos, "a"), filepath.Join(photos, ".hidden"), other} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 9 {
		writeImage(t, filepath.Join(photos, "a", fmt.Sprintf("img%d.png", i)), i, "png")
	}
	for i := range 4 {
		writeImage(t, filepath.Join(other, fmt.Sprintf("o%d.png", i)), 20+i, "png")
	}
	writeImage(t, filepath.Join(photos, ".hidden", "h.png"), 30, "png")
	// Excluded by default, and by an ignore file.
	for _, d := range []string{"@eaDir", "skip-me"} {
		if err := os.Mkdir(filepath.Join(photos, d), 0o755); err != nil {
			t.Fatal(err)
		}
		writeImage(t, filepath.Join(photos, d, "x.png"), 31, "png")
	}
	if err := os.WriteFile(filepath.Join(photos, ".mmsearchignore"), []byte("skip-me/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(photos, "notes.txt"), []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(photos, "broken.png"), []byte("\x89PNG\r\n\x1a\n broken"), 0o644); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{"b": filepath.Join(photos, "a"), "outside": other} {
		if err := os.Symlink(target, filepath.Join(photos, link)); err != nil {
			t.Fatal(err)
		}
	}
	lib := openLib(t, filepath.Join(photos, "library"), tinyModel) // inside the root: never walked

	run := func(wantFound, wantToDo int, roots ...string) IngestReport {
		t.Helper()
		var returned atomic.Bool
		countedCh := make(chan struct{})
		var once sync.Once
		var first, last Progress
		var sawCounted bool
		opt := IngestOptions{BatchSize: 4, Workers: 2,
			Progress: func(pr Progress) {
				if returned.Load() {
					t.Error("Progress called after Index returned")
				}
				if pr.Counted && !sawCounted {
					sawCounted, first = true, pr
					once.Do(func() { close(countedCh) })
				}
				last = pr
			},
			testHookBeforeRead: func(string) {
				select { // no file is read before the count is complete
				case <-countedCh:
				case <-time.After(10 * time.Second):
				}
			},
		}
		rep, err := lib.Ingest(ctx, append([]string{photos}, roots...), opt)
		returned.Store(true)
		if err != nil {
			t.Fatal(err)
		}
		queued := rep.New + rep.Changed + rep.Retried
		if rep.Found != wantFound || queued != wantToDo {
			t.Fatalf("found %d, queued %d; want %d, %d: %+v", rep.Found, queued, wantFound, wantToDo, rep)
		}
		if !sawCounted {
			t.Fatal("the counting walk never completed")
		}
		if first.Total != rep.Found || first.ToDo != queued {
			t.Errorf("counting walk: %d files, %d to do; the walk found %d, queued %d", first.Total, first.ToDo, rep.Found, queued)
		}
		if wantToDo > 0 && first.Done != 0 {
			t.Errorf("the count completed after %d files were done, not ahead of the workers", first.Done)
		}
		if last.Done != queued || last.Walking {
			t.Errorf("last progress %+v, want %d done", last, queued)
		}
		return rep
	}
	// 9 in a (b is the same folder), 4 through the link to other,
	// notes.txt (skipped: not an image) and broken.png (fails).
	rep := run(15, 15)
	if rep.Failed != 1 || rep.Revisited != 1 || len(rep.Errors) != 1 || rep.Errors[0].Stage != store.StageDecode || rep.SkippedNew != 1 {
		t.Errorf("want broken.png failed, notes.txt skipped and b counted as a folder walked once: %+v", rep)
	}
	if n := len(itemPaths(t, lib)); n != 13 {
		t.Errorf("%d items, want 13", n)
	}
	writeImage(t, filepath.Join(photos, "a", "new.png"), 40, "png")
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(other, "o1.png"), future, future); err != nil {
		t.Fatal(err)
	}
	run(16, 2) // the new file and the touched one; notes.txt and broken.png are unchanged
	// A file root inside the folder root is listed once; a changed file
	// is the one thing to do.
	if err := os.Chtimes(filepath.Join(photos, "a", "img0.png"), future, future); err != nil {
		t.Fatal(err)
	}
	run(16, 1, filepath.Join(photos, "a", "img0.png"))
}
