package models

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"mmsearch/encoders"
)

// Phases of a Progress report.
const (
	PhaseDownload = "download" // bytes arriving
	PhaseVerify   = "verify"   // checking digests and graphs
	PhaseInstall  = "install"  // renaming into place
)

// Progress reports a pull's advance.
type Progress struct {
	Model string
	Phase string
	// File is the file being downloaded (PhaseDownload), Index its 1-based
	// position among Count files.
	File         string
	Index, Count int
	// Done and Total are bytes of the current file (Total -1 while unknown).
	// Each transfer (first or resumed) starts with a report of the bytes
	// already present.
	Done, Total int64
}

// PullOptions tunes Pull.
type PullOptions struct {
	// Force replaces an installed model of the same name.
	Force bool
	// RequireChecksums refuses registry files without a published sha256.
	RequireChecksums bool
	// Progress, if set, receives progress reports (from the calling goroutine).
	Progress func(Progress)
}

// PullResult describes a pulled model.
type PullResult struct {
	Name     string             `json:"name"`
	Dir      string             `json:"dir"`
	Manifest *encoders.Manifest `json:"manifest"`
	Files    []ProvenanceFile   `json:"files"`
	// TrustedOnFirstUse lists the files that had no published digest: their
	// digests were recorded as received. Callers should say so loudly.
	TrustedOnFirstUse []ProvenanceFile `json:"trusted_on_first_use,omitempty"`
	Warnings          []string         `json:"warnings,omitempty"`
	Bytes             int64            `json:"bytes"`
}

