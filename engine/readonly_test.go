package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// mountTmpfs mounts a small tmpfs at a new folder and returns the folder
// and a function that remounts it read-only. It skips the test where the
// process may not mount (not root, no CAP_SYS_ADMIN): root ignores file
// permissions, so only a read-only mount tests a read-only library.
func mountTmpfs(t *testing.T) (dir string, readOnly func()) {
	t.Helper()
	dir = t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v: %s); the read-only library test needs one", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	return dir, func() {
		if out, err := exec.Command("mount", "-o", "remount,ro", dir).CombinedOutput(); err != nil {
			t.Fatalf("remount read-only: %v: %s", err, out)
		}
	}
}

// TestReadOnlyFileSystem: a library on a read-only file system opens for
// reading: searches and stats work (a damaged index file is rebuilt in
// memory), writes fail with ErrReadOnly, and nothing is written.
func TestReadOnlyFileSystem(t *testing.T) {
	ctx := context.Background()
	mnt, readOnly := mountTmpfs(t)
	photos := t.TempDir()
	for i := range 6 {
		writeImage(t, filepath.Join(photos, fmt.Sprintf("%d.png", i)), i, "png")
	}
	dir := filepath.Join(mnt, "lib")
	lib, err := Open(ctx, dir, Options{Model: tinyModel})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lib.Ingest(ctx, []string{photos}, IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	want, err := lib.Search(ctx, "@3", SearchOptions{K: 3})
	if err != nil {
		t.Fatal(err)
	}
	lib.Close()
	// Damage the index file too: the read-only library rebuilds in memory.
	p := filepath.Join(dir, IndexFile)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x20
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	readOnly()
	if err := os.WriteFile(filepath.Join(dir, "probe"), nil, 0o644); err == nil {
		t.Fatal("the mount is still writable")
	}

	lib, err = Open(ctx, dir, Options{MustExist: true})
	if err != nil {
		t.Fatalf("open a library on a read-only file system: %v", err)
	}
	defer lib.Close()
	if !lib.ReadOnly() {
		t.Fatal("ReadOnly() = false on a read-only mount")
	}
	st, err := lib.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.ReadOnly || st.Items != 6 || st.IndexFresh {
		t.Fatalf("stats %+v: want read-only, 6 items, index not fresh", st)
	}
	got, err := lib.Search(ctx, "@3", SearchOptions{K: 3})
	if err != nil {
		t.Fatalf("search a read-only library: %v", err)
	}
	if len(got.Results) != len(want.Results) || got.Results[0].ID != want.Results[0].ID {
		t.Fatalf("read-only search %+v, want %+v", got.Results, want.Results)
	}
	if _, err := lib.Ingest(ctx, []string{photos}, IngestOptions{}); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("ingest into a read-only library: %v, want ErrReadOnly", err)
	}
	if _, err := lib.Import(ctx, []ImportItem{{Path: "/x.png", Vector: []float32{1}}}); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("import into a read-only library: %v, want ErrReadOnly", err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), "-wal") || strings.HasSuffix(e.Name(), "-shm") || strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("left %s in a read-only library", e.Name())
		}
	}
}

// TestReadCommandsNeverCreate: MustExist refuses a folder without a library
// and creates nothing.
func TestReadCommandsNeverCreate(t *testing.T) {
	for _, dir := range []string{filepath.Join(t.TempDir(), "typo"), t.TempDir()} {
		_, err := Open(context.Background(), dir, Options{Model: tinyModel, MustExist: true})
		if !errors.Is(err, ErrNoLibrary) || !strings.Contains(err.Error(), dir) {
			t.Fatalf("Open(%s, MustExist): %v, want ErrNoLibrary naming the folder", dir, err)
		}
		if _, err := os.Stat(filepath.Join(dir, DBFile)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("Open with MustExist created %s", filepath.Join(dir, DBFile))
		}
	}
}

// TestStatsDamagedIndex: stats reports a damaged index file as not fresh;
// the next search rebuilds and saves it, once.
func TestStatsDamagedIndex(t *testing.T) {
	ctx := context.Background()
	photos := t.TempDir()
	for i := range 8 {
		writeImage(t, filepath.Join(photos, fmt.Sprintf("%d.png", i)), i, "png")
	}
	dir := t.TempDir()
	lib := openLib(t, dir, tinyModel)
	if _, err := lib.Ingest(ctx, []string{photos}, IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	lib.Close()
	p := filepath.Join(dir, IndexFile)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-100] ^= 0x01 // deep in the payload: the header still reads fine
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	lib = openLib(t, dir, tinyModel)
	st, err := lib.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.IndexFresh || !strings.Contains(st.IndexProblem, "corrupt") {
		t.Fatalf("stats of a damaged index: fresh %v, problem %q", st.IndexFresh, st.IndexProblem)
	}
	if _, err := lib.Search(ctx, "cat", SearchOptions{}); err != nil {
		t.Fatal(err)
	}
	lib.Close()
	lib = openLib(t, dir, tinyModel)
	if st, err := lib.Stats(ctx); err != nil || !st.IndexFresh {
		t.Fatalf("after one search: %+v %v, want the rebuilt index saved", st, err)
	}
}
