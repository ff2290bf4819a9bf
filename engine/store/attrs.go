package store

import (
	"context"
	"database/sql"
	"fmt"
)

// Attrs are the attributes of one item that search filters test: everything
// an item row holds except its vector and hash.
type Attrs struct {
	ID int64
	// Path is the file's path as indexed, byte for byte.
	Path string
	// Size is the file's size in bytes.
	Size int64
	// MtimeNs is the file's modification time in nanoseconds since 1970.
	MtimeNs int64
	// Width and Height are the image's dimensions in pixels.
	Width, Height int
	// Format is the image format, such as "jpeg" or "png".
	Format string
	// CaptureNs is the capture time in Unix nanoseconds when the item's
	// metadata has been read (HasCapture), from EXIF or the file time.
	CaptureNs  int64
	HasCapture bool
	// CameraMake and CameraModel are the EXIF camera, "" when unknown.
	CameraMake, CameraModel string
}

// Attributes returns the filterable attributes of every item, in id order,
// from one consistent read, with the generation that read saw. Filters
// compile against this table once per generation instead of querying per
// search: the items table holds the vectors inline, so any scan of it reads
// them too.
func (s *Store) Attributes(ctx context.Context) (int64, []Attrs, error) {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, nil, fmt.Errorf("store: attributes: %w", err)
	}
	defer tx.Rollback()
	gen, err := generation(ctx, tx)
	if err != nil {
		return 0, nil, fmt.Errorf("store: attributes: %w", err)
	}
	rows, err := tx.QueryContext(ctx, "SELECT id, path, size, mtime_ns, width, height, format, capture_ns, camera_make, camera_model FROM items ORDER BY id")
	if err != nil {
		return 0, nil, fmt.Errorf("store: attributes: %w", err)
	}
	defer rows.Close()
	var out []Attrs
	var path []byte
	for rows.Next() {
		var a Attrs
		var capture sql.NullInt64
		if err := rows.Scan(&a.ID, &path, &a.Size, &a.MtimeNs, &a.Width, &a.Height, &a.Format, &capture, &a.CameraMake, &a.CameraModel); err != nil {
			return 0, nil, fmt.Errorf("store: attributes: %w", err)
		}
		a.Path = string(path)
		a.CaptureNs, a.HasCapture = capture.Int64, capture.Valid
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return 0, nil, fmt.Errorf("store: attributes: %w", err)
	}
	return gen, out, nil
}
