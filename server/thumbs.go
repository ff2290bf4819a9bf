package server

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image/jpeg"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"mmsearch/encoders/imageproc"
	"mmsearch/engine"

	"mmsearch/internal/atomicfile"
)

// thumbCache makes JPEG thumbnails of indexed items once and keeps them in
// a folder, named by item id, content hash and size.
type thumbCache struct {
	dir string
	lib Library       // decodes, within its decode memory budget
	sem chan struct{} // bounds concurrent generation

	mu       sync.Mutex
	inflight map[string]*thumbFlight
}

type thumbFlight struct {
	done chan struct{}
	err  error
}

func newThumbCache(lib Library, dir string, workers int) *thumbCache {
	return &thumbCache{dir: dir, lib: lib, sem: make(chan struct{}, max(workers, 1)), inflight: map[string]*thumbFlight{}}
}

// validThumbSize reports whether size is one of thumbSizes.
func validThumbSize(size int) bool {
	for _, s := range thumbSizes {
		if s == size {
			return true
		}
	}
	return false
}

// path is where the thumbnail of it at size lives. The name is built from
// numbers and hex digits only.
func (c *thumbCache) path(it engine.ItemInfo, size int) (string, error) {
	if len(it.Hash) != 64 {
		return "", fmt.Errorf("item %d: bad content hash %q", it.ID, it.Hash)
	}
	if _, err := hex.DecodeString(it.Hash); err != nil {
		return "", fmt.Errorf("item %d: bad content hash: %w", it.ID, err)
	}
	return filepath.Join(c.dir, strconv.FormatInt(it.ID, 10)+"-"+it.Hash[:16]+"-"+strconv.Itoa(size)+".jpg"), nil
}

