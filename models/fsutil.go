package models

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"mmsearch/encoders"

	"mmsearch/internal/atomicfile"
)

// ProvenanceName is the file, beside model.json, recording where a model's
// files came from and their digests.
const ProvenanceName = "provenance.json"

// Checksum kinds of ProvenanceFile.Checksum.
const (
	ChecksumPublished = "published"          // matched the registry's sha256
	ChecksumFirstUse  = "trust-on-first-use" // no published digest: recorded on download
	ChecksumComputed  = "computed"           // imported from a local folder
)

// Provenance records where an installed model's files came from.
type Provenance struct {
	Schema    int              `json:"schema"`
	Name      string           `json:"name"`
	Origin    string           `json:"origin"` // "pull" or "import"
	Layout    string           `json:"layout"`
	Registry  string           `json:"registry,omitempty"`
	Homepage  string           `json:"homepage,omitempty"`
	Revision  string           `json:"revision,omitempty"`
	SourceDir string           `json:"source_dir,omitempty"`
	Created   time.Time        `json:"created"`
	Files     []ProvenanceFile `json:"files"`
	Warnings  []string         `json:"warnings,omitempty"`
}

// ProvenanceFile is one file of an installed model.
type ProvenanceFile struct {
	Path     string `json:"path"`
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256"`
	URL      string `json:"url,omitempty"`
	Checksum string `json:"checksum"`
}

func writeProvenance(dir string, p *Provenance) error {
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", ProvenanceName, err)
	}
	return writeFileAtomic(filepath.Join(dir, ProvenanceName), append(data, '\n'))
}

// readProvenance reads dir/provenance.json; a missing file gives nil, nil.
func readProvenance(dir string) (*Provenance, error) {
	data, err := os.ReadFile(filepath.Join(dir, ProvenanceName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var p Provenance
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ProvenanceName), err)
	}
	return &p, nil
}

// writeFileAtomic writes data to path with internal/atomicfile, marking a
// full disk with ErrDiskFull.
func writeFileAtomic(path string, data []byte) error {
	if err := atomicfile.WriteFile(path, data, 0o644); err != nil {
		return diskErr(err, path)
	}
	return nil
}

// writeManifestAtomic writes dir/model.json, replacing any old one atomically.
func writeManifestAtomic(dir string, m *encoders.Manifest) error {
	if err := encoders.WriteManifest(dir, m); err != nil {
		return fmt.Errorf("write manifest in %s: %w", dir, diskErr(err, dir))
	}
	return nil
}

// copyFile copies src to dst (creating folders), hashing as it goes, and
// refuses files over limit bytes.
func copyFile(ctx context.Context, src, dst string, limit int64) (int64, string, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, "", err
	}
	defer in.Close()
	if fi, err := in.Stat(); err == nil && fi.Size() > limit {
		return 0, "", fmt.Errorf("%w: %s is %d bytes, over the cap of %d", ErrTooLarge, src, fi.Size(), limit)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return 0, "", diskErr(err, dst)
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return 0, "", diskErr(err, dst)
	}
	h := sha256.New()
	buf := make([]byte, 1<<20)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			out.Close()
			return n, "", err
		}
		k, rerr := in.Read(buf)
		if k > 0 {
			if n+int64(k) > limit {
				out.Close()
				return n, "", fmt.Errorf("%w: %s grew over the cap of %d bytes", ErrTooLarge, src, limit)
			}
			if _, err := out.Write(buf[:k]); err != nil {
				out.Close()
				return n, "", fmt.Errorf("copy %s: %w", src, diskErr(err, dst))
			}
			h.Write(buf[:k])
			n += int64(k)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			out.Close()
			return n, "", fmt.Errorf("copy %s: %w", src, rerr)
		}
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return n, "", fmt.Errorf("copy %s: %w", src, diskErr(err, dst))
	}
	if err := out.Close(); err != nil {
		return n, "", fmt.Errorf("copy %s: %w", src, diskErr(err, dst))
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// stagingRoot is DataDir/models/.staging, created on demand.
func (h *Hub) stagingRoot() string {
	d := filepath.Join(h.ModelsDir(), stagingDir)
	_ = os.MkdirAll(d, 0o755)
	return d
}

// lock takes an exclusive, non-blocking lock on installing name (released
// by the kernel if the process dies). It returns the unlock function.
func (h *Hub) lock(name string) (func(), error) {
	root := filepath.Join(h.ModelsDir(), stagingDir)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("install %s: %w", name, diskErr(err, root))
	}
	p := filepath.Join(root, name+".lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("install %s: %w", name, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s (lock %s)", ErrBusy, name, p)
		}
		return nil, fmt.Errorf("install %s: lock %s: %w", name, p, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// installPath renames src (a finished model folder, or a link to one) to
// final in one step. An existing final is refused unless force, in which case
// it is moved aside first and deleted after.
func installPath(src, final string, force bool, staging string) error {
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return fmt.Errorf("install %s: %w", final, diskErr(err, final))
	}
	var trash string
	if exists(final) {
		if !force {
			return fmt.Errorf("%w: %s (pass --force to replace it)", ErrExists, final)
		}
		t, err := os.MkdirTemp(staging, "old-"+filepath.Base(final)+"-")
		if err != nil {
			return fmt.Errorf("install %s: %w", final, err)
		}
		trash = filepath.Join(t, "old")
		if err := os.Rename(final, trash); err != nil {
			os.RemoveAll(t)
			return fmt.Errorf("install %s: move the old model aside: %w", final, err)
		}
		defer os.RemoveAll(t)
	}
	if err := os.Rename(src, final); err != nil {
		if trash != "" {
			_ = os.Rename(trash, final)
		}
		if errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST) {
			return fmt.Errorf("%w: %s appeared during the installation", ErrExists, final)
		}
		return fmt.Errorf("install %s: %w", final, err)
	}
	return nil
}
