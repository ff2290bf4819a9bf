// Package regfile opens files named by users for reading, refusing anything
// that is not a regular file.
//
// Opening a named pipe (FIFO) for reading blocks until a writer appears,
// and reading a character device may never end; neither honours a context.
// [Open] checks the type before opening, opens without blocking, and checks
// the type again on the open descriptor (the name may have been swapped in
// between), so a FIFO, socket or device named as an input is refused at
// once with a [*NotRegularError]. [ReadFile] adds a size limit and reads in
// chunks, checking the context between them.
package regfile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// ErrNotRegular is matched (with errors.Is) by every [*NotRegularError].
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is matched by the error of [ReadFile] for a file over its limit.
var ErrTooLarge = errors.New("file too large")

// NotRegularError reports a path that names something other than a regular
// file: a folder, a named pipe, a socket or a device.
type NotRegularError struct {
	Path string
	Mode fs.FileMode
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s is %s, not a regular file", e.Path, Describe(e.Mode))
}

// Is makes errors.Is(err, ErrNotRegular) true.
func (e *NotRegularError) Is(target error) bool { return target == ErrNotRegular }

// IsDir reports whether the path is a folder.
func (e *NotRegularError) IsDir() bool { return e.Mode.IsDir() }

// Describe names a file type for messages: "a folder", "a named pipe (FIFO)".
func Describe(m fs.FileMode) string {
	switch t := m.Type(); {
	case t == 0:
		return "a regular file"
	case t&fs.ModeDir != 0:
		return "a folder"
	case t&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case t&fs.ModeSocket != 0:
		return "a socket"
	case t&fs.ModeCharDevice != 0:
		return "a character device"
	case t&fs.ModeDevice != 0:
		return "a block device"
	case t&fs.ModeSymlink != 0:
		return "a symbolic link"
	case t&fs.ModeIrregular != 0:
		return "an irregular file"
	default:
		return "a special file (" + t.String() + ")"
	}
}

// Open opens path for reading when it is a regular file (after following
// symbolic links) and returns it with its FileInfo. Anything else gives a
// *NotRegularError, without ever blocking; a missing file gives an error
// matching fs.ErrNotExist.
func Open(path string) (*os.File, fs.FileInfo, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fi, &NotRegularError{Path: path, Mode: fi.Mode()}
	}
	f, err := os.OpenFile(path, os.O_RDONLY|nonBlock, 0)
	if err != nil {
		return nil, nil, err
	}
	fi, err = f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() { // swapped between the Stat and the open
		f.Close()
		return nil, fi, &NotRegularError{Path: path, Mode: fi.Mode()}
	}
	return f, fi, nil
}

// chunk is how much ReadFile reads between two looks at the context.
const chunk = 1 << 20

// ReadFile reads the whole regular file at path, refusing files over limit
// bytes (before reading when the size says so, or when it grows while
// read) with an error matching ErrTooLarge. It stops with ctx's error when
// ctx ends.
func ReadFile(ctx context.Context, path string, limit int64) ([]byte, error) {
	f, fi, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadAll(ctx, f, path, fi.Size(), limit)
}

// ReadAll reads r to its end in chunks, checking ctx between them. size is
// the expected length when known (negative otherwise); name labels errors.
// More than limit bytes give an error matching ErrTooLarge.
func ReadAll(ctx context.Context, r io.Reader, name string, size, limit int64) ([]byte, error) {
	if size > limit {
		return nil, fmt.Errorf("%s: %w: %d bytes, over the %d-byte limit", name, ErrTooLarge, size, limit)
	}
	n := size + 1 // one more to see EOF without growing
	if size < 0 {
		n = 64 << 10
	}
	data := make([]byte, 0, min(n, limit+1))
	lr := io.LimitReader(r, limit+1)
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
		m, err := lr.Read(data[len(data):min(cap(data), len(data)+chunk)])
		data = data[:len(data)+m]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: reading: %w", name, err)
		}
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: %w: more than %d bytes", name, ErrTooLarge, limit)
	}
	return data, nil
}
