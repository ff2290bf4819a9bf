// Package filter measures filtered search: query latency and recall@k of
// searches whose filter matches a given fraction of a large library, and
// the two ways the engine can run them (a graph walk that passes rejected
// items, an exact scan of the matching ones) across fractions, which is
// where engine.ExactScanRule's switch point comes from.
package filter

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"time"

	"mmsearch/bench"
	"mmsearch/encoders"
	"mmsearch/engine"
)

// Limits of Config's counts.
const (
	MaxItems   = 10_000_000
	MaxQueries = 100_000
)

// Config describes one run.
type Config struct {
	// Items is the library size.
	Items int
	// Queries is the number of query vectors timed per filter.
	Queries int
	// K is the number of results per query.
	K int
	// Fractions are the filters' selectivities for the latency table
	// (default 0.5, 0.05, 0.005).
	Fractions []float64
	// Sweep are the fractions at which both ways are timed (default from
	// 0.5 down to 0.0005).
	Sweep []float64
	// Model names the library's model ("" = the resolve chain).
	Model   string
	Seed    uint64
	Runtime encoders.RuntimeOptions
	Getenv  func(string) string
	Log     io.Writer
}

// Row is one filter's figures.
type Row struct {
	Fraction float64 `json:"fraction"`
	Matches  int     `json:"matches"`
	// Plan is what the engine's rule chose: "graph" or "exact".
	Plan   string  `json:"plan"`
	P50Ms  float64 `json:"p50_ms"`
	P99Ms  float64 `json:"p99_ms"`
	Recall float64 `json:"recall_at_k"`
	// GraphP50Ms, ExactP50Ms and GraphRecall are the forced ways (the sweep).
	GraphP50Ms  float64 `json:"graph_p50_ms,omitempty"`
	ExactP50Ms  float64 `json:"exact_p50_ms,omitempty"`
	GraphRecall float64 `json:"graph_recall_at_k,omitempty"`
}

// Result holds a run's figures.
type Result struct {
	Items        int     `json:"items"`
	Dim          int     `json:"dim"`
	Queries      int     `json:"queries"`
	K            int     `json:"k"`
	Model        string  `json:"model"`
	BuildSeconds float64 `json:"index_build_seconds"`
	// AttrLoadMs is the first filtered search's extra time: reading the
	// attribute table from the store (once per library generation).
	AttrLoadMs     float64 `json:"attribute_table_load_ms"`
	UnfilteredP50  float64 `json:"unfiltered_p50_ms"`
	UnfilteredP99  float64 `json:"unfiltered_p99_ms"`
	Rows           []Row   `json:"rows"`
	Sweep          []Row   `json:"sweep"`
	SwitchMatches  int     `json:"measured_switch_matches"` // largest swept match count where exact was faster
	RuleMatches    int     `json:"rule_switch_matches"`     // what ExactScanRule gives for this n and ef
	ExactScanRule  string  `json:"exact_scan_rule"`
	DefaultEfForK  int     `json:"default_ef"`
	QueryVectorsBy string  `json:"query_vectors"`
}

// Figures are the headline numbers by name.
func (r *Result) Figures() map[string]float64 {
	f := map[string]float64{"items": float64(r.Items), "unfiltered_p50_ms": r.UnfilteredP50,
		"measured_switch_matches": float64(r.SwitchMatches), "rule_switch_matches": float64(r.RuleMatches)}
	for _, row := range r.Rows {
		key := fmt.Sprintf("filter_%g_pct", row.Fraction*100)
		f[key+"_p50_ms"] = row.P50Ms
		f[key+"_p99_ms"] = row.P99Ms
		f[key+"_recall_at_k"] = row.Recall
	}
	return f
}

