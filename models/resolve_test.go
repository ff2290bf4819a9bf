package models

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"mmsearch/encoders"
)

// tinyFS is the tiny test model as an in-memory folder, like the embedded
// bundled model.
func tinyFS(t testing.TB) fstest.MapFS {
	t.Helper()
	fsys := fstest.MapFS{}
	for _, name := range tinyFiles {
		data, err := os.ReadFile(filepath.Join(tinyDir, name))
		if err != nil {
			t.Fatal(err)
		}
		fsys[name] = &fstest.MapFile{Data: data, Mode: 0o644}
	}
	return fsys
}

// testEnv returns an environment whose data and cache folders are fresh.
func testEnv(t testing.TB) (map[string]string, func(string) string) {
	env := map[string]string{"MMSEARCH_DATA_DIR": t.TempDir(), "MMSEARCH_CACHE_DIR": t.TempDir()}
	return env, func(k string) string { return env[k] }
}

func TestResolveChain(t *testing.T) {
	type setup struct {
		installed  []string // names installed in DataDir/models
		configured string   // default set by 'models use' (one of installed)
		bundle     bool     // an embedded bundled model
	}
	folder, err := filepath.Abs(tinyDir)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		setup      setup
		req        Request
		wantSource Source
		wantDir    string // relative to DataDir, or absolute
		wantErr    string // substring; errors must wrap ErrModelNotFound
	}{
		{"flag by name", setup{installed: []string{"alpha", "beta"}, configured: "beta"}, Request{Flag: "alpha", Library: "beta"}, FromFlag, "models/alpha", ""},
		{"flag by folder", setup{}, Request{Flag: tinyDir}, FromFlag, folder, ""},
		{"unknown flag never falls back", setup{installed: []string{"beta"}, configured: "beta", bundle: true}, Request{Flag: "alpah"}, "", "", `"alpah"`},
		{"library name", setup{installed: []string{"alpha", "beta"}, configured: "beta"}, Request{Library: "alpha"}, FromLibrary, "models/alpha", ""},
		{"library by hint folder", setup{installed: []string{"beta"}, configured: "beta"}, Request{Library: "tiny-test", LibraryHint: folder}, FromLibrary, folder, ""},
		{"library model gone", setup{installed: []string{"beta"}, bundle: true}, Request{Library: "gone", LibraryHint: "/nowhere/gone"}, "", "", "made with model gone, which is not installed"},
		{"configured default", setup{installed: []string{"alpha", "beta"}, configured: "beta", bundle: true}, Request{}, FromConfig, "models/beta", ""},
		{"bundled, unpacked from the embedded copy", setup{bundle: true}, Request{}, FromBundled, "bundled/tiny-test-", ""},
		{"no bundled model anywhere", setup{}, Request{}, "", "", `"emoji-clip"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env, getenv := testEnv(t)
			h := New(getenv)
			for _, n := range tc.setup.installed {
				installTiny(t, h, n)
			}
			if tc.setup.configured != "" {
				if err := h.Use(tc.setup.configured); err != nil {
					t.Fatal(err)
				}
			}
			r := Resolver{Getenv: getenv}
			if tc.setup.bundle {
				r.Bundle = tinyFS(t)
			}
			got, err := r.Resolve(tc.req)
			if tc.wantErr != "" {
				if !errors.Is(err, ErrModelNotFound) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Resolve: %+v, %v; want ErrModelNotFound containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tc.wantDir
			if !filepath.IsAbs(want) {
				want = filepath.Join(env["MMSEARCH_DATA_DIR"], want)
			}
			if got.Source != tc.wantSource || !strings.HasPrefix(got.Dir, want) {
				t.Fatalf("Resolve = %+v, want source %s, dir %s", got, tc.wantSource, want)
			}
			if _, err := encoders.ReadManifest(got.Dir); err != nil {
				t.Fatalf("resolved folder is no model: %v", err)
			}
		})
	}
}

// TestResolveConfiguredMissing: a default set by 'models use' whose folder
// was deleted is an error naming it, not a silent fall-back to the bundled model.
func TestResolveConfiguredMissing(t *testing.T) {
	_, getenv := testEnv(t)
	h := New(getenv)
	dir := installTiny(t, h, "alpha")
	if err := h.Use("alpha"); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	_, err := Resolver{Getenv: getenv, Bundle: tinyFS(t)}.Resolve(Request{})
	if !errors.Is(err, ErrModelNotFound) || !strings.Contains(err.Error(), "models use") {
		t.Fatalf("err %v, want ErrModelNotFound naming 'models use'", err)
	}
}

func TestUnpack(t *testing.T) {
	root := filepath.Join(t.TempDir(), "bundled")
	dir, err := Unpack(tinyFS(t), root)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range tinyFiles {
		want, _ := os.ReadFile(filepath.Join(tinyDir, name))
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(got) != string(want) {
			t.Fatalf("%s differs after unpacking (%v)", name, err)
		}
	}
	fi, _ := os.Stat(filepath.Join(dir, "vision_model.onnx"))
	// Once: a second call returns the same folder without writing.
	time.Sleep(10 * time.Millisecond)
	again, err := Unpack(tinyFS(t), root)
	if err != nil || again != dir {
		t.Fatalf("second unpack: %s, %v; want %s", again, err, dir)
	}
	fi2, _ := os.Stat(filepath.Join(dir, "vision_model.onnx"))
	if !fi2.ModTime().Equal(fi.ModTime()) {
		t.Fatal("the second unpack rewrote the model")
	}
	ents, _ := os.ReadDir(root)
	if len(ents) != 1 {
		t.Fatalf("left in %s: %v", root, ents)
	}
}

func TestUnpackConcurrent(t *testing.T) {
	root := filepath.Join(t.TempDir(), "bundled")
	var wg sync.WaitGroup
	dirs := make([]string, 6)
	errs := make([]error, 6)
	for i := range dirs {
		wg.Go(func() { dirs[i], errs[i] = Unpack(tinyFS(t), root) })
	}
	wg.Wait()
	for i := range dirs {
		if errs[i] != nil || dirs[i] != dirs[0] {
			t.Fatalf("unpack %d: %s, %v (first %s)", i, dirs[i], errs[i], dirs[0])
		}
	}
	if _, err := encoders.ReadManifest(dirs[0]); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(root)
	if len(ents) != 1 {
		t.Fatalf("left in %s: %v", root, ents)
	}
}

// TestUnpackCorrupt: an embedded tower whose digest differs from the
// manifest is refused and nothing is published.
func TestUnpackCorrupt(t *testing.T) {
	fsys := tinyFS(t)
	bad := append([]byte(nil), fsys["text_model.onnx"].Data...)
	bad[len(bad)-1] ^= 0xff
	fsys["text_model.onnx"] = &fstest.MapFile{Data: bad}
	root := filepath.Join(t.TempDir(), "bundled")
	dir, err := Unpack(fsys, root)
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "text tower") {
		t.Fatalf("Unpack: %s, %v; want ErrChecksum naming the text tower", dir, err)
	}
	ents, _ := os.ReadDir(root)
	if len(ents) != 0 {
		t.Fatalf("left in %s after a failed unpack: %v", root, ents)
	}
}

// copyTiny copies the tiny model into a fresh folder and returns it.
func copyTiny(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tiny")
	for _, f := range tinyFiles {
		if _, _, err := copyFile(context.Background(), filepath.Join(tinyDir, f), filepath.Join(dir, f), 1<<30); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestOpenStamp(t *testing.T) {
	startRuntime(t)
	_, getenv := testEnv(t)
	dir := copyTiny(t)
	open := func() (Opened, error) {
		_, o, err := Open(dir, OpenOptions{Getenv: getenv})
		return o, err
	}
	mustOpen := func(wantVerified bool, why string) {
		t.Helper()
		o, err := open()
		if err != nil {
			t.Fatalf("%s: %v", why, err)
		}
		if o.Verified != wantVerified {
			t.Fatalf("%s: verified %v, want %v", why, o.Verified, wantVerified)
		}
	}
	mustOpen(true, "first open (no stamp)")
	if _, err := os.Stat(StampPath(dir, getenv)); err != nil {
		t.Fatalf("no stamp after verification: %v", err)
	}
	mustOpen(false, "second open (stamp valid)")

	// A new modification time: verified again.
	text := filepath.Join(dir, "text_model.onnx")
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(text, later, later); err != nil {
		t.Fatal(err)
	}
	mustOpen(true, "after touch")
	mustOpen(false, "after touch, stamped again")

	// Same size and time but another inode (a replaced file): verified again.
	fi, _ := os.Stat(text)
	data, _ := os.ReadFile(text)
	if err := os.WriteFile(text+".new", data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(text+".new", text); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(text, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	mustOpen(true, "after replacing the file")

	// Changed content is caught, since the write moves the modification time.
	data[len(data)-1] ^= 0xff
	if err := os.WriteFile(text, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := open(); !errors.Is(err, ErrChecksum) {
		t.Fatalf("open after corrupting the text tower: %v, want ErrChecksum", err)
	}
	// A failed verification leaves no stamp that vouches for the bad file.
	if _, err := open(); !errors.Is(err, ErrChecksum) {
		t.Fatalf("second open of the corrupt tower: %v, want ErrChecksum", err)
	}
}

// TestOpenStampManifestEdit: editing model.json (same weights) re-runs the
// graph check, which catches an output the graph does not have.
func TestOpenStampManifestEdit(t *testing.T) {
	startRuntime(t)
	_, getenv := testEnv(t)
	dir := copyTiny(t)
	if _, _, err := Open(dir, OpenOptions{Getenv: getenv}); err != nil {
		t.Fatal(err)
	}
	m, err := encoders.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	m.Text.Output.Name = "not_an_output"
	if err := encoders.WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Open(dir, OpenOptions{Getenv: getenv}); !errors.Is(err, encoders.ErrGraph) {
		t.Fatalf("open after renaming the text output: %v, want ErrGraph", err)
	}
}

// TestOpenTextOnlyNeverLoadsImageGraph: with a valid stamp, Open and a text
// encoding never read the image graph. The image tower is replaced by
// garbage of the same size in place and its modification time restored, so
// the stamp still matches: text encoding works, and the first image
// session fails, proving the garbage was never loaded before.
func TestOpenTextOnlyNeverLoadsImageGraph(t *testing.T) {
	startRuntime(t)
	_, getenv := testEnv(t)
	dir := copyTiny(t)
	if _, _, err := Open(dir, OpenOptions{Getenv: getenv}); err != nil {
		t.Fatal(err)
	}
	vision := filepath.Join(dir, "vision_model.onnx")
	fi, _ := os.Stat(vision)
	f, err := os.OpenFile(vision, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(make([]byte, fi.Size())); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Chtimes(vision, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	m, o, err := Open(dir, OpenOptions{Getenv: getenv})
	if err != nil || o.Verified {
		t.Fatalf("open with a valid stamp: verified %v, %v", o.Verified, err)
	}
	txt, err := encoders.NewTextEncoder(m, encoders.SessionOptions{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer txt.Close()
	if _, err := txt.EncodeTexts(context.Background(), []string{"a cat"}); err != nil {
		t.Fatalf("text encoding: %v", err)
	}
	if img, err := encoders.NewImageEncoder(m, encoders.SessionOptions{IntraOpThreads: 1}); err == nil {
		img.Close()
		t.Fatal("the zeroed image graph opened; the test proves nothing")
	}
}

// TestStampsWrittenByInstallAndVerify: import and 'models verify' leave a
// stamp, so the first open after them does not verify again.
func TestStampsWrittenByInstallAndVerify(t *testing.T) {
	startRuntime(t)
	h := testHub(t, nil)
	env := map[string]string{"MMSEARCH_DATA_DIR": h.DataDir, "MMSEARCH_CACHE_DIR": t.TempDir()}
	h.Getenv = func(k string) string { return env[k] }
	res, err := h.Import(context.Background(), randomCLIP(t), "imported", ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, o, err := Open(res.Dir, OpenOptions{Getenv: h.Getenv}); err != nil || o.Verified {
		t.Fatalf("open after import: verified %v, %v; want the import's stamp", o.Verified, err)
	}
	if err := os.Remove(StampPath(res.Dir, h.Getenv)); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Verify(context.Background(), "imported"); err != nil {
		t.Fatal(err)
	}
	if _, o, err := Open(res.Dir, OpenOptions{Getenv: h.Getenv}); err != nil || o.Verified {
		t.Fatalf("open after verify: verified %v, %v; want the verify's stamp", o.Verified, err)
	}
}

// TestListShowsEmbeddedBundle: outside a checkout, 'models list' shows the
// bundled model from the embedded copy.
func TestListShowsEmbeddedBundle(t *testing.T) {
	_, getenv := testEnv(t)
	h := New(getenv)
	h.Bundle = tinyFS(t)
	list, err := h.List(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Name != BundledModel || list[0].Status != StatusBundled || !strings.HasPrefix(list[0].Dir, filepath.Join(h.DataDir, BundledDir)) {
		t.Fatalf("list %+v, want the embedded bundled model", list)
	}
}
