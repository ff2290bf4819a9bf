// Package quantquality is the quality gate of an INT8 model: it runs the
// retrieval and analogy benchmarks on the float32 model and on its INT8 copy
// over the same dataset, compares text→image R@10, image→image R@10 and
// the analogies' mean R@10, and measures how far each image's vector moved
// (cosine between the two models' vectors of the same picture).
package quantquality

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"

	"mmsearch/bench"
	"mmsearch/bench/analogy"
	"mmsearch/bench/retrieval"
	"mmsearch/encoders"
	"mmsearch/engine"
)

// Gate thresholds (issue 16): each recall within MaxRecallDrop of float32,
// and the mean per-image cosine at least MinMeanCosine.
const (
	MaxRecallDrop = 0.01
	MinMeanCosine = 0.99
)

// Config describes one comparison.
type Config struct {
	// Engine opens the libraries; its Model and Library are set per model.
	Engine retrieval.Engine
	// Model is the float32 model and Int8 its quantized copy (names or folders).
	Model, Int8 string
	// Libraries, when set, is a folder holding one library per model, named
	// after it (kept, so a rerun only re-reads vectors); "" means temporary
	// ones.
	Libraries string
	// Dataset, Queries and Spec are as in retrieval.Config and analogy.Config.
	Dataset, Queries, Spec string
	// Limit keeps the first N items and analogies (0: all).
	Limit int
	// Progress, when set, is told of each stage.
	Progress func(retrieval.Progress)
}

// Check is one gated figure.
type Check struct {
	Name    string  `json:"name"`
	Float32 float64 `json:"float32"`
	Int8    float64 `json:"int8"`
	Delta   float64 `json:"delta"` // int8 − float32
	Limit   string  `json:"limit"`
	Pass    bool    `json:"pass"`
}

// Result is the comparison.
type Result struct {
	Model        string                     `json:"model"`
	Int8Model    string                     `json:"int8_model"`
	Quantization *encoders.QuantizationInfo `json:"quantization"`
	Images       int                        `json:"images"`
	// Cosine per image between the two models' vectors: mean, minimum and
	// the 1st percentile.
	MeanCosine float64 `json:"mean_cosine"`
	MinCosine  float64 `json:"min_cosine"`
	P1Cosine   float64 `json:"p1_cosine"`
	Checks     []Check `json:"checks"`
	Pass       bool    `json:"pass"`
	// Retrieval and Analogy hold both models' full results.
	Retrieval [2]*retrieval.Result `json:"retrieval"`
	Analogy   [2]*analogy.Result   `json:"analogy"`
}

