package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"time"

	"mmsearch/encoders"
	"mmsearch/encoders/imageproc"
	"mmsearch/engine/catalog"
	"mmsearch/engine/query"
	"mmsearch/engine/store"
	"mmsearch/index"
)

// Scoring modes.
const (
	ModeAdd = "add" // cosine similarity to the normalized weighted sum
	ModeMul = "mul" // 3CosMul re-ranking of the nearest candidates
)

// SearchOptions tunes Library.Search.
type SearchOptions struct {
	// K is the number of results (0 = 10).
	K int
	// Ef is the HNSW beam width (0 = DefaultEf of the candidates wanted).
	Ef int
	// Mode is ModeAdd (default) or ModeMul.
	Mode string
	// IncludeInputs keeps items used as query inputs in the results.
	IncludeInputs bool
	// PathPrefix, when set, keeps only items whose path starts with it.
	PathPrefix string
	// Home expands "~/" in query paths (empty: $HOME).
	Home string
	// AllowURLs lets queries fetch http(s) images (the CLI allows them; the
	// server does not).
	AllowURLs bool
	// AllowPaths lets queries read image files from disk (the CLI allows
	// them; the server does not: only indexed items may be used there).
	AllowPaths bool
	// MaxImageBytes bounds an image read or fetched for a query (0 = 32 MiB).
	MaxImageBytes int64
}

// Result is one found item.
type Result struct {
	ID     int64   `json:"id"`
	Path   string  `json:"path"`
	Score  float32 `json:"score"` // cosine similarity for add, the 3CosMul score for mul
	Width  int     `json:"width"`
	Height int     `json:"height"`
	Format string  `json:"format"`
}

// TermInfo describes how one query term was understood.
type TermInfo struct {
	Kind   string  `json:"kind"`
	Value  string  `json:"value"`
	Coef   float32 `json:"coef"`
	ItemID int64   `json:"item_id,omitempty"` // for inputs that are indexed items
}

// SearchResult is the answer to a query.
type SearchResult struct {
	Query   string        `json:"query"`
	Terms   []TermInfo    `json:"terms"`
	Mode    string        `json:"mode"`
	Results []Result      `json:"results"`
	Took    time.Duration `json:"took_ns"`
}

// DefaultEf is the engine's one default search beam width for k wanted
// results: max(64, 2k). The CLI, the server and the benchmarks pass 0 to
// get it.
func DefaultEf(k int) int { return max(64, 2*k) }

// DefaultEfRule describes DefaultEf for reports and help texts.
const DefaultEfRule = "max(64, 2k)"

// ErrZeroQuery is returned when a query's weighted terms sum to the zero vector.
var ErrZeroQuery = errors.New("the query's terms cancel out")

// ErrEmptyLibrary is returned by searches of a library without items.
var ErrEmptyLibrary = errors.New("the library has no items; run 'mmsearch index PATH' first")

// Term is a resolved query term: a unit vector and its signed weight.
type Term struct {
	Vec  []float32
	Coef float32
}

// Search parses and evaluates a query expression. Syntax errors and inputs
// that cannot be used (unknown file, not an image, unknown item) are returned
// as *query.SyntaxError with the position of the term.
func (l *Library) Search(ctx context.Context, expr string, opt SearchOptions) (*SearchResult, error) {
	start := time.Now()
	q, err := query.Parse(expr, query.Options{Home: opt.Home})
	if err != nil {
		return nil, err
	}
	terms := make([]Term, 0, len(q.Terms))
	infos := make([]TermInfo, 0, len(q.Terms))
	exclude := map[int64]bool{}
	for i := range q.Terms {
		t := &q.Terms[i]
		vec, itemID, err := l.resolveTerm(ctx, t, opt)
		if err != nil {
			return nil, err
		}
		terms = append(terms, Term{Vec: vec, Coef: t.Coef()})
		infos = append(infos, TermInfo{Kind: t.Kind.String(), Value: t.Value, Coef: t.Coef(), ItemID: itemID})
		if itemID > 0 {
			exclude[itemID] = true
		}
	}
	if opt.IncludeInputs {
		exclude = nil
	}
	res, err := l.SearchTerms(ctx, terms, exclude, opt)
	if err != nil {
		return nil, err
	}
	return &SearchResult{Query: expr, Terms: infos, Mode: modeOf(opt), Results: res, Took: time.Since(start)}, nil
}

