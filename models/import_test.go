package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"mmsearch/encoders"
	"mmsearch/encoders/imageproc"

	"mmsearch/internal/sharedtest"
)

const (
	python      = "/usr/bin/python3"
	makerScript = "../onnx-models/tools/make_random_clip.py"
	sharedBPE   = "../../shared/clip/bpe_simple_vocab_16e6.txt.gz"
	catJPEG     = "../../shared/images/formats/cat.jpg"
)

// fixtureRoot holds the generated models, built once per test binary.
var (
	fixtureRoot string
	fixtureMu   sync.Mutex
	fixtureDirs = map[string]string{}
	fixtureErrs = map[string]error{}
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "modelhub-fixtures-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fixtureRoot = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// randomCLIP returns a folder made by make_random_clip.py --tiny with the
// given extra flags (seed 0), generating it on first use. It skips the test
// when Python with torch or the shared CLIP vocabulary is missing.
func randomCLIP(t *testing.T, flags ...string) string {
	t.Helper()
	sharedtest.Require(t, sharedBPE)
	fixtureMu.Lock()
	defer fixtureMu.Unlock()
	key := strings.Join(flags, " ")
	if dir, ok := fixtureDirs[key]; ok {
		return dir
	}
	if err, ok := fixtureErrs[key]; ok {
		t.Fatal(err)
	}
	if out, err := exec.Command(python, "-c", "import torch").CombinedOutput(); err != nil {
		t.Skipf("%s cannot import torch (install Debian's python3-torch to run the import tests): %v %s", python, err, strings.TrimSpace(string(out)))
	}
	dir := filepath.Join(fixtureRoot, fmt.Sprintf("m%d", len(fixtureDirs)))
	args := append([]string{makerScript, "--tiny", "--out", dir, "--bpe", sharedBPE}, flags...)
	out, err := exec.Command(python, args...).CombinedOutput()
	if err != nil {
		fixtureErrs[key] = fmt.Errorf("make_random_clip.py %s: %v\n%s", key, err, out)
		t.Fatal(fixtureErrs[key])
	}
	fixtureDirs[key] = dir
	return dir
}

func needCat(t *testing.T) {
	t.Helper()
	sharedtest.Require(t, catJPEG)
}

type embeddings struct {
	image []float32
	texts [][]float32
}

var probeTexts = []string{"a photo of a cat", "a red bicycle"}

// embed opens an installed model, embeds cat.jpg and the probe texts twice
// each (new encoders the second time) and checks unit norm and determinism.
func embed(t *testing.T, dir string) embeddings {
	t.Helper()
	m, err := encoders.OpenModel(dir, encoders.RuntimeOptions{})
	if err != nil {
		t.Fatalf("open %s: %v", dir, err)
	}
	var runs []embeddings
	for range 2 {
		ie, err := encoders.NewImageEncoder(m, encoders.SessionOptions{IntraOpThreads: 1})
		if err != nil {
			t.Fatal(err)
		}
		vecs, errs, err := ie.EncodeFiles(context.Background(), []string{catJPEG, catJPEG}, imageproc.Options{})
		ie.Close()
		if err != nil || errs != nil {
			t.Fatalf("embed image: %v %v", err, errs)
		}
		te, err := encoders.NewTextEncoder(m, encoders.SessionOptions{IntraOpThreads: 1})
		if err != nil {
			t.Fatal(err)
		}
		tv, err := te.EncodeTexts(context.Background(), probeTexts)
		te.Close()
		if err != nil {
			t.Fatalf("embed texts: %v", err)
		}
		assertSame(t, "the same image in one batch", vecs[0], vecs[1], 0)
		runs = append(runs, embeddings{image: vecs[0], texts: tv})
	}
	e := runs[0]
	for _, v := range append([][]float32{e.image}, e.texts...) {
		if len(v) != m.Dim() {
			t.Fatalf("vector of %d values, want %d", len(v), m.Dim())
		}
		if n := norm(v); math.Abs(n-1) > 1e-5 {
			t.Fatalf("norm %v, want 1", n)
		}
	}
	assertSame(t, "image across encoders", runs[0].image, runs[1].image, 0)
	for i := range probeTexts {
		assertSame(t, "text across encoders", runs[0].texts[i], runs[1].texts[i], 0)
	}
	if c := cosine(e.texts[0], e.texts[1]); c > 0.9999 {
		t.Errorf("different texts embed alike (cosine %v)", c)
	}
	return e
}

func norm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

func cosine(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s / norm(a) / norm(b)
}

func assertSame(t *testing.T, what string, a, b []float32, tol float64) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%s: lengths %d and %d", what, len(a), len(b))
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > tol {
			t.Fatalf("%s: [%d] %v vs %v", what, i, a[i], b[i])
		}
	}
}