// Run measures both models.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	res := &Result{}
	libs := cfg.Libraries
	if libs == "" {
		tmp, err := os.MkdirTemp("", "mmsearch-quality-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		libs = tmp
	}
	var vecs [2][][]float32
	for i, model := range []string{cfg.Model, cfg.Int8} {
		// One library per model serves both benchmarks and the cosines.
		eng := cfg.Engine
		eng.Model = model
		eng.Library = filepath.Join(libs, []string{"float32", "int8"}[i]+"-"+filepath.Base(filepath.Clean(model)))
		r, err := retrieval.Run(ctx, retrieval.Config{Engine: eng, Dataset: cfg.Dataset, Queries: cfg.Queries, Limit: cfg.Limit, Ks: []int{1, 5, 10}, Progress: cfg.Progress})
		if err != nil {
			return nil, fmt.Errorf("retrieval with %s: %w", model, err)
		}
		a, err := analogy.Run(ctx, analogy.Config{Engine: eng, Dataset: cfg.Dataset, Spec: cfg.Spec, Limit: cfg.Limit, Ks: []int{1, 10}, Modes: []engine.Mode{engine.ModeAdd}, Progress: cfg.Progress})
		if err != nil {
			return nil, fmt.Errorf("analogy with %s: %w", model, err)
		}
		res.Retrieval[i], res.Analogy[i] = r, a
		if vecs[i], err = datasetVectors(ctx, eng, cfg.Dataset, cfg.Limit); err != nil {
			return nil, err
		}
	}
	res.Model, res.Int8Model = res.Retrieval[0].Model, res.Retrieval[1].Model
	resolver := cfg.Engine.Models
	if resolver.Getenv == nil {
		resolver.Getenv = cfg.Engine.Getenv
	}
	if dir, err := resolver.Lookup(cfg.Int8); err == nil {
		if m, err := encoders.ReadManifest(dir); err == nil {
			res.Quantization = m.Quantization
		}
	}
	var cos []float64
	for j := range vecs[0] {
		if j < len(vecs[1]) && vecs[0][j] != nil && vecs[1][j] != nil {
			cos = append(cos, cosine(vecs[0][j], vecs[1][j]))
		}
	}
	if len(cos) == 0 {
		return nil, fmt.Errorf("quality gate: no image was indexed by both models")
	}
	res.Images = len(cos)
	res.MeanCosine, res.MinCosine, res.P1Cosine = stats(cos)
	res.Pass = true
	add := func(name string, f32, i8 float64, ok bool) {
		if !ok {
			return
		}
		c := Check{Name: name, Float32: f32, Int8: i8, Delta: i8 - f32, Limit: fmt.Sprintf("drop ≤ %.2f", MaxRecallDrop)}
		c.Pass = f32-i8 <= MaxRecallDrop+1e-12
		res.Checks = append(res.Checks, c)
		res.Pass = res.Pass && c.Pass
	}
	for _, task := range []string{retrieval.TextToImage, retrieval.ImageToImage} {
		a, okA := res.Retrieval[0].Find(task, retrieval.SubsetAll, retrieval.SearchExact)
		b, okB := res.Retrieval[1].Find(task, retrieval.SubsetAll, retrieval.SearchExact)
		add(task+" R@10 (exact search)", a.At(10), b.At(10), okA && okB)
	}
	a, okA := res.Analogy[0].Find(analogy.FamilyMean, engine.ModeAdd)
	b, okB := res.Analogy[1].Find(analogy.FamilyMean, engine.ModeAdd)
	add("analogy mean R@10 (add)", a.At(10), b.At(10), okA && okB)
	c := Check{Name: "mean cosine(float32, int8) per image", Float32: 1, Int8: res.MeanCosine, Delta: res.MeanCosine - 1,
		Limit: fmt.Sprintf("≥ %.2f", MinMeanCosine), Pass: res.MeanCosine >= MinMeanCosine}
	res.Checks = append(res.Checks, c)
	res.Pass = res.Pass && c.Pass
	return res, nil
}

// datasetVectors opens the library (already indexed) and reads each dataset
// item's stored vector.
func datasetVectors(ctx context.Context, eng retrieval.Engine, dataset string, limit int) ([][]float32, error) {
	ds, err := retrieval.LoadDataset(dataset)
	if err != nil {
		return nil, err
	}
	if limit > 0 {
		ds.Limit(limit)
	}
	lib, closeFn, err := eng.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	idx, err := retrieval.IndexDataset(ctx, lib, ds, nil)
	if err != nil {
		return nil, err
	}
	return idx.Vecs, nil
}

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	if aa == 0 || bb == 0 {
		return 0
	}
	return ab / math.Sqrt(aa*bb)
}

// stats returns the mean, minimum and 1st percentile.
func stats(xs []float64) (mean, lo, p1 float64) {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	for _, x := range s {
		mean += x
	}
	return mean / float64(len(s)), s[0], s[len(s)/100]
}

