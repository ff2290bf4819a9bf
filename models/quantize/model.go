package quantize

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"mmsearch/encoders"
)

// MethodDynamicInt8 is the manifest's quantization.method for this package's rewrite.
const MethodDynamicInt8 = "dynamic-int8"

// ErrExists is returned when the output folder exists and Force is not set.
var ErrExists = errors.New("output model already exists")

// ModelOptions configures Model.
type ModelOptions struct {
	Options
	// Name of the new model (its manifest's name); required.
	Name string
	// Force replaces an existing output folder.
	Force bool
}

// ModelResult describes the written model.
type ModelResult struct {
	Dir      string             `json:"dir"`
	Manifest *encoders.Manifest `json:"manifest"`
	Image    Stats              `json:"image"`
	Text     Stats              `json:"text"`
	// Bytes before and after: both ONNX files of the source and of the result.
	SourceBytes int64 `json:"source_onnx_bytes"`
	Bytes       int64 `json:"onnx_bytes"`
}

// maxTokenizerBytes bounds a tokenizer file copied into the new model.
const maxTokenizerBytes = 256 << 20

// Model quantizes both towers of the model in srcDir and writes a new model
// folder dstDir: the rewritten ONNX files under the source's file names, the
// tokenizer files, and a manifest naming the source and the settings. The
// source's digests are checked first. The folder appears complete or not at
// all (it is built beside dstDir and renamed).
func Model(ctx context.Context, srcDir, dstDir string, opt ModelOptions) (*ModelResult, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	if opt.Name == "" {
		return nil, errors.New("quantize: the new model needs a name")
	}
	src, err := encoders.ReadManifest(srcDir)
	if err != nil {
		return nil, err
	}
	if err := encoders.VerifyFiles(srcDir, src); err != nil {
		return nil, fmt.Errorf("source model %s: %w", src.Name, err)
	}
	if src.Quantization != nil {
		return nil, fmt.Errorf("%w: %s is already quantized (from %s)", ErrUnsupported, src.Name, src.Quantization.SourceModel)
	}
	if _, err := os.Stat(dstDir); err == nil && !opt.Force {
		return nil, fmt.Errorf("%w: %s (use --force to replace it)", ErrExists, dstDir)
	}
	if err := os.MkdirAll(filepath.Dir(dstDir), 0o755); err != nil {
		return nil, fmt.Errorf("quantize: %w", err)
	}
	var suffix [6]byte
	rand.Read(suffix[:])
	stage := dstDir + ".partial-" + hex.EncodeToString(suffix[:])
	if err := os.Mkdir(stage, 0o755); err != nil {
		return nil, fmt.Errorf("quantize: %w", err)
	}
	defer os.RemoveAll(stage)

	res := &ModelResult{}
	out := *src
	out.Name = opt.Name
	out.Description = fmt.Sprintf("%s, dynamically quantized to INT8 (%s) from %s %s.", src.Name, opt.Describe(), src.Name, src.Version)
	if src.Description != "" {
		out.Description = src.Description + " INT8: " + opt.Describe() + "."
	}
	out.Source = &encoders.SourceInfo{Layout: "mmsearch", Note: fmt.Sprintf("made by 'mmsearch models quantize' from %s (fingerprint %s)", src.Name, src.Fingerprint())}
	towers := []struct {
		rel   string
		sha   *string
		stats *Stats
	}{{src.Image.ONNX, &out.Image.SHA256, &res.Image}, {src.Text.ONNX, &out.Text.SHA256, &res.Text}}
	for _, t := range towers {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n, sha, stats, err := quantizeFile(filepath.Join(srcDir, t.rel), filepath.Join(stage, t.rel), opt.Options)
		if err != nil {
			return nil, fmt.Errorf("quantize %s: %w", t.rel, err)
		}
		*t.sha, *t.stats = sha, stats
		res.SourceBytes += n
		if fi, err := os.Stat(filepath.Join(stage, t.rel)); err == nil {
			res.Bytes += fi.Size()
		}
	}
	tk := src.Text.Tokenizer
	for _, rel := range []string{tk.Vocab, tk.Merges, tk.TokenizerJSON, tk.BPE} {
		if rel == "" {
			continue
		}
		if err := copyFile(filepath.Join(srcDir, rel), filepath.Join(stage, rel)); err != nil {
			return nil, err
		}
	}
	out.Quantization = &encoders.QuantizationInfo{
		Method: MethodDynamicInt8, SourceModel: src.Name, SourceVersion: src.Version, SourceFingerprint: src.Fingerprint(),
		Ops: []string{"MatMul", "Gemm"}, PerChannel: opt.PerChannel, Format: opt.format(), ReduceRange: opt.ReduceRange,
		ImageNodes: res.Image.Quantized, TextNodes: res.Text.Quantized,
	}
	if err := encoders.WriteManifest(stage, &out); err != nil {
		return nil, err
	}
	if opt.Force {
		if err := os.RemoveAll(dstDir); err != nil {
			return nil, fmt.Errorf("quantize: replace %s: %w", dstDir, err)
		}
	}
	if err := os.Rename(stage, dstDir); err != nil {
		return nil, fmt.Errorf("quantize: install %s: %w", dstDir, err)
	}
	res.Dir, res.Manifest = dstDir, &out
	return res, nil
}

// quantizeFile rewrites one ONNX file; it returns the source's size, the
// result's sha256 and what was done.
func quantizeFile(src, dst string, opt Options) (int64, string, Stats, error) {
	f, err := os.Open(src)
	if err != nil {
		return 0, "", Stats{}, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxModelBytes+1))
	f.Close()
	if err != nil {
		return 0, "", Stats{}, fmt.Errorf("read %s: %w", src, err)
	}
	q, stats, err := Graph(data, opt)
	if err != nil {
		return 0, "", Stats{}, err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return 0, "", Stats{}, err
	}
	if err := os.WriteFile(dst, q, 0o644); err != nil {
		return 0, "", Stats{}, fmt.Errorf("write %s: %w", dst, err)
	}
	sha, err := encoders.FileSHA256(dst)
	return int64(len(data)), sha, stats, err
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	out, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	n, err := io.Copy(out, io.LimitReader(in, maxTokenizerBytes+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > maxTokenizerBytes {
		err = fmt.Errorf("larger than %d bytes", maxTokenizerBytes)
	}
	if err != nil {
		return fmt.Errorf("quantize: copy %s: %w", src, err)
	}
	return nil
}
