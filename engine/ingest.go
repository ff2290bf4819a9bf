package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mmsearch/encoders"
	"mmsearch/encoders/imageproc"
	"mmsearch/engine/catalog"
	"mmsearch/engine/filekind"
	"mmsearch/engine/ignore"
	"mmsearch/engine/photohint"
	"mmsearch/engine/store"
	"mmsearch/engine/walk"
	"mmsearch/internal/regfile"
)

// IngestOptions tunes Library.Ingest.
type IngestOptions struct {
	// Workers is the number of goroutines reading, hashing, decoding and
	// preprocessing files while the encoder runs (0 = GOMAXPROCS).
	Workers int
	// BatchSize is the number of images per inference and per store
	// transaction (0 = the library's batch size, else 32).
	BatchSize int
	// Streams is the number of inferences run at once, each on its own
	// batch (0 = chosen from the core count and the library's Threads; see
	// EncodeStreams).
	Streams int
	// IncludeHidden indexes files and folders whose names start with '.'.
	IncludeHidden bool
	// KeepMissing keeps items whose files disappeared (default: remove them).
	KeepMissing bool
	// RetryFailed tries again files whose content failed before though they
	// have not changed since (after raising a limit, or installing a
	// decoder). Failures that can pass (store.ClassTransient) are tried
	// again on every run anyway.
	RetryFailed bool
	// Exclude holds gitignore-style patterns matched against paths relative
	// to each root (see package ignore); files and folders they match are
	// not walked, and items already indexed under them are removed.
	Exclude []string
	// NoDefaultExcludes turns off ignore.Defaults (@eaDir, .git, ...).
	NoDefaultExcludes bool
	// NoIgnoreFiles disregards .mmsearchignore files.
	NoIgnoreFiles bool
	// RefreshMetadata reads the photo metadata (EXIF capture time, camera,
	// GPS) of unchanged files again, without embedding them again. Items
	// whose metadata was never read (indexed before the library's schema
	// had it) are read on every run until they have it, without this.
	RefreshMetadata bool
	// Image holds the decoding limits.
	Image imageproc.Options
	// Progress, when set, is called from the pipeline's goroutines (never
	// concurrently) as work advances.
	Progress func(Progress)
	// FirstImages, when set, is called once per run, before Ingest returns,
	// with the first images the run committed (embedded or reused: up to
	// one batch of them, fewer when the run had fewer), never concurrently
	// with Progress. A run that commits no image does not call it. The CLI
	// uses it to tell a library on the bundled model that its pictures look
	// like camera photos (see package photohint).
	FirstImages func([]photohint.Sample)

	// Remote, when set, sends the files to embed to workers elsewhere
	// (package cluster) instead of decoding and encoding them in this
	// process; the walk, the commits, progress and failure records stay
	// here. Workers and Streams are then unused.
	Remote RemoteEmbedder

	// testHookBeforeRead runs before a worker reads a file (tests only).
	testHookBeforeRead func(path string)
}

// Progress is a snapshot of a running ingest.
type Progress struct {
	Walking bool `json:"walking"` // the walk is still finding files
	// Counted is set once the counting walk, which runs ahead of the
	// workers and reads no file, has listed every file: Total and ToDo are
	// then final (unless files appear or go meanwhile; Found and Queued are
	// the truth once Walking is false).
	Counted   bool          `json:"counted"`
	Total     int           `json:"total"`     // files the counting walk listed so far
	ToDo      int           `json:"todo"`      // of those, files that need (re)indexing
	Found     int           `json:"found"`     // files found so far
	Queued    int           `json:"queued"`    // files that need (re)indexing
	Done      int           `json:"done"`      // queued files finished (indexed, reused or failed)
	Unchanged int           `json:"unchanged"` // skipped: unchanged since the last run
	Failed    int           `json:"failed"`    // failed in this run
	Skipped   int           `json:"skipped"`   // not still images (videos, sidecars, ...)
	Reused    int           `json:"reused"`    // moved or duplicate files whose vector was reused
	Elapsed   time.Duration `json:"elapsed_ns"`
}

// StageTimes splits an ingest's work by stage. Decode-side stages run on
// several workers at once, so they sum to more than the wall time.
type StageTimes struct {
	Walk       time.Duration `json:"walk_ns"`
	Read       time.Duration `json:"read_ns"`       // reading files (all workers)
	Hash       time.Duration `json:"hash_ns"`       // content hashing (all workers)
	Preprocess time.Duration `json:"preprocess_ns"` // decode, resize, normalize (all workers)
	Encode     time.Duration `json:"encode_ns"`     // ONNX Runtime inference
	Store      time.Duration `json:"store_ns"`      // SQLite transactions
	Index      time.Duration `json:"index_ns"`      // HNSW inserts and deletes
	Save       time.Duration `json:"save_ns"`       // writing the index file
}

