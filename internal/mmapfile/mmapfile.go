// Package mmapfile holds a file's bytes in memory the cheap way: mapped
// read-only from the page cache where the system can (Linux, macOS), read
// into the heap elsewhere. Nothing is copied until a caller asks to write:
// Writable turns the mapping into a private copy-on-write one, so changes
// stay in this process and never reach the file.
//
// A mapping stays valid while the file is replaced by rename (the old inode
// lives on until it is unmapped); truncating or rewriting the mapped file in
// place makes later reads fault (SIGBUS), as with every mmap-based store.
// The library's files are only ever replaced by rename (internal/atomicfile).
package mmapfile

import (
	"fmt"
	"os"
	"sync"
)

// File is a file's bytes held in memory. Its methods are safe for
// concurrent use; Bytes must not be used after Close.
type File struct {
	mu       sync.Mutex
	data     []byte
	mapped   bool
	writable bool
	closed   bool
}

// Open maps the file at path (or reads it where mapping is unavailable).
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("mmapfile: %s is not a regular file", path)
	}
	size := fi.Size()
	if size == 0 {
		return &File{}, nil
	}
	if int64(int(size)) != size {
		return nil, fmt.Errorf("mmapfile: %s: %d bytes do not fit in memory", path, size)
	}
	if data, err := mapFile(f, int(size)); err == nil {
		return &File{data: data, mapped: true}, nil
	}
	// Fall back to reading (a file system that cannot map, or a platform
	// without mmap).
	data := make([]byte, size)
	if _, err := f.ReadAt(data, 0); err != nil {
		return nil, fmt.Errorf("mmapfile: read %s: %w", path, err)
	}
	return &File{data: data, writable: true}, nil
}

// Bytes returns the file's bytes. They are read-only until Writable.
func (m *File) Bytes() []byte { return m.data }

// Mapped reports whether the bytes are mapped from the file (false when
// they were read into the heap).
func (m *File) Mapped() bool { return m.mapped }

// Writable makes the bytes writable, privately: writes copy the touched
// pages and never reach the file.
func (m *File) Writable() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("mmapfile: writable: closed")
	}
	if m.writable || len(m.data) == 0 {
		return nil
	}
	if err := protectWritable(m.data); err != nil {
		return fmt.Errorf("mmapfile: writable: %w", err)
	}
	m.writable = true
	return nil
}

// Close unmaps the bytes. It is idempotent. Using Bytes afterwards faults.
func (m *File) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	data := m.data
	m.data = nil
	if m.mapped && len(data) > 0 {
		if err := unmap(data); err != nil {
			return fmt.Errorf("mmapfile: unmap: %w", err)
		}
	}
	return nil
}
