package ann

import (
	"context"
	"math"
	"strings"
	"testing"

	"mmsearch/bench"
	"mmsearch/index"
)

func TestMedianAndRatio(t *testing.T) {
	medians := []struct {
		xs   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, c := range medians {
		if got := median(c.xs); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.xs, got, c.want)
		}
	}
	ratios := []struct {
		name   string
		a, b   []float64
		am, bm float64
		want   Ratio
		text   string
	}{
		{"paired", []float64{10, 12, 9}, []float64{5, 4, 9}, 0, 0, Ratio{Median: 2, Range: Range{1, 3}, Pairs: 3}, "2.00 (1.00–3.00 over 3 paired repetitions)"},
		{"medians only", nil, nil, 6, 4, Ratio{Median: 1.5, Range: Range{1.5, 1.5}, Pairs: 1}, "1.50"},
		{"unmeasured", nil, nil, 6, 0, Ratio{}, "0.00"},
	}
	for _, c := range ratios {
		got := pairedRatio(c.a, c.b, c.am, c.bm)
		if got != c.want || got.String() != c.text {
			t.Errorf("%s: %+v %q, want %+v %q", c.name, got, got.String(), c.want, c.text)
		}
	}
}

// TestRunRepetitions runs three interleaved repetitions: every point keeps
// each repetition's q/s with the median between their extremes, builds and
// load times likewise, and the report prints the spreads and says how the
// figures were made.
func TestRunRepetitions(t *testing.T) {
	if testing.Short() {
		t.Skip("builds indexes; skipped with -short")
	}
	ctx := context.Background()
	ds, err := Synthetic(ctx, SyntheticConfig{N: 1500, Dim: 16, Queries: 50, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	var stages []string
	res, err := Run(ctx, Config{
		Dataset: ds, Metric: index.Cosine, M: 8, EfConstruction: 40, Efs: []int{8, 32}, Seed: 1,
		Threads: 2, Runs: 1, Reps: 3, TempDir: t.TempDir(),
		Progress: func(p Progress) { stages = append(stages, p.Stage) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Reps != 3 {
		t.Fatalf("reps %d", res.Reps)
	}
	within := func(what string, m float64, xs []float64) {
		t.Helper()
		if len(xs) != 3 {
			t.Fatalf("%s: %d repetitions kept, want 3", what, len(xs))
		}
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, x := range xs {
			lo, hi = min(lo, x), max(hi, x)
		}
		if m != median(xs) || m < lo || m > hi || lo <= 0 {
			t.Errorf("%s: median %v of %v", what, m, xs)
		}
	}
	ours := res.Backend(BackendHNSW)
	for _, p := range ours.Points {
		within("ours q/s 1 thread", p.QPS1, p.QPS1Reps)
		within("ours q/s all threads", p.QPSAll, p.QPSAllReps)
	}
	within("ours build 1 thread", ours.Build1Seconds, ours.Build1Reps)
	within("ours build all threads", ours.BuildAllSeconds, ours.BuildAllReps)
	within("ours load", ours.Persist.LoadSeconds, ours.Persist.LoadReps)
	within("flat q/s", res.Backend(BackendFlat).Points[0].QPS1, res.Backend(BackendFlat).Points[0].QPS1Reps)
	var rep3 bool
	for _, s := range stages {
		rep3 = rep3 || strings.HasPrefix(s, "rep 3/3: "+BackendFlat)
	}
	if !rep3 {
		t.Errorf("no progress stage of the third repetition's flat index: %q", stages)
	}
	var text strings.Builder
	rep := res.Report(bench.NewHeader(ctx, "", ""))
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"repeated 3 times", "reps", " ["} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, text.String())
		}
	}
}
