package models

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"mmsearch/encoders"
	"mmsearch/internal/atomicfile"
)

// StampSchema is the version of the stamp format.
const StampSchema = 1

// Stamp records one successful verification of a model folder: the sha256
// of every ONNX file matched the manifest and both graphs matched its inputs
// and outputs. It names each file by size, modification time and inode, so
// a later open can tell cheaply (a stat per file) whether anything changed
// since. Stamps live in CacheDir/stamps, one per folder, so read-only model
// folders get one too.
type Stamp struct {
	Schema      int         `json:"schema"`
	Dir         string      `json:"dir"`
	Fingerprint string      `json:"fingerprint"`
	Files       []StampFile `json:"files"`
	VerifiedAt  time.Time   `json:"verified_at"`
}

// StampFile identifies one verified file.
type StampFile struct {
	Path    string `json:"path"` // relative to the model folder
	Size    int64  `json:"size"`
	MtimeNS int64  `json:"mtime_ns"`
	Inode   uint64 `json:"inode"`
	SHA256  string `json:"sha256"`
}

// StampPath is where the stamp of model folder dir is kept.
func StampPath(dir string, getenv func(string) string) string {
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	sum := sha256.Sum256([]byte(dir))
	return filepath.Join(CacheDir(getenv), "stamps", hex.EncodeToString(sum[:16])+".json")
}

// stampFiles are the files a stamp covers: the manifest and both towers.
func stampFiles(m *encoders.Manifest) []string {
	return []string{encoders.ManifestFile, m.Image.ONNX, m.Text.ONNX}
}

// identify stats dir/rel into a StampFile without its digest.
func identify(dir, rel string) (StampFile, error) {
	fi, err := os.Stat(filepath.Join(dir, rel))
	if err != nil {
		return StampFile{}, err
	}
	f := StampFile{Path: filepath.ToSlash(rel), Size: fi.Size(), MtimeNS: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		f.Inode = st.Ino
	}
	return f, nil
}

// readStamp reads the stamp of dir; a missing or unreadable stamp is nil.
func readStamp(dir string, getenv func(string) string) *Stamp {
	data, err := os.ReadFile(StampPath(dir, getenv))
	if err != nil {
		return nil
	}
	var s Stamp
	if json.Unmarshal(data, &s) != nil || s.Schema != StampSchema {
		return nil
	}
	return &s
}

// StampValid reports whether dir has a stamp that still describes its files:
// same fingerprint, and every covered file with the size, modification time
// and inode it had when it was verified. It costs one stat per file.
func StampValid(dir string, m *encoders.Manifest, getenv func(string) string) bool {
	s := readStamp(dir, getenv)
	if s == nil || s.Fingerprint != m.Fingerprint() {
		return false
	}
	files := stampFiles(m)
	if len(s.Files) != len(files) {
		return false
	}
	for i, rel := range files {
		got, err := identify(dir, rel)
		want := s.Files[i]
		if err != nil || got.Path != want.Path || got.Size != want.Size || got.MtimeNS != want.MtimeNS || got.Inode != want.Inode {
			return false
		}
	}
	return true
}

// VerifyFolder checks a model folder in full — the sha256 of both ONNX files
// against the manifest and both graphs against its inputs and outputs
// (starting ONNX Runtime with rt) — and on success writes its stamp. It is
// what install, import and 'models verify' run; Open runs it only when the
// stamp is missing or stale. A stamp that cannot be written (read-only
// cache) is logged, not an error.
func VerifyFolder(dir string, rt encoders.RuntimeOptions, getenv func(string) string, log *slog.Logger) (*encoders.Manifest, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := encoders.ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	// Identify the files before hashing them, so a file replaced while it
	// is being hashed leaves a stamp that no longer matches.
	var ids []StampFile
	for _, rel := range stampFiles(m) {
		f, err := identify(dir, rel)
		if err != nil {
			return nil, fmt.Errorf("model %s: %w", m.Name, err)
		}
		ids = append(ids, f)
	}
	if err := encoders.VerifyFiles(dir, m); err != nil {
		return nil, fmt.Errorf("model %s: %w", m.Name, err)
	}
	if _, err := encoders.StartRuntime(rt); err != nil {
		return nil, err
	}
	if err := encoders.VerifyGraphs(dir, m); err != nil {
		return nil, fmt.Errorf("model %s: %w", m.Name, err)
	}
	ids[1].SHA256, ids[2].SHA256 = m.Image.SHA256, m.Text.SHA256
	if sum, err := encoders.FileSHA256(filepath.Join(dir, encoders.ManifestFile)); err == nil {
		ids[0].SHA256 = sum
	}
	if err := writeStamp(dir, &Stamp{Schema: StampSchema, Dir: dir, Fingerprint: m.Fingerprint(), Files: ids, VerifiedAt: time.Now().UTC()}, getenv); err != nil {
		log.Warn("model verified, but its stamp could not be written; the next open verifies again", "model", m.Name, "err", err)
	}
	return m, nil
}

