package models

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"mmsearch/encoders"
	"mmsearch/internal/atomicfile"
)

// BundledDir is the folder under the data folder where an embedded bundled
// model is unpacked, one sub-folder per model name and fingerprint.
const BundledDir = "bundled"

// maxBundleFile bounds one embedded file (the towers are ~13 MB).
const maxBundleFile = 1 << 30

// Unpack copies the model folder fsys (model.json at its root) into
// root/NAME-FINGERPRINT and returns that folder. It runs once: a folder that
// is already there is returned as is (opening a model checks its files
// against the verification stamp). The copy is made in a temporary folder
// beside the target, each ONNX file's sha256 is checked against the manifest
// and everything is fsynced before one rename publishes it, so a crash or a
// concurrent unpack never leaves a half-written model under the final name.
func Unpack(fsys fs.FS, root string) (string, error) {
	data, err := fs.ReadFile(fsys, encoders.ManifestFile)
	if err != nil {
		return "", fmt.Errorf("unpack bundled model: %w", err)
	}
	m, err := encoders.ParseManifest(data)
	if err != nil {
		return "", fmt.Errorf("unpack bundled model: %w", err)
	}
	final := filepath.Join(root, m.Name+"-"+m.Fingerprint()[:16])
	if _, err := os.Stat(filepath.Join(final, encoders.ManifestFile)); err == nil {
		return final, nil
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("unpack bundled model: %w", err)
	}
	tmp, err := os.MkdirTemp(root, ".unpack-"+m.Name+"-")
	if err != nil {
		return "", fmt.Errorf("unpack bundled model: %w", err)
	}
	defer os.RemoveAll(tmp) // gone after a successful rename
	sums := map[string]string{}
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(tmp, filepath.FromSlash(p))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		sum, err := copyFromFS(fsys, p, dst)
		sums[p] = sum
		return err
	})
	if err != nil {
		return "", fmt.Errorf("unpack bundled model %s: %w", m.Name, diskErr(err, tmp))
	}
	for _, t := range []struct{ tower, rel, want string }{{"image", m.Image.ONNX, m.Image.SHA256}, {"text", m.Text.ONNX, m.Text.SHA256}} {
		if got := sums[filepath.ToSlash(t.rel)]; got != t.want {
			return "", fmt.Errorf("%w: unpack bundled model %s: %s tower %s has sha256 %q, manifest says %s", ErrChecksum, m.Name, t.tower, t.rel, got, t.want)
		}
	}
	if err := atomicfile.SyncDir(tmp); err != nil {
		return "", fmt.Errorf("unpack bundled model %s: %w", m.Name, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		// Another process may have unpacked the same model meanwhile.
		if _, serr := os.Stat(filepath.Join(final, encoders.ManifestFile)); serr == nil {
			return final, nil
		}
		return "", fmt.Errorf("unpack bundled model %s: %w", m.Name, err)
	}
	if err := atomicfile.SyncDir(root); err != nil {
		return "", fmt.Errorf("unpack bundled model %s: %w", m.Name, err)
	}
	return final, nil
}

// copyFromFS copies one file out of fsys, fsyncs it and returns its sha256.
func copyFromFS(fsys fs.FS, name, dst string) (string, error) {
	in, err := fsys.Open(name)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(in, maxBundleFile+1))
	if err == nil && n > maxBundleFile {
		err = fmt.Errorf("%w: %s is over %d bytes", ErrTooLarge, name, maxBundleFile)
	}
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
