package models

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"mmsearch/encoders"
	"mmsearch/encoders/tokenizer"
)

// CLIP's image normalization (OpenAI), the default where a folder gives none.
var (
	clipMean = [3]float32{0.48145466, 0.4578275, 0.40821073}
	clipStd  = [3]float32{0.26862954, 0.26130258, 0.27577711}
)

// DefaultTemplates are the text templates an imported model gets when no
// registry entry or flag gives others: the phrase as typed and CLIP's
// "a photo of {}." prompt, averaged (prompt ensembling).
var DefaultTemplates = []string{"{}", "a photo of {}."}

// defaultContext is CLIP's text context length.
const defaultContext = 77

// Files each layout is recognised by, relative to the folder.
var (
	hfVisionCandidates = []string{"onnx/vision_model.onnx", "vision_model.onnx"}
	hfTextCandidates   = []string{"onnx/text_model.onnx", "text_model.onnx"}
	ocVision           = "visual/model.onnx"
	ocText             = "textual/model.onnx"
)

// DetectLayout tells which export layout a folder is in: LayoutMMSearch when
// it holds model.json, LayoutHuggingFace for onnx/vision_model.onnx with
// onnx/text_model.onnx, LayoutOpenCLIP for visual/model.onnx with
// textual/model.onnx. Anything else is an error wrapping ErrLayout that lists
// what was looked for.
func DetectLayout(dir string) (string, error) {
	if isFile(filepath.Join(dir, encoders.ManifestFile)) {
		return LayoutMMSearch, nil
	}
	return detectExport(dir)
}

// detectExport is DetectLayout for export folders: it ignores model.json.
func detectExport(dir string) (string, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("import: %w", err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("import: %s is not a folder", dir)
	}
	if firstExisting(dir, hfVisionCandidates) != "" && firstExisting(dir, hfTextCandidates) != "" {
		return LayoutHuggingFace, nil
	}
	if isFile(filepath.Join(dir, filepath.FromSlash(ocVision))) && isFile(filepath.Join(dir, filepath.FromSlash(ocText))) {
		return LayoutOpenCLIP, nil
	}
	var found []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".onnx") && len(found) < 8 {
			rel, _ := filepath.Rel(dir, p)
			found = append(found, filepath.ToSlash(rel))
		}
		return nil
	})
	what := "no .onnx files"
	if len(found) > 0 {
		what = "ONNX files found: " + strings.Join(found, ", ")
	}
	return "", fmt.Errorf("%w in %s: looked for %s (mmsearch); %s + %s with tokenizer.json, preprocessor_config.json and config.json (Hugging Face export); %s + %s with config.json and tokenizer files (OpenCLIP export); %s",
		ErrLayout, dir, encoders.ManifestFile, hfVisionCandidates[0], hfTextCandidates[0], ocVision, ocText, what)
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// firstExisting returns the first of the slash paths that is a file in dir.
func firstExisting(dir string, rels []string) string {
	for _, r := range rels {
		if isFile(filepath.Join(dir, filepath.FromSlash(r))) {
			return r
		}
	}
	return ""
}

