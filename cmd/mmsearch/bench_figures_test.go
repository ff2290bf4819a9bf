package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// committedReports lists the report JSON files in the repository.
func committedReports(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pattern := range []string{"../../bench/results/*.json", "../../bench/results/*/*.json", "../../onnx-models/*/eval/*.json"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 10 {
		t.Fatalf("only %d committed reports found: %v", len(files), files)
	}
	return files
}

// TestCommittedReportsHaveFigures: every committed report carries its
// headline numbers as data ("figures"), equal to what its data gives, and
// the ones a script wants are there.
func TestCommittedReportsHaveFigures(t *testing.T) {
	files := committedReports(t)
	code, stdout, stderr := runCLI(append([]string{"bench", "figures", "--check"}, files...)...)
	if code != exitOK {
		t.Fatalf("bench figures --check: exit %d\n%s%s", code, stdout, stderr)
	}
	want := map[string][]string{
		"ann":           {"qps_ratio_ours_over_hnswlib_at_recall10_0.95", "mmsearch-hnsw.qps_1_thread_at_recall10_0.95", "mmsearch-hnsw.qps_1_thread_at_recall10_0.99"},
		"ingest":        {"ratio_ingest_over_encoder", "ingest_images_per_s"},
		"encoder":       {"batch_1.ratio_ours_over_plain_ort", "text_query_p50_ms"},
		"query-latency": {"p50_ms", "p99_ms"},
		"serve":         {"requests_per_second", "p99_ms"},
		"retrieval":     {"text_to_image.all.exact.R@10", "text_to_image.all.hnsw.R@10", "image_to_image.all.exact.MRR@10"},
		"analogy":       {"mean_of_families.add.R@10", "mean_of_families.mul.R@1", "add.queries_per_s"},
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var r struct {
			Benchmark string             `json:"benchmark"`
			Figures   map[string]float64 `json:"figures"`
		}
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, name := range want[r.Benchmark] {
			if _, ok := r.Figures[name]; !ok && !(r.Benchmark == "ann" && strings.Contains(f, "efc100") && strings.Contains(name, "hnswlib")) {
				t.Errorf("%s: figure %s missing", f, name)
			}
		}
	}
}

// TestBenchFiguresRewritesOnlyFigures: on a report without figures the
// command adds them and changes nothing else; --check then passes.
func TestBenchFiguresRewritesOnlyFigures(t *testing.T) {
	src, err := os.ReadFile("../../bench/results/query-latency.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(src, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "figures")
	p := filepath.Join(t.TempDir(), "query-latency.json")
	stripped, _ := json.Marshal(m)
	if err := os.WriteFile(p, stripped, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := runCLI("bench", "figures", "--check", p); code != exitFailure {
		t.Fatalf("--check on a report without figures: exit %d", code)
	}
	if code, out, stderr := runCLI("bench", "figures", p); code != exitOK {
		t.Fatalf("bench figures: %d %s %s", code, out, stderr)
	}
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, src) {
		t.Errorf("rewritten report differs from the committed one:\n%s", got)
	}
}
