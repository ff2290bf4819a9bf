package engine

import (
	"context"
	"errors"
	"fmt"
	"mmsearch/engine/catalog"
	"path/filepath"

	"mmsearch/engine/store"
)

// ErrNotInLibrary is returned by Forget for a path that names no item,
// failure or skipped file of the library, nor a folder holding one.
var ErrNotInLibrary = errors.New("not in the library")

// ForgetReport says what Forget removed.
type ForgetReport struct {
	Items   int `json:"items"`   // indexed items (files and their vectors)
	Errors  int `json:"errors"`  // failure records
	Skipped int `json:"skipped"` // skip records (videos, sidecars, ...)
}

// Forget removes every item, failure record and skip record at or under
// each of paths, in one transaction, then drops the items' vectors from the
// index. The files themselves are untouched; a later index run over a
// parent folder adds them back unless they are excluded. Every path must
// hold something (an error wrapping ErrNotInLibrary names the first that
// does not), and nothing is removed then.
func (l *Library) Forget(ctx context.Context, paths []string) (ForgetReport, error) {
	var rep ForgetReport
	if len(paths) == 0 {
		return rep, nil
	}
	lock, err := lockLibrary(l.dir)
	if err != nil {
		return rep, err
	}
	defer lock.unlock()
	abs := make([]string, 0, len(paths))
	for _, p := range paths {
		a, err := filepath.Abs(p)
		if err != nil {
			return rep, fmt.Errorf("forget %s: %w", p, err)
		}
		n, err := l.store.CountUnder(ctx, a)
		if err != nil {
			return rep, err
		}
		if n == 0 {
			return rep, fmt.Errorf("forget %s: %w", p, ErrNotInLibrary)
		}
		abs = append(abs, a)
	}
	if l.cat.ReadOnly() {
		return rep, fmt.Errorf("forget in %s: %w", l.dir, ErrReadOnly)
	}
	a, err := l.cat.Apply(ctx, catalog.Batch{ForgetUnder: abs})
	if err != nil {
		return rep, err
	}
	f := a.Forgotten
	rep = ForgetReport{Items: len(f.IDs), Errors: f.Errors, Skipped: f.Skipped}
	if err := l.cat.Checkpoint(context.WithoutCancel(ctx)); err != nil {
		return rep, fmt.Errorf("save index: %w", err)
	}
	return rep, nil
}

// Skipped lists the files skipped as not still images.
func (l *Library) Skipped(ctx context.Context) ([]store.SkippedFile, error) {
	return l.store.Skipped(ctx)
}
