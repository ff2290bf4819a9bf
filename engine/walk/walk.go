// Package walk lists the files under a set of folders for indexing.
//
// It follows symbolic links to files and to folders, notices links that
// lead back into a folder being walked (and folders reached twice), skips
// hidden names unless asked not to, and reports every problem with a single
// path (an unreadable folder, a broken link, a loop) to a callback instead
// of stopping. It does not look at file names' extensions: whether a file is
// an image is decided later from its contents. It skips things that are not
// regular files (sockets, devices, named pipes) and folders it is told to
// keep out of (a library's own folder, a cache), and says so to a second
// callback.
//
// Order is deterministic: roots in the order given; inside a folder, entries
// in byte order of their names, depth first. Folders reached through a
// symbolic link are walked after everything reachable without one, so a
// folder reachable both ways is listed under its real path and the link is
// reported as a repeat.
package walk

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Errors reported to Options.OnError, to be tested with errors.Is.
var (
	// ErrSymlinkLoop: a link leads back into a folder that contains it, or
	// a chain of links never ends.
	ErrSymlinkLoop = errors.New("symbolic link loop")
	// ErrAlreadyVisited: a folder was reached a second time by another path
	// (through a link, or an overlapping root); its files were listed once.
	ErrAlreadyVisited = errors.New("folder already walked")
	// ErrNotRegular: a root is neither a regular file nor a folder; passed
	// to Options.OnSkip for such entries inside a folder.
	ErrNotRegular = errors.New("not a regular file or folder")
	// ErrExcluded: a folder in Options.Exclude, or a path inside one; passed
	// to Options.OnSkip.
	ErrExcluded = errors.New("excluded folder")
)

// File is a regular file found by Walk.
type File struct {
	// Path is absolute and clean, as reached (through links, not resolved).
	Path string
	// Size is the size in bytes.
	Size int64
	// ModTimeNs is the modification time in nanoseconds since 1970.
	ModTimeNs int64
	// Dev and Ino identify the file on its device (0 where the system does
	// not say). Hard links and links to the same file share them.
	Dev, Ino uint64
}

// Options tunes Walk.
type Options struct {
	// IncludeHidden also walks files and folders whose names start with
	// '.'. A root is walked even when hidden.
	IncludeHidden bool
	// OnError is called, in walk order, with a path that could not be walked
	// and why; the walk goes on. Nil ignores such problems.
	OnError func(path string, err error)
	// Exclude lists folders that are never walked, however they are
	// reached: as a root or inside one, under another name or through a
	// link (they are matched by identity, and roots also by real path).
	// Folders that do not exist are ignored.
	Exclude []string
	// OnSkip is called, in walk order, with a path that was passed over on
	// purpose and why: ErrNotRegular (a named pipe, socket or device inside
	// a folder) or ErrExcluded. Nil ignores them.
	OnSkip func(path string, why error)
	// Ignore, when set, is asked about every file and folder below a root
	// (never a root itself; isDir as followed through links): true leaves
	// the file out, or the folder unwalked, silently (exclude patterns).
	Ignore func(path string, isDir bool) bool
}

// RevisitError reports a folder reached a second time. errors.Is matches it
// with ErrSymlinkLoop when Path lies inside First, and with ErrAlreadyVisited
// otherwise.
type RevisitError struct {
	// Path is where the folder was reached again.
	Path string
	// First is where it was walked.
	First string
}

// Loop reports whether Path is inside First: following it would go round.
func (e *RevisitError) Loop() bool {
	return e.First == "/" || strings.HasPrefix(e.Path, e.First+string(filepath.Separator))
}

// Error says which folder it is and where it was walked.
func (e *RevisitError) Error() string {
	if e.Loop() {
		return fmt.Sprintf("%s: leads back to %q, which contains it", ErrSymlinkLoop, e.First)
	}
	return fmt.Sprintf("%s as %q", ErrAlreadyVisited, e.First)
}

// Unwrap returns ErrSymlinkLoop or ErrAlreadyVisited.
func (e *RevisitError) Unwrap() error {
	if e.Loop() {
		return ErrSymlinkLoop
	}
	return ErrAlreadyVisited
}

// Walk calls fn for every regular file under the roots (a root that is a
// file is passed as is, even when hidden). It returns nil when the walk is
// complete, ctx.Err() when ctx ends, and an error fn returns, as is, except
// fs.SkipAll, which ends the walk early with nil. Problems with single paths
// go to opts.OnError and do not stop the walk.
func Walk(ctx context.Context, roots []string, opts Options, fn func(File) error) error {
	w := &walker{ctx: ctx, opts: opts, fn: fn, visited: make(map[fileID]string), excluded: make(map[fileID]bool)}
	for _, ex := range opts.Exclude {
		abs, err := filepath.Abs(ex)
		if err != nil {
			continue
		}
		fi, err := os.Stat(abs)
		if err != nil || !fi.IsDir() {
			continue
		}
		if id, ok := idOf(fi); ok {
			w.excluded[id] = true
		}
		if real, err := filepath.EvalSymlinks(abs); err == nil {
			w.excludedPaths = append(w.excludedPaths, real)
		}
	}
	err := w.run(roots)
	if errors.Is(err, fs.SkipAll) {
		return nil
	}
	return err
}

