package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"mmsearch/engine"
	"mmsearch/engine/query"
)

// Limits of a search --batch input.
const (
	// maxBatchQueries bounds the queries of one batch.
	maxBatchQueries = 100_000
	// maxBatchLine bounds one line of a batch, in bytes.
	maxBatchLine = 64 << 10
	// maxBatchID bounds the "id" a JSON line may carry, in bytes.
	maxBatchID = 1024
)

// batchLine is a JSON line of a search --batch input: the query and, for
// this query only, the options that differ from the command line's.
type batchLine struct {
	// ID is echoed back in the answer, so that callers can match answers
	// to queries without counting lines.
	ID            json.RawMessage `json:"id,omitempty"`
	Q             *string         `json:"q"`
	K             *int            `json:"k"`
	Ef            *int            `json:"ef"`
	Mode          *string         `json:"mode"`
	IncludeInputs *bool           `json:"include_inputs"`
	After         *string         `json:"after"`
	Before        *string         `json:"before"`
	Camera        *string         `json:"camera"`
	Format        *string         `json:"format"`
	MinPixels     *int64          `json:"min_pixels"`
	Path          *string         `json:"path"`
	Prefix        *string         `json:"prefix"`
	MinScore      *float64        `json:"min_score"`
	Sort          *string         `json:"sort"`
}

// batchAnswer is one line of search --batch's output: the search result,
// or the error of that one query.
type batchAnswer struct {
	// Line is the query's line number in the input, from 1.
	Line int             `json:"line"`
	ID   json.RawMessage `json:"id,omitempty"`
	// Query is the query as given (it hides the result's, which is the
	// same).
	Query string `json:"query"`
	*engine.SearchResult
	Error *batchError `json:"error,omitempty"`
}

// batchError is why one query of a batch was not answered.
type batchError struct {
	// Code is "bad_query" (the query, one of its options or the line is
	// wrong: exit 2 at the end) or "failed" (anything else: exit 1).
	Code    string `json:"code"`
	Message string `json:"message"`
	// Position and Length mark a syntax error in the query, in bytes.
	Position *int `json:"position,omitempty"`
	Length   int  `json:"length,omitempty"`
}

// Codes of batchError.
const (
	batchBadQuery = "bad_query"
	batchFailed   = "failed"
)

// searchDefaults are the command line's options, which every query of a
// batch starts from.
type searchDefaults struct {
	k       int
	ef      int
	mode    engine.Mode
	include bool
	filters filterFlags
	home    string
}

// options applies a JSON line's fields over the defaults; a bad value is
// an error naming its field.
func (d *searchDefaults) options(l *batchLine) (engine.SearchOptions, error) {
	k, ef, mode, include, ff := d.k, d.ef, d.mode, d.include, d.filters
	if l.K != nil {
		if *l.K < 1 || *l.K > maxK {
			return engine.SearchOptions{}, fmt.Errorf("k %d out of range: want 1..%d", *l.K, maxK)
		}
		k = *l.K
	}
	if l.Ef != nil {
		if *l.Ef < 1 || *l.Ef > maxEf {
			return engine.SearchOptions{}, fmt.Errorf("ef %d out of range: want 1..%d", *l.Ef, maxEf)
		}
		ef = *l.Ef
	}
	if l.Mode != nil {
		if err := mode.Set(*l.Mode); err != nil {
			return engine.SearchOptions{}, fmt.Errorf("mode: %w", err)
		}
	}
	if l.IncludeInputs != nil {
		include = *l.IncludeInputs
	}
	if l.Path != nil && l.Prefix != nil && *l.Path != *l.Prefix {
		return engine.SearchOptions{}, errors.New("path and prefix are the same filter; give one")
	}
	if l.Path == nil {
		l.Path = l.Prefix
	}
	for _, f := range []struct {
		name string
		v    *string
		to   interface{ Set(string) error }
	}{
		{"after", l.After, &ff.after}, {"before", l.Before, &ff.before}, {"format", l.Format, &ff.formats},
		{"path", l.Path, &ff.path}, {"sort", l.Sort, &ff.sort},
	} {
		if f.v == nil {
			continue
		}
		if err := f.to.Set(*f.v); err != nil {
			return engine.SearchOptions{}, fmt.Errorf("%s: %w", f.name, err)
		}
	}
	if l.Camera != nil {
		ff.camera = *l.Camera
	}
	if l.MinPixels != nil {
		if *l.MinPixels < 0 || *l.MinPixels > engine.MaxMinPixels {
			return engine.SearchOptions{}, fmt.Errorf("min_pixels %d out of range: want 0..%d", *l.MinPixels, int64(engine.MaxMinPixels))
		}
		ff.minPixels = int(*l.MinPixels)
	}
	if l.MinScore != nil {
		ff.minScore = scoreFlag{x: *l.MinScore, set: true}
	}
	opt := engine.SearchOptions{K: k, Ef: ef, Mode: mode, IncludeInputs: include,
		Home: d.home, AllowPaths: true, AllowURLs: true}
	if err := ff.apply(&opt); err != nil {
		return engine.SearchOptions{}, errors.Unwrap(err)
	}
	return opt, nil
}

