package encoders

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"mmsearch/internal/atomicfile"
	"mmsearch/internal/regfile"
)

// ManifestFile is the name of a model's manifest inside its folder.
const ManifestFile = "model.json"

// ManifestSchema is the manifest schema version this code reads and writes.
const ManifestSchema = 1

// maxManifestBytes bounds the manifest read from disk.
const maxManifestBytes = 1 << 20

// ErrManifest marks every manifest problem; errors.Is(err, ErrManifest) holds.
var ErrManifest = errors.New("invalid model manifest")

// Manifest describes a model folder: the two ONNX towers, how to prepare their
// inputs, and how to read their outputs. See DESIGN.md "Model manifest".
type Manifest struct {
	Schema       int    `json:"schema"`
	Name         string `json:"name"`
	Version      string `json:"version"`
	Description  string `json:"description,omitempty"`
	EmbeddingDim int    `json:"embedding_dim"`
	// MaxBatch is the largest batch the graphs accept; 0 means a dynamic
	// batch axis. Some exports fix the batch at 1.
	MaxBatch int         `json:"max_batch,omitempty"`
	Image    ImageTower  `json:"image"`
	Text     TextTower   `json:"text"`
	Source   *SourceInfo `json:"source,omitempty"`
	// Quantization is set on a model made by `mmsearch models quantize`.
	Quantization *QuantizationInfo `json:"quantization,omitempty"`
}

// QuantizationInfo records how a quantized model was derived from its source
// model, so the result can be reproduced and compared.
type QuantizationInfo struct {
	Method            string   `json:"method"`             // "dynamic-int8"
	SourceModel       string   `json:"source_model"`       // the source manifest's name
	SourceVersion     string   `json:"source_version"`     // and version
	SourceFingerprint string   `json:"source_fingerprint"` // the source's Fingerprint()
	Ops               []string `json:"ops"`                // operator types quantized
	PerChannel        bool     `json:"per_channel"`        // one scale per output column
	Format            string   `json:"format"`             // "fused" or "integer"
	ReduceRange       bool     `json:"reduce_range,omitempty"`
	ImageNodes        int      `json:"image_nodes"` // nodes quantized in the image tower
	TextNodes         int      `json:"text_nodes"`  // and in the text tower
}

// SourceInfo records where an imported or downloaded model came from.
type SourceInfo struct {
	Layout string `json:"layout,omitempty"` // "huggingface", "openclip", "mmsearch"
	URL    string `json:"url,omitempty"`
	Note   string `json:"note,omitempty"`
}

// TensorSpec names one graph input or output and its element type.
type TensorSpec struct {
	Name  string `json:"name"`
	DType string `json:"dtype"` // "float32" or "int64" (also "int32" for text inputs)
}

// ImageTower describes the image encoder graph and its preprocessing.
type ImageTower struct {
	ONNX          string     `json:"onnx"`
	SHA256        string     `json:"sha256"`
	Input         TensorSpec `json:"input"`
	Output        TensorSpec `json:"output"`
	Size          int        `json:"size"`
	Resize        string     `json:"resize"`        // "shortest_edge"
	Interpolation string     `json:"interpolation"` // "bicubic"
	Crop          string     `json:"crop"`          // "center"
	Mean          [3]float32 `json:"mean"`
	Std           [3]float32 `json:"std"`
	ChannelOrder  string     `json:"channel_order"` // "RGB"
}

// TokenizerSpec names the tokenizer files of a text tower, relative to the model folder.
type TokenizerSpec struct {
	Kind          string `json:"kind"` // "clip-bpe"
	Vocab         string `json:"vocab,omitempty"`
	Merges        string `json:"merges,omitempty"`
	TokenizerJSON string `json:"tokenizer_json,omitempty"`
	BPE           string `json:"bpe,omitempty"` // bpe_simple_vocab_16e6.txt.gz
}

// Pooling values of TextTower.Pooling.
const (
	PoolingProjected = "projected"  // the graph outputs the final [N,D] embedding
	PoolingArgmaxEOT = "argmax_eot" // the graph outputs [N,L,D]; take the end token's state
)