func hasWarning(ws []string, part string) bool {
	for _, w := range ws {
		if strings.Contains(w, part) {
			return true
		}
	}
	return false
}

func TestImportHuggingFaceLayout(t *testing.T) {
	startRuntime(t)
	needCat(t)
	src := randomCLIP(t)
	h := testHub(t, nil)
	res, err := h.Import(context.Background(), src, "hf-tiny", ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Layout != LayoutHuggingFace || res.Dir != filepath.Join(h.ModelsDir(), "hf-tiny") || res.InPlace {
		t.Fatalf("result %+v", res)
	}
	m := res.Manifest
	checks := []struct {
		what      string
		got, want any
	}{
		{"dim", m.EmbeddingDim, 32},
		{"image onnx", m.Image.ONNX, "onnx/vision_model.onnx"},
		{"image input", m.Image.Input, encoders.TensorSpec{Name: "pixel_values", DType: "float32"}},
		{"image output", m.Image.Output.Name, "image_embeds"},
		{"size", m.Image.Size, 32},
		{"interpolation", m.Image.Interpolation, "bicubic"},
		{"mean", m.Image.Mean, clipMean},
		{"std", m.Image.Std, clipStd},
		{"text onnx", m.Text.ONNX, "onnx/text_model.onnx"},
		{"ids", m.Text.InputIDs, encoders.TensorSpec{Name: "input_ids", DType: "int64"}},
		{"mask", *m.Text.AttentionMask, encoders.TensorSpec{Name: "attention_mask", DType: "int64"}},
		{"text output", m.Text.Output.Name, "text_embeds"},
		{"pooling", m.Text.Pooling, encoders.PoolingProjected},
		{"tokenizer", m.Text.Tokenizer, encoders.TokenizerSpec{Kind: "clip-bpe", TokenizerJSON: "tokenizer.json"}},
		{"context", m.Text.ContextLength, 77},
		{"start", m.Text.StartID, int64(49406)},
		{"end", m.Text.EndID, int64(49407)},
		{"pad", m.Text.PadID, int64(49407)},
		{"layout", m.Source.Layout, LayoutHuggingFace},
	}
	for _, c := range checks {
		if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	if !hasWarning(res.Warnings, "pad_token_id is 1") {
		t.Errorf("no warning about config.json's pad_token_id: %q", res.Warnings)
	}
	for _, rel := range []string{"onnx/vision_model.onnx", "onnx/text_model.onnx", "tokenizer.json", "config.json", "preprocessor_config.json", "special_tokens_map.json", "model.json", ProvenanceName} {
		if !isFile(filepath.Join(res.Dir, filepath.FromSlash(rel))) {
			t.Errorf("%s not installed", rel)
		}
	}
	embed(t, res.Dir)
	rep, err := h.Verify(context.Background(), "hf-tiny")
	if err != nil || !rep.OK || !rep.GraphsOK || len(rep.Files) < 6 {
		t.Fatalf("verify: %+v, %v", rep, err)
	}
	// Verification covers the tokenizer through provenance.json.
	tj := filepath.Join(res.Dir, "tokenizer.json")
	data, _ := os.ReadFile(tj)
	os.WriteFile(tj, append(data, ' '), 0o644)
	rep, err = h.Verify(context.Background(), "hf-tiny")
	if !errors.Is(err, ErrChecksum) || rep == nil || rep.OK {
		t.Fatalf("verify after editing tokenizer.json: %+v, %v", rep, err)
	}
	if _, err := h.Import(context.Background(), src, "hf-tiny", ImportOptions{}); !errors.Is(err, ErrExists) {
		t.Fatalf("second import: %v, want ErrExists", err)
	}
	if _, err := h.Import(context.Background(), src, "hf-tiny", ImportOptions{Force: true}); err != nil {
		t.Fatalf("forced import: %v", err)
	}
	if _, err := h.Verify(context.Background(), "hf-tiny"); err != nil {
		t.Fatalf("verify after the forced import: %v", err)
	}
}

// TestImportLayoutsAgree imports the same random weights exported in the
// OpenCLIP layout and in the Hugging Face layout with per-token outputs;
// after normalization all three must embed alike, which checks the
// preprocessing, tokenizer ids, padding and pooling each import chose.
func TestImportLayoutsAgree(t *testing.T) {
	startRuntime(t)
	needCat(t)
	hf, oc, hidden := randomCLIP(t), randomCLIP(t, "--layout", "openclip"), randomCLIP(t, "--text-output", "hidden")
	h := testHub(t, nil)
	var got []embeddings
	for _, src := range []struct{ name, dir string }{{"hf", hf}, {"oc", oc}, {"hidden", hidden}} {
		res, err := h.Import(context.Background(), src.dir, src.name, ImportOptions{})
		if err != nil {
			t.Fatalf("%s: %v", src.name, err)
		}
		m := res.Manifest
		switch src.name {
		case "oc":
			if res.Layout != LayoutOpenCLIP || m.Image.Input.Name != "image" || m.Image.Output.Name != "image_embedding" ||
				m.Text.InputIDs != (encoders.TensorSpec{Name: "text", DType: "int32"}) || m.Text.AttentionMask != nil ||
				m.Text.Output.Name != "text_embedding" || m.Text.Pooling != encoders.PoolingProjected || m.Text.PadID != 0 ||
				m.Text.Tokenizer.Vocab != "textual/vocab.json" || m.Text.Tokenizer.Merges != "textual/merges.txt" || m.Image.Size != 32 || m.EmbeddingDim != 32 {
				t.Errorf("OpenCLIP manifest: %+v / %+v", m.Image, m.Text)
			}
		case "hidden":
			if m.Text.Output.Name != "last_hidden_state" || m.Text.Pooling != encoders.PoolingArgmaxEOT {
				t.Errorf("hidden-state manifest: %+v", m.Text)
			}
			if !hasWarning(res.Warnings, "argmax_eot") {
				t.Errorf("no warning about argmax_eot pooling: %q", res.Warnings)
			}
		}
		got = append(got, embed(t, res.Dir))
	}
	for i, name := range []string{"OpenCLIP", "hidden-state"} {
		other := got[i+1]
		if c := cosine(got[0].image, other.image); c < 0.99999 {
			t.Errorf("%s image embedding differs from the Hugging Face one: cosine %v", name, c)
		}
		for j := range probeTexts {
			if c := cosine(got[0].texts[j], other.texts[j]); c < 0.99999 {
				t.Errorf("%s text %q differs from the Hugging Face one: cosine %v", name, probeTexts[j], c)
			}
		}
	}
}

func TestImportInPlace(t *testing.T) {
	startRuntime(t)
	needCat(t)
	src := t.TempDir()
	copyTree(t, randomCLIP(t, "--layout", "openclip"), src)
	h := testHub(t, nil)
	res, err := h.Import(context.Background(), src, "", ImportOptions{InPlace: true})
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(src)
	if res.Name != name || res.Dir != src || !res.InPlace {
		t.Fatalf("result %+v", res)
	}
	if !isFile(filepath.Join(src, encoders.ManifestFile)) {
		t.Fatal("no model.json written in place")
	}
	link := filepath.Join(h.ModelsDir(), name)
	if target, err := os.Readlink(link); err != nil || target != src {
		t.Fatalf("link %s -> %q, %v", link, target, err)
	}
	dir, err := h.resolve(name)
	if err != nil {
		t.Fatal(err)
	}
	embed(t, dir)
	if _, err := h.Import(context.Background(), src, name, ImportOptions{InPlace: true}); !errors.Is(err, ErrExists) {
		t.Fatalf("second in-place import: %v, want ErrExists", err)
	}
	if _, err := h.Import(context.Background(), src, name, ImportOptions{InPlace: true, Force: true}); err != nil {
		t.Fatalf("forced in-place import: %v", err)
	}
	info, err := h.Info(name, nil)
	if err != nil || info.Link != src || info.Status != StatusInstalled {
		t.Fatalf("info %+v, %v", info, err)
	}
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		_, _, err = copyFile(context.Background(), p, dst, 1<<40)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// editJSON rewrites dir/rel through f.
func editJSON(t *testing.T, dir, rel string, f func(m map[string]any)) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	data, _ = json.Marshal(m)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestImportRefusesInconsistentFolders(t *testing.T) {
	startRuntime(t)
	hf := randomCLIP(t)
	tests := []struct {
		name    string
		modify  func(t *testing.T, dir string)
		wantErr error
		want    string
	}{
		{"resample", func(t *testing.T, dir string) {
			editJSON(t, dir, "preprocessor_config.json", func(m map[string]any) { m["resample"] = 0 })
		}, nil, "resample 0"},
		{"image size differs from the graph", func(t *testing.T, dir string) {
			editJSON(t, dir, "preprocessor_config.json", func(m map[string]any) {
				m["crop_size"] = 64
				m["size"] = map[string]any{"shortest_edge": 64}
			})
			editJSON(t, dir, "config.json", func(m map[string]any) { delete(m, "vision_config") })
		}, nil, "takes 32x32 pixels"},
		{"resize and crop differ", func(t *testing.T, dir string) {
			editJSON(t, dir, "preprocessor_config.json", func(m map[string]any) { m["size"] = map[string]any{"shortest_edge": 40} })
		}, nil, "resizes the shorter side to 40 and crops 32"},
		{"projection width", func(t *testing.T, dir string) {
			editJSON(t, dir, "config.json", func(m map[string]any) { m["projection_dim"] = 64 })
		}, nil, "width 32 but the configuration says embedding dimension 64"},
		{"vocabulary size", func(t *testing.T, dir string) {
			editJSON(t, dir, "config.json", func(m map[string]any) { m["text_config"].(map[string]any)["vocab_size"] = 1000 })
		}, nil, "49408 tokens but the text model's vocabulary is 1000"},
		{"context length", func(t *testing.T, dir string) {
			editJSON(t, dir, "config.json", func(m map[string]any) { m["text_config"].(map[string]any)["max_position_embeddings"] = 1 })
		}, encoders.ErrManifest, "context_length 1"},
		{"no tokenizer", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "tokenizer.json"))
		}, ErrLayout, "looked for tokenizer.json"},
		{"no preprocessor", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "preprocessor_config.json"))
		}, os.ErrNotExist, "preprocessor_config.json"},
		{"unknown pad token", func(t *testing.T, dir string) {
			editJSON(t, dir, "special_tokens_map.json", func(m map[string]any) { m["pad_token"] = "<pad>" })
		}, nil, `pad_token "<pad>" is not in the vocabulary`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			linkFixture(t, hf, dir)
			tc.modify(t, dir)
			h := testHub(t, nil)
			_, err := h.Import(context.Background(), dir, "bad", ImportOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Fatalf("err %v, want one saying %q (is %v)", err, tc.want, tc.wantErr)
			}
			assertNotInstalled(t, h, "bad")
		})
	}
}

