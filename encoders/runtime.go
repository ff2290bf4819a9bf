// Package encoders turns pictures and phrases into embeddings with ONNX Runtime.
//
// It owns the ONNX Runtime environment (started once per process), model
// manifests (model.json), and the ImageEncoder and TextEncoder that run a
// model's two towers in batches. Image decoding and preprocessing live in
// encoders/imageproc, the CLIP tokenizer in encoders/tokenizer.
package encoders

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// ORTVersion is the ONNX Runtime release that `make setup` installs.
const ORTVersion = "1.24.3"

// GPUORTVersion is the ONNX Runtime release that `make setup-gpu` installs
// with its CUDA execution provider. It is the release the provider libraries
// were built for: ONNX Runtime loads a provider only from its own release.
const GPUORTVersion = "1.29.0"

// LibraryEnv is the environment variable naming the ONNX Runtime shared library.
const LibraryEnv = "ONNXRUNTIME_SHARED_LIBRARY_PATH"

// ErrNoLibrary is returned when no ONNX Runtime shared library can be found.
var ErrNoLibrary = errors.New("ONNX Runtime shared library not found; run 'make setup' (or scripts/setup-onnxruntime.sh), or set " + LibraryEnv)

// CacheDir is the mmsearch cache folder: $MMSEARCH_CACHE_DIR, else
// $XDG_CACHE_HOME/mmsearch, else ~/.cache/mmsearch. It holds the ONNX Runtime
// library installed by set-up and downloaded sample data.
func CacheDir(getenv func(string) string) string {
	if getenv == nil {
		getenv = os.Getenv
	}
	if d := getenv("MMSEARCH_CACHE_DIR"); d != "" {
		return d
	}
	if d := getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "mmsearch")
	}
	home := getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return filepath.Join(home, ".cache", "mmsearch")
}

// cachedLibraryPath is where scripts/setup-onnxruntime.sh puts the library.
func cachedLibraryPath(getenv func(string) string) (string, error) {
	plat, err := cachePlatform()
	if err != nil {
		return "", err
	}
	return filepath.Join(CacheDir(getenv), "onnxruntime", ORTVersion, plat, "libonnxruntime.so"), nil
}

// GPULibraryPath is where `scripts/setup-onnxruntime.sh --gpu` puts the
// ONNX Runtime library that has the CUDA provider beside it.
func GPULibraryPath(getenv func(string) string) (string, error) {
	if runtime.GOOS+"/"+runtime.GOARCH != "linux/amd64" {
		return "", fmt.Errorf("%w: the GPU build of ONNX Runtime is installed for linux/amd64 only; set %s to a CUDA build for %s/%s", ErrNoCUDA, LibraryEnv, runtime.GOOS, runtime.GOARCH)
	}
	return filepath.Join(CacheDir(getenv), "onnxruntime", GPUORTVersion+"-cuda", "linux-x64", "libonnxruntime.so"), nil
}

// cachePlatform names the platform folder of the set-up cache.
func cachePlatform() (string, error) {
	var plat string
	switch runtime.GOOS + "/" + runtime.GOARCH {
	case "linux/amd64":
		plat = "linux-x64"
	case "linux/arm64":
		plat = "linux-arm64"
	default:
		return "", fmt.Errorf("%w: no bundled library for %s/%s; set %s", ErrNoLibrary, runtime.GOOS, runtime.GOARCH, LibraryEnv)
	}
	return plat, nil
}

// FindLibrary resolves the ONNX Runtime shared library: the explicit path if
// given, then $ONNXRUNTIME_SHARED_LIBRARY_PATH, then the set-up cache. It
// returns an error wrapping ErrNoLibrary that names what was tried.
func FindLibrary(explicit string, getenv func(string) string) (string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if explicit != "" {
		if _, err := os.Stat(explicit); err != nil {
			return "", fmt.Errorf("%w: --ort-library %s: %v", ErrNoLibrary, explicit, err)
		}
		return explicit, nil
	}
	if p := getenv(LibraryEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%w: %s=%s: %v", ErrNoLibrary, LibraryEnv, p, err)
		}
		return p, nil
	}
	p, err := cachedLibraryPath(getenv)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%w (looked in %s)", ErrNoLibrary, p)
	}
	return p, nil
}

