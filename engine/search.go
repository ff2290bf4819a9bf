package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"
	"unicode/utf8"

	"mmsearch/encoders"
	"mmsearch/encoders/imageproc"
	"mmsearch/engine/catalog"
	"mmsearch/engine/query"
	"mmsearch/engine/store"
	"mmsearch/index"
	"mmsearch/internal/regfile"
)

// SearchOptions tunes Library.Search.
type SearchOptions struct {
	// K is the number of results (0 = 10).
	K int
	// Ef is the HNSW beam width (0 = DefaultEf of the candidates wanted).
	Ef int
	// Mode is ModeAdd (default, also the zero value) or ModeMul.
	Mode Mode
	// IncludeInputs keeps items used as query inputs in the results.
	IncludeInputs bool
	// Filter keeps only the items it matches; it is applied inside the index
	// search (see Filter).
	Filter Filter
	// MinScore, when set, drops results scoring below it (the cosine
	// similarity in add mode, the 3CosMul score in mul mode).
	MinScore *float32
	// Sort orders the results: SortScore (default) or SortDate.
	Sort Sort
	// Scan picks how a filtered search runs: ScanAuto (default) by
	// ExactScanRule, or ScanGraph or ScanExact forced (benchmarks, tests).
	Scan Scan
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
	// KeepCopies returns items with identical content as separate results
	// (benchmarks that score items). By default identical content is one
	// result listing all its paths.
	KeepCopies bool
	// Paged answers results Offset to Offset+K of one ranking that does
	// not depend on the page (see searchPaged), for clients that page
	// through results; Ef then applies to every tier of it.
	Paged bool
	// Offset is the number of results to skip (with Paged only).
	Offset int
	// Depth is, for a paged search sorted by date, how many of the best
	// scoring results the date order ranks: every page is a slice of the
	// best Depth results, newest first (at least Offset+K; 0 means
	// Offset+K, which makes pages of different ends disagree).
	Depth int
	// Uploads are the images a query's "$upload" terms stand for:
	// "$uploadN" is Uploads[N-1]. With uploads, "@upload" and "@uploadN"
	// name them too, and every upload must be used by the query.
	Uploads []Upload
}

// Upload is an image sent with a query (see SearchOptions.Uploads).
type Upload struct {
	// Name is the file name shown for it (not a path that is read).
	Name string
	// Data is the encoded image, at most MaxImageBytes long.
	Data []byte
}

// Result is one found item.
type Result struct {
	ID   int64  `json:"id"`
	Path string `json:"path"`
	// PathBytes holds the path's exact bytes (base64 in JSON) when it is not
	// valid UTF-8, which JSON strings cannot carry: Path then shows the
	// invalid bytes as U+FFFD.
	PathBytes []byte  `json:"path_bytes,omitempty"`
	Score     float32 `json:"score"` // cosine similarity for add, the 3CosMul score for mul
	Width     int     `json:"width"`
	Height    int     `json:"height"`
	Format    string  `json:"format"`
	// Paths lists every path of this content when there are copies (the
	// result's own path first, then the others by path); empty otherwise.
	Paths []string `json:"paths,omitempty"`
	// Metadata is the photo's metadata: capture time, camera, position,
	// pixel size and format.
	Metadata Metadata `json:"metadata"`

	hash store.Hash
}

// Copies is the number of other paths with the same content.
func (r Result) Copies() int { return max(0, len(r.Paths)-1) }

// TermInfo describes how one query term was understood.
type TermInfo struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
	// ValueBytes holds Value's exact bytes when it is not valid UTF-8 (a
	// path term), as Result.PathBytes does.
	ValueBytes []byte  `json:"value_bytes,omitempty"`
	Coef       float32 `json:"coef"`
	ItemID     int64   `json:"item_id,omitempty"` // for inputs that are indexed items
	// Upload is the number of the upload ("$upload2" → 2) for upload terms.
	Upload int `json:"upload,omitempty"`
}