// TextTower describes the text encoder graph and its tokenizer.
type TextTower struct {
	ONNX          string        `json:"onnx"`
	SHA256        string        `json:"sha256"`
	InputIDs      TensorSpec    `json:"input_ids"`
	AttentionMask *TensorSpec   `json:"attention_mask,omitempty"`
	Output        TensorSpec    `json:"output"`
	Pooling       string        `json:"pooling"`
	Tokenizer     TokenizerSpec `json:"tokenizer"`
	ContextLength int           `json:"context_length"`
	StartID       int64         `json:"start_id"`
	EndID         int64         `json:"end_id"`
	PadID         int64         `json:"pad_id"`
	Templates     []string      `json:"templates,omitempty"`
	// TrimPadding says the tower takes sequences shorter than
	// ContextLength and that padding after the last real token changes no
	// output (causal attention, or padding masked out of the keys), so
	// batches are cut after their longest row. It needs a graph whose
	// sequence axis is dynamic.
	TrimPadding bool `json:"trim_padding,omitempty"`
	// Languages lists the languages the text tower understands, as
	// lower-case ISO 639-1 codes ("en"); empty means not stated. The web
	// page warns when a query in another script meets an English-only
	// model (see EnglishOnly).
	Languages []string `json:"languages,omitempty"`
}

// EnglishOnly reports whether the manifest says the text tower understands
// English and nothing else.
func (t TextTower) EnglishOnly() bool {
	return len(t.Languages) == 1 && t.Languages[0] == "en"
}

// ReadManifest reads and validates dir/model.json. It checks the manifest's
// own consistency and that the files it names exist; VerifyFiles checks their
// digests and graphs.
func ReadManifest(dir string) (*Manifest, error) {
	path := filepath.Join(dir, ManifestFile)
	f, _, err := regfile.Open(path)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", dir, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxManifestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("model %s: read %s: %w", dir, ManifestFile, err)
	}
	if len(data) > maxManifestBytes {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrManifest, path, maxManifestBytes)
	}
	m, err := ParseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, rel := range m.files() {
		if _, err := os.Stat(filepath.Join(dir, rel)); err != nil {
			return nil, fmt.Errorf("%w: %s names %s: %v", ErrManifest, path, rel, err)
		}
	}
	return m, nil
}

// ParseManifest decodes and validates a manifest (unknown fields are an
// error). It does not look at the files the manifest names.
func ParseManifest(data []byte) (*Manifest, error) {
	if len(data) > maxManifestBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrManifest, maxManifestBytes)
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrManifest, err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Files lists every file the manifest names, relative to the model folder:
// both towers and the tokenizer files.
func (m *Manifest) Files() []string { return m.files() }

// WriteManifest writes m as dir/model.json after validating it, replacing
// any old manifest atomically.
func WriteManifest(dir string, m *Manifest) error {
	if err := m.Validate(); err != nil {
		return err
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	return atomicfile.WriteFile(filepath.Join(dir, ManifestFile), append(data, '\n'), 0o644)
}

// files lists every file the manifest names, relative to the model folder.
func (m *Manifest) files() []string {
	fs := []string{m.Image.ONNX, m.Text.ONNX}
	t := m.Text.Tokenizer
	for _, p := range []string{t.Vocab, t.Merges, t.TokenizerJSON, t.BPE} {
		if p != "" {
			fs = append(fs, p)
		}
	}
	return fs
}

func manifestErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrManifest, fmt.Sprintf(format, args...))
}

// Validate checks the manifest's fields without touching the file system.
func (m *Manifest) Validate() error {
	switch {
	case m.Schema != ManifestSchema:
		return manifestErr("schema %d not supported (want %d)", m.Schema, ManifestSchema)
	case m.Name == "":
		return manifestErr("name is empty")
	case m.EmbeddingDim <= 0 || m.EmbeddingDim > 1<<16:
		return manifestErr("embedding_dim %d out of range", m.EmbeddingDim)
	case m.MaxBatch < 0:
		return manifestErr("max_batch %d is negative", m.MaxBatch)
	}
	if err := m.Image.validate(); err != nil {
		return err
	}
	return m.Text.validate()
}

func validRelPath(field, p string) error {
	if p == "" {
		return manifestErr("%s is empty", field)
	}
	if filepath.IsAbs(p) || strings.HasPrefix(filepath.Clean(p), "..") {
		return manifestErr("%s %q must be a path inside the model folder", field, p)
	}
	return nil
}

func validSHA(field, s string) error {
	if b, err := hex.DecodeString(s); err != nil || len(b) != sha256.Size {
		return manifestErr("%s %q is not a sha256 hex digest", field, s)
	}
	return nil
}

