// Package store keeps a library's items in SQLite: one row per indexed file
// (path, size, modification time, content hash, dimensions, format and its
// embedding vector), the files that failed and why, and the model that made
// the vectors. The store is the library's source of truth; the ANN index is
// derived from it and records [Store.Generation] to notice when it is stale.
//
// The database runs in WAL mode: any number of readers (searches, even in
// other processes) proceed while one writer commits batches. Inside one
// process a Store holds one write connection, so writes are serialized, and
// a small pool of read-only connections.
//
// Paths are stored as raw bytes (a BLOB), so file names that are not valid
// UTF-8 round-trip exactly.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Errors callers may test for with errors.Is.
var (
	// ErrNotFound is returned when an item asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrNoModel is returned when vectors are written, or the model is read,
	// before SetModel has been called on the library.
	ErrNoModel = errors.New("the library has no model yet")
	// ErrModelMismatch is returned (inside a *ModelMismatchError) when a
	// library made with one model is used with another.
	ErrModelMismatch = errors.New("model mismatch")
	// ErrSchemaTooNew is returned by Open for a database written by a newer
	// version of this package.
	ErrSchemaTooNew = errors.New("database schema is newer than this program")
	// ErrCorrupt is returned by IntegrityCheck when SQLite finds damage.
	ErrCorrupt = errors.New("database is corrupt")
	// ErrReadOnly is returned by writes to a store opened with OpenReadOnly.
	ErrReadOnly = errors.New("the library is read-only")
)

// busyTimeout is how long a statement waits for a lock held by another
// connection (another process indexing, a checkpoint) before failing.
const busyTimeout = 10 * time.Second

// Store is an open library database. Its methods are safe for concurrent
// use.
type Store struct {
	path string
	w    *sql.DB // one connection: all writes
	r    *sql.DB // read-only connections
}

// Open opens the database at path, creating it when it does not exist, and
// brings its schema up to date. The folder holding it must exist.
func Open(ctx context.Context, path string) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store: open %q: %w", path, err)
	}
	if fi, err := os.Stat(filepath.Dir(abs)); err != nil {
		return nil, fmt.Errorf("store: open %q: %w", abs, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("store: open %q: %q is not a folder", abs, filepath.Dir(abs))
	}
	if fi, err := os.Stat(abs); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("store: open %q: is a folder, not a database file", abs)
	}
	s := &Store{path: abs}
	s.w, err = sql.Open("sqlite", dsn(abs, false))
	if err != nil {
		return nil, fmt.Errorf("store: open %q: %w", abs, err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)
	if err := s.migrate(ctx); err != nil {
		s.w.Close()
		return nil, fmt.Errorf("store: open %q: %w", abs, err)
	}
	s.r, err = sql.Open("sqlite", dsn(abs, true))
	if err != nil {
		s.w.Close()
		return nil, fmt.Errorf("store: open %q: %w", abs, err)
	}
	readers := max(4, runtime.GOMAXPROCS(0))
	s.r.SetMaxOpenConns(readers)
	s.r.SetMaxIdleConns(readers)
	if err := s.r.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: open %q: %w", abs, err)
	}
	return s, nil
}

// OpenReadOnly opens an existing database for reading only, for a library
// on a read-only file system or in a folder this process may not write:
// SQLite opens the file with mode=ro and immutable=1 (it creates no -wal or
// -shm file and takes no locks, so changes another process makes meanwhile
// are not seen). Writes fail with ErrReadOnly. A schema older than this
// program's is refused: it cannot be brought up to date without writing.
func OpenReadOnly(ctx context.Context, path string) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store: open %q read-only: %w", path, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("store: open %q read-only: %w", abs, err)
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("store: open %q read-only: is a folder, not a database file", abs)
	}
	s := &Store{path: abs}
	s.r, err = sql.Open("sqlite", dsn(abs, true)+"&mode=ro&immutable=1")
	if err != nil {
		return nil, fmt.Errorf("store: open %q read-only: %w", abs, err)
	}
	readers := max(4, runtime.GOMAXPROCS(0))
	s.r.SetMaxOpenConns(readers)
	s.r.SetMaxIdleConns(readers)
	var version int
	if err := s.r.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: open %q read-only: %w", abs, err)
	}
	if version != len(migrations) {
		s.Close()
		if version > len(migrations) {
			return nil, fmt.Errorf("store: open %q read-only: %w: schema version %d, this program knows up to %d", abs, ErrSchemaTooNew, version, len(migrations))
		}
		return nil, fmt.Errorf("store: open %q read-only: schema version %d needs an upgrade to %d, which needs write access", abs, version, len(migrations))
	}
	return s, nil
}

