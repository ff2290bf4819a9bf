// Package latency measures text-query latency on a large library: a query
// string in, ranked items out, through the real engine (parse, tokenize, text
// encoder with the model's templates, HNSW search, store look-ups).
package latency

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"time"

	"mmsearch/bench"
	"mmsearch/encoders"
	"mmsearch/engine"
)

// Config describes one latency benchmark.
type Config struct {
	Items   int      // library size
	Queries []string // text queries, cycled
	Runs    int      // timed queries
	K       int      // results per query
	Model   string
	Seed    uint64
	Runtime encoders.RuntimeOptions
	Getenv  func(string) string
	Log     io.Writer
}

// Result holds the measured figures.
type Result struct {
	Items         int     `json:"items"`
	Runs          int     `json:"runs"`
	K             int     `json:"k"`
	BuildSeconds  float64 `json:"index_build_seconds"`
	P50Ms         float64 `json:"p50_ms"`
	P90Ms         float64 `json:"p90_ms"`
	P99Ms         float64 `json:"p99_ms"`
	MeanMs        float64 `json:"mean_ms"`
	TextOnlyP50Ms float64 `json:"text_encoder_p50_ms"`
	Model         string  `json:"model"`
}

// Run fills a temporary library with cfg.Items items and times text queries.
//
// The items' vectors are synthetic: the model's own text embeddings of the
// query words perturbed with Gaussian noise (so the queries have realistic
// near neighbours), mixed with random unit vectors. Embedding 100,000 real
// pictures would take hours here and would not change what is timed.
func Run(ctx context.Context, cfg Config) (*bench.Report, *Result, error) {
	logf := func(format string, args ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, format+"\n", args...)
		}
	}
	if cfg.K <= 0 {
		cfg.K = 10
	}
	if len(cfg.Queries) == 0 {
		return nil, nil, fmt.Errorf("no queries")
	}
	tmp, err := os.MkdirTemp("", "mmsearch-bench-latency-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(tmp)
	lib, err := engine.Open(ctx, tmp, engine.Options{Model: cfg.Model, Runtime: cfg.Runtime, Getenv: cfg.Getenv})
	if err != nil {
		return nil, nil, err
	}
	defer lib.Close()
	res := &Result{Items: cfg.Items, Runs: cfg.Runs, K: cfg.K, Model: lib.Model().Manifest.Name}

	// Seed vectors: the query texts' embeddings.
	txt, err := encoders.NewTextEncoder(lib.Model(), encoders.SessionOptions{})
	if err != nil {
		return nil, nil, err
	}
	defer txt.Close()
	centres, err := txt.EncodeTexts(ctx, cfg.Queries)
	if err != nil {
		return nil, nil, err
	}
	logf("latency: writing %d items to a temporary library ...", cfg.Items)
	if err := FillSynthetic(ctx, lib, cfg.Items, centres, cfg.Seed); err != nil {
		return nil, nil, err
	}
	logf("latency: building the HNSW index (M=16, efConstruction=%d) ...", engine.LibraryEfConstruction)
	t0 := time.Now()
	if _, err := lib.Search(ctx, cfg.Queries[0], engine.SearchOptions{K: cfg.K}); err != nil {
		return nil, nil, err
	}
	res.BuildSeconds = time.Since(t0).Seconds()
	logf("latency: index built in %.1fs; timing %d queries ...", res.BuildSeconds, cfg.Runs)

	// Warm-up, then the timed runs.
	for i := 0; i < 20; i++ {
		lib.Search(ctx, cfg.Queries[i%len(cfg.Queries)], engine.SearchOptions{K: cfg.K})
	}
	lat := make([]float64, 0, cfg.Runs)
	textLat := make([]float64, 0, cfg.Runs)
	for i := 0; i < cfg.Runs; i++ {
		q := cfg.Queries[i%len(cfg.Queries)]
		t0 := time.Now()
		r, err := lib.Search(ctx, q, engine.SearchOptions{K: cfg.K})
		if err != nil {
			return nil, nil, err
		}
		lat = append(lat, float64(time.Since(t0).Microseconds())/1000)
		if len(r.Results) != cfg.K {
			return nil, nil, fmt.Errorf("query %q: %d results, want %d", q, len(r.Results), cfg.K)
		}
		t0 = time.Now()
		if _, err := txt.EncodeQuery(ctx, q); err != nil {
			return nil, nil, err
		}
		textLat = append(textLat, float64(time.Since(t0).Microseconds())/1000)
	}
	res.P50Ms, res.P90Ms, res.P99Ms = pct(lat, 50), pct(lat, 90), pct(lat, 99)
	res.TextOnlyP50Ms = pct(textLat, 50)
	sum := 0.0
	for _, x := range lat {
		sum += x
	}
	res.MeanMs = sum / float64(len(lat))
	return report(ctx, cfg, res), res, nil
}

