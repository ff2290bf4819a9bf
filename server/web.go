package server

import (
	"embed"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path"
)

// webFiles is the page: plain HTML, CSS and JavaScript, no build step.
//
//go:embed web/index.html web/app.js web/style.css
var webFiles embed.FS

// assetTypes are the files served under /assets/ with their media types.
var assetTypes = map[string]string{
	"app.js":    "text/javascript; charset=utf-8",
	"style.css": "text/css; charset=utf-8",
}

// handlePage serves the page at "/" (and handles /?token=); any other path
// that no route claims is a JSON 404.
func (s *Server) handlePage(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		s.writeError(w, r, apiErrorf(http.StatusNotFound, CodeNotFound, "no such page"))
		return
	}
	if s.tokenRedirect(w, r) {
		return
	}
	s.serveEmbedded(w, r, "web/index.html", "text/html; charset=utf-8")
}

// handleAsset serves the page's script and style sheet: a fixed list of
// names, nothing else.
func (s *Server) handleAsset(w http.ResponseWriter, r *http.Request) {
	name := path.Base(r.URL.Path)
	ct, ok := assetTypes[name]
	if !ok || r.URL.Path != "/assets/"+name {
		s.writeError(w, r, apiErrorf(http.StatusNotFound, CodeNotFound, "no such asset"))
		return
	}
	s.serveEmbedded(w, r, "web/"+name, ct)
}

func (s *Server) serveEmbedded(w http.ResponseWriter, r *http.Request, name, ct string) {
	b, err := fs.ReadFile(webFiles, name)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("embedded %s: %w", name, err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(b)
	}
}

// openThumb opens a cached thumbnail made by the thumbCache.
func openThumb(p string) (*os.File, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("open thumbnail: %w", err)
	}
	return f, nil
}
