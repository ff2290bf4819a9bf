package encoders

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestParseDevice(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"", DeviceCPU, ""}, {"cpu", DeviceCPU, ""}, {"cuda", DeviceCUDA, ""}, {"auto", DeviceAuto, ""},
		{"gpu", "", `device "gpu": want cpu, cuda or auto`}, {"CUDA", "", "want cpu, cuda or auto"},
	} {
		got, err := ParseDevice(tc.in)
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("ParseDevice(%q) = %q, %v; want %q, %q", tc.in, got, err, tc.want, tc.err)
		}
	}
}

// TestDeviceFallback opens the tiny model on every device. Where ONNX
// Runtime has no CUDA provider (this project's CPU build), cuda fails with
// ErrNoCUDA and a message naming the fix, and auto runs on the CPU with
// the same outputs as cpu.
func TestDeviceFallback(t *testing.T) {
	m, err := OpenModel("testdata/tiny", RuntimeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pixels := make([]float32, 2*3*8*8)
	for i := range pixels {
		pixels[i] = float32(i%17) / 17
	}
	encode := func(device string) ([][]float32, string, error) {
		enc, err := NewImageEncoder(m, SessionOptions{Device: device, IntraOpThreads: 1})
		if err != nil {
			return nil, "", err
		}
		defer enc.Close()
		v, err := enc.EncodeTensors(ctx, pixels, 2)
		return v, enc.Device(), err
	}
	cpu, dev, err := encode(DeviceCPU)
	if err != nil || dev != DeviceCPU {
		t.Fatalf("cpu: %v, device %q", err, dev)
	}
	_, cudaDev, cudaErr := encode(DeviceCUDA)
	auto, autoDev, err := encode(DeviceAuto)
	if err != nil {
		t.Fatalf("auto: %v", err)
	}
	if cudaErr == nil {
		t.Logf("this ONNX Runtime has a usable CUDA provider: cuda ran on %s, auto on %s", cudaDev, autoDev)
		if cudaDev != DeviceCUDA || autoDev != DeviceCUDA {
			t.Errorf("cuda ran on %q, auto on %q; want cuda", cudaDev, autoDev)
		}
		return
	}
	if !errors.Is(cudaErr, ErrNoCUDA) || !strings.Contains(cudaErr.Error(), "--device cpu") || !strings.Contains(cudaErr.Error(), CUDAProviderLibrary) {
		t.Errorf("cuda without a CUDA provider: %v; want ErrNoCUDA naming the way out", cudaErr)
	}
	if autoDev != DeviceCPU {
		t.Errorf("auto without CUDA ran on %q, want cpu", autoDev)
	}
	for i := range cpu {
		for j := range cpu[i] {
			if cpu[i][j] != auto[i][j] {
				t.Fatalf("auto (CPU fallback) output [%d][%d] = %g, cpu gave %g", i, j, auto[i][j], cpu[i][j])
			}
		}
	}
	if _, err := NewTextEncoder(m, SessionOptions{Device: "tpu"}); err == nil || !strings.Contains(err.Error(), `device "tpu"`) {
		t.Errorf("text encoder on device tpu: %v", err)
	}
}

// TestFindLibraryFor checks which ONNX Runtime build each device starts, on
// a cache laid out as scripts/setup-onnxruntime.sh lays it out. The GPU
// build's CUDA provider here is not a loadable library, as on a machine
// without CUDA: cuda still takes the GPU build (its sessions then say what
// is missing), auto falls back to the CPU build.
func TestFindLibraryFor(t *testing.T) {
	if runtime.GOOS+"/"+runtime.GOARCH != "linux/amd64" {
		t.Skip("the GPU build is installed for linux/amd64 only")
	}
	cache := t.TempDir()
	cpuLib := filepath.Join(cache, "onnxruntime", ORTVersion, "linux-x64", "libonnxruntime.so")
	gpuLib := filepath.Join(cache, "onnxruntime", GPUORTVersion+"-cuda", "linux-x64", "libonnxruntime.so")
	explicit := filepath.Join(cache, "mine.so")
	write := func(p string) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("not a library"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(cpuLib)
	write(explicit)
	getenv := func(k string) string {
		if k == "MMSEARCH_CACHE_DIR" {
			return cache
		}
		return ""
	}
	type want struct{ lib, err string }
	check := func(stage string, cases map[string]want, explicitLib string) {
		t.Helper()
		for device, w := range cases {
			got, err := FindLibraryFor(device, explicitLib, getenv)
			if w.err != "" {
				if err == nil || !strings.Contains(err.Error(), w.err) {
					t.Errorf("%s: %s: got %q, %v; want error containing %q", stage, device, got, err, w.err)
				}
				continue
			}
			if err != nil || got != w.lib {
				t.Errorf("%s: %s: got %q, %v; want %s", stage, device, got, err, w.lib)
			}
		}
	}
	check("no GPU build", map[string]want{
		DeviceCPU:  {lib: cpuLib},
		DeviceAuto: {lib: cpuLib},
		DeviceCUDA: {err: "make setup-gpu"},
		"tpu":      {err: `device "tpu"`},
	}, "")
	write(gpuLib)
	write(filepath.Join(filepath.Dir(gpuLib), CUDAProviderLibrary))
	check("GPU build whose CUDA provider cannot load", map[string]want{
		DeviceCPU:  {lib: cpuLib},
		DeviceAuto: {lib: cpuLib},
		DeviceCUDA: {lib: gpuLib},
	}, "")
	check("explicit library", map[string]want{
		DeviceCPU: {lib: explicit}, DeviceAuto: {lib: explicit}, DeviceCUDA: {lib: explicit},
	}, explicit)
	if err := probeLibrary(filepath.Join(filepath.Dir(gpuLib), CUDAProviderLibrary)); err == nil {
		t.Error("probeLibrary loaded a file that is not a library")
	}
	if err := probeLibrary("libc.so.6"); err != nil {
		t.Errorf("probeLibrary(libc.so.6): %v", err)
	}
}

// TestRunningVersion: once started, the environment reports the version of
// the library it loaded, as the library itself gives it (the set-up cache's
// library is ORTVersion; so is the answer before a start).
func TestRunningVersion(t *testing.T) {
	if _, err := StartRuntime(RuntimeOptions{}); err != nil {
		t.Skipf("ONNX Runtime unavailable: %v", err)
	}
	info, ok := Running()
	if !ok || info.LibraryPath == "" || info.Version == "" {
		t.Fatalf("Running() = %+v, %v after a start", info, ok)
	}
	if got := RunningVersion(); got != info.Version {
		t.Errorf("RunningVersion() = %q, the library says %q", got, info.Version)
	}
	if os.Getenv(LibraryEnv) == "" && info.Version != ORTVersion {
		t.Errorf("the set-up cache's library reports %q, want %s", info.Version, ORTVersion)
	}
}
