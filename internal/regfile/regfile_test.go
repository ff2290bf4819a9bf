package regfile

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a.txt")
	if err := os.WriteFile(file, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "q.fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	link := filepath.Join(dir, "link.jpg")
	if err := os.Symlink(fifo, link); err != nil {
		t.Fatal(err)
	}
	fileLink := filepath.Join(dir, "file-link")
	if err := os.Symlink(file, fileLink); err != nil {
		t.Fatal(err)
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		name  string
		ctx   context.Context
		path  string
		limit int64
		want  string // data, or "" for an error
		is    error
		msg   string
	}{
		{"regular", context.Background(), file, 5, "hello", nil, ""},
		{"link to regular", context.Background(), fileLink, 100, "hello", nil, ""},
		{"over limit", context.Background(), file, 4, "", ErrTooLarge, "over the 4-byte limit"},
		{"fifo", context.Background(), fifo, 100, "", ErrNotRegular, "is a named pipe (FIFO), not a regular file"},
		{"link to fifo", context.Background(), link, 100, "", ErrNotRegular, "named pipe"},
		{"folder", context.Background(), dir, 100, "", ErrNotRegular, "is a folder"},
		{"device", context.Background(), "/dev/zero", 100, "", ErrNotRegular, "character device"},
		{"missing", context.Background(), filepath.Join(dir, "nope"), 100, "", fs.ErrNotExist, ""},
		{"canceled", canceled, file, 100, "", context.Canceled, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			data, err := ReadFile(c.ctx, c.path, c.limit)
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %v", d)
			}
			if c.is == nil {
				if err != nil || string(data) != c.want {
					t.Fatalf("got %q, %v; want %q", data, err, c.want)
				}
				return
			}
			if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("error %v, want one matching %v containing %q", err, c.is, c.msg)
			}
		})
	}
}

// TestOpenNonBlocking checks that the flags Open opens with return at once
// on a FIFO without a writer, so a FIFO swapped in after the type check is
// caught by the check on the descriptor instead of blocking the open.
func TestOpenNonBlocking(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "q.fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	f, err := os.OpenFile(fifo, os.O_RDONLY|nonBlock, 0)
	if err != nil {
		t.Fatalf("a non-blocking open of a FIFO failed: %v", err)
	}
	f.Close()
}
