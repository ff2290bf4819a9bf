package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// Copy is one path of some content: an item's id and path.
type Copy struct {
	ID   int64  `json:"id"`
	Path string `json:"path"`
}

// CopiesByHash returns, for each of hashes that has items, the items with
// that content, ordered by path (bytewise).
func (s *Store) CopiesByHash(ctx context.Context, hashes []Hash) (map[Hash][]Copy, error) {
	out := make(map[Hash][]Copy, len(hashes))
	const chunk = 500
	for start := 0; start < len(hashes); start += chunk {
		part := hashes[start:min(start+chunk, len(hashes))]
		args := make([]any, len(part))
		for i := range part {
			args[i] = part[i][:]
		}
		q := "SELECT content_hash, id, path FROM items WHERE content_hash IN (?" + strings.Repeat(",?", len(part)-1) + ") ORDER BY content_hash, path"
		if err := s.scanCopies(ctx, out, q, args...); err != nil {
			return nil, fmt.Errorf("store: copies by hash: %w", err)
		}
	}
	return out, nil
}

// DuplicateGroups returns every content hash held by more than one item,
// with its items ordered by path.
func (s *Store) DuplicateGroups(ctx context.Context) (map[Hash][]Copy, error) {
	out := map[Hash][]Copy{}
	q := `SELECT content_hash, id, path FROM items WHERE content_hash IN
		(SELECT content_hash FROM items GROUP BY content_hash HAVING count(*) > 1)
		ORDER BY content_hash, path`
	if err := s.scanCopies(ctx, out, q); err != nil {
		return nil, fmt.Errorf("store: duplicate groups: %w", err)
	}
	return out, nil
}

// AllCopies returns every item's id and path grouped by content hash, each
// group ordered by path.
func (s *Store) AllCopies(ctx context.Context) (map[Hash][]Copy, error) {
	out := map[Hash][]Copy{}
	if err := s.scanCopies(ctx, out, "SELECT content_hash, id, path FROM items ORDER BY content_hash, path"); err != nil {
		return nil, fmt.Errorf("store: all copies: %w", err)
	}
	return out, nil
}

// HashesOf returns the content hash of each item id that exists.
func (s *Store) HashesOf(ctx context.Context, ids []int64) (map[int64]Hash, error) {
	out := make(map[int64]Hash, len(ids))
	for _, id := range ids {
		var h []byte
		err := s.r.QueryRowContext(ctx, "SELECT content_hash FROM items WHERE id = ?", id).Scan(&h)
		if err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			return nil, fmt.Errorf("store: hash of item %d: %w", id, err)
		}
		var hh Hash
		copy(hh[:], h)
		out[id] = hh
	}
	return out, nil
}

func (s *Store) scanCopies(ctx context.Context, out map[Hash][]Copy, q string, args ...any) error {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			h, path []byte
			c       Copy
		)
		if err := rows.Scan(&h, &c.ID, &path); err != nil {
			return err
		}
		var hh Hash
		if len(h) != len(hh) {
			return fmt.Errorf("item %d: content hash is %d bytes", c.ID, len(h))
		}
		copy(hh[:], h)
		c.Path = string(path)
		out[hh] = append(out[hh], c)
	}
	return rows.Err()
}
