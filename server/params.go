package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"mmsearch/engine"
	"mmsearch/engine/query"
)

// paramType is a parameter's type in the OpenAPI sense.
type paramType string

// Parameter types.
const (
	tString  paramType = "string"
	tInteger paramType = "integer"
	tNumber  paramType = "number"
	tBoolean paramType = "boolean"
)

// param is one request parameter: its documentation, its checks and, for
// search parameters, where its value goes.
type param struct {
	name string
	in   string // "query" or "path"
	typ  paramType
	doc  string
	// min and max bound numbers when bounded is set.
	min, max float64
	bounded  bool
	// maxLen bounds a string's length in bytes (0: no bound of its own).
	maxLen int
	// enum lists the allowed values, when there is such a list.
	enum []string
	// def is the value used when the parameter is left out (documentation).
	def any
	// required parameters must be given.
	required bool
	// checkedLater marks bounds and values that are documented here but
	// checked where the value is used, with that check's own message
	// (the filters: applyFilters).
	checkedLater bool
	// example is a valid value (the route check test sends it).
	example string
	// set stores a checked value (string, int, float64 or bool by typ)
	// into a search request; search parameters only.
	set func(in *searchInput, v any)
}

// searchInput collects the search parameters of one request.
type searchInput struct {
	q              string
	hasQ           bool
	k, limit, ef   int // 0: left out
	offset         int
	mode           string
	includeInputs  bool
	filters        FilterParams
	given          map[string]bool
	hasK, hasLimit bool
}

// searchParams are the parameters of the search endpoints, in GET query
// strings, POST /api/search JSON bodies and POST /api/search/image URLs
// alike. To add a filter, add its entry here (with its bounds) and read it
// in searchOptions: the handlers, the checks and the OpenAPI document all
// follow this list.
func (s *Server) searchParams() []param {
	return []param{
		{name: "q", in: "query", typ: tString, maxLen: query.DefaultMaxBytes, example: "red car",
			doc: `the query: text, @ID items and, with uploads, $upload/$uploadN, combined with + and - ("@12 - \"dog\" + \"cat\"")`,
			set: func(in *searchInput, v any) { in.q, in.hasQ = v.(string), true }},
		{name: "limit", in: "query", typ: tInteger, min: 1, max: float64(s.cfg.MaxK), bounded: true, def: DefaultK, example: "5",
			doc: "the number of results in this page",
			set: func(in *searchInput, v any) { in.limit, in.hasLimit = v.(int), true }},
		{name: "k", in: "query", typ: tInteger, min: 1, max: float64(s.cfg.MaxK), bounded: true, def: DefaultK, example: "5",
			doc: "the same as limit (the older name); give one of them, or both with the same value",
			set: func(in *searchInput, v any) { in.k, in.hasK = v.(int), true }},
		{name: "offset", in: "query", typ: tInteger, min: 0, max: float64(s.cfg.MaxResults - 1), bounded: true, def: 0, example: "5",
			doc: fmt.Sprintf("results to skip: pages of one query fit together exactly; they end at result %d (a page reaching past it is cut short there)", s.cfg.MaxResults),
			set: func(in *searchInput, v any) { in.offset = v.(int) }},
		{name: "ef", in: "query", typ: tInteger, min: 1, max: float64(s.cfg.MaxEf), bounded: true, example: "128",
			doc: fmt.Sprintf("the HNSW beam width (left out: %s for each tier of %d, 128, 512, ... results); larger is slower and finds more of the true neighbours", engine.DefaultEfRule, engine.PageTier),
			set: func(in *searchInput, v any) { in.ef = v.(int) }},
		{name: "mode", in: "query", typ: tString, enum: []string{string(engine.ModeAdd), string(engine.ModeMul)}, def: string(engine.ModeAdd), example: "mul",
			doc: "add: cosine to the weighted sum; mul: 3CosMul re-ranking of the nearest candidates",
			set: func(in *searchInput, v any) { in.mode = v.(string) }},
		{name: "include_inputs", in: "query", typ: tBoolean, def: false, example: "true",
			doc: "keep items used as query inputs in the results",
			set: func(in *searchInput, v any) { in.includeInputs = v.(bool) }},
		{name: "after", in: "query", typ: tString, maxLen: engine.MaxFilterText, example: "2001-01",
			doc: "only items captured at or after this time (EXIF capture time, else the file's modification time): YYYY, YYYY-MM, YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS] or RFC 3339; without a zone, the server's local time",
			set: func(in *searchInput, v any) { in.filters.After = v.(string) }},
		{name: "before", in: "query", typ: tString, maxLen: engine.MaxFilterText, example: "2100",
			doc: "only items captured before this time (same forms as after)",
			set: func(in *searchInput, v any) { in.filters.Before = v.(string) }},
		{name: "camera", in: "query", typ: tString, maxLen: engine.MaxFilterText, example: "",
			doc: "only items whose camera make or model contains this, ignoring case (refused when no item records a camera)",
			set: func(in *searchInput, v any) { in.filters.Camera = v.(string) }},
		{name: "format", in: "query", typ: tString, maxLen: engine.MaxFilterText, example: "png,jpeg",
			doc: "only items in these formats, comma-separated (" + strings.Join(engine.Formats, ", ") + "; jpg, tif and hif too)",
			set: func(in *searchInput, v any) { in.filters.Format = v.(string) }},
		{name: "min_pixels", in: "query", typ: tInteger, min: 0, max: engine.MaxMinPixels, bounded: true, checkedLater: true, example: "1",
			doc: "only items with at least this many pixels (width × height)",
			set: func(in *searchInput, v any) { in.filters.MinPixels = int64(v.(int)) }},
		{name: "path", in: "query", typ: tString, maxLen: engine.MaxFilterText, example: "",
			doc: "only items whose path starts with this, in the form results show paths (with --hide-paths: the name of an indexed folder first)",
			set: func(in *searchInput, v any) { in.filters.Path = v.(string) }},
		{name: "prefix", in: "query", typ: tString, maxLen: engine.MaxFilterText, example: "",
			doc: "the older name of path; give one of them",
			set: func(in *searchInput, v any) { in.filters.Prefix = v.(string) }},
		{name: "min_score", in: "query", typ: tNumber, example: "-1",
			doc: "drop results scoring below this (in add mode scores are cosine similarities, so it lies in [-1, 1])",
			set: func(in *searchInput, v any) { x := v.(float64); in.filters.MinScore = &x }},
		{name: "sort", in: "query", typ: tString, enum: []string{string(engine.SortScore), string(engine.SortDate)}, checkedLater: true,
			def: string(engine.SortScore), example: "score",
			doc: "score: best match first; date: newest first among the best-scoring results (for pages: the best " + fmt.Sprint(s.cfg.MaxResults) + ", newest first)",
			set: func(in *searchInput, v any) { in.filters.Sort = v.(string) }},
	}
}

