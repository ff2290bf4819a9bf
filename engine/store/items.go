package store

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Hash is the SHA-256 of a file's contents.
type Hash [32]byte

// String returns the hash in lower-case hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// ParseHash parses 64 hex digits.
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 2*len(h) {
		return h, fmt.Errorf("store: hash %q: want %d hex digits", s, 2*len(h))
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, fmt.Errorf("store: hash %q: %w", s, err)
	}
	return h, nil
}

// Item is an indexed file.
type Item struct {
	// ID is assigned by the store and never reused, even after deletion.
	ID int64
	// Path is the file's path as given, byte for byte.
	Path string
	// Size is the file's size in bytes.
	Size int64
	// MtimeNs is the file's modification time in nanoseconds since 1970.
	MtimeNs int64
	// Hash is the SHA-256 of the file's contents.
	Hash Hash
	// Width and Height are the image's dimensions in pixels.
	Width, Height int
	// Format is the image format, such as "jpeg" or "png".
	Format string
	// Vector is the embedding: exactly Model.Dim finite float32s.
	Vector []float32
	// IndexedAt is when the item was written (the time of the upsert when
	// zero).
	IndexedAt time.Time
	// Meta is what the file says about the photo (capture time, camera,
	// position).
	Meta Metadata
}

// State is what the incremental walk compares a file on disk with.
type State struct {
	// ID is the item's id (0 for a failed file).
	ID int64
	// Size and MtimeNs are as recorded.
	Size, MtimeNs int64
	// Hash is the content hash (zero for a failed file).
	Hash Hash
	// NoMeta is set for an item whose metadata has not been read (indexed
	// before schema version 4): the next ingest reads it.
	NoMeta bool
}

// Same reports whether a file with this size and modification time is
// unchanged since the state was recorded.
func (s State) Same(size, mtimeNs int64) bool { return s.Size == size && s.MtimeNs == mtimeNs }

// encodeVector returns v as little-endian float32s.
func encodeVector(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return b
}

// decodeVector is the inverse of encodeVector.
func decodeVector(b []byte, dim int) ([]float32, error) {
	if len(b) != 4*dim {
		return nil, fmt.Errorf("vector is %d bytes, want %d (dim %d)", len(b), 4*dim, dim)
	}
	v := make([]float32, dim)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v, nil
}

// checkPath refuses paths no file system can hold.
func checkPath(p string) error {
	if p == "" {
		return errors.New("empty path")
	}
	if strings.IndexByte(p, 0) >= 0 {
		return fmt.Errorf("path %q contains a NUL byte", p)
	}
	return nil
}

func (it *Item) validate(dim int) error {
	if err := checkPath(it.Path); err != nil {
		return err
	}
	if it.Size < 0 {
		return fmt.Errorf("%q: negative size %d", it.Path, it.Size)
	}
	if it.Width < 0 || it.Height < 0 {
		return fmt.Errorf("%q: negative dimensions %dx%d", it.Path, it.Width, it.Height)
	}
	if err := it.Meta.validate(); err != nil {
		return fmt.Errorf("%q: %w", it.Path, err)
	}
	if len(it.Vector) != dim {
		return fmt.Errorf("%q: vector has %d values, the model's dimension is %d", it.Path, len(it.Vector), dim)
	}
	for i, f := range it.Vector {
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return fmt.Errorf("%q: vector value %d is %v", it.Path, i, f)
		}
	}
	return nil
}

const itemColumns = "id, path, size, mtime_ns, content_hash, width, height, format, vector, indexed_at, " + metaColumns

// scanner is *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func scanItem(sc scanner, dim int) (Item, error) {
	var (
		it        Item
		path, h   []byte
		vec       []byte
		indexedAt int64
		mc        metaCols
	)
	if err := sc.Scan(append([]any{&it.ID, &path, &it.Size, &it.MtimeNs, &h, &it.Width, &it.Height, &it.Format, &vec, &indexedAt}, mc.dest()...)...); err != nil {
		return it, err
	}
	it.Meta = mc.metadata()
	it.Path = string(path)
	if len(h) != len(it.Hash) {
		return it, fmt.Errorf("item %d: content hash is %d bytes", it.ID, len(h))
	}
	copy(it.Hash[:], h)
	v, err := decodeVector(vec, dim)
	if err != nil {
		return it, fmt.Errorf("item %d: %w", it.ID, err)
	}
	it.Vector = v
	it.IndexedAt = time.Unix(0, indexedAt)
	return it, nil
}

// readDim returns the model's dimension, or an error wrapping ErrNoModel.
func readDim(ctx context.Context, q queryer) (int, error) {
	m, ok, err := model(ctx, q)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, ErrNoModel
	}
	return m.Dim, nil
}

// ItemByID returns the item with this id, or an error wrapping ErrNotFound.
func (s *Store) ItemByID(ctx context.Context, id int64) (Item, error) {
	it, err := s.oneItem(ctx, "WHERE id = ?", id)
	if err != nil {
		return it, fmt.Errorf("store: item %d: %w", id, err)
	}
	return it, nil
}