// Report renders the comparison.
func (r *Result) Report(h bench.Header) *bench.Report {
	h.AddParam("float32 model", r.Model)
	h.AddParam("int8 model", r.Int8Model)
	if q := r.Quantization; q != nil {
		h.AddParam("int8 settings", fmt.Sprintf("%s from %s %s: per-channel %t, 7-bit weights %t, format %s; %d image and %d text MatMul/Gemm nodes int8", q.Method, q.SourceModel, q.SourceVersion, q.PerChannel, q.ReduceRange, q.Format, q.ImageNodes, q.TextNodes))
	}
	if r.Retrieval[0] != nil {
		h.Dataset = r.Retrieval[0].Dataset
		if r.Retrieval[0].Queries != "" {
			h.AddParam("image→image queries", r.Retrieval[0].Queries)
		}
	}
	if r.Analogy[0] != nil {
		h.AddParam("analogy spec", r.Analogy[0].Spec)
	}
	h.Peers = []bench.Peer{{Name: "the float32 model, same engine, same run", Version: r.Model}}
	rep := &bench.Report{Header: h, Figures: r.Figures(), Data: r}
	verdict := "PASS"
	if !r.Pass {
		verdict = "FAIL"
	}
	rep.Headline = append(rep.Headline, fmt.Sprintf("quality gate: %s (%d images; mean cosine %.5f, min %.5f)", verdict, r.Images, r.MeanCosine, r.MinCosine))
	t := bench.Table{Title: "Quality gate: INT8 against float32", Columns: []string{"figure", "float32", "int8", "int8 − float32", "gate", "pass"}}
	for _, c := range r.Checks {
		t.AddRow(c.Name, fmt.Sprintf("%.4f", c.Float32), fmt.Sprintf("%.4f", c.Int8), fmt.Sprintf("%+.4f", c.Delta), c.Limit, c.Pass)
		rep.Headline = append(rep.Headline, fmt.Sprintf("%s: float32 %.4f, int8 %.4f (%+.4f) — %s", c.Name, c.Float32, c.Int8, c.Delta, map[bool]string{true: "pass", false: "FAIL"}[c.Pass]))
	}
	rep.Tables = append(rep.Tables, t)
	ct := bench.Table{Title: "Cosine between the two models' vectors of the same image", Columns: []string{"images", "mean", "1st percentile", "minimum"}}
	ct.AddRow(r.Images, fmt.Sprintf("%.5f", r.MeanCosine), fmt.Sprintf("%.5f", r.P1Cosine), fmt.Sprintf("%.5f", r.MinCosine))
	rep.Tables = append(rep.Tables, ct)
	rt := bench.Table{Title: "Retrieval (exact search, all queries)", Columns: []string{"task", "model", "R@1", "R@5", "R@10", "MRR"}}
	for _, task := range []string{retrieval.TextToImage, retrieval.ImageToImage, retrieval.ImageToText} {
		for i, res := range r.Retrieval {
			if res == nil {
				continue
			}
			if row, ok := res.Find(task, retrieval.SubsetAll, retrieval.SearchExact); ok {
				rt.AddRow(task, []string{"float32", "int8"}[i], fmt.Sprintf("%.4f", row.At(1)), fmt.Sprintf("%.4f", row.At(5)), fmt.Sprintf("%.4f", row.At(10)), fmt.Sprintf("%.4f", row.MRR))
			}
		}
	}
	rep.Tables = append(rep.Tables, rt)
	at := bench.Table{Title: "Analogies (add scoring)", Columns: []string{"family", "float32 R@1", "int8 R@1", "float32 R@10", "int8 R@10"}}
	if r.Analogy[0] != nil && r.Analogy[1] != nil {
		fams := append(append([]string(nil), r.Analogy[0].Families...), analogy.FamilyMean)
		for _, f := range fams {
			a, okA := r.Analogy[0].Find(f, engine.ModeAdd)
			b, okB := r.Analogy[1].Find(f, engine.ModeAdd)
			if okA && okB {
				at.AddRow(f, fmt.Sprintf("%.4f", a.At(1)), fmt.Sprintf("%.4f", b.At(1)), fmt.Sprintf("%.4f", a.At(10)), fmt.Sprintf("%.4f", b.At(10)))
			}
		}
	}
	rep.Tables = append(rep.Tables, at)
	rep.Notes = append(rep.Notes,
		"Both models indexed the same pictures through the engine's ingest pipeline (decode, preprocess, image tower, store); text queries go through each model's own text tower. Activations are quantized per inference over the whole batch, so an INT8 vector depends slightly on the batch it was computed in.",
	)
	return rep
}
