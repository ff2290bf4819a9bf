package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"mmsearch/encoders"
)

// ConfigFile is the data folder's settings file; it records the default model.
const ConfigFile = "config.json"

// Status values of ModelInfo.Status.
const (
	StatusInstalled = "installed" // in DataDir/models
	StatusBundled   = "bundled"   // in a bundled-model folder (onnx-models)
	StatusAvailable = "available" // in the registry, not installed
)

// ModelInfo describes an installed or downloadable model.
type ModelInfo struct {
	Name          string             `json:"name"`
	Status        string             `json:"status"`
	Default       bool               `json:"default"`
	Dir           string             `json:"dir,omitempty"`
	Link          string             `json:"link,omitempty"` // where DataDir/models/NAME points (in-place imports)
	Description   string             `json:"description,omitempty"`
	Version       string             `json:"version,omitempty"`
	Layout        string             `json:"layout,omitempty"`
	EmbeddingDim  int                `json:"embedding_dim,omitempty"`
	ImageSize     int                `json:"image_size,omitempty"`
	ContextLength int                `json:"context_length,omitempty"`
	Pooling       string             `json:"pooling,omitempty"`
	Fingerprint   string             `json:"fingerprint,omitempty"`
	Bytes         int64              `json:"bytes,omitempty"`      // on disk, or the registry's known total
	Error         string             `json:"error,omitempty"`      // why an installed folder cannot be read
	Manifest      *encoders.Manifest `json:"manifest,omitempty"`   // Info only
	Provenance    *Provenance        `json:"provenance,omitempty"` // Info only
	Registry      *Entry             `json:"registry,omitempty"`
}

// List describes the installed and bundled models along the model search
// path (the first folder of a name wins, as in Resolver.Lookup) and,
// when reg is not nil, the registry's models that are not installed. The
// list is sorted by name; the default model is marked.
func (h *Hub) List(reg *Registry) ([]ModelInfo, error) {
	def, err := h.Default()
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []ModelInfo
	for i, root := range h.searchPath() {
		ents, err := os.ReadDir(root)
		if err != nil {
			continue
		}
		for _, de := range ents {
			name := de.Name()
			if strings.HasPrefix(name, ".") || seen[name] {
				continue
			}
			dir := filepath.Join(root, name)
			if !isFile(filepath.Join(dir, encoders.ManifestFile)) {
				continue
			}
			seen[name] = true
			info := describeDir(name, dir)
			info.Status = StatusBundled
			if i == 0 {
				info.Status = StatusInstalled
			}
			info.Default = name == def
			out = append(out, info)
		}
	}
	if !seen[BundledModel] && h.Bundle != nil {
		// The embedded copy, unpacked on first use (here, if not before).
		if dir, err := h.resolver().Lookup(BundledModel); err == nil {
			seen[BundledModel] = true
			info := describeDir(BundledModel, dir)
			info.Status = StatusBundled
			info.Default = BundledModel == def
			out = append(out, info)
		}
	}
	if reg != nil {
		for i := range reg.Models {
			e := &reg.Models[i]
			if seen[e.Name] {
				for j := range out {
					if out[j].Name == e.Name {
						out[j].Registry = e
					}
				}
				continue
			}
			total, _ := e.TotalSize()
			out = append(out, ModelInfo{Name: e.Name, Status: StatusAvailable, Default: e.Name == def, Description: e.Description,
				Layout: e.Layout, EmbeddingDim: e.Dimension, ImageSize: e.ImageSize, ContextLength: e.ContextLength, Bytes: total, Registry: e})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// resolver is the hub's view of the resolve chain: its data folder, its
// environment and its embedded bundled model.
func (h *Hub) resolver() Resolver {
	return Resolver{Getenv: h.getenv(), DataDir: h.DataDir, Bundle: h.Bundle}
}

// searchPath is SearchPath with the hub's data folder first.
func (h *Hub) searchPath() []string { return h.resolver().searchPath() }

// describeDir reads what it can of a model folder; problems go to Error.
func describeDir(name, dir string) ModelInfo {
	info := ModelInfo{Name: name, Dir: dir}
	if target, err := os.Readlink(dir); err == nil {
		info.Link = target
	}
	m, err := encoders.ReadManifest(dir)
	if err != nil {
		info.Error = err.Error()
		return info
	}
	info.Description, info.Version = m.Description, m.Version
	info.EmbeddingDim, info.ImageSize = m.EmbeddingDim, m.Image.Size
	info.ContextLength, info.Pooling = m.Text.ContextLength, m.Text.Pooling
	info.Fingerprint = m.Fingerprint()
	if m.Source != nil {
		info.Layout = m.Source.Layout
	}
	root := dir
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		root = real
	}
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				info.Bytes += fi.Size()
			}
		}
		return nil
	})
	return info
}

