package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mmsearch/models/quantize"
)

func runBenchInt8(t *testing.T, args ...string) (string, error) {
	t.Helper()
	data := t.TempDir()
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, getenv: func(k string) string {
		if k == "MMSEARCH_DATA_DIR" {
			return data
		}
		return ""
	}}
	cmds := []*command{{name: "bench", summary: "benchmarks", children: []*command{benchInt8Command()}}}
	err := dispatch(context.Background(), e, "mmsearch", cmds, append([]string{"bench", "int8"}, args...))
	return out.String(), err
}

func TestBenchInt8UsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--dataset", "d"}, "--int8 is required"},
		{[]string{"--int8", "m"}, "--dataset is required"},
		{[]string{"--int8", "m", "--dataset", "d", "--limit", "-2"}, "--limit -2"},
		{[]string{"--int8", "m", "--dataset", "d", "--name", "../x"}, "--name"},
		{[]string{"--int8", "m", "--dataset", "d", "extra"}, "takes no arguments"},
	} {
		_, err := runBenchInt8(t, tc.args...)
		if err == nil || exitCode(err) != exitUsage || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v (exit %d), want usage error %q", tc.args, err, exitCode(err), tc.want)
		}
	}
}

// TestBenchInt8 runs the gate on the tiny model's INT8 copy and reads the
// report files back.
func TestBenchInt8(t *testing.T) {
	ds := qualityDataset(t, 8, false)
	q := filepath.Join(t.TempDir(), "tiny-int8")
	if _, err := quantize.Model(context.Background(), tinyModel, q, quantize.ModelOptions{Options: quantize.DefaultOptions(), Name: "tiny-int8"}); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	spec := filepath.Join(t.TempDir(), "a.jsonl")
	os.WriteFile(spec, []byte(`{"family": "f", "source": "img/0.png", "subtract": [{"text": "a"}], "add": [{"text": "b"}], "expected": ["img/1.png"]}`+"\n"), 0o644)
	stdout, err := runBenchInt8(t, "--model", tinyModel, "--int8", q, "--dataset", ds, "--spec", spec, "--out", out, "--name", "gate")
	if err != nil && err != errGateFailed {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "quality gate:") {
		t.Errorf("stdout: %s", stdout)
	}
	raw, rerr := os.ReadFile(filepath.Join(out, "gate.json"))
	if rerr != nil {
		t.Fatal(rerr)
	}
	var rep struct {
		Data struct {
			Pass   bool `json:"pass"`
			Checks []struct {
				Pass bool `json:"pass"`
			} `json:"checks"`
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Data.Checks) != 3 || rep.Data.Pass != (err == nil) {
		t.Errorf("report pass %t with %d checks; command error %v", rep.Data.Pass, len(rep.Data.Checks), err)
	}
	if _, err := os.Stat(filepath.Join(out, "gate.md")); err != nil {
		t.Error(err)
	}
}
