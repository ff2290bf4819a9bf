package models

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"mmsearch/encoders"
)

// ImportOptions tunes Import.
type ImportOptions struct {
	// Layout forces a layout (LayoutHuggingFace or LayoutOpenCLIP); empty detects it.
	Layout string
	// InPlace writes model.json into the folder itself instead of copying the
	// model, and links DataDir/models/NAME to the folder.
	InPlace bool
	// Force replaces an installed model of the same name (or, in place, an
	// existing model.json).
	Force bool
	// Description, Version and Templates go into the manifest (defaults:
	// a line naming the source, "imported", DefaultTemplates).
	Description string
	Version     string
	Templates   []string
}

// ImportResult describes an imported model.
type ImportResult struct {
	Name     string             `json:"name"`
	Dir      string             `json:"dir"`
	Layout   string             `json:"layout"`
	InPlace  bool               `json:"in_place"`
	Manifest *encoders.Manifest `json:"manifest"`
	Warnings []string           `json:"warnings,omitempty"`
}

// plan is a manifest built for a folder, with the files that make the model.
type plan struct {
	layout   string
	manifest *encoders.Manifest
	files    []string // slash paths relative to the folder, sorted
	warnings []string
}

func (p *plan) warn(format string, args ...any) {
	p.warnings = append(p.warnings, fmt.Sprintf(format, args...))
}

