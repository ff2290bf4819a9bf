package weaviate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mmsearch/index"
)

// marker starts the description of every collection mmsearch creates; New
// drops only collections whose description starts with it.
const marker = "mmsearch index"

// batchSize is the number of objects per batch request.
const batchSize = 500

// Backend returns the index.Backend of indexes in the collection cfg names,
// ranking by metric. cfg is validated by New and Load.
func Backend(cfg Config, metric index.Metric) index.Backend {
	var seq atomic.Int64
	return index.Backend{
		Name: "weaviate",
		New: func(dim int) (index.Index, error) {
			c := cfg
			if cfg.UniqueCollections {
				var b [4]byte
				_, _ = rand.Read(b[:])
				c.Collection = fmt.Sprintf("%s_%d_%s", cfg.Collection, seq.Add(1), hex.EncodeToString(b[:]))
			}
			return New(context.Background(), c, dim, metric)
		},
		Load: func(r io.Reader) (index.Index, error) { return Load(context.Background(), cfg, r) },
	}
}

// Index is an index.Index over a Weaviate collection. It is safe for
// concurrent use.
type Index struct {
	cfg    Config
	cl     *client
	dim    int
	metric index.Metric

	mu  sync.RWMutex
	ids *idSet // the ids the collection holds, as far as this process knows
	// replicated is whether the collection's replication factor is over
	// 1: only then does Weaviate's GraphQL take a consistency level.
	replicated bool
}

var (
	_ index.Index         = (*Index)(nil)
	_ index.PropertyAdder = (*Index)(nil)
	_ index.Remote        = (*Index)(nil)
)

// distanceName is the Weaviate distance of a metric.
func distanceName(m index.Metric) (string, error) {
	switch m {
	case index.Cosine:
		return "cosine", nil
	case index.InnerProduct:
		return "dot", nil
	case index.L2:
		return "l2-squared", nil
	}
	return "", fmt.Errorf("weaviate: metric %v: %w", m, index.ErrInvalidInput)
}

// classSchema is the collection's definition.
func classSchema(cfg Config, dim int, metric index.Metric) (map[string]any, error) {
	dist, err := distanceName(metric)
	if err != nil {
		return nil, err
	}
	vic := map[string]any{"distance": dist}
	if cfg.Ef > 0 {
		vic["ef"] = cfg.Ef
	}
	if cfg.EfConstruction > 0 {
		vic["efConstruction"] = cfg.EfConstruction
	}
	if cfg.MaxConnections > 0 {
		vic["maxConnections"] = cfg.MaxConnections
	}
	text := func(name string) map[string]any {
		return map[string]any{"name": name, "dataType": []string{"text"}, "tokenization": "field"}
	}
	typed := func(name, t string) map[string]any {
		return map[string]any{"name": name, "dataType": []string{t}}
	}
	class := map[string]any{
		"class":             cfg.Collection,
		"vectorizer":        "none",
		"vectorIndexType":   "hnsw",
		"vectorIndexConfig": vic,
		"properties": []any{
			typed("itemId", "int"), text("path"), text("contentHash"), typed("size", "int"),
			typed("mtime", "date"), text("format"), typed("width", "int"), typed("height", "int"),
		},
	}
	if cfg.Shards > 0 {
		class["shardingConfig"] = map[string]any{"desiredCount": cfg.Shards}
	}
	if cfg.Replicas > 0 {
		class["replicationConfig"] = map[string]any{"factor": cfg.Replicas}
	}
	return class, nil
}

// New returns an index over the collection cfg names, creating the
// collection (with cfg's shards, replication factor and HNSW parameters)
// when it does not exist. An existing collection that mmsearch made for
// vectors of this dimension is kept, not emptied: the index starts with no
// ids of its own (Len 0; searches return only ids it was given since), and
// objects already there are overwritten as the catalog re-sends the store.
// Reset empties it. A collection mmsearch did not make, or made for another
// dimension, is refused.
func New(ctx context.Context, cfg Config, dim int, metric index.Metric) (*Index, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if dim <= 0 || dim > 65536 {
		return nil, fmt.Errorf("weaviate: dimension %d: %w", dim, index.ErrInvalidInput)
	}
	if _, err := distanceName(metric); err != nil {
		return nil, err
	}
	x := &Index{cfg: cfg, cl: newClient(cfg), dim: dim, metric: metric, ids: newIDSet()}
	exists, err := x.checkOwned(ctx)
	if err != nil {
		return nil, err
	}
	if !exists {
		if err := x.create(ctx); err != nil {
			return nil, err
		}
	}
	return x, nil
}