// Info describes the model name (or folder), with its manifest and, when it
// was pulled or imported, its provenance. reg may be nil.
func (h *Hub) Info(name string, reg *Registry) (*ModelInfo, error) {
	dir, err := h.resolve(name)
	if err != nil {
		if reg != nil {
			if e, lerr := reg.Lookup(name); lerr == nil {
				def, _ := h.Default()
				total, _ := e.TotalSize()
				return &ModelInfo{Name: e.Name, Status: StatusAvailable, Default: e.Name == def, Description: e.Description, Layout: e.Layout,
					EmbeddingDim: e.Dimension, ImageSize: e.ImageSize, ContextLength: e.ContextLength, Bytes: total, Registry: e}, nil
			}
		}
		return nil, err
	}
	base := filepath.Base(dir)
	info := describeDir(base, dir)
	info.Status = StatusBundled
	if filepath.Dir(dir) == h.ModelsDir() {
		info.Status = StatusInstalled
	}
	if def, err := h.Default(); err == nil {
		info.Default = base == def || dir == def
	}
	if m, err := encoders.ReadManifest(dir); err == nil {
		info.Manifest = m
	}
	if p, err := readProvenance(dir); err != nil {
		info.Error = strings.TrimSpace(info.Error + " " + err.Error())
	} else {
		info.Provenance = p
	}
	if reg != nil {
		if e, err := reg.Lookup(base); err == nil {
			info.Registry = e
		}
	}
	return &info, nil
}

// resolve finds a model folder by name (hub data folder first) or path.
func (h *Hub) resolve(name string) (string, error) { return h.resolver().Lookup(name) }

// FileCheck is one file's result in a VerifyReport.
type FileCheck struct {
	Path     string `json:"path"`
	SHA256   string `json:"sha256"`
	Want     string `json:"want"`
	Checksum string `json:"checksum"` // how Want was obtained (ProvenanceFile.Checksum); "manifest" for towers without provenance
	OK       bool   `json:"ok"`
	Error    string `json:"error,omitempty"`
}

// VerifyReport is the outcome of Verify.
type VerifyReport struct {
	Name     string      `json:"name"`
	Dir      string      `json:"dir"`
	Files    []FileCheck `json:"files"`
	GraphsOK bool        `json:"graphs_ok"`
	OK       bool        `json:"ok"`
}

