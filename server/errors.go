package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"mmsearch/encoders/imageproc"
	"mmsearch/engine"
	"mmsearch/engine/query"
)

// Error codes of the JSON API.
const (
	CodeBadQuery        = "bad_query"          // 400: syntax error or unusable term; has position
	CodeBadRequest      = "bad_request"        // 400: a bad parameter or body
	CodeUnauthorized    = "unauthorized"       // 401: missing or wrong token
	CodeForbiddenHost   = "forbidden_host"     // 403: Host header is not a loopback name
	CodeCrossSite       = "cross_site"         // 403: a browser request from another site or origin
	CodeNotFound        = "not_found"          // 404: unknown item or route
	CodeMethod          = "method_not_allowed" // 405
	CodeStale           = "stale_item"         // 409: the file changed since it was indexed
	CodeEmptyLibrary    = "empty_library"      // 409: nothing indexed yet
	CodeTooLarge        = "too_large"          // 413: body or image over the limit
	CodeNotImage        = "not_image"          // 415: the upload is not a supported image
	CodeTooManyFailures = "too_many_failures"  // 429: too many wrong tokens from this address
	CodeMediaType       = "unsupported_media_type"
	CodeCorrupt         = "corrupt_image" // 422: an image that cannot be decoded
	CodeInternal        = "internal"      // 500
	CodeUnavailable     = "unavailable"   // 503: shutting down or timed out
	CodeClientCanceled  = "canceled"
)

// ErrorBody is the JSON form of every error response.
type ErrorBody struct {
	Error APIError `json:"error"`
}

// APIError describes one failed request. Position and Length are byte
// offsets into Query for bad_query errors.
type APIError struct {
	Status   int     `json:"-"`
	Code     string  `json:"code"`
	Message  string  `json:"message"`
	Position *int    `json:"position,omitempty"`
	Length   *int    `json:"length,omitempty"`
	Query    *string `json:"query,omitempty"`
}

// Error implements error.
func (e *APIError) Error() string { return e.Code + ": " + e.Message }

func apiErrorf(status int, code, format string, args ...any) *APIError {
	return &APIError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *APIError {
	return apiErrorf(http.StatusBadRequest, CodeBadRequest, format, args...)
}

// toAPIError maps an error from the engine or from reading a request to
// its API form.
func toAPIError(err error) *APIError {
	var ae *APIError
	var se *query.SyntaxError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &se):
		pos, n, in := se.Pos, se.Len, se.Input
		return &APIError{Status: http.StatusBadRequest, Code: CodeBadQuery, Message: se.Msg, Position: &pos, Length: &n, Query: &in}
	case errors.As(err, &mbe):
		return apiErrorf(http.StatusRequestEntityTooLarge, CodeTooLarge, "request body over the %d-byte limit", mbe.Limit)
	case errors.Is(err, engine.ErrNoItem):
		return apiErrorf(http.StatusNotFound, CodeNotFound, "no such item")
	case errors.Is(err, engine.ErrEmptyLibrary):
		return apiErrorf(http.StatusConflict, CodeEmptyLibrary, "the library has no items yet; index some pictures first")
	case errors.Is(err, imageproc.ErrTooLarge):
		return apiErrorf(http.StatusRequestEntityTooLarge, CodeTooLarge, "%s", imageMessage(err))
	case errors.Is(err, imageproc.ErrNotImage), errors.Is(err, imageproc.ErrUnsupported):
		return apiErrorf(http.StatusUnsupportedMediaType, CodeNotImage, "%s", imageMessage(err))
	case errors.Is(err, imageproc.ErrCorrupt):
		return apiErrorf(http.StatusUnprocessableEntity, CodeCorrupt, "%s", imageMessage(err))
	case errors.Is(err, context.DeadlineExceeded):
		return apiErrorf(http.StatusServiceUnavailable, CodeUnavailable, "the request took too long")
	case errors.Is(err, context.Canceled):
		return apiErrorf(http.StatusServiceUnavailable, CodeClientCanceled, "the request was canceled")
	case errors.Is(err, engine.ErrBadFilter), errors.Is(err, engine.ErrNoCameraData):
		return apiErrorf(http.StatusBadRequest, CodeBadRequest, "%s", filterMessage(err))
	case errors.Is(err, engine.ErrZeroQuery):
		return apiErrorf(http.StatusBadRequest, CodeBadQuery, "the query's terms cancel out")
	}
	return apiErrorf(http.StatusInternalServerError, CodeInternal, "internal error")
}

// imageMessage is an image error without the name given to the decoder.
func imageMessage(err error) string {
	var ie *imageproc.Error
	if errors.As(err, &ie) {
		return ie.Err.Error()
	}
	return err.Error()
}

// writeError sends err as JSON and logs server-side failures.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae := toAPIError(err)
	if ae.Status >= 500 && ae.Code != CodeClientCanceled {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	} else {
		s.log.Debug("request refused", "method", r.Method, "path", r.URL.Path, "status", ae.Status, "err", err)
	}
	if ae.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="mmsearch"`)
	}
	writeJSON(w, ae.Status, ErrorBody{Error: *ae})
}

// writeJSON sends v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"cannot encode the response"}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
