package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strings"
)

// SessionCookie is the name of the cookie the web page authenticates with.
const SessionCookie = "mmsearch_session"

// securityHeaders are set on every response.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "+
		"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
}

// middleware wraps every route: security headers, the Host check, the
// cross-site check, CORS and the access log.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w.Header())
		if s.checkHost && !loopbackHost(r.Host) {
			s.writeError(w, r, apiErrorf(http.StatusForbidden, CodeForbiddenHost,
				"this server answers only requests to a loopback address (start it with --token to serve other names)"))
			return
		}
		if s.refuseCrossSite(w, r) {
			return
		}
		if s.cors(w, r) {
			return
		}
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", rec.status)
	})
}

// statusRecorder remembers the status code for the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// loopbackHost reports whether a Host header names a loopback address.
func loopbackHost(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.Trim(h, "[]")
	if strings.EqualFold(h, "localhost") || strings.HasSuffix(strings.ToLower(h), ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// cors answers preflight requests and adds the CORS headers for the
// configured origin. It reports whether the request has been answered.
func (s *Server) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if s.cfg.CORSOrigin == "" || origin == "" || !strings.HasPrefix(r.URL.Path, "/api/") {
		return false
	}
	w.Header().Add("Vary", "Origin")
	if !strings.EqualFold(origin, s.cfg.CORSOrigin) {
		return false // no CORS headers: the browser refuses the response
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", s.cfg.CORSOrigin)
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		h.Set("Access-Control-Allow-Methods", "GET, POST")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	return false
}

// authorized reports whether r carries the token or the session cookie. A
// server without a token authorizes everything.
func (s *Server) authorized(r *http.Request) bool {
	if s.cfg.Token == "" {
		return true
	}
	if auth := r.Header.Get("Authorization"); auth != "" {
		scheme, tok, ok := strings.Cut(auth, " ")
		return ok && strings.EqualFold(scheme, "Bearer") && s.tokenOK(strings.TrimSpace(tok))
	}
	if c, err := r.Cookie(SessionCookie); err == nil {
		return subtle.ConstantTimeCompare([]byte(c.Value), []byte(s.session)) == 1
	}
	return false
}

// tokenOK compares tok with the token in constant time; both are hashed
// first so that not even the length of the token leaks through timing.
func (s *Server) tokenOK(tok string) bool {
	got, want := sha256.Sum256([]byte(tok)), sha256.Sum256([]byte(s.cfg.Token))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

// sentCredentials reports whether r tried to authenticate (a bearer token
// or a session cookie), as opposed to a request that simply has none: only
// tries count as failures.
func sentCredentials(r *http.Request) bool {
	if r.Header.Get("Authorization") != "" {
		return true
	}
	_, err := r.Cookie(SessionCookie)
	return err == nil
}

// requireAuth refuses requests without the token; a client that sent
// MaxAuthFailures wrong ones recently is refused before its token is looked at.
func (s *Server) requireAuth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.refuseBlocked(w, r) {
			return
		}
		if !s.authorized(r) {
			if sentCredentials(r) {
				s.authFails.fail(r)
			}
			s.writeError(w, r, apiErrorf(http.StatusUnauthorized, CodeUnauthorized, "missing or wrong token"))
			return
		}
		next(w, r)
	}
}

// setSession gives the browser the session cookie.
func (s *Server) setSession(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name:     SessionCookie,
		Value:    s.session,
		Path:     "/",
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	})
}

// handleLogin exchanges the token for the session cookie:
// POST /api/login {"token": "..."}.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Token string `json:"token"`
	}
	if err := s.decodeJSON(w, r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	if s.cfg.Token == "" {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "token_required": false})
		return
	}
	if s.refuseBlocked(w, r) {
		return
	}
	if !s.tokenOK(body.Token) {
		s.authFails.fail(r)
		s.writeError(w, r, apiErrorf(http.StatusUnauthorized, CodeUnauthorized, "wrong token"))
		return
	}
	s.setSession(w, r)
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "token_required": true})
}

// tokenRedirect handles /?token=T: a right token sets the session cookie
// and redirects to the same URL without the token, so it stays out of the
// history; a wrong one is refused.
func (s *Server) tokenRedirect(w http.ResponseWriter, r *http.Request) bool {
	q := r.URL.Query()
	if !q.Has("token") {
		return false
	}
	if s.refuseBlocked(w, r) {
		return true
	}
	if s.cfg.Token == "" || !s.tokenOK(q.Get("token")) {
		if s.cfg.Token != "" {
			s.authFails.fail(r)
		}
		s.writeError(w, r, apiErrorf(http.StatusUnauthorized, CodeUnauthorized, "wrong token"))
		return true
	}
	s.setSession(w, r)
	q.Del("token")
	u := url.URL{Path: "/", RawQuery: q.Encode()}
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
	return true
}

// decodeJSON reads a size-limited JSON body into v, refusing unknown fields
// and trailing data.
func (s *Server) decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	ct := r.Header.Get("Content-Type")
	if mt, _, _ := strings.Cut(ct, ";"); !strings.EqualFold(strings.TrimSpace(mt), "application/json") {
		return apiErrorf(http.StatusUnsupportedMediaType, CodeMediaType, "send the body as application/json")
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return badRequest("bad JSON body: %s", jsonProblem(err))
	}
	if dec.More() {
		return badRequest("bad JSON body: data after the object")
	}
	return nil
}

// jsonProblem describes a JSON decoding error in the API's terms: field
// names as the client wrote them and JSON types, never the Go types the
// body is decoded into.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF):
		return "the body is empty"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the body ends early"
	case errors.As(err, &se):
		return fmt.Sprintf("%s (at byte %d)", strings.TrimPrefix(se.Error(), "json: "), se.Offset)
	case errors.As(err, &te):
		if te.Field == "" {
			return "the body must be a JSON object"
		}
		field := te.Field
		if i := strings.LastIndexByte(field, '.'); i >= 0 {
			field = field[i+1:]
		}
		want := "of another type"
		switch te.Type.Kind() {
		case reflect.String:
			want = "a string"
		case reflect.Bool:
			want = "true or false"
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			want = "a number"
			if te.Value == "number" || strings.HasPrefix(te.Value, "number ") {
				want = "a whole number in range"
			}
		case reflect.Float32, reflect.Float64:
			want = "a number"
		}
		return fmt.Sprintf("field %q must be %s", field, want)
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if strings.HasPrefix(msg, "unknown field ") {
		return msg
	}
	return "not valid JSON"
}