// Verify re-hashes a model's files against its manifest (and against
// provenance.json, which also covers tokenizer and configuration files), and
// checks both graphs against the manifest (starting ONNX Runtime). The report
// lists every check; the error is non-nil when any failed (wrapping
// ErrChecksum for a digest mismatch, encoders.ErrGraph for a graph mismatch).
func (h *Hub) Verify(ctx context.Context, name string) (*VerifyReport, error) {
	dir, err := h.resolve(name)
	if err != nil {
		return nil, err
	}
	m, err := encoders.ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	rep := &VerifyReport{Name: m.Name, Dir: dir, OK: true}
	prov, err := readProvenance(dir)
	if err != nil {
		return nil, err
	}
	want := map[string]FileCheck{}
	var order []string
	add := func(path, sum, kind string) {
		if _, ok := want[path]; !ok {
			order = append(order, path)
		}
		want[path] = FileCheck{Path: path, Want: sum, Checksum: kind}
	}
	add(m.Image.ONNX, m.Image.SHA256, "manifest")
	add(m.Text.ONNX, m.Text.SHA256, "manifest")
	if prov != nil {
		for _, f := range prov.Files {
			if prev, ok := want[f.Path]; ok && prev.Want != f.SHA256 {
				return nil, fmt.Errorf("%w: %s: model.json and %s disagree on %s", ErrChecksum, dir, ProvenanceName, f.Path)
			}
			add(f.Path, f.SHA256, f.Checksum)
		}
	}
	var firstErr error
	for _, p := range order {
		c := want[p]
		sum, err := hashFile(ctx, filepath.Join(dir, filepath.FromSlash(p)))
		switch {
		case err != nil:
			c.Error = err.Error()
			if firstErr == nil {
				firstErr = fmt.Errorf("verify %s: %w", name, err)
			}
		case sum != c.Want:
			c.SHA256 = sum
			c.Error = "sha256 differs"
			if firstErr == nil {
				firstErr = fmt.Errorf("%w: %s: %s has sha256 %s, recorded %s", ErrChecksum, dir, p, sum, c.Want)
			}
		default:
			c.SHA256, c.OK = sum, true
		}
		rep.OK = rep.OK && c.OK
		rep.Files = append(rep.Files, c)
	}
	if _, err := encoders.StartRuntime(h.Runtime); err != nil {
		return rep, err
	}
	if err := encoders.VerifyGraphs(dir, m); err != nil {
		rep.OK = false
		if firstErr == nil {
			firstErr = fmt.Errorf("verify %s: %w", name, err)
		}
	} else {
		rep.GraphsOK = true
	}
	if firstErr == nil {
		h.stamp(dir, m)
	}
	return rep, firstErr
}

// settings is the data folder's config.json; unknown keys are kept.
type settings map[string]json.RawMessage

func (h *Hub) readSettings() (settings, error) {
	p := filepath.Join(h.DataDir, ConfigFile)
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return settings{}, nil
	}
	if err != nil {
		return nil, err
	}
	s := settings{}
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return s, nil
}

// Use records name as the default model in DataDir/config.json, after
// checking that it resolves to a readable model. A name containing a path
// separator is recorded as an absolute folder.
func (h *Hub) Use(name string) error {
	dir, err := h.resolve(name)
	if err != nil {
		return err
	}
	if _, err := encoders.ReadManifest(dir); err != nil {
		return err
	}
	value := name
	if strings.ContainsRune(name, os.PathSeparator) {
		value = dir
	}
	s, err := h.readSettings()
	if err != nil {
		return err
	}
	raw, _ := json.Marshal(value)
	s["default_model"] = raw
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(h.DataDir, 0o755); err != nil {
		return fmt.Errorf("use %s: %w", name, err)
	}
	return writeFileAtomic(filepath.Join(h.DataDir, ConfigFile), append(data, '\n'))
}

// Default returns the default model recorded by Use, or "" when none is.
func (h *Hub) Default() (string, error) {
	s, err := h.readSettings()
	if err != nil {
		return "", err
	}
	raw, ok := s["default_model"]
	if !ok {
		return "", nil
	}
	var name string
	if err := json.Unmarshal(raw, &name); err != nil {
		return "", fmt.Errorf("%s: default_model: %w", filepath.Join(h.DataDir, ConfigFile), err)
	}
	return name, nil
}

// DefaultModel returns the default model recorded in the data folder's
// config.json by `mmsearch models use` ("" when none is). Resolver.Resolve
// consults it; other callers should use Resolve.
func DefaultModel(getenv func(string) string) (string, error) {
	return New(getenv).Default()
}