// ItemsByIDs returns the items with these ids, in one read; ids that name
// no item are absent from the map.
func (s *Store) ItemsByIDs(ctx context.Context, ids []int64) (map[int64]Item, error) {
	out := make(map[int64]Item, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	where := "WHERE id IN (?" + strings.Repeat(", ?", len(ids)-1) + ")"
	items, err := s.items(ctx, where, args...)
	if err != nil {
		return nil, fmt.Errorf("store: items by id: %w", err)
	}
	for _, it := range items {
		out[it.ID] = it
	}
	return out, nil
}

// IDsWithPathPrefix returns the ids of the items whose path starts with
// prefix (byte for byte), using the path index rather than reading every item.
func (s *Store) IDsWithPathPrefix(ctx context.Context, prefix string) (map[int64]bool, error) {
	q := "SELECT id FROM items WHERE path >= ?"
	args := []any{[]byte(prefix)}
	if hi, ok := prefixUpperBound([]byte(prefix)); ok {
		q += " AND path < ?"
		args = append(args, hi)
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: items under %q: %w", prefix, err)
	}
	defer rows.Close()
	out := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("store: items under %q: %w", prefix, err)
		}
		out[id] = true
	}
	return out, rows.Err()
}

// prefixUpperBound is the smallest byte string greater than every string
// starting with p; ok is false when there is none (p empty or all 0xFF).
func prefixUpperBound(p []byte) (hi []byte, ok bool) {
	hi = append([]byte(nil), p...)
	for i := len(hi) - 1; i >= 0; i-- {
		if hi[i] < 0xFF {
			hi[i]++
			return hi[:i+1], true
		}
	}
	return nil, false
}

// ItemByPath returns the item with exactly this path, or an error wrapping
// ErrNotFound.
func (s *Store) ItemByPath(ctx context.Context, path string) (Item, error) {
	it, err := s.oneItem(ctx, "WHERE path = ?", []byte(path))
	if err != nil {
		return it, fmt.Errorf("store: item %q: %w", path, err)
	}
	return it, nil
}

func (s *Store) oneItem(ctx context.Context, where string, arg any) (Item, error) {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return Item{}, err
	}
	defer tx.Rollback()
	dim, err := readDim(ctx, tx)
	if errors.Is(err, ErrNoModel) {
		return Item{}, ErrNotFound // an empty library
	}
	if err != nil {
		return Item{}, err
	}
	it, err := scanItem(tx.QueryRowContext(ctx, "SELECT "+itemColumns+" FROM items "+where, arg), dim)
	if errors.Is(err, sql.ErrNoRows) {
		return it, ErrNotFound
	}
	return it, err
}

// ItemsByHash returns the items whose contents have this hash, by id: the
// same picture under other paths (moved or duplicated files), whose vector
// can be reused without running the model.
func (s *Store) ItemsByHash(ctx context.Context, h Hash) ([]Item, error) {
	items, err := s.items(ctx, "WHERE content_hash = ? ORDER BY id", h[:])
	if err != nil {
		return nil, fmt.Errorf("store: items with hash %s: %w", h, err)
	}
	return items, nil
}

func (s *Store) items(ctx context.Context, where string, args ...any) ([]Item, error) {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	dim, err := readDim(ctx, tx)
	if errors.Is(err, ErrNoModel) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, "SELECT "+itemColumns+" FROM items "+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Item
	for rows.Next() {
		it, err := scanItem(rows, dim)
		if err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

// FileStates returns the recorded state of every item, by path, for the
// incremental walk: a file whose size and modification time match is
// skipped, and a path missing from disk is deleted.
func (s *Store) FileStates(ctx context.Context) (map[string]State, error) {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("store: file states: %w", err)
	}
	defer tx.Rollback()
	m, err := fileStates(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("store: file states: %w", err)
	}
	return m, nil
}

func fileStates(ctx context.Context, q queryer) (map[string]State, error) {
	rows, err := q.QueryContext(ctx, "SELECT id, path, size, mtime_ns, content_hash, time_source = '' FROM items")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := make(map[string]State)
	for rows.Next() {
		var (
			st      State
			path, h []byte
		)
		if err := rows.Scan(&st.ID, &path, &st.Size, &st.MtimeNs, &h, &st.NoMeta); err != nil {
			return nil, err
		}
		copy(st.Hash[:], h)
		m[string(path)] = st
	}
	return m, rows.Err()
}

// IterVectors calls fn with every item's id and vector, in id order, from
// one consistent snapshot of the database, and returns the generation of
// that snapshot: an index built from the calls is current as of it. Writers
// are not blocked meanwhile. fn may keep vec. An error from fn, or ctx
// ending, stops the iteration and is returned.
func (s *Store) IterVectors(ctx context.Context, fn func(id int64, vec []float32) error) (int64, error) {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, fmt.Errorf("store: iterate vectors: %w", err)
	}
	defer tx.Rollback()
	// The first read fixes the snapshot, so the generation matches the rows.
	gen, err := generation(ctx, tx)
	if err != nil {
		return 0, fmt.Errorf("store: iterate vectors: %w", err)
	}
	dim, err := readDim(ctx, tx)
	if errors.Is(err, ErrNoModel) {
		return gen, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: iterate vectors: %w", err)
	}
	rows, err := tx.QueryContext(ctx, "SELECT id, vector FROM items ORDER BY id")
	if err != nil {
		return 0, fmt.Errorf("store: iterate vectors: %w", err)
	}
	defer rows.Close()
	var raw []byte
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id, &raw); err != nil {
			return 0, fmt.Errorf("store: iterate vectors: %w", err)
		}
		vec, err := decodeVector(raw, dim)
		if err != nil {
			return 0, fmt.Errorf("store: iterate vectors: item %d: %w", id, err)
		}
		if err := fn(id, vec); err != nil {
			return 0, err
		}
		if err := ctx.Err(); err != nil {
			return 0, err
		}
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("store: iterate vectors: %w", err)
	}
	return gen, nil
}
