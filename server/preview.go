package server

import (
	"net/http"
	"strconv"
	"time"
)

// previewSize is the longest side, in pixels, of the converted preview of
// an item whose format browsers cannot show. It is made like a thumbnail
// (reduced decode within the library's decode memory budget, transparency
// flattened onto white, JPEG) and cached beside them.
const previewSize = 2048

// browserFormats are the formats every browser shows as they are.
var browserFormats = map[string]bool{"jpeg": true, "png": true, "gif": true, "webp": true, "bmp": true}

// viewURL is the URL the page opens to show an item: its original when
// browsers display the format, else its converted preview (TIFF, PNM, HEIF,
// ...), which would otherwise download as a raw file.
func viewURL(id int64, format string) string {
	if browserFormats[format] {
		return fileURL(id)
	}
	return previewURL(id)
}

func previewURL(id int64) string { return "/api/items/" + strconv.FormatInt(id, 10) + "/preview" }

// handlePreview serves an item converted to a JPEG of at most previewSize
// pixels a side, on white, for any indexed format.
func (s *Server) handlePreview(w http.ResponseWriter, r *http.Request) {
	s.serveThumb(w, r, previewSize)
}

// serveThumb serves the item the request names as a cached JPEG of at most
// size pixels a side (made on first request), with an ETag of its content
// and size.
func (s *Server) serveThumb(w http.ResponseWriter, r *http.Request, size int) {
	it, err := s.item(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := s.thumbs.get(r.Context(), it, size)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	f, err := openThumb(p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer f.Close()
	h := w.Header()
	h.Set("Content-Type", "image/jpeg")
	h.Set("Cache-Control", "private, max-age=300")
	h.Set("ETag", `"`+it.Hash[:16]+"-"+strconv.Itoa(size)+`"`)
	http.ServeContent(w, r, "", time.Time{}, f)
}
