package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mmsearch/encoders"
	"mmsearch/models"
	"mmsearch/models/quantize"
)

// TestModelsQuantize runs `models quantize` on the tiny test model: the INT8
// copy is installed under NAME-int8, records its source and settings, and
// passes `models verify` (digests, and both graphs opened by ONNX Runtime).
func TestModelsQuantize(t *testing.T) {
	data := t.TempDir()
	out, stderr, err := runModels(t, data, "quantize", modelsTinyDir)
	if err != nil {
		t.Fatalf("quantize: %v\n%s", err, stderr)
	}
	dst := filepath.Join(data, "models", "tiny-int8")
	if !strings.Contains(out, "-> tiny-int8 in "+dst) || !strings.Contains(out, "1 image and 1 text MatMul/Gemm nodes now int8") {
		t.Errorf("quantize stdout: %s", out)
	}
	m, err := encoders.ReadManifest(dst)
	if err != nil {
		t.Fatal(err)
	}
	if q := m.Quantization; q == nil || q.SourceModel != "tiny-test" || !q.PerChannel || !q.ReduceRange || q.Format != quantize.FormatFused {
		t.Errorf("manifest quantization %+v, want source tiny-test with the default settings", m.Quantization)
	}
	out, _, err = runModels(t, data, "verify", "tiny-int8")
	if err != nil || !strings.Contains(out, "tiny-int8: verified") {
		t.Fatalf("verify: %v\n%s", err, out)
	}

	if _, _, err := runModels(t, data, "quantize", modelsTinyDir); err == nil || exitCode(err) != exitFailure || !strings.Contains(err.Error(), "--force") {
		t.Errorf("quantize over an installed model: %v", err)
	}
	out, _, err = runModels(t, data, "quantize", "--force", "--per-tensor", "--full-range", "--format", "integer", "--json", "--out", "tiny-q", modelsTinyDir)
	if err != nil {
		t.Fatal(err)
	}
	var res quantize.ModelResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Manifest == nil {
		t.Fatalf("quantize --json: %v\n%s", err, out)
	}
	if q := res.Manifest.Quantization; q.PerChannel || q.ReduceRange || q.Format != quantize.FormatInteger || res.Manifest.Name != "tiny-q" {
		t.Errorf("flags not honoured: %+v", q)
	}
	if _, err := os.Stat(filepath.Join(data, "models", "tiny-q", "vision_model.onnx")); err != nil {
		t.Error(err)
	}
}

func TestModelsQuantizeErrors(t *testing.T) {
	data := t.TempDir()
	for _, tc := range []struct {
		args []string
		exit int
		want string
	}{
		{[]string{"quantize"}, exitUsage, "exactly one model"},
		{[]string{"quantize", "--format", "qdq", modelsTinyDir}, exitUsage, "--format"},
		{[]string{"quantize", "--out", "../escape", modelsTinyDir}, exitUsage, "model name"},
		{[]string{"quantize", "no-such-model"}, exitNotFound, "model not found"},
		{[]string{"quantize", t.TempDir() + "/"}, exitNotFound, "has no model.json"},
	} {
		_, _, err := runModels(t, data, tc.args...)
		if err == nil || exitCode(err) != tc.exit || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v (exit %d), want exit %d and %q", tc.args, err, exitCode(err), tc.exit, tc.want)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(data, "models")); len(entries) != 0 {
		t.Errorf("failed runs left %d entries in the models folder", len(entries))
	}
}

// TestModelsPullInt8 pulls the tiny model with --int8: both the model and
// its INT8 copy are installed.
func TestModelsPullInt8(t *testing.T) {
	data := t.TempDir()
	reg := tinyRegistry(t)
	out, stderr, err := runModels(t, data, "pull", "--registry", reg, "--int8", "tiny")
	if err != nil {
		t.Fatalf("pull --int8: %v\n%s", err, stderr)
	}
	if !strings.Contains(out, "installed tiny") || !strings.Contains(out, "-> tiny-int8") {
		t.Errorf("pull --int8 stdout: %s", out)
	}
	if _, err := encoders.ReadManifest(filepath.Join(data, "models", "tiny-int8")); err != nil {
		t.Error(err)
	}
}

// TestModelsQuantizeStamp checks that the INT8 copy is verified and stamped
// like any install, so its first open only stats its files.
func TestModelsQuantizeStamp(t *testing.T) {
	ortLib, err := encoders.FindLibrary("", os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	data, cache := t.TempDir(), t.TempDir()
	vars := map[string]string{"MMSEARCH_DATA_DIR": data, "MMSEARCH_CACHE_DIR": cache, encoders.LibraryEnv: ortLib}
	getenv := func(k string) string { return vars[k] }
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, getenv: getenv}
	if err := dispatch(context.Background(), e, "mmsearch", []*command{modelsCommand()}, []string{"models", "quantize", modelsTinyDir}); err != nil {
		t.Fatalf("quantize: %v\n%s", err, errb.String())
	}
	dst := filepath.Join(data, "models", "tiny-int8")
	m, err := encoders.ReadManifest(dst)
	if err != nil {
		t.Fatal(err)
	}
	if !models.StampValid(dst, m, getenv) {
		t.Fatalf("no valid stamp for %s under %s", dst, cache)
	}
	_, opened, err := models.Open(dst, models.OpenOptions{Getenv: getenv})
	if err != nil || opened.Verified {
		t.Errorf("open after quantize: verified again %v, err %v; want the stamp to vouch", opened.Verified, err)
	}
}