// SearchResult is the answer to a query.
type SearchResult struct {
	Query   string        `json:"query"`
	ReadAs  string        `json:"read_as"` // how the query was read: query.Query.Describe
	Terms   []TermInfo    `json:"terms"`
	Mode    Mode          `json:"mode"`
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
	q, err := query.Parse(expr, query.Options{Home: opt.Home, Uploads: len(opt.Uploads) > 0})
	if err != nil {
		return nil, err
	}
	if err := checkUploadsUsed(q, opt.Uploads); err != nil {
		return nil, err
	}
	// A first search opens the index while the terms are encoded (opening
	// the text encoder takes longer than opening the index in place).
	l.cat.Preload(context.WithoutCancel(ctx))
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
		info := TermInfo{Kind: t.Kind.String(), Value: t.Value, ValueBytes: RawBytes(t.Value), Coef: t.Coef(), ItemID: itemID}
		if t.Kind == query.Upload {
			u := opt.Uploads[t.Upload-1]
			info.Value, info.ValueBytes, info.Upload = u.Name, RawBytes(u.Name), t.Upload
		}
		infos = append(infos, info)
		if itemID > 0 {
			exclude[itemID] = true
		}
	}
	if opt.IncludeInputs {
		exclude = nil
	}
	if err := l.excludeCopies(ctx, exclude); err != nil {
		return nil, err
	}
	res, err := l.SearchTerms(ctx, terms, exclude, opt)
	if errors.Is(err, ErrZeroQuery) {
		return nil, q.Span(ErrZeroQuery, "the terms cancel out: their weighted sum is the zero vector")
	}
	if err != nil {
		return nil, err
	}
	return &SearchResult{Query: expr, ReadAs: q.Describe(), Terms: infos, Mode: modeOf(opt), Results: res, Took: time.Since(start)}, nil
}

// checkUploadsUsed refuses terms that name an upload that was not sent and
// uploads that no term names: an image sent but left out of the query is a
// mistake the caller should hear about. Without uploads, resolving an
// upload term says so.
func checkUploadsUsed(q *query.Query, uploads []Upload) error {
	used := make([]bool, len(uploads))
	for i := range q.Terms {
		t := &q.Terms[i]
		if t.Kind != query.Upload || len(uploads) == 0 {
			continue
		}
		if t.Upload > len(uploads) {
			return t.Errorf("%s names upload %d, but only %d came with this query", t.Source(), t.Upload, len(uploads))
		}
		used[t.Upload-1] = true
	}
	for i, u := range used {
		if !u {
			return q.Span(nil, fmt.Sprintf("upload %d (%s) is not used: name it $upload%d in the query, or do not send it", i+1, uploads[i].Name, i+1))
		}
	}
	return nil
}

// excludeCopies adds to exclude every item with the content of one already
// in it: a copy of a query input is an input too.
func (l *Library) excludeCopies(ctx context.Context, exclude map[int64]bool) error {
	if len(exclude) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(exclude))
	for id := range exclude {
		ids = append(ids, id)
	}
	hs, err := l.store.HashesOf(ctx, ids)
	if err != nil {
		return err
	}
	hashes := make([]store.Hash, 0, len(hs))
	for _, h := range hs {
		hashes = append(hashes, h)
	}
	copies, err := l.store.CopiesByHash(ctx, hashes)
	if err != nil {
		return err
	}
	for _, cs := range copies {
		for _, c := range cs {
			exclude[c.ID] = true
		}
	}
	return nil
}

func modeOf(opt SearchOptions) Mode {
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
	if opt.Paged {
		return l.searchPaged(ctx, terms, exclude, opt)
	}
	if opt.Offset != 0 {
		return nil, fmt.Errorf("search: an offset needs a paged search")
	}
	k := opt.K
	if k <= 0 {
		k = 10
	}
	mode, err := ParseMode(string(opt.Mode))
	if err != nil {
		return nil, err
	}
	terms = scaleWeights(terms)
	sum, err := weightedSum(terms, l.model.Dim())
	if err != nil {
		return nil, err
	}
	if err := opt.Filter.Validate(); err != nil {
		return nil, err
	}
	sortBy, err := ParseSort(string(opt.Sort))
	if err != nil {
		return nil, err
	}
	var (
		filter  index.Filter
		matches *matchSet
		dates   *attrTable
	)
	if !opt.Filter.IsZero() || sortBy == SortDate {
		dates, err = l.attributes(ctx)
		if err != nil {
			return nil, err
		}
		if opt.Filter.Camera != "" && !dates.hasCamera {
			return nil, ErrNoCameraData
		}
	}
	switch {
	case !opt.Filter.IsZero():
		matches = dates.match(opt.Filter, exclude)
		filter = matches.filter()
	case len(exclude) > 0:
		filter = func(id uint64) bool { return !exclude[int64(id)] }
	}
	want := k
	if mode == ModeMul {
		want = max(10*k, 100) // candidates to re-rank
	}
	// Identical content is one result: ask for more hits than results, and
	// for more again while copies leave fewer than k distinct contents.
	// The search reads one view of the index: one generation throughout.
	var out []Result
	err = l.cat.Read(ctx, func(v catalog.View) error {
		if v.Len() == 0 {
			return ErrEmptyLibrary
		}
		idx := v.Searcher()
		search := func(fetch, ef int) ([]index.Result, error) {
			if ef <= 0 {
				ef = DefaultEf(fetch)
			}
			if matches != nil && opt.Scan.exact(len(matches.ids), v.Len(), ef) {
				return v.SearchIDs(sum, fetch, matches.ids)
			}
			return idx.Search(sum, fetch, index.SearchOptions{Ef: ef, Filter: filter})
		}
		for fetch := want; ; fetch *= 2 {
			res, exhausted, err := l.searchOnce(ctx, idx, search, sum, terms, mode, k, fetch, opt.Ef, opt.KeepCopies)
			if err != nil || len(res) >= k || exhausted {
				out = res
				return err
			}
		}
	})
	if err != nil {
		return nil, err
	}
	if opt.MinScore != nil {
		out = slices.DeleteFunc(out, func(r Result) bool { return r.Score < *opt.MinScore })
	}
	if sortBy == SortDate {
		dates.sortByDate(out)
	}
	return out, nil
}