// checkOwned reports whether the collection exists, and fails when it does
// but mmsearch did not make it for vectors of this dimension and metric.
func (x *Index) checkOwned(ctx context.Context) (bool, error) {
	var old struct {
		Description       string `json:"description"`
		ReplicationConfig *struct {
			Factor int `json:"factor"`
		} `json:"replicationConfig"`
	}
	_, err := x.cl.do(ctx, http.MethodGet, "/v1/schema/"+x.cfg.Collection, nil, nil, &old)
	if err == nil {
		x.mu.Lock()
		x.replicated = old.ReplicationConfig != nil && old.ReplicationConfig.Factor > 1
		x.mu.Unlock()
	}
	switch {
	case isStatus(err, http.StatusNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("weaviate: look up collection %s: %w", x.Where(), err)
	case !strings.HasPrefix(old.Description, marker):
		return true, fmt.Errorf("weaviate: collection %s exists and was not made by mmsearch (description %q): choose another collection name", x.Where(), old.Description)
	case !strings.HasPrefix(old.Description, x.description()):
		return true, fmt.Errorf("weaviate: collection %s was made by mmsearch for other vectors (%q, want %q): choose another collection name", x.Where(), old.Description, x.description())
	}
	return true, nil
}

// description is the collection's description: marker, dimension, metric.
func (x *Index) description() string {
	return fmt.Sprintf("%s: dim %d, metric %s", marker, x.dim, x.metric)
}

// create makes the collection.
func (x *Index) create(ctx context.Context) error {
	class, err := classSchema(x.cfg, x.dim, x.metric)
	if err != nil {
		return err
	}
	class["description"] = x.description() + "; the library's SQLite store is the source of truth"
	if _, err := x.cl.do(ctx, http.MethodPost, "/v1/schema", nil, class, nil); err != nil {
		return fmt.Errorf("weaviate: create collection %s: %w", x.Where(), err)
	}
	x.mu.Lock()
	x.replicated = x.cfg.Replicas > 1
	x.mu.Unlock()
	return nil
}

// Reset drops the collection (one mmsearch made) and makes it anew, empty,
// with the configured shards and replication factor; the index's ids are
// cleared.
func (x *Index) Reset(ctx context.Context) error {
	exists, err := x.checkOwned(ctx)
	if err != nil {
		return err
	}
	if exists {
		if err := x.Drop(ctx); err != nil {
			return err
		}
	}
	x.mu.Lock()
	x.ids = newIDSet()
	x.mu.Unlock()
	return x.create(ctx)
}

// Config is the configuration the index was made with.
func (x *Index) Config() Config { return x.cfg }

// Where names the server and collection, without credentials.
func (x *Index) Where() string { return x.cfg.Where() }

// UUID is the Weaviate object id of item id: the id's 64 bits in the last
// three groups of a version-8 ("custom") UUID.
func UUID(id uint64) string {
	return fmt.Sprintf("00000000-%04x-8%03x-8%03x-%012x", id>>60, (id>>48)&0xfff, 0, id&0xffffffffffff)
}

// parseUUID reverses UUID.
func parseUUID(s string) (uint64, bool) {
	if len(s) != 36 || !strings.HasPrefix(s, "00000000-") {
		return 0, false
	}
	hi, err1 := strconv.ParseUint(s[9:13], 16, 64)
	mid, err2 := strconv.ParseUint(s[15:18], 16, 64)
	lo, err3 := strconv.ParseUint(s[24:], 16, 64)
	if err1 != nil || err2 != nil || err3 != nil || s[14] != '8' || s[19:23] != "8000" {
		return 0, false
	}
	return hi<<60 | mid<<48 | lo, true
}

func (x *Index) consistency() url.Values {
	return url.Values{"consistency_level": {x.cfg.Consistency}}
}

func checkFinite(vec []float32) error {
	for _, f := range vec {
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return fmt.Errorf("weaviate: vector holds %v: %w", f, index.ErrInvalidInput)
		}
	}
	return nil
}