// IngestReport summarizes a finished (or stopped) ingest.
type IngestReport struct {
	Found     int `json:"found"`
	New       int `json:"new"`
	Changed   int `json:"changed"`
	Unchanged int `json:"unchanged"`
	Reused    int `json:"reused"`
	Indexed   int `json:"indexed"` // embedded by the model in this run
	Failed    int `json:"failed"`
	Skipped   int `json:"skipped_failed"` // failed before and unchanged since
	Retried   int `json:"retried"`        // failed before, tried again (queued)
	Deleted   int `json:"deleted"`        // items removed: file gone, no longer a regular file, or in an excluded folder
	Dropped   int `json:"dropped"`        // items removed because their file's new content failed
	Cleared   int `json:"cleared_errors"` // failure records that no longer apply, removed
	// SkippedSpecial counts named pipes, sockets and devices passed over.
	SkippedSpecial int `json:"skipped_special"`
	// Revisited counts folders reached a second time (through a link, or
	// an overlapping root) and so not walked again: their files are
	// counted once, under the first path.
	Revisited int `json:"revisited"`
	// Excluded counts folders and roots not walked because they are the
	// library's own folder or the mmsearch cache.
	Excluded int               `json:"excluded"`
	Elapsed  time.Duration     `json:"elapsed_ns"`
	Stages   StageTimes        `json:"stages"`
	Errors   []store.FileError `json:"errors,omitempty"` // failures of this run
	Stopped  bool              `json:"stopped"`          // cancelled before the end
	// SkippedByKind counts the files found that are not still images, by
	// kind ("video", "sidecar", ...; see package filekind): recognised in
	// this run or recorded earlier and unchanged since. They are not failures.
	SkippedByKind map[string]int `json:"skipped,omitempty"`
	// SkippedNew counts the files of SkippedByKind looked at in this run
	// (new or changed ones); the rest were recorded earlier.
	SkippedNew int `json:"skipped_new,omitempty"`
	// ExcludedRemoved counts items and failure or skip records removed
	// because an exclude pattern (--exclude, a default, .mmsearchignore) now
	// covers them.
	ExcludedRemoved int `json:"excluded_removed,omitempty"`
	// MetadataRead counts unchanged items whose photo metadata was read
	// (again) without embedding them: items from before the library had
	// metadata, or every unchanged item with RefreshMetadata.
	MetadataRead int `json:"metadata_read,omitempty"`
}

// SkippedTotal is the number of files skipped as not still images.
func (r IngestReport) SkippedTotal() int {
	n := 0
	for _, v := range r.SkippedByKind {
		n += v
	}
	return n
}

// job is a file that needs embedding, or (fail set) a path the walk could
// not follow, passed down the pipeline to be recorded with the rest.
type job struct {
	path    string
	size    int64
	mtimeNs int64
	changed bool
	oldID   int64 // the item at path before this run (0: none); removed if the file fails
	fail    *store.FileError
	// metaOnly: the file is unchanged and indexed as oldID; only its
	// metadata is read.
	metaOnly bool
}

// decoded is a job after the workers: a tensor to embed, a vector to reuse,
// or an error.
type decoded struct {
	job
	hash   store.Hash
	info   imageproc.Info
	tensor []float32
	reused []float32
	// embedded is a vector a remote worker computed; done acknowledges it
	// once committed.
	embedded []float32
	done     func(committed bool)
	err      *store.FileError
	skip     *store.SkippedFile // not a still image
	meta     store.Metadata
}

// Ingest walks roots and brings the library up to date with them: new and
// changed files are embedded, moved and duplicate files reuse the vector of
// identical content, deleted files are removed, unchanged files are skipped.
// Files that fail are recorded (see Errors) and never stop the run. When ctx
// is cancelled the batch in hand is committed and Ingest returns ctx.Err()
// with the report so far; a later run carries on where it stopped.
//
// It runs in three steps: prepare (take the library's write lock, check the
// roots, bring the catalog in step with the store, read the snapshot the
// walk compares against), run (walk → decode → encode → catalog Apply, one
// transaction per batch) and finish (bring the store in line with what the
// walk saw, checkpoint the index).
func (l *Library) Ingest(ctx context.Context, roots []string, opt IngestOptions) (IngestReport, error) {
	var rep IngestReport
	p, err := l.prepareIngest(ctx, roots, opt, &rep)
	if err != nil {
		return rep, err
	}
	defer p.lock.unlock()
	runErr := p.runIngest(ctx)
	return rep, p.finishIngest(ctx, runErr)
}

// prepareIngest checks the roots, takes the write lock and gathers what the
// run needs.
func (l *Library) prepareIngest(ctx context.Context, roots []string, opt IngestOptions, rep *IngestReport) (*pipeline, error) {
	start := time.Now()
	if l.cat.ReadOnly() {
		return nil, fmt.Errorf("index into %s: %w", l.dir, ErrReadOnly)
	}
	lock, err := lockLibrary(l.dir)
	if err != nil {
		return nil, err
	}
	p, err := l.newPipeline(ctx, roots, opt, rep, start)
	if err != nil {
		lock.unlock()
		return nil, err
	}
	p.lock = lock
	return p, nil
}

