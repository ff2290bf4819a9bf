package encoders

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"mmsearch/encoders/imageproc"
)

const bundledDir = "../onnx-models/emoji-clip"

// bundledReference is onnx-models/emoji-clip/reference.json: inputs and the
// PyTorch outputs of the bundled model, written by its export recipe.
type bundledReference struct {
	Tolerance float64 `json:"tolerance"`
	Images    struct {
		Files       []string    `json:"files"`
		Shape       []int       `json:"shape"`
		PixelValues string      `json:"pixel_values_b64"`
		Embeds      [][]float32 `json:"image_embeds"`
	} `json:"images"`
	Texts []struct {
		Text          string    `json:"text"`
		IDs           []int64   `json:"ids"`
		InputIDs      []int64   `json:"input_ids"`
		AttentionMask []int64   `json:"attention_mask"`
		Embeds        []float32 `json:"text_embeds"`
	} `json:"texts"`
}

func maxAbsDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// TestBundledModelParity checks that ONNX Runtime in Go reproduces the
// PyTorch outputs of the bundled model within the reference's tolerance
// (1e-4), through each stage: preprocessing, tokenization and both towers.
func TestBundledModelParity(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(bundledDir, "reference.json"))
	if err != nil {
		t.Fatalf("bundled model reference: %v", err)
	}
	var ref bundledReference
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	if ref.Tolerance <= 0 || ref.Tolerance > 1e-4 {
		t.Fatalf("reference tolerance %g, want (0, 1e-4]", ref.Tolerance)
	}
	m, err := OpenModel(bundledDir, RuntimeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// Images: the reference tensors through the image tower.
	b, err := base64.StdEncoding.DecodeString(ref.Images.PixelValues)
	if err != nil {
		t.Fatal(err)
	}
	pixels := make([]float32, len(b)/4)
	for i := range pixels {
		pixels[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	img, err := NewImageEncoder(m, SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	n := len(ref.Images.Files)
	got, err := img.EncodeTensors(ctx, pixels, n)
	if err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for i := range got {
		worst = math.Max(worst, maxAbsDiff(got[i], ref.Images.Embeds[i]))
	}
	t.Logf("image tower: max |ORT-in-Go − PyTorch| = %.2e over %d images", worst, n)
	if worst > ref.Tolerance {
		t.Errorf("image embeddings differ by %g > %g", worst, ref.Tolerance)
	}
	// The same pictures through Go's decoding and preprocessing.
	per := img.TensorLen()
	for i, f := range ref.Images.Files {
		dst := make([]float32, per)
		if _, err := imageproc.LoadTensor(filepath.Join(bundledDir, f), imageproc.Options{}, m.Manifest.Image.Preprocess(), dst); err != nil {
			t.Fatal(err)
		}
		if d := maxAbsDiff(dst, pixels[i*per:(i+1)*per]); d > 1e-5 {
			t.Errorf("%s: Go preprocessing differs from the reference tensor by %g", f, d)
		}
	}

	// Texts: tokenizer ids, then the text tower on the reference rows and
	// on our own tokenization.
	txt, err := NewTextEncoder(m, SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer txt.Close()
	worst = 0
	for _, tc := range ref.Texts {
		ids, mask := txt.Tokenize([]string{tc.Text})
		if len(tc.IDs) <= m.Manifest.Text.ContextLength {
			for j, id := range tc.IDs {
				if ids[0][j] != id {
					t.Fatalf("%q: token ids %v, reference %v", tc.Text, ids[0][:len(tc.IDs)], tc.IDs)
				}
			}
		}
		fromRef, err := txt.EncodeIDs(ctx, [][]int64{tc.InputIDs}, [][]int64{tc.AttentionMask})
		if err != nil {
			t.Fatal(err)
		}
		ours, err := txt.EncodeIDs(ctx, ids, mask)
		if err != nil {
			t.Fatal(err)
		}
		worst = math.Max(worst, math.Max(maxAbsDiff(fromRef[0], tc.Embeds), maxAbsDiff(ours[0], tc.Embeds)))
	}
	t.Logf("text tower: max |ORT-in-Go − PyTorch| = %.2e over %d texts", worst, len(ref.Texts))
	if worst > ref.Tolerance {
		t.Errorf("text embeddings differ by %g > %g", worst, ref.Tolerance)
	}

	// Sessions opened without weight prepacking (a CLI search's) and from
	// the graph cache compute the same embeddings within the tolerance.
	quick := SessionOptions{NoPrepack: true, GraphCache: t.TempDir()}
	for _, pass := range []string{"writes the graph cache", "loads the graph cache"} {
		txt, err := NewTextEncoder(m, quick)
		if err != nil {
			t.Fatal(err)
		}
		worst = 0
		for _, tc := range ref.Texts {
			got, err := txt.EncodeIDs(ctx, [][]int64{tc.InputIDs}, [][]int64{tc.AttentionMask})
			if err != nil {
				t.Fatal(err)
			}
			worst = math.Max(worst, maxAbsDiff(got[0], tc.Embeds))
		}
		txt.Close()
		img, err := NewImageEncoder(m, quick)
		if err != nil {
			t.Fatal(err)
		}
		got, err := img.EncodeTensors(ctx, pixels, n)
		img.Close()
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			worst = math.Max(worst, maxAbsDiff(got[i], ref.Images.Embeds[i]))
		}
		t.Logf("without prepacking (%s): max |ORT-in-Go − PyTorch| = %.2e", pass, worst)
		if worst > ref.Tolerance {
			t.Errorf("without prepacking (%s): embeddings differ by %g > %g", pass, worst, ref.Tolerance)
		}
	}
}

// TestTrimPaddingExact checks that cutting a batch after its longest row
// (trim_padding in the bundled manifest) gives the embeddings of the full
// context length, in batches of mixed lengths.
func TestTrimPaddingExact(t *testing.T) {
	m, err := OpenModel(bundledDir, RuntimeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Manifest.Text.TrimPadding {
		t.Fatal("bundled manifest does not set trim_padding")
	}
	full := *m
	manifest := *m.Manifest
	manifest.Text.TrimPadding = false
	full.Manifest = &manifest
	trimmed, err := NewTextEncoder(m, SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer trimmed.Close()
	padded, err := NewTextEncoder(&full, SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer padded.Close()
	ctx := context.Background()
	for _, batch := range [][]string{
		{"cat"},
		{"dog face", "an emoji of dog face"},
		{"red heart", "smiling face with sunglasses and a party hat on a sunny day", ""},
		{"a very long description that certainly runs past the thirty two tokens of context of the bundled emoji model's text tower"},
	} {
		a, err := trimmed.EncodeTexts(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		b, err := padded.EncodeTexts(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		for i := range batch {
			if d := maxAbsDiff(a[i], b[i]); d > 1e-5 {
				t.Errorf("%q in %q: trimmed and padded embeddings differ by %g", batch[i], batch, d)
			}
		}
	}
}

func TestTrimPaddingRows(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mask    [][]int64
		wantLen int
	}{
		{"one row", [][]int64{{1, 1, 1, 0, 0, 0}}, 3},
		{"longest row wins", [][]int64{{1, 1, 0, 0, 0, 0}, {1, 1, 1, 1, 0, 0}, {1, 0, 0, 0, 0, 0}}, 4},
		{"full row", [][]int64{{1, 1, 1, 1, 1, 1}, {1, 0, 0, 0, 0, 0}}, 6},
		{"no real tokens", [][]int64{{0, 0, 0, 0, 0, 0}}, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ids := make([][]int64, len(tc.mask))
			for i := range ids {
				ids[i] = []int64{10, 11, 12, 13, 14, 15}
			}
			gotIDs, gotMask := TrimPadding(ids, tc.mask)
			for i := range gotIDs {
				if len(gotIDs[i]) != tc.wantLen || len(gotMask[i]) != tc.wantLen {
					t.Fatalf("row %d: %d ids, %d mask values, want %d", i, len(gotIDs[i]), len(gotMask[i]), tc.wantLen)
				}
				if gotIDs[i][0] != 10 || gotMask[i][0] != tc.mask[i][0] {
					t.Fatalf("row %d changed: %v %v", i, gotIDs[i], gotMask[i])
				}
			}
		})
	}
}