// Add inserts or replaces one vector (without properties).
func (x *Index) Add(id uint64, vec []float32) error {
	return x.AddWithProperties(context.Background(), []uint64{id}, [][]float32{vec}, nil)
}

// AddBatch inserts or replaces many vectors, batchSize per request.
func (x *Index) AddBatch(ctx context.Context, ids []uint64, vecs [][]float32) error {
	return x.AddWithProperties(ctx, ids, vecs, nil)
}

// batchObject is one object of a batch request.
type batchObject struct {
	Class      string         `json:"class"`
	ID         string         `json:"id"`
	Vector     []float32      `json:"vector"`
	Properties map[string]any `json:"properties"`
}

// AddWithProperties inserts or replaces vectors with their properties (props
// nil or of the length of ids). It stops between requests when ctx is done;
// the objects sent before stay.
func (x *Index) AddWithProperties(ctx context.Context, ids []uint64, vecs [][]float32, props []index.Properties) error {
	if len(ids) != len(vecs) || props != nil && len(props) != len(ids) {
		return fmt.Errorf("weaviate: %d ids, %d vectors, %d property sets: %w", len(ids), len(vecs), len(props), index.ErrInvalidInput)
	}
	for _, v := range vecs {
		if err := index.CheckDim(v, x.dim); err != nil {
			return fmt.Errorf("weaviate: add: %w", err)
		}
		if err := checkFinite(v); err != nil {
			return err
		}
	}
	for start := 0; start < len(ids); start += batchSize {
		if err := ctx.Err(); err != nil {
			return err
		}
		end := min(start+batchSize, len(ids))
		objs := make([]batchObject, 0, end-start)
		for i := start; i < end; i++ {
			p := map[string]any{"itemId": int64(ids[i])}
			if props != nil {
				pr := props[i]
				p["path"], p["contentHash"], p["size"], p["format"] = pr.Path, pr.Hash, pr.Size, pr.Format
				p["width"], p["height"] = pr.Width, pr.Height
				p["mtime"] = time.Unix(0, pr.MtimeNs).UTC().Format(time.RFC3339Nano)
			}
			objs = append(objs, batchObject{Class: x.cfg.Collection, ID: UUID(ids[i]), Vector: vecs[i], Properties: p})
		}
		failed, err := x.sendBatch(ctx, objs)
		if err != nil {
			return err
		}
		x.mu.Lock()
		for i := start; i < end; i++ {
			if _, bad := failed[UUID(ids[i])]; !bad {
				x.ids.Add(ids[i])
			}
		}
		x.mu.Unlock()
		for id, msg := range failed {
			return fmt.Errorf("weaviate: %d of %d objects refused by %s (object %s: %s)", len(failed), len(objs), x.Where(), id, msg)
		}
	}
	return nil
}

// retries is how many times a request that failed for a reason that can
// pass (a transport error, HTTP 5xx or 429, objects a replica refused) is
// sent again, after 0.5, 1, 2 and 4 s.
const retries = 4

// transient reports whether err, from a request made under ctx, may pass
// when the request is sent again: a transport error or a request that timed
// out (writes are upserts keyed by UUID, so sending one again is safe),
// HTTP 5xx or 429 — but nothing once ctx itself is done.
func transient(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var e *errStatus
	if errors.As(err, &e) {
		return e.Code >= 500 || e.Code == http.StatusTooManyRequests
	}
	return true
}

// backoff waits before attempt (1-based) or until ctx is done.
func backoff(ctx context.Context, attempt int) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Duration(250<<attempt) * time.Millisecond):
		return nil
	}
}