// searchOnce asks the index for fetch hits and turns them into at most k
// results, one per content. exhausted reports that the index had no more.
func (l *Library) searchOnce(ctx context.Context, idx interface {
	Vector(uint64) ([]float32, error)
	Len() int
}, search func(fetch, ef int) ([]index.Result, error), sum []float32, terms []Term, mode Mode, k, fetch, ef int, keepCopies bool) ([]Result, bool, error) {
	hits, err := search(fetch, ef)
	if err != nil {
		return nil, false, err
	}
	exhausted := len(hits) < fetch || fetch >= idx.Len()
	type scored struct {
		id    int64
		score float32
	}
	cands := make([]scored, 0, len(hits))
	for _, h := range hits {
		cands = append(cands, scored{id: int64(h.ID), score: 1 - h.Distance})
	}
	if mode == ModeMul {
		for i := range cands {
			v, err := idx.Vector(uint64(cands[i].id))
			if err != nil {
				continue
			}
			cands[i].score = cosMul(v, terms)
		}
	}
	// Best score first, equal scores by id: the same query gives the same
	// order every time, so pages of it (offset, limit) fit together.
	sort.SliceStable(cands, func(i, j int) bool {
		if cands[i].score != cands[j].score {
			return cands[i].score > cands[j].score
		}
		return cands[i].id < cands[j].id
	})
	ids := make([]int64, len(cands))
	for i, c := range cands {
		ids[i] = c.id
	}
	items, err := l.store.ItemsByIDs(ctx, ids)
	if err != nil {
		return nil, false, err
	}
	out := make([]Result, 0, k)
	seen := map[store.Hash]bool{}
	var hashes []store.Hash
	for _, c := range cands {
		it, ok := items[c.id]
		if !ok || !keepCopies && seen[it.Hash] {
			continue // deleted since the index was read, or a copy
		}
		seen[it.Hash] = true
		hashes = append(hashes, it.Hash)
		out = append(out, Result{ID: it.ID, Path: it.Path, PathBytes: RawBytes(it.Path), Score: c.score, Width: it.Width, Height: it.Height, Format: it.Format, Metadata: metadataOf(it), hash: it.Hash})
		if len(out) == k {
			break
		}
	}
	if keepCopies {
		return out, exhausted, nil
	}
	copies, err := l.store.CopiesByHash(ctx, hashes)
	if err != nil {
		return nil, false, err
	}
	for i := range out {
		cs := copies[out[i].hash]
		if len(cs) < 2 {
			continue
		}
		out[i].Paths = append(out[i].Paths, out[i].Path)
		for _, c := range cs {
			if c.ID != out[i].ID {
				out[i].Paths = append(out[i].Paths, c.Path)
			}
		}
	}
	return out, exhausted, nil
}

// scaleWeights returns the terms with their coefficients divided by the
// largest magnitude among them, so the strongest term weighs ±1. Neither mode's
// ranking changes (the direction of the weighted sum and the order of the
// 3CosMul log-scores are invariant under a positive factor), but no weight the
// parser accepts (up to float32's maximum) can overflow the sum or the score,
// and no tiny weights can underflow them: every score is finite.
func scaleWeights(terms []Term) []Term {
	var top float64
	for _, t := range terms {
		top = max(top, math.Abs(float64(t.Coef)))
	}
	if top == 0 || top == 1 || math.IsInf(top, 0) || math.IsNaN(top) {
		return terms
	}
	out := make([]Term, len(terms))
	for i, t := range terms {
		out[i] = Term{Vec: t.Vec, Coef: float32(float64(t.Coef) / top)}
	}
	return out
}

