package encoders

import (
	"context"
	"fmt"
	"math"
	"path/filepath"

	ort "github.com/yalue/onnxruntime_go"

	"mmsearch/encoders/imageproc"
)

// Model is a model folder whose manifest has been read and checked.
type Model struct {
	Dir      string
	Manifest *Manifest
}

// OpenModel reads dir/model.json, checks both ONNX files' digests and checks
// the graphs' inputs and outputs against the manifest, every time. It starts
// the ONNX Runtime environment with rt if it is not running yet. Commands use
// models.Open instead, which does this once and then trusts a stamp.
func OpenModel(dir string, rt RuntimeOptions) (*Model, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	if err := VerifyFiles(dir, m); err != nil {
		return nil, fmt.Errorf("model %s: %w", m.Name, err)
	}
	if _, err := StartRuntime(rt); err != nil {
		return nil, err
	}
	if err := VerifyGraphs(dir, m); err != nil {
		return nil, fmt.Errorf("model %s: %w", m.Name, err)
	}
	return &Model{Dir: dir, Manifest: m}, nil
}

// Dim is the embedding dimension.
func (m *Model) Dim() int { return m.Manifest.EmbeddingDim }

// maxBatch is the batch size asked for, capped by the manifest's max_batch.
func (m *Model) maxBatch(opt SessionOptions) int {
	b := opt.maxBatch()
	if m.Manifest.MaxBatch > 0 {
		b = min(b, m.Manifest.MaxBatch)
	}
	return b
}

// ImageEncoder runs a model's image tower on preprocessed pixel tensors. It is
// safe for concurrent use; all callers share one ONNX Runtime session.
type ImageEncoder struct {
	sess     *session
	tower    ImageTower
	dim      int
	maxBatch int
}

// NewImageEncoder opens the image tower of m.
func NewImageEncoder(m *Model, opt SessionOptions) (*ImageEncoder, error) {
	t := m.Manifest.Image
	s, err := newSession(filepath.Join(m.Dir, t.ONNX), t.SHA256, []string{t.Input.Name}, []string{t.Output.Name}, opt)
	if err != nil {
		return nil, fmt.Errorf("image tower of %s: %w", m.Manifest.Name, err)
	}
	return &ImageEncoder{sess: s, tower: t, dim: m.Manifest.EmbeddingDim, maxBatch: m.maxBatch(opt)}, nil
}

// Size is the side of the square input image in pixels.
func (e *ImageEncoder) Size() int { return e.tower.Size }

// TensorLen is the number of float32 values of one preprocessed image (3*Size*Size).
func (e *ImageEncoder) TensorLen() int { return 3 * e.tower.Size * e.tower.Size }

// Dim is the embedding dimension.
func (e *ImageEncoder) Dim() int { return e.dim }

// MaxBatch is the largest number of images sent to one inference.
func (e *ImageEncoder) MaxBatch() int { return e.maxBatch }

// Threads is the number of threads one inference uses.
func (e *ImageEncoder) Threads() int { return e.sess.threads }

// Tower returns the manifest's description of the image tower (preprocessing).
func (e *ImageEncoder) Tower() ImageTower { return e.tower }

// EncodeTensors embeds n preprocessed images laid out back to back in pixels
// (n*TensorLen() values, CHW each). It returns n L2-normalized vectors. Work
// is split into inferences of at most MaxBatch images; ctx is checked between them.
func (e *ImageEncoder) EncodeTensors(ctx context.Context, pixels []float32, n int) ([][]float32, error) {
	per := e.TensorLen()
	if n < 0 || len(pixels) != n*per {
		return nil, fmt.Errorf("encode images: %d values for %d images of %d", len(pixels), n, per)
	}
	out := make([][]float32, 0, n)
	for start := 0; start < n; start += e.maxBatch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b := min(e.maxBatch, n-start)
		s := int64(e.tower.Size)
		in, err := ort.NewTensor(ort.NewShape(int64(b), 3, s, s), pixels[start*per:(start+b)*per])
		if err != nil {
			return nil, fmt.Errorf("encode images: input tensor: %w", err)
		}
		vecs, err := e.runFloat(in, b)
		in.Destroy()
		if err != nil {
			return nil, err
		}
		out = append(out, vecs...)
	}
	return out, nil
}

func (e *ImageEncoder) runFloat(in ort.Value, b int) ([][]float32, error) {
	t, err := e.sess.run([]ort.Value{in})
	if err != nil {
		return nil, fmt.Errorf("encode images: %w", err)
	}
	defer t.Destroy()
	return rowsNormalized(t.GetData(), t.GetShape(), b, e.dim)
}

// Close releases the ONNX Runtime session.
func (e *ImageEncoder) Close() error { return e.sess.close() }

// rowsNormalized copies a [b, dim] output into b L2-normalized vectors.
func rowsNormalized(data []float32, shape ort.Shape, b, dim int) ([][]float32, error) {
	if len(shape) != 2 || shape[0] != int64(b) || shape[1] != int64(dim) {
		return nil, fmt.Errorf("output shape %v, want [%d %d]", shape, b, dim)
	}
	out := make([][]float32, b)
	flat := make([]float32, b*dim)
	copy(flat, data)
	for i := range out {
		v := flat[i*dim : (i+1)*dim : (i+1)*dim]
		if err := Normalize(v); err != nil {
			return nil, fmt.Errorf("output row %d: %w", i, err)
		}
		out[i] = v
	}
	return out, nil
}

// Normalize scales v to unit L2 norm in place. A zero or non-finite vector is an error.
func Normalize(v []float32) error {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 || math.IsNaN(s) || math.IsInf(s, 0) {
		return fmt.Errorf("cannot normalize a vector of norm %g", math.Sqrt(s))
	}
	inv := float32(1 / math.Sqrt(s))
	for i := range v {
		v[i] *= inv
	}
	return nil
}

// Preprocess returns the image preprocessing the tower expects.
func (t ImageTower) Preprocess() imageproc.Preprocess {
	return imageproc.Preprocess{
		Size:          t.Size,
		Resize:        t.Resize,
		Interpolation: t.Interpolation,
		Crop:          t.Crop,
		Mean:          t.Mean,
		Std:           t.Std,
		ChannelOrder:  t.ChannelOrder,
	}
}

// EncodeFiles loads, preprocesses and embeds image files. It returns one
// vector per path; a file that cannot be loaded gets a nil vector and its
// error in errs (errs is nil when every file loaded).
func (e *ImageEncoder) EncodeFiles(ctx context.Context, paths []string, opt imageproc.Options) (vecs [][]float32, errs []error, err error) {
	p := e.tower.Preprocess()
	per := e.TensorLen()
	pixels := make([]float32, 0, len(paths)*per)
	var ok []int
	for i, path := range paths {
		dst := pixels[len(pixels) : len(pixels)+per]
		if _, lerr := imageproc.LoadTensor(path, opt, p, dst); lerr != nil {
			if errs == nil {
				errs = make([]error, len(paths))
			}
			errs[i] = lerr
			continue
		}
		pixels = pixels[:len(pixels)+per]
		ok = append(ok, i)
	}
	got, err := e.EncodeTensors(ctx, pixels, len(ok))
	if err != nil {
		return nil, errs, err
	}
	vecs = make([][]float32, len(paths))
	for j, i := range ok {
		vecs[i] = got[j]
	}
	return vecs, errs, nil
}
