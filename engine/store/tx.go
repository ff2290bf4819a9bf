package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Tx is a write transaction: a batch of changes committed at once. Only one
// is open at a time per Store; Begin waits for the previous one to end, and
// so do the Store's other write methods (so a goroutine holding a Tx must
// not call them). A Tx is not safe for concurrent use.
type Tx struct {
	tx           *sql.Tx
	dim          int  // the model's dimension, read on first use
	itemsChanged bool // the commit bumps the generation
	metaChanged  bool // the commit bumps the metadata generation
	done         bool
}

// Begin starts a write transaction. It waits (up to the busy timeout) for
// writers in other processes.
func (s *Store) Begin(ctx context.Context) (*Tx, error) {
	if s.w == nil {
		return nil, fmt.Errorf("store: begin: %w", ErrReadOnly)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("store: begin: %w", err)
	}
	return &Tx{tx: tx}, nil
}

// Commit commits the batch. When it added, replaced or deleted items, the
// generation grows by one in the same transaction.
func (t *Tx) Commit() error {
	_, err := t.CommitGeneration()
	return err
}

// Generation returns the generation as seen inside the transaction, before
// its own commit. A write transaction holds the database's write lock from
// Begin, so no other writer can move it until Commit.
func (t *Tx) Generation(ctx context.Context) (int64, error) {
	g, err := generation(ctx, t.tx)
	if err != nil {
		return 0, fmt.Errorf("store: %w", err)
	}
	return g, nil
}

// CommitGeneration commits the batch like Commit and returns the generation
// the commit left: the one an index holding the batch's changes reflects.
func (t *Tx) CommitGeneration() (int64, error) {
	if t.done {
		return 0, errors.New("store: commit: transaction already ended")
	}
	t.done = true
	ctx := context.Background()
	if t.itemsChanged {
		if _, err := t.tx.ExecContext(ctx, "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'"); err != nil {
			t.tx.Rollback()
			return 0, fmt.Errorf("store: commit: bump generation: %w", err)
		}
	}
	if t.itemsChanged || t.metaChanged {
		if _, err := t.tx.ExecContext(ctx, "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'meta_generation'"); err != nil {
			t.tx.Rollback()
			return 0, fmt.Errorf("store: commit: bump metadata generation: %w", err)
		}
	}
	gen, err := generation(ctx, t.tx)
	if err != nil {
		t.tx.Rollback()
		return 0, fmt.Errorf("store: commit: %w", err)
	}
	if err := t.tx.Commit(); err != nil {
		return 0, fmt.Errorf("store: commit: %w", err)
	}
	return gen, nil
}

// Rollback abandons the batch. It is a no-op after Commit or Rollback, so it
// can be deferred.
func (t *Tx) Rollback() error {
	if t.done {
		return nil
	}
	t.done = true
	if err := t.tx.Rollback(); err != nil {
		return fmt.Errorf("store: rollback: %w", err)
	}
	return nil
}

