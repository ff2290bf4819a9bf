package server

import (
	"errors"
	"net/http"
	"path/filepath"
	"strings"

	"mmsearch/engine"
)

// maxLookupPath bounds the path given to GET /api/items?path=.
const maxLookupPath = 4096

// handleItemByPath answers GET /api/items?path=P with the item indexed
// under P, in the form answers show paths: absolute, or with HidePaths the
// indexed folder's name and the path below it ("Photos/2024/a.jpg"). Only
// the library is consulted: no file is opened or even looked at, and a path
// that is not indexed gets the same 404 whether or not it exists on disk.
func (s *Server) handleItemByPath(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Query().Get("path")
	if p == "" {
		s.writeError(w, r, badRequest("give the indexed path to look up: /api/items?path=..."))
		return
	}
	if len(p) > maxLookupPath || strings.ContainsRune(p, 0) {
		s.writeError(w, r, badRequest("bad path"))
		return
	}
	notFound := apiErrorf(http.StatusNotFound, CodeNotFound, "no indexed item has the path %q", p)
	abs := p
	if s.cfg.HidePaths {
		var ok bool
		if abs, ok = s.paths.prefix(p); !ok || strings.HasSuffix(abs, string(filepath.Separator)) {
			s.writeError(w, r, notFound)
			return
		}
	} else if !filepath.IsAbs(p) {
		s.writeError(w, r, badRequest("give the absolute path of an indexed file, as results show it"))
		return
	}
	it, err := s.lib.ItemByPath(r.Context(), filepath.Clean(abs))
	if errors.Is(err, engine.ErrNoItem) {
		s.writeError(w, r, notFound)
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.itemResponse(it))
}
