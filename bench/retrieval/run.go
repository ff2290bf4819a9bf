// Package retrieval measures end-task retrieval quality on a labelled
// image–text dataset through mmsearch's real code paths: the images are
// indexed by the engine's ingest pipeline, captions are embedded by the
// model's text tower through its templates, and every task is scored twice,
// with exact search (index/flat) and through HNSW (the library's own search
// path), so the cost of approximation on the end task is visible.
//
// Tasks: text→image (a caption finds its image), image→text (an image finds
// its caption) and, when a second set of query images is given,
// image→image across the two sets. A result is a hit when it shares the
// query's first label, or is the same image when the query has no labels.
// Recall@k and MRR@(largest k) are reported for all queries and, when the
// dataset flags items "withheld", for the withheld and the other items.
package retrieval

import (
	"context"
	"errors"
	"fmt"
	"time"

	"mmsearch/encoders"
	"mmsearch/engine"
	"mmsearch/index"
	"mmsearch/index/flat"
	"mmsearch/index/hnsw"
)

// Task names.
const (
	TextToImage  = "text→image"
	ImageToText  = "image→text"
	ImageToImage = "image→image"
)

// Search kinds.
const (
	SearchExact = "exact" // index/flat over the candidates
	SearchHNSW  = "hnsw"  // the library's HNSW search (SearchTerms)
)

// Query subsets.
const (
	SubsetAll      = "all"
	SubsetWithheld = "withheld"
	SubsetSeen     = "not withheld"
)

// DefaultKs are the recall cut-offs used when Config.Ks is empty.
var DefaultKs = []int{1, 5, 10}

// Config describes one retrieval benchmark.
type Config struct {
	Engine
	// Dataset is a folder with captions.jsonl or captions.csv, or the file.
	Dataset string
	// Queries, when set, is a second dataset whose images query the first
	// one's (image→image across sets; hits by first label, or by the same
	// relative image path when unlabelled).
	Queries string
	// Limit keeps the first N items of the dataset, and at most N queries
	// of Queries (0: all).
	Limit int
	// Ks are the recall cut-offs (default 1, 5, 10); the largest is also
	// the number of results retrieved per query.
	Ks []int
	// AllCaptions uses every caption of an item as a text query and as an
	// image→text candidate, not only the first.
	AllCaptions bool
	// Ef is the HNSW beam width (0: the engine's default for the depth).
	Ef int
	// Progress, when set, is told of each stage.
	Progress func(Progress)
}

// Row is one task, query subset and search kind.
type Row struct {
	Task   string `json:"task"`
	Subset string `json:"subset"`
	Search string `json:"search"`
	Score
	// Seconds is the wall time of the whole pass (all subsets), and QPS
	// its queries per second.
	Seconds float64 `json:"seconds"`
	QPS     float64 `json:"queries_per_second"`
}

// Result is the outcome of a retrieval benchmark.
type Result struct {
	Dataset      string    `json:"dataset"`
	DatasetFile  string    `json:"dataset_file"`
	Queries      string    `json:"queries_dataset,omitempty"`
	Model        string    `json:"model"`
	ModelVersion string    `json:"model_version"`
	ModelDir     string    `json:"model_dir"`
	Fingerprint  string    `json:"model_fingerprint"` // of the towers' digests
	Dim          int       `json:"dim"`
	Library      string    `json:"library"` // "" when temporary
	Limit        int       `json:"limit"`
	Ks           []int     `json:"ks"`
	Ef           int       `json:"ef"` // 0: engine default
	AllCaptions  bool      `json:"all_captions"`
	Images       int       `json:"images"`   // candidate images (indexed)
	Captions     int       `json:"captions"` // image→text candidates
	QueryImages  int       `json:"query_images,omitempty"`
	Withheld     int       `json:"withheld_items,omitempty"`
	IndexSeconds float64   `json:"index_seconds"`
	Embedded     int       `json:"images_embedded"` // by the model in this run
	TextSeconds  float64   `json:"text_embedding_seconds"`
	Texts        int       `json:"texts_embedded"`
	Failed       []Failure `json:"failed,omitempty"`
	QueryFailed  []Failure `json:"query_images_failed,omitempty"`
	// Skipped counts, per task, queries left out because no candidate
	// could be a hit for them.
	Skipped map[string]int `json:"skipped,omitempty"`
	Rows    []Row          `json:"rows"`
}

// Find returns the row for a task, subset and search kind.
func (r *Result) Find(task, subset, search string) (Row, bool) {
	for _, row := range r.Rows {
		if row.Task == task && row.Subset == subset && row.Search == search {
			return row, true
		}
	}
	return Row{}, false
}

// query is one query of a pass.
type query struct {
	vec      []float32
	key      string
	withheld bool
}

