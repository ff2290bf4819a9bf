// Package analogy measures analogy search — source image - "text" + "text"
// finds the expected image — through the engine's real query path: each
// analogy becomes a query-language expression evaluated by Library.Search
// in the "add" and "mul" (3CosMul) scoring modes, over a dataset indexed by
// the engine's ingest pipeline. It reports recall@k per family and overall,
// and keeps every miss at rank 1 (query, expected, top results) for people
// to look at.
package analogy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"mmsearch/bench/retrieval"
	"mmsearch/encoders"
	"mmsearch/engine"
	"mmsearch/engine/walk"
)

// SpecName is the spec file looked for in the model's folder when
// Config.Spec is empty.
const SpecName = "analogies.jsonl"

// Defaults used when Config leaves them empty.
var (
	DefaultKs    = []int{1, 10}
	DefaultModes = engine.Modes
)

// TopShown is the number of results kept with each failure.
const TopShown = 5

// Family names of the summary rows.
const (
	FamilyAll  = "all"              // every analogy (micro average)
	FamilyMean = "mean of families" // unweighted mean over families (macro)
)

// Config describes one analogy benchmark.
type Config struct {
	retrieval.Engine
	// Dataset is a folder of images, with or without captions.jsonl /
	// captions.csv (needed for expected_labels), or the captions file.
	Dataset string
	// Spec is the analogy spec (JSON Lines); "" means analogies.jsonl in
	// the model's folder.
	Spec string
	// Limit keeps the first N analogies (0: all).
	Limit int
	// Ks are the recall cut-offs (default 1, 10); the largest is the
	// number of results asked for.
	Ks []int
	// Modes are the scoring modes to run (default add and mul).
	Modes []engine.Mode
	// Ef is the HNSW beam width (0: the engine's default).
	Ef int
	// Progress, when set, is told of each stage.
	Progress func(retrieval.Progress)
}

// FamilyScore is recall for one family (or summary row) in one mode.
type FamilyScore struct {
	Family string      `json:"family"`
	Mode   engine.Mode `json:"mode"`
	retrieval.Score
}

// Hit is one returned image.
type Hit struct {
	Image string  `json:"image"` // relative to the dataset folder when inside it
	Label string  `json:"label,omitempty"`
	Score float32 `json:"score"`
}

// Failure is an analogy whose expected answer was not the first result.
type Failure struct {
	Line           int         `json:"line"`
	Family         string      `json:"family"`
	Mode           engine.Mode `json:"mode"`
	Query          string      `json:"query"`
	Expected       []string    `json:"expected,omitempty"`
	ExpectedLabels []string    `json:"expected_labels,omitempty"`
	// Rank is the 1-based position of the first expected result, 0 when
	// it was not among the results asked for.
	Rank int `json:"rank"`
	// Tied reports that the expected result scored the same as the first
	// result (identical embeddings: the order between them is arbitrary).
	Tied bool  `json:"tied_with_first,omitempty"`
	Got  []Hit `json:"got"`
}

// Skip is an analogy left out, with the reason.
type Skip struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// ModeTime is the time the searches of one mode took.
type ModeTime struct {
	Mode    engine.Mode `json:"mode"`
	Seconds float64     `json:"seconds"`
	QPS     float64     `json:"queries_per_second"`
}

// Result is the outcome of an analogy benchmark.
type Result struct {
	Dataset      string              `json:"dataset"`
	DatasetFile  string              `json:"dataset_file,omitempty"` // "" without a captions file
	Spec         string              `json:"spec"`
	Model        string              `json:"model"`
	ModelVersion string              `json:"model_version"`
	ModelDir     string              `json:"model_dir"`
	Fingerprint  string              `json:"model_fingerprint"` // of the towers' digests
	Library      string              `json:"library"`
	Limit        int                 `json:"limit"`
	Ks           []int               `json:"ks"`
	Modes        []engine.Mode       `json:"modes"`
	Ef           int                 `json:"ef"`
	Images       int                 `json:"images"`
	Analogies    int                 `json:"analogies"` // scored
	Families     []string            `json:"families"`
	IndexSeconds float64             `json:"index_seconds"`
	Embedded     int                 `json:"images_embedded"`
	Failed       []retrieval.Failure `json:"failed,omitempty"`
	Skipped      []Skip              `json:"skipped,omitempty"`
	Scores       []FamilyScore       `json:"scores"`
	Times        []ModeTime          `json:"times"`
	FailureCount int                 `json:"failures"`
	// Failures are written to their own JSON Lines file.
	Failures []Failure `json:"-"`
}