// linkFixture makes dir a copy of a fixture whose large ONNX files are
// symbolic links and whose small files are copies (so tests may edit them).
func linkFixture(t *testing.T, from, dir string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(dir, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(dst, 0o755)
		case strings.HasSuffix(p, ".onnx"):
			return os.Symlink(p, dst)
		}
		_, _, err = copyFile(context.Background(), p, dst, 1<<30)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDetectLayout(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "clip.onnx"), []byte("x"), 0o644)
	_, err := DetectLayout(dir)
	if !errors.Is(err, ErrLayout) {
		t.Fatalf("err %v, want ErrLayout", err)
	}
	for _, part := range []string{"onnx/vision_model.onnx", "visual/model.onnx", "model.json", "clip.onnx"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not mention %s", err, part)
		}
	}
	os.MkdirAll(filepath.Join(dir, "visual"), 0o755)
	os.MkdirAll(filepath.Join(dir, "textual"), 0o755)
	os.WriteFile(filepath.Join(dir, "visual", "model.onnx"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "textual", "model.onnx"), []byte("x"), 0o644)
	if l, err := DetectLayout(dir); err != nil || l != LayoutOpenCLIP {
		t.Fatalf("layout %q, %v", l, err)
	}
	os.WriteFile(filepath.Join(dir, "model.json"), []byte("{}"), 0o644)
	if l, _ := DetectLayout(dir); l != LayoutMMSearch {
		t.Fatalf("layout %q with model.json", l)
	}
	if _, err := DetectLayout(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("a missing folder has a layout")
	}
	h := testHub(t, nil)
	if _, err := h.Import(context.Background(), dir, "bad name!", ImportOptions{}); err == nil || !strings.Contains(err.Error(), "--name") {
		t.Fatalf("bad name: %v", err)
	}
}

