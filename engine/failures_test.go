package engine

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/jpeg"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"mmsearch/encoders"
	"mmsearch/encoders/imageproc"
	"mmsearch/engine/catalog"
	"mmsearch/engine/store"
	"mmsearch/index/hnsw"
)

// touchLater moves a file's modification time an hour on, so the next run
// sees it changed even when its size is the same.
func touchLater(t *testing.T, path string) {
	t.Helper()
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
}

// errorOf returns the error record of path, if any.
func errorOf(t *testing.T, lib *Library, path string) (store.FileError, bool) {
	t.Helper()
	errs, err := lib.Errors(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, fe := range errs {
		if fe.Path == path {
			return fe, true
		}
	}
	return store.FileError{}, false
}

// TestChangedFileThatFailsLosesItsEntry is issue 19 item 5: an indexed file
// whose new content no longer decodes (or that became a named pipe) keeps no
// entry: not in the store, not in the index, not in search results, and
// stats do not count it as an item and a failure at once.
func TestChangedFileThatFailsLosesItsEntry(t *testing.T) {
	var jb bytes.Buffer
	if err := jpeg.Encode(&jb, image.NewRGBA(image.Rect(0, 0, 64, 64)), nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		replace    func(t *testing.T, path string)
		wantError  string // words in the recorded reason; "" = no record
		wantStage  store.Stage
		wantSkipFn bool          // counted as a skipped special file
		second     IngestOptions // of the run after the change
	}{
		{
			name: "truncated jpeg",
			replace: func(t *testing.T, path string) {
				if err := os.WriteFile(path, jb.Bytes()[:jb.Len()/2], 0o644); err != nil {
					t.Fatal(err)
				}
				touchLater(t, path)
			},
			wantError: "corrupt", wantStage: store.StageDecode,
		},
		{
			// Unrecognisable bytes: recognisable text is skipped, not failed,
			// since issue 12 (TestImageReplacedByVideo covers that case).
			name: "not an image",
			replace: func(t *testing.T, path string) {
				if err := os.WriteFile(path, []byte("\x00\x01 now I am no picture"), 0o644); err != nil {
					t.Fatal(err)
				}
				touchLater(t, path)
			},
			wantError: "not an image", wantStage: store.StageDecode,
		},
		{
			name: "named pipe",
			replace: func(t *testing.T, path string) {
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
				if err := syscall.Mkfifo(path, 0o644); err != nil {
					t.Skipf("cannot make a named pipe here: %v", err)
				}
			},
			wantSkipFn: true,
		},
		{
			// Not a deleted file: --keep-missing keeps nothing here.
			name: "named pipe, keep missing",
			replace: func(t *testing.T, path string) {
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
				if err := syscall.Mkfifo(path, 0o644); err != nil {
					t.Skipf("cannot make a named pipe here: %v", err)
				}
			},
			wantSkipFn: true, second: IngestOptions{KeepMissing: true},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			photos := t.TempDir()
			writeImage(t, filepath.Join(photos, "a.png"), 1, "png")
			writeImage(t, filepath.Join(photos, "b.png"), 2, "png")
			cat := filepath.Join(photos, "cat.jpg")
			writeImage(t, cat, 3, "jpeg")
			lib := openLib(t, t.TempDir(), tinyModel)
			if _, err := lib.Ingest(ctx, []string{photos}, IngestOptions{}); err != nil {
				t.Fatal(err)
			}
			old, err := lib.store.ItemByPath(ctx, cat)
			if err != nil {
				t.Fatal(err)
			}

			tc.replace(t, cat)
			rep, err := lib.Ingest(ctx, []string{photos}, tc.second)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := lib.store.ItemByPath(ctx, cat); err == nil {
				t.Errorf("%s still has its old item (report %+v)", cat, rep)
			}
			if tc.wantSkipFn {
				if rep.SkippedSpecial != 1 || rep.Deleted != 1 || rep.Failed != 0 {
					t.Errorf("report %+v: want 1 skipped special file, 1 deleted item, no failure", rep)
				}
			} else if rep.Dropped != 1 || rep.Failed != 1 {
				t.Errorf("report %+v: want 1 failure and 1 dropped item", rep)
			}
			if err := lib.cat.Read(ctx, func(v catalog.View) error {
				if _, err := v.Vector(old.ID); err == nil || v.Len() != 2 {
					t.Errorf("index still holds item %d (%d live vectors, want 2)", old.ID, v.Len())
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			res, err := lib.Search(ctx, "cat", SearchOptions{K: 10})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Results) != 2 {
				t.Errorf("search returned %d results, want 2: %+v", len(res.Results), res.Results)
			}
			for _, r := range res.Results {
				if r.Path == cat {
					t.Errorf("search still returns %s", cat)
				}
			}
			st, err := lib.Stats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			fe, recorded := errorOf(t, lib, cat)
			if tc.wantError == "" {
				if recorded {
					t.Errorf("%s recorded as a failure: %+v", cat, fe)
				}
				if st.Items != 2 || st.Errors != 0 {
					t.Errorf("stats: %d items, %d errors; want 2, 0", st.Items, st.Errors)
				}
			} else {
				if !recorded || fe.Stage != tc.wantStage || !strings.Contains(strings.ToLower(fe.Reason), tc.wantError) {
					t.Errorf("error record %+v (recorded %v), want stage %s saying %q", fe, recorded, tc.wantStage, tc.wantError)
				}
				if st.Items != 2 || st.Errors != 1 {
					t.Errorf("stats: %d items, %d errors; want 2, 1", st.Items, st.Errors)
				}
			}
		})
	}
}

// TestLibraryInsideTheTreeIsNotIndexed is issue 19 item 6: a library folder
// (and the mmsearch cache) inside an indexed tree is never walked, whether it
// is reached as a subfolder, through a link, or named as a root.
func TestLibraryInsideTheTreeIsNotIndexed(t *testing.T) {
	ctx := context.Background()
	photos := t.TempDir()
	writeImage(t, filepath.Join(photos, "a.png"), 1, "png")
	writeImage(t, filepath.Join(photos, "sub", "b.png"), 2, "png")
	libDir := filepath.Join(photos, "lib")
	cacheDir := filepath.Join(photos, "sub", "cache")
	// Pictures inside the library (thumbnails) and the cache must not
	// become results.
	writeImage(t, filepath.Join(libDir, "thumbs", "1-128.png"), 3, "png")
	writeImage(t, filepath.Join(cacheDir, "samples", "c.png"), 4, "png")
	if err := os.Symlink(libDir, filepath.Join(photos, "link-to-lib")); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"MMSEARCH_CACHE_DIR": cacheDir}
	lib, err := Open(ctx, libDir, Options{Model: tinyModel, Index: hnsw.Config{Seed: 1},
		Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lib.Close() })

	for i, roots := range [][]string{
		{photos},
		{photos}, // a second run: the library's files exist now, and the index file
		{photos, libDir, filepath.Join(libDir, "thumbs"), filepath.Join(libDir, DBFile), cacheDir},
	} {
		if i == 1 {
			// What an earlier version left in such a library: its own
			// files recorded as failures, a thumbnail indexed as an item.
			a, err := lib.store.ItemByPath(ctx, filepath.Join(photos, "a.png"))
			if err != nil {
				t.Fatal(err)
			}
			thumb := a
			thumb.ID, thumb.Path = 0, filepath.Join(libDir, "thumbs", "1-128.png")
			if _, err := lib.cat.Apply(ctx, catalog.Batch{Upsert: []store.Item{thumb}, Errors: []store.FileError{
				{Path: filepath.Join(libDir, DBFile), Stage: store.StageDecode, Reason: "not an image"},
				{Path: filepath.Join(cacheDir, "onnxruntime.so"), Stage: store.StageDecode, Reason: "not an image"},
			}}); err != nil {
				t.Fatal(err)
			}
		}
		rep, err := lib.Ingest(ctx, roots, IngestOptions{IncludeHidden: true})
		if err != nil {
			t.Fatalf("index %q: %v", roots, err)
		}
		if rep.Excluded == 0 || rep.Failed != 0 {
			t.Errorf("index %q: report %+v, want excluded folders and no failure", roots, rep)
		}
		got := itemPaths(t, lib)
		want := []string{filepath.Join(photos, "a.png"), filepath.Join(photos, "sub", "b.png")}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("index %q: items %q, want %q", roots, got, want)
		}
		errs, err := lib.Errors(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(errs) != 0 {
			t.Errorf("index %q: recorded failures %+v", roots, errs)
		}
	}
}

// TestRootInsideTheCacheIsIndexed: a folder the user names inside the
// mmsearch cache (the demo's emoji collection and the benchmark collections
// live there) is indexed, while the cache's other folders stay unwalked even
// when a root above the cache is indexed in the same run.
func TestRootInsideTheCacheIsIndexed(t *testing.T) {
	ctx := context.Background()
	home := t.TempDir()
	cacheDir := filepath.Join(home, "cache")
	samples := filepath.Join(cacheDir, "emoji-data", "img")
	writeImage(t, filepath.Join(samples, "e1.png"), 1, "png")
	writeImage(t, filepath.Join(samples, "e2.png"), 2, "png")
	writeImage(t, filepath.Join(cacheDir, "thumbs", "t.png"), 3, "png")
	writeImage(t, filepath.Join(home, "a.png"), 4, "png")
	env := map[string]string{"MMSEARCH_CACHE_DIR": cacheDir}
	lib, err := Open(ctx, filepath.Join(t.TempDir(), "lib"), Options{Model: tinyModel, Index: hnsw.Config{Seed: 1},
		Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lib.Close() })
	for _, c := range []struct {
		roots []string
		want  []string
	}{
		{[]string{samples}, []string{filepath.Join(samples, "e1.png"), filepath.Join(samples, "e2.png")}},
		{[]string{home, samples}, []string{filepath.Join(home, "a.png"), filepath.Join(samples, "e1.png"), filepath.Join(samples, "e2.png")}},
		{[]string{home}, []string{filepath.Join(home, "a.png")}},
		{[]string{cacheDir}, []string{filepath.Join(home, "a.png")}}, // the cache itself: nothing walked, nothing outside it touched
	} {
		if _, err := lib.Ingest(ctx, c.roots, IngestOptions{}); err != nil {
			t.Fatalf("index %q: %v", c.roots, err)
		}
		if got := itemPaths(t, lib); strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("index %q: items %q, want %q", c.roots, got, c.want)
		}
	}
}

