package server

import (
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"mmsearch/engine"
	"mmsearch/engine/query"
)

// multipartSlack is room for multipart headers and boundaries around an
// uploaded image.
const multipartSlack = 64 << 10

// Hit is one search result with the URLs of its thumbnail and file.
type Hit struct {
	engine.Result
	// Name is the file's base name, for display.
	Name string `json:"name"`
	// Thumb is the URL of the default-size thumbnail.
	Thumb string `json:"thumb"`
	// File is the URL of the original file.
	File string `json:"file"`
	// View is the URL to show the picture in a browser: the original for
	// formats browsers display, else a converted preview (see viewURL).
	View string `json:"view"`
}

// SearchResponse is the answer of the search endpoints.
type SearchResponse struct {
	Query   string            `json:"query"`
	ReadAs  string            `json:"read_as,omitempty"` // how the query was read, as `1.0 × item @12 − 1.0 × text "dog"`
	Mode    engine.Mode       `json:"mode"`
	K       int               `json:"k"`
	Terms   []engine.TermInfo `json:"terms"`
	Results []Hit             `json:"results"`
	TookMS  float64           `json:"took_ms"`
	// Notice warns about how the query may be understood, such as text in
	// another script than the model's only language (see languageNotice).
	Notice string `json:"notice,omitempty"`
}

// SearchRequest is the JSON body of POST /api/search.
type SearchRequest struct {
	Q             string `json:"q"`
	K             int    `json:"k,omitempty"`
	Mode          string `json:"mode,omitempty"`
	IncludeInputs bool   `json:"include_inputs,omitempty"`
	// FilterParams are the filters (after, before, camera, format,
	// min_pixels, path or prefix, min_score, sort) as JSON fields.
	FilterParams
}

// ItemResponse is the answer of GET /api/items/{id}.
type ItemResponse struct {
	engine.ItemInfo
	Name  string `json:"name"`
	Thumb string `json:"thumb"`
	File  string `json:"file"`
	View  string `json:"view"`
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", s.allow(s.handlePage, http.MethodGet))
	mux.Handle("/assets/", s.allow(s.handleAsset, http.MethodGet))
	mux.HandleFunc("/healthz", s.allow(s.handleHealth, http.MethodGet))
	mux.HandleFunc("/api/login", s.allow(s.handleLogin, http.MethodPost))
	mux.HandleFunc("/api/search", s.requireAuth(s.allow(s.handleSearch, http.MethodGet, http.MethodPost)))
	mux.HandleFunc("/api/search/image", s.requireAuth(s.allow(s.handleSearchImage, http.MethodPost)))
	mux.HandleFunc("/api/items/{id}", s.requireAuth(s.allow(s.handleItem, http.MethodGet)))
	mux.HandleFunc("/api/items/{id}/thumb", s.requireAuth(s.allow(s.handleThumb, http.MethodGet)))
	mux.HandleFunc("/api/items/{id}/file", s.requireAuth(s.allow(s.handleFile, http.MethodGet)))
	mux.HandleFunc("/api/items/{id}/preview", s.requireAuth(s.allow(s.handlePreview, http.MethodGet)))
	mux.HandleFunc("/api/items", s.requireAuth(s.allow(s.handleItemByPath, http.MethodGet)))
	mux.HandleFunc("/api/stats", s.requireAuth(s.allow(s.handleStats, http.MethodGet)))
	mux.HandleFunc("/api/", s.requireAuth(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, apiErrorf(http.StatusNotFound, CodeNotFound, "no such endpoint"))
	}))
	return s.middleware(mux)
}

// healthTimeout bounds the health check.
const healthTimeout = 5 * time.Second