func TestParseHFPreprocessor(t *testing.T) {
	f := func(x float64) *float64 { return &x }
	i := func(x int) *int { return &x }
	b := func(x bool) *bool { return &x }
	tests := []struct {
		name   string
		in     hfPreprocessor
		size   int
		interp string
		mean   [3]float32
		err    string
		warn   string
	}{
		{"current transformers", hfPreprocessor{CropSize: json.RawMessage(`{"height":224,"width":224}`), Size: json.RawMessage(`{"shortest_edge":224}`), Resample: i(3), ImageMean: []float64{0.1, 0.2, 0.3}, ImageStd: []float64{1, 1, 1}}, 224, "bicubic", [3]float32{0.1, 0.2, 0.3}, "", ""},
		{"legacy integers", hfPreprocessor{CropSize: json.RawMessage(`224`), Size: json.RawMessage(`224`), Resample: i(2)}, 224, "bilinear", clipMean, "", "no image_mean"},
		{"no normalization", hfPreprocessor{CropSize: json.RawMessage(`32`), DoNormalize: b(false)}, 32, "bicubic", [3]float32{}, "", ""},
		{"squash resize", hfPreprocessor{Size: json.RawMessage(`{"height":384,"width":384}`), DoCenterCrop: b(false), ImageMean: []float64{0, 0, 0}, ImageStd: []float64{1, 1, 1}}, 384, "bicubic", [3]float32{}, "", "without keeping the aspect ratio"},
		{"nearest", hfPreprocessor{CropSize: json.RawMessage(`224`), Resample: i(0)}, 0, "", clipMean, "resample 0", ""},
		{"rescale", hfPreprocessor{CropSize: json.RawMessage(`224`), RescaleFactor: f(1)}, 0, "", clipMean, "rescale_factor 1", ""},
		{"no resize", hfPreprocessor{CropSize: json.RawMessage(`224`), DoResize: b(false)}, 0, "", clipMean, "do_resize is false", ""},
		{"no sizes", hfPreprocessor{}, 0, "", clipMean, "neither crop_size nor size", ""},
		{"non-square", hfPreprocessor{CropSize: json.RawMessage(`{"height":224,"width":200}`)}, 0, "", clipMean, "not square", ""},
		{"two means", hfPreprocessor{CropSize: json.RawMessage(`224`), ImageMean: []float64{1, 2}, ImageStd: []float64{1, 1, 1}}, 0, "", clipMean, "image_mean has 2 values", ""},
		{"bad size", hfPreprocessor{CropSize: json.RawMessage(`"big"`)}, 0, "", clipMean, "crop_size", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var warnings []string
			pp, err := parseHFPreprocessor(&tc.in, func(f string, a ...any) { warnings = append(warnings, fmt.Sprintf(f, a...)) })
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if pp.size != tc.size || pp.interpolation != tc.interp || pp.mean != tc.mean {
				t.Errorf("got %+v", pp)
			}
			if tc.warn != "" && !hasWarning(warnings, tc.warn) {
				t.Errorf("warnings %q, want one saying %q", warnings, tc.warn)
			}
			if tc.warn == "" && len(warnings) > 0 {
				t.Errorf("unexpected warnings %q", warnings)
			}
		})
	}
}

