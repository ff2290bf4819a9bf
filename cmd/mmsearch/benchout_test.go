package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchRefusesUncleanResults runs a bench command inside a git work
// tree with an uncommitted change: writing to that tree's bench/results is
// refused (exit 1, nothing written) until --force, which writes a report
// whose header says the run was unclean; a run to another folder is not
// refused but its report says so too.
func TestBenchRefusesUncleanResults(t *testing.T) {
	repo := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.org"}, args...)...)
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	readme := filepath.Join(repo, "README")
	if err := os.WriteFile(readme, []byte("v1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git("add", "README")
	git("commit", "-q", "-m", "one")
	if err := os.WriteFile(readme, []byte("v2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	model, err := filepath.Abs(tinyModel)
	if err != nil {
		t.Fatal(err)
	}
	results := filepath.Join(repo, "bench", "results")
	bench := func(out string, extra ...string) result {
		args := append([]string{"bench", "query", "--model", model, "--items", "50", "--runs", "5", "--out", out}, extra...)
		return runIn(t, repo, args...)
	}
	refused := bench(results)
	if refused.code != exitFailure || !strings.Contains(refused.stderr, "uncommitted changes") || !strings.Contains(refused.stderr, "--force") {
		t.Fatalf("dirty run to bench/results: exit %d, stderr %s; want exit %d refusing with the reason", refused.code, refused.stderr, exitFailure)
	}
	if _, err := os.Stat(filepath.Join(results, "query-latency.md")); !os.IsNotExist(err) {
		t.Fatalf("a refused run wrote its report (stat: %v)", err)
	}
	for _, tc := range []struct {
		name, out string
		extra     []string
	}{
		{"forced to bench/results", results, []string{"--force"}},
		{"elsewhere", filepath.Join(t.TempDir(), "reports"), nil},
	} {
		r := bench(tc.out, tc.extra...)
		if r.code != 0 {
			t.Fatalf("%s: exit %d: %s", tc.name, r.code, r.stderr)
		}
		if !strings.Contains(r.stderr, "unclean run") {
			t.Errorf("%s: no warning on stderr: %s", tc.name, r.stderr)
		}
		md, err := os.ReadFile(filepath.Join(tc.out, "query-latency.md"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(md), "**UNCLEAN RUN:** the git tree has uncommitted changes") {
			t.Errorf("%s: report header does not say unclean:\n%s", tc.name, md)
		}
	}
}