// handleHealth answers {"status":"ok"} while the library's files are intact
// and its store answers, else 503 (the cause goes to the log only).
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	if err := s.lib.Check(ctx); err != nil {
		s.log.Error("health check failed", "err", err)
		s.writeError(w, r, apiErrorf(http.StatusServiceUnavailable, CodeUnavailable, "the library cannot be read; see the server's log"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// allow refuses methods other than those listed with a JSON 405. GET also
// allows HEAD.
func (s *Server) allow(h http.HandlerFunc, methods ...string) http.HandlerFunc {
	allowed := strings.Join(methods, ", ")
	for _, m := range methods {
		if m == http.MethodGet {
			allowed += ", HEAD"
		}
	}
	return func(w http.ResponseWriter, r *http.Request) {
		for _, m := range methods {
			if r.Method == m || (m == http.MethodGet && r.Method == http.MethodHead) {
				h(w, r)
				return
			}
		}
		w.Header().Set("Allow", allowed)
		s.writeError(w, r, apiErrorf(http.StatusMethodNotAllowed, CodeMethod, "method %s not allowed; use %s", r.Method, allowed))
	}
}

// searchOptions checks k, mode and the filters and returns the engine's
// options, with files and URLs always refused.
func (s *Server) searchOptions(k int, mode string, fp FilterParams, include bool) (engine.SearchOptions, error) {
	if k == 0 {
		k = DefaultK
	}
	if k < 1 || k > s.cfg.MaxK {
		return engine.SearchOptions{}, badRequest("k must be between 1 and %d", s.cfg.MaxK)
	}
	m, err := engine.ParseMode(mode)
	if err != nil {
		return engine.SearchOptions{}, badRequest("mode must be %q or %q", engine.ModeAdd, engine.ModeMul)
	}
	opt := engine.SearchOptions{K: k, Mode: m, IncludeInputs: include,
		AllowPaths: false, AllowURLs: false, MaxImageBytes: s.cfg.MaxUploadBytes}
	if err := s.applyFilters(fp, &opt); err != nil {
		return engine.SearchOptions{}, err
	}
	return opt, nil
}

// queryOptions reads k, mode, include_inputs and the filters from a URL
// query.
func (s *Server) queryOptions(q url.Values) (engine.SearchOptions, error) {
	k := 0
	if v := q.Get("k"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return engine.SearchOptions{}, badRequest("k must be a number, not %q", v)
		}
		if n == 0 {
			n = -1 // an explicit 0 is out of range, not the default
		}
		k = n
	}
	include := false
	if v := q.Get("include_inputs"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return engine.SearchOptions{}, badRequest("include_inputs must be true or false")
		}
		include = b
	}
	fp, err := filterParams(q)
	if err != nil {
		return engine.SearchOptions{}, err
	}
	return s.searchOptions(k, q.Get("mode"), fp, include)
}

func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request) {
	var expr string
	var opt engine.SearchOptions
	var err error
	if r.Method == http.MethodPost {
		var req SearchRequest
		if err := s.decodeJSON(w, r, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
		if req.K < 0 {
			req.K = -1
		}
		expr = req.Q
		opt, err = s.searchOptions(req.K, req.Mode, req.FilterParams, req.IncludeInputs)
	} else {
		q := r.URL.Query()
		expr = q.Get("q")
		opt, err = s.queryOptions(q)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := refuseItemPaths(expr); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.SearchTimeout)
	defer cancel()
	res, err := s.lib.Search(ctx, expr, opt)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, SearchResponse{
		Query: res.Query, ReadAs: res.ReadAs, Mode: res.Mode, K: opt.K, Terms: res.Terms,
		Results: s.hits(res.Results), TookMS: ms(res.Took), Notice: languageNotice(s.lib.TextLanguages(), res.Terms),
	})
}

