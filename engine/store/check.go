package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// Check is a cheap health check for a running process: the database file
// still starts with SQLite's header and holds as many pages as that header
// counts (a file truncated or overwritten behind the process's back fails
// here, although pages cached in memory keep queries answering), and a
// read transaction reads the schema. It does not scan the tables.
func (s *Store) Check(ctx context.Context) error {
	if err := checkFile(s.path); err != nil {
		return err
	}
	var n int64
	if err := s.r.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master").Scan(&n); err != nil {
		return fmt.Errorf("store: check: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("store: check: %w: no tables", ErrCorrupt)
	}
	return nil
}

// sqliteMagic starts every SQLite database file.
const sqliteMagic = "SQLite format 3\x00"

// checkFile reads the 100-byte header of the database file at path and
// compares the page count it records (when valid) with the file's size.
func checkFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("store: check: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("store: check: %w", err)
	}
	var h [100]byte
	if _, err := io.ReadFull(f, h[:]); err != nil {
		return fmt.Errorf("store: check %s: %w: %d bytes, shorter than its header", path, ErrCorrupt, fi.Size())
	}
	if string(h[:16]) != sqliteMagic {
		return fmt.Errorf("store: check %s: %w: not an SQLite header", path, ErrCorrupt)
	}
	pageSize := int64(binary.BigEndian.Uint16(h[16:18]))
	if pageSize == 1 {
		pageSize = 65536
	}
	if pageSize < 512 || pageSize&(pageSize-1) != 0 {
		return fmt.Errorf("store: check %s: %w: page size %d", path, ErrCorrupt, pageSize)
	}
	// The page count at offset 28 is valid when the change counter (24)
	// equals the version-valid-for number (92).
	pages := int64(binary.BigEndian.Uint32(h[28:32]))
	if binary.BigEndian.Uint32(h[24:28]) == binary.BigEndian.Uint32(h[92:96]) && pages > 0 && fi.Size() < pages*pageSize {
		return fmt.Errorf("store: check %s: %w: truncated to %d bytes; its header counts %d pages of %d bytes",
			path, ErrCorrupt, fi.Size(), pages, pageSize)
	}
	return nil
}
