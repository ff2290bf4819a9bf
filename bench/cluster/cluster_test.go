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
	r := &Result{N: 10, Backends: []BackendResult{{Name: "hnsw (ours)", Nodes: 1, Points: []Point{{Ef: 8, Recall10: 1, QPS: 5}}}}}
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
	r.Backends = append(r.Backends, BackendResult{Name: "weaviate v1, 3 node(s)", Nodes: 3, InsertPerSec: 7, Points: []Point{{Ef: 8, Recall10: 0.9, QPS: 2}}})
	r.Ingest = []IngestPoint{{Workers: 1, Images: 100, Seconds: 10, PerSec: 10, Efficiency: 1}}
	f := r.Figures()
	for key, want := range map[string]float64{"hnsw_ef8_recall_at_10": 1, "hnsw_ef8_queries_per_second": 5,
		"weaviate_3_nodes_ef8_recall_at_10": 0.9, "weaviate_3_nodes_inserts_per_second": 7, "ingest_1_workers_images_per_second": 10} {
		if got, ok := f[key]; !ok || got != want {
			t.Errorf("figure %s = %v (present %v), want %v; figures %v", key, got, ok, want, f)
		}
	}
	if s := md(); strings.Contains(s, "not measured") || !strings.Contains(s, "| 1 | 100 | 10.0 | 10.00 | 1.00 |") {
		t.Fatalf("report with an ingest run:\n%s", s)
	}
}
