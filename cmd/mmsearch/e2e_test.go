package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"mmsearch/engine"
	"mmsearch/engine/store"

	"mmsearch/internal/sharedtest"
)

// The end-to-end tests run the real mmsearchBin as a subprocess, like a user.

var mmsearchBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mmsearch-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	mmsearchBin = filepath.Join(dir, "mmsearch")
	out, err := exec.Command("go", "build", "-o", mmsearchBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build mmsearch: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const tinyModel = "../../encoders/testdata/tiny"

type result struct {
	stdout, stderr string
	code           int
}

func run(t *testing.T, args ...string) result {
	t.Helper()
	return runIn(t, "", args...)
}

// runIn is run in the working directory dir ("" for the test's own).
func runIn(t *testing.T, dir string, args ...string) result {
	t.Helper()
	cmd := exec.Command(mmsearchBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MMSEARCH_DATA_DIR="+t.TempDir())
	return runCmd(t, cmd)
}

// runCmd runs cmd and returns its output and exit status.
func runCmd(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

func writeJPEG(t testing.TB, path string, seed, w, h int) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(seed*31 + x), uint8(seed*17 + y), uint8(seed * 7), 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCLIIndexSearchAndErrors(t *testing.T) {
	shared := sharedtest.Require(t, "../../../shared/images/formats")
	lib := t.TempDir()
	r := run(t, "index", "--library", lib, "--model", tinyModel, shared)
	// not-an-image.txt is text: skipped, not failed (issue 12).
	if r.code != 0 || !strings.Contains(r.stdout, "23 files found") || !strings.Contains(r.stdout, "0 failed") ||
		!strings.Contains(r.stdout, "1 text file skipped") {
		t.Fatalf("index: code %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, "errors", "--library", lib, "--json")
	var errs []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &errs); err != nil || len(errs) != 0 {
		t.Fatalf("errors: %v %s", err, r.stdout)
	}
	// The library remembers its model: no --model needed from here on.
	r = run(t, "search", "--library", lib, "-f", "-k", "3", "cat")
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); r.code != 0 || len(lines) != 3 {
		t.Fatalf("search -f: code %d %q %s", r.code, r.stdout, r.stderr)
	}
	cat := filepath.Join(shared, "cat.jpg")
	r = run(t, "search", "--library", lib, "--json", "-k", "5", cat, "-", "the cat", "+", "dog")
	var sr engine.SearchResult
	if err := json.Unmarshal([]byte(r.stdout), &sr); err != nil || r.code != 0 || len(sr.Results) != 5 || len(sr.Terms) != 3 {
		t.Fatalf("search --json: %v code %d %s %s", err, r.code, r.stdout, r.stderr)
	}
	for _, res := range sr.Results {
		if strings.HasSuffix(res.Path, "/cat.jpg") {
			t.Fatalf("input image returned: %+v", sr.Results)
		}
	}
	// An empty library: indexing an empty folder creates it.
	empty := t.TempDir()
	if r := run(t, "index", "--library", empty, "--model", tinyModel, t.TempDir()); r.code != exitOK {
		t.Fatalf("index of an empty folder: code %d, stderr %q", r.code, r.stderr)
	}
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"search", "--library", lib, "cat +"}, exitUsage, "dangling"},
		{[]string{"search", "--library", lib, "cat + ./missing.png"}, exitUsage, "unknown file"},
		{[]string{"search", "--library", lib, "cat", "+", "../../../shared/images/formats/not-an-image.txt"}, exitUsage, "not an image"},
		{[]string{"search", "--library", lib, "--mode", "bogus", "cat"}, exitUsage, "unknown scoring mode"},
		{[]string{"search", "--library", empty, "--model", tinyModel, "cat"}, exitNotFound, "no items"},
		// Read-only commands never create a library at a mistyped path.
		{[]string{"search", "--library", lib + "-typo", "cat"}, exitFailure, "no library at"},
		{[]string{"stats", "--library", lib + "-typo"}, exitFailure, "no library at"},
		{[]string{"errors", "--library", lib + "-typo"}, exitFailure, "no library at"},
		{[]string{"frobnicate"}, exitUsage, "unknown command"},
		{[]string{"index", "--library", lib, "--model", "../../encoders/testdata/tiny2", shared}, exitFailure, "not by model"},
	}
	for _, c := range cases {
		r := run(t, c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: code %d (want %d), stderr %q (want %q)", c.args, r.code, c.code, r.stderr, c.want)
		}
	}
	if _, err := os.Stat(lib + "-typo"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a read-only command created %s-typo: %v", lib, err)
	}
	// A syntax error shows the query with a caret under the position.
	r = run(t, "search", "--library", lib, "cat + ./missing.png")
	if !strings.Contains(r.stderr, "cat + ./missing.png\n      ^") {
		t.Errorf("no caret: %q", r.stderr)
	}
}

