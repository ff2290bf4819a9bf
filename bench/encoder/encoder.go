// Package encoder measures model throughput: the image encoder in images/s
// at given batch sizes and the text encoder's query latency, each beside
// plain ONNX Runtime running the same graph with preallocated tensors and no
// mmsearch code around it (the peer).
package encoder

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"time"

	ort "github.com/yalue/onnxruntime_go"

	"mmsearch/bench"
	"mmsearch/encoders"
	"mmsearch/models"
)

// Config describes one run.
type Config struct {
	Model   string // model folder or name
	Batches []int  // batch sizes to time (default 1, 32)
	Images  int    // images per batch size (default 64)
	Texts   int    // text queries timed (default 50)
	Threads int    // intra-op threads (0 = all cores)
	Runtime encoders.RuntimeOptions
	Getenv  func(string) string
	Log     io.Writer
}

// Row is one batch size's figures.
type Row struct {
	Batch       int     `json:"batch"`
	OursPerSec  float64 `json:"mmsearch_images_per_s"`
	PlainPerSec float64 `json:"plain_ort_images_per_s"`
	Ratio       float64 `json:"ratio"`
	ImagesTimed int     `json:"images_timed"`
}

// Result holds every figure.
type Result struct {
	Model        string  `json:"model"`
	Dim          int     `json:"dim"`
	ImageSize    int     `json:"image_size"`
	Rows         []Row   `json:"image"`
	TextP50Ms    float64 `json:"text_query_p50_ms"`
	TextP99Ms    float64 `json:"text_query_p99_ms"`
	PlainTextP50 float64 `json:"plain_ort_text_p50_ms"`
	Templates    int     `json:"templates"`
}

// Run times the model's towers.
func Run(ctx context.Context, cfg Config) (*bench.Report, *Result, error) {
	logf := func(format string, args ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, format+"\n", args...)
		}
	}
	if len(cfg.Batches) == 0 {
		cfg.Batches = []int{1, 32}
	}
	if cfg.Images <= 0 {
		cfg.Images = 64
	}
	if cfg.Texts <= 0 {
		cfg.Texts = 50
	}
	chosen, err := models.Resolver{Getenv: cfg.Getenv}.Resolve(models.Request{Flag: cfg.Model})
	if err != nil {
		return nil, nil, err
	}
	m, _, err := models.Open(chosen.Dir, models.OpenOptions{Runtime: cfg.Runtime, Getenv: cfg.Getenv})
	if err != nil {
		return nil, nil, err
	}
	mf := m.Manifest
	res := &Result{Model: mf.Name, Dim: m.Dim(), ImageSize: mf.Image.Size, Templates: len(mf.Text.Templates)}
	rng := rand.New(rand.NewPCG(1, 2))
	per := 3 * mf.Image.Size * mf.Image.Size
	for _, b := range cfg.Batches {
		if mf.MaxBatch > 0 && b > mf.MaxBatch {
			continue
		}
		pixels := make([]float32, b*per)
		for i := range pixels {
			pixels[i] = float32(rng.NormFloat64())
		}
		n := max(cfg.Images/b, 2) // inferences timed
		enc, err := encoders.NewImageEncoder(m, encoders.SessionOptions{IntraOpThreads: cfg.Threads, MaxBatch: b})
		if err != nil {
			return nil, nil, err
		}
		enc.EncodeTensors(ctx, pixels, b) // warm-up
		t0 := time.Now()
		for i := 0; i < n; i++ {
			if _, err := enc.EncodeTensors(ctx, pixels, b); err != nil {
				enc.Close()
				return nil, nil, err
			}
		}
		ours := float64(n*b) / time.Since(t0).Seconds()
		enc.Close()
		plain, err := plainImage(filepath.Join(chosen.Dir, mf.Image.ONNX), mf, pixels, b, n, cfg.Threads)
		if err != nil {
			return nil, nil, err
		}
		row := Row{Batch: b, OursPerSec: ours, PlainPerSec: plain, Ratio: ours / plain, ImagesTimed: n * b}
		res.Rows = append(res.Rows, row)
		logf("image batch %d: mmsearch %.1f images/s, plain ONNX Runtime %.1f images/s", b, ours, plain)
	}

	txt, err := encoders.NewTextEncoder(m, encoders.SessionOptions{IntraOpThreads: cfg.Threads})
	if err != nil {
		return nil, nil, err
	}
	defer txt.Close()
	words := []string{"dog", "a red heart", "sunset over the sea", "woman cook", "golden retriever puppy", "cat"}
	txt.EncodeQuery(ctx, words[0])
	var lat []float64
	for i := 0; i < cfg.Texts; i++ {
		t0 := time.Now()
		if _, err := txt.EncodeQuery(ctx, words[i%len(words)]); err != nil {
			return nil, nil, err
		}
		lat = append(lat, ms(time.Since(t0)))
	}
	res.TextP50Ms, res.TextP99Ms = pct(lat, 50), pct(lat, 99)
	ids, mask := txt.Tokenize([]string{words[0]})
	if mf.Text.TrimPadding {
		ids, mask = encoders.TrimPadding(ids, mask) // the input our query path runs
	}
	res.PlainTextP50, err = plainText(filepath.Join(chosen.Dir, mf.Text.ONNX), mf, ids[0], mask[0], cfg.Texts, cfg.Threads)
	if err != nil {
		return nil, nil, err
	}
	logf("text query: mmsearch p50 %.2f ms (%d templates), plain ONNX Runtime one text p50 %.2f ms", res.TextP50Ms, res.Templates, res.PlainTextP50)
	return report(ctx, cfg, res), res, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func pct(xs []float64, p int) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[min(len(s)-1, (len(s)*p)/100)]
}

