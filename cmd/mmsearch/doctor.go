package main

import (
	"context"
	"flag"
	"fmt"
	"runtime"

	"mmsearch/bench"
	"mmsearch/encoders"
	"mmsearch/engine"
	"mmsearch/models"
)

// runtimeFlags are the ONNX Runtime flags shared by commands that run models.
type runtimeFlags struct {
	ortLibrary string
	threads    int
	model      string
	// device is the --device value of the commands that offer one ("" = cpu);
	// it also picks the ONNX Runtime build (the GPU build for cuda and auto).
	device string
}

func (r *runtimeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&r.ortLibrary, "ort-library", "", "ONNX Runtime shared library (default: $"+encoders.LibraryEnv+", then the set-up cache)")
	fs.StringVar(&r.model, "model", "", "model name or folder (default: the one set by 'models use', else "+models.BundledModel+")")
}

// registerThreads adds --threads, for the commands that run inferences.
func (r *runtimeFlags) registerThreads(fs *flag.FlagSet) {
	countVar(fs, &r.threads, "threads", 0, maxThreads, "threads per inference (0 = all cores)")
}

func (r *runtimeFlags) runtimeOptions(e *env) encoders.RuntimeOptions {
	return encoders.RuntimeOptions{LibraryPath: r.ortLibrary, Device: r.device, Getenv: e.getenv}
}

// openModel resolves the selected model (models.Resolver.Resolve: --model,
// else the default set by 'models use', else the bundled model) and opens it
// (checking its verification stamp), starting ONNX Runtime.
func (r *runtimeFlags) openModel(e *env) (*encoders.Model, error) {
	res, err := r.resolveModel(e)
	if err != nil {
		return nil, err
	}
	m, _, err := models.Open(res.Dir, models.OpenOptions{Runtime: r.runtimeOptions(e), Getenv: e.getenv})
	return m, err
}

// resolveModel walks the resolve chain for a command without a library.
func (r *runtimeFlags) resolveModel(e *env) (models.Resolved, error) {
	return e.models().Resolve(models.Request{Flag: r.model})
}

type doctorReport struct {
	Version       string          `json:"version"`
	Machine       bench.Machine   `json:"machine"`
	ORTLibrary    string          `json:"ort_library,omitempty"`
	ORTVersion    string          `json:"ort_version,omitempty"`
	ORTError      string          `json:"ort_error,omitempty"`
	Threads       int             `json:"threads"`
	Model         string          `json:"model,omitempty"`
	ModelDir      string          `json:"model_dir,omitempty"`
	ModelSource   models.Source   `json:"model_source,omitempty"`
	ModelDim      int             `json:"model_dim,omitempty"`
	ModelStamp    string          `json:"model_stamp,omitempty"`
	ModelError    string          `json:"model_error,omitempty"`
	ModelSearch   []string        `json:"model_search_path"`
	EmbeddedModel bool            `json:"embedded_model"`
	DataDir       string          `json:"data_dir"`
	GPULibrary    string          `json:"gpu_library,omitempty"`
	GPUError      string          `json:"gpu_error,omitempty"`
	Checks        map[string]bool `json:"checks"`
	// Remote is the library's remote index compared with its store
	// (doctor --library DIR, for a library with --index).
	Remote *engine.MirrorState `json:"remote_index,omitempty"`
}