func (t *ImageTower) validate() error {
	if err := validRelPath("image.onnx", t.ONNX); err != nil {
		return err
	}
	if err := validSHA("image.sha256", t.SHA256); err != nil {
		return err
	}
	if t.Input.Name == "" || t.Output.Name == "" {
		return manifestErr("image input and output names are required")
	}
	if t.Input.DType != "float32" || t.Output.DType != "float32" {
		return manifestErr("image input/output dtype must be float32 (got %s, %s)", t.Input.DType, t.Output.DType)
	}
	switch {
	case t.Size < 8 || t.Size > 4096:
		return manifestErr("image.size %d out of range [8, 4096]", t.Size)
	case t.Resize != "shortest_edge":
		return manifestErr("image.resize %q not supported (want shortest_edge)", t.Resize)
	case t.Interpolation != "bicubic" && t.Interpolation != "bilinear":
		return manifestErr("image.interpolation %q not supported (want bicubic or bilinear)", t.Interpolation)
	case t.Crop != "center":
		return manifestErr("image.crop %q not supported (want center)", t.Crop)
	case t.ChannelOrder != "RGB" && t.ChannelOrder != "BGR":
		return manifestErr("image.channel_order %q not supported (want RGB or BGR)", t.ChannelOrder)
	}
	for i, s := range t.Std {
		if !(s > 0) || math.IsInf(float64(s), 0) {
			return manifestErr("image.std[%d] = %v must be positive", i, s)
		}
	}
	return nil
}

func (t *TextTower) validate() error {
	if err := validRelPath("text.onnx", t.ONNX); err != nil {
		return err
	}
	if err := validSHA("text.sha256", t.SHA256); err != nil {
		return err
	}
	if t.InputIDs.Name == "" || t.Output.Name == "" {
		return manifestErr("text input_ids and output names are required")
	}
	if t.InputIDs.DType != "int64" && t.InputIDs.DType != "int32" {
		return manifestErr("text.input_ids dtype %q not supported (want int64 or int32)", t.InputIDs.DType)
	}
	if t.AttentionMask != nil && t.AttentionMask.DType != t.InputIDs.DType {
		return manifestErr("text.attention_mask dtype %q differs from input_ids %q", t.AttentionMask.DType, t.InputIDs.DType)
	}
	if t.Output.DType != "float32" {
		return manifestErr("text.output dtype %q not supported (want float32)", t.Output.DType)
	}
	if t.Pooling != PoolingProjected && t.Pooling != PoolingArgmaxEOT {
		return manifestErr("text.pooling %q not supported (want %s or %s)", t.Pooling, PoolingProjected, PoolingArgmaxEOT)
	}
	if t.ContextLength < 2 || t.ContextLength > 4096 {
		return manifestErr("text.context_length %d out of range", t.ContextLength)
	}
	if t.Tokenizer.Kind != "clip-bpe" {
		return manifestErr("text.tokenizer.kind %q not supported (want clip-bpe)", t.Tokenizer.Kind)
	}
	tk := t.Tokenizer
	n := 0
	if tk.Vocab != "" || tk.Merges != "" {
		if tk.Vocab == "" || tk.Merges == "" {
			return manifestErr("text.tokenizer needs both vocab and merges")
		}
		n++
	}
	if tk.TokenizerJSON != "" {
		n++
	}
	if tk.BPE != "" {
		n++
	}
	if n != 1 {
		return manifestErr("text.tokenizer must name exactly one of vocab+merges, tokenizer_json, bpe")
	}
	for _, f := range []struct{ field, path string }{{"text.tokenizer.vocab", tk.Vocab}, {"text.tokenizer.merges", tk.Merges}, {"text.tokenizer.tokenizer_json", tk.TokenizerJSON}, {"text.tokenizer.bpe", tk.BPE}} {
		if f.path != "" {
			if err := validRelPath(f.field, f.path); err != nil {
				return err
			}
		}
	}
	for _, lang := range t.Languages {
		if !validLanguage(lang) {
			return manifestErr("text.languages %q: want a lower-case ISO 639-1 code such as \"en\"", lang)
		}
	}
	for _, tpl := range t.Templates {
		if strings.Count(tpl, "{}") != 1 {
			return manifestErr("text template %q must contain {} exactly once", tpl)
		}
	}
	return nil
}

// validLanguage accepts a two- or three-letter lower-case language code.
func validLanguage(s string) bool {
	if len(s) < 2 || len(s) > 3 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}

// Fingerprint identifies the model's weights: the sha256 digests of both
// towers. Libraries record it to refuse vectors from another model.
func (m *Manifest) Fingerprint() string {
	h := sha256.Sum256([]byte(m.Image.SHA256 + ":" + m.Text.SHA256))
	return hex.EncodeToString(h[:])
}

// FileSHA256 returns the hex sha256 digest of a file.
func FileSHA256(path string) (string, error) {
	f, _, err := regfile.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
