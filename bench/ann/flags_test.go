package ann

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
)

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		name         string
		b            BackendResult
		implausible  bool
		nonMonotonic []int
	}{
		{"healthy", BackendResult{Name: BackendHNSW, Points: []Point{{Ef: 10, Recall10: 0.9, QPS1: 5000}, {Ef: 20, Recall10: 0.96, QPS1: 4000}, {Ef: 40, Recall10: 0.99, QPS1: 3000}}}, false, nil},
		{"within the slack", BackendResult{Name: BackendHNSW, Points: []Point{{Ef: 48, Recall10: 0.97, QPS1: 3410}, {Ef: 64, Recall10: 0.99, QPS1: 3500}}}, false, nil},
		{"faster at a wider beam", BackendResult{Name: BackendHNSW, Points: []Point{{Ef: 48, Recall10: 0.97, QPS1: 3410}, {Ef: 64, Recall10: 0.99, QPS1: 4655}}}, false, []int{64}},
		{"recall falls", BackendResult{Name: BackendHnswlib, Points: []Point{{Ef: 40, Recall10: 0.985, QPS1: 250}, {Ef: 80, Recall10: 0.98, QPS1: 125}}}, false, []int{80}},
		{"unsorted input", BackendResult{Name: BackendHNSW, Points: []Point{{Ef: 64, Recall10: 0.99, QPS1: 3000}, {Ef: 16, Recall10: 0.8, QPS1: 6000}}}, false, nil},
		{"coder/hnsw at 0.04", BackendResult{Name: BackendCoderHNSW, Points: []Point{{Ef: 10, Recall10: 0.0439, QPS1: 5619}, {Ef: 512, Recall10: 0.0439, QPS1: 6371}}}, true, []int{512}},
		{"exact index", BackendResult{Name: BackendFlat, Points: []Point{{Ef: 0, Recall10: 1, QPS1: 55}}}, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.b.Implausible(); got != tc.implausible {
				t.Errorf("Implausible = %v, want %v", got, tc.implausible)
			}
			if got := tc.b.NonMonotonic(); !slices.Equal(got, tc.nonMonotonic) {
				t.Errorf("NonMonotonic = %v, want %v", got, tc.nonMonotonic)
			}
		})
	}
}

// TestReplotSamePNG writes a report with its plot, then redraws the plot
// from the written JSON alone, as `bench plot` does: the PNG must come out
// byte for byte the same. The report also flags the implausible peer.
func TestReplotSamePNG(t *testing.T) {
	r := &Result{
		Dataset: DatasetInfo{Name: "synthetic-clusters(n=1000)", N: 1000, Dim: 8, Queries: 10, Metric: "cosine"},
		Efs:     []int{10, 20, 40}, K: 10, Threads: 2, Runs: 5,
		Backends: []BackendResult{
			{Name: BackendHNSW, Points: []Point{{Ef: 10, Recall10: 0.9, QPS1: 5000}, {Ef: 20, Recall10: 0.96, QPS1: 4000}, {Ef: 40, Recall10: 0.995, QPS1: 3000}}},
			{Name: BackendHnswlib, Points: []Point{{Ef: 10, Recall10: 0.88, QPS1: 4000}, {Ef: 20, Recall10: 0.95, QPS1: 3300}, {Ef: 40, Recall10: 0.99, QPS1: 2500}}},
			{Name: BackendCoderHNSW, Points: []Point{{Ef: 10, Recall10: 0.04, QPS1: 7000}, {Ef: 20, Recall10: 0.04, QPS1: 7000}, {Ef: 40, Recall10: 0.04, QPS1: 7000}}},
			{Name: BackendFlat, Points: []Point{{Ef: 0, Recall10: 1, QPS1: 55}}},
		},
	}
	r.Headline = makeHeadline(r)
	h := bench.NewHeader(context.Background(), "ann", "")
	h.Unclean = []string{"load average 3.00 at start is above half of the 2 cores"}
	rep := r.Report(h)
	dir := t.TempDir()
	if _, err := WriteOutputs(dir, r, rep); err != nil {
		t.Fatal(err)
	}
	first, err := os.ReadFile(filepath.Join(dir, PlotName))
	if err != nil {
		t.Fatal(err)
	}
	stored, err := os.ReadFile(filepath.Join(dir, ReportName+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		bench.Header
		Data Result `json:"data"`
	}
	if err := json.Unmarshal(stored, &back); err != nil {
		t.Fatal(err)
	}
	again := t.TempDir()
	if _, err := DrawPlots(again, &back.Data, back.Header); err != nil {
		t.Fatal(err)
	}
	second, err := os.ReadFile(filepath.Join(again, PlotName))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) || len(first) < 1000 || !bytes.HasPrefix(first, []byte("\x89PNG")) {
		t.Errorf("redrawn PNG differs (%d vs %d bytes) or is not a PNG", len(first), len(second))
	}
	md, err := os.ReadFile(filepath.Join(dir, ReportName+".md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"FLAG coderhnsw: best recall@10 0.0400", "| implausible |", "UNCLEAN RUN"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(string(md), "FLAG mmsearch-hnsw") {
		t.Errorf("a healthy curve was flagged:\n%s", md)
	}
}