// TestTransientFailuresAreRetried is issue 19 item 4: failures whose cause
// can pass are tried again on every run though the file is unchanged,
// content failures only when the file changes or when asked, and records
// that no longer apply are cleared.
func TestTransientFailuresAreRetried(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// setup makes the first run (with opt) fail on path. again, if set,
		// runs before the second run, which uses opt too and must fail the
		// same way; fix makes the failure pass before the third.
		setup     func(t *testing.T, photos string) (path string, opt IngestOptions, again, fix func())
		wantClass store.Class
		wantStage store.Stage
		second    IngestOptions
		// After the fix, the second run indexes the file (else: the record
		// is gone and nothing is indexed).
		wantIndexed bool
	}{
		{
			name: "vanished while read, restored unchanged",
			setup: func(t *testing.T, photos string) (string, IngestOptions, func(), func()) {
				path := filepath.Join(photos, "v.png")
				writeImage(t, path, 7, "png")
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				fi, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				restore := func() {
					// Back with the same size and time: the case that
					// stayed out of the library for good.
					if err := os.WriteFile(path, data, 0o644); err != nil {
						t.Fatal(err)
					}
					if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
						t.Fatal(err)
					}
				}
				return path, IngestOptions{testHookBeforeRead: func(p string) {
					if p == path {
						if err := os.Remove(path); err != nil {
							t.Error(err)
						}
					}
				}}, restore, restore
			},
			wantClass: store.ClassTransient, wantStage: store.StageRead, wantIndexed: true,
		},
		{
			name: "broken link, then mended",
			setup: func(t *testing.T, photos string) (string, IngestOptions, func(), func()) {
				target := filepath.Join(t.TempDir(), "target.png")
				link := filepath.Join(photos, "link.png")
				if err := os.Symlink(target, link); err != nil {
					t.Fatal(err)
				}
				return link, IngestOptions{}, nil, func() { writeImage(t, target, 8, "png") }
			},
			wantClass: store.ClassTransient, wantStage: store.StageWalk, wantIndexed: true,
		},
		{
			name: "unreadable folder, then readable",
			setup: func(t *testing.T, photos string) (string, IngestOptions, func(), func()) {
				dir := filepath.Join(photos, "locked")
				writeImage(t, filepath.Join(dir, "in.png"), 9, "png")
				if err := os.Chmod(dir, 0); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { os.Chmod(dir, 0o755) })
				if _, err := os.ReadDir(dir); err == nil {
					t.Skipf("this process (euid %d) reads a folder of mode 000; the folder-level retry is covered by the broken-link case", os.Geteuid())
				}
				return dir, IngestOptions{}, nil, func() {
					if err := os.Chmod(dir, 0o755); err != nil {
						t.Fatal(err)
					}
				}
			},
			wantClass: store.ClassTransient, wantStage: store.StageWalk, wantIndexed: true,
		},
		{
			name: "corrupt, then deleted",
			setup: func(t *testing.T, photos string) (string, IngestOptions, func(), func()) {
				path := filepath.Join(photos, "broken.png")
				if err := os.WriteFile(path, []byte("\x89PNG\r\n\x1a\n broken"), 0o644); err != nil {
					t.Fatal(err)
				}
				return path, IngestOptions{}, nil, func() {
					if err := os.Remove(path); err != nil {
						t.Fatal(err)
					}
				}
			},
			wantClass: store.ClassContent, wantStage: store.StageDecode,
		},
		{
			name: "corrupt, mended in place with the same size and time, --retry-failed",
			setup: func(t *testing.T, photos string) (string, IngestOptions, func(), func()) {
				path := filepath.Join(photos, "mended.png")
				writeImage(t, path, 10, "png")
				good, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				fi, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				bad := bytes.Repeat([]byte{0}, len(good))
				if err := os.WriteFile(path, bad, 0o644); err != nil {
					t.Fatal(err)
				}
				os.Chtimes(path, fi.ModTime(), fi.ModTime())
				return path, IngestOptions{}, nil, func() {
					if err := os.WriteFile(path, good, 0o644); err != nil {
						t.Fatal(err)
					}
					os.Chtimes(path, fi.ModTime(), fi.ModTime())
				}
			},
			wantClass: store.ClassContent, wantStage: store.StageDecode,
			second: IngestOptions{RetryFailed: true}, wantIndexed: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			photos := t.TempDir()
			writeImage(t, filepath.Join(photos, "ok.png"), 1, "png")
			path, opt, again, fix := tc.setup(t, photos)
			lib := openLib(t, t.TempDir(), tinyModel)
			rep, err := lib.Ingest(ctx, []string{photos}, opt)
			if err != nil {
				t.Fatal(err)
			}
			fe, ok := errorOf(t, lib, path)
			if !ok || fe.Class != tc.wantClass || fe.Stage != tc.wantStage || rep.Failed != 1 {
				t.Fatalf("first run: record %+v (%v), report %+v; want a %s failure at %s", fe, ok, rep, tc.wantClass, tc.wantStage)
			}

			// Unchanged: a transient failure is tried again (and fails
			// again); a content failure is not.
			if again != nil {
				again()
			}
			rep, err = lib.Ingest(ctx, []string{photos}, opt)
			if err != nil {
				t.Fatal(err)
			}
			if _, still := errorOf(t, lib, path); !still {
				t.Errorf("the record went while the failure still applies (report %+v)", rep)
			}
			switch {
			case tc.wantStage == store.StageWalk:
				if rep.Skipped != 1 || rep.Failed != 0 {
					t.Errorf("unchanged walk failure: report %+v, want it walked again and counted as failed before", rep)
				}
			case tc.wantClass == store.ClassTransient:
				if rep.Retried != 1 || rep.Failed != 1 {
					t.Errorf("unchanged transient failure: report %+v, want 1 retried, 1 failed", rep)
				}
			default:
				if rep.Skipped != 1 || rep.Retried != 0 || rep.Failed != 0 {
					t.Errorf("unchanged content failure: report %+v, want it skipped", rep)
				}
			}

			fix()
			rep, err = lib.Ingest(ctx, []string{photos}, tc.second)
			if err != nil {
				t.Fatal(err)
			}
			if fe, still := errorOf(t, lib, path); still {
				t.Errorf("record kept after the cause passed: %+v (report %+v)", fe, rep)
			}
			items := itemPaths(t, lib)
			wantItems := 1
			if tc.wantIndexed {
				wantItems = 2
			}
			if len(items) != wantItems || rep.Failed != 0 {
				t.Errorf("after the fix: items %q, report %+v; want %d items, no failure", items, rep, wantItems)
			}
			st, err := lib.Stats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.Errors != 0 || st.Items != int64(wantItems) {
				t.Errorf("stats: %d items, %d errors; want %d, 0", st.Items, st.Errors, wantItems)
			}
		})
	}
}