// sendBatch sends objs, sending again those that fail for a reason that can
// pass, and returns the objects still refused (by UUID, with the reason).
func (x *Index) sendBatch(ctx context.Context, objs []batchObject) (map[string]string, error) {
	for attempt := 0; ; attempt++ {
		var resp []struct {
			ID     string `json:"id"`
			Result struct {
				Errors *struct {
					Error []gqlError `json:"error"`
				} `json:"errors"`
			} `json:"result"`
		}
		_, err := x.cl.do(ctx, http.MethodPost, "/v1/batch/objects", x.consistency(), map[string]any{"objects": objs}, &resp)
		if err != nil {
			if attempt < retries && transient(ctx, err) {
				if berr := backoff(ctx, attempt+1); berr != nil {
					return nil, berr
				}
				continue
			}
			return nil, fmt.Errorf("weaviate: batch of %d to %s: %w", len(objs), x.Where(), err)
		}
		failed := map[string]string{}
		for _, r := range resp {
			if r.Result.Errors != nil && len(r.Result.Errors.Error) > 0 {
				failed[r.ID] = r.Result.Errors.Error[0].Message
			}
		}
		if len(failed) == 0 || attempt == retries {
			return failed, nil
		}
		again := objs[:0:0]
		for _, o := range objs {
			if _, bad := failed[o.ID]; bad {
				again = append(again, o)
			}
		}
		objs = again
		if err := backoff(ctx, attempt+1); err != nil {
			return nil, err
		}
	}
}

