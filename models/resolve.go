package models

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"mmsearch/encoders"
)

// BundledModel is the name of the model bundled with mmsearch
// (onnx-models/emoji-clip, also embedded in the binary).
const BundledModel = "emoji-clip"

// ErrModelNotFound is returned when a model name resolves to no folder.
var ErrModelNotFound = errors.New("model not found")

// DataDir is the mmsearch data folder: $MMSEARCH_DATA_DIR, else
// $XDG_DATA_HOME/mmsearch, else ~/.local/share/mmsearch. Libraries, installed
// models and the unpacked bundled model live there.
func DataDir(getenv func(string) string) string {
	if getenv == nil {
		getenv = os.Getenv
	}
	if d := getenv("MMSEARCH_DATA_DIR"); d != "" {
		return d
	}
	if d := getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "mmsearch")
	}
	home := getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return filepath.Join(home, ".local", "share", "mmsearch")
}

// CacheDir is the mmsearch cache folder (encoders.CacheDir): the ONNX Runtime
// library installed by set-up, sample data and the models' verification stamps.
func CacheDir(getenv func(string) string) string { return encoders.CacheDir(getenv) }

// GraphCacheDir is where sessions keep each tower's optimized graph
// (encoders.SessionOptions.GraphCache): CacheDir/graphs.
func GraphCacheDir(getenv func(string) string) string {
	return filepath.Join(CacheDir(getenv), "graphs")
}

// SearchPath lists the folders searched for a model by name, in order: the
// user's installed models (DataDir/models), then bundled models beside the
// executable (../onnx-models, ../share/mmsearch/models) and in the current
// folder (./onnx-models), so a checkout's bin/mmsearch finds the bundled
// model without unpacking the embedded copy.
func SearchPath(getenv func(string) string) []string {
	dirs := []string{filepath.Join(DataDir(getenv), "models")}
	if exe, err := os.Executable(); err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			base := filepath.Dir(filepath.Dir(exe))
			dirs = append(dirs, filepath.Join(base, "onnx-models"), filepath.Join(base, "share", "mmsearch", "models"))
		}
	}
	if wd, err := os.Getwd(); err == nil {
		dirs = append(dirs, filepath.Join(wd, "onnx-models"))
	}
	return dirs
}

// Source says which step of the resolve chain chose a model.
type Source string

// The steps of the resolve chain, in order.
const (
	FromFlag    Source = "flag"    // --model
	FromLibrary Source = "library" // the model a library was made with
	FromConfig  Source = "config"  // the default set by 'mmsearch models use'
	FromBundled Source = "bundled" // the bundled model
)

// Request is what a caller knows when it needs a model.
type Request struct {
	// Flag is the model the user named (--model): a name or a folder.
	Flag string
	// Library is the name of the model an existing library was made with
	// ("" for a new library or none).
	Library string
	// LibraryHint is the folder the library's model was last found in; it
	// finds a model given by path again.
	LibraryHint string
}

// Resolved is the outcome of Resolve.
type Resolved struct {
	Dir    string `json:"dir"`    // absolute folder holding model.json
	Source Source `json:"source"` // the step that chose it
	Spec   string `json:"spec"`   // the name or folder that step named
}

// Resolver decides which model a command uses. Its zero value reads the
// process environment and has no embedded model.
type Resolver struct {
	// Getenv reads the environment (nil = os.Getenv).
	Getenv func(string) string
	// DataDir overrides the data folder (empty = DataDir(Getenv)).
	DataDir string
	// Bundle is the bundled model's folder embedded in the binary (nil =
	// none). When BundledModel is found nowhere along SearchPath it is
	// unpacked once, verified, into DataDir/bundled (see Unpack).
	Bundle fs.FS
}

func (r Resolver) dataDir() string {
	if r.DataDir != "" {
		return r.DataDir
	}
	return DataDir(r.getenv())
}

// searchPath is SearchPath with the resolver's data folder first.
func (r Resolver) searchPath() []string {
	dirs := SearchPath(r.getenv())
	dirs[0] = filepath.Join(r.dataDir(), "models")
	return dirs
}

func (r Resolver) getenv() func(string) string {
	if r.Getenv != nil {
		return r.Getenv
	}
	return os.Getenv
}

// Resolve walks the resolve chain: the flag, else the library's model, else
// the default set by 'models use', else the bundled model. A step that names
// a model which cannot be found is an error wrapping ErrModelNotFound; later
// steps are not tried, so a typo never silently falls back to another model.
func (r Resolver) Resolve(req Request) (Resolved, error) {
	if req.Flag != "" {
		dir, err := r.Lookup(req.Flag)
		return Resolved{Dir: dir, Source: FromFlag, Spec: req.Flag}, err
	}
	if req.Library != "" {
		dir, err := r.Lookup(req.Library)
		if err != nil && req.LibraryHint != "" {
			if d, herr := r.Lookup(req.LibraryHint); herr == nil {
				return Resolved{Dir: d, Source: FromLibrary, Spec: req.LibraryHint}, nil
			}
		}
		if err != nil {
			return Resolved{}, fmt.Errorf("the library was made with model %s, which is not installed: %w", req.Library, err)
		}
		return Resolved{Dir: dir, Source: FromLibrary, Spec: req.Library}, nil
	}
	def, err := (&Hub{DataDir: r.dataDir()}).Default()
	if err != nil {
		return Resolved{}, err
	}
	if def != "" {
		dir, err := r.Lookup(def)
		if err != nil {
			return Resolved{}, fmt.Errorf("default model (set by 'mmsearch models use'): %w", err)
		}
		return Resolved{Dir: dir, Source: FromConfig, Spec: def}, nil
	}
	dir, err := r.Lookup(BundledModel)
	return Resolved{Dir: dir, Source: FromBundled, Spec: BundledModel}, err
}

// Lookup turns one model name or folder into an absolute folder holding
// model.json. A spec containing a path separator, or "." or "..", is a
// folder; otherwise it is a name looked up along SearchPath, and
// BundledModel falls back to the embedded copy.
func (r Resolver) Lookup(spec string) (string, error) {
	if spec == "" {
		return "", fmt.Errorf("%w: no model name given", ErrModelNotFound)
	}
	if strings.ContainsRune(spec, os.PathSeparator) || spec == "." || spec == ".." {
		if _, err := os.Stat(filepath.Join(spec, encoders.ManifestFile)); err != nil {
			return "", fmt.Errorf("%w: %s has no %s", ErrModelNotFound, spec, encoders.ManifestFile)
		}
		return filepath.Abs(spec)
	}
	var tried []string
	for _, d := range r.searchPath() {
		dir := filepath.Join(d, spec)
		if _, err := os.Stat(filepath.Join(dir, encoders.ManifestFile)); err == nil {
			return dir, nil
		}
		tried = append(tried, dir)
	}
	if spec == BundledModel && r.Bundle != nil {
		dir, err := Unpack(r.Bundle, filepath.Join(r.dataDir(), BundledDir))
		if err != nil {
			return "", fmt.Errorf("%w: %q: the embedded copy: %w", ErrModelNotFound, spec, err)
		}
		return dir, nil
	}
	return "", fmt.Errorf("%w: %q (looked in %s)", ErrModelNotFound, spec, strings.Join(tried, ", "))
}