// weightedSum returns the normalized weighted sum of the terms, or
// ErrZeroQuery when it is (numerically) the zero vector or not finite.
func weightedSum(terms []Term, dim int) ([]float32, error) {
	acc := make([]float64, dim)
	for _, t := range terms {
		for i, x := range t.Vec {
			acc[i] += float64(t.Coef) * float64(x)
		}
	}
	var norm float64
	for _, x := range acc {
		norm += x * x
	}
	norm = math.Sqrt(norm)
	// Terms that cancel leave float rounding noise, not a direction.
	if !(norm > 1e-6) || math.IsInf(norm, 0) {
		return nil, ErrZeroQuery
	}
	sum := make([]float32, dim)
	for i, x := range acc {
		sum[i] = float32(x / norm)
	}
	return sum, nil
}

// RawBytes returns s as bytes when it is not valid UTF-8, and nil when it is:
// the value of the *_bytes JSON fields that keep names lossless.
func RawBytes(s string) []byte {
	if utf8.ValidString(s) {
		return nil
	}
	return []byte(s)
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
		f, _, err := regfile.Open(abs)
		if err != nil {
			var nr *regfile.NotRegularError
			switch {
			case errors.Is(err, os.ErrNotExist):
				return nil, 0, t.Errorf("unknown file %s", t.Value)
			case errors.As(err, &nr) && nr.IsDir():
				return nil, 0, t.Errorf("%s is a folder, not an image", t.Value)
			case errors.As(err, &nr):
				return nil, 0, t.Errorf("%s is %s, not an image file", t.Value, regfile.Describe(nr.Mode))
			}
			return nil, 0, t.Errorf("cannot open %s: %v", t.Value, err)
		}
		defer f.Close()
		limit := maxImageBytes(opt)
		data, err := regfile.ReadAll(ctx, io.LimitReader(f, limit+1), t.Value, -1, limit+1)
		if err != nil {
			if ctx.Err() != nil {
				return nil, 0, fmt.Errorf("%s: %w", t.Value, context.Cause(ctx))
			}
			return nil, 0, t.Errorf("cannot read %s: %v", t.Value, err)
		}
		return l.embedData(ctx, t, data, t.Value, opt)
	case query.Upload:
		if len(opt.Uploads) == 0 {
			return nil, 0, t.Errorf("%s stands for an uploaded image, and none came with this query (upload with POST /api/search/image, or name a file: ./photo.jpg)", t.Source())
		}
		if t.Upload > len(opt.Uploads) {
			return nil, 0, t.Errorf("%s names upload %d, but only %d came with this query", t.Source(), t.Upload, len(opt.Uploads))
		}
		u := opt.Uploads[t.Upload-1]
		return l.embedData(ctx, t, u.Data, u.Name, opt)
	case query.URL:
		if !opt.AllowURLs {
			return nil, 0, t.Errorf("URLs are not allowed here")
		}
		v, err := l.fetchImage(ctx, t.Value, opt)
		if err != nil {
			if ctx.Err() != nil {
				return nil, 0, fmt.Errorf("%s: %w", t.Value, context.Cause(ctx))
			}
			return nil, 0, t.Errorf("%v", err)
		}
		return v, 0, nil
	}
	return nil, 0, t.Errorf("unsupported term kind %s", t.Kind)
}

// embedData embeds the image data of term t, named name in errors. When the
// library holds the same content, the first such item is returned too: a
// file outside the library (or an upload) may still have copies in it, and
// those are the input, excluded from the results.
func (l *Library) embedData(ctx context.Context, t *query.Term, data []byte, name string, opt SearchOptions) ([]float32, int64, error) {
	v, err := l.embedImage(ctx, bytes.NewReader(data), name, int64(len(data)), opt)
	if err != nil {
		if ctx.Err() != nil {
			return nil, 0, fmt.Errorf("%s: %w", name, context.Cause(ctx))
		}
		return nil, 0, t.Errorf("%v", err)
	}
	if same, err := l.store.ItemsByHash(ctx, sha256.Sum256(data)); err == nil && len(same) > 0 {
		return v, same[0].ID, nil
	}
	return v, 0, nil
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

// embedImage reads (honouring ctx), decodes, preprocesses and embeds one
// image; the decode waits for its share of the library's decode memory.
func (l *Library) embedImage(ctx context.Context, r io.Reader, name string, size int64, opt SearchOptions) ([]float32, error) {
	enc, err := l.imageEncoder()
	if err != nil {
		return nil, err
	}
	limit := maxImageBytes(opt)
	data, err := regfile.ReadAll(ctx, r, name, size, limit)
	if errors.Is(err, regfile.ErrTooLarge) {
		return nil, &imageproc.Error{Name: name, Err: fmt.Errorf("%w: over the %d-byte limit", imageproc.ErrTooLarge, limit)}
	}
	if err != nil {
		return nil, err
	}
	dst := make([]float32, enc.TensorLen())
	iopt := imageproc.Options{MaxFileBytes: limit}
	if _, err := l.decodeTensor(ctx, data, name, iopt, dst); err != nil {
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
