package quantquality

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mmsearch/bench"
	"mmsearch/bench/retrieval"
	"mmsearch/internal/imagetest"
	"mmsearch/models/quantize"
)

const tinyModel = "../../encoders/testdata/tiny"

// dataset writes n pattern images with captions, a query set of the same
// pictures, and an analogy spec.
func dataset(t *testing.T, n int) (dir, queries, spec string) {
	t.Helper()
	root := t.TempDir()
	dir, queries = filepath.Join(root, "ds"), filepath.Join(root, "q")
	var cap, qcap bytes.Buffer
	for i := range n {
		rel := fmt.Sprintf("img/i%02d.png", i)
		png := imagetest.PatternPNG(t, 5*i+2)
		imagetest.Write(t, filepath.Join(dir, rel), png)
		imagetest.Write(t, filepath.Join(queries, rel), png)
		line, _ := json.Marshal(map[string]any{"image": rel, "captions": []string{fmt.Sprintf("pattern %d", i)}, "labels": []string{fmt.Sprint("L", i)}})
		cap.Write(append(line, '\n'))
		line, _ = json.Marshal(map[string]any{"image": rel, "labels": []string{fmt.Sprint("L", i)}})
		qcap.Write(append(line, '\n'))
	}
	for _, f := range []struct {
		path string
		data []byte
	}{{filepath.Join(dir, retrieval.CaptionsJSONL), cap.Bytes()}, {filepath.Join(queries, retrieval.CaptionsJSONL), qcap.Bytes()}} {
		if err := os.WriteFile(f.path, f.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var sb bytes.Buffer
	for i := 0; i+1 < n; i += 2 {
		line, _ := json.Marshal(map[string]any{"family": fmt.Sprint("f", i%4), "source": fmt.Sprintf("img/i%02d.png", i),
			"subtract": []map[string]any{{"text": "red", "weight": 1}}, "add": []map[string]any{{"text": "blue", "weight": 1}},
			"expected": []string{fmt.Sprintf("img/i%02d.png", i+1)}})
		sb.Write(append(line, '\n'))
	}
	spec = filepath.Join(root, "analogies.jsonl")
	if err := os.WriteFile(spec, sb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, queries, spec
}

// TestRunSameModel gates the tiny model against itself: every delta is 0,
// every cosine 1, the gate passes.
func TestRunSameModel(t *testing.T) {
	dir, queries, spec := dataset(t, 12)
	res, err := Run(context.Background(), Config{Model: tinyModel, Int8: tinyModel, Dataset: dir, Queries: queries, Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Checks) != 4 || !res.Pass || res.Images != 12 {
		t.Fatalf("checks %+v, pass %t, images %d", res.Checks, res.Pass, res.Images)
	}
	for _, c := range res.Checks[:3] {
		if c.Delta != 0 || !c.Pass {
			t.Errorf("check %+v: same model, want delta 0", c)
		}
	}
	if math.Abs(res.MeanCosine-1) > 1e-6 || math.Abs(res.MinCosine-1) > 1e-6 {
		t.Errorf("cosines mean %g min %g, want 1", res.MeanCosine, res.MinCosine)
	}
}

// TestRunInt8 gates the tiny model's INT8 copy: the vectors move (cosine
// below 1) but stay close, and the report states every figure.
func TestRunInt8(t *testing.T) {
	dir, queries, spec := dataset(t, 12)
	q := filepath.Join(t.TempDir(), "tiny-int8")
	if _, err := quantize.Model(context.Background(), tinyModel, q, quantize.ModelOptions{Options: quantize.DefaultOptions(), Name: "tiny-int8"}); err != nil {
		t.Fatal(err)
	}
	libs := t.TempDir()
	res, err := Run(context.Background(), Config{Model: tinyModel, Int8: q, Libraries: libs, Dataset: dir, Queries: queries, Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	if res.Int8Model != "tiny-int8" || res.Quantization == nil || res.Quantization.SourceModel != "tiny-test" {
		t.Errorf("int8 model %q, quantization %+v", res.Int8Model, res.Quantization)
	}
	if !(res.MeanCosine < 1-1e-7 && res.MeanCosine > 0.99 && res.MinCosine <= res.P1Cosine && res.P1Cosine <= res.MeanCosine) {
		t.Errorf("cosines mean %g p1 %g min %g", res.MeanCosine, res.P1Cosine, res.MinCosine)
	}
	pass := true
	for _, c := range res.Checks {
		pass = pass && c.Pass
		if c.Delta != c.Int8-c.Float32 {
			t.Errorf("check %+v: delta", c)
		}
	}
	if pass != res.Pass {
		t.Errorf("pass %t, checks say %t", res.Pass, pass)
	}
	for _, sub := range []string{"float32-tiny", "int8-tiny-int8"} {
		if _, err := os.Stat(filepath.Join(libs, sub, "library.db")); err != nil {
			t.Errorf("library %s not kept: %v", sub, err)
		}
	}
	var b bytes.Buffer
	if err := res.Report(bench.NewHeader(context.Background(), "quantize-quality", "")).WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Quality gate", "text→image R@10", "image→image R@10", "analogy mean R@10", "mean cosine", "tiny-int8"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}

func TestRunErrors(t *testing.T) {
	dir, _, spec := dataset(t, 4)
	for _, cfg := range []Config{
		{Model: tinyModel, Int8: "../../encoders/testdata/nope", Dataset: dir, Spec: spec},
		{Model: tinyModel, Int8: tinyModel, Dataset: filepath.Join(dir, "missing"), Spec: spec},
	} {
		if _, err := Run(context.Background(), cfg); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
}