func modeOf(opt SearchOptions) string {
	if opt.Mode == "" {
		return ModeAdd
	}
	return opt.Mode
}

// SearchVector returns the items nearest to a vector (normalized here).
func (l *Library) SearchVector(ctx context.Context, vec []float32, opt SearchOptions) ([]Result, error) {
	v := append([]float32(nil), vec...)
	if err := encoders.Normalize(v); err != nil {
		return nil, err
	}
	return l.SearchTerms(ctx, []Term{{Vec: v, Coef: 1}}, nil, opt)
}

// SearchImage embeds an uploaded image and returns the items nearest to it.
func (l *Library) SearchImage(ctx context.Context, r io.Reader, name string, size int64, opt SearchOptions) ([]Result, error) {
	vec, err := l.embedImage(ctx, r, name, size, opt)
	if err != nil {
		return nil, err
	}
	return l.SearchTerms(ctx, []Term{{Vec: vec, Coef: 1}}, nil, opt)
}

// SearchTerms combines resolved terms and searches the index.
func (l *Library) SearchTerms(ctx context.Context, terms []Term, exclude map[int64]bool, opt SearchOptions) ([]Result, error) {
	k := opt.K
	if k <= 0 {
		k = 10
	}
	mode := modeOf(opt)
	if mode != ModeAdd && mode != ModeMul {
		return nil, fmt.Errorf("unknown scoring mode %q (want add or mul)", mode)
	}
	dim := l.model.Dim()
	sum := make([]float32, dim)
	for _, t := range terms {
		for i, x := range t.Vec {
			sum[i] += t.Coef * x
		}
	}
	if err := encoders.Normalize(sum); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrZeroQuery, err)
	}
	var filter index.Filter
	var prefixPaths map[int64]bool
	var err error
	if opt.PathPrefix != "" {
		prefixPaths, err = l.store.IDsWithPathPrefix(ctx, opt.PathPrefix)
		if err != nil {
			return nil, err
		}
	}
	if len(exclude) > 0 || prefixPaths != nil {
		filter = func(id uint64) bool {
			if exclude[int64(id)] {
				return false
			}
			if prefixPaths != nil {
				return prefixPaths[int64(id)]
			}
			return true
		}
	}
	want := k
	if mode == ModeMul {
		want = max(10*k, 100) // candidates to re-rank
	}
	ef := opt.Ef
	if ef <= 0 {
		ef = DefaultEf(want)
	}
	type scored struct {
		id    int64
		score float32
	}
	var cands []scored
	err = l.cat.Read(ctx, func(v catalog.View) error {
		if v.Len() == 0 {
			return ErrEmptyLibrary
		}
		hits, err := v.Search(sum, want, index.SearchOptions{Ef: ef, Filter: filter})
		if err != nil {
			return err
		}
		cands = make([]scored, 0, len(hits))
		for _, h := range hits {
			cands = append(cands, scored{id: int64(h.ID), score: 1 - h.Distance})
		}
		if mode == ModeMul {
			for i := range cands {
				vec, err := v.Vector(cands[i].id)
				if err != nil {
					continue
				}
				cands[i].score = cosMul(vec, terms)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if mode == ModeMul {
		sort.SliceStable(cands, func(i, j int) bool { return cands[i].score > cands[j].score })
		if len(cands) > k {
			cands = cands[:k]
		}
	}
	ids := make([]int64, len(cands))
	for i, c := range cands {
		ids[i] = c.id
	}
	items, err := l.store.ItemsByIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]Result, 0, len(cands))
	for _, c := range cands {
		it, ok := items[c.id]
		if !ok {
			continue // deleted since the index was read
		}
		out = append(out, Result{ID: it.ID, Path: it.Path, Score: c.score, Width: it.Width, Height: it.Height, Format: it.Format})
	}
	return out, nil
}

// cosMul is 3CosMul (Levy & Goldberg 2014) generalized to weighted terms:
// the product of shifted similarities to positive terms raised to their
// weights, divided by the same for negative terms.
func cosMul(v []float32, terms []Term) float32 {
	const eps = 1e-3
	logScore := 0.0
	for _, t := range terms {
		var dot float32
		for i, x := range t.Vec {
			dot += x * v[i]
		}
		s := (float64(dot) + 1) / 2 // cosine shifted to [0, 1]
		if t.Coef > 0 {
			logScore += float64(t.Coef) * math.Log(s+eps)
		} else {
			logScore -= float64(-t.Coef) * math.Log(s+eps)
		}
	}
	return float32(logScore)
}

// resolveTerm turns a parsed term into a unit vector. Inputs that are
// indexed items return their id so they can be excluded from the results.
func (l *Library) resolveTerm(ctx context.Context, t *query.Term, opt SearchOptions) ([]float32, int64, error) {
	switch t.Kind {
	case query.Text:
		enc, err := l.textEncoder()
		if err != nil {
			return nil, 0, err
		}
		v, err := enc.EncodeQuery(ctx, t.Value)
		if err != nil {
			return nil, 0, t.Errorf("cannot embed text: %v", err)
		}
		return v, 0, nil
	case query.Item:
		var it store.Item
		var err error
		if t.ItemID > 0 {
			it, err = l.store.ItemByID(ctx, t.ItemID)
		} else {
			it, err = l.itemByPath(ctx, t.Value)
		}
		if errors.Is(err, store.ErrNotFound) {
			return nil, 0, t.Errorf("no indexed item %s", t.Source())
		}
		if err != nil {
			return nil, 0, err
		}
		return it.Vector, it.ID, nil
	case query.Path:
		if !opt.AllowPaths {
			return nil, 0, t.Errorf("file paths are not allowed here; use an indexed item (@ID)")
		}
		abs, err := filepath.Abs(t.Value)
		if err != nil {
			return nil, 0, t.Errorf("bad path: %v", err)
		}
		if it, err := l.store.ItemByPath(ctx, abs); err == nil {
			return it.Vector, it.ID, nil // an indexed file: reuse its vector
		}
		f, err := os.Open(abs)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, 0, t.Errorf("unknown file %s", t.Value)
			}
			return nil, 0, t.Errorf("cannot open %s: %v", t.Value, err)
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return nil, 0, t.Errorf("cannot read %s: %v", t.Value, err)
		}
		if fi.IsDir() {
			return nil, 0, t.Errorf("%s is a folder, not an image", t.Value)
		}
		v, err := l.embedImage(ctx, f, t.Value, fi.Size(), opt)
		if err != nil {
			return nil, 0, t.Errorf("%v", err)
		}
		return v, 0, nil
	case query.URL:
		if !opt.AllowURLs {
			return nil, 0, t.Errorf("URLs are not allowed here")
		}
		v, err := l.fetchImage(ctx, t.Value, opt)
		if err != nil {
			return nil, 0, t.Errorf("%v", err)
		}
		return v, 0, nil
	}
	return nil, 0, t.Errorf("unsupported term kind %s", t.Kind)
}

