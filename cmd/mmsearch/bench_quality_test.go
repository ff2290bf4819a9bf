package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mmsearch/bench/analogy"
	"mmsearch/bench/retrieval"
	"mmsearch/engine"
	"mmsearch/internal/imagetest"
)

// runQuality runs `mmsearch bench ARGS` with the quality benchmarks through
// the CLI's dispatcher.
func runQuality(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	data := t.TempDir()
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, getenv: func(k string) string {
		if k == "MMSEARCH_DATA_DIR" {
			return data
		}
		return ""
	}}
	cmds := []*command{{name: "bench", summary: "benchmarks", children: []*command{benchRetrievalCommand(), benchAnalogyCommand()}}}
	err = dispatch(context.Background(), e, "mmsearch", cmds, append([]string{"bench"}, args...))
	return out.String(), errb.String(), err
}

// qualityDataset writes n distinct PNGs under dir/img with captions.jsonl
// (labels L0..Ln-1, the first two withheld) and, with dup, a copy
// img/dup.png of img/0.png's pixels labelled DUP, in other bytes (another
// PNG compression level): since issue 12 the engine treats byte copies as
// one content and never returns a copy of a query input.
func qualityDataset(t *testing.T, n int, dup bool) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "img"), 0o755); err != nil {
		t.Fatal(err)
	}
	var lines []string
	write := func(rel string, seed int, label string, withheld bool) {
		imagetest.Write(t, filepath.Join(dir, rel), imagetest.PatternPNG(t, seed))
		lines = append(lines, fmt.Sprintf(`{"image": %q, "captions": ["word %s"], "labels": [%q], "withheld": %v}`, rel, label, label, withheld))
	}
	for i := range n {
		write(fmt.Sprintf("img/%d.png", i), 4*i+1, fmt.Sprint("L", i), i < 2)
	}
	if dup {
		write("img/dup.png", 1, "DUP", false)
		var b bytes.Buffer
		if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&b, imagetest.Pattern(1, 24, 16)); err != nil {
			t.Fatal(err)
		}
		imagetest.Write(t, filepath.Join(dir, "img/dup.png"), b.Bytes())
	}
	if err := os.WriteFile(filepath.Join(dir, "captions.jsonl"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestBenchQualityUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"retrieval"}, "--dataset is required"},
		{[]string{"retrieval", "--dataset", "d", "--limit", "-1"}, "--limit -1"},
		{[]string{"retrieval", "--dataset", "d", "--ef", "-3"}, "--ef -3"},
		{[]string{"retrieval", "--dataset", "d", "--k", "1,x"}, `--k: "x" is not a positive integer`},
		{[]string{"retrieval", "--dataset", "d", "--threads", "-1"}, "--threads -1"},
		{[]string{"retrieval", "--dataset", "d", "extra"}, "bench retrieval takes no arguments"},
		{[]string{"retrieval", "--no-such-flag"}, "flag provided but not defined"},
		{[]string{"analogy"}, "--dataset is required"},
		{[]string{"analogy", "--dataset", "d", "--modes", "add,dot"}, `--modes: unknown mode "dot"`},
		{[]string{"analogy", "--dataset", "d", "--k", "0"}, `--k: "0"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, _, err := runQuality(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one containing %q", err, tt.want)
			}
			if code := exitCode(err); code != exitUsage {
				t.Errorf("exit code %d, want %d", code, exitUsage)
			}
		})
	}
}

func TestBenchQualityBadFiles(t *testing.T) {
	dir := qualityDataset(t, 3, true)
	bad := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(bad, []byte("{\"image\": \"img/0.png\"}\n{\"image\": \"img/1.png\", \"labels\": \"L1\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := runQuality(t, "retrieval", "--model", tinyModel, "--dataset", bad, "--out", t.TempDir())
	if err == nil || exitCode(err) != exitFailure || !strings.Contains(err.Error(), "bad.jsonl:2:") {
		t.Errorf("malformed captions: %v (exit %d)", err, exitCode(err))
	}
	spec := filepath.Join(t.TempDir(), "spec.jsonl")
	if err := os.WriteFile(spec, []byte(`{"family": "f", "source": "img/0.png", "add": [{"text": "x", "weight": "2"}], "expected": ["img/dup.png"]}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = runQuality(t, "analogy", "--model", tinyModel, "--dataset", dir, "--spec", spec, "--out", t.TempDir())
	if err == nil || exitCode(err) != exitFailure || !strings.Contains(err.Error(), "spec.jsonl:1:") {
		t.Errorf("malformed spec: %v (exit %d)", err, exitCode(err))
	}
}

