package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLIReadOnlyLibrary: on a read-only file system, search and stats work
// and say that writes are disabled; index fails with a clear error.
func TestCLIReadOnlyLibrary(t *testing.T) {
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v: %s); root ignores permissions, so only a read-only mount tests this", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	photos := t.TempDir()
	for i := range 4 {
		writeJPEG(t, filepath.Join(photos, string(rune('a'+i))+".jpg"), i, 32, 24)
	}
	lib := filepath.Join(mnt, "lib")
	if r := run(t, "index", "--library", lib, "--model", tinyModel, photos); r.code != exitOK {
		t.Fatalf("index: code %d, %s", r.code, r.stderr)
	}
	if out, err := exec.Command("mount", "-o", "remount,ro", mnt).CombinedOutput(); err != nil {
		t.Fatalf("remount read-only: %v: %s", err, out)
	}
	r := run(t, "search", "--library", lib, "-k", "2", "cat")
	if r.code != exitOK || strings.Count(r.stdout, ".jpg") != 2 || !strings.Contains(r.stderr, "read-only") || !strings.Contains(r.stderr, "writes are disabled") {
		t.Fatalf("search: code %d\nstdout %q\nstderr %q", r.code, r.stdout, r.stderr)
	}
	r = run(t, "stats", "--library", lib)
	if r.code != exitOK || !strings.Contains(r.stdout, "read-only   yes") || !strings.Contains(r.stdout, "items       4") {
		t.Fatalf("stats: code %d\nstdout %q\nstderr %q", r.code, r.stdout, r.stderr)
	}
	r = run(t, "index", "--library", lib, photos)
	if r.code != exitFailure || !strings.Contains(r.stderr, "read-only") {
		t.Fatalf("index into a read-only library: code %d, stderr %q", r.code, r.stderr)
	}
}
