// Package catalog is the one owner of a library's state: the SQLite store
// (the source of truth), the in-memory ANN index derived from it, the store
// generation the index reflects, and the index file that saves rebuilding it.
//
// # Design
//
// Every change goes through Apply: one SQLite transaction (items upserted
// and deleted, failures recorded), then the same changes to the index, then
// the generation the index reflects moves to the one the commit left — all
// under one write mutex, so there is never a second writer of the index in
// this process and never an index whose generation label lies. Readers call
// Read and get a View: the index at one generation, held still (Apply waits
// for views to close before it changes the index, and views wait for an
// Apply's index changes to finish), so a search never sees half a batch.
//
// Other processes (another `mmsearch index`, a second server) write the same
// database. Their commits move the store's generation without passing
// through this Apply; the catalog notices in one place, sync: at most once
// per RefreshEvery a reader compares the store's generation with the index's,
// and when they differ rebuilds the index from the store off to the side and
// swaps it in. Searches keep using the old index meanwhile (a reader never
// waits for a rebuild once an index exists), and an Apply that finds, inside
// its transaction, that the store moved since the index was built rebuilds
// instead of applying to an index that missed someone else's writes. While
// this process ingests, the generations match after every Apply, so nothing
// is rebuilt. (Across processes the library's write lock keeps one ingest
// at a time; the check inside the transaction makes the catalog right even
// without it.)
//
// The index is loaded lazily, on the first Read or Apply, so commands that
// only read counts (stats, errors) never pay for it. It comes from the index
// file when the file's header names the store's current generation and the
// model's fingerprint and its CRC32-C trailer matches; otherwise it is
// rebuilt from the store once and saved, so a damaged or stale file costs
// one rebuild, not one per run. Checkpoint applies the compaction policy
// (compact when over a fifth of the index's slots are deleted) and writes
// the file when the index moved past it.
//
// The index itself is any index.Backend: the catalog never names one.
//
// A catalog opened read-only (a library on a read-only file system) serves
// reads; Apply fails with store.ErrReadOnly and nothing is saved.
package catalog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"mmsearch/engine/store"
	"mmsearch/index"
)

// DefaultRefreshEvery is how often, at most, readers check whether another
// process changed the store.
const DefaultRefreshEvery = 2 * time.Second

// Options configures Open.
type Options struct {
	// DB is the SQLite database file.
	DB string
	// IndexFile is where the index is saved.
	IndexFile string
	// Backend makes and loads the index.
	Backend index.Backend
	// ReadOnly opens the database read-only: Apply fails, nothing is saved.
	ReadOnly bool
	// RefreshEvery bounds how often readers look for other processes'
	// writes (0 = DefaultRefreshEvery).
	RefreshEvery time.Duration
	// Logger receives diagnostics (nil = discard).
	Logger *slog.Logger
}

// Catalog owns a library's store, live index, generation and index file.
// Its methods are safe for concurrent use.
type Catalog struct {
	st  *store.Store
	opt Options
	log *slog.Logger

	// writeMu serializes everything that changes the index or the
	// generation it reflects: Apply, sync's rebuilds, Checkpoint.
	writeMu sync.Mutex
	// mu guards idx and gen; views hold it shared while they are open.
	mu  sync.RWMutex
	idx index.Index // nil until first needed
	gen int64       // store generation idx reflects; -1 when idx is known stale
	// saved is the generation of the index file on disk (-1: unknown or none).
	saved int64
	// checked is when sync last compared generations (UnixNano).
	checked atomic.Int64
	// preload, guarded by mu, is closed when the load Preload started has
	// finished (nil when none is running); sync waits for it, so that no
	// caller returns before a load it raced with was saved.
	preload chan struct{}

	// verified caches the last check of the index file's checksum, keyed
	// by the file's size, modification time and inode, so that stats (the
	// server asks on every /api/stats) read the file only when it changed.
	verifyMu sync.Mutex
	verified struct {
		key fileKey
		h   fileHeader
		err error
	}
}

// fileKey identifies one version of a file.
type fileKey struct {
	size, mtimeNs int64
	ino           uint64
}

func keyOf(fi os.FileInfo) fileKey {
	k := fileKey{size: fi.Size(), mtimeNs: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		k.ino = uint64(st.Ino)
	}
	return k
}

// verifyCached is verifyFile, answered from the cache while the file is
// the one checked last.
func (c *Catalog) verifyCached(fi os.FileInfo) (fileHeader, error) {
	key := keyOf(fi)
	c.verifyMu.Lock()
	defer c.verifyMu.Unlock()
	if c.verified.key == key && key != (fileKey{}) {
		return c.verified.h, c.verified.err
	}
	h, err := verifyFile(c.opt.IndexFile)
	if fi2, serr := os.Stat(c.opt.IndexFile); serr == nil && keyOf(fi2) == key {
		c.verified.key, c.verified.h, c.verified.err = key, h, err
	}
	return h, err
}