func (l *Library) newPipeline(ctx context.Context, roots []string, opt IngestOptions, rep *IngestReport, start time.Time) (*pipeline, error) {
	absRoots := make([]string, 0, len(roots))
	for _, r := range roots {
		a, err := filepath.Abs(r)
		if err != nil {
			return nil, fmt.Errorf("index %s: %w", r, err)
		}
		if _, err := os.Stat(a); err != nil {
			return nil, fmt.Errorf("index: %w", err)
		}
		absRoots = append(absRoots, a)
	}
	excl, err := ignore.New(absRoots, ignore.Options{Patterns: opt.Exclude, NoDefaults: opt.NoDefaultExcludes,
		NoFiles: opt.NoIgnoreFiles, OnError: func(path string, err error) {
			l.log.Warn("ignore file", "path", path, "err", err)
		}})
	if err != nil {
		return nil, err
	}
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	streams, threads := EncodeStreams(runtime.GOMAXPROCS(0), l.opts.Threads, opt.Streams)
	var enc *encoders.ImageEncoder
	tensorLen, maxBatch := 0, defaultRemoteBatch
	if opt.Remote != nil {
		workers = 0 // the remote workers decode and encode
	} else {
		if enc, err = l.ingestEncoder(threads); err != nil {
			return nil, err
		}
		tensorLen, maxBatch = enc.TensorLen(), enc.MaxBatch()
	}
	// Another process may have written since this one last looked: the
	// catalog catches up now, under the write lock, once.
	if err := l.cat.Sync(ctx); err != nil {
		return nil, err
	}
	snap, err := l.store.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	batch := opt.BatchSize
	if batch <= 0 {
		batch = maxBatch
	}
	p := &pipeline{l: l, opt: opt, rep: rep, start: start, tensorLen: tensorLen,
		roots: absRoots, excl: excl, snap: snap, workers: workers, streams: streams, batch: batch, enc: enc,
		known: make(map[uint64]struct{}, len(snap.Items))}
	rep.SkippedByKind = map[string]int{}
	for _, st := range snap.Items {
		p.known[hashKey(st.Hash)] = struct{}{}
	}
	return p, nil
}

// runIngest walks the roots, decodes and embeds what changed and applies
// each batch to the catalog.
func (p *pipeline) runIngest(ctx context.Context) error {
	snap := p.snap
	// The walk, the decode workers and the batcher stop taking new work when
	// work is done: the caller's ctx is cancelled, or the committer failed.
	// Batches already handed to the encoders are embedded and committed.
	work, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	batch := p.batch
	jobs := make(chan job, 4*batch)
	results := make(chan decoded, 2*batch)
	// Written by the walk goroutine, read after it ends.
	w := &walkState{
		seen:     make(map[string]struct{}, len(snap.Items)),
		reported: make(map[string]struct{}),
		special:  make(map[string]struct{}),
		excluded: p.l.excludedFolders(p.roots),
	}
	walkOpts := walk.Options{IncludeHidden: p.opt.IncludeHidden, Exclude: slices.Clone(w.excluded), Ignore: p.excl.Excluded}
	// The counting walk always ends before Index returns, so that Progress
	// is never called after.
	counter, endCount := context.WithCancel(work)
	counted := make(chan struct{})
	defer func() { endCount(); <-counted }()
	if p.opt.Progress != nil {
		go func() { defer close(counted); p.count(counter, snap, p.roots, walkOpts) }()
	} else {
		close(counted)
	}
	var walkErr error
	go func() {
		defer close(jobs)
		t0 := time.Now()
		send := func(j job) error {
			select {
			case jobs <- j:
				return nil
			case <-work.Done():
				return work.Err()
			}
		}
		opts := walkOpts
		opts.OnError = func(path string, err error) {
			if errors.Is(err, walk.ErrAlreadyVisited) {
				p.revisited() // its files were listed once: nothing failed
				return
			}
			w.reported[path] = struct{}{}
			if fe := p.walkFailure(snap, path, err); fe != nil {
				send(job{path: path, fail: fe}) // a stop ends the walk just after
			}
		}
		opts.OnSkip = func(path string, why error) {
			p.skipped(path, why, w)
		}
		walkErr = walk.Walk(work, p.roots, opts, func(f walk.File) error {
			if _, dup := w.seen[f.Path]; dup {
				return nil // reached twice (a file root inside a folder root)
			}
			w.seen[f.Path] = struct{}{}
			st := p.status(snap, f)
			p.found(st)
			switch st {
			case store.StatusUnchanged:
				if _, stale := snap.Errors[f.Path]; stale {
					w.staleErrs = append(w.staleErrs, f.Path) // indexed as it is now
				}
				if old := snap.Items[f.Path]; old.NoMeta || p.opt.RefreshMetadata {
					return send(job{path: f.Path, size: f.Size, mtimeNs: f.ModTimeNs, oldID: old.ID, metaOnly: true})
				}
				return nil
			case store.StatusFailed:
				return nil
			case store.StatusSkipped:
				p.skippedAgain(snap.Skipped[f.Path].Kind)
				return nil
			}
			return send(job{path: f.Path, size: f.Size, mtimeNs: f.ModTimeNs,
				changed: st == store.StatusChanged, oldID: snap.Items[f.Path].ID})
		})
		p.stages.Walk = time.Since(t0)
		p.walkDone()
	}()

	var wg sync.WaitGroup
	var remoteErr error
	if p.opt.Remote != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			remoteErr = p.remoteDecode(work, stop, jobs, results)
		}()
	}
	for range p.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if work.Err() != nil {
					continue // drain: the walk is stopping too
				}
				if j.fail != nil {
					results <- decoded{job: j, err: j.fail}
					continue
				}
				if j.metaOnly {
					if d, ok := p.readMeta(work, j); ok {
						results <- d
					}
					continue
				}
				if d, ok := p.decode(work, j); ok {
					results <- d
				}
			}
		}()
	}
	go func() { wg.Wait(); close(results) }()

	commitErr := p.run(work, stop, results, batch, p.streams, p.enc)
	// Drain whatever the workers still produce after a failure or a stop.
	for range results {
	}
	p.walked = w
	if remoteErr != nil && ctx.Err() == nil {
		return fmt.Errorf("remote workers: %w", remoteErr)
	}
	if walkErr != nil && !errors.Is(walkErr, context.Canceled) && !errors.Is(walkErr, context.DeadlineExceeded) {
		return fmt.Errorf("walk: %w", walkErr)
	}
	return commitErr
}