// parseValue reads a URL query value of p's type and checks it.
func (p *param) parseValue(raw string) (any, error) {
	var v any
	switch p.typ {
	case tInteger:
		n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
		if err != nil {
			return nil, badRequest("%s must be a whole number, not %q", p.name, clip(raw))
		}
		if !p.bounded && (n < math.MinInt32 || n > math.MaxInt32) {
			return nil, badRequest("%s must be between %d and %d", p.name, math.MinInt32, math.MaxInt32)
		}
		v = int(n)
	case tNumber:
		f, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, badRequest("%s must be a finite number, not %q", p.name, clip(raw))
		}
		v = f
	case tBoolean:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return nil, badRequest("%s must be true or false", p.name)
		}
		v = b
	default:
		v = raw
	}
	return v, p.check(v)
}

// jsonValue reads a JSON body field of p's type and checks it.
func (p *param) jsonValue(raw json.RawMessage) (any, error) {
	bad := func(want string) error { return badRequest("bad JSON body: field %q must be %s", p.name, want) }
	raw = bytes.TrimSpace(raw)
	if bytes.Equal(raw, []byte("null")) {
		return nil, bad(map[paramType]string{tString: "a string", tInteger: "a number", tNumber: "a number", tBoolean: "true or false"}[p.typ])
	}
	var v any
	switch p.typ {
	case tInteger, tNumber:
		// The decoder has checked the syntax: a JSON number starts with
		// '-' or a digit, and anything else (a string, true) is no number.
		if len(raw) == 0 || !strings.ContainsRune("-0123456789", rune(raw[0])) {
			return nil, bad("a number")
		}
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil && p.typ == tNumber {
			return nil, bad("a number in range")
		}
		if p.typ == tNumber {
			v = f
			break
		}
		if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 || !p.bounded && math.Abs(f) > math.MaxInt32 {
			return nil, bad("a whole number in range")
		}
		v = int(f)
	case tBoolean:
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, bad("true or false")
		}
		v = b
	default:
		var str string
		if err := json.Unmarshal(raw, &str); err != nil {
			return nil, bad("a string")
		}
		v = str
	}
	return v, p.check(v)
}