func TestBenchRetrievalCLI(t *testing.T) {
	dir := qualityDataset(t, 7, false)
	out := t.TempDir()
	stdout, stderr, err := runQuality(t, "retrieval", "--model", tinyModel, "--dataset", dir, "--queries", dir,
		"--k", "1,3", "--out", out, "--json")
	if err != nil {
		t.Fatalf("%v\nstderr:\n%s", err, stderr)
	}
	var rep struct {
		Benchmark string
		Dataset   string
		Data      retrieval.Result
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("--json output does not decode: %v\n%s", err, stdout)
	}
	if rep.Benchmark != "retrieval" || rep.Data.Images != 7 || !strings.Contains(rep.Dataset, "captions.jsonl (7 images") {
		t.Errorf("report: %+v", rep)
	}
	// Against itself, exact search finds each image first.
	r, ok := rep.Data.Find(retrieval.ImageToImage, retrieval.SubsetAll, retrieval.SearchExact)
	if !ok || r.Queries != 7 || r.At(1) != 1 {
		t.Errorf("image→image exact: %+v", r)
	}
	// The withheld subset (2 items) is reported apart.
	if w, ok := rep.Data.Find(retrieval.TextToImage, retrieval.SubsetWithheld, retrieval.SearchHNSW); !ok || w.Queries != 2 {
		t.Errorf("withheld text→image: %+v", w)
	}
	for _, f := range []string{retrieval.ReportName + ".json", retrieval.ReportName + ".md", retrieval.PlotName} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("missing output: %v", err)
		}
	}
	if !strings.Contains(stderr, "embedding captions") || !strings.Contains(stderr, "text→image, hnsw search") {
		t.Errorf("progress on stderr:\n%s", stderr)
	}

	// Tables on the terminal, with --limit.
	stdout, stderr, err = runQuality(t, "retrieval", "--model", tinyModel, "--dataset", dir, "--limit", "4", "--out", out)
	if err != nil {
		t.Fatalf("%v\nstderr:\n%s", err, stderr)
	}
	for _, want := range []string{"retrieval benchmark", "Retrieval quality", "text→image", "image→text", "R@10", "MRR@10", "limit=4", "headline:", "wrote "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
}

func TestBenchAnalogyCLI(t *testing.T) {
	dir := qualityDataset(t, 6, true)
	spec := filepath.Join(t.TempDir(), "spec.jsonl")
	lines := `{"family": "identity", "source": "img/0.png", "subtract": [{"text": "red", "weight": 1}], "add": [{"text": "red", "weight": 1}], "expected": ["img/dup.png"]}
{"family": "identity", "source": "img/0.png", "subtract": [{"text": "cat", "weight": 2}], "add": [{"text": "cat", "weight": 2}], "expected_labels": ["DUP"]}
{"family": "self", "source": "img/1.png", "add": [{"text": "dog", "weight": 1}], "expected": ["img/1.png"]}
`
	if err := os.WriteFile(spec, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	stdout, stderr, err := runQuality(t, "analogy", "--model", tinyModel, "--dataset", dir, "--spec", spec, "--out", out, "--json")
	if err != nil {
		t.Fatalf("%v\nstderr:\n%s", err, stderr)
	}
	var rep struct {
		Benchmark string
		Data      analogy.Result
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("--json output does not decode: %v\n%s", err, stdout)
	}
	if rep.Benchmark != "analogy" || rep.Data.Analogies != 3 {
		t.Fatalf("report %+v", rep)
	}
	for _, mode := range []engine.Mode{"add", "mul"} {
		id, ok := rep.Data.Find("identity", mode)
		if !ok || id.At(1) != 1 {
			t.Errorf("identity %s: %+v", mode, id)
		}
		// The source is an input, excluded from its own results: never found.
		self, ok := rep.Data.Find("self", mode)
		if !ok || self.At(10) != 0 {
			t.Errorf("self %s: %+v", mode, self)
		}
	}
	b, err := os.ReadFile(filepath.Join(out, analogy.FailuresName))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n != 2 || !strings.Contains(string(b), `"family":"self"`) {
		t.Errorf("failures file (%d lines):\n%s", n, b)
	}
	if _, err := os.Stat(filepath.Join(out, analogy.PlotName)); err != nil {
		t.Error(err)
	}

	stdout, _, err = runQuality(t, "analogy", "--model", tinyModel, "--dataset", dir, "--spec", spec, "--modes", "add", "--out", out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"analogy benchmark", "Analogy recall", "identity", "mean of families", "add mode, 3 analogies: R@1 0.6667", "wrote "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, " mul ") {
		t.Errorf("mul mode ran with --modes add:\n%s", stdout)
	}
}