// finishIngest brings the store in line with what a complete walk saw and
// checkpoints the index, even after a stop, so the next open need not
// rebuild it.
func (p *pipeline) finishIngest(ctx context.Context, runErr error) error {
	if runErr != nil {
		return runErr
	}
	if ctx.Err() == nil {
		if err := p.finishWalked(ctx, p.snap, p.walked, p.roots, p.excl); err != nil {
			return err
		}
	}
	t0 := time.Now()
	err := p.l.cat.Checkpoint(context.WithoutCancel(ctx))
	p.stages.Save = time.Since(t0)
	if err != nil {
		return fmt.Errorf("save index: %w", err)
	}
	p.rep.Stages = p.stages
	p.rep.Elapsed = time.Since(p.start)
	if ctx.Err() != nil {
		p.rep.Stopped = true
		return ctx.Err()
	}
	return nil
}

// pipeline holds the shared state of one ingest.
type pipeline struct {
	l         *Library
	opt       IngestOptions
	rep       *IngestReport
	start     time.Time
	tensorLen int
	pool      sync.Pool

	lock    *writeLock
	roots   []string
	excl    *ignore.Matcher
	snap    *store.Snapshot
	walked  *walkState // what the walk saw, once the run ended
	workers int
	streams int
	batch   int
	enc     *encoders.ImageEncoder

	mu           sync.Mutex // guards rep counters and progress calls
	walkFinished bool
	queued       int
	done         int
	nonImages    int  // files skipped as not still images, for Progress
	counted      bool // the counting walk is complete
	total, todo  int  // what the counting walk listed

	// known holds the first 8 bytes of every content hash in the store:
	// those of the snapshot, then those committed by this run. A file whose
	// hash is not in it is new content, and the store need not be asked for
	// a vector to reuse.
	knownMu sync.Mutex
	known   map[uint64]struct{}

	readNs, hashNs, prepNs atomic.Int64
	stages                 StageTimes

	// The first images committed, for opt.FirstImages (commit goroutine only).
	firstImages []photohint.Sample
	firstSent   bool
}

// photoSample is what photohint needs of a committed item. This is the one
// place where EXIF metadata recorded at ingest (the camera make) reaches
// the camera-photo decision: set Sample.CameraMake here once items carry it.
func photoSample(it store.Item) photohint.Sample {
	return photohint.Sample{Format: it.Format, Width: it.Width, Height: it.Height}
}

// noteFirstImages collects the first committed images and hands them to
// opt.FirstImages once a batch of them is in hand, or at the end (final)
// with what there is. Called with p.mu held.
func (p *pipeline) noteFirstImages(items []store.Item, final bool) {
	if p.opt.FirstImages == nil || p.firstSent {
		return
	}
	for _, it := range items {
		if len(p.firstImages) < p.batch {
			p.firstImages = append(p.firstImages, photoSample(it))
		}
	}
	if len(p.firstImages) >= p.batch || (final && len(p.firstImages) > 0) {
		p.firstSent = true
		p.opt.FirstImages(p.firstImages)
	}
}

func hashKey(h store.Hash) uint64 { return binary.LittleEndian.Uint64(h[:8]) }

// mayBeKnown reports whether content with hash h may already be stored.
func (p *pipeline) mayBeKnown(h store.Hash) bool {
	p.knownMu.Lock()
	defer p.knownMu.Unlock()
	_, ok := p.known[hashKey(h)]
	return ok
}

// stored returns an item with a vector whose content hash is h, if the
// store has one. New content, the common case, is answered without asking
// the store.
func (p *pipeline) stored(ctx context.Context, h store.Hash) (store.Item, bool) {
	if !p.mayBeKnown(h) {
		return store.Item{}, false
	}
	same, err := p.l.store.ItemsByHash(ctx, h)
	if err != nil {
		return store.Item{}, false // embed it again rather than fail the file
	}
	for _, it := range same {
		if len(it.Vector) > 0 {
			return it, true
		}
	}
	return store.Item{}, false
}

// remember records committed items' hashes for later duplicates.
func (p *pipeline) remember(items []store.Item) {
	p.knownMu.Lock()
	defer p.knownMu.Unlock()
	for _, it := range items {
		p.known[hashKey(it.Hash)] = struct{}{}
	}
}

func (p *pipeline) progress() {
	if p.opt.Progress == nil {
		return
	}
	p.opt.Progress(Progress{
		Walking: !p.walkFinished, Counted: p.counted, Total: p.total, ToDo: p.todo, Found: p.rep.Found, Queued: p.queued, Done: p.done,
		Unchanged: p.rep.Unchanged, Failed: p.rep.Failed, Reused: p.rep.Reused, Skipped: p.nonImages,
		Elapsed: time.Since(p.start),
	})
}

// status says what this run does with a file the walk listed.
func (p *pipeline) status(snap *store.Snapshot, f walk.File) store.Status {
	st := snap.Check(f.Path, f.Size, f.ModTimeNs)
	if st == store.StatusFailed && p.opt.RetryFailed {
		st = store.StatusRetry
	}
	return st
}

// queues reports whether a file of status st is (re)indexed by this run.
func queues(st store.Status) bool {
	return st != store.StatusUnchanged && st != store.StatusFailed && st != store.StatusSkipped
}

