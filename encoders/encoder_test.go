package encoders

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

const tinyDir = "testdata/tiny"

// openTiny opens the closed-form test model (onnx-models/testmodels/make_test_models.py).
func openTiny(t testing.TB) *Model {
	t.Helper()
	m, err := OpenModel(tinyDir, RuntimeOptions{})
	if errors.Is(err, ErrNoLibrary) {
		t.Fatalf("%v (make test runs make setup first)", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// tinyVisionWeight mirrors WV of make_test_models.py.
func tinyVisionWeight(i, k int) float32 { return float32((7*i+3*k)%11-5) / 8 }

// tinyTextWeight mirrors WT of make_test_models.py.
func tinyTextWeight(j, k int) float32 { return float32((5*j+2*k)%7 - 3) }

func normalized(v []float64) []float32 {
	var s float64
	for _, x := range v {
		s += x * x
	}
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x / math.Sqrt(s))
	}
	return out
}

func assertClose(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: len %d, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(float64(got[i]-want[i])) > tol {
			t.Fatalf("%s: [%d] = %v, want %v (all: got %v want %v)", what, i, got[i], want[i], got, want)
		}
	}
}

func TestImageEncoderClosedForm(t *testing.T) {
	m := openTiny(t)
	enc, err := NewImageEncoder(m, SessionOptions{IntraOpThreads: 1, MaxBatch: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	per := enc.TensorLen()
	for _, n := range []int{1, 3, 7} { // 7 spans three inferences of at most 3
		pixels := make([]float32, n*per)
		for i := range pixels {
			pixels[i] = float32((i*13)%17-8) / 4
		}
		got, err := enc.EncodeTensors(context.Background(), pixels, n)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != n {
			t.Fatalf("n=%d: %d vectors", n, len(got))
		}
		for b := 0; b < n; b++ {
			want := make([]float64, enc.Dim())
			for i := 0; i < per; i++ {
				for k := range want {
					want[k] += float64(pixels[b*per+i]) * float64(tinyVisionWeight(i, k))
				}
			}
			assertClose(t, "image", got[b], normalized(want), 1e-6)
		}
	}
}

func TestImageEncoderRejectsBadInput(t *testing.T) {
	m := openTiny(t)
	enc, err := NewImageEncoder(m, SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	if _, err := enc.EncodeTensors(context.Background(), make([]float32, 10), 1); err == nil {
		t.Fatal("short tensor accepted")
	}
	// An all-zero image has a zero embedding, which cannot be normalized.
	if _, err := enc.EncodeTensors(context.Background(), make([]float32, enc.TensorLen()), 1); err == nil {
		t.Fatal("zero embedding normalized without error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := enc.EncodeTensors(ctx, make([]float32, enc.TensorLen()), 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: err = %v", err)
	}
}

func TestTextEncoderClosedForm(t *testing.T) {
	m := openTiny(t)
	enc, err := NewTextEncoder(m, SessionOptions{IntraOpThreads: 1, MaxBatch: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	texts := []string{"the cat", "dog", "the dog and the cat sat on the mat together again", "a"}
	ids, mask := enc.Tokenize(texts)
	got, err := enc.EncodeTexts(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	tt := m.Manifest.Text
	for n := range texts {
		if ids[n][0] != tt.StartID {
			t.Errorf("%q: first id %d, want start %d", texts[n], ids[n][0], tt.StartID)
		}
		want := make([]float64, enc.Dim())
		for j := range ids[n] {
			for k := range want {
				want[k] += float64(ids[n][j]*mask[n][j]) * float64(tinyTextWeight(j, k))
			}
		}
		assertClose(t, texts[n], got[n], normalized(want), 1e-6)
	}
	// "the cat" uses the merges "th"+"e</w>" and "ca"+"t</w>".
	vocab := tt.StartID - 6 // merges are the six ids before the specials
	if ids[0][1] != vocab+1 || ids[0][2] != vocab+3 || ids[0][3] != tt.EndID || mask[0][4] != 0 {
		t.Errorf("tokens of %q = %v mask %v", texts[0], ids[0], mask[0])
	}
	// The long text is truncated to the context length with the end token last.
	if l := len(ids[2]); l != tt.ContextLength || ids[2][l-1] != tt.EndID || mask[2][l-1] != 1 {
		t.Errorf("truncated row = %v mask %v", ids[2], mask[2])
	}
}

func TestTextEncoderQueryTemplates(t *testing.T) {
	m := openTiny(t)
	m.Manifest.Text.Templates = []string{"{}", "the {}"}
	enc, err := NewTextEncoder(m, SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	ctx := context.Background()
	q, err := enc.EncodeQuery(ctx, "cat")
	if err != nil {
		t.Fatal(err)
	}
	vs, err := enc.EncodeTexts(ctx, []string{"cat", "the cat"})
	if err != nil {
		t.Fatal(err)
	}
	mean := make([]float64, len(q))
	for _, v := range vs {
		for i, x := range v {
			mean[i] += float64(x)
		}
	}
	assertClose(t, "template ensemble", q, normalized(mean), 1e-6)
}

func TestEncodersConcurrentCallers(t *testing.T) {
	m := openTiny(t)
	img, err := NewImageEncoder(m, SessionOptions{IntraOpThreads: 1, MaxBatch: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	txt, err := NewTextEncoder(m, SessionOptions{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer txt.Close()
	ctx := context.Background()
	per := img.TensorLen()
	pixels := make([]float32, 5*per)
	for i := range pixels {
		pixels[i] = float32(i%9) - 4
	}
	wantImg, err := img.EncodeTensors(ctx, pixels, 5)
	if err != nil {
		t.Fatal(err)
	}
	wantTxt, err := txt.EncodeTexts(ctx, []string{"the dog", "cat"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < 20; r++ {
				gi, err := img.EncodeTensors(ctx, pixels, 5)
				if err != nil {
					errs <- err
					return
				}
				gt, err := txt.EncodeTexts(ctx, []string{"the dog", "cat"})
				if err != nil {
					errs <- err
					return
				}
				for i := range gi {
					for k := range gi[i] {
						if gi[i][k] != wantImg[i][k] {
							errs <- errors.New("concurrent image result differs")
							return
						}
					}
				}
				for i := range gt {
					for k := range gt[i] {
						if gt[i][k] != wantTxt[i][k] {
							errs <- errors.New("concurrent text result differs")
							return
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestOpenModelErrors(t *testing.T) {
	copyTiny := func(t *testing.T) string {
		dir := t.TempDir()
		entries, err := os.ReadDir(tinyDir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(tinyDir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	edit := func(f func(m *Manifest)) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			m, err := ReadManifest(dir)
			if err != nil {
				t.Fatal(err)
			}
			f(m)
			if err := WriteManifest(dir, m); err != nil {
				t.Fatal(err)
			}
		}
	}
	cases := []struct {
		name    string
		mutate  func(t *testing.T, dir string)
		wantErr error
	}{
		{"altered onnx file", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "vision_model.onnx")
			b, _ := os.ReadFile(p)
			b[len(b)-1] ^= 1
			os.WriteFile(p, b, 0o644)
		}, ErrChecksum},
		{"wrong input name", edit(func(m *Manifest) { m.Image.Input.Name = "images" }), ErrGraph},
		{"wrong output name", edit(func(m *Manifest) { m.Text.Output.Name = "pooler_output" }), ErrGraph},
		{"wrong input dtype", edit(func(m *Manifest) { m.Text.InputIDs.DType = "int32"; m.Text.AttentionMask.DType = "int32" }), ErrGraph},
		{"missing mask input", edit(func(m *Manifest) { m.Text.AttentionMask = nil }), ErrGraph},
		{"wrong dimension", edit(func(m *Manifest) { m.EmbeddingDim = 8 }), ErrGraph},
		{"trim_padding on a fixed-length graph", edit(func(m *Manifest) { m.Text.TrimPadding = true }), ErrGraph},
		{"missing file", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "merges.txt")) }, ErrManifest},
		{"unknown field", func(t *testing.T, dir string) {
			p := filepath.Join(dir, ManifestFile)
			b, _ := os.ReadFile(p)
			os.WriteFile(p, append([]byte(`{"bogus": 1, `), b[1:]...), 0o644)
		}, ErrManifest},
		{"not json", func(t *testing.T, dir string) { os.WriteFile(filepath.Join(dir, ManifestFile), []byte("nope"), 0o644) }, ErrManifest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyTiny(t)
			c.mutate(t, dir)
			_, err := OpenModel(dir, RuntimeOptions{})
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("err = %v, want %v", err, c.wantErr)
			}
		})
	}
}

func TestManifestValidate(t *testing.T) {
	base, err := ReadManifest(tinyDir)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		mutate func(m *Manifest)
	}{
		{"schema", func(m *Manifest) { m.Schema = 2 }},
		{"no name", func(m *Manifest) { m.Name = "" }},
		{"dim", func(m *Manifest) { m.EmbeddingDim = 0 }},
		{"sha", func(m *Manifest) { m.Image.SHA256 = "xyz" }},
		{"escaping path", func(m *Manifest) { m.Image.ONNX = "../x.onnx" }},
		{"absolute path", func(m *Manifest) { m.Text.ONNX = "/etc/passwd" }},
		{"resize", func(m *Manifest) { m.Image.Resize = "squash" }},
		{"crop", func(m *Manifest) { m.Image.Crop = "none" }},
		{"std zero", func(m *Manifest) { m.Image.Std[1] = 0 }},
		{"size", func(m *Manifest) { m.Image.Size = 0 }},
		{"pooling", func(m *Manifest) { m.Text.Pooling = "mean" }},
		{"context", func(m *Manifest) { m.Text.ContextLength = 1 }},
		{"tokenizer kind", func(m *Manifest) { m.Text.Tokenizer.Kind = "wordpiece" }},
		{"two tokenizers", func(m *Manifest) { m.Text.Tokenizer.BPE = "x.gz" }},
		{"template", func(m *Manifest) { m.Text.Templates = []string{"a photo"} }},
		{"language name", func(m *Manifest) { m.Text.Languages = []string{"English"} }},
		{"language case", func(m *Manifest) { m.Text.Languages = []string{"EN"} }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := *base
			c.mutate(&m)
			if err := m.Validate(); !errors.Is(err, ErrManifest) {
				t.Fatalf("err = %v, want ErrManifest", err)
			}
		})
	}
	if err := base.Validate(); err != nil {
		t.Fatalf("valid manifest refused: %v", err)
	}
	langs := *base
	langs.Text.Languages = []string{"en", "de"}
	if err := langs.Validate(); err != nil {
		t.Fatalf("languages en, de refused: %v", err)
	}
}

// TestEnglishOnly checks which language lists make a model English-only,
// and that the bundled model says it is.
func TestEnglishOnly(t *testing.T) {
	for _, c := range []struct {
		langs []string
		want  bool
	}{{nil, false}, {[]string{"en"}, true}, {[]string{"en", "de"}, false}, {[]string{"zh"}, false}} {
		if got := (TextTower{Languages: c.langs}).EnglishOnly(); got != c.want {
			t.Errorf("EnglishOnly(%v) = %v, want %v", c.langs, got, c.want)
		}
	}
	m, err := ReadManifest(bundledDir)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Text.EnglishOnly() {
		t.Fatalf("the bundled model's languages are %v, want [en]", m.Text.Languages)
	}
}

func TestFindLibraryOrder(t *testing.T) {
	dir := t.TempDir()
	lib := filepath.Join(dir, "lib.so")
	os.WriteFile(lib, []byte("x"), 0o644)
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	if got, err := FindLibrary(lib, getenv); err != nil || got != lib {
		t.Fatalf("explicit: %q %v", got, err)
	}
	if _, err := FindLibrary(filepath.Join(dir, "missing.so"), getenv); !errors.Is(err, ErrNoLibrary) {
		t.Fatalf("missing explicit: %v", err)
	}
	env[LibraryEnv] = lib
	if got, err := FindLibrary("", getenv); err != nil || got != lib {
		t.Fatalf("env: %q %v", got, err)
	}
	delete(env, LibraryEnv)
	env["MMSEARCH_CACHE_DIR"] = dir
	if _, err := FindLibrary("", getenv); !errors.Is(err, ErrNoLibrary) {
		t.Fatalf("empty cache: %v", err)
	}
}
