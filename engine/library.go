// Package engine is mmsearch's core: a Library (a folder holding a SQLite
// store and a derived ANN index, both owned by its catalog, package
// engine/catalog), the ingest pipeline that fills it from photo folders
// (walk → decode → encode → catalog Apply), and the evaluation of arithmetic
// queries against it (each search starts from a catalog view).
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"mmsearch/encoders"
	"mmsearch/engine/catalog"
	"mmsearch/engine/store"
	"mmsearch/index"
	"mmsearch/index/hnsw"
	"mmsearch/internal/membudget"
	"mmsearch/models"
)

// File names inside a library folder.
const (
	DBFile    = "library.db"
	IndexFile = "index.hnsw"
	LockFile  = ".lock"
	// ModelHintFile remembers the folder of the library's model, so a model
	// given by path need not be named again.
	ModelHintFile = "model.path"
)

// ErrLocked is returned when another process is writing to the library.
var ErrLocked = errors.New("library is being written by another process")

// ErrNoLibrary is returned by Open with MustExist for a folder that holds no
// library.
var ErrNoLibrary = errors.New("no library")

// ErrReadOnly is returned by writes to a library opened read-only (one on a
// read-only file system, or in a folder this process may not write).
var ErrReadOnly = store.ErrReadOnly

// DefaultLibrary returns the default library folder, DataDir/default.
func DefaultLibrary(getenv func(string) string) string {
	return filepath.Join(models.DataDir(getenv), "default")
}

// Options configures Open.
type Options struct {
	// Model is a model name or folder (--model). Empty means the model the
	// library was made with; a new library takes the rest of the resolve
	// chain (models.Resolver.Resolve): the configured default, else the
	// bundled model.
	Model string
	// Models resolves model names; its zero value reads Getenv and has no
	// embedded bundled model.
	Models models.Resolver
	// Runtime locates ONNX Runtime.
	Runtime encoders.RuntimeOptions
	// Threads is the number of threads per inference (0 = all cores).
	Threads int
	// BatchSize is the number of images per inference (0 = 32).
	BatchSize int
	// Device is where the encoders run: encoders.DeviceCPU (""),
	// DeviceCUDA or DeviceAuto.
	Device string
	// Index configures the HNSW index built from the store when Backend is
	// not set. Zero fields take the hnsw defaults, except EfConstruction,
	// which defaults to LibraryEfConstruction.
	Index hnsw.Config
	// Backend, when its New is set, makes and loads the library's index
	// instead of HNSW (exact flat search, a remote index, ...).
	Backend index.Backend
	// MustExist refuses to create a library: Open of a folder without one
	// fails with ErrNoLibrary (read-only commands set it, so a mistyped
	// path is an error, not a new empty library).
	MustExist bool
	// ShortLived says the caller answers a query or two and exits (a CLI
	// search): the encoders open without weight prepacking
	// (encoders.SessionOptions.NoPrepack), which saves more when they open
	// than it costs on so few runs. Ingests, servers and batches leave it
	// off.
	ShortLived bool
	// RefreshEvery bounds how often searches look for other processes'
	// writes (0 = catalog.DefaultRefreshEvery).
	RefreshEvery time.Duration
	// Getenv reads the environment (nil = os.Getenv).
	Getenv func(string) string
	// Location is the time zone an ingest reads an EXIF capture time
	// without an offset tag in, and shows file modification times in
	// (nil = time.Local, the machine's zone).
	Location *time.Location
	// Logger receives diagnostics (nil = discard).
	Logger *slog.Logger
	// DecodeMemory is the memory budget, in bytes, of the image decodes that
	// run at once, in ingests, queries and thumbnails together (0 =
	// DefaultDecodeMemory). Each decode holds its estimate
	// (imageproc.TensorMemory, imageproc.ThumbnailMemory) while it runs;
	// one that needs more than the whole budget runs alone.
	DecodeMemory int64
}

// DefaultDecodeMemory is the decode memory budget when Options.DecodeMemory
// is zero.
const DefaultDecodeMemory int64 = 256 << 20

// Library is an open library folder. Its methods are safe for concurrent use;
// searches run while an ingest adds items.
type Library struct {
	dir   string
	opts  Options
	log   *slog.Logger
	cat   *catalog.Catalog
	store catalog.Reads // the catalog's read side
	model *encoders.Model

	encMu     sync.Mutex
	img       *encoders.ImageEncoder // for queries
	txt       *encoders.TextEncoder
	ingestImg *encoders.ImageEncoder // for ingests, threads per inference may differ

	decodeMem *membudget.Budget // shared by all decodes of ingests and queries

	metaMu  sync.Mutex
	metaTab *store.MetaTable // cached by MetaTable

	attrs attrCache // the filterable attributes, for filtered searches
}