// count is the counting walk: it lists what the real walk will list, with
// the same options and the same decisions, but reads no file and waits for
// no worker, so that progress can show a total and an estimate of the time
// left long before the real walk, held back by the workers, ends. It stops
// with ctx and then leaves the total unknown.
func (p *pipeline) count(ctx context.Context, snap *store.Snapshot, roots []string, opts walk.Options) {
	opts.OnError, opts.OnSkip = nil, nil // the real walk reports them
	// Only overlapping roots (a file root inside a folder root) list a
	// path twice; one root needs no set of every path.
	var seen map[string]struct{}
	if len(roots) > 1 {
		seen = make(map[string]struct{})
	}
	total, todo := 0, 0
	err := walk.Walk(ctx, roots, opts, func(f walk.File) error {
		if seen != nil {
			if _, dup := seen[f.Path]; dup {
				return nil
			}
			seen[f.Path] = struct{}{}
		}
		total++
		if queues(p.status(snap, f)) {
			todo++
		}
		if total%1024 == 0 {
			p.counting(total, todo, false)
		}
		return nil
	})
	if err == nil {
		p.counting(total, todo, true)
	}
}

// counting publishes the counting walk's figures.
func (p *pipeline) counting(total, todo int, complete bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total, p.todo, p.counted = total, todo, complete
	p.progress()
}

func (p *pipeline) found(st store.Status) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rep.Found++
	switch st {
	case store.StatusUnchanged:
		p.rep.Unchanged++
	case store.StatusFailed:
		p.rep.Skipped++
	case store.StatusSkipped:
		// counted by kind in skippedAgain
	case store.StatusChanged:
		p.rep.Changed++
		p.queued++
	case store.StatusRetry:
		p.rep.Retried++
		p.queued++
	default:
		p.rep.New++
		p.queued++
	}
	if p.rep.Found%256 == 0 {
		p.progress()
	}
}

// skippedAgain counts a file recorded as skipped earlier and unchanged since.
func (p *pipeline) skippedAgain(kind string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rep.SkippedByKind[kind]++
	p.nonImages++
}

func (p *pipeline) walkDone() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.walkFinished = true
	p.progress()
}

// walkState is what the walk saw, for the clean-up after it.
type walkState struct {
	seen      map[string]struct{} // regular files listed
	reported  map[string]struct{} // paths the walk could not follow
	special   map[string]struct{} // named pipes, sockets, devices passed over
	excluded  []string            // folders never walked: Library.excludedFolders, then as reached
	staleErrs []string            // unchanged items that still had a failure record
}

// excludedFolders are the folders an ingest never walks: the library's own
// (its database, index file and thumbnails are not pictures to index) and
// the mmsearch cache. A root the user names inside the cache (the demo's
// emoji collection and the benchmark collections live there) is walked:
// then the cache's other top-level folders stay excluded, and the ones that
// hold a root do not.
func (l *Library) excludedFolders(roots []string) []string {
	out := []string{l.dir}
	cache := encoders.CacheDir(l.opts.Getenv)
	real := func(p string) string {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return r
		}
		return filepath.Clean(p)
	}
	cacheReal := real(cache)
	var inside []string // roots strictly inside the cache, as real paths
	for _, r := range roots {
		if rr := real(r); rr != cacheReal && strings.HasPrefix(rr, cacheReal+string(filepath.Separator)) {
			inside = append(inside, rr)
		}
	}
	if len(inside) == 0 {
		return append(out, cache)
	}
	entries, err := os.ReadDir(cache)
	if err != nil {
		return append(out, cache)
	}
	for _, e := range entries {
		child := filepath.Join(cacheReal, e.Name())
		holds := false
		for _, r := range inside {
			if r == child || strings.HasPrefix(r, child+string(filepath.Separator)) {
				holds = true
			}
		}
		if !holds && e.IsDir() {
			out = append(out, child)
		}
	}
	return out
}

// walkFailure returns the record of a path the walk could not follow (a
// symlink loop, an unreadable folder, a broken link), or nil when the same
// problem is already recorded: the path is walked again on every run, and a
// record that no longer applies is cleared at the end of the run.
func (p *pipeline) walkFailure(snap *store.Snapshot, path string, err error) *store.FileError {
	fe := store.FileError{Path: path, Stage: store.StageWalk, Class: store.ClassTransient, Reason: err.Error()}
	if fi, serr := os.Lstat(path); serr == nil {
		fe.Size, fe.MtimeNs = fi.Size(), fi.ModTime().UnixNano()
	}
	if prev, ok := snap.Errors[path]; ok && prev.Stage == fe.Stage && prev.Reason == fe.Reason {
		p.mu.Lock()
		p.rep.Skipped++
		p.mu.Unlock()
		return nil
	}
	return &fe
}

// revisited counts a folder the walk reached again.
func (p *pipeline) revisited() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rep.Revisited++
}

