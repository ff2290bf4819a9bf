package main

import (
	"context"
	"flag"
	"fmt"
	"runtime"

	"mmsearch/bench"
	"mmsearch/encoders"
	"mmsearch/encoders/modelhub"
)

// runtimeFlags are the ONNX Runtime flags shared by commands that run models.
type runtimeFlags struct {
	ortLibrary string
	threads    int
	model      string
}

func (r *runtimeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&r.ortLibrary, "ort-library", "", "ONNX Runtime shared library (default: $"+encoders.LibraryEnv+", then the set-up cache)")
	fs.IntVar(&r.threads, "threads", 0, "threads per inference (0 = all cores)")
	fs.StringVar(&r.model, "model", "", "model name or folder (default "+encoders.DefaultModel+")")
}

func (r *runtimeFlags) runtimeOptions(e *env) encoders.RuntimeOptions {
	return encoders.RuntimeOptions{LibraryPath: r.ortLibrary, Getenv: e.getenv}
}

// openModel resolves and opens the selected model, starting ONNX Runtime.
func (r *runtimeFlags) openModel(e *env) (*encoders.Model, error) {
	dir, err := r.modelDir(e)
	if err != nil {
		return nil, err
	}
	return encoders.OpenModel(dir, r.runtimeOptions(e))
}

// modelDir resolves --model, else the default set by 'models use', else the
// bundled model.
func (r *runtimeFlags) modelDir(e *env) (string, error) {
	spec := r.model
	if spec == "" {
		def, err := modelhub.DefaultModel(e.getenv)
		if err != nil {
			return "", err
		}
		spec = def
	}
	return encoders.ResolveModel(spec, e.getenv)
}

type doctorReport struct {
	Version     string          `json:"version"`
	Machine     bench.Machine   `json:"machine"`
	ORTLibrary  string          `json:"ort_library,omitempty"`
	ORTVersion  string          `json:"ort_version,omitempty"`
	ORTError    string          `json:"ort_error,omitempty"`
	Threads     int             `json:"threads"`
	Model       string          `json:"model,omitempty"`
	ModelDir    string          `json:"model_dir,omitempty"`
	ModelDim    int             `json:"model_dim,omitempty"`
	ModelError  string          `json:"model_error,omitempty"`
	ModelSearch []string        `json:"model_search_path"`
	Checks      map[string]bool `json:"checks"`
}

func doctorCommand() *command {
	var rf runtimeFlags
	var asJSON bool
	return &command{
		name:    "doctor",
		summary: "check the ONNX Runtime library, the machine and a model folder",
		usage:   "[--model NAME|DIR] [--json]",
		setFlags: func(fs *flag.FlagSet) {
			rf.register(fs)
			fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
		},
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			if len(args) > 0 {
				return usagef("doctor takes no arguments")
			}
			rep := doctorReport{
				Version:     version,
				Machine:     bench.DescribeMachine(),
				Threads:     rf.threads,
				ModelSearch: encoders.ModelSearchPath(e.getenv),
				Checks:      map[string]bool{},
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
			var modelErr error
			if err == nil {
				dir, rerr := rf.modelDir(e)
				modelErr = rerr
				if rerr == nil {
					rep.ModelDir = dir
					m, oerr := encoders.OpenModel(dir, rf.runtimeOptions(e))
					modelErr = oerr
					if oerr == nil {
						rep.Model = m.Manifest.Name + " " + m.Manifest.Version
						rep.ModelDim = m.Dim()
					}
				}
				if modelErr != nil {
					rep.ModelError = modelErr.Error()
				}
				rep.Checks["model"] = modelErr == nil
			}
			if asJSON {
				if err := printJSON(e.stdout, rep); err != nil {
					return err
				}
			} else {
				printDoctor(e, rep)
			}
			if err != nil {
				return err
			}
			return modelErr
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
	if r.ORTError != "" {
		fmt.Fprintf(w, "[%s] onnxruntime: %s\n", ok(false), r.ORTError)
		return
	}
	fmt.Fprintf(w, "[%s] onnxruntime %s (%s)\n", ok(true), r.ORTVersion, r.ORTLibrary)
	if r.ModelError != "" {
		fmt.Fprintf(w, "[%s] model: %s\n", ok(false), r.ModelError)
	} else {
		fmt.Fprintf(w, "[%s] model %s, dim %d (%s): digests and graphs match the manifest\n", ok(true), r.Model, r.ModelDim, r.ModelDir)
	}
}
