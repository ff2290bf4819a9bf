package server

import (
	"net/http"
	"strconv"
)

// route is one path of the server: it registers the handler and describes
// the path in the OpenAPI document, so that the two cannot drift apart.
// Adding a search parameter is one entry in searchParams.
type route struct {
	// pattern is the ServeMux pattern ("/api/items/{id}").
	pattern string
	// docPath is the path in the OpenAPI document when it differs from
	// pattern ("/assets/{name}" for "/assets/").
	docPath string
	// methods are the methods answered (GET also answers HEAD).
	methods []string
	// public routes need no token.
	public bool
	// summary is a line for the document.
	summary string
	// params are the path and query parameters. For a method with a JSON
	// body (jsonBody), the query parameters are the body's fields instead.
	params []param
	// jsonBody lists the methods whose parameters come as a JSON object.
	jsonBody []string
	// upload marks a body of pictures (multipart "image" fields and "q",
	// or one raw image).
	upload bool
	// response names the answer's schema in the document's components, or
	// is a media type ("text/html", "image/jpeg", "*/*") for other bodies.
	response string
	// handler answers the route's methods.
	handler http.HandlerFunc
}

// docPathOf is the route's path in the OpenAPI document.
func (rt *route) docPathOf() string {
	if rt.docPath != "" {
		return rt.docPath
	}
	return rt.pattern
}

// routeTable is every route the server answers, with its documentation.
func (s *Server) routeTable() []route {
	search := s.searchParams()
	id := param{name: "id", in: "path", typ: tInteger, min: 1, max: 999999999999999999, bounded: true, required: true,
		doc: "the item's id, as in the results", example: "1"}
	return []route{
		{pattern: "/", methods: []string{http.MethodGet}, public: true, response: "text/html",
			summary: "the web page (holds no data); /?token=TOKEN logs the page in and redirects",
			params:  []param{{name: "token", in: "query", typ: tString, maxLen: 1024, doc: "the server's token, exchanged for a session cookie"}},
			handler: s.handlePage},
		{pattern: "/assets/", docPath: "/assets/{name}", methods: []string{http.MethodGet}, public: true, response: "*/*",
			summary: "the page's script and style sheet",
			params: []param{{name: "name", in: "path", typ: tString, required: true, enum: []string{"app.js", "style.css"},
				doc: "the asset", example: "app.js"}},
			handler: s.handleAsset},
		{pattern: "/healthz", methods: []string{http.MethodGet}, public: true, response: "Health",
			summary: `{"status":"ok"}, or 503 when the library cannot be read`, handler: s.handleHealth},
		{pattern: "/api/openapi.json", methods: []string{http.MethodGet}, public: true, response: "*/*",
			summary: "this document", handler: s.handleOpenAPI},
		{pattern: "/api/login", methods: []string{http.MethodPost}, public: true, response: "Status",
			summary: "exchange the token for the page's session cookie",
			params: []param{{name: "token", in: "query", typ: tString, maxLen: 1024, required: true,
				doc: "the server's token"}},
			jsonBody: []string{http.MethodPost}, handler: s.handleLogin},
		{pattern: "/api/search", methods: []string{http.MethodGet, http.MethodPost}, response: "SearchResponse",
			summary:  "evaluate a query (text, @ID items, arithmetic); POST takes the same parameters as a JSON object",
			params:   search,
			jsonBody: []string{http.MethodPost}, handler: s.handleSearch},
		{pattern: "/api/search/image", methods: []string{http.MethodPost}, response: "SearchResponse", upload: true,
			summary: "search with uploaded pictures: multipart fields \"image\" (repeatable, $upload1.. in order) and \"q\", or one raw image as the body",
			params:  search, handler: s.handleSearchImage},
		{pattern: "/api/items/{id}", methods: []string{http.MethodGet}, response: "Item",
			summary: "an item's details", params: []param{id}, handler: s.handleItem},
		{pattern: "/api/items/{id}/thumb", methods: []string{http.MethodGet}, response: "image/jpeg",
			summary: "a JPEG thumbnail, cached on disk",
			params: []param{id, {name: "size", in: "query", typ: tInteger, enum: thumbSizeNames(), def: DefaultThumbSize,
				doc: "the longest side in pixels", example: "128"}},
			handler: s.handleThumb},
		{pattern: "/api/items/{id}/file", methods: []string{http.MethodGet}, response: "*/*",
			summary: "the original file, checked against its size and hash", params: []param{id}, handler: s.handleFile},
		{pattern: "/api/items/{id}/preview", methods: []string{http.MethodGet}, response: "image/jpeg",
			summary: "the item as a JPEG of at most 2048 pixels a side, on white: how the page shows formats browsers cannot (TIFF, PNM, HEIF)",
			params:  []param{id}, handler: s.handlePreview},
		{pattern: "/api/items", methods: []string{http.MethodGet}, response: "Item",
			summary: "the item indexed under a path, in the form answers show paths (absolute, or with hidden paths the indexed folder's name first); only the library is consulted",
			params: []param{{name: "path", in: "query", typ: tString, maxLen: maxLookupPath, required: true,
				doc: "the indexed path", example: "{path}"}},
			handler: s.handleItemByPath},
		{pattern: "/api/stats", methods: []string{http.MethodGet}, response: "StatsResponse",
			summary: "the library's counts and sizes", handler: s.handleStats},
	}
}

func thumbSizeNames() []string {
	out := make([]string, len(thumbSizes))
	for i, n := range thumbSizes {
		out[i] = strconv.Itoa(n)
	}
	return out
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.routeTable() {
		h := s.allow(rt.handler, rt.methods...)
		if !rt.public {
			h = s.requireAuth(h)
		}
		mux.HandleFunc(rt.pattern, h)
	}
	mux.HandleFunc("/api/", s.requireAuth(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, apiErrorf(http.StatusNotFound, CodeNotFound, "no such endpoint"))
	}))
	return s.middleware(mux)
}