// check applies p's bounds to a value of its type.
func (p *param) check(v any) error {
	if p.checkedLater {
		return nil
	}
	switch x := v.(type) {
	case int:
		if p.bounded && (float64(x) < p.min || float64(x) > p.max) {
			return p.rangeError()
		}
		if p.enum != nil && !slices.Contains(p.enum, strconv.Itoa(x)) {
			return badRequest("%s must be one of %s", p.name, strings.Join(p.enum, ", "))
		}
	case float64:
		if p.bounded && (x < p.min || x > p.max) {
			return p.rangeError()
		}
	case string:
		if p.maxLen > 0 && len(x) > p.maxLen {
			return badRequest("%s is %d bytes long; the limit is %d", p.name, len(x), p.maxLen)
		}
		if strings.ContainsRune(x, 0) {
			return badRequest("%s contains a NUL byte", p.name)
		}
		if p.enum != nil && !slices.Contains(p.enum, x) {
			return badRequest("%s must be %s, not %q", p.name, orList(p.enum), clip(x))
		}
	}
	return nil
}

func (p *param) rangeError() error {
	return badRequest("%s must be between %s and %s", p.name, fmtNum(p.min), fmtNum(p.max))
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// orList writes ["a" "b" "c"] as `"a", "b" or "c"`.
func orList(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = strconv.Quote(v)
	}
	if len(q) < 2 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// clip shortens a value quoted in an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// readSearchQuery reads the search parameters of a URL query. Parameters
// the endpoint does not know are refused, so that a misspelt one is not
// silently ignored.
func (s *Server) readSearchQuery(v url.Values) (searchInput, error) {
	in := searchInput{given: map[string]bool{}}
	params := s.searchParams()
	for name, vals := range v {
		i := slices.IndexFunc(params, func(p param) bool { return p.name == name })
		if i < 0 {
			return in, badRequest("unknown parameter %q (known: %s)", clip(name), paramNames(params))
		}
		if len(vals) > 1 {
			return in, badRequest("%s is given %d times", name, len(vals))
		}
		p := &params[i]
		val, err := p.parseValue(vals[0])
		if err != nil {
			return in, err
		}
		p.set(&in, val)
		in.given[name] = true
	}
	return in, nil
}

// readSearchJSON reads the search parameters of a JSON object body.
func (s *Server) readSearchJSON(w http.ResponseWriter, r *http.Request) (searchInput, error) {
	in := searchInput{given: map[string]bool{}}
	var fields map[string]json.RawMessage
	if err := s.decodeJSON(w, r, &fields); err != nil {
		return in, err
	}
	if fields == nil {
		return in, badRequest("bad JSON body: the body must be a JSON object")
	}
	params := s.searchParams()
	for name, raw := range fields {
		i := slices.IndexFunc(params, func(p param) bool { return p.name == name })
		if i < 0 {
			return in, badRequest("bad JSON body: unknown field %q (known: %s)", clip(name), paramNames(params))
		}
		p := &params[i]
		val, err := p.jsonValue(raw)
		if err != nil {
			return in, err
		}
		p.set(&in, val)
		in.given[name] = true
	}
	return in, nil
}

func paramNames(ps []param) string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.name
	}
	return strings.Join(names, ", ")
}

// searchOptions turns checked search parameters into the engine's options:
// a paged search with files and URLs refused.
func (s *Server) searchOptions(in searchInput) (engine.SearchOptions, error) {
	limit := DefaultK
	switch {
	case in.hasK && in.hasLimit && in.k != in.limit:
		return engine.SearchOptions{}, badRequest("k (%d) and limit (%d) differ: give one of them", in.k, in.limit)
	case in.hasLimit:
		limit = in.limit
	case in.hasK:
		limit = in.k
	}
	// Pages end at result MaxResults: the last one is cut short there.
	limit = min(limit, s.cfg.MaxResults-in.offset)
	m, err := engine.ParseMode(in.mode)
	if err != nil {
		return engine.SearchOptions{}, badRequest("mode must be %q or %q", engine.ModeAdd, engine.ModeMul)
	}
	opt := engine.SearchOptions{K: limit, Offset: in.offset, Paged: true, Depth: s.cfg.MaxResults, Ef: in.ef, Mode: m,
		IncludeInputs: in.includeInputs, AllowPaths: false, AllowURLs: false, MaxImageBytes: s.cfg.MaxUploadBytes}
	if err := s.applyFilters(in.filters, &opt); err != nil {
		return engine.SearchOptions{}, err
	}
	return opt, nil
}
