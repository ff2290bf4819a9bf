package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mmsearch/encoders"
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
	// Which failure cuda reports depends on what is installed: without the
	// GPU build of ONNX Runtime it names 'make setup-gpu'; with it (make
	// test installs it on Linux x64) but without CUDA on the machine, it
	// names the library the loader could not find.
	want := "make setup-gpu"
	if gpuLib, err := encoders.GPULibraryPath(os.Getenv); err == nil {
		if _, err := os.Stat(gpuLib); err == nil {
			want = "cannot be loaded: lib"
		}
	}
	if cuda := run(t, "embed", "--model", tinyModel, "--device", "cuda", "text", "dog"); cuda.code == 0 {
		t.Log("this machine runs ONNX Runtime's CUDA provider; the failure path is not exercised here")
	} else if cuda.code != exitFailure || !strings.Contains(cuda.stderr, "CUDA execution provider unavailable") || !strings.Contains(cuda.stderr, want) {
		t.Errorf("--device cuda without CUDA: exit %d, %s%s; want exit %d and an error containing %q", cuda.code, cuda.stdout, cuda.stderr, exitFailure, want)
	} else if strings.Contains(cuda.stderr, "onnxruntime:") {
		t.Errorf("--device cuda without CUDA let ONNX Runtime's own log through: %s", cuda.stderr)
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