// base is the first modification time of the synthetic items.
var base = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// Run fills a temporary library with cfg.Items synthetic items and times
// filtered searches.
//
// Vectors are as in the query-latency benchmark: every other item is one
// of 16 random unit centres plus Gaussian noise, the rest random unit
// vectors. Item i's modification time is base plus perm(i) seconds for a
// random permutation, so a filter "after base, before base + m seconds"
// matches exactly m items spread at random over the vectors. Queries are
// centres plus noise, searched as vectors (the text encoder is timed by
// bench query).
func Run(ctx context.Context, cfg Config) (*bench.Report, *Result, error) {
	logf := func(format string, args ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, format+"\n", args...)
		}
	}
	if cfg.K <= 0 {
		cfg.K = 10
	}
	if len(cfg.Fractions) == 0 {
		cfg.Fractions = []float64{0.5, 0.05, 0.005}
	}
	if len(cfg.Sweep) == 0 {
		cfg.Sweep = []float64{0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001, 0.0005}
	}
	if cfg.Items < 1 || cfg.Items > MaxItems || cfg.Queries < 1 || cfg.Queries > MaxQueries {
		return nil, nil, fmt.Errorf("bench filter: items must be in 1..%d and queries in 1..%d", MaxItems, MaxQueries)
	}
	tmp, err := os.MkdirTemp("", "mmsearch-bench-filter-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(tmp)
	lib, err := engine.Open(ctx, tmp, engine.Options{Model: cfg.Model, Runtime: cfg.Runtime, Getenv: cfg.Getenv})
	if err != nil {
		return nil, nil, err
	}
	defer lib.Close()
	dim := lib.Model().Dim()
	res := &Result{Items: cfg.Items, Dim: dim, Queries: cfg.Queries, K: cfg.K, Model: lib.Model().Manifest.Name,
		ExactScanRule: engine.ExactScanRule, DefaultEfForK: engine.DefaultEf(cfg.K),
		QueryVectorsBy: "centres + noise σ 0.05, searched as vectors"}

	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	centres := make([][]float32, 16)
	for i := range centres {
		centres[i] = randomUnit(rng, dim)
	}
	logf("filter: writing %d items to a temporary library ...", cfg.Items)
	if err := fill(ctx, lib, cfg.Items, centres, rng); err != nil {
		return nil, nil, err
	}
	queries := make([][]float32, cfg.Queries)
	for i := range queries {
		queries[i] = noisy(rng, centres[rng.IntN(len(centres))], 0.05)
	}
	logf("filter: building the HNSW index ...")
	t0 := time.Now()
	if _, err := lib.SearchVector(ctx, queries[0], engine.SearchOptions{K: cfg.K, KeepCopies: true}); err != nil {
		return nil, nil, err
	}
	res.BuildSeconds = time.Since(t0).Seconds()
	logf("filter: index built in %.1fs", res.BuildSeconds)

	// The first filtered search reads the attribute table.
	t0 = time.Now()
	if _, err := lib.SearchVector(ctx, queries[0], engine.SearchOptions{K: cfg.K, KeepCopies: true, Filter: dateFilter(cfg.Items)}); err != nil {
		return nil, nil, err
	}
	first := time.Since(t0)
	lat, _, err := timeQueries(ctx, lib, queries, engine.SearchOptions{K: cfg.K, KeepCopies: true})
	if err != nil {
		return nil, nil, err
	}
	res.UnfilteredP50, res.UnfilteredP99 = pct(lat, 50), pct(lat, 99)
	res.AttrLoadMs = max(0, ms(first)-res.UnfilteredP50)

	measure := func(fraction float64, sweep bool) (Row, error) {
		m := max(1, int(math.Round(fraction*float64(cfg.Items))))
		row := Row{Fraction: fraction, Matches: m, Plan: "graph"}
		f := dateFilter(m)
		exactLat, truth, err := timeQueries(ctx, lib, queries, engine.SearchOptions{K: cfg.K, KeepCopies: true, Filter: f, Scan: engine.ScanExact})
		if err != nil {
			return row, err
		}
		autoLat, got, err := timeQueries(ctx, lib, queries, engine.SearchOptions{K: cfg.K, KeepCopies: true, Filter: f})
		if err != nil {
			return row, err
		}
		row.P50Ms, row.P99Ms, row.Recall = pct(autoLat, 50), pct(autoLat, 99), recall(got, truth)
		if engine.ExactScanChosen(m, cfg.Items, engine.DefaultEf(cfg.K)) {
			row.Plan = "exact"
		}
		if sweep {
			graphLat, graph, err := timeQueries(ctx, lib, queries, engine.SearchOptions{K: cfg.K, KeepCopies: true, Filter: f, Scan: engine.ScanGraph})
			if err != nil {
				return row, err
			}
			row.GraphP50Ms, row.ExactP50Ms, row.GraphRecall = pct(graphLat, 50), pct(exactLat, 50), recall(graph, truth)
		}
		return row, nil
	}
	for _, fr := range cfg.Fractions {
		logf("filter: %g %% of items ...", fr*100)
		row, err := measure(fr, false)
		if err != nil {
			return nil, nil, err
		}
		res.Rows = append(res.Rows, row)
	}
	for _, fr := range cfg.Sweep {
		logf("filter: sweep, %g %% of items ...", fr*100)
		row, err := measure(fr, true)
		if err != nil {
			return nil, nil, err
		}
		res.Sweep = append(res.Sweep, row)
		if row.ExactP50Ms <= row.GraphP50Ms {
			res.SwitchMatches = max(res.SwitchMatches, row.Matches)
		}
	}
	res.RuleMatches = engine.ExactScanLimit(cfg.Items, engine.DefaultEf(cfg.K))
	return report(ctx, cfg, res), res, nil
}