// FindLibraryFor is FindLibrary for sessions on device. With no explicit
// library and no $ONNXRUNTIME_SHARED_LIBRARY_PATH, DeviceCUDA needs the GPU
// build that `make setup-gpu` installs (an error wrapping ErrNoCUDA names that
// step when it is missing), DeviceAuto takes it when it is there and the CPU
// build otherwise (and also where that build's CUDA provider cannot load:
// no driver, CUDA or cuDNN), and DeviceCPU takes the CPU build.
func FindLibraryFor(device, explicit string, getenv func(string) string) (string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	d, err := ParseDevice(device)
	if err != nil {
		return "", err
	}
	if d == DeviceCPU || explicit != "" || getenv(LibraryEnv) != "" {
		return FindLibrary(explicit, getenv)
	}
	gpu, gerr := GPULibraryPath(getenv)
	if gerr == nil {
		if _, err := os.Stat(gpu); err != nil {
			gerr = fmt.Errorf("%w: the GPU build of ONNX Runtime %s is not installed (looked for %s); run 'make setup-gpu' (scripts/setup-onnxruntime.sh --gpu), or use --device cpu", ErrNoCUDA, GPUORTVersion, gpu)
		}
	}
	if d == DeviceCUDA {
		if gerr != nil {
			return "", gerr
		}
		return gpu, nil
	}
	// DeviceAuto: the GPU build only where its CUDA provider can load, so
	// that a machine without CUDA computes exactly what --device cpu does.
	if gerr == nil && probeLibrary(filepath.Join(filepath.Dir(gpu), CUDAProviderLibrary)) == nil {
		return gpu, nil
	}
	return FindLibrary("", getenv)
}

// RuntimeOptions configures the process-wide ONNX Runtime environment.
type RuntimeOptions struct {
	// LibraryPath overrides the library search of FindLibraryFor.
	LibraryPath string
	// Device picks the library when LibraryPath and the environment name none:
	// the GPU build for DeviceCUDA and (when installed) DeviceAuto.
	Device string
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
}

// RuntimeInfo describes the started environment.
type RuntimeInfo struct {
	LibraryPath string // the shared library in use
	Version     string // ONNX Runtime's own version string
}

// The ONNX Runtime environment is process-wide by ONNX Runtime's design; it is
// the only global state of mmsearch. It is started once and kept until exit.
var (
	envMu   sync.Mutex
	envInfo *RuntimeInfo
)

// StartRuntime starts the ONNX Runtime environment, once per process. Later
// calls return the running environment's description; a later call naming a
// different library is refused, since one process can load only one.
func StartRuntime(opts RuntimeOptions) (RuntimeInfo, error) {
	envMu.Lock()
	defer envMu.Unlock()
	if envInfo != nil {
		if opts.LibraryPath != "" && opts.LibraryPath != envInfo.LibraryPath {
			return *envInfo, fmt.Errorf("ONNX Runtime already started with %s, cannot switch to %s", envInfo.LibraryPath, opts.LibraryPath)
		}
		return *envInfo, nil
	}
	lib, err := FindLibraryFor(opts.Device, opts.LibraryPath, opts.Getenv)
	if err != nil {
		return RuntimeInfo{}, err
	}
	ort.SetSharedLibraryPath(lib)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return RuntimeInfo{}, fmt.Errorf("start ONNX Runtime from %s: %w", lib, err)
	}
	envInfo = &RuntimeInfo{LibraryPath: lib, Version: ort.GetVersion()}
	return *envInfo, nil
}

// Running describes the started environment, and false when ONNX Runtime
// has not been started in this process.
func Running() (RuntimeInfo, bool) {
	envMu.Lock()
	defer envMu.Unlock()
	if envInfo == nil {
		return RuntimeInfo{}, false
	}
	return *envInfo, true
}

// RunningVersion is the version of the ONNX Runtime library this process
// started (the library's own answer), or ORTVersion, the one `make setup`
// installs, when none is started yet.
func RunningVersion() string {
	if info, ok := Running(); ok && info.Version != "" {
		return info.Version
	}
	return ORTVersion
}

// GPUStatus reports whether sessions could run on DeviceCUDA through the GPU
// build that `make setup-gpu` installs: its library path and nil when its
// CUDA provider loads (the NVIDIA driver, CUDA and cuDNN are there), else an
// error wrapping ErrNoCUDA that says what is missing. It starts nothing.
func GPUStatus(getenv func(string) string) (string, error) {
	lib, err := FindLibraryFor(DeviceCUDA, "", func(k string) string {
		if k == LibraryEnv {
			return "" // the set-up's GPU build, whatever the environment names
		}
		if getenv == nil {
			return os.Getenv(k)
		}
		return getenv(k)
	})
	if err != nil {
		return "", err
	}
	provider := filepath.Join(filepath.Dir(lib), CUDAProviderLibrary)
	if err := probeLibrary(provider); err != nil {
		return lib, fmt.Errorf("%w: %s cannot be loaded: %v", ErrNoCUDA, provider, err)
	}
	return lib, nil
}
