package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"mmsearch/engine"
)

// countingLibrary counts the uploads that reach the library (each one is a
// decode).
type countingLibrary struct {
	*engine.Library
	uploads atomic.Int32
}

func (l *countingLibrary) SearchImage(ctx context.Context, r io.Reader, name string, size int64, opt engine.SearchOptions) ([]engine.Result, error) {
	l.uploads.Add(1)
	return l.Library.SearchImage(ctx, r, name, size, opt)
}

// TestCrossSiteRequestsRefused feeds the requests a page on another site (or
// another port of the same host) can make a browser send to a loopback
// server without a token, beside those of the server's own page and of
// programs, and checks which are answered. A refused upload is never
// decoded.
func TestCrossSiteRequestsRefused(t *testing.T) {
	f := newFixture(t, 6)
	lib := &countingLibrary{Library: f.lib}
	img, err := os.ReadFile(filepath.Join(f.photos, "b", "colour03.png"))
	if err != nil {
		t.Fatal(err)
	}
	mp, mpType := multipartBody(t, "image", "x.png", img)
	mpBytes, _ := io.ReadAll(mp)
	const self = "http://127.0.0.1:8080" // the Host the test requests name
	type hdr = map[string]string
	// Browser headers of a fetch() or form from a page at origin.
	fetchFrom := func(origin, site string) hdr {
		return hdr{"Origin": origin, "Sec-Fetch-Site": site, "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "empty"}
	}
	with := func(h hdr, kv ...string) hdr {
		out := hdr{}
		for k, v := range h {
			out[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	evil := fetchFrom("https://evil.com", "cross-site")
	otherPort := fetchFrom("http://127.0.0.1:9999", "same-site")
	tests := []struct {
		name   string
		method string
		path   string
		header hdr
		body   []byte
		status int
		code   string
		upload bool // the request reaches the library's SearchImage
	}{
		// The outside run's cases: a cross-site page uploads as multipart,
		// text/plain and a form.
		{"multipart cross-site", "POST", "/api/search/image", with(evil, "Content-Type", mpType), mpBytes, 403, CodeCrossSite, false},
		{"text/plain cross-site", "POST", "/api/search/image", with(evil, "Content-Type", "text/plain;charset=UTF-8"), img, 403, CodeCrossSite, false},
		{"form cross-site", "POST", "/api/search/image", with(evil, "Content-Type", "application/x-www-form-urlencoded"), img, 403, CodeCrossSite, false},
		{"no type cross-site", "POST", "/api/search/image", evil, img, 403, CodeCrossSite, false},
		{"multipart other port", "POST", "/api/search/image", with(otherPort, "Content-Type", mpType), mpBytes, 403, CodeCrossSite, false},
		{"form navigation other port", "POST", "/api/search/image", with(otherPort, "Content-Type", mpType, "Sec-Fetch-Mode", "navigate", "Sec-Fetch-Dest", "document"), mpBytes, 403, CodeCrossSite, false},
		// Browsers without Sec-Fetch-Site: the Origin decides.
		{"old browser foreign origin", "POST", "/api/search/image", hdr{"Origin": "https://evil.com", "Content-Type": mpType}, mpBytes, 403, CodeCrossSite, false},
		{"old browser other port", "POST", "/api/search/image", hdr{"Origin": "http://127.0.0.1:9999", "Content-Type": mpType}, mpBytes, 403, CodeCrossSite, false},
		{"null origin", "POST", "/api/search/image", hdr{"Origin": "null", "Content-Type": mpType}, mpBytes, 403, CodeCrossSite, false},
		{"old browser own origin", "POST", "/api/search/image", hdr{"Origin": self, "Content-Type": mpType}, mpBytes, 200, "", true},
		// JSON search and login from another site.
		{"JSON search cross-site", "POST", "/api/search", with(evil, "Content-Type", "application/json"), []byte(`{"q":"red"}`), 403, CodeCrossSite, false},
		{"login other port", "POST", "/api/login", with(otherPort, "Content-Type", "application/json"), []byte(`{"token":"x"}`), 403, CodeCrossSite, false},
		// Reads from another site's page: fetch, <img>, <iframe>.
		{"fetch search cross-site", "GET", "/api/search?q=red", with(evil, "Sec-Fetch-Mode", "cors"), nil, 403, CodeCrossSite, false},
		{"img thumb other port", "GET", "/api/items/1/thumb", hdr{"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"}, nil, 403, CodeCrossSite, false},
		{"img file cross-site", "GET", "/api/items/1/file", hdr{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"}, nil, 403, CodeCrossSite, false},
		{"iframe page other port", "GET", "/", hdr{"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "iframe"}, nil, 403, CodeCrossSite, false},
		{"script asset cross-site", "GET", "/assets/app.js", hdr{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "script"}, nil, 403, CodeCrossSite, false},
		// What is allowed: a link opened in a tab, the page itself, programs.
		{"shared link from another site", "GET", "/?q=red", hdr{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}, nil, 200, "", false},
		{"bookmark", "GET", "/api/stats", hdr{"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}, nil, 200, "", false},
		{"own page upload", "POST", "/api/search/image", with(fetchFrom(self, "same-origin"), "Content-Type", mpType), mpBytes, 200, "", true},
		{"own page search", "GET", "/api/search?q=red", hdr{"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"}, nil, 200, "", false},
		{"curl raw", "POST", "/api/search/image", hdr{"Content-Type": "image/png"}, img, 200, "", true},
		{"curl octet-stream", "POST", "/api/search/image", hdr{"Content-Type": "application/octet-stream"}, img, 200, "", true},
		{"curl multipart", "POST", "/api/search/image", hdr{"Content-Type": mpType}, mpBytes, 200, "", true},
		// A body a page could send without a preflight is refused even
		// without browser headers: the image needs its own media type.
		{"curl text/plain", "POST", "/api/search/image", hdr{"Content-Type": "text/plain"}, img, 415, CodeMediaType, false},
		{"curl form", "POST", "/api/search/image", hdr{"Content-Type": "application/x-www-form-urlencoded"}, img, 415, CodeMediaType, false},
		{"curl no type", "POST", "/api/search/image", nil, img, 415, CodeMediaType, false},
	}
	for _, tokenCfg := range []struct {
		name string
		cfg  Config
		auth string
	}{
		{"no token", Config{}, ""},
		// A token does not make cross-site requests acceptable: the session
		// cookie is SameSite=Strict, but another port of the same host is
		// the same site.
		{"token", Config{Token: testToken}, "Bearer " + testToken},
	} {
		h := newTestServer(t, lib, tokenCfg.cfg).Handler()
		for _, tt := range tests {
			t.Run(tokenCfg.name+"/"+tt.name, func(t *testing.T) {
				before := lib.uploads.Load()
				req := httptest.NewRequest(tt.method, tt.path, bytes.NewReader(tt.body))
				for k, v := range tt.header {
					req.Header.Set(k, v)
				}
				if tokenCfg.auth != "" {
					req.Header.Set("Authorization", tokenCfg.auth)
				}
				rec := do(t, h, req)
				if rec.Code != tt.status {
					t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body.String())
				}
				if tt.code != "" {
					if e := decodeError(t, rec); e.Code != tt.code {
						t.Fatalf("error code %q, want %q: %s", e.Code, tt.code, e.Message)
					}
				}
				if got := lib.uploads.Load() - before; (got == 1) != tt.upload || got > 1 {
					t.Fatalf("%d uploads reached the library, want upload=%v", got, tt.upload)
				}
			})
		}
	}
}

// TestCrossSiteCORSOrigin checks that the configured CORS origin may call
// the API from its pages while other sites still may not.
func TestCrossSiteCORSOrigin(t *testing.T) {
	lib := statsLibrary{failingLibrary{t.TempDir()}}
	h := newTestServer(t, lib, Config{CORSOrigin: "https://app.example"}).Handler()
	for _, tt := range []struct {
		origin string
		method string
		want   int
	}{
		{"https://app.example", "GET", 200},
		{"https://app.example", "POST", 415}, // allowed through, then the body is checked
		{"https://evil.example", "GET", 403},
		{"https://evil.example", "POST", 403},
	} {
		t.Run(fmt.Sprintf("%s %s", tt.method, tt.origin), func(t *testing.T) {
			path := "/api/stats"
			if tt.method == "POST" {
				path = "/api/search"
			}
			req := httptest.NewRequest(tt.method, path, strings.NewReader("q=red"))
			req.Header.Set("Origin", tt.origin)
			req.Header.Set("Sec-Fetch-Site", "cross-site")
			req.Header.Set("Sec-Fetch-Mode", "cors")
			req.Header.Set("Content-Type", "text/plain")
			rec := do(t, h, req)
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.want, rec.Body.String())
			}
		})
	}
}

// TestSimpleContentType pins which content types a page may send across
// origins without a preflight.
func TestSimpleContentType(t *testing.T) {
	for ct, want := range map[string]bool{
		"":                                  true,
		"text/plain":                        true,
		"text/plain;charset=UTF-8":          true,
		"TEXT/PLAIN":                        true,
		"application/x-www-form-urlencoded": true,
		"multipart/form-data; boundary=x":   true,
		"not a type":                        true,
		"image/png":                         false,
		"application/octet-stream":          false,
		"application/json":                  false,
	} {
		if got := simpleContentType(ct); got != want {
			t.Errorf("simpleContentType(%q) = %v, want %v", ct, got, want)
		}
	}
}