// found is one result of a search: the candidate's key and its cosine
// similarity to the query.
type found struct {
	key   string
	score float32
}

// searcher returns the nearest candidates, nearest first.
type searcher func(ctx context.Context, vec []float32) ([]found, error)

// Run indexes the dataset and scores every task with exact and HNSW search.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	ks := cfg.Ks
	if len(ks) == 0 {
		ks = DefaultKs
	}
	ks, err := NormalizeKs(ks)
	if err != nil {
		return nil, err
	}
	if cfg.Limit < 0 {
		return nil, fmt.Errorf("limit %d: want 0 (all) or more", cfg.Limit)
	}
	if cfg.Ef < 0 {
		return nil, fmt.Errorf("ef %d: want 0 (default) or more", cfg.Ef)
	}
	depth := ks[len(ks)-1]
	progress := func(stage string, done, total int) {
		if cfg.Progress != nil {
			cfg.Progress(Progress{Stage: stage, Done: done, Total: total})
		}
	}

	progress("reading "+cfg.Dataset, 0, 0)
	ds, err := LoadDataset(cfg.Dataset)
	if err != nil {
		return nil, err
	}
	ds.Limit(cfg.Limit)
	var qs *Dataset
	if cfg.Queries != "" {
		if qs, err = LoadDataset(cfg.Queries); err != nil {
			return nil, fmt.Errorf("queries: %w", err)
		}
	}

	lib, closeLib, err := cfg.Engine.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer closeLib()
	m := lib.Model()
	res := &Result{
		Dataset: ds.Dir, DatasetFile: ds.File, Queries: cfg.Queries,
		Model: m.Manifest.Name, ModelVersion: m.Manifest.Version, ModelDir: m.Dir, Fingerprint: m.Manifest.Fingerprint(), Dim: m.Dim(),
		Library: cfg.Library, Limit: cfg.Limit, Ks: ks, Ef: cfg.Ef, AllCaptions: cfg.AllCaptions,
		Skipped: map[string]int{},
	}
	for i := range ds.Items {
		if ds.Items[i].Withheld {
			res.Withheld++
		}
	}

	progress(fmt.Sprintf("indexing %d images", len(ds.Items)), 0, 0)
	ix, err := IndexDataset(ctx, lib, ds, cfg.Progress)
	if err != nil {
		return nil, err
	}
	res.IndexSeconds, res.Embedded, res.Failed = ix.Seconds, ix.Ingest.Indexed, ix.Failed

	// Candidate images: the dataset's indexed items.
	imgKeys := map[string]bool{}
	exact, err := flat.New(m.Dim(), index.Cosine)
	if err != nil {
		return nil, err
	}
	var ids []uint64
	var vecs [][]float32
	for i, v := range ix.Vecs {
		if v == nil {
			continue
		}
		ids = append(ids, uint64(i))
		vecs = append(vecs, v)
		imgKeys[ds.Items[i].Key()] = true
	}
	res.Images = len(ids)
	if res.Images == 0 {
		return nil, fmt.Errorf("dataset %s: no image could be indexed (first failure: %s: %s)", ds.File, ix.Failed[0].Image, ix.Failed[0].Reason)
	}
	if err := exact.AddBatch(ctx, ids, vecs); err != nil {
		return nil, err
	}
	exactImages := func(ctx context.Context, vec []float32) ([]found, error) {
		hits, err := exact.Search(vec, depth, index.SearchOptions{})
		if err != nil {
			return nil, err
		}
		out := make([]found, len(hits))
		for j, h := range hits {
			out[j] = found{key: ds.Items[h.ID].Key(), score: 1 - h.Distance}
		}
		return out, nil
	}
	hnswImages := func(ctx context.Context, vec []float32) ([]found, error) {
		res, err := lib.SearchTerms(ctx, []engine.Term{{Vec: vec, Coef: 1}}, ix.Exclude,
			engine.SearchOptions{K: depth, Ef: cfg.Ef, Mode: engine.ModeAdd, KeepCopies: true})
		if err != nil {
			return nil, err
		}
		out := make([]found, 0, len(res))
		for _, r := range res {
			if i, ok := ix.ByID[r.ID]; ok {
				out = append(out, found{key: ds.Items[i].Key(), score: r.Score})
			}
		}
		return out, nil
	}

	// The query set's images, embedded before the texts, right after the
	// dataset's, by the same model.
	var iq []query
	if qs != nil {
		if iq, err = queryImages(ctx, lib, ds, qs, imgKeys, cfg, res, progress); err != nil {
			return nil, err
		}
	}

	// Texts: each item's first caption, or all of them.
	texts, err := embedCaptions(ctx, lib, ds, cfg, res, progress)
	if err != nil {
		return nil, err
	}

	// text→image.
	var tq []query
	for _, t := range texts {
		if !imgKeys[t.key] {
			res.Skipped[TextToImage]++
			continue
		}
		tq = append(tq, query{vec: t.vec, key: t.key, withheld: ds.Items[t.item].Withheld})
	}
	if err := res.score(ctx, TextToImage, tq, ds.HasWithheld, ks, exactImages, hnswImages, progress); err != nil {
		return nil, err
	}

	// image→text: candidates are the captions.
	if len(texts) > 0 {
		if err := res.imageToText(ctx, ds, ix, texts, cfg, ks, progress); err != nil {
			return nil, err
		}
	}

	// image→image across sets.
	if qs != nil {
		withheldKnown := ds.HasWithheld || qs.HasWithheld
		if err := res.score(ctx, ImageToImage, iq, withheldKnown, ks, exactImages, hnswImages, progress); err != nil {
			return nil, err
		}
	}
	if len(res.Skipped) == 0 {
		res.Skipped = nil
	}
	// Every vector must come from the model the run started with.
	if err := encoders.VerifyFiles(m.Dir, m.Manifest); err != nil {
		return nil, fmt.Errorf("the model's files changed during the run, so its vectors may mix two models; run again: %w", err)
	}
	return res, nil
}