// readJSON decodes dir/rel into v; a missing file is reported with os.ErrNotExist.
func readJSON(dir, rel string, v any) error {
	data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil {
		return err
	}
	if len(data) > 64<<20 {
		return fmt.Errorf("%s is too large for a configuration file", rel)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	return nil
}

// preprocessing is what the image tower's manifest needs from a folder.
type preprocessing struct {
	size          int
	interpolation string
	mean, std     [3]float32
}

// hfConfig is the part of a Hugging Face CLIP config.json the importer reads.
type hfConfig struct {
	ProjectionDim int `json:"projection_dim"`
	TextConfig    struct {
		MaxPositionEmbeddings int             `json:"max_position_embeddings"`
		VocabSize             int             `json:"vocab_size"`
		ProjectionDim         int             `json:"projection_dim"`
		BosTokenID            json.RawMessage `json:"bos_token_id"`
		EosTokenID            json.RawMessage `json:"eos_token_id"`
		PadTokenID            json.RawMessage `json:"pad_token_id"`
	} `json:"text_config"`
	VisionConfig struct {
		ImageSize     int `json:"image_size"`
		ProjectionDim int `json:"projection_dim"`
	} `json:"vision_config"`
}

// hfPreprocessor is the part of preprocessor_config.json the importer reads.
type hfPreprocessor struct {
	CropSize      json.RawMessage `json:"crop_size"`
	Size          json.RawMessage `json:"size"`
	ImageMean     []float64       `json:"image_mean"`
	ImageStd      []float64       `json:"image_std"`
	Resample      *int            `json:"resample"`
	DoResize      *bool           `json:"do_resize"`
	DoCenterCrop  *bool           `json:"do_center_crop"`
	DoNormalize   *bool           `json:"do_normalize"`
	DoRescale     *bool           `json:"do_rescale"`
	RescaleFactor *float64        `json:"rescale_factor"`
}

// parseSizeField reads a size given as a number, {"shortest_edge": n}, or
// {"height": h, "width": w}. shortest is false for the height/width form.
func parseSizeField(raw json.RawMessage) (n int, shortest bool, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return 0, false, nil
	}
	var num float64
	if err := json.Unmarshal(raw, &num); err == nil {
		if num != math.Trunc(num) || num <= 0 {
			return 0, false, fmt.Errorf("size %s is not a positive integer", raw)
		}
		return int(num), true, nil
	}
	var obj map[string]float64
	if err := json.Unmarshal(raw, &obj); err != nil {
		var pair []float64
		if err := json.Unmarshal(raw, &pair); err == nil && len(pair) == 2 {
			if pair[0] != pair[1] {
				return 0, false, fmt.Errorf("size %s is not square", raw)
			}
			return int(pair[0]), false, nil
		}
		return 0, false, fmt.Errorf("size %s: want a number, {\"shortest_edge\": n} or {\"height\": h, \"width\": w}", raw)
	}
	if se, ok := obj["shortest_edge"]; ok {
		return int(se), true, nil
	}
	h, hok := obj["height"]
	w, wok := obj["width"]
	if hok && wok {
		if h != w {
			return 0, false, fmt.Errorf("size %s is not square (mmsearch crops square images)", raw)
		}
		return int(h), false, nil
	}
	return 0, false, fmt.Errorf("size %s: want shortest_edge or height and width", raw)
}

// interpolationOf maps PIL resample codes to manifest names.
func interpolationOf(resample *int) (string, error) {
	if resample == nil {
		return "bicubic", nil
	}
	switch *resample {
	case 3:
		return "bicubic", nil
	case 2:
		return "bilinear", nil
	}
	return "", fmt.Errorf("resample %d is not supported (want 3 = bicubic or 2 = bilinear)", *resample)
}

func floats3(field string, v []float64) ([3]float32, error) {
	var out [3]float32
	if len(v) != 3 {
		return out, fmt.Errorf("%s has %d values, want 3", field, len(v))
	}
	for i, x := range v {
		out[i] = float32(x)
	}
	return out, nil
}

// parseHFPreprocessor turns a preprocessor_config.json into the manifest's
// preprocessing. warn collects what the manifest cannot express exactly.
func parseHFPreprocessor(p *hfPreprocessor, warn func(string, ...any)) (preprocessing, error) {
	pp := preprocessing{mean: clipMean, std: clipStd}
	if p.DoResize != nil && !*p.DoResize {
		return pp, errors.New("preprocessor_config.json: do_resize is false; mmsearch always resizes")
	}
	if p.DoRescale != nil && !*p.DoRescale {
		return pp, errors.New("preprocessor_config.json: do_rescale is false; mmsearch scales pixels to [0, 1]")
	}
	if p.RescaleFactor != nil && math.Abs(*p.RescaleFactor-1.0/255) > 1e-9 {
		return pp, fmt.Errorf("preprocessor_config.json: rescale_factor %g is not 1/255", *p.RescaleFactor)
	}
	resize, shortest, err := parseSizeField(p.Size)
	if err != nil {
		return pp, fmt.Errorf("preprocessor_config.json: %w", err)
	}
	crop, _, err := parseSizeField(p.CropSize)
	if err != nil {
		return pp, fmt.Errorf("preprocessor_config.json: crop_size: %w", err)
	}
	if p.DoCenterCrop != nil && !*p.DoCenterCrop {
		crop = 0
	}
	switch {
	case crop > 0 && resize > 0 && shortest && resize != crop:
		return pp, fmt.Errorf("preprocessor_config.json resizes the shorter side to %d and crops %d; mmsearch resizes and crops to one size", resize, crop)
	case crop > 0:
		pp.size = crop
	case resize > 0:
		pp.size = resize
	default:
		return pp, errors.New("preprocessor_config.json gives neither crop_size nor size")
	}
	if resize > 0 && !shortest {
		warn("preprocessor_config.json resizes to %dx%d without keeping the aspect ratio; mmsearch resizes the shorter side and crops the centre", resize, resize)
	}
	if crop == 0 {
		warn("preprocessor_config.json does not crop; mmsearch crops the centre square")
	}
	if pp.interpolation, err = interpolationOf(p.Resample); err != nil {
		return pp, fmt.Errorf("preprocessor_config.json: %w", err)
	}
	if p.DoNormalize != nil && !*p.DoNormalize {
		pp.mean, pp.std = [3]float32{0, 0, 0}, [3]float32{1, 1, 1}
		return pp, nil
	}
	if p.ImageMean == nil || p.ImageStd == nil {
		warn("preprocessor_config.json gives no image_mean/image_std; using CLIP's")
		return pp, nil
	}
	if pp.mean, err = floats3("image_mean", p.ImageMean); err != nil {
		return pp, fmt.Errorf("preprocessor_config.json: %w", err)
	}
	if pp.std, err = floats3("image_std", p.ImageStd); err != nil {
		return pp, fmt.Errorf("preprocessor_config.json: %w", err)
	}
	return pp, nil
}