type walker struct {
	ctx     context.Context
	opts    Options
	fn      func(File) error
	visited map[fileID]string // folders walked, by identity: where
	linked  []string          // folders reached through links, walked last

	excluded      map[fileID]bool // Options.Exclude, by identity
	excludedPaths []string        // Options.Exclude, real paths
}

func (w *walker) report(path string, err error) {
	if w.opts.OnError != nil {
		w.opts.OnError(path, err)
	}
}

func (w *walker) skip(path string, why error) {
	if w.opts.OnSkip != nil {
		w.opts.OnSkip(path, why)
	}
}

// insideExcluded reports whether the real path of abs is an excluded folder
// or inside one.
func (w *walker) insideExcluded(abs string) bool {
	if len(w.excludedPaths) == 0 {
		return false
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return false
	}
	for _, ex := range w.excludedPaths {
		if real == ex || strings.HasPrefix(real, strings.TrimSuffix(ex, string(filepath.Separator))+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

func (w *walker) run(roots []string) error {
	seen := make(map[string]bool, len(roots))
	for _, root := range roots {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		abs, err := filepath.Abs(root)
		if err != nil {
			w.report(root, fmt.Errorf("absolute path: %w", err))
			continue
		}
		if seen[abs] {
			continue
		}
		seen[abs] = true
		if w.insideExcluded(abs) {
			w.skip(abs, ErrExcluded)
			continue
		}
		fi, err := os.Stat(abs)
		if err != nil {
			w.report(abs, w.statError(abs, err))
			continue
		}
		switch {
		case fi.IsDir():
			err = w.dir(abs, fi)
		case fi.Mode().IsRegular():
			err = w.file(abs, fi)
		default:
			w.report(abs, fmt.Errorf("%w (%v)", ErrNotRegular, fi.Mode().Type()))
		}
		if err != nil {
			return err
		}
	}
	// Folders reached through links; walking them may find more.
	for len(w.linked) > 0 {
		path := w.linked[0]
		w.linked = w.linked[1:]
		if err := w.ctx.Err(); err != nil {
			return err
		}
		fi, err := os.Stat(path)
		if err != nil {
			w.report(path, w.statError(path, err))
			continue
		}
		if !fi.IsDir() { // changed under our feet
			continue
		}
		if err := w.dir(path, fi); err != nil {
			return err
		}
	}
	return nil
}

// statError describes why following path failed.
func (w *walker) statError(path string, err error) error {
	if isLoop(err) {
		return fmt.Errorf("%w: %w", ErrSymlinkLoop, err)
	}
	if errors.Is(err, fs.ErrNotExist) {
		if target, lerr := os.Readlink(path); lerr == nil {
			return fmt.Errorf("broken symbolic link to %q: %w", target, fs.ErrNotExist)
		}
	}
	return err
}

func (w *walker) file(path string, fi fs.FileInfo) error {
	id, _ := idOf(fi)
	return w.fn(File{Path: path, Size: fi.Size(), ModTimeNs: fi.ModTime().UnixNano(), Dev: id.dev, Ino: id.ino})
}

// dir walks the folder at path, whose (followed) info is fi.
func (w *walker) dir(path string, fi fs.FileInfo) error {
	if id, ok := idOf(fi); ok {
		if w.excluded[id] {
			w.skip(path, ErrExcluded)
			return nil
		}
		if first, seen := w.visited[id]; seen {
			w.report(path, &RevisitError{Path: path, First: first})
			return nil
		}
		w.visited[id] = path
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		// Entries read before the failure are still walked.
		w.report(path, fmt.Errorf("read folder: %w", err))
	}
	for _, e := range entries {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		name := e.Name()
		if !w.opts.IncludeHidden && strings.HasPrefix(name, ".") {
			continue
		}
		child := filepath.Join(path, name)
		typ := e.Type()
		switch {
		case typ&fs.ModeSymlink != 0:
			cfi, err := os.Stat(child)
			if err != nil {
				w.report(child, w.statError(child, err))
				continue
			}
			if w.ignored(child, cfi.IsDir()) {
				continue
			}
			switch {
			case cfi.IsDir():
				w.linked = append(w.linked, child)
			case cfi.Mode().IsRegular():
				if err := w.file(child, cfi); err != nil {
					return err
				}
			default:
				w.skip(child, fmt.Errorf("%w (a link to a %s)", ErrNotRegular, typeName(cfi.Mode().Type())))
			}
		case typ.IsDir():
			cfi, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed since the folder was read
			}
			if err != nil {
				w.report(child, err)
				continue
			}
			if w.ignored(child, true) {
				continue
			}
			if err := w.dir(child, cfi); err != nil {
				return err
			}
		case typ.IsRegular():
			cfi, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				w.report(child, err)
				continue
			}
			if w.ignored(child, false) {
				continue
			}
			if err := w.file(child, cfi); err != nil {
				return err
			}
		default: // a socket, device or named pipe
			w.skip(child, fmt.Errorf("%w (a %s)", ErrNotRegular, typeName(typ)))
		}
	}
	return nil
}

// typeName names the kind of a file that is neither regular nor a folder.
func typeName(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "device"
	case m&fs.ModeIrregular != 0:
		return "file of unknown type"
	}
	return m.String()
}

func (w *walker) ignored(path string, isDir bool) bool {
	return w.opts.Ignore != nil && w.opts.Ignore(path, isDir)
}

// fileID identifies a file on its device.
type fileID struct{ dev, ino uint64 }