// Open opens (creating when needed, unless read-only) the database and
// returns a catalog over it. The index is loaded on first use.
func Open(ctx context.Context, opt Options) (*Catalog, error) {
	if opt.Backend.New == nil || opt.Backend.Load == nil {
		return nil, errors.New("catalog: no index backend")
	}
	if opt.RefreshEvery <= 0 {
		opt.RefreshEvery = DefaultRefreshEvery
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	var st *store.Store
	var err error
	if opt.ReadOnly {
		st, err = store.OpenReadOnly(ctx, opt.DB)
	} else {
		st, err = store.Open(ctx, opt.DB)
	}
	if err != nil {
		return nil, err
	}
	return &Catalog{st: st, opt: opt, log: opt.Logger, gen: -1, saved: -1}, nil
}

// Reads is the store's read side, which the engine uses for look-ups that
// need no index (items by id or path, file states, errors). Writes go
// through Apply only.
type Reads interface {
	Snapshot(ctx context.Context) (*store.Snapshot, error)
	FileStates(ctx context.Context) (map[string]store.State, error)
	IterVectors(ctx context.Context, fn func(id int64, vec []float32) error) (int64, error)
	ItemByID(ctx context.Context, id int64) (store.Item, error)
	ItemByPath(ctx context.Context, path string) (store.Item, error)
	ItemsByIDs(ctx context.Context, ids []int64) (map[int64]store.Item, error)
	ItemsByHash(ctx context.Context, h store.Hash) ([]store.Item, error)
	IDsWithPathPrefix(ctx context.Context, prefix string) (map[int64]bool, error)
	Attributes(ctx context.Context) (int64, []store.Attrs, error)
	Errors(ctx context.Context) ([]store.FileError, error)
	Stats(ctx context.Context) (store.Stats, error)
	Model(ctx context.Context) (store.Model, error)
	Generation(ctx context.Context) (int64, error)
	Check(ctx context.Context) error
	CopiesByHash(ctx context.Context, hashes []store.Hash) (map[store.Hash][]store.Copy, error)
	DuplicateGroups(ctx context.Context) (map[store.Hash][]store.Copy, error)
	AllCopies(ctx context.Context) (map[store.Hash][]store.Copy, error)
	HashesOf(ctx context.Context, ids []int64) (map[int64]store.Hash, error)
	Skipped(ctx context.Context) ([]store.SkippedFile, error)
	SkippedByKind(ctx context.Context) (map[string]int64, error)
	CountUnder(ctx context.Context, path string) (int64, error)
	MetaTable(ctx context.Context) (*store.MetaTable, error)
	MetaGeneration(ctx context.Context) (int64, error)
	MetaStats(ctx context.Context, topCameras int) (store.MetaStats, error)
}

// Reads returns the store's read side.
func (c *Catalog) Reads() Reads { return c.st }

// ReadOnly reports whether the catalog was opened read-only.
func (c *Catalog) ReadOnly() bool { return c.st.ReadOnly() }

// SetModel records the library's model (see store.Store.SetModel).
func (c *Catalog) SetModel(ctx context.Context, m store.Model) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	return c.st.SetModel(ctx, m)
}

// Close closes the index (unmapping its file, once open views have
// closed) and the database. The index is not saved: call Checkpoint first.
func (c *Catalog) Close() error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.mu.Lock()
	idx := c.idx
	c.idx, c.gen = nil, -1
	c.mu.Unlock()
	return errors.Join(closeIndex(idx), c.st.Close())
}

// closeIndex closes an index that holds resources (a mapped file).
func closeIndex(idx index.Index) error {
	if cl, ok := idx.(io.Closer); ok {
		return cl.Close()
	}
	return nil
}

// Batch is one atomic change, applied in this order: items deleted by id,
// items upserted by path (a present path keeps its id), failed files
// recorded, and failure records of paths cleared.
type Batch struct {
	Delete      []int64
	Upsert      []store.Item
	Errors      []store.FileError
	ClearErrors []string
	// Skipped records files skipped as not still images; Unskip removes
	// such records.
	Skipped []store.SkippedFile
	Unskip  []string
	// ForgetUnder removes every item, failure and skip record at or below
	// these paths (see store.Tx.ForgetUnder).
	ForgetUnder []string
	// SetMeta replaces the metadata of existing items (read again for
	// files whose content did not change); vectors stay as they are.
	SetMeta []store.ItemMeta
}