// openclipModelCfg is open_clip's model configuration (model_cfg in
// open_clip_config.json, or the whole config.json of immich-style exports).
type openclipModelCfg struct {
	EmbedDim  int `json:"embed_dim"`
	VisionCfg struct {
		ImageSize json.RawMessage `json:"image_size"`
	} `json:"vision_cfg"`
	TextCfg struct {
		ContextLength   int    `json:"context_length"`
		VocabSize       int    `json:"vocab_size"`
		HFTokenizerName string `json:"hf_tokenizer_name"`
	} `json:"text_cfg"`
}

// openclipPreprocess is open_clip's preprocess_cfg.
type openclipPreprocess struct {
	Size          json.RawMessage `json:"size"`
	Mode          string          `json:"mode"`
	Mean          []float64       `json:"mean"`
	Std           []float64       `json:"std"`
	Interpolation string          `json:"interpolation"`
	ResizeMode    string          `json:"resize_mode"`
}

// openclipConfig reads both config.json styles: {"model_cfg": ...,
// "preprocess_cfg": ...} (open_clip_config.json) and the bare model config.
type openclipConfig struct {
	openclipModelCfg
	ModelCfg      *openclipModelCfg   `json:"model_cfg"`
	PreprocessCfg *openclipPreprocess `json:"preprocess_cfg"`
}

func (c *openclipConfig) model() *openclipModelCfg {
	if c.ModelCfg != nil {
		return c.ModelCfg
	}
	return &c.openclipModelCfg
}

// parseOpenCLIPPreprocess turns open_clip's preprocess_cfg (nil: none given)
// and the model's image size into the manifest's preprocessing.
func parseOpenCLIPPreprocess(p *openclipPreprocess, imageSize json.RawMessage, warn func(string, ...any)) (preprocessing, error) {
	pp := preprocessing{mean: clipMean, std: clipStd, interpolation: "bicubic"}
	size, _, err := parseSizeField(imageSize)
	if err != nil {
		return pp, fmt.Errorf("config.json vision_cfg.image_size: %w", err)
	}
	if p == nil {
		warn("no preprocess_cfg (config.json or visual/preprocess_cfg.json); using CLIP's mean/std and bicubic resizing")
	} else {
		if ps, _, err := parseSizeField(p.Size); err != nil {
			return pp, fmt.Errorf("preprocess_cfg: %w", err)
		} else if ps > 0 {
			if size > 0 && ps != size {
				return pp, fmt.Errorf("preprocess_cfg size %d differs from vision_cfg.image_size %d", ps, size)
			}
			size = ps
		}
		switch p.ResizeMode {
		case "", "shortest":
		default:
			return pp, fmt.Errorf("preprocess_cfg resize_mode %q is not supported (mmsearch resizes the shortest side)", p.ResizeMode)
		}
		switch p.Interpolation {
		case "", "bicubic":
		case "bilinear":
			pp.interpolation = "bilinear"
		default:
			return pp, fmt.Errorf("preprocess_cfg interpolation %q is not supported (want bicubic or bilinear)", p.Interpolation)
		}
		if p.Mode != "" && p.Mode != "RGB" {
			return pp, fmt.Errorf("preprocess_cfg mode %q is not supported (want RGB)", p.Mode)
		}
		if p.Mean != nil {
			if pp.mean, err = floats3("preprocess_cfg mean", p.Mean); err != nil {
				return pp, err
			}
		}
		if p.Std != nil {
			if pp.std, err = floats3("preprocess_cfg std", p.Std); err != nil {
				return pp, err
			}
		}
	}
	if size <= 0 {
		return pp, errors.New("config.json gives no image size (model_cfg.vision_cfg.image_size)")
	}
	pp.size = size
	return pp, nil
}