// dateFilter matches the m items with the earliest modification times.
func dateFilter(m int) engine.Filter {
	return engine.Filter{After: base, Before: base.Add(time.Duration(m) * time.Second)}
}

func randomUnit(rng *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	for j := range v {
		v[j] = float32(rng.NormFloat64())
	}
	encoders.Normalize(v)
	return v
}

func noisy(rng *rand.Rand, c []float32, sigma float64) []float32 {
	v := make([]float32, len(c))
	for j := range v {
		v[j] = c[j] + float32(rng.NormFloat64()*sigma)
	}
	encoders.Normalize(v)
	return v
}

// fill imports n items: every other one near a centre, the rest random,
// with modification times a random permutation of n seconds from base.
func fill(ctx context.Context, lib *engine.Library, n int, centres [][]float32, rng *rand.Rand) error {
	perm := rng.Perm(n)
	const chunk = 2000
	dim := lib.Model().Dim()
	for start := 0; start < n; start += chunk {
		items := make([]engine.ImportItem, 0, chunk)
		for i := start; i < min(start+chunk, n); i++ {
			var v []float32
			if i%2 == 0 {
				v = noisy(rng, centres[rng.IntN(len(centres))], 0.05)
			} else {
				v = randomUnit(rng, dim)
			}
			items = append(items, engine.ImportItem{Path: fmt.Sprintf("/synthetic/%07d.jpg", i), Size: 1,
				MtimeNs: base.Add(time.Duration(perm[i]) * time.Second).UnixNano(), Width: 64, Height: 64, Format: "jpeg", Vector: v})
		}
		if _, err := lib.Import(ctx, items); err != nil {
			return err
		}
	}
	return nil
}

// timeQueries runs every query once and returns the latencies (ms) and the
// result ids.
func timeQueries(ctx context.Context, lib *engine.Library, queries [][]float32, opt engine.SearchOptions) ([]float64, [][]int64, error) {
	lat := make([]float64, 0, len(queries))
	ids := make([][]int64, 0, len(queries))
	for _, q := range queries {
		t0 := time.Now()
		rs, err := lib.SearchVector(ctx, q, opt)
		if err != nil {
			return nil, nil, err
		}
		lat = append(lat, ms(time.Since(t0)))
		got := make([]int64, len(rs))
		for i, r := range rs {
			got[i] = r.ID
		}
		ids = append(ids, got)
	}
	return lat, ids, nil
}