// TestCLIKilledIndexResumes kills `mmsearch index` with SIGKILL once some
// batches are committed, runs it again, and checks that every file is in the
// library exactly once and the database is intact.
func TestCLIKilledIndexResumes(t *testing.T) {
	photos := t.TempDir()
	const n = 900
	for i := 0; i < n; i++ {
		writeJPEG(t, filepath.Join(photos, fmt.Sprintf("p%04d.jpg", i)), i, 320, 240)
	}
	lib := t.TempDir()
	cmd := exec.Command(mmsearchBin, "index", "--library", lib, "--model", tinyModel, "--batch", "8", photos)
	cmd.Env = append(os.Environ(), "MMSEARCH_DATA_DIR="+t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	ctx := context.Background()
	killed := false
	deadline := time.Now().Add(60 * time.Second)
	for !killed && time.Now().Before(deadline) {
		select {
		case err := <-exited:
			t.Fatalf("index finished (%v) before it could be killed; make the collection larger", err)
		case <-time.After(10 * time.Millisecond):
		}
		items := countItems(ctx, t, lib)
		if items >= 16 && items < n/2 {
			cmd.Process.Signal(syscall.SIGKILL)
			<-exited
			killed = true
			t.Logf("killed after %d of %d items were committed", items, n)
		}
	}
	if !killed {
		t.Fatal("never saw a committed batch")
	}
	r := run(t, "index", "--library", lib, "--json", photos)
	if r.code != 0 {
		t.Fatalf("rerun: code %d %s", r.code, r.stderr)
	}
	var rep engine.IngestReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Unchanged == 0 || rep.Unchanged+rep.New != n {
		t.Fatalf("rerun report: %+v", rep)
	}
	st, err := store.Open(ctx, filepath.Join(lib, engine.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
	states, err := st.FileStates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for p, s := range states {
		if s.ID > 0 {
			seen[p]++
		}
	}
	if len(seen) != n {
		t.Fatalf("%d items after the rerun, want %d", len(seen), n)
	}
	for i := 0; i < n; i++ {
		p := filepath.Join(photos, fmt.Sprintf("p%04d.jpg", i))
		if seen[p] != 1 {
			t.Fatalf("%s indexed %d times", p, seen[p])
		}
	}
	// The rebuilt index answers with every item reachable.
	r = run(t, "search", "--library", lib, "-k", "5", "-f", "cat")
	if r.code != 0 || len(strings.Split(strings.TrimSpace(r.stdout), "\n")) != 5 {
		t.Fatalf("search after resume: %d %s %s", r.code, r.stdout, r.stderr)
	}
}

// countItems reads the number of committed items without disturbing the writer.
func countItems(ctx context.Context, t *testing.T, lib string) int {
	db := filepath.Join(lib, engine.DBFile)
	if _, err := os.Stat(db); err != nil {
		return 0
	}
	// A plain read-only connection: store.Open may create or migrate the
	// schema, which races the index process doing the same and can fail
	// it, and store.OpenReadOnly is immutable, blind to the write-ahead
	// log of a library being written.
	conn, err := sql.Open("sqlite", "file:"+db+"?mode=ro")
	if err != nil {
		return 0
	}
	defer conn.Close()
	var n int
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil {
		return 0
	}
	return n
}