// inspect reads a Hugging Face or OpenCLIP export folder and builds its
// manifest: preprocessing and token ids from the configuration files, tensor
// names and pooling from the graphs (ONNX Runtime must be started). digests
// may hold known sha256 digests by slash path; others are computed.
func (h *Hub) inspect(ctx context.Context, dir, name, layout string, digests map[string]string, opt ImportOptions) (*plan, error) {
	p := &plan{layout: layout}
	var (
		visionRel, textRel string
		pp                 preprocessing
		tf                 tokenizerFiles
		dim, context       int
		vocabSize          int
		cfgIDs             [3]*int64 // bos, eos, pad from config.json
		padDefaultEnd      bool
		extra              []string
	)
	switch layout {
	case LayoutHuggingFace:
		visionRel, textRel = firstExisting(dir, hfVisionCandidates), firstExisting(dir, hfTextCandidates)
		if visionRel == "" || textRel == "" {
			return nil, fmt.Errorf("%w: %s has no %s and %s", ErrLayout, dir, hfVisionCandidates[0], hfTextCandidates[0])
		}
		var cfg hfConfig
		if err := readJSON(dir, "config.json", &cfg); err != nil {
			return nil, fmt.Errorf("import %s (Hugging Face layout): config.json: %w", dir, err)
		}
		var pre hfPreprocessor
		if err := readJSON(dir, "preprocessor_config.json", &pre); err != nil {
			return nil, fmt.Errorf("import %s (Hugging Face layout): preprocessor_config.json: %w", dir, err)
		}
		var err error
		if pp, err = parseHFPreprocessor(&pre, p.warn); err != nil {
			return nil, fmt.Errorf("import %s: %w", dir, err)
		}
		if vs := cfg.VisionConfig.ImageSize; vs > 0 && vs != pp.size {
			return nil, fmt.Errorf("import %s: config.json vision_config.image_size %d differs from preprocessor_config.json's %d", dir, vs, pp.size)
		}
		dim = cfg.ProjectionDim
		if dim == 0 {
			dim = cfg.TextConfig.ProjectionDim
		}
		context = cfg.TextConfig.MaxPositionEmbeddings
		vocabSize = cfg.TextConfig.VocabSize
		for i, raw := range [][]byte{cfg.TextConfig.BosTokenID, cfg.TextConfig.EosTokenID, cfg.TextConfig.PadTokenID} {
			if v, ok := rawInt(raw); ok {
				cfgIDs[i] = &v
			}
		}
		if tf, err = findTokenizer(dir, []string{""}); err != nil {
			return nil, fmt.Errorf("import %s (Hugging Face layout): %w", dir, err)
		}
		padDefaultEnd = true // transformers' CLIPTokenizer pads with <|endoftext|>
		extra = []string{"config.json", "preprocessor_config.json", "special_tokens_map.json", "tokenizer_config.json"}
	case LayoutOpenCLIP:
		visionRel, textRel = ocVision, ocText
		if !isFile(filepath.Join(dir, filepath.FromSlash(ocVision))) || !isFile(filepath.Join(dir, filepath.FromSlash(ocText))) {
			return nil, fmt.Errorf("%w: %s has no %s and %s", ErrLayout, dir, ocVision, ocText)
		}
		var cfg openclipConfig
		if err := readJSON(dir, "config.json", &cfg); err != nil {
			return nil, fmt.Errorf("import %s (OpenCLIP layout): config.json: %w", dir, err)
		}
		mc := cfg.model()
		pre := cfg.PreprocessCfg
		if pre == nil {
			var vp openclipPreprocess
			if err := readJSON(dir, "visual/preprocess_cfg.json", &vp); err == nil {
				pre = &vp
				extra = append(extra, "visual/preprocess_cfg.json")
			} else if !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("import %s: %w", dir, err)
			}
		}
		var err error
		if pp, err = parseOpenCLIPPreprocess(pre, mc.VisionCfg.ImageSize, p.warn); err != nil {
			return nil, fmt.Errorf("import %s: %w", dir, err)
		}
		dim, context, vocabSize = mc.EmbedDim, mc.TextCfg.ContextLength, mc.TextCfg.VocabSize
		if tf, err = findTokenizer(dir, []string{"textual", ""}); err != nil {
			if mc.TextCfg.HFTokenizerName != "" {
				err = fmt.Errorf("%w (the model's tokenizer is %s, which must be saved into the folder and be CLIP BPE)", err, mc.TextCfg.HFTokenizerName)
			}
			return nil, fmt.Errorf("import %s (OpenCLIP layout): %w", dir, err)
		}
		extra = append(extra, "config.json", path.Join(tf.dir, "special_tokens_map.json"), path.Join(tf.dir, "tokenizer_config.json"))
	default:
		return nil, fmt.Errorf("%w: cannot import layout %q", ErrLayout, layout)
	}

	tok, err := tf.load(dir)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", dir, err)
	}
	if vocabSize > 0 && tok.VocabSize() != vocabSize {
		return nil, fmt.Errorf("import %s: the tokenizer has %d tokens but the text model's vocabulary is %d", dir, tok.VocabSize(), vocabSize)
	}
	start, end := int64(tok.StartOfText()), int64(tok.EndOfText())
	for i, what := range []string{"bos_token_id", "eos_token_id"} {
		want := []int64{start, end}[i]
		if v := cfgIDs[i]; v != nil && *v != want {
			p.warn("config.json text_config.%s is %d but the tokenizer's %s is %d; using the tokenizer's (early transformers exports carry placeholder ids)", what, *v, []string{"<|startoftext|>", "<|endoftext|>"}[i], want)
		}
	}
	pad, found, err := padToken(dir, tf, tok)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", dir, err)
	}
	if !found {
		pad = 0 // open_clip pads with 0
		if padDefaultEnd {
			pad = end
		}
	}
	if v := cfgIDs[2]; v != nil && *v != pad {
		p.warn("config.json text_config.pad_token_id is %d; padding with %d as the tokenizer files say (the text graph masks or ignores padding)", *v, pad)
	}

	if _, err := encoders.StartRuntime(h.Runtime); err != nil {
		return nil, err
	}
	vg, err := readGraph(filepath.Join(dir, filepath.FromSlash(visionRel)))
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", dir, err)
	}
	img, err := inspectImageGraph(vg, p.warn)
	if err != nil {
		return nil, fmt.Errorf("import %s: %s: %w", dir, visionRel, err)
	}
	tg, err := readGraph(filepath.Join(dir, filepath.FromSlash(textRel)))
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", dir, err)
	}
	txt, err := inspectTextGraph(tg, p.warn)
	if err != nil {
		return nil, fmt.Errorf("import %s: %s: %w", dir, textRel, err)
	}
	if img.size != 0 && img.size != pp.size {
		return nil, fmt.Errorf("import %s: the image graph takes %dx%d pixels but the preprocessing makes %dx%d", dir, img.size, img.size, pp.size, pp.size)
	}
	for _, g := range []struct {
		what string
		d    int
	}{{"image graph output " + img.output.Name, img.dim}, {"text graph output " + txt.output.Name, txt.dim}} {
		switch {
		case g.d == 0:
		case dim == 0:
			dim = g.d
		case g.d != dim:
			return nil, fmt.Errorf("import %s: %s has width %d but the configuration says embedding dimension %d", dir, g.what, g.d, dim)
		}
	}
	if dim == 0 {
		return nil, fmt.Errorf("import %s: neither the configuration nor the graphs give the embedding dimension", dir)
	}
	switch {
	case txt.context != 0 && context != 0 && txt.context != context:
		return nil, fmt.Errorf("import %s: the text graph takes %d tokens but the configuration says %d", dir, txt.context, context)
	case context == 0 && txt.context != 0:
		context = txt.context
	case context == 0:
		context = defaultContext
	}

	files := []string{visionRel, textRel}
	files = append(files, tf.files...)
	for _, rel := range extra {
		if isFile(filepath.Join(dir, filepath.FromSlash(rel))) {
			files = append(files, rel)
		}
	}
	for _, rel := range []string{visionRel, textRel} {
		// ONNX external-data files sit beside the graph.
		for _, suffix := range []string{"_data", ".data"} {
			if isFile(filepath.Join(dir, filepath.FromSlash(rel+suffix))) {
				files = append(files, rel+suffix)
			}
		}
	}
	p.files = dedupeSorted(files)

	sum := func(rel string) (string, error) {
		if s, ok := digests[rel]; ok {
			return s, nil
		}
		return hashFile(ctx, filepath.Join(dir, filepath.FromSlash(rel)))
	}
	vsum, err := sum(visionRel)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", dir, err)
	}
	tsum, err := sum(textRel)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", dir, err)
	}

	templates := opt.Templates
	if templates == nil {
		templates = DefaultTemplates
	}
	version := opt.Version
	if version == "" {
		version = "imported"
	}
	desc := opt.Description
	if desc == "" {
		desc = fmt.Sprintf("imported from %s (%s layout)", filepath.Base(dir), layout)
	}
	m := &encoders.Manifest{
		Schema:       encoders.ManifestSchema,
		Name:         name,
		Version:      version,
		Description:  desc,
		EmbeddingDim: dim,
		Image: encoders.ImageTower{
			ONNX:          visionRel,
			SHA256:        vsum,
			Input:         encoders.TensorSpec{Name: img.input.Name, DType: "float32"},
			Output:        encoders.TensorSpec{Name: img.output.Name, DType: "float32"},
			Size:          pp.size,
			Resize:        "shortest_edge",
			Interpolation: pp.interpolation,
			Crop:          "center",
			Mean:          pp.mean,
			Std:           pp.std,
			ChannelOrder:  "RGB",
		},
		Text: encoders.TextTower{
			ONNX:          textRel,
			SHA256:        tsum,
			InputIDs:      encoders.TensorSpec{Name: txt.ids.Name, DType: txt.ids.DType},
			Output:        encoders.TensorSpec{Name: txt.output.Name, DType: "float32"},
			Pooling:       txt.pooling,
			Tokenizer:     tf.spec,
			ContextLength: context,
			StartID:       start,
			EndID:         end,
			PadID:         pad,
			Templates:     templates,
		},
		Source: &encoders.SourceInfo{Layout: layout},
	}
	if txt.mask != nil {
		m.Text.AttentionMask = &encoders.TensorSpec{Name: txt.mask.Name, DType: txt.mask.DType}
	}
	if len(p.warnings) > 0 {
		m.Source.Note = "import warnings: " + strings.Join(p.warnings, "; ")
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("import %s: %w", dir, err)
	}
	p.manifest = m
	return p, nil
}