// Open opens the library folder dir, creating it when absent (unless
// opts.MustExist). The model is resolved and checked against the one that
// made the library's vectors; a different model is refused with
// store.ErrModelMismatch. The index is loaded on first use, from its file,
// or rebuilt from the store (and saved) when the file is missing, stale or
// corrupt. A library this process cannot write (a read-only file system)
// opens read-only: searches work, writes fail with ErrReadOnly.
func Open(ctx context.Context, dir string, opts Options) (*Library, error) {
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Models.Getenv == nil {
		opts.Models.Getenv = opts.Getenv
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open library %s: %w", dir, err)
	}
	db := filepath.Join(abs, DBFile)
	_, statErr := os.Stat(db)
	if opts.MustExist && statErr != nil {
		if errors.Is(statErr, os.ErrNotExist) {
			return nil, fmt.Errorf("%w at %s (create one with 'mmsearch index --library %s PATH', or check the path)", ErrNoLibrary, abs, dir)
		}
		return nil, fmt.Errorf("open library %s: %w", abs, statErr)
	}
	readOnly := statErr == nil && !writable(abs, db)
	if !readOnly {
		if err := os.MkdirAll(abs, 0o755); err != nil {
			return nil, fmt.Errorf("open library: %w", err)
		}
	}
	backend := opts.Backend
	if backend.New == nil || backend.Load == nil {
		backend = hnsw.Backend(libraryIndexConfig(opts.Index))
	}
	cat, err := catalog.Open(ctx, catalog.Options{
		DB: db, IndexFile: filepath.Join(abs, IndexFile), Backend: backend,
		ReadOnly: readOnly, RefreshEvery: opts.RefreshEvery, Logger: opts.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("open library %s: %w", abs, err)
	}
	if readOnly {
		opts.Logger.Info("the library is read-only: searches work, writes are disabled", "library", abs)
	}
	if opts.DecodeMemory <= 0 {
		opts.DecodeMemory = DefaultDecodeMemory
	}
	l := &Library{dir: abs, opts: opts, log: opts.Logger, cat: cat, store: cat.Reads(), decodeMem: membudget.New(opts.DecodeMemory)}
	if err := l.openModel(ctx); err != nil {
		cat.Close()
		return nil, err
	}
	return l, nil
}

// writable reports whether this process may write the library folder and
// its database: false on a read-only file system (even for root) or where
// permissions forbid it.
func writable(dir, db string) bool {
	return syscall.Access(dir, 2 /* W_OK */) == nil && syscall.Access(db, 2) == nil
}

// ReadOnly reports whether the library was opened read-only.
func (l *Library) ReadOnly() bool { return l.cat.ReadOnly() }

// openModel resolves the model and records it in a new library, or checks it
// against the recorded one.
func (l *Library) openModel(ctx context.Context) error {
	recorded, has, err := l.recordedModel(ctx)
	if err != nil {
		return err
	}
	req := models.Request{Flag: l.opts.Model}
	if has {
		req.Library = recorded.Name
		if hint, err := os.ReadFile(filepath.Join(l.dir, ModelHintFile)); err == nil {
			req.LibraryHint = strings.TrimSpace(string(hint))
		}
	}
	res, err := l.opts.Models.Resolve(req)
	if err != nil {
		return fmt.Errorf("library %s: %w", l.dir, err)
	}
	dir := res.Dir
	m, opened, err := models.Open(dir, models.OpenOptions{Runtime: l.opts.Runtime, Getenv: l.opts.Getenv, Logger: l.log})
	if err != nil {
		return err
	}
	l.log.Debug("model", "dir", dir, "chosen_by", res.Source, "verified", opened.Verified, "stamp", opened.Stamp)
	want := store.Model{Name: m.Manifest.Name, Version: m.Manifest.Version, Dim: m.Dim(), Fingerprint: m.Manifest.Fingerprint()}
	if has && (recorded.Fingerprint != want.Fingerprint || recorded.Dim != want.Dim) {
		return fmt.Errorf("library %s: %w", l.dir, &store.ModelMismatchError{Library: recorded, Requested: want})
	}
	if !has {
		if err := l.cat.SetModel(ctx, want); err != nil {
			return fmt.Errorf("library %s: %w", l.dir, err)
		}
	}
	l.model = m
	if hint, _ := os.ReadFile(filepath.Join(l.dir, ModelHintFile)); strings.TrimSpace(string(hint)) != dir && !l.cat.ReadOnly() {
		// Best effort: a read-only library folder still opens.
		_ = os.WriteFile(filepath.Join(l.dir, ModelHintFile), []byte(dir+"\n"), 0o644)
	}
	return nil
}

func (l *Library) recordedModel(ctx context.Context) (store.Model, bool, error) {
	m, err := l.store.Model(ctx)
	if errors.Is(err, store.ErrNoModel) {
		return store.Model{}, false, nil
	}
	if err != nil {
		return store.Model{}, false, fmt.Errorf("library %s: %w", l.dir, err)
	}
	return m, true, nil
}

// LibraryEfConstruction is the insertion beam width of library indexes: half
// of the hnsw package's default (which matches hnswlib's), like Qdrant's
// default ef_construct of 100 with the same M of 16. An ingest inserts every
// image while the encoder runs, and the beam width sets that cost.
const LibraryEfConstruction = 100

func libraryIndexConfig(c hnsw.Config) hnsw.Config {
	if c.EfConstruction == 0 {
		c.EfConstruction = LibraryEfConstruction
	}
	return c
}

// Dir is the library folder.
func (l *Library) Dir() string { return l.dir }

// Model is the library's model.
func (l *Library) Model() *encoders.Model { return l.model }

// sessionOptions are the encoders' session options. Only a short-lived
// library (a one-query process) opens its graphs through the graph cache:
// the cache keeps only ONNX Runtime's hardware-independent (extended)
// optimizations, so a cached graph runs without the CPU-specific layout
// transformations of a full optimization, which cost the bundled model's
// convolutional image tower about a third of its ingest throughput. A
// process that runs the graphs many times optimizes them in full when it
// opens them.
func (l *Library) sessionOptions() encoders.SessionOptions {
	so := encoders.SessionOptions{IntraOpThreads: l.opts.Threads, MaxBatch: l.opts.BatchSize, Device: l.opts.Device,
		NoPrepack: l.opts.ShortLived}
	if l.opts.ShortLived {
		so.GraphCache = models.GraphCacheDir(l.opts.Getenv)
	}
	return so
}

// imageEncoder opens the image tower on first use.
func (l *Library) imageEncoder() (*encoders.ImageEncoder, error) {
	l.encMu.Lock()
	defer l.encMu.Unlock()
	if l.img == nil {
		e, err := encoders.NewImageEncoder(l.model, l.sessionOptions())
		if err != nil {
			return nil, err
		}
		l.img = e
	}
	return l.img, nil
}

// ingestEncoder returns an image encoder whose inferences use threads
// threads: the query encoder when it has as many, else one kept for ingests.
func (l *Library) ingestEncoder(threads int) (*encoders.ImageEncoder, error) {
	queryThreads := l.opts.Threads
	if queryThreads <= 0 {
		queryThreads = runtime.GOMAXPROCS(0)
	}
	if threads == queryThreads && !l.opts.ShortLived {
		return l.imageEncoder()
	}
	l.encMu.Lock()
	defer l.encMu.Unlock()
	if l.ingestImg != nil && l.ingestImg.Threads() == threads {
		return l.ingestImg, nil
	}
	if l.ingestImg != nil {
		if err := l.ingestImg.Close(); err != nil {
			return nil, err
		}
		l.ingestImg = nil
	}
	so := l.sessionOptions()
	so.IntraOpThreads = threads
	so.NoPrepack = false // an ingest runs the graph many times
	e, err := encoders.NewImageEncoder(l.model, so)
	if err != nil {
		return nil, err
	}
	l.ingestImg = e
	return e, nil
}

// textEncoder opens the text tower on first use.
func (l *Library) textEncoder() (*encoders.TextEncoder, error) {
	l.encMu.Lock()
	defer l.encMu.Unlock()
	if l.txt == nil {
		e, err := encoders.NewTextEncoder(l.model, l.sessionOptions())
		if err != nil {
			return nil, err
		}
		l.txt = e
	}
	return l.txt, nil
}

// Close releases the encoders and the database.
func (l *Library) Close() error {
	l.encMu.Lock()
	defer l.encMu.Unlock()
	var errs []error
	if l.img != nil {
		errs = append(errs, l.img.Close())
	}
	if l.txt != nil {
		errs = append(errs, l.txt.Close())
	}
	if l.ingestImg != nil {
		errs = append(errs, l.ingestImg.Close())
	}
	errs = append(errs, l.cat.Close())
	return errors.Join(errs...)
}

// Stats describes a library.
type Stats struct {
	Dir        string           `json:"dir"`
	Items      int64            `json:"items"`
	Errors     int64            `json:"errors"`
	ErrorsBy   map[string]int64 `json:"errors_by_stage,omitempty"`
	Generation int64            `json:"generation"`
	Model      store.Model      `json:"model"`
	ModelDir   string           `json:"model_dir"`
	DBBytes    int64            `json:"db_bytes"`
	IndexBytes int64            `json:"index_bytes"`
	IndexFresh bool             `json:"index_fresh"`
	// IndexProblem says why the index file is not fresh (damaged, stale,
	// another model); a search rebuilds and saves it.
	IndexProblem string `json:"index_problem,omitempty"`
	// ReadOnly: the library cannot be written here (searches still work).
	ReadOnly bool `json:"read_only,omitempty"`
	// SkippedBy counts the files skipped as not still images, by kind.
	SkippedBy map[string]int64 `json:"skipped_by_kind,omitempty"`
	// Photos summarises the items' metadata: capture date range, time
	// sources, the TopCameras most common cameras, formats.
	Photos PhotoStats `json:"photos"`
}

// TopCameras is how many cameras Stats lists.
const TopCameras = 10

// Stats reads the library's counts and sizes.
func (l *Library) Stats(ctx context.Context) (Stats, error) {
	s, err := l.store.Stats(ctx)
	if err != nil {
		return Stats{}, err
	}
	out := Stats{Dir: l.dir, Items: s.Items, Errors: s.Errors, Generation: s.Generation, Model: s.Model, ModelDir: l.model.Dir, DBBytes: s.DBBytes}
	if len(s.ErrorsByStage) > 0 {
		out.ErrorsBy = map[string]int64{}
		for k, v := range s.ErrorsByStage {
			out.ErrorsBy[string(k)] = v
		}
	}
	if out.SkippedBy, err = l.store.SkippedByKind(ctx); err != nil {
		return Stats{}, err
	}
	if out.Photos, err = l.store.MetaStats(ctx, TopCameras); err != nil {
		return Stats{}, err
	}
	fs, err := l.cat.IndexFileState(ctx)
	if err != nil {
		return Stats{}, err
	}
	out.IndexBytes, out.IndexFresh, out.IndexProblem = fs.Bytes, fs.Fresh, fs.Problem
	out.ReadOnly = l.cat.ReadOnly()
	return out, nil
}

// Errors lists the files that failed, with their reasons.
func (l *Library) Errors(ctx context.Context) ([]store.FileError, error) {
	return l.store.Errors(ctx)
}

// ItemInfo describes an indexed item, without its vector.
type ItemInfo struct {
	ID        int64     `json:"id"`
	Path      string    `json:"path"`
	Size      int64     `json:"size"`
	Width     int       `json:"width"`
	Height    int       `json:"height"`
	Format    string    `json:"format"`
	Hash      string    `json:"sha256"`
	IndexedAt time.Time `json:"indexed_at"`
	// Metadata is the photo's metadata (as in search results).
	Metadata Metadata `json:"metadata"`
}

// ErrNoItem is returned for an id that names no indexed item.
var ErrNoItem = errors.New("no such item")

// Item returns the indexed item with this id, or an error wrapping ErrNoItem.
func (l *Library) Item(ctx context.Context, id int64) (ItemInfo, error) {
	it, err := l.store.ItemByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return ItemInfo{}, fmt.Errorf("item %d: %w", id, ErrNoItem)
	}
	if err != nil {
		return ItemInfo{}, err
	}
	return ItemInfo{ID: it.ID, Path: it.Path, Size: it.Size, Width: it.Width, Height: it.Height,
		Format: it.Format, Hash: it.Hash.String(), IndexedAt: it.IndexedAt, Metadata: metadataOf(it)}, nil
}

// ItemByPath returns the indexed item with exactly this path (as indexed:
// absolute), or an error wrapping ErrNoItem.
func (l *Library) ItemByPath(ctx context.Context, path string) (ItemInfo, error) {
	it, err := l.store.ItemByPath(ctx, path)
	if errors.Is(err, store.ErrNotFound) {
		return ItemInfo{}, fmt.Errorf("item %q: %w", path, ErrNoItem)
	}
	if err != nil {
		return ItemInfo{}, err
	}
	return l.Item(ctx, it.ID)
}

// TextLanguages is what the model's manifest says its text tower
// understands (ISO 639-1 codes); empty when it does not say.
func (l *Library) TextLanguages() []string {
	return slices.Clone(l.model.Manifest.Text.Languages)
}