func TestParseOpenCLIPConfig(t *testing.T) {
	tests := []struct {
		name   string
		config string
		size   int
		interp string
		dim    int
		err    string
	}{
		{"open_clip_config.json", `{"model_cfg":{"embed_dim":512,"vision_cfg":{"image_size":224},"text_cfg":{"context_length":77}},"preprocess_cfg":{"mean":[0.5,0.5,0.5],"std":[0.5,0.5,0.5],"interpolation":"bilinear","resize_mode":"shortest"}}`, 224, "bilinear", 512, ""},
		{"bare model config", `{"embed_dim":768,"vision_cfg":{"image_size":[336,336]},"text_cfg":{}}`, 336, "bicubic", 768, ""},
		{"preprocess size wins", `{"embed_dim":1,"vision_cfg":{},"preprocess_cfg":{"size":[256,256]}}`, 256, "bicubic", 1, ""},
		{"sizes disagree", `{"embed_dim":1,"vision_cfg":{"image_size":224},"preprocess_cfg":{"size":256}}`, 0, "", 0, "differs from vision_cfg.image_size"},
		{"squash", `{"embed_dim":1,"vision_cfg":{"image_size":224},"preprocess_cfg":{"resize_mode":"squash"}}`, 0, "", 0, "resize_mode \"squash\""},
		{"no size", `{"embed_dim":1}`, 0, "", 0, "no image size"},
		{"BGR", `{"embed_dim":1,"vision_cfg":{"image_size":224},"preprocess_cfg":{"mode":"BGR"}}`, 0, "", 0, "mode \"BGR\""},
		{"lanczos", `{"embed_dim":1,"vision_cfg":{"image_size":224},"preprocess_cfg":{"interpolation":"lanczos"}}`, 0, "", 0, "interpolation \"lanczos\""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c openclipConfig
			if err := json.Unmarshal([]byte(tc.config), &c); err != nil {
				t.Fatal(err)
			}
			pp, err := parseOpenCLIPPreprocess(c.PreprocessCfg, c.model().VisionCfg.ImageSize, func(string, ...any) {})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if pp.size != tc.size || pp.interpolation != tc.interp || c.model().EmbedDim != tc.dim {
				t.Errorf("got %+v, dim %d", pp, c.model().EmbedDim)
			}
		})
	}
}

