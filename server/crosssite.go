package server

import (
	"mime"
	"net/http"
	"strings"
)

// Cross-site requests.
//
// A server on loopback without a token answers whoever can reach it, and any
// web page the user opens can make the browser send requests to it. The
// answers of such requests are hidden from the page by the same-origin
// policy, but the work is done: an upload is decoded, a thumbnail's size
// shows through an <img>'s dimensions. So the server refuses requests that
// a browser marks as coming from another site, whatever the method:
//
//   - Sec-Fetch-Site (sent by every current browser) must be "same-origin"
//     or "none" (typed into the address bar, a bookmark). "same-site" is
//     refused too: a page on another port of the same host is same-site and
//     is exactly the attack. The one exception is a top-level navigation
//     with GET or HEAD (a link to a shared search URL, opened in a tab),
//     whose answer only the user sees.
//   - Without Sec-Fetch-Site, a request with a body (POST and other unsafe
//     methods) that carries an Origin header must come from the server's own
//     origin (its Host), as net/http's CrossOriginProtection checks.
//   - The origin configured as Config.CORSOrigin is trusted.
//
// Requests with neither header come from programs (curl, scripts), not from
// pages, and are allowed. On top of that, request bodies must have a
// content type a page cannot send without a CORS preflight (which the server
// never grants to foreign origins), except multipart/form-data uploads, which
// are covered by the checks above: see uploadContentType.

// newCrossOrigin builds net/http's origin check for s's configuration.
func (s *Server) newCrossOrigin() (*http.CrossOriginProtection, error) {
	cop := http.NewCrossOriginProtection()
	if s.cfg.CORSOrigin != "" {
		if err := cop.AddTrustedOrigin(s.cfg.CORSOrigin); err != nil {
			return nil, err
		}
	}
	return cop, nil
}

// crossSiteRefusal reports why r must be refused as a cross-site request,
// or "" when it may proceed.
func (s *Server) crossSiteRefusal(r *http.Request) string {
	if s.cfg.CORSOrigin != "" && strings.EqualFold(r.Header.Get("Origin"), s.cfg.CORSOrigin) {
		return ""
	}
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "", "same-origin", "none":
	default:
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
			r.Header.Get("Sec-Fetch-Mode") == "navigate" && r.Header.Get("Sec-Fetch-Dest") == "document" {
			return "" // a link opened in a tab: only the user sees the answer
		}
		if site != "same-site" && site != "cross-site" {
			site = "other" // not echoed: any text could be sent
		}
		return "a request from another site (Sec-Fetch-Site: " + site + ")"
	}
	// Unsafe methods: Sec-Fetch-Site when present, else Origin against Host.
	if err := s.crossOrigin.Check(r); err != nil {
		return "a request from another origin (Origin header)"
	}
	return ""
}

// refuseCrossSite answers r with 403 when it comes from another site, and
// reports whether it did.
func (s *Server) refuseCrossSite(w http.ResponseWriter, r *http.Request) bool {
	why := s.crossSiteRefusal(r)
	if why == "" {
		return false
	}
	s.writeError(w, r, apiErrorf(http.StatusForbidden, CodeCrossSite,
		"%s: this server answers only its own page and programs that are not browsers", why))
	return true
}

// simpleContentType reports whether a page may send a body of this content
// type to another origin without a CORS preflight ("simple" requests): no
// content type at all, text/plain, application/x-www-form-urlencoded or
// multipart/form-data.
func simpleContentType(ct string) bool {
	if strings.TrimSpace(ct) == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return true // unparsable: treat as the worst case
	}
	switch mt {
	case "text/plain", "application/x-www-form-urlencoded", "multipart/form-data":
		return true
	}
	return false
}

// uploadContentType checks the Content-Type of an image upload: the image's
// own media type (image/png, ...), application/octet-stream, or
// multipart/form-data with the image in the field "image". A body without
// a content type, text/plain or a URL-encoded form is what a page on another
// site can send without asking the server first; it is refused.
func uploadContentType(ct string) error {
	if strings.TrimSpace(ct) != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil {
			return badRequest("bad Content-Type: %s", strings.TrimPrefix(err.Error(), "mime: "))
		}
		if mt == "multipart/form-data" || !simpleContentType(ct) {
			return nil
		}
	}
	got := "no Content-Type"
	if strings.TrimSpace(ct) != "" {
		got = "Content-Type " + strings.TrimSpace(ct)
	}
	return apiErrorf(http.StatusUnsupportedMediaType, CodeMediaType,
		"send the image with its media type (such as image/png or application/octet-stream) or as multipart/form-data, not with %s", got)
}
