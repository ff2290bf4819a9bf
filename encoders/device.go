package encoders

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	ort "github.com/yalue/onnxruntime_go"
)

// Devices an encoder runs on (SessionOptions.Device).
const (
	DeviceCPU  = "cpu"  // ONNX Runtime's CPU execution provider (the default)
	DeviceCUDA = "cuda" // ONNX Runtime's CUDA execution provider; an error when unavailable
	DeviceAuto = "auto" // CUDA when ONNX Runtime can use it, else the CPU
)

// ErrNoCUDA is returned for DeviceCUDA when ONNX Runtime cannot use CUDA:
// the library is a CPU-only build (as onnxruntime-node's is), or its CUDA
// provider library, CUDA or cuDNN is missing.
var ErrNoCUDA = errors.New("CUDA execution provider unavailable")

// ParseDevice checks a --device value; "" means DeviceCPU.
func ParseDevice(s string) (string, error) {
	switch s {
	case "", DeviceCPU:
		return DeviceCPU, nil
	case DeviceCUDA, DeviceAuto:
		return s, nil
	}
	return "", fmt.Errorf("device %q: want %s, %s or %s", s, DeviceCPU, DeviceCUDA, DeviceAuto)
}

// useDevice adds the execution provider of device to so and returns the
// device the session will run on. DeviceAuto falls back to the CPU when the
// CUDA provider cannot be added.
func useDevice(so *ort.SessionOptions, device string) (string, error) {
	device, err := ParseDevice(device)
	if err != nil {
		return "", err
	}
	if device == DeviceCPU {
		return DeviceCPU, nil
	}
	if err := cudaProviderPresent(); err != nil {
		if device == DeviceAuto {
			return DeviceCPU, nil
		}
		return "", err
	}
	if err := appendCUDA(so); err != nil {
		if device == DeviceAuto {
			return DeviceCPU, nil
		}
		return "", err
	}
	return DeviceCUDA, nil
}

// CUDAProviderLibrary is the file ONNX Runtime loads for its CUDA
// execution provider, from the folder of the ONNX Runtime library.
const CUDAProviderLibrary = "libonnxruntime_providers_cuda.so"

// cudaProviderPresent checks that the CUDA provider library beside the
// running ONNX Runtime library exists and that the dynamic loader finds
// everything it needs (CUDA, cuBLAS, cuDNN), so that a machine without them
// gets one clear error (and auto its CPU fallback) instead of ONNX Runtime's
// own failure log.
func cudaProviderPresent() error {
	envMu.Lock()
	info := envInfo
	envMu.Unlock()
	if info == nil {
		return fmt.Errorf("%w: ONNX Runtime is not started", ErrNoCUDA)
	}
	p := filepath.Join(filepath.Dir(info.LibraryPath), CUDAProviderLibrary)
	if _, err := os.Stat(p); err != nil {
		return fmt.Errorf("%w: %s is missing beside %s (that is a CPU-only build of ONNX Runtime; run 'make setup-gpu' to install the GPU build with its CUDA provider, or use --device cpu)", ErrNoCUDA, CUDAProviderLibrary, info.LibraryPath)
	}
	if err := probeLibrary(p); err != nil {
		return fmt.Errorf("%w: %s cannot be loaded: %v (it needs the NVIDIA driver, CUDA %s and cuDNN %s on the library path; install them, or use --device cpu)", ErrNoCUDA, p, err, cudaMajor, cudnnMajor)
	}
	return nil
}

// The CUDA and cuDNN major versions the provider of GPUORTVersion is built for.
const (
	cudaMajor  = "13"
	cudnnMajor = "9"
)

func appendCUDA(so *ort.SessionOptions) error {
	opts, err := ort.NewCUDAProviderOptions()
	if err != nil {
		return fmt.Errorf("%w: %v (the ONNX Runtime library in use has no CUDA provider; run 'make setup-gpu', or use --device cpu)", ErrNoCUDA, err)
	}
	defer opts.Destroy()
	if err := so.AppendExecutionProviderCUDA(opts); err != nil {
		return fmt.Errorf("%w: %v (check the NVIDIA driver, CUDA %s and cuDNN %s, or use --device cpu)", ErrNoCUDA, err, cudaMajor, cudnnMajor)
	}
	return nil
}