func doctorCommand() *command {
	var rf runtimeFlags
	var asJSON bool
	var library string
	var rem remoteFlags
	return &command{
		name:    "doctor",
		summary: "check the ONNX Runtime library, the machine, a model folder and a library's remote index",
		usage:   "[--model NAME|DIR] [--library DIR] [--json]",
		setFlags: func(fs *flag.FlagSet) {
			rf.register(fs)
			rf.registerThreads(fs)
			fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
			fs.StringVar(&library, "library", "", "also compare this library's remote index (--index) with its store: counts and a sample of vectors")
			rem.register(fs)
		},
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			if len(args) > 0 {
				return usagef("doctor takes no arguments")
			}
			rep := doctorReport{
				Version:       version,
				Machine:       bench.DescribeMachine(),
				Threads:       rf.threads,
				ModelSearch:   models.SearchPath(e.getenv),
				EmbeddedModel: e.bundle != nil,
				DataDir:       models.DataDir(e.getenv),
				Checks:        map[string]bool{},
			}
			if rep.Threads == 0 {
				rep.Threads = runtime.GOMAXPROCS(0)
			}
			info, err := encoders.StartRuntime(rf.runtimeOptions(e))
			if err != nil {
				rep.ORTError = err.Error()
			} else {
				rep.ORTLibrary, rep.ORTVersion = info.LibraryPath, info.Version
			}
			rep.Checks["onnxruntime"] = err == nil
			// The GPU is informational: --device cpu needs none of it.
			if lib, gerr := encoders.GPUStatus(e.getenv); gerr != nil {
				rep.GPULibrary, rep.GPUError = lib, gerr.Error()
			} else {
				rep.GPULibrary = lib
			}
			// Where the model is, even when ONNX Runtime is missing; the
			// full check (digests and graphs) needs the runtime.
			res, modelErr := rf.resolveModel(e)
			if modelErr == nil {
				rep.ModelDir, rep.ModelSource = res.Dir, res.Source
				if err == nil {
					// Doctor always verifies in full (and renews the stamp).
					m, verr := models.VerifyFolder(res.Dir, rf.runtimeOptions(e), e.getenv, nil)
					modelErr = verr
					if verr == nil {
						rep.Model = m.Name + " " + m.Version
						rep.ModelDim = m.EmbeddingDim
						rep.ModelStamp = models.StampPath(res.Dir, e.getenv)
					}
				}
			}
			if modelErr != nil {
				rep.ModelError = modelErr.Error()
			}
			if err == nil {
				rep.Checks["model"] = modelErr == nil
			}
			var libErr error
			if library != "" && err == nil && modelErr == nil {
				lf := libraryFlags{runtimeFlags: rf, library: library, remote: rem}
				rep.Remote, libErr = checkLibraryMirror(ctx, e, &lf)
				rep.Checks["remote-index"] = libErr == nil && mirrorErr(rep.Remote) == nil
			}
			if asJSON {
				if err := printJSON(e.stdout, rep); err != nil {
					return err
				}
			} else {
				printDoctor(e, rep)
				printMirror(e.stdout, rep.Remote)
			}
			if err != nil {
				return err
			}
			if modelErr != nil {
				return modelErr
			}
			if libErr != nil {
				return libErr
			}
			return mirrorErr(rep.Remote)
		},
	}
}

func printDoctor(e *env, r doctorReport) {
	ok := func(b bool) string {
		if b {
			return "ok  "
		}
		return "FAIL"
	}
	w := e.stdout
	fmt.Fprintf(w, "mmsearch     %s\n", r.Version)
	fmt.Fprintf(w, "machine      %s\n", r.Machine)
	fmt.Fprintf(w, "threads      %d per inference\n", r.Threads)
	fmt.Fprintf(w, "data folder  %s\n", r.DataDir)
	if r.GPUError != "" {
		fmt.Fprintf(w, "gpu          not usable (--device auto runs on the CPU): %s\n", r.GPUError)
	} else {
		fmt.Fprintf(w, "gpu          CUDA provider loads (%s)\n", r.GPULibrary)
	}
	if r.ORTError != "" {
		fmt.Fprintf(w, "[%s] onnxruntime: %s\n", ok(false), r.ORTError)
		if r.ModelDir != "" {
			fmt.Fprintf(w, "       model folder %s (chosen by: %s), not checked without ONNX Runtime\n", r.ModelDir, r.ModelSource)
		}
		return
	}
	fmt.Fprintf(w, "[%s] onnxruntime %s (%s)\n", ok(true), r.ORTVersion, r.ORTLibrary)
	if r.ModelError != "" {
		fmt.Fprintf(w, "[%s] model: %s\n", ok(false), r.ModelError)
	} else {
		fmt.Fprintf(w, "[%s] model %s, dim %d: digests and graphs match the manifest\n", ok(true), r.Model, r.ModelDim)
		fmt.Fprintf(w, "       folder %s (chosen by: %s)\n", r.ModelDir, r.ModelSource)
		fmt.Fprintf(w, "       stamp  %s\n", r.ModelStamp)
	}
}

// checkLibraryMirror opens the library and compares its remote index with
// its store; a library without one gives nil.
func checkLibraryMirror(ctx context.Context, e *env, lf *libraryFlags) (*engine.MirrorState, error) {
	lib, err := lf.openExisting(ctx, e)
	if err != nil {
		return nil, err
	}
	defer lib.Close()
	if lf.resolved == nil {
		return nil, nil
	}
	ms, err := lib.CheckMirror(ctx, engine.DefaultMirrorSample)
	if err != nil {
		return nil, err
	}
	return &ms, nil
}
