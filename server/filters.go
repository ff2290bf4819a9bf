package server

import (
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"mmsearch/engine"
)

// FilterParams are the filter and ordering parameters of every search
// endpoint: URL query parameters of these names, or, in the JSON body of
// POST /api/search, fields of the same names. Dates without a zone are in
// the server's local time.
type FilterParams struct {
	// After and Before bound the capture time (EXIF, else the file's
	// modification time): YYYY, YYYY-MM, YYYY-MM-DD,
	// YYYY-MM-DDTHH:MM[:SS] or RFC 3339. After is inclusive, Before not.
	After  string `json:"after,omitempty"`
	Before string `json:"before,omitempty"`
	// Camera keeps items whose camera make or model contains it.
	Camera string `json:"camera,omitempty"`
	// Format is a comma-separated list of formats ("jpeg,heic").
	Format string `json:"format,omitempty"`
	// MinPixels keeps items with at least this many pixels.
	MinPixels int64 `json:"min_pixels,omitempty"`
	// Path keeps items whose path starts with it, in the form the API shows
	// paths (with hidden paths: a root's name first). Prefix is its older
	// name; give one of them.
	Path   string `json:"path,omitempty"`
	Prefix string `json:"prefix,omitempty"`
	// MinScore drops results scoring below it.
	MinScore *float64 `json:"min_score,omitempty"`
	// Sort is "score" (default) or "date".
	Sort string `json:"sort,omitempty"`
}

// filterParams reads FilterParams from a URL query.
func filterParams(q url.Values) (FilterParams, error) {
	p := FilterParams{After: q.Get("after"), Before: q.Get("before"), Camera: q.Get("camera"), Format: q.Get("format"),
		Path: q.Get("path"), Prefix: q.Get("prefix"), Sort: q.Get("sort")}
	if v := q.Get("min_pixels"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return p, badRequest("min_pixels must be a whole number, not %q", v)
		}
		p.MinPixels = n
	}
	if v := q.Get("min_score"); v != "" {
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return p, badRequest("min_score must be a finite number, not %q", v)
		}
		p.MinScore = &x
	}
	return p, nil
}

// applyFilters checks p and sets opt's filter, minimum score and order.
func (s *Server) applyFilters(p FilterParams, opt *engine.SearchOptions) error {
	for _, f := range []struct{ name, v string }{{"after", p.After}, {"before", p.Before}, {"camera", p.Camera}, {"format", p.Format}, {"path", p.Path}, {"prefix", p.Prefix}, {"sort", p.Sort}} {
		if len(f.v) > engine.MaxFilterText || strings.ContainsRune(f.v, 0) {
			return badRequest("%s must be at most %d bytes without NUL", f.name, engine.MaxFilterText)
		}
	}
	var f engine.Filter
	var err error
	if p.After != "" {
		if f.After, err = engine.ParseDate(p.After, time.Local); err != nil {
			return badRequest("after: %s", filterMessage(err))
		}
	}
	if p.Before != "" {
		if f.Before, err = engine.ParseDate(p.Before, time.Local); err != nil {
			return badRequest("before: %s", filterMessage(err))
		}
	}
	if p.Format != "" {
		if f.Formats, err = engine.ParseFormats(p.Format); err != nil {
			return badRequest("format: %s", filterMessage(err))
		}
	}
	f.Camera, f.MinPixels = p.Camera, p.MinPixels
	path := p.Path
	if p.Prefix != "" {
		if path != "" && path != p.Prefix {
			return badRequest("path and prefix are the same filter; give one")
		}
		path = p.Prefix
	}
	abs, ok := s.paths.prefix(path)
	if !ok {
		return badRequest("path must start with the name of an indexed folder")
	}
	f.PathPrefix = abs
	if err := f.Validate(); err != nil {
		if f.MinPixels < 0 || f.MinPixels > engine.MaxMinPixels {
			return badRequest("min_pixels: %s", filterMessage(err))
		}
		return badRequest("%s", filterMessage(err))
	}
	opt.Filter = f
	if p.MinScore != nil {
		if opt.Mode != engine.ModeMul && (*p.MinScore < -1 || *p.MinScore > 1) {
			return badRequest("min_score %v can never be met: scores in add mode are cosine similarities in [-1, 1]", *p.MinScore)
		}
		x := float32(*p.MinScore)
		opt.MinScore = &x
	}
	if opt.Sort, err = engine.ParseSort(p.Sort); err != nil {
		return badRequest("sort: %s", filterMessage(err))
	}
	return nil
}

// filterMessage is an engine filter error without its "bad filter: ".
func filterMessage(err error) string {
	return strings.TrimPrefix(err.Error(), engine.ErrBadFilter.Error()+": ")
}