// get returns the path of the thumbnail of it at size, making it when
// absent. Concurrent requests for the same thumbnail make it once.
func (c *thumbCache) get(ctx context.Context, it engine.ItemInfo, size int) (string, error) {
	p, err := c.path(it, size)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	c.mu.Lock()
	f, ok := c.inflight[p]
	if !ok {
		f = &thumbFlight{done: make(chan struct{})}
		c.inflight[p] = f
		go func() {
			// Detached from ctx: a client that leaves does not waste the
			// work others may be waiting for.
			f.err = c.make(context.WithoutCancel(ctx), it, size, p)
			c.mu.Lock()
			delete(c.inflight, p)
			c.mu.Unlock()
			close(f.done)
		}()
	}
	c.mu.Unlock()
	select {
	case <-f.done:
		return p, f.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// Prune removes the thumbnails of items that are no longer in lib, or whose
// content changed since the thumbnail was made, and leftovers of
// interrupted writes. Other files in the folder are left alone. It returns
// how many files it removed.
func (c *thumbCache) prune(ctx context.Context, lib Library) (int, error) {
	entries, err := os.ReadDir(c.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("prune thumbnails: %w", err)
	}
	removed := 0
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		name := e.Name()
		if !e.Type().IsRegular() {
			continue
		}
		stale := false
		if strings.HasPrefix(name, ".thumb-") && strings.HasSuffix(name, ".tmp") {
			stale = true // an interrupted write; a live one is younger than a minute
			if fi, err := e.Info(); err != nil || time.Since(fi.ModTime()) < time.Minute {
				continue
			}
		} else if id, hash, ok := parseThumbName(name); ok {
			it, err := lib.Item(ctx, id)
			switch {
			case errors.Is(err, engine.ErrNoItem):
				stale = true
			case err != nil:
				return removed, fmt.Errorf("prune thumbnails: %w", err)
			default:
				stale = !strings.HasPrefix(it.Hash, hash)
			}
		}
		if stale {
			if err := os.Remove(filepath.Join(c.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return removed, fmt.Errorf("prune thumbnails: %w", err)
			}
			removed++
		}
	}
	return removed, nil
}

// parseThumbName reads "ID-HASH16-SIZE.jpg", the names path makes for
// thumbnails and previews.
func parseThumbName(name string) (id int64, hash string, ok bool) {
	base, found := strings.CutSuffix(name, ".jpg")
	if !found {
		return 0, "", false
	}
	parts := strings.Split(base, "-")
	if len(parts) != 3 || len(parts[1]) != 16 {
		return 0, "", false
	}
	id, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil || id <= 0 {
		return 0, "", false
	}
	if _, err := hex.DecodeString(parts[1]); err != nil {
		return 0, "", false
	}
	if size, err := strconv.Atoi(parts[2]); err != nil || (!validThumbSize(size) && size != previewSize) {
		return 0, "", false
	}
	return id, parts[1], true
}

// make decodes the item's file, resizes it to fit size×size, flattens
// transparency onto white and writes a JPEG atomically. The decode and
// resize run within the library's decode memory budget, at reduced
// resolution where the format allows.
func (c *thumbCache) make(ctx context.Context, it engine.ItemInfo, size int, dst string) error {
	c.sem <- struct{}{}
	defer func() { <-c.sem }()
	data, err := readIndexedFile(it)
	if err != nil {
		return err
	}
	th, err := c.lib.Thumbnail(ctx, data, filepath.Base(it.Path), size)
	if err != nil {
		return fmt.Errorf("thumbnail of item %d: %w", it.ID, err)
	}
	flat := imageproc.OnWhite(th)
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return fmt.Errorf("thumbnail folder: %w", err)
	}
	err = atomicfile.Write(dst, 0o644, func(w *bufio.Writer) error {
		return jpeg.Encode(w, flat, &jpeg.Options{Quality: 85})
	})
	if err != nil {
		return fmt.Errorf("thumbnail of item %d: %w", it.ID, err)
	}
	return nil
}

// errStale reports an indexed file that changed or vanished since indexing.
var errStale = errors.New("the file changed since it was indexed; run 'mmsearch index' again")

// openIndexedFile opens the file of an indexed item and checks that it is
// still the file that was indexed: a regular file of the recorded size whose
// SHA-256 is the recorded hash. The returned file is positioned at its start.
// With readIndexedFile, this is the only way the server reads a file named
// by the library.
func openIndexedFile(it engine.ItemInfo) (*os.File, os.FileInfo, error) {
	f, fi, err := openSized(it)
	if err != nil {
		return nil, nil, err
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.LimitReader(f, it.Size)); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("item %d: %w", it.ID, err)
	}
	if hex.EncodeToString(h.Sum(nil)) != it.Hash {
		f.Close()
		return nil, nil, staleError(it, "content differs")
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("item %d: %w", it.ID, err)
	}
	return f, fi, nil
}

// readIndexedFile reads an indexed item's file whole, checked like
// openIndexedFile.
func readIndexedFile(it engine.ItemInfo) ([]byte, error) {
	f, _, err := openSized(it)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data := make([]byte, it.Size)
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, staleError(it, "cannot read the whole file")
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != it.Hash {
		return nil, staleError(it, "content differs")
	}
	return data, nil
}

// openSized opens an item's file and checks that it is a regular file of
// the recorded size.
func openSized(it engine.ItemInfo) (*os.File, os.FileInfo, error) {
	// Stat before opening, so a FIFO put in the file's place cannot block.
	if fi, err := os.Stat(it.Path); err == nil && !fi.Mode().IsRegular() {
		return nil, nil, staleError(it, "not a regular file")
	}
	f, err := os.Open(it.Path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, staleError(it, "file is gone")
		}
		return nil, nil, fmt.Errorf("item %d: %w", it.ID, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("item %d: %w", it.ID, err)
	}
	if !fi.Mode().IsRegular() || fi.Size() != it.Size {
		f.Close()
		return nil, nil, staleError(it, "size differs")
	}
	return f, fi, nil
}

func staleError(it engine.ItemInfo, why string) error {
	return &APIError{Status: http.StatusConflict, Code: CodeStale,
		Message: fmt.Sprintf("item %d: %s: %v", it.ID, why, errStale)}
}
