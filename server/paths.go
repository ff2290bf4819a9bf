package server

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// Paths in answers.
//
// A loopback server without a token answers its own user, and shows the
// absolute paths of the indexed files and the library folder. A server for
// others (Config.HidePaths) shows each file's path relative to the indexed
// folder that holds it, under that folder's name: /home/ann/Photos/2024/a.jpg
// with the root /home/ann/Photos is "Photos/2024/a.jpg"; a file under no
// root shows its name alone; the library folder shows its name. The path
// prefix filter is read in the same form.

// pathView turns absolute paths into the form answers show.
type pathView struct {
	hide  bool
	roots []viewRoot // longest path first, so the innermost root wins
}

// viewRoot is an indexed folder and the name paths under it are shown with.
type viewRoot struct {
	dir, name string
}

// newPathView checks the roots: absolute (made so), cleaned, and with
// distinct names.
func newPathView(hide bool, roots []string) (pathView, error) {
	v := pathView{hide: hide}
	if !hide {
		if len(roots) > 0 {
			return v, fmt.Errorf("roots are only used to hide paths (HidePaths)")
		}
		return v, nil
	}
	names := map[string]string{}
	for _, r := range roots {
		abs, err := filepath.Abs(r)
		if err != nil {
			return v, fmt.Errorf("root %q: %w", r, err)
		}
		name := filepath.Base(abs)
		if abs == string(filepath.Separator) {
			name = ""
		}
		if prev, ok := names[name]; ok && prev != abs {
			return v, fmt.Errorf("roots %s and %s have the same name %q: paths under them could not be told apart", prev, abs, name)
		}
		names[name] = abs
		v.roots = append(v.roots, viewRoot{dir: abs, name: name})
	}
	slices.SortFunc(v.roots, func(a, b viewRoot) int { return len(b.dir) - len(a.dir) })
	return v, nil
}

// show returns the form of an indexed file's path an answer carries.
func (v pathView) show(p string) string {
	if !v.hide {
		return p
	}
	for _, r := range v.roots {
		if rel, ok := under(p, r.dir); ok {
			return filepath.ToSlash(filepath.Join(r.name, rel))
		}
	}
	return filepath.Base(p)
}

// library returns the form of the library folder an answer carries.
func (v pathView) library(dir string) string {
	if !v.hide {
		return dir
	}
	return filepath.Base(dir)
}

// prefix turns a path prefix filter from a request into the absolute prefix
// the library filters with. With hidden paths the prefix starts with a
// root's name ("Photos/2024/"); ok is false when it names no root.
func (v pathView) prefix(p string) (abs string, ok bool) {
	if !v.hide || p == "" {
		return p, true
	}
	slash := strings.HasSuffix(p, "/")
	p = filepath.FromSlash(strings.TrimPrefix(p, "/"))
	first, rest, _ := strings.Cut(p, string(filepath.Separator))
	for _, r := range v.roots {
		if r.name != first {
			continue
		}
		out := filepath.Join(r.dir, rest)
		if rel, inside := under(out, r.dir); !inside || strings.HasPrefix(rel, "..") {
			return "", false
		}
		if slash || rest == "" {
			out += string(filepath.Separator)
		}
		return out, true
	}
	return "", false
}

// under reports whether path p lies in folder dir and returns it relative
// to dir.
func under(p, dir string) (string, bool) {
	rel, err := filepath.Rel(dir, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", false
	}
	return rel, true
}
