// Package ignore decides which files and folders an ingest leaves out:
// gitignore-style patterns given on the command line (matched against the
// path relative to each root), a set of default patterns for the clutter
// photo folders collect (NAS thumbnails, version control, trash folders),
// and .mmsearchignore files, in any folder, whose patterns apply below that
// folder.
//
// Pattern syntax is gitignore's: blank lines and lines starting with '#'
// are ignored; '!' negates (re-includes); a trailing '/' matches folders
// only; a pattern with a '/' at its start or in its middle is anchored to
// the folder it belongs to (the root, or the .mmsearchignore's folder),
// otherwise it matches a name at any depth; '*' and '?' match within one
// path segment, '[...]' a class; '**' matches any number of segments. The
// last matching pattern wins, patterns of deeper .mmsearchignore files
// override shallower ones and those override --exclude and the defaults. As
// in git, nothing inside an excluded folder can be re-included: the walk
// never enters it.
package ignore

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"
)

// FileName is the name of per-folder ignore files.
const FileName = ".mmsearchignore"

// Defaults are the patterns excluded unless turned off: Synology thumbnail
// folders, version control, dependency folders, desktop thumbnail caches,
// macOS archive debris and trash folders.
var Defaults = []string{"@eaDir", ".git", "node_modules", ".thumbnails", "__MACOSX", ".Trash-*", "$RECYCLE.BIN"}

// Limits on input.
const (
	// MaxPatterns bounds the patterns given on the command line.
	MaxPatterns = 1000
	// MaxPatternLen bounds one pattern's length.
	MaxPatternLen = 4096
	// MaxFileBytes bounds a .mmsearchignore file; a larger one is an error.
	MaxFileBytes = 1 << 20
)

// rule is one compiled pattern.
type rule struct {
	src     string
	re      *regexp.Regexp
	negate  bool
	dirOnly bool
}

// compile turns one gitignore-style pattern into a rule. ok is false for
// blank lines and comments.
func compile(line string) (r rule, ok bool, err error) {
	if len(line) > MaxPatternLen {
		return r, false, fmt.Errorf("pattern of %d bytes, over the %d-byte limit", len(line), MaxPatternLen)
	}
	p := strings.TrimRight(line, "\r")
	// Trailing spaces are dropped unless escaped.
	for strings.HasSuffix(p, " ") && !strings.HasSuffix(p, "\\ ") {
		p = p[:len(p)-1]
	}
	if p == "" || strings.HasPrefix(p, "#") {
		return r, false, nil
	}
	r.src = p
	if strings.HasPrefix(p, "!") {
		r.negate, p = true, p[1:]
	} else if strings.HasPrefix(p, "\\!") || strings.HasPrefix(p, "\\#") {
		p = p[1:]
	}
	if strings.HasSuffix(p, "/") {
		r.dirOnly, p = true, strings.TrimRight(p, "/")
	}
	if p == "" {
		return r, false, fmt.Errorf("pattern %q matches nothing", line)
	}
	anchored := strings.Contains(p, "/")
	p = strings.TrimPrefix(p, "/")
	var re strings.Builder
	re.WriteString("^")
	if !anchored {
		re.WriteString("(?:.*/)?")
	}
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		last := i == len(segs)-1
		if seg == "**" {
			switch {
			case last && i == 0:
				re.WriteString(".*")
			case last:
				re.WriteString(".*") // "a/**": everything inside a
			default:
				re.WriteString("(?:.*/)?") // "**/" or "/**/": zero or more folders
			}
			continue
		}
		if err := globSegment(&re, seg); err != nil {
			return r, false, fmt.Errorf("pattern %q: %w", line, err)
		}
		if !last {
			re.WriteString("/")
		}
	}
	re.WriteString("$")
	r.re, err = regexp.Compile(re.String())
	if err != nil {
		return r, false, fmt.Errorf("pattern %q: %w", line, err)
	}
	return r, true, nil
}