func TestInspectGraphs(t *testing.T) {
	noWarn := func(string, ...any) {}
	img := func(ins, outs []tensorInfo) graphInfo { return graphInfo{Inputs: ins, Outputs: outs} }
	px := tensorInfo{Name: "pixel_values", DType: "float32", Dims: []int64{-1, 3, 224, 224}}
	emb := tensorInfo{Name: "image_embeds", DType: "float32", Dims: []int64{-1, 512}}
	hidden := tensorInfo{Name: "last_hidden_state", DType: "float32", Dims: []int64{-1, 50, 768}}
	if io, err := inspectImageGraph(img([]tensorInfo{px}, []tensorInfo{hidden, emb}), noWarn); err != nil || io.output.Name != "image_embeds" || io.size != 224 || io.dim != 512 {
		t.Errorf("image: %+v %v", io, err)
	}
	if _, err := inspectImageGraph(img([]tensorInfo{px}, []tensorInfo{hidden}), noWarn); err == nil || !strings.Contains(err.Error(), "none is an [N,D] embedding") {
		t.Errorf("image without embedding: %v", err)
	}
	if _, err := inspectImageGraph(img([]tensorInfo{px, px}, []tensorInfo{emb}), noWarn); err == nil {
		t.Error("two image inputs accepted")
	}
	var warned bool
	one := tensorInfo{Name: "image", DType: "float32", Dims: []int64{1, 3, 224, 224}}
	if _, err := inspectImageGraph(img([]tensorInfo{one}, []tensorInfo{{Name: "embedding", DType: "float32", Dims: []int64{1, 512}}}), func(string, ...any) { warned = true }); err != nil || !warned {
		t.Errorf("static batch: warned %v, %v", warned, err)
	}

	ids := tensorInfo{Name: "input_ids", DType: "int64", Dims: []int64{-1, -1}}
	mask := tensorInfo{Name: "attention_mask", DType: "int64", Dims: []int64{-1, -1}}
	temb := tensorInfo{Name: "text_embeds", DType: "float32", Dims: []int64{-1, 512}}
	if io, err := inspectTextGraph(img([]tensorInfo{ids, mask}, []tensorInfo{hidden, temb}), noWarn); err != nil || io.pooling != encoders.PoolingProjected || io.mask == nil {
		t.Errorf("text: %+v %v", io, err)
	}
	if io, err := inspectTextGraph(img([]tensorInfo{ids}, []tensorInfo{hidden}), noWarn); err != nil || io.pooling != encoders.PoolingArgmaxEOT || io.dim != 768 {
		t.Errorf("hidden: %+v %v", io, err)
	}
	pos := tensorInfo{Name: "position_ids", DType: "int64"}
	if _, err := inspectTextGraph(img([]tensorInfo{ids, pos}, []tensorInfo{temb}), noWarn); err == nil || !strings.Contains(err.Error(), "position_ids") {
		t.Errorf("extra input: %v", err)
	}
	if _, err := inspectTextGraph(img([]tensorInfo{ids, {Name: "attention_mask", DType: "int32"}}, []tensorInfo{temb}), noWarn); err == nil {
		t.Error("mask of another type accepted")
	}
	if _, err := inspectTextGraph(img([]tensorInfo{{Name: "input_ids", DType: "float32"}}, []tensorInfo{temb}), noWarn); err == nil {
		t.Error("float ids accepted")
	}
}