// Delete removes id from the collection. An id that neither this process
// nor the collection holds is index.ErrNotFound.
func (x *Index) Delete(id uint64) error {
	x.mu.RLock()
	known := x.ids.Has(id)
	x.mu.RUnlock()
	if !known {
		// Weaviate answers a delete of a missing object with success, so
		// an id this process does not know is looked up first.
		_, err := x.cl.do(context.Background(), http.MethodHead, "/v1/objects/"+x.cfg.Collection+"/"+UUID(id), x.consistency(), nil, nil)
		if isStatus(err, http.StatusNotFound) {
			return fmt.Errorf("weaviate: delete %d: %w", id, index.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("weaviate: delete %d from %s: %w", id, x.Where(), err)
		}
	}
	var err error
	for attempt := 0; ; attempt++ {
		_, err = x.cl.do(context.Background(), http.MethodDelete, "/v1/objects/"+x.cfg.Collection+"/"+UUID(id), x.consistency(), nil, nil)
		if err == nil || attempt == retries || !transient(context.Background(), err) {
			break
		}
		_ = backoff(context.Background(), attempt+1)
	}
	x.mu.Lock()
	had := x.ids.Remove(id)
	x.mu.Unlock()
	switch {
	case err == nil:
		return nil
	case isStatus(err, http.StatusNotFound):
		if had {
			return nil // gone already; this process now agrees
		}
		return fmt.Errorf("weaviate: delete %d: %w", id, index.ErrNotFound)
	}
	if had {
		x.mu.Lock()
		x.ids.Add(id)
		x.mu.Unlock()
	}
	return fmt.Errorf("weaviate: delete %d from %s: %w", id, x.Where(), err)
}

// Vector fetches the vector of id from the collection.
func (x *Index) Vector(id uint64) ([]float32, error) {
	x.mu.RLock()
	has := x.ids.Has(id)
	x.mu.RUnlock()
	if !has {
		return nil, fmt.Errorf("weaviate: vector %d: %w", id, index.ErrNotFound)
	}
	q := x.consistency()
	q.Set("include", "vector")
	var obj struct {
		Vector []float32 `json:"vector"`
	}
	_, err := x.cl.do(context.Background(), http.MethodGet, "/v1/objects/"+x.cfg.Collection+"/"+UUID(id), q, nil, &obj)
	if isStatus(err, http.StatusNotFound) {
		return nil, fmt.Errorf("weaviate: vector %d: missing from %s: %w", id, x.Where(), index.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("weaviate: vector %d: %w", id, err)
	}
	if len(obj.Vector) != x.dim {
		return nil, fmt.Errorf("weaviate: vector %d from %s: %w", id, x.Where(), index.CheckDim(obj.Vector, x.dim))
	}
	return obj.Vector, nil
}

// Search returns up to k nearest neighbours. opts.Ef is not sent (see the
// package comment); opts.Filter is applied to over-fetched results.
func (x *Index) Search(query []float32, k int, opts index.SearchOptions) ([]index.Result, error) {
	return x.SearchContext(context.Background(), query, k, opts)
}

// SearchContext is Search with a context.
func (x *Index) SearchContext(ctx context.Context, query []float32, k int, opts index.SearchOptions) ([]index.Result, error) {
	if err := index.CheckDim(query, x.dim); err != nil {
		return nil, fmt.Errorf("weaviate: search: %w", err)
	}
	if err := checkFinite(query); err != nil {
		return nil, err
	}
	if k <= 0 {
		return nil, nil
	}
	k = min(k, MaxFetch)
	fetch := k
	if opts.Filter != nil {
		fetch = min(4*k, MaxFetch)
	}
	for {
		hits, err := x.nearVector(ctx, query, fetch)
		if err != nil {
			return nil, err
		}
		out := make([]index.Result, 0, k)
		x.mu.RLock()
		for _, h := range hits {
			if !x.ids.Has(h.ID) || opts.Filter != nil && !opts.Filter(h.ID) {
				continue
			}
			out = append(out, h)
			if len(out) == k {
				break
			}
		}
		x.mu.RUnlock()
		if len(out) == k || len(hits) < fetch || fetch >= MaxFetch {
			return out, nil
		}
		fetch = min(2*fetch, MaxFetch)
	}
}

// MaxWhereIDs is the most ids SearchIDs sends to Weaviate as a filter; a
// larger set is searched with an over-fetching filter instead.
const MaxWhereIDs = 10000

var _ index.IDSearcher = (*Index)(nil)

// SearchIDs returns up to k of ids nearest to query, nearest first. The
// filter runs inside Weaviate: the search carries a where clause on the
// itemId property (Weaviate then scans the allowed objects exactly when
// they are fewer than its flatSearchCutoff, 40,000 by default). Ids this
// index does not hold are skipped; a set over MaxWhereIDs falls back to
// Search with a filter.
func (x *Index) SearchIDs(query []float32, k int, ids []uint64) ([]index.Result, error) {
	if err := index.CheckDim(query, x.dim); err != nil {
		return nil, fmt.Errorf("weaviate: search: %w", err)
	}
	if err := checkFinite(query); err != nil {
		return nil, err
	}
	x.mu.RLock()
	held := make([]uint64, 0, min(len(ids), MaxWhereIDs+1))
	for _, id := range ids {
		if x.ids.Has(id) {
			held = append(held, id)
		}
	}
	x.mu.RUnlock()
	if k <= 0 || len(held) == 0 {
		return nil, nil
	}
	if len(held) > MaxWhereIDs {
		set := make(map[uint64]struct{}, len(held))
		for _, id := range held {
			set[id] = struct{}{}
		}
		return x.Search(query, k, index.SearchOptions{Filter: func(id uint64) bool { _, ok := set[id]; return ok }})
	}
	var where strings.Builder
	where.WriteString(`where:{path:["itemId"],operator:ContainsAny,valueInt:[`)
	for i, id := range held {
		if i > 0 {
			where.WriteByte(',')
		}
		where.WriteString(strconv.FormatUint(id, 10))
	}
	where.WriteString("]}")
	hits, err := x.nearVectorWhere(context.Background(), query, min(k, len(held)), where.String())
	if err != nil {
		return nil, err
	}
	return hits, nil
}

// nearVector asks Weaviate for the limit nearest objects.
func (x *Index) nearVector(ctx context.Context, q []float32, limit int) ([]index.Result, error) {
	return x.nearVectorWhere(ctx, q, limit, "")
}

// nearVectorWhere asks Weaviate for the limit nearest objects that pass
// where (a GraphQL where argument, or "" for none).
func (x *Index) nearVectorWhere(ctx context.Context, q []float32, limit int, where string) ([]index.Result, error) {
	var b strings.Builder
	b.Grow(len(q)*12 + len(where) + 200)
	fmt.Fprintf(&b, "{Get{%s(nearVector:{vector:[", x.cfg.Collection)
	for i, f := range q {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatFloat(float64(f), 'g', -1, 32))
	}
	fmt.Fprintf(&b, "]},limit:%d", limit)
	if where != "" {
		b.WriteByte(',')
		b.WriteString(where)
	}
	x.mu.RLock()
	if x.replicated {
		fmt.Fprintf(&b, ",consistencyLevel:%s", x.cfg.Consistency)
	}
	x.mu.RUnlock()
	b.WriteString("){_additional{id distance}}}}")
	var data struct {
		Get map[string][]struct {
			Additional struct {
				ID       string  `json:"id"`
				Distance float32 `json:"distance"`
			} `json:"_additional"`
		} `json:"Get"`
	}
	if err := x.cl.graphql(ctx, b.String(), &data); err != nil {
		return nil, fmt.Errorf("weaviate: search %s: %w", x.Where(), err)
	}
	rows := data.Get[x.cfg.Collection]
	out := make([]index.Result, 0, len(rows))
	for _, r := range rows {
		id, ok := parseUUID(r.Additional.ID)
		if !ok {
			continue // an object mmsearch did not write
		}
		out = append(out, index.Result{ID: id, Distance: r.Additional.Distance})
	}
	return out, nil
}

// Len is the number of ids this process knows the collection holds.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.ids.Len()
}

