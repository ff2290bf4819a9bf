package cluster

import (
	"math"
	"strings"
	"testing"

	"mmsearch/bench"
)

// TestIngestReport checks the ingest hook's figures: images/s per worker
// relative to one worker, and the report's ingest table or, without runs,
// the note that says ingest was not measured.
func TestIngestReport(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []IngestPoint
		want []float64 // efficiencies
	}{
		{"linear", []IngestPoint{{Workers: 1, PerSec: 10}, {Workers: 2, PerSec: 20}, {Workers: 4, PerSec: 40}}, []float64{1, 1, 1}},
		{"cpu-bound", []IngestPoint{{Workers: 1, PerSec: 14}, {Workers: 2, PerSec: 21}, {Workers: 4, PerSec: 22.4}}, []float64{1, 0.75, 0.4}},
		{"no one-worker run", []IngestPoint{{Workers: 2, PerSec: 20}}, []float64{0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setEfficiency(tc.in)
			for i, p := range tc.in {
				if math.Abs(p.Efficiency-tc.want[i]) > 1e-9 {
					t.Errorf("%d workers: efficiency %v, want %v", p.Workers, p.Efficiency, tc.want[i])
				}
			}
		})
	}
	r := &Result{N: 10, Backends: []BackendResult{{Name: "x", Points: []Point{{Ef: 8, Recall10: 1, QPS: 5}}}}}
	md := func() string {
		var b strings.Builder
		if err := r.Report(bench.Header{Benchmark: "cluster"}).WriteMarkdown(&b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	if s := md(); !strings.Contains(s, "not measured") || strings.Contains(s, "distributed ingest") {
		t.Fatalf("report without ingest runs:\n%s", s)
	}
	r.Ingest = []IngestPoint{{Workers: 1, Images: 100, Seconds: 10, PerSec: 10, Efficiency: 1}}
	if s := md(); strings.Contains(s, "not measured") || !strings.Contains(s, "| 1 | 100 | 10.0 | 10.00 | 1.00 |") {
		t.Fatalf("report with an ingest run:\n%s", s)
	}
}