func (s *Server) handleSearchImage(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	opt, err := s.queryOptions(r.URL.Query())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := uploadContentType(r.Header.Get("Content-Type")); err != nil {
		s.writeError(w, r, err)
		return
	}
	limit := s.cfg.MaxUploadBytes + multipartSlack
	if r.ContentLength > limit {
		s.writeError(w, r, apiErrorf(http.StatusRequestEntityTooLarge, CodeTooLarge,
			"upload of %d bytes is over the %d-byte limit", r.ContentLength, s.cfg.MaxUploadBytes))
		return
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	part, name, size, err := uploadedImage(r, body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	img := &uploadReader{r: part}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.SearchTimeout)
	defer cancel()
	res, err := s.lib.SearchImage(ctx, img, name, size, opt)
	if err != nil {
		s.writeError(w, r, img.blame(err))
		return
	}
	writeJSON(w, http.StatusOK, SearchResponse{
		Query: "", Mode: opt.Mode, K: opt.K,
		Terms:   []engine.TermInfo{{Kind: "upload", Value: name, Coef: 1}},
		Results: s.hits(res), TookMS: ms(time.Since(start)),
	})
}

// refuseItemPaths refuses queries that name an indexed item by its path
// ("@/photos/cat.jpg"): over HTTP an item is named by its id only. The
// answer is the same whether or not the path is indexed, so that a client
// cannot learn which paths the library holds. Other syntax errors are left
// to the engine, which reports them the same way.
func refuseItemPaths(expr string) error {
	q, err := query.Parse(expr, query.Options{})
	if err != nil {
		return nil
	}
	for i := range q.Terms {
		if t := &q.Terms[i]; t.Kind == query.Item && t.ItemID == 0 {
			return t.Errorf("items are named by id over HTTP (@123), not by path")
		}
	}
	return nil
}

// uploadReader remembers the first error reading an upload gave, so that
// a body that breaks off (a multipart body without its closing boundary, a
// connection that ends early) is the client's error, not the decoder's.
type uploadReader struct {
	r   io.Reader
	err error
}

func (u *uploadReader) Read(p []byte) (int, error) {
	n, err := u.r.Read(p)
	if err != nil && err != io.EOF && u.err == nil {
		u.err = err
	}
	return n, err
}

// blame returns the error to answer when the search of an upload failed
// with err: a read error of the body itself is a bad request (or too large),
// anything else is err.
func (u *uploadReader) blame(err error) error {
	if u.err == nil {
		return err
	}
	var mbe *http.MaxBytesError
	if errors.As(u.err, &mbe) {
		return u.err
	}
	return badRequest("the upload broke off before its end (a multipart body needs its closing boundary)")
}

// uploadedImage finds the image in a request: the multipart field "image",
// or the whole body otherwise. size is -1 when unknown.
func uploadedImage(r *http.Request, body io.Reader) (io.Reader, string, int64, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return nil, "", 0, badRequest("bad Content-Type: %s", strings.TrimPrefix(err.Error(), "mime: "))
	}
	if !strings.EqualFold(mt, "multipart/form-data") {
		size := r.ContentLength
		if size < 0 {
			size = -1
		}
		return body, "upload", size, nil
	}
	boundary := params["boundary"]
	if boundary == "" {
		return nil, "", 0, badRequest("multipart body without a boundary")
	}
	mr := multipart.NewReader(body, boundary)
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, "", 0, badRequest(`no "image" field in the form`)
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, "", 0, err
			}
			return nil, "", 0, badRequest("bad multipart body: %s", strings.TrimPrefix(err.Error(), "multipart: "))
		}
		if part.FormName() == "image" {
			name := filepath.Base(part.FileName())
			if name == "." || name == "/" || name == "" {
				name = "upload"
			}
			return part, name, -1, nil
		}
	}
}

func (s *Server) handleItem(w http.ResponseWriter, r *http.Request) {
	it, err := s.item(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.itemResponse(it))
}

// itemResponse adds names and links to an item and shows its path as
// configured.
func (s *Server) itemResponse(it engine.ItemInfo) ItemResponse {
	name := filepath.Base(it.Path)
	it.Path = s.paths.show(it.Path)
	return ItemResponse{ItemInfo: it, Name: name, Thumb: thumbURL(it.ID), File: fileURL(it.ID), View: viewURL(it.ID, it.Format)}
}

func (s *Server) handleThumb(w http.ResponseWriter, r *http.Request) {
	size := DefaultThumbSize
	if v := r.URL.Query().Get("size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || !validThumbSize(n) {
			s.writeError(w, r, badRequest("size must be one of %v", thumbSizes))
			return
		}
		size = n
	}
	s.serveThumb(w, r, size)
}