// recall is the mean fraction of the exact results found.
func recall(got, truth [][]int64) float64 {
	hits, total := 0, 0
	for i := range truth {
		for _, id := range truth[i] {
			if slices.Contains(got[i], id) {
				hits++
			}
		}
		total += len(truth[i])
	}
	if total == 0 {
		return 1
	}
	return float64(hits) / float64(total)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func pct(xs []float64, p float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func report(ctx context.Context, cfg Config, res *Result) *bench.Report {
	h := bench.NewHeader(ctx, "filter", fmt.Sprintf("%d synthetic items, dimension %d (half near 16 centres, half random); modification times a random permutation, filters are date ranges", res.Items, res.Dim))
	h.AddParam("model", res.Model)
	h.AddParam("k", res.K)
	h.AddParam("queries per filter", res.Queries)
	h.AddParam("index", fmt.Sprintf("hnsw M=16 efConstruction=%d ef=%s = %d", engine.LibraryEfConstruction, engine.DefaultEfRule, res.DefaultEfForK))
	h.AddParam("exact-scan rule", res.ExactScanRule)
	r := &bench.Report{Header: h, Figures: res.Figures(), Data: res}
	for _, row := range res.Rows {
		r.Headline = append(r.Headline, fmt.Sprintf("filter matching %g %% (%d items, %s): p50 %.2f ms, p99 %.2f ms, recall@%d %.4f against exact filtered search",
			row.Fraction*100, row.Matches, row.Plan, row.P50Ms, row.P99Ms, res.K, row.Recall))
	}
	r.Headline = append(r.Headline, fmt.Sprintf("unfiltered: p50 %.2f ms, p99 %.2f ms; exact scan measured faster up to %d matches, the rule switches at %d",
		res.UnfilteredP50, res.UnfilteredP99, res.SwitchMatches, res.RuleMatches))
	t := bench.Table{Title: "Filtered search (the engine's choice)", Columns: []string{"filter matches", "items", "plan", "p50 ms", "p99 ms", fmt.Sprintf("recall@%d", res.K)}}
	t.AddRow("none", res.Items, "graph", f2(res.UnfilteredP50), f2(res.UnfilteredP99), "-")
	for _, row := range res.Rows {
		t.AddRow(fmt.Sprintf("%g %%", row.Fraction*100), row.Matches, row.Plan, f2(row.P50Ms), f2(row.P99Ms), fmt.Sprintf("%.4f", row.Recall))
	}
	s := bench.Table{Title: "Switch point: graph walk against exact scan", Columns: []string{"filter matches", "items", "graph p50 ms", fmt.Sprintf("graph recall@%d", res.K), "exact p50 ms", "faster", "rule picks"}}
	for _, row := range res.Sweep {
		faster := "graph"
		if row.ExactP50Ms <= row.GraphP50Ms {
			faster = "exact"
		}
		s.AddRow(fmt.Sprintf("%g %%", row.Fraction*100), row.Matches, f2(row.GraphP50Ms), fmt.Sprintf("%.4f", row.GraphRecall), f2(row.ExactP50Ms), faster, row.Plan)
	}
	r.Tables = []bench.Table{t, s}
	r.Notes = []string{
		"Latency is engine.Library.SearchVector: filter test, index search, store look-ups; the text encoder is not included (bench query times it).",
		fmt.Sprintf("The first filtered search also read the attribute table from the store: %.1f ms extra, once per library generation.", res.AttrLoadMs),
		"Recall is against the exact scan of the matching items (engine.ScanExact), which the engine tests check against brute force.",
	}
	return r
}

func f2(x float64) string { return fmt.Sprintf("%.2f", x) }
