package models

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// RegistrySchema is the registry.json schema version this package reads.
const RegistrySchema = 1

// RegistryEnv names the environment variable that overrides the registry
// location: a file path or an http(s) URL.
const RegistryEnv = "MMSEARCH_REGISTRY"

// RegistryFile is the registry's file name in a bundled-model folder.
const RegistryFile = "registry.json"

// maxRegistryBytes bounds a registry read from disk or the network.
const maxRegistryBytes = 4 << 20

// Layouts of a model folder.
const (
	LayoutHuggingFace = "huggingface" // onnx/vision_model.onnx, onnx/text_model.onnx, tokenizer.json, preprocessor_config.json, config.json
	LayoutOpenCLIP    = "openclip"    // visual/model.onnx, textual/model.onnx, config.json, tokenizer files
	LayoutMMSearch    = "mmsearch"    // a folder that already holds model.json
)

// Verify values of FileSpec.Verify.
const (
	VerifySHA256          = "sha256"             // the file must match FileSpec.SHA256
	VerifyTrustOnFirstUse = "trust-on-first-use" // no published digest: record the one received
)

var (
	// ErrRegistry marks every problem with a registry file.
	ErrRegistry = errors.New("invalid model registry")
	// ErrUnknownModel is returned when a registry has no model of a given name.
	ErrUnknownModel = errors.New("model not in registry")
	// ErrNoRegistry is returned when no registry file can be found.
	ErrNoRegistry = errors.New("no model registry found")
)

// Registry lists the models that can be downloaded.
type Registry struct {
	Schema int     `json:"schema"`
	Note   string  `json:"note,omitempty"`
	Models []Entry `json:"models"`

	// Location is where the registry was read from (set by LoadRegistry).
	Location string `json:"-"`
}

// Entry is one downloadable model.
type Entry struct {
	Name          string     `json:"name"`
	Description   string     `json:"description"`
	Layout        string     `json:"layout"`
	Dimension     int        `json:"dimension"`
	ImageSize     int        `json:"image_size"`
	ContextLength int        `json:"context_length,omitempty"`
	Homepage      string     `json:"homepage,omitempty"`
	Revision      string     `json:"revision,omitempty"`
	License       string     `json:"license,omitempty"`
	Templates     []string   `json:"templates,omitempty"`
	Files         []FileSpec `json:"files"`
	// Source cites where the entry's figures (names, sizes, digests) come from.
	Source string `json:"source"`
}

// FileSpec is one file of a downloadable model.
type FileSpec struct {
	// Path is where the file goes inside the model folder ("onnx/text_model.onnx").
	Path string `json:"path"`
	URL  string `json:"url"`
	// Size in bytes; 0 when no source gives it.
	Size int64 `json:"size,omitempty"`
	// SHA256 is the hex digest; empty when no source gives it.
	SHA256 string `json:"sha256"`
	// Verify is VerifySHA256 or VerifyTrustOnFirstUse; empty means VerifySHA256.
	Verify string `json:"verify,omitempty"`
	// Source cites where Size and SHA256 come from.
	Source string `json:"source,omitempty"`
}

// TotalSize is the sum of the known file sizes and whether every size is known.
func (e *Entry) TotalSize() (int64, bool) {
	var n int64
	all := true
	for _, f := range e.Files {
		if f.Size <= 0 {
			all = false
		}
		n += f.Size
	}
	return n, all
}

// Lookup returns the entry called name, or an error wrapping ErrUnknownModel
// that lists the registry's models.
func (r *Registry) Lookup(name string) (*Entry, error) {
	for i := range r.Models {
		if r.Models[i].Name == name {
			return &r.Models[i], nil
		}
	}
	return nil, fmt.Errorf("%w: %q (the registry %s lists: %s)", ErrUnknownModel, name, r.Location, strings.Join(r.Names(), ", "))
}

// Names lists the registry's model names, sorted.
func (r *Registry) Names() []string {
	names := make([]string, len(r.Models))
	for i, m := range r.Models {
		names[i] = m.Name
	}
	sort.Strings(names)
	return names
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// ValidName reports whether name can name a model folder: letters, digits,
// '.', '_' and '-', starting with a letter or digit, at most 100 characters.
func ValidName(name string) error {
	if !namePattern.MatchString(name) {
		return fmt.Errorf("model name %q: use letters, digits, '.', '_' and '-', starting with a letter or digit (at most 100)", name)
	}
	return nil
}

func registryErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrRegistry, fmt.Sprintf(format, args...))
}

// checkURL accepts absolute http and https URLs only.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("URL %q: %v", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("URL %q: only http and https are allowed", raw)
	}
	if u.Host == "" {
		return fmt.Errorf("URL %q has no host", raw)
	}
	return nil
}