// parseBatchLine reads one line of a batch: a JSON object when it starts
// with "{", else the query itself. skip reports a blank line or a comment
// ("#" first), which asks nothing.
func parseBatchLine(line []byte) (l batchLine, skip bool, err error) {
	t := bytes.TrimSpace(line)
	if len(t) == 0 || t[0] == '#' {
		return l, true, nil
	}
	if t[0] != '{' {
		q := string(t)
		l.Q = &q
		return l, false, nil
	}
	dec := json.NewDecoder(bytes.NewReader(t))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return l, false, fmt.Errorf("bad JSON line: %w", err)
	}
	if dec.More() {
		return l, false, errors.New("bad JSON line: more than one JSON value")
	}
	if len(l.ID) > maxBatchID {
		return l, false, fmt.Errorf("id is %d bytes long; the limit is %d", len(l.ID), maxBatchID)
	}
	if l.Q == nil || strings.TrimSpace(*l.Q) == "" {
		return l, false, errors.New(`a JSON line needs a non-empty "q"`)
	}
	return l, false, nil
}

// batchSearcher is what a batch needs of a library.
type batchSearcher interface {
	Search(ctx context.Context, expr string, opt engine.SearchOptions) (*engine.SearchResult, error)
}

// batchStats counts a batch's outcomes.
type batchStats struct {
	queries, answered, bad, failed int
}

// runBatch answers the queries of in, one JSON line out for each, in
// order, with the library opened once. A bad or failing query gets an
// error line and the batch goes on; an empty library or a broken input
// ends it.
func runBatch(ctx context.Context, lib batchSearcher, in io.Reader, out, stderr io.Writer, d *searchDefaults) (batchStats, error) {
	var st batchStats
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), maxBatchLine)
	w := bufio.NewWriter(out)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for n := 1; sc.Scan(); n++ {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		l, skip, err := parseBatchLine(sc.Bytes())
		if skip {
			continue
		}
		if st.queries++; st.queries > maxBatchQueries {
			return st, usagef("batch: more than %d queries", maxBatchQueries)
		}
		a := batchAnswer{Line: n, ID: l.ID}
		if l.Q != nil {
			a.Query = *l.Q
		}
		var opt engine.SearchOptions
		if err == nil {
			opt, err = d.options(&l)
		}
		if err != nil {
			err = lineError{err}
		}
		if err == nil {
			a.SearchResult, err = lib.Search(ctx, a.Query, opt)
		}
		switch {
		case err == nil:
			st.answered++
		case errors.Is(err, engine.ErrEmptyLibrary):
			w.Flush()
			return st, fmt.Errorf("%w: %w", errNotFound, err)
		case ctx.Err() != nil:
			w.Flush()
			return st, ctx.Err()
		default:
			a.SearchResult = nil
			a.Error = batchErrorOf(err)
			if a.Error.Code == batchBadQuery {
				st.bad++
			} else {
				st.failed++
			}
			fmt.Fprintf(stderr, "mmsearch: batch line %d: %s\n", n, err)
		}
		if err := enc.Encode(a); err != nil {
			return st, err
		}
		if err := w.Flush(); err != nil {
			return st, err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return st, usagef("batch: a line is longer than %d bytes", maxBatchLine)
		}
		return st, fmt.Errorf("batch: read the queries: %w", err)
	}
	return st, nil
}

// batchErrorOf classifies the error of one query: anything the caller can
// fix in the line is a bad query.
func batchErrorOf(err error) *batchError {
	e := &batchError{Code: batchFailed, Message: err.Error()}
	var se *query.SyntaxError
	switch {
	case errors.As(err, &se):
		e.Code = batchBadQuery
		pos := se.Pos
		e.Position, e.Length = &pos, se.Len
	case errors.Is(err, engine.ErrBadFilter), errors.Is(err, engine.ErrNoCameraData), errors.As(err, new(lineError)):
		e.Code = batchBadQuery
	}
	return e
}

// lineError marks an error of a batch line's form or options.
type lineError struct{ err error }

func (e lineError) Error() string { return e.err.Error() }
func (e lineError) Unwrap() error { return e.err }

// searchBatch is search --batch FILE: it opens the input ("-" is the
// standard input) and answers it, and its exit status sums the batch up.
func searchBatch(ctx context.Context, e *env, lib batchSearcher, file string, d *searchDefaults) error {
	var in io.Reader = e.stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return usagef("--batch: %w", err)
		}
		defer f.Close()
		in = f
	}
	st, err := runBatch(ctx, lib, in, e.stdout, e.stderr, d)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "batch: %d queries, %d answered, %d bad, %d failed\n", st.queries, st.answered, st.bad, st.failed)
	switch {
	case st.failed > 0:
		return fmt.Errorf("batch: %d of %d queries failed", st.failed, st.queries)
	case st.bad > 0:
		return usagef("batch: %d of %d queries were refused", st.bad, st.queries)
	}
	return nil
}
