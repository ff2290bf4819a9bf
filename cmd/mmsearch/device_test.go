package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestDeviceFlag runs the CLI with --device: auto falls back to the CPU
// where ONNX Runtime has no CUDA provider and gives the same vector as cpu;
// cuda fails with the reason; an unknown device is a usage error.
func TestDeviceFlag(t *testing.T) {
	cpu := run(t, "embed", "--model", tinyModel, "--device", "cpu", "text", "dog")
	auto := run(t, "embed", "--model", tinyModel, "--device", "auto", "text", "dog")
	if cpu.code != 0 || auto.code != 0 || cpu.stdout != auto.stdout || !strings.Contains(cpu.stdout, `"vector"`) {
		t.Fatalf("cpu (%d) %q / auto (%d) %q %s", cpu.code, cpu.stdout, auto.code, auto.stdout, auto.stderr)
	}
	if cuda := run(t, "embed", "--model", tinyModel, "--device", "cuda", "text", "dog"); cuda.code == 0 {
		t.Log("this ONNX Runtime has a CUDA provider; the failure path is not exercised here")
	} else if cuda.code != exitFailure || !strings.Contains(cuda.stderr+cuda.stdout, "CUDA execution provider unavailable") {
		t.Errorf("--device cuda without CUDA: exit %d, %s%s", cuda.code, cuda.stdout, cuda.stderr)
	}
	bad := run(t, "embed", "--model", tinyModel, "--device", "gpu", "text", "dog")
	if bad.code != exitUsage || !strings.Contains(bad.stderr, `device "gpu"`) {
		t.Errorf("--device gpu: exit %d, %s", bad.code, bad.stderr)
	}
	lib := filepath.Join(t.TempDir(), "lib")
	idx := run(t, "index", "--library", lib, "--model", tinyModel, "--device", "gpu", t.TempDir())
	if idx.code != exitUsage || !strings.Contains(idx.stderr, "--device") {
		t.Errorf("index --device gpu: exit %d, %s", idx.code, idx.stderr)
	}
}