func (s *Server) handleFile(w http.ResponseWriter, r *http.Request) {
	it, err := s.item(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	f, fi, err := openIndexedFile(it)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer f.Close()
	h := w.Header()
	h.Set("Content-Type", contentType(it.Format))
	h.Set("Cache-Control", "private, max-age=300")
	h.Set("ETag", `"`+it.Hash+`"`)
	h.Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": filepath.Base(it.Path)}))
	// The original is shown on its own: no scripts, no plug-ins, even if a
	// browser were to sniff it as something else.
	h.Set("Content-Security-Policy", "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox")
	http.ServeContent(w, r, "", fi.ModTime(), f)
}

// ModelInfo names the library's model in StatsResponse.
type ModelInfo struct {
	Name        string `json:"name"`
	Version     string `json:"version"`
	Dim         int    `json:"dim"`
	Fingerprint string `json:"fingerprint"`
	// Languages are the languages the model's text tower understands, as
	// its manifest says (ISO 639-1); absent when it does not say.
	Languages []string `json:"languages,omitempty"`
}

// StatsResponse is the answer of GET /api/stats.
type StatsResponse struct {
	Library       string           `json:"library"`
	Items         int64            `json:"items"`
	Errors        int64            `json:"errors"`
	ErrorsByStage map[string]int64 `json:"errors_by_stage,omitempty"`
	Generation    int64            `json:"generation"`
	Model         ModelInfo        `json:"model"`
	DBBytes       int64            `json:"db_bytes"`
	IndexBytes    int64            `json:"index_bytes"`
	IndexFresh    bool             `json:"index_fresh"`
	// SkippedByKind counts files skipped as not still images (videos,
	// sidecars, ...), by kind.
	SkippedByKind map[string]int64 `json:"skipped_by_kind,omitempty"`
	// Photos summarises the photo metadata: capture date range, time
	// sources, top cameras, formats, items with a GPS position.
	Photos engine.PhotoStats `json:"photos"`
}

func (s *Server) handleStats(w http.ResponseWriter, r *http.Request) {
	st, err := s.lib.Stats(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, StatsResponse{
		Library: s.paths.library(st.Dir), Items: st.Items, Errors: st.Errors, ErrorsByStage: st.ErrorsBy, Generation: st.Generation,
		Model:   ModelInfo{Name: st.Model.Name, Version: st.Model.Version, Dim: st.Model.Dim, Fingerprint: st.Model.Fingerprint, Languages: s.lib.TextLanguages()},
		DBBytes: st.DBBytes, IndexBytes: st.IndexBytes, IndexFresh: st.IndexFresh, SkippedByKind: st.SkippedBy,
		Photos: st.Photos,
	})
}

// item looks up the item named by the {id} path value, which must be a
// positive decimal number: nothing else in the path is ever used.
func (s *Server) item(r *http.Request) (engine.ItemInfo, error) {
	id, err := parseID(r.PathValue("id"))
	if err != nil {
		return engine.ItemInfo{}, err
	}
	return s.lib.Item(r.Context(), id)
}

// parseID accepts 1 to 18 decimal digits with a value above zero.
func parseID(v string) (int64, error) {
	bad := badRequest("an item id is a positive decimal number")
	if len(v) == 0 || len(v) > 18 {
		return 0, bad
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, bad
		}
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, bad
	}
	return id, nil
}

// contentType maps the detected format of an item to its media type.
func contentType(format string) string {
	switch format {
	case "jpeg", "png", "gif", "webp", "bmp", "tiff":
		return "image/" + format
	case "pbm":
		return "image/x-portable-bitmap"
	case "pgm":
		return "image/x-portable-graymap"
	case "ppm":
		return "image/x-portable-pixmap"
	}
	return "application/octet-stream"
}

// hits adds names and links to results and shows their paths as configured.
func (s *Server) hits(rs []engine.Result) []Hit {
	out := make([]Hit, len(rs))
	for i, r := range rs {
		name := filepath.Base(r.Path)
		r.Path = s.paths.show(r.Path)
		out[i] = Hit{Result: r, Name: name, Thumb: thumbURL(r.ID), File: fileURL(r.ID), View: viewURL(r.ID, r.Format)}
	}
	return out
}

func thumbURL(id int64) string { return "/api/items/" + strconv.FormatInt(id, 10) + "/thumb" }
func fileURL(id int64) string  { return "/api/items/" + strconv.FormatInt(id, 10) + "/file" }

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
