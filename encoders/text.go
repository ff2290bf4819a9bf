package encoders

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	ort "github.com/yalue/onnxruntime_go"
)

// TextEncoder runs a model's text tower: tokenization, inference, pooling and
// normalization. It is safe for concurrent use.
type TextEncoder struct {
	sess     *session
	tower    TextTower
	tok      *modelTokenizer
	dim      int
	maxBatch int
}

// NewTextEncoder opens the text tower of m and its tokenizer.
func NewTextEncoder(m *Model, opt SessionOptions) (*TextEncoder, error) {
	t := m.Manifest.Text
	// The tokenizer loads (about 10 ms of JSON for CLIP's vocabulary) while
	// ONNX Runtime opens the session, which spends its time in C.
	type loaded struct {
		tok *modelTokenizer
		err error
	}
	tokCh := make(chan loaded, 1)
	go func() {
		tok, err := loadModelTokenizer(m.Dir, t)
		tokCh <- loaded{tok, err}
	}()
	inputs := []string{t.InputIDs.Name}
	if t.AttentionMask != nil {
		inputs = append(inputs, t.AttentionMask.Name)
	}
	s, err := newSession(filepath.Join(m.Dir, t.ONNX), t.SHA256, inputs, []string{t.Output.Name}, opt)
	lt := <-tokCh
	if lt.err != nil { // reported first, as when the tokenizer loaded first
		if err == nil {
			s.close()
		}
		err = lt.err
	}
	if err != nil {
		return nil, fmt.Errorf("text tower of %s: %w", m.Manifest.Name, err)
	}
	tok := lt.tok
	return &TextEncoder{sess: s, tower: t, tok: tok, dim: m.Manifest.EmbeddingDim, maxBatch: m.maxBatch(opt)}, nil
}

// Dim is the embedding dimension.
func (e *TextEncoder) Dim() int { return e.dim }

// Device is where the text tower runs: DeviceCPU or DeviceCUDA.
func (e *TextEncoder) Device() string { return e.sess.device }

// Tokenize returns the padded token ids and attention masks the text tower
// receives for texts (start and end tokens added, truncated to the context length).
func (e *TextEncoder) Tokenize(texts []string) (ids, mask [][]int64) {
	return e.tok.batch(texts)
}

// EncodeTexts embeds each text as given (no templates) and returns
// L2-normalized vectors.
func (e *TextEncoder) EncodeTexts(ctx context.Context, texts []string) ([][]float32, error) {
	ids, mask := e.Tokenize(texts)
	return e.EncodeIDs(ctx, ids, mask)
}

// EncodeQuery embeds a phrase the way queries are embedded: through each of
// the model's templates ("a photo of {}"), averaging the normalized template
// embeddings and normalizing the mean (CLIP's prompt ensembling). Without
// templates the phrase is embedded as is.
func (e *TextEncoder) EncodeQuery(ctx context.Context, phrase string) ([]float32, error) {
	texts := []string{phrase}
	if len(e.tower.Templates) > 0 {
		texts = texts[:0]
		for _, tpl := range e.tower.Templates {
			texts = append(texts, strings.Replace(tpl, "{}", phrase, 1))
		}
	}
	vecs, err := e.EncodeTexts(ctx, texts)
	if err != nil {
		return nil, err
	}
	mean := make([]float32, e.dim)
	for _, v := range vecs {
		for i, x := range v {
			mean[i] += x
		}
	}
	if err := Normalize(mean); err != nil {
		return nil, fmt.Errorf("embed %q: %w", phrase, err)
	}
	return mean, nil
}

// EncodeIDs runs the text tower on token ids and attention masks of equal
// shape [n][context length] and returns n L2-normalized vectors.
func (e *TextEncoder) EncodeIDs(ctx context.Context, ids, mask [][]int64) ([][]float32, error) {
	if len(ids) != len(mask) {
		return nil, fmt.Errorf("encode texts: %d id rows, %d mask rows", len(ids), len(mask))
	}
	if e.tower.TrimPadding {
		ids, mask = TrimPadding(ids, mask)
	}
	out := make([][]float32, 0, len(ids))
	for start := 0; start < len(ids); start += e.maxBatch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		end := min(start+e.maxBatch, len(ids))
		vecs, err := e.runBatch(ids[start:end], mask[start:end])
		if err != nil {
			return nil, err
		}
		out = append(out, vecs...)
	}
	return out, nil
}