// tokenizerFiles is the tokenizer a folder provides.
type tokenizerFiles struct {
	spec  encoders.TokenizerSpec
	dir   string   // slash path of the folder holding the files ("" = root)
	files []string // slash paths relative to the model folder
}

// findTokenizer looks in each of the sub-folders (slash paths, "" = the
// model folder) for tokenizer.json, then vocab.json with merges.txt, then
// bpe_simple_vocab_16e6.txt.gz.
func findTokenizer(root string, subdirs []string) (tokenizerFiles, error) {
	var tried []string
	for _, sub := range subdirs {
		j := func(name string) string { return path.Join(sub, name) }
		has := func(rel string) bool { return isFile(filepath.Join(root, filepath.FromSlash(rel))) }
		switch {
		case has(j(tokenizer.TokenizerJSONName)):
			return tokenizerFiles{spec: encoders.TokenizerSpec{Kind: "clip-bpe", TokenizerJSON: j(tokenizer.TokenizerJSONName)}, dir: sub, files: []string{j(tokenizer.TokenizerJSONName)}}, nil
		case has(j(tokenizer.VocabJSONName)) && has(j(tokenizer.MergesTxtName)):
			return tokenizerFiles{spec: encoders.TokenizerSpec{Kind: "clip-bpe", Vocab: j(tokenizer.VocabJSONName), Merges: j(tokenizer.MergesTxtName)}, dir: sub, files: []string{j(tokenizer.VocabJSONName), j(tokenizer.MergesTxtName)}}, nil
		case has(j(tokenizer.CLIPGzipName)):
			return tokenizerFiles{spec: encoders.TokenizerSpec{Kind: "clip-bpe", BPE: j(tokenizer.CLIPGzipName)}, dir: sub, files: []string{j(tokenizer.CLIPGzipName)}}, nil
		}
		tried = append(tried, j(tokenizer.TokenizerJSONName), j(tokenizer.VocabJSONName)+" + "+j(tokenizer.MergesTxtName), j(tokenizer.CLIPGzipName))
	}
	return tokenizerFiles{}, fmt.Errorf("%w: no tokenizer files in %s (looked for %s)", ErrLayout, root, strings.Join(tried, ", "))
}

func (tf tokenizerFiles) load(root string) (*tokenizer.Tokenizer, error) {
	p := func(rel string) string { return filepath.Join(root, filepath.FromSlash(rel)) }
	switch {
	case tf.spec.TokenizerJSON != "":
		return tokenizer.LoadTokenizerJSON(p(tf.spec.TokenizerJSON))
	case tf.spec.Vocab != "":
		return tokenizer.LoadVocabMerges(p(tf.spec.Vocab), p(tf.spec.Merges))
	default:
		return tokenizer.LoadCLIPGzip(p(tf.spec.BPE))
	}
}

// padToken reads the pad token a tokenizer folder declares: pad_token of
// special_tokens_map.json or tokenizer_config.json (a string or
// {"content": ...}), else padding.pad_id of tokenizer.json. found is false
// when none is declared.
func padToken(root string, tf tokenizerFiles, tok *tokenizer.Tokenizer) (id int64, found bool, err error) {
	for _, name := range []string{"special_tokens_map.json", "tokenizer_config.json"} {
		var m map[string]json.RawMessage
		rel := path.Join(tf.dir, name)
		if err := readJSON(root, rel, &m); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return 0, false, err
		}
		raw, ok := m["pad_token"]
		if !ok || string(raw) == "null" {
			continue
		}
		var content string
		if json.Unmarshal(raw, &content) != nil {
			var obj struct {
				Content string `json:"content"`
			}
			if err := json.Unmarshal(raw, &obj); err != nil {
				return 0, false, fmt.Errorf("%s: pad_token: %w", rel, err)
			}
			content = obj.Content
		}
		tid, ok := tok.ID(content)
		if !ok {
			return 0, false, fmt.Errorf("%s: pad_token %q is not in the vocabulary", rel, content)
		}
		return int64(tid), true, nil
	}
	if tf.spec.TokenizerJSON != "" {
		var tj struct {
			Padding *struct {
				PadID *int64 `json:"pad_id"`
			} `json:"padding"`
		}
		if err := readJSON(root, tf.spec.TokenizerJSON, &tj); err == nil && tj.Padding != nil && tj.Padding.PadID != nil {
			return *tj.Padding.PadID, true, nil
		}
	}
	return 0, false, nil
}

// rawInt reads an integer JSON value; ok is false for null, absent or other types.
func rawInt(raw json.RawMessage) (int64, bool) {
	if len(raw) == 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 64)
	return n, err == nil
}