func writeStamp(dir string, s *Stamp, getenv func(string) string) error {
	p := StampPath(dir, getenv)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("write stamp: %w", err)
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("write stamp: %w", err)
	}
	return atomicfile.WriteFile(p, append(data, '\n'), 0o644)
}

// OpenOptions configures Open.
type OpenOptions struct {
	// Runtime starts ONNX Runtime.
	Runtime encoders.RuntimeOptions
	// Getenv reads the environment (cache folder of the stamps); nil = os.Getenv.
	Getenv func(string) string
	// Logger receives warnings; nil discards them.
	Logger *slog.Logger
}

// Opened says how Open found the model.
type Opened struct {
	// Verified is true when Open hashed the files and checked the graphs
	// (no valid stamp); false when the stamp vouched for them.
	Verified bool `json:"verified"`
	// Stamp is the stamp file.
	Stamp string `json:"stamp"`
}

// Open opens the model folder dir for encoding: it reads the manifest, checks
// the verification stamp (a stat per file) and verifies the folder in full
// only when the stamp is missing or stale, then starts ONNX Runtime. No
// graph is loaded here; each tower's session opens on first use, so a
// text-only command never loads the image graph.
func Open(dir string, o OpenOptions) (*encoders.Model, Opened, error) {
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	info := Opened{Stamp: StampPath(dir, getenv)}
	m, err := encoders.ReadManifest(dir)
	if err != nil {
		return nil, info, err
	}
	if !StampValid(dir, m, getenv) {
		if m, err = VerifyFolder(dir, o.Runtime, getenv, o.Logger); err != nil {
			return nil, info, err
		}
		info.Verified = true
	} else if _, err := encoders.StartRuntime(o.Runtime); err != nil {
		return nil, info, err
	}
	return &encoders.Model{Dir: dir, Manifest: m}, info, nil
}

// stampVerified writes the stamp of a folder whose files the caller has just
// verified (install, import, 'models verify'); m is its manifest.
func stampVerified(dir string, m *encoders.Manifest, getenv func(string) string) error {
	var ids []StampFile
	for _, rel := range stampFiles(m) {
		f, err := identify(dir, rel)
		if err != nil {
			return fmt.Errorf("stamp %s: %w", dir, err)
		}
		ids = append(ids, f)
	}
	sum, err := encoders.FileSHA256(filepath.Join(dir, encoders.ManifestFile))
	if err != nil {
		return fmt.Errorf("stamp %s: %w", dir, err)
	}
	ids[0].SHA256, ids[1].SHA256, ids[2].SHA256 = sum, m.Image.SHA256, m.Text.SHA256
	return writeStamp(dir, &Stamp{Schema: StampSchema, Dir: dir, Fingerprint: m.Fingerprint(), Files: ids, VerifiedAt: time.Now().UTC()}, getenv)
}

// stamp records a verification the hub has just done; failing to write it
// only costs a verification at the next open.
func (h *Hub) stamp(dir string, m *encoders.Manifest) {
	if err := stampVerified(dir, m, h.getenv()); err != nil {
		h.logger().Warn("model verified, but its stamp could not be written; the next open verifies again", "dir", dir, "err", err)
	}
}
