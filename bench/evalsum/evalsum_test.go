package evalsum

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"mmsearch/bench/retrieval"
)

const bundled = "../../onnx-models/emoji-clip"

// TestBundledEvalJSON reads the bundled model's eval.json: it has the
// schema (every figure a JSON number, every task and family present), it is
// of the bundled model, and it is exactly what the Go engine's reports in
// eval/ give (so it was generated, not edited by hand).
func TestBundledEvalJSON(t *testing.T) {
	s, err := Load(filepath.Join(bundled, "eval.json"))
	if err != nil {
		t.Fatal(err)
	}
	var manifest struct{ Name, Version string }
	b, err := os.ReadFile(filepath.Join(bundled, "model.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &manifest); err != nil {
		t.Fatal(err)
	}
	if s.Model != manifest.Name || s.ModelVersion != manifest.Version {
		t.Errorf("eval.json is of %s %s, the bundled model is %s %s", s.Model, s.ModelVersion, manifest.Name, manifest.Version)
	}
	rj, err := os.ReadFile(filepath.Join(bundled, "eval", "retrieval.json"))
	if err != nil {
		t.Fatal(err)
	}
	aj, err := os.ReadFile(filepath.Join(bundled, "eval", "analogy.json"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := FromReports(rj, aj)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s, want) {
		t.Error("eval.json differs from the summary of eval/retrieval.json and eval/analogy.json; run 'mmsearch bench summary --out onnx-models/emoji-clip/eval.json onnx-models/emoji-clip/eval'")
	}
	// The figures EVAL.md quotes, read as data.
	for _, task := range s.Retrieval.Tasks {
		if task.Task == retrieval.TextToImage && task.Subset == retrieval.SubsetAll {
			if task.N != 3953 || task.Exact["R@10"] < 0.3 {
				t.Errorf("text→image: n %d, R@10 %v", task.N, task.Exact["R@10"])
			}
		}
	}
}

// TestValidateRefuses: broken summaries are refused with the reason.
func TestValidateRefuses(t *testing.T) {
	good, err := os.ReadFile(filepath.Join(bundled, "eval.json"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, old, new, want string
	}{
		{"figure as prose", `"R@10": 0.5641285099924108`, `"R@10": "0.5641 exact"`, "cannot unmarshal string"},
		{"old schema", `"schema": "mmsearch-eval/2"`, `"schema": "mmsearch-eval/1"`, "schema"},
		{"figure missing", "0.29673665570452823,\n          \"R@5\": 0.49456109284088035", "0.29673665570452823", "R@5 missing"},
		{"recall above 1", `"R@10": 0.5641285099924108`, `"R@10": 1.5641285099924108`, "outside [0, 1]"},
		{"recall falls with k", `"R@10": 0.5641285099924108`, `"R@10": 0.1`, "recall falls"},
		{"no queries", `"n": 3953`, `"n": 0`, "n 0"},
		{"unknown field", `"schema"`, `"headline_v1": 1, "schema"`, "unknown field"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(string(good), c.old) {
				t.Fatalf("eval.json lacks %q", c.old)
			}
			p := filepath.Join(t.TempDir(), "eval.json")
			if err := os.WriteFile(p, []byte(strings.Replace(string(good), c.old, c.new, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(p)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Load: %v, want an error containing %q", err, c.want)
			}
		})
	}
}
