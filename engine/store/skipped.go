package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// SkippedFile records a file that is not a still image (a video, a sidecar,
// a document...): it is counted as skipped, not failed, and not read again
// while its size and modification time stay the same.
type SkippedFile struct {
	// Path is the file's path as given, byte for byte.
	Path string
	// Size and MtimeNs describe the file when it was looked at.
	Size, MtimeNs int64
	// Kind is what the content is: "video", "sidecar", "document", ...
	Kind string
	// Format is the container or format found: "mp4", "json", "pdf", ...
	Format string
}

// StatusSkipped is Snapshot.Check's answer for a file recorded as skipped
// and unchanged since.
const StatusSkipped Status = 100

// RecordSkipped records skipped files, replacing earlier records of the same
// paths and removing their error records.
func (t *Tx) RecordSkipped(ctx context.Context, files []SkippedFile) error {
	if len(files) == 0 {
		return nil
	}
	ins, err := t.tx.PrepareContext(ctx, `INSERT INTO skipped (path, size, mtime_ns, kind, format, at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns,
			kind = excluded.kind, format = excluded.format, at = excluded.at`)
	if err != nil {
		return fmt.Errorf("store: record skipped: %w", err)
	}
	defer ins.Close()
	clr, err := t.tx.PrepareContext(ctx, "DELETE FROM errors WHERE path = ?")
	if err != nil {
		return fmt.Errorf("store: record skipped: %w", err)
	}
	defer clr.Close()
	now := time.Now().UnixNano()
	for _, f := range files {
		if err := checkPath(f.Path); err != nil {
			return fmt.Errorf("store: record skipped: %w", err)
		}
		if f.Kind == "" {
			return fmt.Errorf("store: record skipped: %q: no kind", f.Path)
		}
		if _, err := ins.ExecContext(ctx, []byte(f.Path), f.Size, f.MtimeNs, f.Kind, f.Format, now); err != nil {
			return fmt.Errorf("store: record skipped %q: %w", f.Path, err)
		}
		if _, err := clr.ExecContext(ctx, []byte(f.Path)); err != nil {
			return fmt.Errorf("store: record skipped %q: %w", f.Path, err)
		}
	}
	return nil
}

// clearSkipped removes the skipped records of paths (used when a path
// becomes an item or a failure).
func clearSkipped(ctx context.Context, tx *sql.Tx, paths []string) error {
	if len(paths) == 0 {
		return nil
	}
	del, err := tx.PrepareContext(ctx, "DELETE FROM skipped WHERE path = ?")
	if err != nil {
		return err
	}
	defer del.Close()
	for _, p := range paths {
		if _, err := del.ExecContext(ctx, []byte(p)); err != nil {
			return fmt.Errorf("clear skipped record of %q: %w", p, err)
		}
	}
	return nil
}

// DeleteSkipped removes the skipped records of these paths (absent ones are
// ignored).
func (t *Tx) DeleteSkipped(ctx context.Context, paths []string) error {
	if err := clearSkipped(ctx, t.tx, paths); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// Skipped returns the skipped files, ordered by path (bytewise).
func (s *Store) Skipped(ctx context.Context) ([]SkippedFile, error) {
	out, err := skippedFiles(ctx, s.r)
	if err != nil {
		return nil, fmt.Errorf("store: skipped: %w", err)
	}
	return out, nil
}

func skippedFiles(ctx context.Context, q queryer) ([]SkippedFile, error) {
	rows, err := q.QueryContext(ctx, "SELECT path, size, mtime_ns, kind, format FROM skipped ORDER BY path")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []SkippedFile
	for rows.Next() {
		var (
			f    SkippedFile
			path []byte
		)
		if err := rows.Scan(&path, &f.Size, &f.MtimeNs, &f.Kind, &f.Format); err != nil {
			return nil, err
		}
		f.Path = string(path)
		out = append(out, f)
	}
	return out, rows.Err()
}

// SkippedByKind counts the skipped files by kind.
func (s *Store) SkippedByKind(ctx context.Context) (map[string]int64, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT kind, count(*) FROM skipped GROUP BY kind")
	if err != nil {
		return nil, fmt.Errorf("store: count skipped: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var (
			k string
			n int64
		)
		if err := rows.Scan(&k, &n); err != nil {
			return nil, fmt.Errorf("store: count skipped: %w", err)
		}
		out[k] = n
	}
	return out, rows.Err()
}

// underClause is an SQL condition (on column path) and its arguments that
// select the path dir itself and every path below it, using the path index.
func underClause(dir string) (string, []any) {
	dir = strings.TrimSuffix(dir, string(filepath.Separator))
	below := []byte(dir + string(filepath.Separator))
	q, args := "(path = ? OR (path >= ?", []any{[]byte(dir), below}
	if hi, ok := prefixUpperBound(below); ok {
		q += " AND path < ?"
		args = append(args, hi)
	}
	return q + "))", args
}

// Forgotten says what ForgetUnder removed.
type Forgotten struct {
	// IDs are the removed items' ids (for the index).
	IDs []int64
	// Errors and Skipped count the removed failure and skip records.
	Errors, Skipped int
}

// ForgetUnder removes, in this transaction, every item, failure record and
// skip record whose path is one of paths or lies below one of them.
func (t *Tx) ForgetUnder(ctx context.Context, paths []string) (Forgotten, error) {
	var out Forgotten
	for _, p := range paths {
		where, args := underClause(p)
		rows, err := t.tx.QueryContext(ctx, "SELECT id FROM items WHERE "+where, args...)
		if err != nil {
			return out, fmt.Errorf("store: forget %q: %w", p, err)
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return out, fmt.Errorf("store: forget %q: %w", p, err)
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return out, fmt.Errorf("store: forget %q: %w", p, err)
		}
		if _, err := t.DeleteItems(ctx, ids); err != nil {
			return out, err
		}
		out.IDs = append(out.IDs, ids...)
		for _, table := range []string{"errors", "skipped"} {
			res, err := t.tx.ExecContext(ctx, "DELETE FROM "+table+" WHERE "+where, args...)
			if err != nil {
				return out, fmt.Errorf("store: forget %q: %w", p, err)
			}
			n, _ := res.RowsAffected()
			if table == "errors" {
				out.Errors += int(n)
			} else {
				out.Skipped += int(n)
			}
		}
	}
	return out, nil
}

// CountUnder counts the items, failures and skipped files at or below path.
func (s *Store) CountUnder(ctx context.Context, path string) (int64, error) {
	where, args := underClause(path)
	var total int64
	for _, table := range []string{"items", "errors", "skipped"} {
		var n int64
		if err := s.r.QueryRowContext(ctx, "SELECT count(*) FROM "+table+" WHERE "+where, args...).Scan(&n); err != nil {
			return 0, fmt.Errorf("store: count under %q: %w", path, err)
		}
		total += n
	}
	return total, nil
}