// cleanRelPath accepts a slash-separated path inside a folder.
func cleanRelPath(p string) error {
	if p == "" {
		return errors.New("empty path")
	}
	if strings.Contains(p, `\`) || path.IsAbs(p) || path.Clean(p) != p || p == "." || strings.HasPrefix(p, "../") || p == ".." {
		return fmt.Errorf("path %q must be a clean relative path inside the model folder", p)
	}
	for _, part := range strings.Split(p, "/") {
		if strings.HasPrefix(part, ".") {
			return fmt.Errorf("path %q: no part may start with '.'", p)
		}
	}
	return nil
}

func validHexSHA(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == 32 && strings.ToLower(s) == s
}

// Validate checks the registry's consistency.
func (r *Registry) Validate() error {
	if r.Schema != RegistrySchema {
		return registryErr("schema %d not supported (want %d)", r.Schema, RegistrySchema)
	}
	seen := map[string]bool{}
	for i := range r.Models {
		e := &r.Models[i]
		if err := e.validate(); err != nil {
			return fmt.Errorf("%w: model %d (%q): %v", ErrRegistry, i+1, e.Name, err)
		}
		if seen[e.Name] {
			return registryErr("model %q is listed twice", e.Name)
		}
		seen[e.Name] = true
	}
	return nil
}

func (e *Entry) validate() error {
	if err := ValidName(e.Name); err != nil {
		return err
	}
	switch e.Layout {
	case LayoutHuggingFace, LayoutOpenCLIP, LayoutMMSearch:
	default:
		return fmt.Errorf("layout %q not supported (want %s, %s or %s)", e.Layout, LayoutHuggingFace, LayoutOpenCLIP, LayoutMMSearch)
	}
	if e.Dimension <= 0 || e.Dimension > 1<<16 {
		return fmt.Errorf("dimension %d out of range", e.Dimension)
	}
	if e.ImageSize < 8 || e.ImageSize > 4096 {
		return fmt.Errorf("image_size %d out of range", e.ImageSize)
	}
	if e.Source == "" {
		return errors.New("source (where the figures come from) is empty")
	}
	if e.Homepage != "" {
		if err := checkURL(e.Homepage); err != nil {
			return fmt.Errorf("homepage: %v", err)
		}
	}
	for _, t := range e.Templates {
		if strings.Count(t, "{}") != 1 {
			return fmt.Errorf("template %q must contain {} exactly once", t)
		}
	}
	if len(e.Files) == 0 {
		return errors.New("no files")
	}
	paths := map[string]bool{}
	for _, f := range e.Files {
		if err := cleanRelPath(f.Path); err != nil {
			return err
		}
		if paths[f.Path] {
			return fmt.Errorf("file %s is listed twice", f.Path)
		}
		paths[f.Path] = true
		if err := checkURL(f.URL); err != nil {
			return fmt.Errorf("file %s: %v", f.Path, err)
		}
		if f.Size < 0 {
			return fmt.Errorf("file %s: negative size", f.Path)
		}
		switch {
		case f.SHA256 != "" && !validHexSHA(f.SHA256):
			return fmt.Errorf("file %s: sha256 %q is not 64 lower-case hex digits", f.Path, f.SHA256)
		case f.SHA256 != "" && f.Verify != "" && f.Verify != VerifySHA256:
			return fmt.Errorf("file %s: verify %q contradicts the sha256 given", f.Path, f.Verify)
		case f.SHA256 == "" && f.Verify != VerifyTrustOnFirstUse:
			return fmt.Errorf("file %s: no sha256; say \"verify\": %q to accept the digest received on first download", f.Path, VerifyTrustOnFirstUse)
		}
	}
	return nil
}

// ParseRegistry reads and validates a registry from r; location names it in
// errors and Registry.Location.
func ParseRegistry(r io.Reader, location string) (*Registry, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxRegistryBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read registry %s: %w", location, err)
	}
	if len(data) > maxRegistryBytes {
		return nil, registryErr("%s is larger than %d bytes", location, maxRegistryBytes)
	}
	var reg Registry
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&reg); err != nil {
		return nil, registryErr("%s: %v", location, err)
	}
	if err := reg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", location, err)
	}
	reg.Location = location
	return &reg, nil
}

// LoadRegistry reads a registry from a file path or an http(s) URL. client
// fetches URLs (nil: NewHTTPClient()).
func LoadRegistry(ctx context.Context, src string, client *http.Client) (*Registry, error) {
	if strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") {
		if err := checkURL(src); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrRegistry, err)
		}
		if client == nil {
			client = NewHTTPClient()
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
		if err != nil {
			return nil, fmt.Errorf("registry %s: %w", src, err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("registry %s: %w", src, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("registry %s: HTTP %s", src, resp.Status)
		}
		return ParseRegistry(resp.Body, src)
	}
	f, err := os.Open(src)
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	defer f.Close()
	return ParseRegistry(f, src)
}

// RegistrySearchPath lists the files FindRegistry tries after the flag and
// the environment: registry.json beside the executable's bundled models
// (../onnx-models, ../share/mmsearch) and in ./onnx-models.
func RegistrySearchPath() []string {
	var paths []string
	if exe, err := os.Executable(); err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			base := filepath.Dir(filepath.Dir(exe))
			paths = append(paths, filepath.Join(base, "onnx-models", RegistryFile), filepath.Join(base, "share", "mmsearch", RegistryFile))
		}
	}
	if wd, err := os.Getwd(); err == nil {
		paths = append(paths, filepath.Join(wd, "onnx-models", RegistryFile))
	}
	return paths
}

// FindRegistry returns the registry location to load: explicit if given,
// else $MMSEARCH_REGISTRY, else the first file of RegistrySearchPath that
// exists. getenv nil means os.Getenv.
func FindRegistry(explicit string, getenv func(string) string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	if v := getenv(RegistryEnv); v != "" {
		return v, nil
	}
	tried := RegistrySearchPath()
	for _, p := range tried {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: pass --registry FILE or set %s (looked in %s)", ErrNoRegistry, RegistryEnv, strings.Join(tried, ", "))
}