// Find returns the score of a family (or FamilyAll, FamilyMean) in a mode.
func (r *Result) Find(family string, mode engine.Mode) (FamilyScore, bool) {
	for _, s := range r.Scores {
		if s.Family == family && s.Mode == mode {
			return s, true
		}
	}
	return FamilyScore{}, false
}

// prepared is an analogy ready to run.
type prepared struct {
	Analogy
	expr   string
	paths  map[string]bool // expected absolute paths
	labels map[string]bool // expected first labels
}

// Run indexes the dataset, runs every analogy in every mode and scores them.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	ks := cfg.Ks
	if len(ks) == 0 {
		ks = DefaultKs
	}
	ks, err := retrieval.NormalizeKs(ks)
	if err != nil {
		return nil, err
	}
	modes := cfg.Modes
	if len(modes) == 0 {
		modes = DefaultModes
	}
	for _, m := range modes {
		if _, err := engine.ParseMode(string(m)); err != nil || m == "" {
			return nil, fmt.Errorf("unknown scoring mode %q (want %s or %s)", m, engine.ModeAdd, engine.ModeMul)
		}
	}
	if cfg.Limit < 0 || cfg.Ef < 0 {
		return nil, fmt.Errorf("limit %d, ef %d: want 0 or more", cfg.Limit, cfg.Ef)
	}
	depth := ks[len(ks)-1]
	progress := func(stage string, done, total int) {
		if cfg.Progress != nil {
			cfg.Progress(retrieval.Progress{Stage: stage, Done: done, Total: total})
		}
	}

	progress("reading "+cfg.Dataset, 0, 0)
	ds, labelled, err := loadDataset(ctx, cfg.Dataset)
	if err != nil {
		return nil, err
	}
	var spec []Analogy
	if cfg.Spec != "" { // read before the model starts, so a bad spec fails fast
		if spec, err = LoadSpec(cfg.Spec); err != nil {
			return nil, err
		}
	}
	lib, closeLib, err := cfg.Engine.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer closeLib()
	specPath := cfg.Spec
	if specPath == "" {
		specPath = filepath.Join(lib.Model().Dir, SpecName)
		if _, err := os.Stat(specPath); err != nil {
			return nil, fmt.Errorf("no analogy spec given, and model %s has no %s", lib.Model().Manifest.Name, SpecName)
		}
		if spec, err = LoadSpec(specPath); err != nil {
			return nil, err
		}
	}
	if abs, err := filepath.Abs(specPath); err == nil {
		specPath = abs
	}
	if cfg.Limit > 0 && cfg.Limit < len(spec) {
		spec = spec[:cfg.Limit]
	}
	m := lib.Model()
	res := &Result{
		Dataset: ds.Dir, Spec: specPath, Model: m.Manifest.Name, ModelVersion: m.Manifest.Version, ModelDir: m.Dir,
		Fingerprint: m.Manifest.Fingerprint(),
		Library:     cfg.Library, Limit: cfg.Limit, Ks: ks, Modes: modes, Ef: cfg.Ef,
	}
	if labelled {
		res.DatasetFile = ds.File
	}

	progress(fmt.Sprintf("indexing %d images", len(ds.Items)), 0, 0)
	ix, err := retrieval.IndexDataset(ctx, lib, ds, cfg.Progress)
	if err != nil {
		return nil, err
	}
	res.IndexSeconds, res.Embedded, res.Failed = ix.Seconds, ix.Ingest.Indexed, ix.Failed
	byPath := map[string]int{} // indexed images only
	for i := range ds.Items {
		if ix.Vecs[i] != nil {
			byPath[ds.Items[i].Path] = i
		}
	}
	res.Images = len(byPath)
	if res.Images == 0 {
		return nil, fmt.Errorf("dataset %s: no image could be indexed", ds.Dir)
	}

	runs, err := prepare(spec, ds, labelled, byPath, res)
	if err != nil {
		return nil, err
	}
	res.Analogies = len(runs)

	opt := engine.SearchOptions{K: depth, Ef: cfg.Ef, AllowPaths: true}
	if ix.Exclude != nil { // a reused library holds more than the dataset
		opt.Filter.PathPrefix = ds.Dir + string(filepath.Separator)
	}
	rel := func(p string) (string, string) {
		if i, ok := byPath[p]; ok {
			it := &ds.Items[i]
			if len(it.Labels) > 0 {
				return it.Image, it.Labels[0]
			}
			return it.Image, ""
		}
		return p, ""
	}
	ranks := map[engine.Mode][]int{} // mode → rank per run
	ties := map[engine.Mode][]bool{} // mode → whether the hit ties the first result
	for _, mode := range modes {
		opt.Mode = mode
		stage := fmt.Sprintf("analogies, %s mode", mode)
		start := time.Now()
		rs := make([]int, len(runs))
		ts := make([]bool, len(runs))
		for j := range runs {
			p := &runs[j]
			sr, err := lib.Search(ctx, p.expr, opt)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %s: %w", filepath.Base(specPath), p.Line, p.expr, err)
			}
			hits := make([]Hit, len(sr.Results))
			for i, r := range sr.Results {
				hits[i].Image, hits[i].Label = rel(r.Path)
				hits[i].Score = r.Score
			}
			rs[j], ts[j] = retrieval.RankOf(sr.Results, func(r engine.Result) bool {
				// A result is one content: byte-identical files (OpenMoji
				// draws some emoji in identical files) are one item with
				// all their paths, any of which may be the expected one.
				for _, path := range append([]string{r.Path}, r.Paths...) {
					if p.paths[path] {
						return true
					}
					if _, label := rel(path); label != "" && p.labels[label] {
						return true
					}
				}
				return false
			}, func(r engine.Result) float32 { return r.Score })
			if rs[j] != 1 {
				f := Failure{Line: p.Line, Family: p.Family, Mode: mode, Query: p.expr,
					Expected: p.Expected, ExpectedLabels: p.ExpectedLabels, Rank: rs[j], Tied: ts[j],
					Got: hits[:min(TopShown, len(hits))]}
				res.Failures = append(res.Failures, f)
			}
			if (j+1)%64 == 0 || j+1 == len(runs) {
				progress(stage, j+1, len(runs))
			}
		}
		secs := time.Since(start).Seconds()
		mt := ModeTime{Mode: mode, Seconds: secs}
		if secs > 0 {
			mt.QPS = float64(len(runs)) / secs
		}
		res.Times = append(res.Times, mt)
		ranks[mode], ties[mode] = rs, ts
	}
	res.FailureCount = len(res.Failures)
	if err := res.score(runs, ranks, ties, ks); err != nil {
		return nil, err
	}
	// Every vector must come from the model the run started with.
	if err := encoders.VerifyFiles(m.Dir, m.Manifest); err != nil {
		return nil, fmt.Errorf("the model's files changed during the run, so its vectors may mix two models; run again: %w", err)
	}
	return res, nil
}

