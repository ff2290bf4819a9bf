package main

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"mmsearch/bench"
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

// TestBenchPlotRedraws runs `bench plot` on copies of the committed ann,
// retrieval and analogy reports: it draws each report's PNG from its JSON,
// twice with the same bytes; a folder without reports is exit 3.
func TestBenchPlotRedraws(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"ann.json", "retrieval.json", "analogy.json"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "bench", "results", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pngs := []string{"ann-recall-qps.png", "retrieval-recall.png", "analogy-recall.png"}
	read := func() [][]byte {
		var out [][]byte
		for _, p := range pngs {
			b, err := os.ReadFile(filepath.Join(dir, p))
			if err != nil {
				t.Fatalf("bench plot did not draw %s: %v", p, err)
			}
			out = append(out, b)
		}
		return out
	}
	r := run(t, "bench", "plot", dir)
	if r.code != 0 || strings.Count(r.stdout, ".png") != 3 {
		t.Fatalf("bench plot: exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
	first := read()
	if r := run(t, "bench", "plot", dir); r.code != 0 {
		t.Fatalf("second bench plot: exit %d, %s", r.code, r.stderr)
	}
	for i, b := range read() {
		if !bytes.Equal(b, first[i]) {
			t.Errorf("%s differs between two redraws of the same JSON", pngs[i])
		}
	}
	if r := run(t, "bench", "plot", t.TempDir()); r.code != exitNotFound {
		t.Errorf("bench plot on an empty folder: exit %d, want %d", r.code, exitNotFound)
	}
}

// TestEveryBenchHasForce checks that every bench command that writes
// reports takes --force with its --out, so that none can write to the
// committed results without the clean-run check (bench summary's --out
// names one file it rewrites from stored data, and measures nothing).
func TestEveryBenchHasForce(t *testing.T) {
	for _, c := range benchCommand().children {
		if c.setFlags == nil {
			continue
		}
		fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
		c.setFlags(fs)
		measures := fs.Lookup("out") != nil && c.name != "summary"
		if measures && fs.Lookup("force") == nil {
			t.Errorf("bench %s has --out but no --force: it does not check for a clean run", c.name)
		}
	}
}

// TestBenchMarkKeepsStartLoad: a report whose header was made at the end of
// its run (as most are) gets the load averages and unclean reasons its run
// found at the start, since the header says "at start".
func TestBenchMarkKeepsStartLoad(t *testing.T) {
	for _, tc := range []struct {
		name, start, end, want string
	}{
		{"start known", "0.41 0.90 1.20", "1.98 1.10 1.25", "0.41 0.90 1.20"},
		{"start unknown", "", "1.98 1.10 1.25", "1.98 1.10 1.25"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := benchOutput{startLoad: tc.start, unclean: []string{"reason"}}
			r := &bench.Report{Header: bench.Header{Machine: bench.Machine{LoadAvg: tc.end}}}
			out.mark(r)
			if r.Machine.LoadAvg != tc.want || len(r.Unclean) != 1 {
				t.Errorf("load %q, unclean %v; want %q and the start's reason", r.Machine.LoadAvg, r.Unclean, tc.want)
			}
			var md bytes.Buffer
			if err := r.WriteMarkdown(&md); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(md.String(), "load average "+tc.want+" at start") {
				t.Errorf("header does not give the start's load:\n%s", md.String())
			}
		})
	}
}