// globSegment writes the regexp for one path segment of a glob.
func globSegment(b *strings.Builder, seg string) error {
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		switch c {
		case '*':
			for i+1 < len(seg) && seg[i+1] == '*' {
				i++
			}
			b.WriteString("[^/]*")
		case '?':
			b.WriteString("[^/]")
		case '\\':
			if i+1 < len(seg) {
				i++
				b.WriteString(regexp.QuoteMeta(seg[i : i+1]))
			}
		case '[':
			j := i + 1
			if j < len(seg) && (seg[j] == '!' || seg[j] == '^') {
				j++
			}
			if j < len(seg) && seg[j] == ']' {
				j++
			}
			for j < len(seg) && seg[j] != ']' {
				j++
			}
			if j >= len(seg) {
				return errors.New("unterminated [ class")
			}
			class := seg[i+1 : j]
			b.WriteString("[")
			if strings.HasPrefix(class, "!") || strings.HasPrefix(class, "^") {
				b.WriteString("^/")
				class = class[1:]
			}
			b.WriteString(strings.ReplaceAll(strings.ReplaceAll(class, `\`, `\\`), "[", `\[`))
			b.WriteString("]")
			i = j
		default:
			_, n := utf8.DecodeRuneInString(seg[i:])
			b.WriteString(regexp.QuoteMeta(seg[i : i+n]))
			i += n - 1
		}
	}
	return nil
}

// set is the rules of one source (the flags and defaults, or one
// .mmsearchignore), matched against paths relative to its folder.
type set struct {
	rules []rule
}

// match returns whether the set decides about rel and what: excluded.
func (s set) match(rel string, isDir bool) (decided, excluded bool) {
	for i := len(s.rules) - 1; i >= 0; i-- {
		r := s.rules[i]
		if r.dirOnly && !isDir {
			continue
		}
		if r.re.MatchString(rel) {
			return true, !r.negate
		}
	}
	return false, false
}

// Options configures a Matcher.
type Options struct {
	// Patterns are --exclude patterns, relative to each root.
	Patterns []string
	// NoDefaults turns the Defaults off.
	NoDefaults bool
	// NoFiles ignores .mmsearchignore files.
	NoFiles bool
	// OnError is told about a .mmsearchignore that cannot be read or has a
	// bad pattern (its good patterns still apply). Nil ignores them.
	OnError func(path string, err error)
}

// Matcher answers whether a path under one of its roots is excluded. It is
// safe for concurrent use; .mmsearchignore files are read once each.
type Matcher struct {
	roots  []string
	global []rule
	opt    Options

	mu    sync.Mutex
	files map[string][]rule // folder → rules of its .mmsearchignore (nil: none)
}

// New compiles the patterns for the given absolute roots. A bad pattern is
// an error naming it.
func New(roots []string, opt Options) (*Matcher, error) {
	if len(opt.Patterns) > MaxPatterns {
		return nil, fmt.Errorf("exclude: %d patterns, over the limit of %d", len(opt.Patterns), MaxPatterns)
	}
	m := &Matcher{opt: opt, files: map[string][]rule{}}
	for _, r := range roots {
		m.roots = append(m.roots, filepath.Clean(r))
	}
	var pats []string
	if !opt.NoDefaults {
		pats = append(pats, Defaults...)
	}
	pats = append(pats, opt.Patterns...)
	for _, p := range pats {
		r, ok, err := compile(p)
		if err != nil {
			return nil, fmt.Errorf("exclude: %w", err)
		}
		if !ok {
			return nil, fmt.Errorf("exclude: pattern %q is empty or a comment", p)
		}
		m.global = append(m.global, r)
	}
	return m, nil
}

// root returns the longest root that path is, or lies under.
func (m *Matcher) root(path string) (string, bool) {
	best, found := "", false
	for _, r := range m.roots {
		if within(path, r) && len(r) >= len(best) {
			best, found = r, true
		}
	}
	return best, found
}

// within reports whether path is dir or lies below it.
func within(path, dir string) bool {
	if path == dir {
		return true
	}
	if dir == string(filepath.Separator) {
		return strings.HasPrefix(path, dir)
	}
	return strings.HasPrefix(path, dir+string(filepath.Separator))
}

func rel(base, path string) string {
	r := strings.TrimPrefix(strings.TrimPrefix(path, base), string(filepath.Separator))
	return filepath.ToSlash(r)
}

// Excluded reports whether the entry at path (absolute, clean), a folder
// when isDir, is excluded by the patterns that apply to it. Its parent
// folders are not checked (the walk never enters excluded folders); see
// Covers. A root itself is never excluded.
func (m *Matcher) Excluded(path string, isDir bool) bool {
	root, ok := m.root(path)
	if !ok || path == root {
		return false
	}
	_, ex := set{rules: m.global}.match(rel(root, path), isDir)
	// .mmsearchignore files from the root down to the entry's folder.
	parent := filepath.Dir(path)
	var dirs []string
	for d := parent; within(d, root); d = filepath.Dir(d) {
		dirs = append(dirs, d)
		if d == root || d == filepath.Dir(d) {
			break
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if decided, e := (set{rules: m.fileRules(dirs[i])}).match(rel(dirs[i], path), isDir); decided {
			ex = e
		}
	}
	return ex
}

// Covers reports whether path, or any folder between its root and it, is
// excluded: whether a walk would leave it out.
func (m *Matcher) Covers(path string) bool {
	root, ok := m.root(path)
	if !ok {
		return false
	}
	var chain []string
	for d := filepath.Dir(path); within(d, root) && d != root; d = filepath.Dir(d) {
		chain = append(chain, d)
	}
	for i := len(chain) - 1; i >= 0; i-- {
		if m.Excluded(chain[i], true) {
			return true
		}
	}
	return m.Excluded(path, false)
}

// fileRules returns the rules of dir's .mmsearchignore, reading it once.
func (m *Matcher) fileRules(dir string) []rule {
	if m.opt.NoFiles {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if rs, ok := m.files[dir]; ok {
		return rs
	}
	rs, err := readFile(filepath.Join(dir, FileName))
	if err != nil && m.opt.OnError != nil {
		m.opt.OnError(filepath.Join(dir, FileName), err)
	}
	m.files[dir] = rs
	return rs
}

// readFile reads an ignore file; a missing file has no rules. Bad lines are
// reported together, the good ones kept.
func readFile(path string) ([]rule, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("over the %d-byte limit for ignore files; none of its patterns apply", MaxFileBytes)
	}
	var (
		rules []rule
		errs  []error
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), MaxFileBytes)
	for n := 1; sc.Scan(); n++ {
		r, ok, err := compile(sc.Text())
		if err != nil {
			errs = append(errs, fmt.Errorf("line %d: %w", n, err))
			continue
		}
		if ok {
			rules = append(rules, r)
		}
	}
	return rules, errors.Join(errs...)
}
