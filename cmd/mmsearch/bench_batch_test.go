package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestBenchBatch runs the real binary's bench batch on a small library of
// the tiny model: the report says both ways gave the same results, has a
// time for every round of both ways, and a speed-up above 1 (each of the
// processes pays the start-up the one batch process pays once), and the
// files go where --out says.
func TestBenchBatch(t *testing.T) {
	out := t.TempDir()
	r := run(t, "bench", "batch", "--items", "200", "--queries", "6", "--rounds", "2", "--model", tinyModel, "--out", out, "--force")
	if r.code != exitOK {
		t.Fatalf("bench batch: exit %d %s", r.code, r.stderr)
	}
	data, err := os.ReadFile(filepath.Join(out, "batch-tiny.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Figures map[string]float64 `json:"figures"`
		Data    struct {
			Queries     int       `json:"queries"`
			PerProcessS []float64 `json:"per_process_s"`
			BatchS      []float64 `json:"batch_s"`
			Identical   bool      `json:"identical_results"`
		} `json:"data"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	d := rep.Data
	if !d.Identical || d.Queries != 6 || len(d.PerProcessS) != 2 || len(d.BatchS) != 2 {
		t.Fatalf("report data %+v", d)
	}
	if s := rep.Figures["batch_speed_up"]; s <= 1 {
		t.Errorf("speed-up %v: one batch process was not faster than 6 processes", s)
	}
	if r := run(t, "bench", "batch", "--queries", "0"); r.code != exitUsage {
		t.Errorf("--queries 0: exit %d", r.code)
	}
}