// loadDataset reads the dataset's captions file, or lists the images of a
// folder without one (through the engine's walker). labelled reports
// whether a captions file was read.
func loadDataset(ctx context.Context, path string) (*retrieval.Dataset, bool, error) {
	ds, err := retrieval.LoadDataset(path)
	if err == nil {
		return ds, true, nil
	}
	if !errors.Is(err, retrieval.ErrNoCaptions) {
		return nil, false, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, false, err
	}
	ds = &retrieval.Dataset{Dir: abs}
	err = walk.Walk(ctx, []string{abs}, walk.Options{}, func(f walk.File) error {
		rel, err := filepath.Rel(abs, f.Path)
		if err != nil {
			return err
		}
		ds.Items = append(ds.Items, retrieval.Item{Image: filepath.ToSlash(rel), Path: f.Path})
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("dataset %s: %w", path, err)
	}
	if len(ds.Items) == 0 {
		return nil, false, fmt.Errorf("dataset %s: no files", path)
	}
	return ds, false, nil
}

// prepare checks the analogies against the dataset and builds their
// queries. Mistakes in the spec (an unknown file or label) are errors with
// the line; analogies whose expected images all failed to index are skipped.
func prepare(spec []Analogy, ds *retrieval.Dataset, labelled bool, byPath map[string]int, res *Result) ([]prepared, error) {
	name := filepath.Base(res.Spec)
	allPaths := map[string]bool{}
	allLabels := map[string]bool{}
	for i := range ds.Items {
		allPaths[ds.Items[i].Path] = true
		if len(ds.Items[i].Labels) > 0 {
			allLabels[ds.Items[i].Labels[0]] = true
		}
	}
	indexedLabels := map[string]bool{}
	for _, i := range byPath {
		if its := ds.Items[i].Labels; len(its) > 0 {
			indexedLabels[its[0]] = true
		}
	}
	families := map[string]bool{}
	var out []prepared
	for _, a := range spec {
		p := prepared{Analogy: a, paths: map[string]bool{}, labels: map[string]bool{}}
		if src, ok := a.SourcePath(ds.Dir); ok {
			fi, err := os.Stat(src)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: source %q: %w", name, a.Line, a.Source, err)
			}
			if !fi.Mode().IsRegular() {
				return nil, fmt.Errorf("%s:%d: source %q is not a file", name, a.Line, a.Source)
			}
		}
		reachable := false
		for _, e := range a.Expected {
			ap := resolve(ds.Dir, e)
			if !allPaths[ap] {
				return nil, fmt.Errorf("%s:%d: expected image %q is not in the dataset %s", name, a.Line, e, ds.Dir)
			}
			p.paths[ap] = true
			_, ok := byPath[ap]
			reachable = reachable || ok
		}
		if len(a.ExpectedLabels) > 0 && !labelled {
			return nil, fmt.Errorf("%s:%d: expected_labels need a dataset with %s", name, a.Line, retrieval.CaptionsJSONL)
		}
		for _, l := range a.ExpectedLabels {
			if !allLabels[l] {
				return nil, fmt.Errorf("%s:%d: no image of the dataset has the first label %q", name, a.Line, l)
			}
			p.labels[l] = true
			reachable = reachable || indexedLabels[l]
		}
		if !reachable {
			res.Skipped = append(res.Skipped, Skip{Line: a.Line, Reason: "every expected image failed to index"})
			continue
		}
		expr, err := a.Expression(ds.Dir)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, a.Line, err)
		}
		p.expr = expr
		families[a.Family] = true
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no analogy can be scored", name)
	}
	for f := range families {
		res.Families = append(res.Families, f)
	}
	sort.Strings(res.Families)
	return out, nil
}