// Deleted is 0: Weaviate reclaims deleted objects itself.
func (x *Index) Deleted() int { return 0 }

// Compact is a no-op: Weaviate compacts its own segments and graph.
func (x *Index) Compact(ctx context.Context) error { return ctx.Err() }

// Dim is the vector dimension.
func (x *Index) Dim() int { return x.dim }

// Metric is the distance the index ranks by.
func (x *Index) Metric() index.Metric { return x.metric }

// Memory reports the local bookkeeping only: the vectors live in Weaviate.
func (x *Index) Memory() index.MemoryStats {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return index.MemoryStats{Other: x.ids.Bytes()}
}

// Adopt replaces the local record of the ids the collection holds.
func (x *Index) Adopt(ids []uint64) {
	s := newIDSet()
	for _, id := range ids {
		s.Add(id)
	}
	x.mu.Lock()
	x.ids = s
	x.mu.Unlock()
}

// RemoteCount asks Weaviate how many objects the collection holds.
func (x *Index) RemoteCount(ctx context.Context) (int64, error) {
	var data struct {
		Aggregate map[string][]struct {
			Meta struct {
				Count int64 `json:"count"`
			} `json:"meta"`
		} `json:"Aggregate"`
	}
	if err := x.cl.graphql(ctx, fmt.Sprintf("{Aggregate{%s{meta{count}}}}", x.cfg.Collection), &data); err != nil {
		return 0, fmt.Errorf("weaviate: count %s: %w", x.Where(), err)
	}
	rows := data.Aggregate[x.cfg.Collection]
	if len(rows) == 0 {
		return 0, fmt.Errorf("weaviate: count %s: empty answer", x.Where())
	}
	return rows[0].Meta.Count, nil
}

// SetEf changes the collection's query beam width (-1: Weaviate's dynamic
// ef).
func (x *Index) SetEf(ctx context.Context, ef int) error {
	if ef == 0 || ef < -1 || ef > MaxEf {
		return fmt.Errorf("weaviate: ef %d out of range (-1 or 1..%d): %w", ef, MaxEf, index.ErrInvalidInput)
	}
	var class map[string]any
	if _, err := x.cl.do(ctx, http.MethodGet, "/v1/schema/"+x.cfg.Collection, nil, nil, &class); err != nil {
		return fmt.Errorf("weaviate: set ef: %w", err)
	}
	vic, _ := class["vectorIndexConfig"].(map[string]any)
	if vic == nil {
		return errors.New("weaviate: set ef: the collection has no vectorIndexConfig")
	}
	vic["ef"] = ef
	if _, err := x.cl.do(ctx, http.MethodPut, "/v1/schema/"+x.cfg.Collection, nil, class, nil); err != nil {
		return fmt.Errorf("weaviate: set ef: %w", err)
	}
	return nil
}

// Drop deletes the collection (tests and benchmarks clean up with it).
func (x *Index) Drop(ctx context.Context) error {
	_, err := x.cl.do(ctx, http.MethodDelete, "/v1/schema/"+x.cfg.Collection, nil, nil, nil)
	if err != nil && !isStatus(err, http.StatusNotFound) {
		return fmt.Errorf("weaviate: drop %s: %w", x.Where(), err)
	}
	return nil
}