// skipped counts a path the walk passed over on purpose.
func (p *pipeline) skipped(path string, why error, w *walkState) {
	excluded := errors.Is(why, walk.ErrExcluded)
	if excluded {
		w.excluded = append(w.excluded, path)
	} else {
		w.special[path] = struct{}{}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if excluded {
		p.rep.Excluded++
	} else {
		p.rep.SkippedSpecial++
	}
}

// classify says whether a failure at stage can pass without the file
// changing. Only a file's content (not an image, corrupt, over a size
// limit) fails the same way every time; reading can fail for a while (an
// I/O error, a permission, a file that vanished or turned into something
// else after the walk), and so can the model on a batch.
func classify(stage store.Stage, err error) store.Class {
	switch stage {
	case store.StageDecode:
		return store.ClassContent
	case store.StageRead:
		if errors.Is(err, imageproc.ErrTooLarge) {
			return store.ClassContent
		}
	}
	return store.ClassTransient
}

func (p *pipeline) tensor() []float32 {
	if t, ok := p.pool.Get().(*[]float32); ok {
		return *t
	}
	return make([]float32, p.tensorLen)
}

func (p *pipeline) release(t []float32) {
	if t != nil {
		p.pool.Put(&t)
	}
}

// decode reads, hashes and preprocesses one file, or finds a stored vector
// for identical content. ok is false when ctx ended first: the file is left
// for the next run.
func (p *pipeline) decode(ctx context.Context, j job) (d decoded, ok bool) {
	d = decoded{job: j}
	if p.opt.testHookBeforeRead != nil {
		p.opt.testHookBeforeRead(j.path)
	}
	dec := p.l.fileDecoder(p.opt.Image)
	dec.Known = func(ctx context.Context, h store.Hash) (string, bool) {
		it, ok := p.stored(ctx, h)
		if ok {
			d.reused = it.Vector
			d.info = imageproc.Info{Width: it.Width, Height: it.Height, Format: it.Format, Bytes: j.size}
		}
		return it.Format, ok
	}
	tensor := p.tensor()
	out, ok := dec.Decode(ctx, j.path, j.size, j.mtimeNs, tensor)
	p.readNs.Add(int64(out.Read))
	p.hashNs.Add(int64(out.HashTime))
	p.prepNs.Add(int64(out.Prep))
	d.hash, d.err, d.skip, d.meta = out.Hash, out.Err, out.Skip, out.Meta
	if !ok || out.Known || out.Err != nil || out.Skip != nil {
		p.release(tensor)
		return d, ok
	}
	d.tensor, d.info = tensor, out.Info
	return d, true
}

// metadata reads a file's photo metadata from its bytes, already read for
// the decode; the time spent counts as preprocessing.
func (p *pipeline) metadata(data []byte, format string, mtimeNs int64) store.Metadata {
	t0 := time.Now()
	defer func() { p.prepNs.Add(int64(time.Since(t0))) }()
	return readMetadata(data, format, mtimeNs, p.l.location())
}

// readMeta reads the metadata of an unchanged, indexed file (job.metaOnly):
// the file is read and its format sniffed from the header, nothing is
// hashed, decoded or embedded. ok is false when the file cannot be read or
// is no longer a recognised image (its metadata stays unread, and the next
// run tries again) or ctx ended.
func (p *pipeline) readMeta(ctx context.Context, j job) (d decoded, ok bool) {
	d = decoded{job: j}
	t0 := time.Now()
	data, err := readLimited(ctx, j.path, p.opt.Image.FileLimit())
	p.readNs.Add(int64(time.Since(t0)))
	if err != nil {
		p.l.log.Debug("read metadata", "path", j.path, "err", err)
		return d, false
	}
	format := imageproc.Format(data)
	if format == "" {
		return d, false
	}
	d.meta = p.metadata(data, format, j.mtimeNs)
	return d, true
}

// sniffSkippable reads the first bytes of the file at path and reports
// whether they are recognisably not a still image (see package filekind)
// nor the start of an image format we decode. Anything it cannot open or
// read, or that is not a regular file, is left to readLimited to report.
func sniffSkippable(path string) (filekind.Result, bool) {
	f, _, err := regfile.Open(path) // regular files only: a pipe never blocks it
	if err != nil {
		return filekind.Result{}, false
	}
	defer f.Close()
	head := make([]byte, filekind.HeadSize)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return filekind.Result{}, false
	}
	return skippable(head[:n])
}

// skippable classifies a file's first bytes: true for content that is not a
// still image (a video, a sidecar) and that no image decoder recognises.
func skippable(head []byte) (filekind.Result, bool) {
	r := filekind.Sniff(head)
	if !r.Kind.Skip() || imageproc.Recognised(head) {
		return r, false
	}
	return r, true
}

// readLimited reads a whole regular file, refusing files over limit bytes
// (the caller's imageproc.Options.FileLimit) before reading them, and
// anything that is not a regular file (a FIFO put in a file's place)
// without blocking.
func readLimited(ctx context.Context, path string, limit int64) ([]byte, error) {
	data, err := regfile.ReadFile(ctx, path, limit)
	var nr *regfile.NotRegularError
	switch {
	case err == nil:
		return data, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("file vanished before it could be read: %w", err)
	case errors.As(err, &nr):
		return nil, fmt.Errorf("not a regular file (%s)", regfile.Describe(nr.Mode))
	case errors.Is(err, regfile.ErrTooLarge):
		return nil, fmt.Errorf("%w: %w", imageproc.ErrTooLarge, err)
	}
	return nil, err
}

// unit is what the encoders hand the committer: one batch.
type unit struct {
	items   []store.Item
	errs    []store.FileError
	skips   []store.SkippedFile
	dropped []int64          // items whose files failed now, or are no longer images: their old entries go
	reused  int              // items whose vector came from identical content
	meta    []store.ItemMeta // metadata read again for unchanged items
	done    []func(committed bool)
}

// acknowledge tells remote workers' messages whether their unit was committed.
func (u unit) acknowledge(committed bool) {
	for _, f := range u.done {
		f(committed)
	}
}

// tensorEncoder is what the ingest needs of the image encoder.
type tensorEncoder interface {
	EncodeTensors(context.Context, []float32, int) ([][]float32, error)
}

