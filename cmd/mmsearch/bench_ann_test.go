package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mmsearch/bench"
	"mmsearch/bench/ann"
)

// runBench runs `mmsearch bench ann ARGS` through the CLI's dispatcher.
func runBench(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return runBenchIn(t, t.TempDir(), args...)
}

// runBenchIn is runBench with the mmsearch cache (MMSEARCH_CACHE_DIR) at cache.
func runBenchIn(t *testing.T, cache string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, getenv: func(k string) string {
		if k == "MMSEARCH_CACHE_DIR" {
			return cache
		}
		return ""
	}}
	cmds := []*command{{name: "bench", summary: "benchmarks", children: []*command{benchANNCommand()}}}
	err = dispatch(context.Background(), e, "mmsearch", cmds, append([]string{"bench", "ann"}, args...))
	return out.String(), errb.String(), err
}

func TestBenchANNUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--ef", "10,x"}, `--ef: "x" is not a positive integer`},
		{[]string{"--ef", "0"}, `--ef: "0"`},
		{[]string{"--peers", "annoy"}, `unknown peer "annoy"`},
		{[]string{"--metric", "hamming"}, "unknown metric"},
		{[]string{"--k", "0"}, "--k 0"},
		{[]string{"--k", "101"}, "--k 101"},
		{[]string{"--n", "50"}, "want n ≥ 100"},
		{[]string{"--noise", "0"}, "--noise 0"},
		{[]string{"--limit", "10"}, "apply to --data"},
		{[]string{"--runs", "0"}, "--runs 0"},
		{[]string{"--data", "a.fvecs", "--groundtruth", "g.ivecs", "--queries-file", "q.fvecs", "--limit", "5"}, "drop --limit or --groundtruth"},
		{[]string{"--data", "a.fvecs", "--groundtruth", "g.ivecs"}, "needs the --queries-file"},
		{[]string{"extra"}, "takes no arguments"},
		{[]string{"--reps", "0"}, "--reps"},
		{[]string{"--reps", "51"}, "--reps"},
		{[]string{"--distribution", "uniform"}, `--distribution "uniform"`},
		{[]string{"--distribution", "clusters,gaussian"}, "one value without --sizes"},
		{[]string{"--sizes", "10000,50"}, `--sizes: "50"`},
		{[]string{"--sizes", "1000", "--data", "a.fvecs"}, "does not apply to --data"},
		{[]string{"--no-such-flag"}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, _, err := runBench(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one containing %q", err, tt.want)
			}
			if code := exitCode(err); code != exitUsage {
				t.Errorf("exit code %d, want %d", code, exitUsage)
			}
		})
	}
	// A missing data file is a failure, not a usage error.
	_, _, err := runBench(t, "--data", filepath.Join(t.TempDir(), "none.npy"), "--peers", "none")
	if err == nil || exitCode(err) != exitFailure || !strings.Contains(err.Error(), "none.npy") {
		t.Errorf("missing file: error %v (exit %d)", err, exitCode(err))
	}
}

func TestBenchANNSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds indexes; skipped with -short")
	}
	out := t.TempDir()
	stdout, stderr, err := runBench(t, "--n", "600", "--dim", "8", "--queries", "30", "--m", "8",
		"--ef-construction", "32", "--ef", "16,64", "--peers", "none", "--threads", "2", "--out", out, "--json")
	if err != nil {
		t.Fatalf("%v\nstderr:\n%s", err, stderr)
	}
	var rep struct {
		Benchmark string
		Data      ann.Result
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("--json output does not decode: %v\n%s", err, stdout)
	}
	if rep.Benchmark != "ann" || rep.Data.Dataset.N != 600 || rep.Data.Dataset.Dim != 8 || len(rep.Data.Backends) != 2 {
		t.Errorf("report: %+v", rep)
	}
	for _, f := range []string{ann.ReportName + ".json", ann.ReportName + ".md", ann.PlotName} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("missing output: %v", err)
		}
	}
	if !strings.Contains(stderr, "ground truth") || !strings.Contains(stderr, "mmsearch-hnsw: build") {
		t.Errorf("progress on stderr:\n%s", stderr)
	}

	// The same through a file: .npy data, last 30 vectors held out as queries.
	dir := t.TempDir()
	ds, err := ann.Synthetic(context.Background(), ann.SyntheticConfig{N: 400, Dim: 8, Queries: 1, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := ann.WriteNpyFloat32(&b, ds.Base); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "v.npy")
	if err := os.WriteFile(data, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err = runBench(t, "--data", data, "--limit", "300", "--queries", "30", "--m", "8",
		"--ef-construction", "32", "--ef", "32", "--peers", "none", "--out", filepath.Join(dir, "res"))
	if err != nil {
		t.Fatalf("%v\nstderr:\n%s", err, stderr)
	}
	for _, want := range []string{"ann benchmark", "v.npy (300 vectors, last 30 held out as queries, normalized)", "Search sweep", "exact", "headline:", "wrote "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
}

// TestBenchANNScale runs --sizes over two distributions with repetitions:
// one run folder per distribution and size, and ann-scale.json/.md with
// a row per backend and size, the three plots, and figures; bench plot
// redraws the scale plots from the JSON.
func TestBenchANNScale(t *testing.T) {
	if testing.Short() {
		t.Skip("builds indexes; skipped with -short")
	}
	out, cache := t.TempDir(), t.TempDir()
	_, stderr, err := runBenchIn(t, cache, "--sizes", "400,200", "--distribution", "clusters,gaussian", "--dim", "8", "--queries", "20",
		"--m", "8", "--ef-construction", "32", "--ef", "16,64", "--peers", ann.BackendCoderHNSW, "--reps", "2",
		"--one-thread-build-max-n", "300", "--out", out)
	if err != nil {
		t.Fatalf("%v\nstderr:\n%s", err, stderr)
	}
	// Every run's checkpoint is gone once the scale report is written.
	if left, err := os.ReadDir(filepath.Join(cache, "bench", annCheckpointDir)); err != nil || len(left) != 0 {
		t.Errorf("checkpoints left after a finished run: %v (%v)", left, err)
	}
	for _, dist := range []string{"clusters", "gaussian"} {
		for _, n := range []int{200, 400} {
			if _, err := os.Stat(filepath.Join(out, ann.ScaleRunDir(dist, n), ann.ReportName+".json")); err != nil {
				t.Errorf("run report: %v", err)
			}
		}
	}
	b, err := os.ReadFile(filepath.Join(out, ann.ScaleReportName+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Benchmark string
		Data      ann.ScaleResult
		Figures   map[string]float64
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	d := rep.Data
	if rep.Benchmark != ann.ScaleReportName || len(d.Rows) != 12 || d.Reps != 2 || !slices.Equal(d.Sizes, []int{200, 400}) || len(d.Runs) != 4 {
		t.Fatalf("scale report: %+v", d)
	}
	if len(d.Peers) != 1 || d.Peers[0].Name != ann.BackendCoderHNSW || d.Peers[0].Version == "" {
		t.Errorf("scale report peers %+v, want %s with its version", d.Peers, ann.BackendCoderHNSW)
	}
	for _, row := range d.Rows {
		if row.Backend == ann.BackendHNSW && (row.BuildAllSeconds <= 0 || row.BytesPerVector <= 0 || row.LoadSeconds <= 0) {
			t.Errorf("row %+v", row)
		}
		// --one-thread-build-max-n 300: the one-thread build is timed at
		// n=200 only; the all-thread build at every n.
		if row.Backend == ann.BackendHNSW {
			if got := row.Build1Seconds > 0; got != (row.N <= 300) {
				t.Errorf("%s n=%d: one-thread build %v s, want timed=%v", row.Backend, row.N, row.Build1Seconds, row.N <= 300)
			}
		}
	}
	md, err := os.ReadFile(filepath.Join(out, ann.ScaleReportName+".md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "**peers:** "+ann.BackendCoderHNSW) {
		t.Errorf("scale report header does not name the peer:\n%s", md)
	}
	for _, p := range []string{ann.ScaleQPSPlot, ann.ScaleBuildPlot, ann.ScaleMemoryPlot} {
		if _, err := os.Stat(filepath.Join(out, p)); err != nil {
			t.Errorf("plot: %v", err)
		}
	}
	before, _ := os.ReadFile(filepath.Join(out, ann.ScaleBuildPlot))
	os.Remove(filepath.Join(out, ann.ScaleBuildPlot))
	if code, stdout, stderr := runCLI("bench", "plot", out); code != exitOK || !strings.Contains(stdout, ann.ScaleBuildPlot) {
		t.Fatalf("bench plot: exit %d\n%s%s", code, stdout, stderr)
	}
	if after, _ := os.ReadFile(filepath.Join(out, ann.ScaleBuildPlot)); !bytes.Equal(before, after) {
		t.Error("bench plot drew a different scale plot from the same JSON")
	}
}

// TestBenchANNSkipsUnbuiltGoPeer runs bench ann with --peers weaviate-hnsw
// and a cache folder without the peer's binary: the run succeeds without
// it, and stderr and the report say it was skipped and how to build it.
func TestBenchANNSkipsUnbuiltGoPeer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds indexes; skipped with -short")
	}
	cache := t.TempDir()
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, getenv: func(k string) string {
		if k == "MMSEARCH_CACHE_DIR" {
			return cache
		}
		return ""
	}}
	cmds := []*command{{name: "bench", summary: "benchmarks", children: []*command{benchANNCommand()}}}
	err := dispatch(context.Background(), e, "mmsearch", cmds, []string{"bench", "ann", "--n", "300", "--dim", "8",
		"--queries", "10", "--m", "8", "--ef-construction", "32", "--ef", "16", "--reps", "1", "--peers", ann.BackendWeaviateHNSW,
		"--out", filepath.Join(cache, "res"), "--json"})
	if err != nil {
		t.Fatalf("%v\nstderr:\n%s", err, errb.String())
	}
	bin := filepath.Join(cache, "peers", "weaviate-hnsw-"+ann.WeaviateVersion)
	if s := errb.String(); !strings.Contains(s, "SKIPPED") || !strings.Contains(s, bin) || !strings.Contains(s, "make setup-peers") {
		t.Errorf("stderr does not say loudly that the peer was skipped and how to build it:\n%s", s)
	}
	var rep struct{ Data ann.Result }
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Data.Backend(ann.BackendWeaviateHNSW) != nil || len(rep.Data.Skipped) != 1 || !strings.Contains(rep.Data.Skipped[0], "make setup-peers") {
		t.Errorf("report: skipped %q, backends %d", rep.Data.Skipped, len(rep.Data.Backends))
	}
}

// TestBenchANNMerge measures two scale reports apart, merges them into a
// third folder and checks the merged report (every run, its source, the
// Sources table), the copied run folders and the plots; merging the same
// run twice is refused with exit status 1 and nothing written.
func TestBenchANNMerge(t *testing.T) {
	if testing.Short() {
		t.Skip("builds indexes; skipped with -short")
	}
	root := t.TempDir()
	small, big, merged := filepath.Join(root, "small"), filepath.Join(root, "big"), filepath.Join(root, "merged")
	common := []string{"--dim", "8", "--queries", "20", "--m", "8", "--ef-construction", "32", "--ef", "16,64", "--peers", "none", "--reps", "1"}
	for _, run := range []struct{ out, sizes string }{{small, "200"}, {big, "400"}} {
		if _, stderr, err := runBench(t, append([]string{"--sizes", run.sizes, "--out", run.out}, common...)...); err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
	}
	code, stdout, stderr := runCLI("bench", "ann-merge", "--out", merged, big, small)
	if code != exitOK {
		t.Fatalf("ann-merge: exit %d\n%s%s", code, stdout, stderr)
	}
	b, err := os.ReadFile(filepath.Join(merged, ann.ScaleReportName+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Benchmark string
		Data      ann.ScaleResult
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	d := rep.Data
	if rep.Benchmark != ann.ScaleReportName || !slices.Equal(d.Sizes, []int{200, 400}) || len(d.Sources) != 2 || len(d.Rows) != 4 {
		t.Fatalf("merged report: %+v", d)
	}
	for _, row := range d.Rows {
		if want := map[int]int{400: 1, 200: 2}[row.N]; row.Source != want {
			t.Errorf("row %s n=%d: source %d, want %d", row.Backend, row.N, row.Source, want)
		}
	}
	for _, n := range []int{200, 400} {
		if _, err := os.Stat(filepath.Join(merged, ann.ScaleRunDir("clusters", n), ann.ReportName+".json")); err != nil {
			t.Errorf("run folder not copied: %v", err)
		}
	}
	for _, p := range []string{ann.ScaleQPSPlot, ann.ScaleBuildPlot, ann.ScaleMemoryPlot} {
		if _, err := os.Stat(filepath.Join(merged, p)); err != nil {
			t.Errorf("plot: %v", err)
		}
	}
	md, err := os.ReadFile(filepath.Join(merged, ann.ScaleReportName+".md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Sources", big, small, "merged by bench ann-merge from 2 scale reports"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("merged report lacks %q", want)
		}
	}

	// The same run from two sources: refused, nothing written.
	again := filepath.Join(root, "again")
	if code, _, stderr := runCLI("bench", "ann-merge", "--out", again, small, merged); code != exitFailure || !strings.Contains(stderr, `run "clusters n=200" is in both`) {
		t.Errorf("duplicate run: exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(again); !os.IsNotExist(err) {
		t.Errorf("a refused merge wrote %s (%v)", again, err)
	}
	if code, _, _ := runCLI("bench", "ann-merge", "--out", again); code != exitUsage {
		t.Errorf("no scale report folder: exit %d, want %d", code, exitUsage)
	}
}

// TestBenchANNMergeRefusesOutsideRunFolder: a scale report whose run
// names a folder outside its own is refused before anything is copied.
func TestBenchANNMergeRefusesOutsideRunFolder(t *testing.T) {
	src, out := t.TempDir(), filepath.Join(t.TempDir(), "merged")
	doc := `{"benchmark":"ann-scale","machine":{"cpu":"c","cores":2},"data":{"dim":8,"reps":1,"rows":[],"runs":{"clusters n=100":"../elsewhere"}}}`
	if err := os.WriteFile(filepath.Join(src, ann.ScaleReportName+".json"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI("bench", "ann-merge", "--out", out, src)
	if code != exitFailure || !strings.Contains(stderr, `names folder "../elsewhere", not a folder beside the report`) {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a refused merge wrote %s (%v)", out, err)
	}
}

// TestBenchANNCheckpointKey: the checkpoint a run resumes from is the one
// saved by the same binary with the same measuring flags; changing any of
// them, or the data file, names another checkpoint, and only --resume
// keeps what a checkpoint holds.
func TestBenchANNCheckpointKey(t *testing.T) {
	cache := t.TempDir()
	e := &env{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, getenv: func(k string) string {
		if k == "MMSEARCH_CACHE_DIR" {
			return cache
		}
		return ""
	}}
	data := filepath.Join(t.TempDir(), "base.npy")
	if err := os.WriteFile(data, []byte("one"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := benchANNFlags{n: 1000, dim: 8, seed: 1, queries: 10, clusters: 4, noise: 0.1, m: 16, efConstruction: 200,
		efs: "10,20", k: 10, metric: "cosine", peers: "none", threads: 2, runs: 1, reps: 5, distribution: "clusters"}
	dirOf := func(f benchANNFlags) string {
		t.Helper()
		cp, err := openANNCheckpoint(e, &f, "binary-sum")
		if err != nil {
			t.Fatal(err)
		}
		return cp.Dir()
	}
	ref := dirOf(base)
	if !strings.HasPrefix(ref, filepath.Join(cache, "bench", annCheckpointDir)) {
		t.Errorf("checkpoint %s is not under the cache", ref)
	}
	if again := dirOf(base); again != ref {
		t.Errorf("same flags: checkpoint %s, then %s", ref, again)
	}
	changes := map[string]func(*benchANNFlags){
		"--n":            func(f *benchANNFlags) { f.n = 2000 },
		"--seed":         func(f *benchANNFlags) { f.seed = 2 },
		"--m":            func(f *benchANNFlags) { f.m = 32 },
		"--ef":           func(f *benchANNFlags) { f.efs = "10,40" },
		"--peers":        func(f *benchANNFlags) { f.peers = "hnswlib" },
		"--reps":         func(f *benchANNFlags) { f.reps = 3 },
		"--distribution": func(f *benchANNFlags) { f.distribution = "gaussian" },
		"--threads":      func(f *benchANNFlags) { f.threads = 1 },
	}
	for flag, change := range changes {
		f := base
		change(&f)
		if d := dirOf(f); d == ref {
			t.Errorf("%s changed but the checkpoint is the same (%s)", flag, d)
		}
	}
	withData := base
	withData.data = data
	first := dirOf(withData)
	if err := os.WriteFile(data, []byte("other data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if second := dirOf(withData); second == first {
		t.Errorf("the data file changed but the checkpoint is the same (%s)", first)
	}

	// A step saved in the checkpoint survives a reopen with --resume only.
	marker := filepath.Join(ref, "rep1-flat.json")
	for _, resume := range []bool{true, false} {
		if err := os.WriteFile(marker, []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
		f := base
		f.resume = resume
		dirOf(f)
		if _, err := os.Stat(marker); (err == nil) != resume {
			t.Errorf("--resume=%v: saved step kept = %v", resume, err == nil)
		}
	}
}

// TestMergeFillsMemorySources: a scale report written before its rows
// named how a peer measured memory gets the source from the run's own
// report, and the merged notes then warn about the old Weaviate figure.
func TestMergeFillsMemorySources(t *testing.T) {
	dir := t.TempDir()
	run := ann.ScaleRunDir(ann.DistClusters, 1000)
	if err := os.MkdirAll(filepath.Join(dir, run), 0o755); err != nil {
		t.Fatal(err)
	}
	runReport := `{"benchmark":"ann","data":{"backends":[{"name":"weaviate-hnsw","memory":{"index_bytes":256000,"source":"live Go heap growth over the build"}}]}}`
	if err := os.WriteFile(filepath.Join(dir, run, ann.ReportName+".json"), []byte(runReport), 0o644); err != nil {
		t.Fatal(err)
	}
	s := ann.ScaleResult{Runs: map[string]string{"clusters n=1000": run}, Rows: []ann.ScaleRow{
		{Distribution: ann.DistClusters, N: 1000, Backend: ann.BackendHNSW, BytesPerVector: 2300},
		{Distribution: ann.DistClusters, N: 1000, Backend: ann.BackendWeaviateHNSW, BytesPerVector: 256},
		{Distribution: ann.DistClusters, N: 2000, Backend: ann.BackendWeaviateHNSW, BytesPerVector: 256}, // no run folder
	}}
	fillMemorySources(dir, &s)
	if got := s.Rows[1].MemorySource; got != "live Go heap growth over the build" {
		t.Errorf("weaviate row's memory source %q, want the run report's", got)
	}
	if s.Rows[0].MemorySource != "" || s.Rows[2].MemorySource != "" {
		t.Errorf("sources set where none is recorded: %q, %q", s.Rows[0].MemorySource, s.Rows[2].MemorySource)
	}
	if notes := strings.Join(s.Report(bench.Header{}).Notes, "\n"); !strings.Contains(notes, "leaves out the n·dim·4 bytes of vectors") {
		t.Errorf("notes do not warn about the old Weaviate memory figure:\n%s", notes)
	}
}
