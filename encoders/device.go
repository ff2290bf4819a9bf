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

// cudaProviderPresent checks for the CUDA provider library beside the
// running ONNX Runtime library, so that a CPU-only installation gets one
// clear error (and auto its CPU fallback) without ONNX Runtime's own
// failure log.
func cudaProviderPresent() error {
	envMu.Lock()
	info := envInfo
	envMu.Unlock()
	if info == nil {
		return fmt.Errorf("%w: ONNX Runtime is not started", ErrNoCUDA)
	}
	p := filepath.Join(filepath.Dir(info.LibraryPath), CUDAProviderLibrary)
	if _, err := os.Stat(p); err != nil {
		return fmt.Errorf("%w: %s is missing beside %s (the ONNX Runtime set-up installs a CPU-only build; install a GPU build of ONNX Runtime with its CUDA provider, CUDA and cuDNN, or use --device cpu)", ErrNoCUDA, CUDAProviderLibrary, info.LibraryPath)
	}
	return nil
}

func appendCUDA(so *ort.SessionOptions) error {
	opts, err := ort.NewCUDAProviderOptions()
	if err != nil {
		return fmt.Errorf("%w: %v (the ONNX Runtime library in use has no CUDA provider; install a GPU build with libonnxruntime_providers_cuda.so, CUDA and cuDNN, or use --device cpu)", ErrNoCUDA, err)
	}
	defer opts.Destroy()
	if err := so.AppendExecutionProviderCUDA(opts); err != nil {
		return fmt.Errorf("%w: %v (the ONNX Runtime library in use has no CUDA provider; install a GPU build with libonnxruntime_providers_cuda.so, CUDA and cuDNN, or use --device cpu)", ErrNoCUDA, err)
	}
	return nil
}