// TestImportImmichStyleOpenCLIP rewrites the OpenCLIP fixture the way
// immich's exporter lays it out (a bare open_clip model config in
// config.json, visual/preprocess_cfg.json) with OpenAI's gzip vocabulary as
// the tokenizer; it must embed exactly like the original folder.
func TestImportImmichStyleOpenCLIP(t *testing.T) {
	startRuntime(t)
	needCat(t)
	oc := randomCLIP(t, "--layout", "openclip")
	dir := t.TempDir()
	linkFixture(t, oc, dir)
	var cfg struct {
		ModelCfg      map[string]any `json:"model_cfg"`
		PreprocessCfg map[string]any `json:"preprocess_cfg"`
	}
	data, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	if err := json.Unmarshal(data, &cfg); err != nil || cfg.ModelCfg == nil || cfg.PreprocessCfg == nil {
		t.Fatalf("fixture config: %v %s", err, data)
	}
	bare, _ := json.Marshal(cfg.ModelCfg)
	pre, _ := json.Marshal(cfg.PreprocessCfg)
	os.WriteFile(filepath.Join(dir, "config.json"), bare, 0o644)
	os.WriteFile(filepath.Join(dir, "visual", "preprocess_cfg.json"), pre, 0o644)
	os.Remove(filepath.Join(dir, "textual", "vocab.json"))
	os.Remove(filepath.Join(dir, "textual", "merges.txt"))
	if _, _, err := copyFile(context.Background(), sharedBPE, filepath.Join(dir, "textual", "bpe_simple_vocab_16e6.txt.gz"), 1<<30); err != nil {
		t.Fatal(err)
	}
	h := testHub(t, nil)
	res, err := h.Import(context.Background(), dir, "immich", ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Manifest.Text.Tokenizer.BPE != "textual/bpe_simple_vocab_16e6.txt.gz" || res.Manifest.Image.Size != 32 || len(res.Warnings) != 0 {
		t.Fatalf("manifest %+v, warnings %q", res.Manifest.Text.Tokenizer, res.Warnings)
	}
	if !isFile(filepath.Join(res.Dir, "visual", "preprocess_cfg.json")) {
		t.Error("visual/preprocess_cfg.json not copied")
	}
	got := embed(t, res.Dir)
	orig, err := h.Import(context.Background(), oc, "original", ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := embed(t, orig.Dir)
	assertSame(t, "image", got.image, want.image, 1e-6)
	for i := range probeTexts {
		assertSame(t, probeTexts[i], got.texts[i], want.texts[i], 1e-6)
	}
}
