package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mmsearch/models"
)

const modelsTinyDir = "../../encoders/testdata/tiny"

var modelsTinyFiles = []string{"model.json", "vision_model.onnx", "text_model.onnx", "vocab.json", "merges.txt"}

// runModels runs `mmsearch models ARGS` with the data folder dataDir.
func runModels(t *testing.T, dataDir string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	vars := map[string]string{"MMSEARCH_DATA_DIR": dataDir}
	e := &env{stdout: &out, stderr: &errb, getenv: func(k string) string { return vars[k] }}
	err = dispatch(context.Background(), e, "mmsearch", []*command{modelsCommand()}, append([]string{"models"}, args...))
	return out.String(), errb.String(), err
}

// tinyRegistry serves the encoders' tiny test model over loopback and
// writes a registry listing it as "tiny" (one file without a digest).
func tinyRegistry(t *testing.T) string {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e := models.Entry{Name: "tiny", Description: "closed-form test model", Layout: models.LayoutMMSearch, Dimension: 4, ImageSize: 8, Source: "test"}
	for _, name := range modelsTinyFiles {
		data, err := os.ReadFile(filepath.Join(modelsTinyDir, name))
		if err != nil {
			t.Fatal(err)
		}
		mux.HandleFunc("/"+name, func(w http.ResponseWriter, r *http.Request) { w.Write(data) })
		sum := sha256.Sum256(data)
		f := models.FileSpec{Path: name, URL: srv.URL + "/" + name, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}
		if name == "vocab.json" {
			f.SHA256, f.Verify = "", models.VerifyTrustOnFirstUse
		}
		e.Files = append(e.Files, f)
	}
	data, err := json.Marshal(models.Registry{Schema: models.RegistrySchema, Models: []models.Entry{e}})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "registry.json")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestModelsPullListUseVerify(t *testing.T) {
	data := t.TempDir()
	reg := tinyRegistry(t)

	out, _, err := runModels(t, data, "list", "--registry", reg, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var list []models.ModelInfo
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 1 || list[0].Status != models.StatusAvailable {
		t.Fatalf("list before pull: %v %s", err, out)
	}

	out, stderr, err := runModels(t, data, "pull", "--registry", reg, "tiny")
	if err != nil {
		t.Fatalf("pull: %v\n%s", err, stderr)
	}
	if !strings.Contains(out, "installed tiny in "+filepath.Join(data, "models", "tiny")) {
		t.Errorf("pull stdout: %s", out)
	}
	for _, want := range []string{"download vision_model.onnx (2/5", "100%", "verify tiny", "install tiny", "WARNING: 1 file(s) of tiny have no published sha256", "vocab.json"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("pull stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "\r") {
		t.Error("a progress bar was drawn although stderr is not a terminal")
	}
	if _, _, err := runModels(t, data, "pull", "--registry", reg, "tiny"); err == nil || !strings.Contains(err.Error(), "already installed") {
		t.Errorf("second pull: %v", err)
	}
	if _, _, err := runModels(t, data, "pull", "--registry", reg, "--require-checksums", "--force", "tiny"); err == nil || !strings.Contains(err.Error(), "no published checksum") {
		t.Errorf("pull --require-checksums: %v", err)
	}

	out, _, err = runModels(t, data, "use", "tiny")
	if err != nil || strings.TrimSpace(out) != "default model: tiny" {
		t.Fatalf("use: %q %v", out, err)
	}
	out, _, err = runModels(t, data, "list", "--registry", reg)
	if err != nil || !strings.Contains(out, "*  tiny") || !strings.Contains(out, "installed") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	out, _, err = runModels(t, data, "info", "tiny")
	if err != nil || !strings.Contains(out, "default:       yes") || !strings.Contains(out, "trust-on-first-use") {
		t.Fatalf("info: %v\n%s", err, out)
	}
	out, _, err = runModels(t, data, "verify", "tiny")
	if err != nil || !strings.Contains(out, "tiny-test: verified") {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	os.WriteFile(filepath.Join(data, "models", "tiny", "vocab.json"), []byte("{}"), 0o644)
	out, _, err = runModels(t, data, "verify", "--json", "tiny")
	if err == nil || exitCode(err) != exitFailure {
		t.Fatalf("verify of a damaged model: %v (exit %d)", err, exitCode(err))
	}
	var rep models.VerifyReport
	if jerr := json.Unmarshal([]byte(out), &rep); jerr != nil || rep.OK {
		t.Fatalf("verify --json: %v %s", jerr, out)
	}
}

func TestModelsErrors(t *testing.T) {
	data := t.TempDir()
	reg := tinyRegistry(t)
	tests := []struct {
		args []string
		exit int
		want string
	}{
		{[]string{}, exitUsage, "no command given"},
		{[]string{"fetch"}, exitUsage, "unknown command"},
		{[]string{"pull", "--registry", reg}, exitUsage, "exactly one model NAME"},
		{[]string{"pull", "--registry", reg, "vit-h"}, exitNotFound, "model not in registry"},
		{[]string{"pull", "--registry", filepath.Join(data, "none.json"), "tiny"}, exitFailure, "none.json"},
		{[]string{"info", "nothing"}, exitNotFound, "model not found"},
		{[]string{"use", "nothing"}, exitNotFound, "model not found"},
		{[]string{"verify", "nothing"}, exitNotFound, "model not found"},
		{[]string{"import", "--layout", "tf", data}, exitUsage, "--layout"},
		{[]string{"import", data}, exitFailure, "unknown model folder layout"},
		{[]string{"list", "extra"}, exitUsage, "takes no arguments"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, _, err := runModels(t, data, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) || exitCode(err) != tc.exit {
				t.Fatalf("err %v (exit %d), want exit %d saying %q", err, exitCode(err), tc.exit, tc.want)
			}
		})
	}
}

func TestDownloadProgressTerminal(t *testing.T) {
	var buf bytes.Buffer
	p := newDownloadProgress(&buf, true)
	p.update(models.Progress{Model: "m", Phase: models.PhaseDownload, File: "a.onnx", Index: 1, Count: 2, Done: 500_000, Total: 1_000_000})
	p.Write([]byte("level=WARN msg=retry\n"))
	p.update(models.Progress{Model: "m", Phase: models.PhaseDownload, File: "a.onnx", Index: 1, Count: 2, Done: 1_000_000, Total: 1_000_000})
	p.update(models.Progress{Model: "m", Phase: models.PhaseVerify})
	p.finish()
	s := buf.String()
	for _, want := range []string{"\r\033[Ka.onnx [============            ] 500.0 kB/1.0 MB", "\r\033[Klevel=WARN msg=retry\n", "[========================] 1.0 MB/1.0 MB", "(1/2)\nverify m ...\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%q", want, s)
		}
	}
}
