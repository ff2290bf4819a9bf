package ann

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mmsearch/bench"
	"mmsearch/index"
)

// checkpointConfig is a small run of ours, coder/hnsw and flat over two
// repetitions, saving its steps into cp.
func checkpointConfig(t *testing.T, cp *Checkpoint) Config {
	t.Helper()
	ds, err := Synthetic(context.Background(), SyntheticConfig{N: 1000, Dim: 16, Queries: 50, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		Dataset: ds, Metric: index.L2, M: 8, EfConstruction: 32, Efs: []int{8, 32}, K: 10, Seed: 1,
		Threads: 2, Runs: 1, Reps: 2, TempDir: t.TempDir(), Peers: []string{BackendCoderHNSW}, Checkpoint: cp,
	}
}

// stepNames lists the step files saved in a checkpoint folder.
func stepNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".json"); ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// TestCheckpointResumesAnInterruptedRun kills a run (cancels its context)
// while it measures the second repetition's flat index and resumes it:
// the ground truth and every step finished before the kill are read back,
// not measured again, and the rest is measured.
func TestCheckpointResumesAnInterruptedRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds indexes; skipped with -short")
	}
	dir := filepath.Join(t.TempDir(), "cp")
	cp, err := OpenCheckpoint(dir, "key one", false)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := checkpointConfig(t, cp)
	cfg.Progress = func(p Progress) {
		if strings.HasPrefix(p.Stage, "rep 2/2: flat") {
			cancel()
		}
	}
	if _, err := Run(ctx, cfg); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: err = %v, want context.Canceled", err)
	}
	saved := []string{"ground-truth", "rep1-coderhnsw", "rep1-flat", "rep1-mmsearch-hnsw", "rep2-coderhnsw", "rep2-mmsearch-hnsw"}
	if got := stepNames(t, dir); !slices.Equal(got, saved) {
		t.Fatalf("steps saved before the kill: %v, want %v", got, saved)
	}

	cp, err = OpenCheckpoint(dir, "key one", true)
	if err != nil {
		t.Fatal(err)
	}
	cfg = checkpointConfig(t, cp)
	var measured []string
	cfg.Progress = func(p Progress) { measured = append(measured, p.Stage) }
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Resumed) != len(saved) {
		t.Errorf("resumed %d steps, want the %d saved: %v", len(res.Resumed), len(saved), res.Resumed)
	}
	for _, st := range measured {
		if strings.Contains(st, "ground truth") || strings.HasPrefix(st, "rep 1/2") || strings.HasPrefix(st, "rep 2/2: mmsearch") {
			t.Errorf("resumed run measured %q again", st)
		}
	}
	if !slices.ContainsFunc(measured, func(s string) bool { return strings.HasPrefix(s, "rep 2/2: flat") }) {
		t.Errorf("resumed run did not measure the step that was cut off (stages %v)", measured)
	}
	if len(res.Backends) != 3 {
		t.Fatalf("backends %d, want ours, coderhnsw and flat", len(res.Backends))
	}
	for _, b := range res.Backends {
		points := len(cfg.Efs)
		if b.Name == BackendFlat {
			points = 1
		}
		checkPoints(t, &b, points)
		if b.Name != BackendFlat && len(b.BuildAllReps) != 2 {
			t.Errorf("%s: %d build repetitions, want both (one read back, one measured)", b.Name, len(b.BuildAllReps))
		}
	}
	if p := res.Backend(BackendFlat).Points[0]; p.Recall10 != 1 {
		t.Errorf("flat against the ground truth read back: recall@10 %v, want 1", p.Recall10)
	}
	if rep := res.Report(bench.Header{}); !slices.ContainsFunc(rep.Notes, func(n string) bool {
		return strings.HasPrefix(n, "resumed after an interruption") && strings.Contains(n, "rep1-mmsearch-hnsw")
	}) {
		t.Errorf("report does not say which steps were resumed: %q", rep.Notes)
	}
	if err := cp.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("checkpoint folder left after Remove: %v", err)
	}
}

// TestCheckpointReusesOnlyItsOwnKey: a folder saved under another key, or
// opened without resume, is emptied; a step file that cannot be read is
// measured again rather than trusted.
func TestCheckpointReusesOnlyItsOwnKey(t *testing.T) {
	step := checkpointStep{Backends: []BackendResult{{Name: BackendFlat, Points: []Point{{QPS1: 1}}}}}
	cases := []struct {
		name      string
		reopenKey string
		resume    bool
		corrupt   bool
		wantKept  bool
	}{
		{"same key, resume", "k1", true, false, true},
		{"same key, no resume", "k1", false, false, false},
		{"other key, resume", "k2", true, false, false},
		{"same key, resume, corrupt step", "k1", true, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "cp")
			cp, err := OpenCheckpoint(dir, "k1", false)
			if err != nil {
				t.Fatal(err)
			}
			if err := cp.save("rep1-flat", step); err != nil {
				t.Fatal(err)
			}
			if tc.corrupt {
				if err := os.WriteFile(cp.stepPath("rep1-flat"), []byte(`{"key":"k1","backends":[`), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cp, err = OpenCheckpoint(dir, tc.reopenKey, tc.resume)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := cp.load("rep1-flat")
			if ok != tc.wantKept {
				t.Fatalf("step kept = %v, want %v", ok, tc.wantKept)
			}
			if ok && (len(got.Backends) != 1 || got.Backends[0].Name != BackendFlat || got.Finished.IsZero()) {
				t.Errorf("step read back as %+v", got)
			}
			if !ok && len(cp.Resumed()) != 0 {
				t.Errorf("resumed %v for a step not reused", cp.Resumed())
			}
		})
	}
	if _, err := OpenCheckpoint("", "k", true); err == nil {
		t.Error("a checkpoint without a folder was opened")
	}
}