// ReadOnly reports whether the store was opened with OpenReadOnly.
func (s *Store) ReadOnly() bool { return s.w == nil }

// dsn builds the driver's connection string for the database file at abs.
func dsn(abs string, readOnly bool) string {
	var b strings.Builder
	b.WriteString("file:")
	// SQLite decodes %XX in URI file names, so any byte can be passed.
	for i := 0; i < len(abs); i++ {
		c := abs[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("/._-~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	b.WriteString("?_pragma=busy_timeout(" + strconv.Itoa(int(busyTimeout/time.Millisecond)) + ")")
	b.WriteString("&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)")
	if readOnly {
		b.WriteString("&_pragma=query_only(1)")
	} else {
		b.WriteString("&_pragma=journal_mode(WAL)&_txlock=immediate")
	}
	return b.String()
}

// Path returns the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// Close closes the database. SQLite folds the write-ahead log back into the
// database file when the last connection closes.
func (s *Store) Close() error {
	var errs []error
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	if s.w != nil {
		// Keep the query planner's statistics fresh; a failure is harmless.
		_, _ = s.w.Exec("PRAGMA optimize")
		errs = append(errs, s.w.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("store: close %q: %w", s.path, err)
	}
	return nil
}

// migrations[i] brings the schema from version i to version i+1. Versions
// are kept in PRAGMA user_version.
var migrations = []string{
	`CREATE TABLE meta (
		key   TEXT PRIMARY KEY NOT NULL,
		value TEXT NOT NULL
	);
	CREATE TABLE items (
		id           INTEGER PRIMARY KEY AUTOINCREMENT,
		path         BLOB    NOT NULL UNIQUE,
		size         INTEGER NOT NULL,
		mtime_ns     INTEGER NOT NULL,
		content_hash BLOB    NOT NULL CHECK (length(content_hash) = 32),
		width        INTEGER NOT NULL,
		height       INTEGER NOT NULL,
		format       TEXT    NOT NULL,
		vector       BLOB    NOT NULL,
		indexed_at   INTEGER NOT NULL
	);
	CREATE INDEX items_content_hash ON items (content_hash);
	CREATE TABLE errors (
		id       INTEGER PRIMARY KEY,
		path     BLOB    NOT NULL UNIQUE,
		size     INTEGER NOT NULL,
		mtime_ns INTEGER NOT NULL,
		stage    TEXT    NOT NULL,
		reason   TEXT    NOT NULL,
		at       INTEGER NOT NULL
	);
	INSERT INTO meta (key, value) VALUES ('generation', '0');`,
	// Version 2: failures say whether their cause can pass without the
	// file changing. Older records take the class of their stage.
	`ALTER TABLE errors ADD COLUMN class TEXT NOT NULL DEFAULT 'content';
	UPDATE errors SET class = CASE stage WHEN 'decode' THEN 'content' ELSE 'transient' END;`,
	// Version 3: files that are not still images (videos, sidecars, ...),
	// skipped rather than failed.
	`CREATE TABLE skipped (
		id       INTEGER PRIMARY KEY,
		path     BLOB    NOT NULL UNIQUE,
		size     INTEGER NOT NULL,
		mtime_ns INTEGER NOT NULL,
		kind     TEXT    NOT NULL,
		format   TEXT    NOT NULL,
		at       INTEGER NOT NULL
	);`,
	// Version 4: photo metadata read at ingest (see Metadata). Items
	// indexed before have time_source '' until an index run reads it.
	`ALTER TABLE items ADD COLUMN capture_ns INTEGER;
	ALTER TABLE items ADD COLUMN capture_offset_s INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE items ADD COLUMN time_source TEXT NOT NULL DEFAULT '';
	ALTER TABLE items ADD COLUMN camera_make TEXT NOT NULL DEFAULT '';
	ALTER TABLE items ADD COLUMN camera_model TEXT NOT NULL DEFAULT '';
	ALTER TABLE items ADD COLUMN gps_lat REAL;
	ALTER TABLE items ADD COLUMN gps_lon REAL;
	CREATE INDEX items_capture ON items (capture_ns);
	CREATE INDEX items_camera ON items (camera_make, camera_model);
	INSERT INTO meta (key, value) VALUES ('meta_generation', '0');`,
}

// SchemaVersion returns the schema version this package writes.
func SchemaVersion() int { return len(migrations) }

// migrate brings the schema up to date in one write transaction.
func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("%w: schema version %d, this program knows up to %d", ErrSchemaTooNew, version, len(migrations))
	}
	if version == len(migrations) {
		return nil
	}
	for v := version; v < len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return fmt.Errorf("migrate schema from version %d to %d: %w", v, v+1, err)
		}
	}
	if version == 0 {
		if _, err := tx.ExecContext(ctx, "INSERT INTO meta (key, value) VALUES ('created_at', ?)",
			time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
			return fmt.Errorf("record creation time: %w", err)
		}
	}
	// PRAGMA takes no parameters; the value is a trusted integer.
	if _, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(len(migrations))); err != nil {
		return fmt.Errorf("set schema version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit schema migration: %w", err)
	}
	return nil
}

