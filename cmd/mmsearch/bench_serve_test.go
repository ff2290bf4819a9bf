package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	benchserve "mmsearch/bench/serve"
)

func TestBenchServeUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--clients", "0"}, "--clients 0"},
		{[]string{"--clients", "5000"}, "--clients 5000"},
		{[]string{"--duration", "1ms"}, "--duration 1ms"},
		{[]string{"--max-requests", "0"}, "--max-requests 0"},
		{[]string{"--k", "0"}, "--k 0"},
		{[]string{"--images", "1"}, "--images 1"},
		{[]string{"extra"}, "takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			err := serveCLI(context.Background(), noEnv, &out, &errb, append([]string{"bench", "serve"}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if code := exitCode(err); code != exitUsage {
				t.Fatalf("exit code %d, want %d", code, exitUsage)
			}
		})
	}
}

// TestBenchServeSmall runs a load capped at 40 requests over a generated
// library and checks the report's figures and files.
func TestBenchServeSmall(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	err := serveCLI(context.Background(), noEnv, &stdout, &stderr, "bench", "serve",
		"--model", tinyModel, "--images", "12", "--clients", "3", "--duration", "60s", "--max-requests", "40", "--out", out)
	if err != nil {
		t.Fatalf("%v\n%s%s", err, stdout.String(), stderr.String())
	}
	for _, want := range []string{"serve benchmark", "requests/s", "p50 ms", "p99 ms", "By query kind", "errors in 40 requests"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
	b, err := os.ReadFile(filepath.Join(out, "serve.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Benchmark string          `json:"benchmark"`
		Data      benchserve.Data `json:"data"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	d := rep.Data
	if rep.Benchmark != "serve" || d.Overall.Requests != 40 || d.Overall.Errors != 0 || d.LibraryItems != 12 || d.Model != "tiny-test" {
		t.Fatalf("report data %+v", d)
	}
	if d.RequestsPerSec <= 0 || d.Overall.P50ms <= 0 || d.Overall.P50ms > d.Overall.P99ms || d.Overall.P99ms > d.Overall.MaxMs {
		t.Fatalf("latency figures out of order: %+v", d.Overall)
	}
	sum := 0
	for _, k := range []string{"text", "item", "analogy"} {
		if d.ByKind[k].Requests == 0 {
			t.Errorf("no %s queries in the mix: %+v", k, d.ByKind)
		}
		sum += d.ByKind[k].Requests
	}
	if sum != 40 {
		t.Fatalf("kinds add up to %d requests, want 40", sum)
	}
	if d.MemoryBefore.RSSMiB <= 0 || d.MemoryAfter.RSSMiB <= 0 || d.MemoryAfter.PeakMiB < d.MemoryAfter.RSSMiB || d.MemoryAfter.PeakMiB < d.MemoryBefore.PeakMiB {
		t.Fatalf("memory figures: before %+v after %+v", d.MemoryBefore, d.MemoryAfter)
	}
	if !strings.Contains(stdout.String(), "Process memory") {
		t.Errorf("output lacks the memory table:\n%s", stdout.String())
	}
	if _, err := os.Stat(filepath.Join(out, "serve.md")); err != nil {
		t.Fatal(err)
	}
}