// score fills the per-family, overall and mean-of-families rows.
func (r *Result) score(runs []prepared, ranks map[engine.Mode][]int, ties map[engine.Mode][]bool, ks []int) error {
	for _, mode := range r.Modes {
		rs, ts := ranks[mode], ties[mode]
		mean := make([]float64, len(ks))
		meanMRR, meanTies := 0.0, 0.0
		for _, fam := range r.Families {
			sc, err := retrieval.NewScorer(ks)
			if err != nil {
				return err
			}
			for j := range runs {
				if runs[j].Family == fam {
					sc.Add(rs[j], ts[j])
				}
			}
			s := sc.Score()
			r.Scores = append(r.Scores, FamilyScore{Family: fam, Mode: mode, Score: s})
			for i := range ks {
				mean[i] += s.Recall[i].Value / float64(len(r.Families))
			}
			meanMRR += s.MRR / float64(len(r.Families))
			meanTies += s.R1Ties / float64(len(r.Families))
		}
		sc, err := retrieval.NewScorer(ks)
		if err != nil {
			return err
		}
		for j, x := range rs {
			sc.Add(x, ts[j])
		}
		r.Scores = append(r.Scores, FamilyScore{Family: FamilyAll, Mode: mode, Score: sc.Score()})
		ms := retrieval.Score{Queries: len(rs), MRR: meanMRR, Depth: ks[len(ks)-1], R1Ties: meanTies}
		for i, k := range ks {
			ms.Recall = append(ms.Recall, retrieval.KValue{K: k, Value: mean[i]})
		}
		r.Scores = append(r.Scores, FamilyScore{Family: FamilyMean, Mode: mode, Score: ms})
	}
	return nil
}

// describe is the dataset line of the report.
func (r *Result) describe() string {
	src := r.Dataset
	if r.DatasetFile != "" {
		src = r.DatasetFile
	}
	return fmt.Sprintf("%s (%d images); spec %s (%d analogies in %d families: %s)",
		src, r.Images, r.Spec, r.Analogies, len(r.Families), strings.Join(r.Families, ", "))
}