// UpsertItems inserts the items, or replaces those whose path is already
// present (keeping their id), and removes the error records of their paths.
// It returns the items' ids in order. Every vector must have the model's
// dimension and finite values; the first bad item fails the whole call.
func (t *Tx) UpsertItems(ctx context.Context, items []Item) ([]int64, error) {
	if len(items) == 0 {
		return nil, nil
	}
	if t.dim == 0 {
		dim, err := readDim(ctx, t.tx)
		if err != nil {
			return nil, fmt.Errorf("store: upsert items: %w", err)
		}
		t.dim = dim
	}
	for i := range items {
		if err := items[i].validate(t.dim); err != nil {
			return nil, fmt.Errorf("store: upsert items: %w", err)
		}
	}
	up, err := t.tx.PrepareContext(ctx, `INSERT INTO items
		(path, size, mtime_ns, content_hash, width, height, format, vector, indexed_at, `+metaColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (path) DO UPDATE SET
			size = excluded.size, mtime_ns = excluded.mtime_ns, content_hash = excluded.content_hash,
			width = excluded.width, height = excluded.height, format = excluded.format,
			vector = excluded.vector, indexed_at = excluded.indexed_at,
			capture_ns = excluded.capture_ns, capture_offset_s = excluded.capture_offset_s,
			time_source = excluded.time_source, camera_make = excluded.camera_make,
			camera_model = excluded.camera_model, gps_lat = excluded.gps_lat, gps_lon = excluded.gps_lon
		RETURNING id`)
	if err != nil {
		return nil, fmt.Errorf("store: upsert items: %w", err)
	}
	defer up.Close()
	clr, err := t.tx.PrepareContext(ctx, "DELETE FROM errors WHERE path = ?")
	if err != nil {
		return nil, fmt.Errorf("store: upsert items: %w", err)
	}
	defer clr.Close()
	now := time.Now().UnixNano()
	ids := make([]int64, len(items))
	for i := range items {
		it := &items[i]
		at := now
		if !it.IndexedAt.IsZero() {
			at = it.IndexedAt.UnixNano()
		}
		path := []byte(it.Path)
		args := append([]any{path, it.Size, it.MtimeNs, it.Hash[:], it.Width, it.Height,
			it.Format, encodeVector(it.Vector), at}, it.Meta.args()...)
		if err := up.QueryRowContext(ctx, args...).Scan(&ids[i]); err != nil {
			return nil, fmt.Errorf("store: upsert item %q: %w", it.Path, err)
		}
		if _, err := clr.ExecContext(ctx, path); err != nil {
			return nil, fmt.Errorf("store: upsert item %q: clear error record: %w", it.Path, err)
		}
	}
	paths := make([]string, len(items))
	for i := range items {
		paths[i] = items[i].Path
	}
	if err := clearSkipped(ctx, t.tx, paths); err != nil {
		return nil, fmt.Errorf("store: upsert items: %w", err)
	}
	t.itemsChanged = true
	return ids, nil
}

// DeleteItems deletes the items with these ids and returns how many existed.
func (t *Tx) DeleteItems(ctx context.Context, ids []int64) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	del, err := t.tx.PrepareContext(ctx, "DELETE FROM items WHERE id = ?")
	if err != nil {
		return 0, fmt.Errorf("store: delete items: %w", err)
	}
	defer del.Close()
	n := 0
	for _, id := range ids {
		res, err := del.ExecContext(ctx, id)
		if err != nil {
			return n, fmt.Errorf("store: delete item %d: %w", id, err)
		}
		k, err := res.RowsAffected()
		if err != nil {
			return n, fmt.Errorf("store: delete item %d: %w", id, err)
		}
		n += int(k)
	}
	if n > 0 {
		t.itemsChanged = true
	}
	return n, nil
}

// RecordErrors records failed files, replacing earlier records of the same
// paths. A record without a class gets DefaultClass of its stage. Recording
// errors does not change the generation.
func (t *Tx) RecordErrors(ctx context.Context, errs []FileError) error {
	if len(errs) == 0 {
		return nil
	}
	for i := range errs {
		if err := errs[i].validate(); err != nil {
			return fmt.Errorf("store: record errors: %w", err)
		}
	}
	ins, err := t.tx.PrepareContext(ctx, `INSERT INTO errors (path, size, mtime_ns, stage, class, reason, at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns,
			stage = excluded.stage, class = excluded.class, reason = excluded.reason, at = excluded.at`)
	if err != nil {
		return fmt.Errorf("store: record errors: %w", err)
	}
	defer ins.Close()
	now := time.Now().UnixNano()
	for i := range errs {
		e := &errs[i]
		at := now
		if !e.At.IsZero() {
			at = e.At.UnixNano()
		}
		class := e.Class
		if class == "" {
			class = DefaultClass(e.Stage)
		}
		if _, err := ins.ExecContext(ctx, []byte(e.Path), e.Size, e.MtimeNs, string(e.Stage), string(class), e.Reason, at); err != nil {
			return fmt.Errorf("store: record error of %q: %w", e.Path, err)
		}
		if err := clearSkipped(ctx, t.tx, []string{e.Path}); err != nil {
			return fmt.Errorf("store: record errors: %w", err)
		}
	}
	return nil
}

// ClearErrors removes the error records of these paths (absent ones are
// ignored) and returns how many there were.
func (t *Tx) ClearErrors(ctx context.Context, paths []string) (int, error) {
	if len(paths) == 0 {
		return 0, nil
	}
	del, err := t.tx.PrepareContext(ctx, "DELETE FROM errors WHERE path = ?")
	if err != nil {
		return 0, fmt.Errorf("store: clear errors: %w", err)
	}
	defer del.Close()
	n := 0
	for _, p := range paths {
		res, err := del.ExecContext(ctx, []byte(p))
		if err != nil {
			return n, fmt.Errorf("store: clear error of %q: %w", p, err)
		}
		k, err := res.RowsAffected()
		if err != nil {
			return n, fmt.Errorf("store: clear error of %q: %w", p, err)
		}
		n += int(k)
	}
	return n, nil
}

// inTx runs fn in its own write transaction and commits it.
func (s *Store) inTx(ctx context.Context, fn func(*Tx) error) error {
	tx, err := s.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// UpsertItems is Tx.UpsertItems in a transaction of its own.
func (s *Store) UpsertItems(ctx context.Context, items []Item) ([]int64, error) {
	var ids []int64
	err := s.inTx(ctx, func(tx *Tx) (err error) {
		ids, err = tx.UpsertItems(ctx, items)
		return err
	})
	return ids, err
}

// DeleteItems is Tx.DeleteItems in a transaction of its own.
func (s *Store) DeleteItems(ctx context.Context, ids []int64) (int, error) {
	var n int
	err := s.inTx(ctx, func(tx *Tx) (err error) {
		n, err = tx.DeleteItems(ctx, ids)
		return err
	})
	return n, err
}

// RecordErrors is Tx.RecordErrors in a transaction of its own.
func (s *Store) RecordErrors(ctx context.Context, errs []FileError) error {
	return s.inTx(ctx, func(tx *Tx) error { return tx.RecordErrors(ctx, errs) })
}

// ClearError removes the error record of one path, if any.
func (s *Store) ClearError(ctx context.Context, path string) error {
	_, err := s.ClearErrors(ctx, []string{path})
	return err
}

// ClearErrors is Tx.ClearErrors in a transaction of its own.
func (s *Store) ClearErrors(ctx context.Context, paths []string) (int, error) {
	var n int
	err := s.inTx(ctx, func(tx *Tx) (err error) {
		n, err = tx.ClearErrors(ctx, paths)
		return err
	})
	return n, err
}