// CreatedAt returns when the library database was created.
func (s *Store) CreatedAt(ctx context.Context) (time.Time, error) {
	v, ok, err := getMeta(ctx, s.r, "created_at")
	if err != nil {
		return time.Time{}, fmt.Errorf("store: created_at: %w", err)
	}
	if !ok {
		return time.Time{}, fmt.Errorf("store: created_at: %w", ErrNotFound)
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("store: created_at %q: %w", v, err)
	}
	return t, nil
}

// queryer is what *sql.DB and *sql.Tx have in common for reads.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func getMeta(ctx context.Context, q queryer, key string) (string, bool, error) {
	var v string
	err := q.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = ?", key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read meta %q: %w", key, err)
	}
	return v, true, nil
}

// Generation returns the change counter: it grows by one with every
// committed transaction that changed items (added, replaced or deleted
// vectors). An index built at generation g is stale when Generation() != g.
func (s *Store) Generation(ctx context.Context) (int64, error) {
	g, err := generation(ctx, s.r)
	if err != nil {
		return 0, fmt.Errorf("store: %w", err)
	}
	return g, nil
}

func generation(ctx context.Context, q queryer) (int64, error) {
	v, ok, err := getMeta(ctx, q, "generation")
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, errors.New("meta has no generation")
	}
	g, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad generation %q in meta: %w", v, err)
	}
	return g, nil
}

// IntegrityCheck runs SQLite's PRAGMA integrity_check and returns an error
// wrapping ErrCorrupt, with SQLite's first findings, unless it answers "ok".
func (s *Store) IntegrityCheck(ctx context.Context) error {
	rows, err := s.r.QueryContext(ctx, "PRAGMA integrity_check(20)")
	if err != nil {
		return fmt.Errorf("store: integrity check of %q: %w: %w", s.path, ErrCorrupt, err)
	}
	defer rows.Close()
	var found []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return fmt.Errorf("store: integrity check of %q: %w", s.path, err)
		}
		for _, l := range strings.Split(line, "\n") {
			if l = strings.TrimSpace(l); l != "" {
				found = append(found, l)
			}
		}
	}
	if err := rows.Err(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("store: integrity check of %q: %w", s.path, err)
		}
		return fmt.Errorf("store: integrity check of %q: %w: %w", s.path, ErrCorrupt, err)
	}
	if len(found) == 1 && found[0] == "ok" {
		return nil
	}
	return fmt.Errorf("store: integrity check of %q: %w: %s", s.path, ErrCorrupt, strings.Join(found, "; "))
}