// TestStaleRecordOfAnIndexedFileIsCleared: a failure record left beside an
// item indexed as the file is now (by an earlier version) goes on the next
// run, so stats count the file once.
func TestStaleRecordOfAnIndexedFileIsCleared(t *testing.T) {
	ctx := context.Background()
	photos := t.TempDir()
	path := filepath.Join(photos, "a.png")
	writeImage(t, path, 1, "png")
	lib := openLib(t, t.TempDir(), tinyModel)
	if _, err := lib.Ingest(ctx, []string{photos}, IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := lib.cat.Apply(ctx, catalog.Batch{Errors: []store.FileError{{Path: path, Size: 1, MtimeNs: 1, Stage: store.StageDecode, Reason: "old"}}}); err != nil {
		t.Fatal(err)
	}
	rep, err := lib.Ingest(ctx, []string{photos}, IngestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := lib.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Items != 1 || st.Errors != 0 || rep.Cleared != 1 || rep.Unchanged != 1 {
		t.Errorf("stats %d items, %d errors; report %+v", st.Items, st.Errors, rep)
	}
}

// TestUnreadableFolderAsNobody runs the "unreadable folder" case of
// TestTransientFailuresAreRetried in a child process with the user id of
// "nobody" when this one runs as root, for whom mode 000 means nothing: a
// real permission failure, recorded, then cleared once the folder is
// readable again.
func TestUnreadableFolderAsNobody(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root: TestTransientFailuresAreRetried runs the case itself")
	}
	const nobody = 65534
	ortLib, err := encoders.FindLibrary("", os.Getenv)
	if err != nil {
		t.Skipf("no ONNX Runtime library: %v", err)
	}
	// The child needs the test binary, the library and the model in
	// folders anyone may enter, and a temporary folder of its own.
	shared, err := os.MkdirTemp("", "ingesttest")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(shared)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	copyFile := func(from, to string, mode os.FileMode) {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, mode); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(exe, filepath.Join(shared, "engine", "engine.test"), 0o755)
	copyFile(ortLib, filepath.Join(shared, "ort", filepath.Base(ortLib)), 0o644)
	entries, err := os.ReadDir(tinyModel)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		copyFile(filepath.Join(tinyModel, e.Name()), filepath.Join(shared, "encoders", "testdata", "tiny", e.Name()), 0o644)
	}
	tmp := filepath.Join(shared, "tmp")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(tmp, nobody, nobody); err != nil {
		t.Skipf("cannot give a folder to uid %d: %v", nobody, err)
	}
	for _, d := range []string{shared, filepath.Join(shared, "engine"), filepath.Join(shared, "ort")} {
		os.Chmod(d, 0o755)
	}

	cmd := exec.Command(filepath.Join(shared, "engine", "engine.test"),
		"-test.run=^TestTransientFailuresAreRetried$/^unreadable", "-test.v", "-test.count=1")
	cmd.Dir = filepath.Join(shared, "engine")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp, "HOME="+tmp, "XDG_CACHE_HOME="+tmp, "MMSEARCH_DATA_DIR="+tmp,
		encoders.LibraryEnv+"="+filepath.Join(shared, "ort", filepath.Base(ortLib)))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, fs.ErrPermission) {
			t.Skipf("cannot run a process as uid %d here: %v", nobody, err)
		}
		t.Fatalf("child as uid %d: %v\n%s", nobody, err, out)
	}
	t.Logf("child as uid %d:\n%s", nobody, out)
	if !strings.Contains(string(out), "--- PASS: TestTransientFailuresAreRetried/unreadable_folder") {
		t.Fatalf("the case did not run and pass as uid %d:\n%s", nobody, out)
	}
}