func sessionOptions(threads int) (*ort.SessionOptions, error) {
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	if threads > 0 {
		if err := so.SetIntraOpNumThreads(threads); err != nil {
			so.Destroy()
			return nil, err
		}
	}
	return so, nil
}

// plainImage runs the image graph with onnxruntime_go's AdvancedSession on
// preallocated input and output tensors: ONNX Runtime and nothing else.
func plainImage(path string, mf *encoders.Manifest, pixels []float32, b, n, threads int) (float64, error) {
	s := int64(mf.Image.Size)
	in, err := ort.NewTensor(ort.NewShape(int64(b), 3, s, s), pixels)
	if err != nil {
		return 0, err
	}
	defer in.Destroy()
	out, err := ort.NewEmptyTensor[float32](ort.NewShape(int64(b), int64(mf.EmbeddingDim)))
	if err != nil {
		return 0, err
	}
	defer out.Destroy()
	so, err := sessionOptions(threads)
	if err != nil {
		return 0, err
	}
	defer so.Destroy()
	sess, err := ort.NewAdvancedSession(path, []string{mf.Image.Input.Name}, []string{mf.Image.Output.Name}, []ort.Value{in}, []ort.Value{out}, so)
	if err != nil {
		return 0, err
	}
	defer sess.Destroy()
	sess.Run()
	t0 := time.Now()
	for i := 0; i < n; i++ {
		if err := sess.Run(); err != nil {
			return 0, err
		}
	}
	return float64(n*b) / time.Since(t0).Seconds(), nil
}

// plainText times one text through the text graph with preallocated tensors.
func plainText(path string, mf *encoders.Manifest, ids, mask []int64, n, threads int) (float64, error) {
	if mf.Text.Pooling != encoders.PoolingProjected || mf.Text.InputIDs.DType != "int64" {
		return 0, nil // the peer covers the common export only
	}
	shape := ort.NewShape(1, int64(len(ids)))
	idT, err := ort.NewTensor(shape, ids)
	if err != nil {
		return 0, err
	}
	defer idT.Destroy()
	inputs := []ort.Value{idT}
	names := []string{mf.Text.InputIDs.Name}
	if mf.Text.AttentionMask != nil {
		mT, err := ort.NewTensor(shape, mask)
		if err != nil {
			return 0, err
		}
		defer mT.Destroy()
		inputs = append(inputs, mT)
		names = append(names, mf.Text.AttentionMask.Name)
	}
	out, err := ort.NewEmptyTensor[float32](ort.NewShape(1, int64(mf.EmbeddingDim)))
	if err != nil {
		return 0, err
	}
	defer out.Destroy()
	so, err := sessionOptions(threads)
	if err != nil {
		return 0, err
	}
	defer so.Destroy()
	sess, err := ort.NewAdvancedSession(path, names, []string{mf.Text.Output.Name}, inputs, []ort.Value{out}, so)
	if err != nil {
		return 0, err
	}
	defer sess.Destroy()
	sess.Run()
	var lat []float64
	for i := 0; i < n; i++ {
		t0 := time.Now()
		if err := sess.Run(); err != nil {
			return 0, err
		}
		lat = append(lat, ms(time.Since(t0)))
	}
	return pct(lat, 50), nil
}

func report(ctx context.Context, cfg Config, res *Result) *bench.Report {
	h := bench.NewHeader(ctx, "encoder", "random input tensors")
	h.AddParam("model", res.Model)
	h.AddParam("image size", res.ImageSize)
	h.AddParam("threads per inference", cfg.Threads)
	h.AddParam("text templates per query", res.Templates)
	h.Peers = []bench.Peer{{Name: "plain ONNX Runtime (onnxruntime_go AdvancedSession, preallocated tensors)", Version: encoders.ORTVersion}}
	r := &bench.Report{Header: h, Data: res}
	t := bench.Table{Title: "Image encoder", Columns: []string{"batch", "mmsearch images/s", "plain ORT images/s", "ratio"}}
	for _, row := range res.Rows {
		t.AddRow(row.Batch, fmt.Sprintf("%.1f", row.OursPerSec), fmt.Sprintf("%.1f", row.PlainPerSec), fmt.Sprintf("%.2f", row.Ratio))
		r.Headline = append(r.Headline, fmt.Sprintf("batch %d: %.1f images/s (plain ONNX Runtime %.1f)", row.Batch, row.OursPerSec, row.PlainPerSec))
	}
	r.Tables = append(r.Tables, t)
	tt := bench.Table{Title: "Text encoder", Columns: []string{"mmsearch query p50 ms", "p99 ms", "templates", "plain ORT one text p50 ms"}}
	tt.AddRow(fmt.Sprintf("%.2f", res.TextP50Ms), fmt.Sprintf("%.2f", res.TextP99Ms), res.Templates, fmt.Sprintf("%.2f", res.PlainTextP50))
	r.Tables = append(r.Tables, tt)
	r.Headline = append(r.Headline, fmt.Sprintf("text query p50 %.2f ms through %d templates (plain ONNX Runtime, one text: %.2f ms)", res.TextP50Ms, res.Templates, res.PlainTextP50))
	return r
}