// run groups decoded files into batches, embeds the batches on streams
// concurrent inferences and commits each batch in one transaction, so that
// decoding, inference and commits overlap. When the committer fails it calls
// stop, which winds the walk and the workers down.
func (p *pipeline) run(ctx context.Context, stop context.CancelCauseFunc, results <-chan decoded, batch, streams int, enc tensorEncoder) error {
	toEncode := make(chan []decoded, streams)
	units := make(chan unit, streams)
	commitDone := make(chan error, 1)
	go func() { commitDone <- p.commitLoop(units, stop) }()

	var inferences sync.WaitGroup
	var encodeNs atomic.Int64
	for range streams {
		inferences.Add(1)
		go func() {
			defer inferences.Done()
			for b := range toEncode {
				t0 := time.Now()
				u := p.encode(ctx, enc, b)
				encodeNs.Add(int64(time.Since(t0)))
				units <- u
			}
		}()
	}

	var pending []decoded
	var other []decoded // reused vectors, remote vectors and failures
	// Settled files wait for company to share a transaction, but remote
	// results not for long: their workers' messages stay unacknowledged
	// until the commit.
	otherMax := 4 * batch
	var flush <-chan time.Time
	if p.opt.Remote != nil {
		otherMax = batch
		t := time.NewTicker(remoteFlushEvery)
		defer t.Stop()
		flush = t.C
	}
loop:
	for {
		var d decoded
		select {
		case r, ok := <-results:
			if !ok {
				break loop
			}
			d = r
		case <-flush:
			if len(other) > 0 {
				units <- p.settled(other)
				other = nil
			}
			continue
		}
		if d.tensor != nil {
			pending = append(pending, d)
		} else {
			other = append(other, d)
		}
		if len(pending) >= batch {
			toEncode <- pending
			pending = nil
		}
		if len(other) >= otherMax {
			units <- p.settled(other)
			other = nil
		}
		if ctx.Err() != nil {
			break // the batch in hand is still committed below
		}
	}
	if len(pending) > 0 {
		toEncode <- pending
	}
	if len(other) > 0 {
		units <- p.settled(other)
	}
	close(toEncode)
	inferences.Wait()
	close(units)
	err := <-commitDone
	p.stages.Encode = time.Duration(encodeNs.Load())
	p.stages.Read = time.Duration(p.readNs.Load())
	p.stages.Hash = time.Duration(p.hashNs.Load())
	p.stages.Preprocess = time.Duration(p.prepNs.Load())
	return err
}

// encode embeds one batch of decoded files. Inference is not interrupted by
// ctx: a stop finishes the batches already handed out.
func (p *pipeline) encode(ctx context.Context, enc tensorEncoder, batch []decoded) unit {
	pixels := make([]float32, 0, len(batch)*p.tensorLen)
	for _, d := range batch {
		pixels = append(pixels, d.tensor...)
		p.release(d.tensor)
	}
	vecs, err := enc.EncodeTensors(context.WithoutCancel(ctx), pixels, len(batch))
	var u unit
	for i, d := range batch {
		if err != nil {
			fe := store.FileError{Path: d.path, Size: d.size, MtimeNs: d.mtimeNs, Stage: store.StageEncode,
				Class: classify(store.StageEncode, err), Reason: err.Error()}
			u.fail(d.job, fe)
			continue
		}
		u.items = append(u.items, d.item(vecs[i]))
	}
	return u
}

// settled turns files that need no inference (reused vectors, failures) into
// a unit.
func (p *pipeline) settled(ds []decoded) unit {
	var u unit
	for _, d := range ds {
		if d.done != nil {
			u.done = append(u.done, d.done)
		}
		if d.metaOnly {
			u.meta = append(u.meta, store.ItemMeta{ID: d.oldID, Meta: d.meta})
			continue
		}
		if d.skip != nil {
			u.skips = append(u.skips, *d.skip)
			if d.oldID != 0 {
				u.dropped = append(u.dropped, d.oldID)
			}
		} else if d.err != nil {
			u.fail(d.job, *d.err)
		} else if d.embedded != nil {
			u.items = append(u.items, d.item(d.embedded))
		} else {
			u.items = append(u.items, d.item(d.reused))
			u.reused++
		}
	}
	return u
}

// fail adds a failure, and drops the item the file had: its entry describes
// content the file no longer has.
func (u *unit) fail(j job, fe store.FileError) {
	u.errs = append(u.errs, fe)
	if j.oldID != 0 {
		u.dropped = append(u.dropped, j.oldID)
	}
}

func (d decoded) item(vec []float32) store.Item {
	return store.Item{Path: d.path, Size: d.size, MtimeNs: d.mtimeNs, Hash: d.hash,
		Width: d.info.Width, Height: d.info.Height, Format: d.info.Format, Vector: vec, Meta: d.meta}
}