// trimPadding cuts every row after the last position any row attends to.
// Rows are sliced, not copied.
func TrimPadding(ids, mask [][]int64) ([][]int64, [][]int64) {
	n := 0
	for _, row := range mask {
		for j := len(row) - 1; j >= n; j-- {
			if row[j] != 0 {
				n = j + 1
				break
			}
		}
	}
	if n == 0 {
		return ids, mask
	}
	outIDs, outMask := make([][]int64, len(ids)), make([][]int64, len(mask))
	for i := range ids {
		if len(ids[i]) < n || len(mask[i]) < n {
			return ids, mask // ragged rows: left for runBatch to report
		}
		outIDs[i], outMask[i] = ids[i][:n], mask[i][:n]
	}
	return outIDs, outMask
}

func (e *TextEncoder) runBatch(ids, mask [][]int64) ([][]float32, error) {
	b := len(ids)
	l := len(ids[0])
	shape := ort.NewShape(int64(b), int64(l))
	var inputs []ort.Value
	defer func() {
		for _, v := range inputs {
			v.Destroy()
		}
	}()
	add := func(rows [][]int64) error {
		var v ort.Value
		var err error
		if e.tower.InputIDs.DType == "int32" {
			flat := make([]int32, 0, b*l)
			for _, r := range rows {
				for _, x := range r {
					flat = append(flat, int32(x))
				}
			}
			v, err = ort.NewTensor(shape, flat)
		} else {
			flat := make([]int64, 0, b*l)
			for _, r := range rows {
				flat = append(flat, r...)
			}
			v, err = ort.NewTensor(shape, flat)
		}
		if err != nil {
			return fmt.Errorf("encode texts: input tensor: %w", err)
		}
		inputs = append(inputs, v)
		return nil
	}
	for i := range ids {
		if len(ids[i]) != l || len(mask[i]) != l {
			return nil, fmt.Errorf("encode texts: row %d has %d ids and %d mask values, want %d", i, len(ids[i]), len(mask[i]), l)
		}
	}
	if err := add(ids); err != nil {
		return nil, err
	}
	if e.tower.AttentionMask != nil {
		if err := add(mask); err != nil {
			return nil, err
		}
	}
	t, err := e.sess.run(inputs)
	if err != nil {
		return nil, fmt.Errorf("encode texts: %w", err)
	}
	defer t.Destroy()
	if e.tower.Pooling == PoolingArgmaxEOT {
		return e.poolEOT(t.GetData(), t.GetShape(), ids, mask)
	}
	return rowsNormalized(t.GetData(), t.GetShape(), b, e.dim)
}

// poolEOT picks, for each row, the hidden state at the end token (the first
// EndID, else the last unmasked position) from a [b, L, dim] output.
func (e *TextEncoder) poolEOT(data []float32, shape ort.Shape, ids, mask [][]int64) ([][]float32, error) {
	b, l := len(ids), len(ids[0])
	if len(shape) != 3 || shape[0] != int64(b) || shape[1] != int64(l) || shape[2] != int64(e.dim) {
		return nil, fmt.Errorf("encode texts: output shape %v, want [%d %d %d]", shape, b, l, e.dim)
	}
	out := make([][]float32, b)
	for i := range ids {
		pos := -1
		for j, id := range ids[i] {
			if id == e.tower.EndID {
				pos = j
				break
			}
			if mask[i][j] != 0 {
				pos = j
			}
		}
		if pos < 0 {
			pos = l - 1
		}
		v := make([]float32, e.dim)
		copy(v, data[(i*l+pos)*e.dim:])
		if err := Normalize(v); err != nil {
			return nil, fmt.Errorf("encode texts: row %d: %w", i, err)
		}
		out[i] = v
	}
	return out, nil
}

// Close releases the ONNX Runtime session.
func (e *TextEncoder) Close() error { return e.sess.close() }