// itemByPath finds an item by its path as indexed, or by the absolute form of
// a relative path.
func (l *Library) itemByPath(ctx context.Context, p string) (store.Item, error) {
	it, err := l.store.ItemByPath(ctx, p)
	if errors.Is(err, store.ErrNotFound) && !filepath.IsAbs(p) {
		if abs, aerr := filepath.Abs(p); aerr == nil {
			return l.store.ItemByPath(ctx, abs)
		}
	}
	return it, err
}

func maxImageBytes(opt SearchOptions) int64 {
	if opt.MaxImageBytes > 0 {
		return opt.MaxImageBytes
	}
	return 32 << 20
}

// embedImage decodes, preprocesses and embeds one image.
func (l *Library) embedImage(ctx context.Context, r io.Reader, name string, size int64, opt SearchOptions) ([]float32, error) {
	enc, err := l.imageEncoder()
	if err != nil {
		return nil, err
	}
	dst := make([]float32, enc.TensorLen())
	iopt := imageproc.Options{MaxFileBytes: maxImageBytes(opt)}
	if _, err := imageproc.DecodeTensor(r, name, size, iopt, enc.Tower().Preprocess(), dst); err != nil {
		return nil, err
	}
	vecs, err := enc.EncodeTensors(ctx, dst, 1)
	if err != nil {
		return nil, err
	}
	return vecs[0], nil
}

// fetchImage downloads an image over http(s) with a size and time limit.
func (l *Library) fetchImage(ctx context.Context, url string, opt SearchOptions) ([]float32, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch %s: %s", url, resp.Status)
	}
	limit := maxImageBytes(opt)
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("fetch %s: %d bytes, over the %d-byte limit", url, resp.ContentLength, limit)
	}
	return l.embedImage(ctx, resp.Body, url, resp.ContentLength, opt)
}