// commitLoop applies each unit to the catalog: one transaction, then the
// index, then the generation.
func (p *pipeline) commitLoop(units <-chan unit, stop context.CancelCauseFunc) error {
	ctx := context.Background() // a started commit always finishes
	var failed error
	for u := range units {
		if failed != nil {
			u.acknowledge(false)
			continue
		}
		a, err := p.apply(ctx, catalog.Batch{Delete: u.dropped, Upsert: u.items, Errors: u.errs, Skipped: u.skips, SetMeta: u.meta})
		if err != nil {
			u.acknowledge(false)
			failed = err
			stop(err)
			continue
		}
		u.acknowledge(true)
		p.remember(u.items)
		p.mu.Lock()
		p.rep.Indexed += len(u.items) - u.reused
		p.rep.Reused += u.reused
		p.rep.Failed += len(u.errs)
		p.rep.Dropped += len(u.dropped)
		p.rep.MetadataRead += a.MetaSet
		p.rep.Errors = append(p.rep.Errors, u.errs...)
		for _, sk := range u.skips {
			p.rep.SkippedByKind[sk.Kind]++
		}
		p.nonImages += len(u.skips)
		p.rep.SkippedNew += len(u.skips)
		p.done += len(u.skips)
		for _, fe := range u.errs {
			if fe.Stage != store.StageWalk {
				p.done++ // walk failures were never queued
			}
		}
		p.done += len(u.items)
		p.noteFirstImages(u.items, false)
		p.progress()
		p.mu.Unlock()
	}
	p.mu.Lock()
	p.noteFirstImages(nil, true)
	p.mu.Unlock()
	return failed
}

// apply hands a batch to the catalog and adds its timings to the stages.
func (p *pipeline) apply(ctx context.Context, b catalog.Batch) (catalog.Applied, error) {
	a, err := p.l.cat.Apply(ctx, b)
	p.stages.Store += a.StoreTime
	p.stages.Index += a.IndexTime
	return a, err
}

// finishWalked brings the store in line with what a complete walk saw, in
// one transaction. It removes the items under the walked roots whose files
// are gone (unless KeepMissing), are no longer regular files, or lie in an
// excluded folder, and the failure records that no longer apply: of files
// gone, of paths the walk followed this time without a problem, of items
// indexed as they are now, and of anything in an excluded folder.
func (p *pipeline) finishWalked(ctx context.Context, snap *store.Snapshot, w *walkState, roots []string, excl *ignore.Matcher) error {
	// obsolete reports whether a path under the roots that the walk did not
	// list as a file has no business in the library any more: missing, it
	// is gone; else it is a pipe, socket, device or folder now, or lies in
	// an excluded folder.
	obsolete := func(path string) (missing, replaced bool) {
		if _, ok := w.special[path]; ok {
			return false, true
		}
		if underAny(path, w.excluded) {
			return false, true
		}
		fi, err := os.Stat(path)
		return errors.Is(err, fs.ErrNotExist), err == nil && !fi.Mode().IsRegular()
	}
	var gone []int64
	patterned := 0 // removed because an exclude pattern now covers them
	for path, st := range snap.Items {
		if _, ok := w.seen[path]; ok || !underAny(path, roots) {
			continue
		}
		if excl.Covers(path) {
			gone = append(gone, st.ID)
			patterned++
			continue
		}
		if missing, replaced := obsolete(path); replaced || (missing && !p.opt.KeepMissing) {
			gone = append(gone, st.ID)
		}
	}
	// Skip records of files gone, no longer regular, or now excluded.
	var unskip []string
	for path := range snap.Skipped {
		if _, ok := w.seen[path]; ok || !underAny(path, roots) {
			continue
		}
		missing, replaced := obsolete(path)
		if covered := excl.Covers(path); covered || missing || replaced {
			unskip = append(unskip, path)
			if covered {
				patterned++
			}
		}
	}
	clear := w.staleErrs
	for path, fe := range snap.Errors {
		if _, ok := w.seen[path]; ok || !underAny(path, roots) {
			continue // listed: indexed, skipped or recorded again this run
		}
		if _, ok := w.reported[path]; ok {
			continue // still cannot be walked
		}
		if excl.Covers(path) {
			clear = append(clear, path)
			patterned++
			continue
		}
		if missing, replaced := obsolete(path); fe.Stage == store.StageWalk || missing || replaced {
			clear = append(clear, path)
		}
	}
	if len(gone) == 0 && len(clear) == 0 && len(unskip) == 0 {
		return nil
	}
	a, err := p.apply(ctx, catalog.Batch{Delete: gone, ClearErrors: clear, Unskip: unskip})
	if err != nil {
		return err
	}
	cleared := a.Cleared
	p.rep.Deleted = len(gone)
	p.rep.Cleared = cleared
	p.rep.ExcludedRemoved = patterned
	return nil
}

func underAny(path string, roots []string) bool {
	for _, r := range roots {
		if path == r || strings.HasPrefix(path, strings.TrimSuffix(r, string(filepath.Separator))+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// defaultRemoteBatch is the batch of a remote ingest's commits, and
// remoteFlushEvery how long at most its results wait for the batch to fill.
const (
	defaultRemoteBatch = 32
	remoteFlushEvery   = 200 * time.Millisecond
)

// maxStreams caps the concurrent inferences of an ingest: each holds a batch
// of tensors and the model's activations.
const maxStreams = 4

// EncodeStreams chooses how an ingest runs the image encoder on cores cores:
// streams inferences at once, each with threads threads. A few inferences
// side by side on one thread each keep the cores busy where a single
// inference spread over all cores waits at every parallel section for its
// slowest thread, which on a small machine is the one the decode workers
// just took. threads > 0 fixes the threads per inference and streams > 0
// the number of inferences; 0 chooses.
func EncodeStreams(cores, threads, streams int) (nStreams, nThreads int) {
	cores = max(cores, 1)
	switch {
	case threads > 0 && streams > 0:
		return streams, threads
	case threads > 0:
		return max(1, min(maxStreams, cores/threads)), threads
	case streams > 0:
		return streams, max(1, cores/streams)
	}
	nThreads = max(1, cores/maxStreams)
	return max(1, min(maxStreams, cores/nThreads)), nThreads
}