// text is one embedded caption.
type text struct {
	item int // dataset item
	vec  []float32
	key  string
}

// embedCaptions embeds the captions used as queries and candidates through
// the model's text tower and templates (EncodeQuery), once per distinct text.
func embedCaptions(ctx context.Context, lib *engine.Library, ds *Dataset, cfg Config, res *Result, progress func(string, int, int)) ([]text, error) {
	var out []text
	total := 0
	for i := range ds.Items {
		switch n := len(ds.Items[i].Captions); {
		case n > 0 && cfg.AllCaptions:
			total += n
		case n > 0:
			total++
		}
	}
	if total == 0 {
		return nil, nil
	}
	enc, err := encoders.NewTextEncoder(lib.Model(), encoders.SessionOptions{IntraOpThreads: cfg.Threads})
	if err != nil {
		return nil, err
	}
	defer enc.Close()
	start := time.Now()
	cache := map[string][]float32{}
	for i := range ds.Items {
		caps := ds.Items[i].Captions
		if !cfg.AllCaptions && len(caps) > 1 {
			caps = caps[:1]
		}
		for _, c := range caps {
			v, ok := cache[c]
			if !ok {
				if v, err = enc.EncodeQuery(ctx, c); err != nil {
					return nil, fmt.Errorf("%s:%d: caption %q: %w", ds.File, ds.Items[i].Line, c, err)
				}
				cache[c] = v
			}
			out = append(out, text{item: i, vec: v, key: ds.Items[i].Key()})
			if len(out)%256 == 0 || len(out) == total {
				progress("embedding captions", len(out), total)
			}
		}
	}
	res.TextSeconds, res.Texts = time.Since(start).Seconds(), len(cache)
	return out, nil
}

// imageToText scores images finding their captions, with exact search and
// with an HNSW index of the caption vectors built for the benchmark (the
// library indexes images only).
func (r *Result) imageToText(ctx context.Context, ds *Dataset, ix *Indexed, texts []text, cfg Config, ks []int, progress func(string, int, int)) error {
	depth := ks[len(ks)-1]
	dim := len(texts[0].vec)
	exact, err := flat.New(dim, index.Cosine)
	if err != nil {
		return err
	}
	approx, err := hnsw.New(dim, hnsw.Config{Seed: 1})
	if err != nil {
		return err
	}
	ids := make([]uint64, len(texts))
	vecs := make([][]float32, len(texts))
	capKeys := map[string]bool{}
	for j, t := range texts {
		ids[j], vecs[j] = uint64(j), t.vec
		capKeys[t.key] = true
	}
	r.Captions = len(texts)
	progress(fmt.Sprintf("building an HNSW index of %d captions", len(texts)), 0, 0)
	if err := exact.AddBatch(ctx, ids, vecs); err != nil {
		return err
	}
	if err := approx.AddBatch(ctx, ids, vecs); err != nil {
		return err
	}
	over := func(x index.Index, ef int) searcher {
		return func(ctx context.Context, vec []float32) ([]found, error) {
			hits, err := x.Search(vec, depth, index.SearchOptions{Ef: ef})
			if err != nil {
				return nil, err
			}
			out := make([]found, len(hits))
			for j, h := range hits {
				out[j] = found{key: texts[h.ID].key, score: 1 - h.Distance}
			}
			return out, nil
		}
	}
	var iq []query
	for i, v := range ix.Vecs {
		if v == nil {
			continue
		}
		it := &ds.Items[i]
		if !capKeys[it.Key()] {
			r.Skipped[ImageToText]++
			continue
		}
		iq = append(iq, query{vec: v, key: it.Key(), withheld: it.Withheld})
	}
	ef := cfg.Ef
	if ef <= 0 {
		ef = engine.DefaultEf(depth) // the library's default, for the caption index too
	}
	return r.score(ctx, ImageToText, iq, ds.HasWithheld, ks, over(exact, 0), over(approx, ef), progress)
}

