package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
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
	Query  string      `json:"query"`
	ReadAs string      `json:"read_as,omitempty"` // how the query was read, as `1.0 × item @12 − 1.0 × text "dog"`
	Mode   engine.Mode `json:"mode"`
	// K and Limit are the page size asked for (the same number).
	K     int `json:"k"`
	Limit int `json:"limit"`
	// Offset is the number of results skipped before this page.
	Offset int `json:"offset"`
	// NextOffset is the offset of the next page: present when this page
	// is full and pages may reach further.
	NextOffset *int              `json:"next_offset,omitempty"`
	Terms      []engine.TermInfo `json:"terms"`
	Results    []Hit             `json:"results"`
	TookMS     float64           `json:"took_ms"`
	// Notice warns about how the query may be understood, such as text in
	// another script than the model's only language (see languageNotice).
	Notice string `json:"notice,omitempty"`
}

// SearchRequest is the JSON body of POST /api/search, for Go clients: the
// server reads the body by the search parameters of its route table, which
// the OpenAPI document lists.
type SearchRequest struct {
	Q             string `json:"q"`
	K             int    `json:"k,omitempty"`
	Limit         int    `json:"limit,omitempty"`
	Offset        int    `json:"offset,omitempty"`
	Ef            int    `json:"ef,omitempty"`
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

func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request) {
	var in searchInput
	var err error
	if r.Method == http.MethodPost {
		in, err = s.readSearchJSON(w, r)
	} else {
		in, err = s.readSearchQuery(r.URL.Query())
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	opt, err := s.searchOptions(in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.SearchTimeout)
	defer cancel()
	s.search(ctx, w, r, in.q, opt)
}

func (s *Server) handleSearchImage(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	in, err := s.readSearchQuery(r.URL.Query())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	opt, err := s.searchOptions(in)
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
	form, err := readUploads(r, body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	expr, hasQ := in.q, in.hasQ
	if form.hasQ {
		if hasQ {
			s.writeError(w, r, badRequest(`give "q" once: in the URL or as a form field, not both`))
			return
		}
		expr, hasQ = form.q, true
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.SearchTimeout)
	defer cancel()
	if !hasQ {
		// No query: the nearest items to the one picture, as before "q"
		// existed (the picture itself, when indexed, is not excluded).
		if len(form.uploads) > 1 {
			s.writeError(w, r, badRequest(`%d images need a "q" that names them ($upload1, $upload2, ...)`, len(form.uploads)))
			return
		}
		u := form.uploads[0]
		res, err := s.lib.SearchImage(ctx, bytes.NewReader(u.Data), u.Name, int64(len(u.Data)), opt)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, s.response(opt, &engine.SearchResult{
			Mode: opt.Mode, Terms: []engine.TermInfo{{Kind: "upload", Value: u.Name, Coef: 1, Upload: 1}},
			Results: res, Took: time.Since(start),
		}))
		return
	}
	opt.Uploads = form.uploads
	s.search(ctx, w, r, expr, opt)
}

// search evaluates expr with opt and writes the answer.
func (s *Server) search(ctx context.Context, w http.ResponseWriter, r *http.Request, expr string, opt engine.SearchOptions) {
	if err := refuseItemPaths(expr, len(opt.Uploads) > 0); err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.lib.Search(ctx, expr, opt)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.response(opt, res))
}

// response is the answer to a search: one page of results, with the
// offset of the next page when there may be one.
func (s *Server) response(opt engine.SearchOptions, res *engine.SearchResult) SearchResponse {
	mode := res.Mode
	if mode == "" {
		mode = engine.ModeAdd
	}
	out := SearchResponse{
		Query: res.Query, ReadAs: res.ReadAs, Mode: mode, K: opt.K, Limit: opt.K, Offset: opt.Offset, Terms: res.Terms,
		Results: s.hits(res.Results), TookMS: ms(res.Took), Notice: languageNotice(s.lib.TextLanguages(), res.Terms),
	}
	if next := opt.Offset + len(res.Results); len(res.Results) == opt.K && next < s.cfg.MaxResults {
		out.NextOffset = &next
	}
	return out
}

// refuseItemPaths refuses queries that name an indexed item by its path
// ("@/photos/cat.jpg"): over HTTP an item is named by its id only. The
// answer is the same whether or not the path is indexed, so that a client
// cannot learn which paths the library holds. Other syntax errors are left
// to the engine, which reports them the same way. With uploads, "@upload"
// names an upload, not a path.
func refuseItemPaths(expr string, uploads bool) error {
	q, err := query.Parse(expr, query.Options{Uploads: uploads})
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

// uploadForm is what POST /api/search/image carried: its images in order
// and the query when it came as a form field.
type uploadForm struct {
	uploads []engine.Upload
	q       string
	hasQ    bool
}

// errBrokeOff answers a body that ends before it should.
func errBrokeOff() error {
	return badRequest("the upload broke off before its end (a multipart body needs its closing boundary)")
}

// readUploads reads the images of a request: every multipart field "image"
// in order (the first is $upload1), with an optional text field "q", or
// the whole body as one image otherwise. The body's limit bounds them all
// together; more than query.MaxUploads images are refused.
func readUploads(r *http.Request, body io.Reader) (uploadForm, error) {
	var form uploadForm
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return form, badRequest("bad Content-Type: %s", strings.TrimPrefix(err.Error(), "mime: "))
	}
	if !strings.EqualFold(mt, "multipart/form-data") {
		data, err := io.ReadAll(body)
		if err != nil {
			return form, bodyError(err)
		}
		form.uploads = []engine.Upload{{Name: "upload", Data: data}}
		return form, nil
	}
	boundary := params["boundary"]
	if boundary == "" {
		return form, badRequest("multipart body without a boundary")
	}
	mr := multipart.NewReader(body, boundary)
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return form, err
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return form, errBrokeOff()
			}
			return form, badRequest("bad multipart body: %s", strings.TrimPrefix(err.Error(), "multipart: "))
		}
		switch part.FormName() {
		case "image":
			if len(form.uploads) == query.MaxUploads {
				return form, badRequest("more than %d images in one request", query.MaxUploads)
			}
			data, err := io.ReadAll(part)
			if err != nil {
				return form, bodyError(err)
			}
			name := filepath.Base(part.FileName())
			if name == "." || name == "/" || name == "" {
				name = "upload"
			}
			form.uploads = append(form.uploads, engine.Upload{Name: name, Data: data})
		case "q":
			if form.hasQ {
				return form, badRequest(`the form has "q" twice`)
			}
			data, err := io.ReadAll(io.LimitReader(part, query.DefaultMaxBytes+1))
			if err != nil {
				return form, bodyError(err)
			}
			if len(data) > query.DefaultMaxBytes {
				return form, badRequest("q is over the %d-byte limit", query.DefaultMaxBytes)
			}
			form.q, form.hasQ = string(data), true
		default:
			// Other fields are read past and ignored.
			if _, err := io.Copy(io.Discard, part); err != nil {
				return form, bodyError(err)
			}
		}
	}
	if len(form.uploads) == 0 {
		return form, badRequest(`no "image" field in the form`)
	}
	return form, nil
}

// bodyError is the answer to a failed read of a request body: too large,
// or broken off.
func bodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return err
	}
	return errBrokeOff()
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