// TestClassifyFailures: which failures are tried again on every run. Read
// failures come from reading real files where this machine can produce
// them; I/O and permission errors, which root cannot provoke on a healthy
// disk, are the errors the system returns for them.
func TestClassifyFailures(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.png")
	if err := os.WriteFile(big, bytes.Repeat([]byte{1}, 100), 0o644); err != nil {
		t.Fatal(err)
	}
	pipe := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(pipe, 0o644); err != nil {
		t.Fatal(err)
	}
	readErr := func(path string, limit int64) error {
		t.Helper()
		done := make(chan error, 1)
		go func() {
			_, err := readLimited(context.Background(), path, limit)
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil {
				t.Fatalf("reading %s succeeded", path)
			}
			return err
		case <-time.After(5 * time.Second):
			t.Fatalf("reading %s hangs", path)
		}
		return nil
	}
	tests := []struct {
		name  string
		stage store.Stage
		err   error
		want  store.Class
	}{
		{"vanished", store.StageRead, readErr(filepath.Join(dir, "gone.png"), imageproc.DefaultMaxFileBytes), store.ClassTransient},
		{"over the size limit", store.StageRead, readErr(big, 10), store.ClassContent},
		{"became a named pipe", store.StageRead, readErr(pipe, imageproc.DefaultMaxFileBytes), store.ClassTransient},
		{"became a folder", store.StageRead, readErr(dir, imageproc.DefaultMaxFileBytes), store.ClassTransient},
		{"I/O error", store.StageRead, &fs.PathError{Op: "read", Path: big, Err: syscall.EIO}, store.ClassTransient},
		{"permission", store.StageRead, &fs.PathError{Op: "open", Path: big, Err: syscall.EACCES}, store.ClassTransient},
		{"not an image", store.StageDecode, errors.New(`not an image (unknown format; starts with "hello")`), store.ClassContent},
		{"model failed on the batch", store.StageEncode, errors.New("onnxruntime: out of memory"), store.ClassTransient},
		{"folder unreadable", store.StageWalk, &fs.PathError{Op: "open", Path: dir, Err: syscall.EACCES}, store.ClassTransient},
	}
	for _, tc := range tests {
		if got := classify(tc.stage, tc.err); got != tc.want {
			t.Errorf("%s (%s: %v): class %s, want %s", tc.name, tc.stage, tc.err, got, tc.want)
		}
	}
}