// queryImages indexes the query set's images into a second temporary
// library (same model) and returns them as queries of the dataset.
func queryImages(ctx context.Context, lib *engine.Library, ds, qs *Dataset, imgKeys map[string]bool, cfg Config, res *Result, progress func(string, int, int)) ([]query, error) {
	withheldKey := map[string]bool{}
	for i := range ds.Items {
		if ds.Items[i].Withheld {
			withheldKey[ds.Items[i].Key()] = true
		}
	}
	// Only queries that can hit are embedded.
	kept := qs.Items[:0:0]
	for _, it := range qs.Items {
		if !imgKeys[it.Key()] {
			res.Skipped[ImageToImage]++
			continue
		}
		kept = append(kept, it)
	}
	sub := *qs
	sub.Items = kept
	sub.Limit(cfg.Limit)
	if len(sub.Items) == 0 {
		return nil, nil
	}
	qe := cfg.Engine
	qe.Library, qe.Model = "", lib.Model().Dir
	qlib, closeQ, err := qe.Open(ctx)
	if err != nil {
		return nil, fmt.Errorf("queries: %w", err)
	}
	defer closeQ()
	if got, want := qlib.Model().Manifest.Fingerprint(), lib.Model().Manifest.Fingerprint(); got != want {
		return nil, fmt.Errorf("queries: the model in %s changed during the run (fingerprint %.12s, was %.12s); run again", lib.Model().Dir, got, want)
	}
	progress(fmt.Sprintf("indexing %d query images", len(sub.Items)), 0, 0)
	qix, err := IndexDataset(ctx, qlib, &sub, cfg.Progress)
	if err != nil {
		return nil, fmt.Errorf("queries: %w", err)
	}
	res.QueryFailed = qix.Failed
	var out []query
	for i, v := range qix.Vecs {
		if v == nil {
			continue
		}
		it := &sub.Items[i]
		w := it.Withheld
		if !qs.HasWithheld {
			w = withheldKey[it.Key()]
		}
		out = append(out, query{vec: v, key: it.Key(), withheld: w})
	}
	res.QueryImages = len(out)
	return out, nil
}

// score runs the queries through both searchers and appends the rows: all
// queries, then (when withheld flags exist) the withheld and other ones.
func (r *Result) score(ctx context.Context, task string, qs []query, subsets bool, ks []int,
	exact, approx searcher, progress func(string, int, int)) error {
	if len(qs) == 0 {
		return nil
	}
	for _, s := range []struct {
		kind string
		fn   searcher
	}{{SearchExact, exact}, {SearchHNSW, approx}} {
		stage := fmt.Sprintf("%s, %s search", task, s.kind)
		ranks := make([]int, len(qs))
		ties := make([]bool, len(qs))
		start := time.Now()
		for i, q := range qs {
			if err := ctx.Err(); err != nil {
				return err
			}
			got, err := s.fn(ctx, q.vec)
			if err != nil {
				if errors.Is(err, engine.ErrEmptyLibrary) {
					return fmt.Errorf("%s: %w", stage, err)
				}
				return fmt.Errorf("%s: query %d: %w", stage, i+1, err)
			}
			ranks[i], ties[i] = RankOf(got, func(f found) bool { return f.key == q.key }, func(f found) float32 { return f.score })
			if (i+1)%256 == 0 || i+1 == len(qs) {
				progress(stage, i+1, len(qs))
			}
		}
		secs := time.Since(start).Seconds()
		subs := []string{SubsetAll}
		if subsets {
			subs = append(subs, SubsetWithheld, SubsetSeen)
		}
		for _, sub := range subs {
			sc, err := NewScorer(ks)
			if err != nil {
				return err
			}
			for i, q := range qs {
				if sub == SubsetAll || (sub == SubsetWithheld) == q.withheld {
					sc.Add(ranks[i], ties[i])
				}
			}
			if sc.Len() == 0 {
				continue
			}
			row := Row{Task: task, Subset: sub, Search: s.kind, Score: sc.Score(), Seconds: secs}
			if secs > 0 {
				row.QPS = float64(len(qs)) / secs
			}
			r.Rows = append(r.Rows, row)
		}
	}
	return nil
}
