package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"mmsearch/engine"
)

// TestCLIIndexSecondWriterPrintsOnlyTheLockError: an index run on a library
// another process is writing prints its lock error and nothing else, and
// exits 1 (issue 19).
func TestCLIIndexSecondWriterPrintsOnlyTheLockError(t *testing.T) {
	photos := t.TempDir()
	writeJPEG(t, filepath.Join(photos, "a.jpg"), 1, 32, 32)
	lib := t.TempDir()
	// Hold the library's write lock as a running index does.
	f, err := os.OpenFile(filepath.Join(lib, engine.LockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "%d\n", os.Getpid())
	for _, args := range [][]string{
		{"index", "--library", lib, "--model", tinyModel, photos},
		{"index", "--library", lib, "--model", tinyModel, "--json", photos},
	} {
		r := run(t, args...)
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if r.code != exitFailure || r.stdout != "" || len(lines) != 1 ||
			!strings.Contains(r.stderr, "library is being written by another process (pid "+strconv.Itoa(os.Getpid())+")") {
			t.Errorf("%v: code %d, stdout %q, stderr %q; want exit 1 and only the lock error", args, r.code, r.stdout, r.stderr)
		}
	}
}

// TestCLIIndexInterruptReportsCommitted interrupts `mmsearch index` with
// SIGINT once batches are committed: it exits 130 and its summary counts
// what was committed, which is what the library holds.
func TestCLIIndexInterruptReportsCommitted(t *testing.T) {
	photos := t.TempDir()
	const n = 400
	for i := range n {
		writeJPEG(t, filepath.Join(photos, fmt.Sprintf("p%04d.jpg", i)), i, 320, 240)
	}
	lib := t.TempDir()
	cmd := exec.Command(mmsearchBin, "index", "--library", lib, "--model", tinyModel, "--batch", "4", "--workers", "1", photos)
	cmd.Env = append(os.Environ(), "MMSEARCH_DATA_DIR="+t.TempDir())
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	ctx := context.Background()
	var err error
	signalled := false
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline) && !signalled; {
		select {
		case err = <-exited:
			t.Fatalf("index finished (%v) before it could be interrupted; make the collection larger\n%s\n%s", err, out.String(), errb.String())
		case <-time.After(10 * time.Millisecond):
		}
		if items := countItems(ctx, t, lib); items >= 8 && items < n/2 {
			cmd.Process.Signal(os.Interrupt)
			signalled = true
		}
	}
	if !signalled {
		t.Fatal("never saw a committed batch")
	}
	err = <-exited
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitCanceled {
		t.Fatalf("exit %v, want %d\n%s\n%s", err, exitCanceled, out.String(), errb.String())
	}
	m := regexp.MustCompile(`stopped after committing (\d+) files \((\d+) indexed, 0 reused by content, 0 failures recorded\) of (\d+) queued; the walk had found (\d+) files`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no summary of what was committed:\n%s", out.String())
	}
	committed, _ := strconv.Atoi(m[1])
	queued, _ := strconv.Atoi(m[3])
	if have := countItems(ctx, t, lib); committed != have || m[2] != m[1] || committed >= queued {
		t.Errorf("summary says %d committed of %d queued; the library holds %d items:\n%s", committed, queued, have, out.String())
	}
	if strings.Contains(out.String(), "files found:") {
		t.Errorf("the interrupted run printed the finished run's summary:\n%s", out.String())
	}
}

// TestCLIRetryFailed: `errors` names each failure's class, a content failure
// of an unchanged file is skipped until `index --retry-failed` tries it
// again, and the files FIFO in a folder are counted as skipped.
func TestCLIRetryFailed(t *testing.T) {
	photos := t.TempDir()
	writeJPEG(t, filepath.Join(photos, "a.jpg"), 1, 32, 32)
	broken := filepath.Join(photos, "broken.jpg")
	if err := os.WriteFile(broken, []byte("\xff\xd8\xff not really"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(photos, "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	lib := t.TempDir()
	index := func(extra ...string) engine.IngestReport {
		t.Helper()
		args := append([]string{"index", "--library", lib, "--model", tinyModel, "--json"}, extra...)
		r := run(t, append(args, photos)...)
		var rep engine.IngestReport
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 {
			t.Fatalf("%v: code %d, %v\n%s\n%s", args, r.code, err, r.stdout, r.stderr)
		}
		return rep
	}
	if rep := index(); rep.Indexed != 1 || rep.Failed != 1 || rep.SkippedSpecial != 1 {
		t.Fatalf("first run: %+v", rep)
	}
	r := run(t, "errors", "--library", lib, "--json")
	var errs []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &errs); err != nil || len(errs) != 1 || errs[0]["path"] != broken || errs[0]["class"] != "content" {
		t.Fatalf("errors --json: %v %s", err, r.stdout)
	}
	if r := run(t, "errors", "--library", lib); !strings.Contains(r.stdout, "CLASS") || !strings.Contains(r.stdout, "decode  content") {
		t.Errorf("errors: %q", r.stdout)
	}
	if rep := index(); rep.Skipped != 1 || rep.Retried != 0 || rep.Failed != 0 {
		t.Errorf("unchanged run: %+v", rep)
	}
	if rep := index("--retry-failed"); rep.Skipped != 0 || rep.Retried != 1 || rep.Failed != 1 {
		t.Errorf("--retry-failed: %+v", rep)
	}
	r = run(t, "index", "--library", lib, photos)
	if r.code != 0 || !strings.Contains(r.stdout, "1 pipes, sockets or devices skipped") {
		t.Errorf("summary: code %d %q", r.code, r.stdout)
	}
}