// FillSynthetic adds n synthetic items to lib: every other one a vector of
// centres (picked at random) plus Gaussian noise (σ 0.05 per component), the
// rest random unit vectors, each under the path /synthetic/NNNNNNN.png. The
// items have no files; an ingest must keep missing items to keep them.
func FillSynthetic(ctx context.Context, lib *engine.Library, n int, centres [][]float32, seed uint64) error {
	if len(centres) == 0 {
		return fmt.Errorf("synthetic items: no centre vectors")
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	dim := lib.Model().Dim()
	const chunk = 2000
	for start := 0; start < n; start += chunk {
		items := make([]engine.ImportItem, 0, chunk)
		for i := start; i < min(start+chunk, n); i++ {
			v := make([]float32, dim)
			if i%2 == 0 {
				c := centres[rng.IntN(len(centres))]
				for j := range v {
					v[j] = c[j] + float32(rng.NormFloat64()*0.05)
				}
			} else {
				for j := range v {
					v[j] = float32(rng.NormFloat64())
				}
			}
			encoders.Normalize(v)
			var h [32]byte
			h[0], h[1], h[2], h[3] = byte(i), byte(i>>8), byte(i>>16), byte(i>>24)
			items = append(items, engine.ImportItem{Path: fmt.Sprintf("/synthetic/%07d.png", i), Size: 1, MtimeNs: 1, Hash: h, Width: 64, Height: 64, Format: "png", Vector: v})
		}
		if _, err := lib.Import(ctx, items); err != nil {
			return err
		}
	}
	return nil
}

func pct(xs []float64, p float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func report(ctx context.Context, cfg Config, res *Result) *bench.Report {
	h := bench.NewHeader(ctx, "query-latency", fmt.Sprintf("%d synthetic items (model text embeddings + noise, and random unit vectors)", cfg.Items))
	h.AddParam("model", res.Model)
	h.AddParam("k", res.K)
	h.AddParam("runs", res.Runs)
	h.AddParam("queries", len(cfg.Queries))
	h.AddParam("index", fmt.Sprintf("hnsw M=16 efConstruction=%d ef=max(64,2k)", engine.LibraryEfConstruction))
	r := &bench.Report{Header: h, Figures: res.Figures(), Data: res}
	r.Headline = []string{fmt.Sprintf("text query on %d items: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms (text encoder alone p50 %.2f ms)", res.Items, res.P50Ms, res.P90Ms, res.P99Ms, res.TextOnlyP50Ms)}
	t := bench.Table{Title: "Latency", Columns: []string{"items", "p50 ms", "p90 ms", "p99 ms", "mean ms", "text encoder p50 ms", "index build s"}}
	t.AddRow(res.Items, fmt.Sprintf("%.2f", res.P50Ms), fmt.Sprintf("%.2f", res.P90Ms), fmt.Sprintf("%.2f", res.P99Ms), fmt.Sprintf("%.2f", res.MeanMs), fmt.Sprintf("%.2f", res.TextOnlyP50Ms), fmt.Sprintf("%.1f", res.BuildSeconds))
	r.Tables = []bench.Table{t}
	return r
}