func dedupeSorted(list []string) []string {
	sort.Strings(list)
	out := list[:0]
	for i, s := range list {
		if i == 0 || s != list[i-1] {
			out = append(out, s)
		}
	}
	return out
}

// Import makes a Hugging Face or OpenCLIP export folder usable as model name:
// it detects the layout (or uses opt.Layout), builds model.json from the
// folder's configuration and graphs, checks the graphs against it, and
// installs the model: the needed files are copied into DataDir/models/NAME
// (through a staging folder renamed into place), or with opt.InPlace the
// manifest is written into dir and DataDir/models/NAME links to dir. An
// empty name takes the folder's base name.
func (h *Hub) Import(ctx context.Context, dir, name string, opt ImportOptions) (*ImportResult, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", dir, err)
	}
	if name == "" {
		name = filepath.Base(abs)
	}
	if err := ValidName(name); err != nil {
		return nil, fmt.Errorf("import %s: %w (choose one with --name)", dir, err)
	}
	layout := opt.Layout
	if layout == "" {
		if layout, err = detectExport(abs); err != nil {
			return nil, err
		}
	}
	unlock, err := h.lock(name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	final := filepath.Join(h.ModelsDir(), name)
	if !opt.Force && exists(final) {
		return nil, fmt.Errorf("%w: %s (pass --force to replace it)", ErrExists, final)
	}
	p, err := h.inspect(ctx, abs, name, layout, nil, opt)
	if err != nil {
		return nil, err
	}
	if err := encoders.VerifyGraphs(abs, p.manifest); err != nil {
		return nil, fmt.Errorf("import %s: %w", dir, err)
	}
	res := &ImportResult{Name: name, Layout: layout, InPlace: opt.InPlace, Manifest: p.manifest, Warnings: p.warnings}
	if opt.InPlace {
		if exists(filepath.Join(abs, encoders.ManifestFile)) && !opt.Force {
			return nil, fmt.Errorf("%w: %s already has %s (pass --force to rewrite it)", ErrExists, dir, encoders.ManifestFile)
		}
		if err := writeManifestAtomic(abs, p.manifest); err != nil {
			return nil, err
		}
		link, err := os.MkdirTemp(h.stagingRoot(), "link-"+name+"-")
		if err != nil {
			return nil, fmt.Errorf("import %s: %w", dir, err)
		}
		defer os.RemoveAll(link)
		tmp := filepath.Join(link, name)
		if err := os.Symlink(abs, tmp); err != nil {
			return nil, fmt.Errorf("import %s: %w", dir, err)
		}
		h.at("verified", final)
		if err := installPath(tmp, final, opt.Force, h.stagingRoot()); err != nil {
			return nil, err
		}
		h.stamp(abs, p.manifest)
		res.Dir = abs
		return res, nil
	}

	work, err := os.MkdirTemp(h.stagingRoot(), "import-"+name+"-")
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", dir, err)
	}
	defer os.RemoveAll(work)
	tree := filepath.Join(work, "tree")
	prov := &Provenance{Schema: 1, Name: name, Origin: "import", Layout: layout, SourceDir: abs, Created: time.Now().UTC(), Warnings: p.warnings}
	for _, rel := range p.files {
		src := filepath.Join(abs, filepath.FromSlash(rel))
		dst := filepath.Join(tree, filepath.FromSlash(rel))
		size, sum, err := copyFile(ctx, src, dst, h.maxFileBytes())
		if err != nil {
			return nil, fmt.Errorf("import %s: %w", dir, err)
		}
		if (rel == p.manifest.Image.ONNX && sum != p.manifest.Image.SHA256) || (rel == p.manifest.Text.ONNX && sum != p.manifest.Text.SHA256) {
			return nil, fmt.Errorf("import %s: %s changed while it was being imported; run the import again", dir, rel)
		}
		prov.Files = append(prov.Files, ProvenanceFile{Path: rel, Size: size, SHA256: sum, Checksum: ChecksumComputed})
	}
	if err := encoders.WriteManifest(tree, p.manifest); err != nil {
		return nil, fmt.Errorf("import %s: %w", dir, err)
	}
	if err := writeProvenance(tree, prov); err != nil {
		return nil, err
	}
	if _, err := encoders.ReadManifest(tree); err != nil {
		return nil, fmt.Errorf("import %s: %w", dir, err)
	}
	if err := encoders.VerifyFiles(tree, p.manifest); err != nil {
		return nil, fmt.Errorf("import %s: %w", dir, err)
	}
	h.at("verified", final)
	if err := installPath(tree, final, opt.Force, h.stagingRoot()); err != nil {
		return nil, err
	}
	h.at("installed", final)
	h.stamp(final, p.manifest)
	res.Dir = final
	return res, nil
}