// Applied reports what Apply did.
type Applied struct {
	// IDs are the ids of Batch.Upsert, in order.
	IDs []int64
	// Deleted is how many of Batch.Delete existed.
	Deleted int
	// Cleared is how many of Batch.ClearErrors had a record.
	Cleared int
	// Forgotten is what Batch.ForgetUnder removed.
	Forgotten store.Forgotten
	// MetaSet is how many of Batch.SetMeta named an item.
	MetaSet int
	// Generation is the store generation the commit left, which the index
	// now reflects.
	Generation int64
	// StoreTime and IndexTime split the time Apply took between the SQLite
	// transaction and the index changes.
	StoreTime, IndexTime time.Duration
}

// Apply commits b in one transaction, then applies it to the index, then
// advances the generation the index reflects. ctx bounds the wait for the
// database's write lock; once the commit started it finishes. When the
// index changes fail after the commit (the store is the truth), the index is
// marked stale and rebuilt by the next reader.
func (c *Catalog) Apply(ctx context.Context, b Batch) (out Applied, err error) {
	if c.st.ReadOnly() {
		return out, fmt.Errorf("catalog: apply: %w", store.ErrReadOnly)
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if err := c.ensureLocked(ctx); err != nil {
		return out, err
	}
	if err := c.verifyLocked(ctx); err != nil {
		return out, err
	}
	t0 := time.Now()
	tx, err := c.st.Begin(ctx)
	if err != nil {
		return out, fmt.Errorf("catalog: apply: %w", err)
	}
	defer tx.Rollback()
	before, err := tx.Generation(ctx)
	if err != nil {
		return out, fmt.Errorf("catalog: apply: %w", err)
	}
	commitCtx := context.WithoutCancel(ctx)
	if len(b.Delete) > 0 {
		if out.Deleted, err = tx.DeleteItems(commitCtx, b.Delete); err != nil {
			return out, fmt.Errorf("catalog: apply: %w", err)
		}
	}
	if len(b.Upsert) > 0 {
		if out.IDs, err = tx.UpsertItems(commitCtx, b.Upsert); err != nil {
			return out, fmt.Errorf("catalog: apply: %w", err)
		}
	}
	if len(b.Errors) > 0 {
		if err := tx.RecordErrors(commitCtx, b.Errors); err != nil {
			return out, fmt.Errorf("catalog: apply: %w", err)
		}
	}
	if len(b.ClearErrors) > 0 {
		if out.Cleared, err = tx.ClearErrors(commitCtx, b.ClearErrors); err != nil {
			return out, fmt.Errorf("catalog: apply: %w", err)
		}
	}
	if len(b.Skipped) > 0 {
		if err := tx.RecordSkipped(commitCtx, b.Skipped); err != nil {
			return out, fmt.Errorf("catalog: apply: %w", err)
		}
	}
	if len(b.Unskip) > 0 {
		if err := tx.DeleteSkipped(commitCtx, b.Unskip); err != nil {
			return out, fmt.Errorf("catalog: apply: %w", err)
		}
	}
	if len(b.ForgetUnder) > 0 {
		if out.Forgotten, err = tx.ForgetUnder(commitCtx, b.ForgetUnder); err != nil {
			return out, fmt.Errorf("catalog: apply: %w", err)
		}
	}
	if len(b.SetMeta) > 0 {
		if out.MetaSet, err = tx.SetMetadata(commitCtx, b.SetMeta); err != nil {
			return out, fmt.Errorf("catalog: apply: %w", err)
		}
	}
	after, err := tx.CommitGeneration()
	if err != nil {
		return out, fmt.Errorf("catalog: apply: %w", err)
	}
	out.Generation = after
	out.StoreTime = time.Since(t0)
	t0 = time.Now()
	defer func() { out.IndexTime = time.Since(t0) }()

	c.mu.RLock()
	indexGen := c.gen
	c.mu.RUnlock()
	if before != indexGen {
		if _, remote := c.idx.(index.Remote); !remote {
			// Another process wrote since the index was built: this batch
			// on top of that index would still miss those writes.
			c.log.Info("the store moved under the index (another process wrote); rebuilding", "index", indexGen, "store", before)
			return out, c.rebuildLocked(commitCtx)
		}
		// A remote index got the other process's writes from that
		// process: adopt the store's ids, then mirror this batch.
		if _, err := c.adoptLocked(commitCtx); err != nil {
			c.mu.Lock()
			c.gen = -1
			c.mu.Unlock()
			return out, err
		}
	}
	if after == before {
		return out, nil // only failures or metadata recorded
	}
	ids := make([]uint64, len(out.IDs))
	vecs := make([][]float32, len(out.IDs))
	for i, id := range out.IDs {
		ids[i], vecs[i] = uint64(id), b.Upsert[i].Vector
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var ierr error
	for _, id := range append(b.Delete, out.Forgotten.IDs...) {
		if err := c.idx.Delete(uint64(id)); err != nil && !errors.Is(err, index.ErrNotFound) {
			ierr = err
			break
		}
	}
	if ierr == nil {
		pa, hasProps := c.idx.(index.PropertyAdder)
		switch {
		case len(ids) == 0:
		case hasProps:
			props := make([]index.Properties, len(ids))
			for i := range props {
				props[i] = propertiesOf(b.Upsert[i])
			}
			ierr = pa.AddWithProperties(commitCtx, ids, vecs, props)
		case len(ids) == 1:
			ierr = c.idx.Add(ids[0], vecs[0])
		default:
			ierr = c.idx.AddBatch(commitCtx, ids, vecs)
		}
	}
	if ierr != nil {
		c.gen = -1 // stale: the next sync rebuilds it from the store
		return out, fmt.Errorf("catalog: apply to the index (committed to the store; the index will be rebuilt): %w", ierr)
	}
	c.gen = after
	return out, nil
}

// verifyLocked checks all of an index that checks its file lazily (a
// mapped one) before the first change, and rebuilds it from the store when
// it is damaged, so that a change never lands on damaged data. The caller
// holds writeMu.
func (c *Catalog) verifyLocked(ctx context.Context) error {
	c.mu.RLock()
	v, ok := c.idx.(index.Verifier)
	c.mu.RUnlock()
	if !ok {
		return nil
	}
	err := v.Verify()
	if err == nil || !errors.Is(err, index.ErrCorrupt) {
		return err
	}
	return c.replaceDamagedLocked(ctx, err)
}

// replaceDamagedLocked rebuilds from the store an index found damaged after
// it was loaded, and saves the rebuilt one; the rebuild closes the damaged
// one. The caller holds writeMu.
func (c *Catalog) replaceDamagedLocked(ctx context.Context, damage error) error {
	c.log.Warn("the index file is damaged; rebuilding the index from the store", "reason", damage)
	if err := c.rebuildLocked(ctx); err != nil {
		return err
	}
	if !c.st.ReadOnly() {
		if err := c.saveLocked(); err != nil {
			c.log.Warn("could not save the rebuilt index", "err", err)
		}
	}
	return nil
}

// View is a read-only look at the index at one generation. It is valid
// only inside the function given to Read.
type View struct {
	idx index.Index
	gen int64
}

// Search returns the k nearest items to q (see index.Index.Search).
func (v View) Search(q []float32, k int, opts index.SearchOptions) ([]index.Result, error) {
	return v.idx.Search(q, k, opts)
}

// SearchIDs returns up to k of the items ids nearest to q by an exact scan
// of just those items (see index.SearchIDs).
func (v View) SearchIDs(q []float32, k int, ids []uint64) ([]index.Result, error) {
	return index.SearchIDs(v.idx, q, k, ids)
}

// Vector returns the indexed vector of item id.
func (v View) Vector(id int64) ([]float32, error) { return v.idx.Vector(uint64(id)) }

// Len is the number of indexed items.
func (v View) Len() int { return v.idx.Len() }

// Searcher is the view's index as a Searcher, for code written against
// index ids; like the view, it is held still only inside Read.
func (v View) Searcher() Searcher { return v.idx }

// Generation is the store generation the view reflects.
func (v View) Generation() int64 { return v.gen }

// Searcher is the read side of the index, for scans too long to hold a
// view (duplicates): it stays usable while Apply changes the index.
type Searcher interface {
	Search(q []float32, k int, opts index.SearchOptions) ([]index.Result, error)
	Vector(id uint64) ([]float32, error)
	Len() int
}

// Current returns the current index's read side after the same refresh as
// Read, without holding it still: each call goes to the index current at
// that moment, so later Applies show through, and so does an index rebuilt
// meanwhile (the catalog closes an index it replaces, which may hold its
// file mapped). After Close its calls fail with index.ErrClosed.
func (c *Catalog) Current(ctx context.Context) (Searcher, error) {
	if err := c.sync(ctx); err != nil {
		return nil, err
	}
	return current{c}, nil
}

// current is the Searcher Current returns.
type current struct{ c *Catalog }

// with runs fn on the current index, holding it still for the call.
func (s current) with(fn func(index.Index) error) error {
	s.c.mu.RLock()
	defer s.c.mu.RUnlock()
	if s.c.idx == nil {
		return fmt.Errorf("catalog: %w", index.ErrClosed)
	}
	return fn(s.c.idx)
}

func (s current) Search(q []float32, k int, opts index.SearchOptions) (res []index.Result, err error) {
	err = s.with(func(idx index.Index) error {
		res, err = idx.Search(q, k, opts)
		return err
	})
	return res, err
}

func (s current) Vector(id uint64) (v []float32, err error) {
	err = s.with(func(idx index.Index) error {
		v, err = idx.Vector(id)
		return err
	})
	return v, err
}

func (s current) Len() (n int) {
	_ = s.with(func(idx index.Index) error {
		n = idx.Len()
		return nil
	})
	return n
}

// Read calls fn with a view of the index, loading the index first when
// needed and picking up other processes' writes (at most once per
// RefreshEvery). Apply waits while fn runs: keep it short.
//
// An index opened in place checks its file as searches reach its parts
// (see index.Backend.Map). When fn fails on damage found that way (an
// error wrapping index.ErrCorrupt), the index is rebuilt from the store
// and fn runs once more, on the rebuilt index.
func (c *Catalog) Read(ctx context.Context, fn func(View) error) error {
	for retried := false; ; retried = true {
		if err := c.sync(ctx); err != nil {
			return err
		}
		c.mu.RLock()
		idx := c.idx
		err := fn(View{idx: idx, gen: c.gen})
		c.mu.RUnlock()
		if retried || !errors.Is(err, index.ErrCorrupt) {
			return err
		}
		if _, lazy := idx.(index.Verifier); !lazy {
			return err
		}
		c.writeMu.Lock()
		c.mu.RLock()
		same := c.idx == idx
		c.mu.RUnlock()
		if same {
			err = c.replaceDamagedLocked(ctx, err)
		} else {
			err = nil // another goroutine replaced it already
		}
		c.writeMu.Unlock()
		if err != nil {
			return err
		}
	}
}

// Preload starts loading the index in the background, when it is not
// loaded yet, so that a caller with other work to do first (opening the
// text encoder for a query) overlaps the two. A later Read waits for it.
// Errors are left for that Read to meet again.
func (c *Catalog) Preload(ctx context.Context) {
	c.mu.Lock()
	if c.idx != nil || c.preload != nil {
		c.mu.Unlock()
		return
	}
	done := make(chan struct{})
	c.preload = done
	c.mu.Unlock()
	go func() {
		defer close(done)
		_ = c.syncNow(ctx)
		c.mu.Lock()
		c.preload = nil
		c.mu.Unlock()
	}()
}

// sync is the one place that brings the index in step with writes this
// catalog did not make: it loads or rebuilds a missing index, and rebuilds
// one whose generation differs from the store's. A reader never waits for
// a rebuild while an index exists: when another goroutine holds the write
// mutex (an Apply, which checks itself, or a rebuild), it reads the current
// index.
func (c *Catalog) sync(ctx context.Context) error {
	// A load that Preload started finishes first (it may still be saving
	// an index it rebuilt after publishing it).
	c.mu.RLock()
	preload := c.preload
	c.mu.RUnlock()
	if preload != nil {
		select {
		case <-preload:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return c.syncNow(ctx)
}

// syncNow is sync without waiting for a preload (which runs it).
func (c *Catalog) syncNow(ctx context.Context) error {
	c.mu.RLock()
	have, stale := c.idx != nil, c.gen < 0
	c.mu.RUnlock()
	if have && !stale && time.Since(time.Unix(0, c.checked.Load())) < c.opt.RefreshEvery {
		return nil
	}
	if have && !stale {
		if !c.writeMu.TryLock() {
			return nil
		}
	} else {
		c.writeMu.Lock()
	}
	defer c.writeMu.Unlock()
	return c.checkLocked(ctx)
}

// Sync brings the index in step with the store now, whatever the time since
// the last check. The ingest calls it after taking the library's write lock.
func (c *Catalog) Sync(ctx context.Context) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	return c.checkLocked(ctx)
}

// checkLocked loads the index when there is none and rebuilds it when the
// store's generation is not the one it reflects. The caller holds writeMu.
func (c *Catalog) checkLocked(ctx context.Context) error {
	if err := c.ensureLocked(ctx); err != nil {
		return err
	}
	gen, err := c.st.Generation(ctx)
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	c.checked.Store(time.Now().UnixNano())
	c.mu.RLock()
	cur := c.gen
	c.mu.RUnlock()
	if gen == cur {
		return nil
	}
	if _, remote := c.idx.(index.Remote); remote && cur >= 0 {
		c.log.Info("the library changed in another process; adopting its ids (the remote index has its writes)", "index", cur, "store", gen)
		_, err := c.adoptLocked(ctx)
		return err
	}
	c.log.Info("the library changed in another process; rebuilding the index", "index", cur, "store", gen)
	return c.rebuildLocked(ctx)
}

// adoptLocked hands the store's ids to a remote index (index.Remote) and
// moves the generation it reflects to the store's. The caller holds
// writeMu and has checked that the index is remote.
func (c *Catalog) adoptLocked(ctx context.Context) (int64, error) {
	var ids []uint64
	gen, err := c.st.IterVectors(ctx, func(id int64, _ []float32) error {
		ids = append(ids, uint64(id))
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("catalog: adopt the store's ids: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.idx.(index.Remote).Adopt(ids)
	c.gen = gen
	c.checked.Store(time.Now().UnixNano())
	return gen, nil
}

// propertiesOf is what a remote index stores beside an item's vector.
func propertiesOf(it store.Item) index.Properties {
	return index.Properties{Path: it.Path, Hash: it.Hash.String(), Size: it.Size, MtimeNs: it.MtimeNs, Format: it.Format, Width: it.Width, Height: it.Height}
}

// Rebuild builds the index from the store now, whatever its state, and
// saves it. For a remote index this re-sends every vector and its
// properties (the collection is made anew first).
func (c *Catalog) Rebuild(ctx context.Context) error {
	if c.st.ReadOnly() {
		return fmt.Errorf("catalog: rebuild: %w", store.ErrReadOnly)
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if err := c.rebuildWith(ctx, true); err != nil {
		return err
	}
	return c.saveLocked()
}

// MirrorState compares a remote index with the store.
type MirrorState struct {
	// Remote is false when the index lives in this process (the other
	// fields are then zero).
	Remote bool
	// Where names the server and collection.
	Where string
	// StoreItems is the number of items in the store; IndexItems the ids
	// the index records; RemoteObjects what the server counts (-1 when it
	// could not be asked, see Problem).
	StoreItems, IndexItems, RemoteObjects int64
	// Sampled is the number of items whose vector was fetched from the
	// server and compared with the store's; Missing of them were absent,
	// Differ held another vector.
	Sampled, Missing, Differ int
	// Problem describes the first mismatch or error ("" when in step).
	Problem string
}

// InStep reports whether the index matched the store in every check.
func (m MirrorState) InStep() bool { return m.Problem == "" }

// CheckMirror compares a remote index with the store: the counts, and the
// vectors of up to sample items spread over the store's ids.
func (c *Catalog) CheckMirror(ctx context.Context, sample int) (MirrorState, error) {
	var ms MirrorState
	if err := c.sync(ctx); err != nil {
		return ms, err
	}
	c.mu.RLock()
	idx := c.idx
	c.mu.RUnlock()
	r, ok := idx.(index.Remote)
	if !ok {
		return ms, nil
	}
	ms.Remote, ms.Where, ms.IndexItems, ms.RemoteObjects = true, r.Where(), int64(idx.Len()), -1
	var all []int64
	vecs := map[int64][]float32{}
	if _, err := c.st.IterVectors(ctx, func(id int64, _ []float32) error {
		all = append(all, id)
		return nil
	}); err != nil {
		return ms, fmt.Errorf("catalog: check mirror: %w", err)
	}
	ms.StoreItems = int64(len(all))
	n, err := r.RemoteCount(ctx)
	if err != nil {
		ms.Problem = err.Error()
	} else {
		ms.RemoteObjects = n
	}
	if sample > 0 && len(all) > 0 {
		step := max(1, len(all)/sample)
		var ids []int64
		for i := 0; i < len(all) && len(ids) < sample; i += step {
			ids = append(ids, all[i])
		}
		items, err := c.st.ItemsByIDs(ctx, ids)
		if err != nil {
			return ms, fmt.Errorf("catalog: check mirror: %w", err)
		}
		for id, it := range items {
			vecs[id] = it.Vector
		}
		for _, id := range ids {
			ms.Sampled++
			got, err := idx.Vector(uint64(id))
			switch {
			case errors.Is(err, index.ErrNotFound):
				ms.Missing++
			case err != nil:
				if ms.Problem == "" {
					ms.Problem = err.Error()
				}
			case !sameVector(got, vecs[id]):
				ms.Differ++
			}
		}
	}
	switch {
	case ms.Problem != "":
	case ms.RemoteObjects != ms.StoreItems:
		ms.Problem = fmt.Sprintf("the store holds %d items, %s holds %d objects", ms.StoreItems, ms.Where, ms.RemoteObjects)
	case ms.IndexItems != ms.StoreItems:
		ms.Problem = fmt.Sprintf("the store holds %d items, the index records %d", ms.StoreItems, ms.IndexItems)
	case ms.Missing > 0 || ms.Differ > 0:
		ms.Problem = fmt.Sprintf("of %d sampled vectors, %d are missing from %s and %d differ from the store's", ms.Sampled, ms.Missing, ms.Where, ms.Differ)
	}
	return ms, nil
}

// sameVector reports whether a and b match within float32 rounding.
func sameVector(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if d := a[i] - b[i]; d > 1e-5 || d < -1e-5 {
			return false
		}
	}
	return true
}

// ensureLocked loads the index from its file or rebuilds it, when there is
// none or it is marked stale. The caller holds writeMu.
func (c *Catalog) ensureLocked(ctx context.Context) error {
	c.mu.RLock()
	have, stale := c.idx != nil, c.gen < 0
	c.mu.RUnlock()
	if have && !stale {
		return nil
	}
	if have {
		return c.rebuildLocked(ctx)
	}
	start := time.Now()
	m, err := c.st.Model(ctx)
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	gen, err := c.st.Generation(ctx)
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	idx, inPlace, old, err := c.load(m, gen)
	if err == nil {
		c.log.Debug("index loaded", "items", idx.Len(), "in_place", inPlace, "took", time.Since(start))
		c.mu.Lock()
		c.idx, c.gen, c.saved = idx, gen, gen
		c.mu.Unlock()
		c.checked.Store(time.Now().UnixNano())
		if old && !c.st.ReadOnly() {
			// Once: the next process opens the file in place.
			c.log.Info("rewriting the index file in the current layout, which opens in place")
			if err := c.saveLocked(); err != nil {
				c.log.Warn("could not rewrite the index file", "err", err)
			}
		}
		return nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		c.log.Warn("rebuilding the index", "reason", err)
	}
	if err := c.rebuildLocked(ctx); err != nil {
		return err
	}
	// Save the rebuilt index at once, so the next run loads it instead of
	// rebuilding again.
	if !c.st.ReadOnly() {
		if err := c.saveLocked(); err != nil {
			c.log.Warn("could not save the rebuilt index", "err", err)
		}
	}
	return nil
}

// rebuildLocked builds a fresh index from every vector in the store, off to
// the side, and swaps it in. The caller holds writeMu.
func (c *Catalog) rebuildLocked(ctx context.Context) error { return c.rebuildWith(ctx, false) }

// rebuildWith is rebuildLocked; reset also empties a remote index
// (index.Remote.Reset) before the store's vectors are sent.
func (c *Catalog) rebuildWith(ctx context.Context, reset bool) error {
	start := time.Now()
	m, err := c.st.Model(ctx)
	if err != nil {
		return fmt.Errorf("catalog: rebuild index: %w", err)
	}
	idx, err := c.opt.Backend.New(m.Dim)
	if err != nil {
		return fmt.Errorf("catalog: rebuild index: %w", err)
	}
	if r, ok := idx.(index.Remote); ok && reset {
		if err := r.Reset(ctx); err != nil {
			return fmt.Errorf("catalog: rebuild index: %w", err)
		}
	}
	const chunk = 4096
	ids := make([]uint64, 0, chunk)
	vecs := make([][]float32, 0, chunk)
	flush := func() error {
		if len(ids) == 0 {
			return nil
		}
		err := idx.AddBatch(ctx, ids, vecs)
		ids, vecs = ids[:0], vecs[:0]
		return err
	}
	pa, hasProps := idx.(index.PropertyAdder)
	if hasProps {
		flush = func() error {
			if len(ids) == 0 {
				return nil
			}
			keys := make([]int64, len(ids))
			for i, id := range ids {
				keys[i] = int64(id)
			}
			items, err := c.st.ItemsByIDs(ctx, keys)
			if err != nil {
				return err
			}
			props := make([]index.Properties, len(ids))
			for i, id := range keys {
				props[i] = propertiesOf(items[id])
			}
			err = pa.AddWithProperties(ctx, ids, vecs, props)
			ids, vecs = ids[:0], vecs[:0]
			return err
		}
	}
	gen, err := c.st.IterVectors(ctx, func(id int64, v []float32) error {
		ids = append(ids, uint64(id))
		vecs = append(vecs, v)
		if len(ids) == chunk {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return fmt.Errorf("catalog: rebuild index: %w", err)
	}
	c.mu.Lock()
	old := c.idx
	c.idx, c.gen = idx, gen
	c.mu.Unlock()
	// No Read holds the old index any more (they hold mu while they use
	// it), and Current's searchers go through c.idx: close it now, so a
	// mapped file is released at once rather than by the garbage collector.
	if old != nil {
		if err := closeIndex(old); err != nil {
			c.log.Warn("close the replaced index", "err", err)
		}
	}
	c.checked.Store(time.Now().UnixNano())
	c.log.Info("index rebuilt from the store", "items", idx.Len(), "generation", gen, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// Checkpoint applies the compaction policy and saves the index file when the
// index moved past it. It does nothing before the index was first used, or
// on a read-only catalog.
func (c *Catalog) Checkpoint(ctx context.Context) error {
	if c.st.ReadOnly() {
		return nil
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.mu.RLock()
	idx, gen, saved := c.idx, c.gen, c.saved
	c.mu.RUnlock()
	if idx == nil || gen < 0 {
		return nil
	}
	if d := idx.Deleted(); d > 0 && d > idx.Len()/5 && ctx.Err() == nil {
		if err := idx.Compact(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("compact index", "err", err)
		} else if err == nil {
			saved = -1
		}
	}
	if gen == saved {
		return nil
	}
	return c.saveLocked()
}

// saveLocked writes the index file for the current generation. The caller
// holds writeMu, so the index does not change meanwhile; searches go on.
func (c *Catalog) saveLocked() error {
	c.mu.RLock()
	idx, gen := c.idx, c.gen
	c.mu.RUnlock()
	m, err := c.st.Model(context.Background())
	if err != nil {
		return fmt.Errorf("catalog: save index: %w", err)
	}
	if err := writeFile(c.opt.IndexFile, c.opt.Backend.Name, gen, m.Fingerprint, idx); err != nil {
		return fmt.Errorf("catalog: save index: %w", err)
	}
	c.mu.Lock()
	c.saved = gen
	c.mu.Unlock()
	return nil
}

// load opens the index file, in place where the backend can (inPlace);
// old reports a file of an older layout, which saving again upgrades.
func (c *Catalog) load(m store.Model, gen int64) (idx index.Index, inPlace, old bool, err error) {
	idx, fileGen, err := mapFile(c.opt.IndexFile, c.opt.Backend, m.Fingerprint)
	inPlace, old = err == nil, errors.Is(err, errOldLayout)
	if errors.Is(err, errNotMappable) {
		c.log.Debug("reading the index file whole", "reason", err)
		idx, fileGen, err = readFile(c.opt.IndexFile, c.opt.Backend, m.Fingerprint)
	}
	if err != nil {
		return nil, false, false, err
	}
	if fileGen != gen {
		closeIndex(idx)
		return nil, false, false, fmt.Errorf("index file is stale (generation %d, store %d)", fileGen, gen)
	}
	if idx.Dim() != m.Dim {
		closeIndex(idx)
		return nil, false, false, fmt.Errorf("index file: dimension %d, model %d: %w", idx.Dim(), m.Dim, index.ErrCorrupt)
	}
	return idx, inPlace, old, nil
}

// FileState describes the index file.
type FileState struct {
	Bytes int64 // file size (0 when absent)
	// Fresh: the file is intact (checksum), was made for the library's
	// model and reflects the store's current generation.
	Fresh bool
	// Problem says why it is not fresh ("" when fresh or absent).
	Problem string
}

// IndexFileState checks the index file against the store without loading
// the index: it reads the file to verify its checksum, once per version of
// the file.
func (c *Catalog) IndexFileState(ctx context.Context) (FileState, error) {
	var fs FileState
	fi, err := os.Stat(c.opt.IndexFile)
	if errors.Is(err, os.ErrNotExist) {
		return fs, nil
	}
	if err != nil {
		return fs, err
	}
	fs.Bytes = fi.Size()
	gen, err := c.st.Generation(ctx)
	if err != nil {
		return fs, err
	}
	m, err := c.st.Model(ctx)
	if err != nil && !errors.Is(err, store.ErrNoModel) {
		return fs, err
	}
	h, err := c.verifyCached(fi)
	switch {
	case err != nil:
		fs.Problem = err.Error()
	case h.fingerprint != m.Fingerprint:
		fs.Problem = "built with another model"
	case h.backend != c.opt.Backend.Name:
		fs.Problem = fmt.Sprintf("built by index backend %q, not %q", h.backend, c.opt.Backend.Name)
	case h.gen != gen:
		fs.Problem = fmt.Sprintf("stale (generation %d, store %d)", h.gen, gen)
	default:
		fs.Fresh = true
	}
	return fs, nil
}
