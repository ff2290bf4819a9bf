package encoders

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DefaultModel is the name of the model bundled with mmsearch.
const DefaultModel = "emoji-clip"

// ErrModelNotFound is returned when a model name resolves to no folder.
var ErrModelNotFound = errors.New("model not found")

// DataDir is the mmsearch data folder: $MMSEARCH_DATA_DIR, else
// $XDG_DATA_HOME/mmsearch, else ~/.local/share/mmsearch. Libraries and
// downloaded models live there.
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

// ModelSearchPath lists the folders searched for a model by name, in order:
// the user's installed models (DataDir/models), then bundled models beside
// the executable (../onnx-models, ../share/mmsearch/models) and in the
// current folder (./onnx-models), so a checkout's bin/mmsearch finds the
// bundled model.
func ModelSearchPath(getenv func(string) string) []string {
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

// ResolveModel turns a model name or folder into a folder holding model.json.
// A spec containing a path separator, or naming an existing folder, is a
// folder; otherwise it is a name looked up along ModelSearchPath. An empty
// spec means DefaultModel.
func ResolveModel(spec string, getenv func(string) string) (string, error) {
	if spec == "" {
		spec = DefaultModel
	}
	if strings.ContainsRune(spec, os.PathSeparator) || spec == "." || spec == ".." {
		if _, err := os.Stat(filepath.Join(spec, ManifestFile)); err != nil {
			return "", fmt.Errorf("%w: %s has no %s", ErrModelNotFound, spec, ManifestFile)
		}
		return filepath.Abs(spec)
	}
	var tried []string
	for _, d := range ModelSearchPath(getenv) {
		dir := filepath.Join(d, spec)
		if _, err := os.Stat(filepath.Join(dir, ManifestFile)); err == nil {
			return dir, nil
		}
		tried = append(tried, dir)
	}
	return "", fmt.Errorf("%w: %q (looked in %s)", ErrModelNotFound, spec, strings.Join(tried, ", "))
}