// Pull downloads the registry's model name and installs it as
// DataDir/models/NAME. Files are downloaded into a staging folder (kept
// between runs, so an interrupted pull resumes), each checked against its
// size and sha256; then the manifest is built (or, for the mmsearch layout,
// read and checked), the graphs are checked against it, and only then is the
// staging folder renamed to its final name. The final folder therefore never
// holds a partial or unverified model.
func (h *Hub) Pull(ctx context.Context, reg *Registry, name string, opt PullOptions) (*PullResult, error) {
	e, err := reg.Lookup(name)
	if err != nil {
		return nil, err
	}
	if opt.RequireChecksums {
		var missing []string
		for _, f := range e.Files {
			if f.SHA256 == "" {
				missing = append(missing, f.Path)
			}
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("%w for %s: %s (the registry marks them %s)", ErrUnverified, name, strings.Join(missing, ", "), VerifyTrustOnFirstUse)
		}
	}
	final := filepath.Join(h.ModelsDir(), name)
	if exists(final) && !opt.Force {
		return nil, fmt.Errorf("%w: %s (pass --force to download it again)", ErrExists, final)
	}
	unlock, err := h.lock(name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	report := func(p Progress) {
		if opt.Progress != nil {
			p.Model = name
			opt.Progress(p)
		}
	}

	work := filepath.Join(h.stagingRoot(), name)
	tree := filepath.Join(work, "tree")
	if err := prepareWork(work, e); err != nil {
		return nil, err
	}
	res := &PullResult{Name: name, Dir: final}
	digests := map[string]string{}
	for i, f := range e.Files {
		dst := filepath.Join(tree, filepath.FromSlash(f.Path))
		prog := func(done, total int64) {
			report(Progress{Phase: PhaseDownload, File: f.Path, Index: i + 1, Count: len(e.Files), Done: done, Total: total})
		}
		sum, err := h.fetchOne(ctx, f, dst, prog)
		if err != nil {
			return nil, fmt.Errorf("pull %s: %w", name, err)
		}
		pf := ProvenanceFile{Path: f.Path, Size: fileSize(dst), SHA256: sum, URL: f.URL, Checksum: ChecksumPublished}
		if f.SHA256 == "" {
			pf.Checksum = ChecksumFirstUse
			res.TrustedOnFirstUse = append(res.TrustedOnFirstUse, pf)
		}
		res.Files = append(res.Files, pf)
		res.Bytes += pf.Size
		digests[f.Path] = sum
	}
	h.at("downloaded", final)

	report(Progress{Phase: PhaseVerify})
	var m *encoders.Manifest
	if e.Layout == LayoutMMSearch {
		if m, err = encoders.ReadManifest(tree); err != nil {
			return nil, fmt.Errorf("pull %s: %w", name, err)
		}
		if err := encoders.VerifyFiles(tree, m); err != nil {
			return nil, fmt.Errorf("pull %s: %w", name, err)
		}
	} else {
		p, err := h.inspect(ctx, tree, name, e.Layout, digests, ImportOptions{Description: e.Description, Version: e.Revision, Templates: e.Templates})
		if err != nil {
			return nil, fmt.Errorf("pull %s: %w", name, err)
		}
		m, res.Warnings = p.manifest, p.warnings
		note := fmt.Sprintf("pulled from the registry entry %q", name)
		if len(res.TrustedOnFirstUse) > 0 {
			note += fmt.Sprintf("; %d file(s) had no published sha256 and were trusted on first use", len(res.TrustedOnFirstUse))
		}
		if m.Source.Note != "" {
			note += "; " + m.Source.Note
		}
		m.Source.URL, m.Source.Note = e.Homepage, note
	}
	if m.EmbeddingDim != e.Dimension || m.Image.Size != e.ImageSize {
		return nil, fmt.Errorf("pull %s: the registry says dimension %d and image size %d, the downloaded model has %d and %d", name, e.Dimension, e.ImageSize, m.EmbeddingDim, m.Image.Size)
	}
	if e.ContextLength > 0 && m.Text.ContextLength != e.ContextLength {
		return nil, fmt.Errorf("pull %s: the registry says context length %d, the downloaded model has %d", name, e.ContextLength, m.Text.ContextLength)
	}
	if _, err := encoders.StartRuntime(h.Runtime); err != nil {
		return nil, err
	}
	if err := encoders.VerifyGraphs(tree, m); err != nil {
		return nil, fmt.Errorf("pull %s: %w", name, err)
	}
	if e.Layout != LayoutMMSearch {
		if err := encoders.WriteManifest(tree, m); err != nil {
			return nil, fmt.Errorf("pull %s: %w", name, diskErr(err, tree))
		}
	}
	prov := &Provenance{Schema: 1, Name: name, Origin: "pull", Layout: e.Layout, Registry: reg.Location, Homepage: e.Homepage,
		Revision: e.Revision, Created: time.Now().UTC(), Files: res.Files, Warnings: res.Warnings}
	if err := writeProvenance(tree, prov); err != nil {
		return nil, fmt.Errorf("pull %s: %w", name, err)
	}
	h.at("verified", final)

	report(Progress{Phase: PhaseInstall})
	if err := installPath(tree, final, opt.Force, h.stagingRoot()); err != nil {
		return nil, fmt.Errorf("pull %s: %w", name, err)
	}
	h.at("installed", final)
	h.stamp(final, m)
	os.RemoveAll(work)
	res.Manifest = m
	return res, nil
}

// prepareWork makes the staging folder of an entry, discarding one left by
// a pull of a different registry entry (other URLs or digests).
func prepareWork(work string, e *Entry) error {
	want, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("pull %s: %w", e.Name, err)
	}
	entryFile := filepath.Join(work, "entry.json")
	if got, err := os.ReadFile(entryFile); err == nil && !bytes.Equal(got, want) {
		if err := os.RemoveAll(work); err != nil {
			return fmt.Errorf("pull %s: clear stale staging folder: %w", e.Name, err)
		}
	}
	if err := os.MkdirAll(filepath.Join(work, "tree"), 0o755); err != nil {
		return fmt.Errorf("pull %s: %w", e.Name, diskErr(err, work))
	}
	if err := writeFileAtomic(entryFile, want); err != nil {
		return fmt.Errorf("pull %s: %w", e.Name, err)
	}
	return nil
}

// fetchOne downloads f to dst unless an earlier run completed it; a
// completed file is re-hashed and kept only if it still matches.
func (h *Hub) fetchOne(ctx context.Context, f FileSpec, dst string, progress ProgressFunc) (string, error) {
	if isFile(dst) {
		sum, err := hashFile(ctx, dst)
		if err != nil {
			return "", err
		}
		if (f.SHA256 == "" || sum == f.SHA256) && (f.Size <= 0 || fileSize(dst) == f.Size) {
			if n := fileSize(dst); progress != nil {
				progress(n, n)
			}
			return sum, nil
		}
		h.logger().Warn("a file downloaded earlier no longer matches; downloading it again", "file", f.Path)
		if err := os.Remove(dst); err != nil {
			return "", err
		}
	}
	return h.Download(ctx, f, dst, progress)
}
