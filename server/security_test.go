package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"mmsearch/engine"
	"mmsearch/internal/imagetest"
)

// secretText is planted in a file outside the library; no answer may ever
// contain it.
const secretText = "root:x:0:0:TOP-SECRET"

func plantSecret(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(p, []byte(secretText+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// get sends a raw request line to a live server, so that nothing on the
// client side cleans or re-escapes the path.
func rawGet(t *testing.T, addr, target string, header ...string) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	req := "GET " + target + " HTTP/1.1\r\nHost: " + addr + "\r\nConnection: close\r\n"
	for _, h := range header {
		req += h + "\r\n"
	}
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufioReader(conn), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestPathTraversalRefused(t *testing.T) {
	f := newFixture(t, 6)
	secret := plantSecret(t)
	// An image outside the library, readable but not indexed.
	outside := filepath.Join(t.TempDir(), "outside.png")
	if err := os.WriteFile(outside, imagetest.PNG(t, colourImage(1, 6, 32)), 0o644); err != nil {
		t.Fatal(err)
	}
	var fetched atomic.Int32
	urlTarget := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetched.Add(1)
		w.Write(imagetest.PNG(t, colourImage(2, 6, 32)))
	}))
	defer urlTarget.Close()

	srv := newTestServer(t, f.lib, Config{})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	addr := ts.Listener.Addr().String()
	rel, err := filepath.Rel(mustGetwd(t), secret)
	if err != nil {
		t.Fatal(err)
	}
	relOutside, err := filepath.Rel(mustGetwd(t), outside)
	if err != nil {
		t.Fatal(err)
	}
	id := f.ids["colour00.png"]

	tests := []struct {
		name   string
		target string
		want   []int // acceptable statuses (a redirect to a cleaned path, then a 404, is fine)
	}{
		{"id dot-dot", "/api/items/../../etc/passwd", []int{301, 307, 308, 404}},
		{"id encoded", "/api/items/..%2F..%2Fetc%2Fpasswd", []int{400}},
		{"id double encoded", "/api/items/..%252F..%252Fetc%252Fpasswd", []int{400}},
		{"id encoded dots", "/api/items/%2e%2e/file", []int{301, 307, 308, 400, 404}},
		{"id absolute secret", "/api/items/" + url.PathEscape(secret) + "/file", []int{400}},
		{"id nul", "/api/items/1%00/file", []int{400}},
		{"file dot-dot", fmt.Sprintf("/api/items/%d/file/../../../..%s", id, secret), []int{301, 307, 308, 404}},
		{"thumb size dot-dot", fmt.Sprintf("/api/items/%d/thumb?size=../../etc/passwd", id), []int{400}},
		{"thumb size encoded", fmt.Sprintf("/api/items/%d/thumb?size=256%%2F..%%2F..%%2Fetc%%2Fpasswd", id), []int{400}},
		{"thumb size absolute", fmt.Sprintf("/api/items/%d/thumb?size=%s", id, url.QueryEscape(secret)), []int{400}},
		{"asset dot-dot", "/assets/../server.go", []int{301, 307, 308, 404}},
		{"asset encoded", "/assets/..%2Fserver.go", []int{404}},
		{"asset absolute", "/assets/" + url.PathEscape(secret), []int{404}},
		{"page path", "/" + url.PathEscape(secret), []int{404}},
		{"query relative path", "/api/search?q=" + url.QueryEscape("./../x"), []int{400}},
		{"query relative secret", "/api/search?q=" + url.QueryEscape("./"+rel), []int{400}},
		{"query absolute secret", "/api/search?q=" + url.QueryEscape(secret), []int{400}},
		{"query outside image", "/api/search?q=" + url.QueryEscape("./"+relOutside), []int{400}},
		{"query absolute image", "/api/search?q=" + url.QueryEscape("red + "+outside), []int{400}},
		{"query home path", "/api/search?q=" + url.QueryEscape("~/.ssh/id_rsa"), []int{400}},
		{"query file URL", "/api/search?q=" + url.QueryEscape("file://"+secret), []int{400}},
		{"query http URL", "/api/search?q=" + url.QueryEscape(urlTarget.URL+"/x.png"), []int{400}},
		{"query item by outside path", "/api/search?q=" + url.QueryEscape("@"+outside), []int{400}},
		{"query item by dot-dot path", "/api/search?q=" + url.QueryEscape(`@"../../etc/passwd"`), []int{400}},
		{"post query path", "/api/search?q=" + url.QueryEscape("../"+rel), []int{400}},
		{"query single-quoted path", "/api/search?q=" + url.QueryEscape("'"+secret+"' - cat"), []int{400}},
		{"query double-quoted path", "/api/search?q=" + url.QueryEscape(`"`+secret+`"`), []int{400}},
		{"query file prefix", "/api/search?q=" + url.QueryEscape("file:"+secret), []int{400}},
		{"query relative file prefix", "/api/search?q=" + url.QueryEscape("file:'"+rel+"'"), []int{400}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := rawGet(t, addr, tt.target)
			ok := false
			for _, w := range tt.want {
				ok = ok || status == w
			}
			if !ok {
				t.Fatalf("GET %s: status %d, want one of %v; body %s", tt.target, status, tt.want, body)
			}
			if strings.Contains(body, "TOP-SECRET") || strings.Contains(body, "\x89PNG") {
				t.Fatalf("GET %s leaked file content: %q", tt.target, body)
			}
			if status == 400 && strings.Contains(tt.target, "q=") && !strings.Contains(body, `"code":"bad_query"`) {
				t.Fatalf("a path in a query must be a bad_query: %s", body)
			}
		})
	}
	if n := fetched.Load(); n != 0 {
		t.Fatalf("the server fetched a URL from a query %d times", n)
	}

	// A path term is refused with its position, naming the rule.
	status, body := rawGet(t, addr, "/api/search?q="+url.QueryEscape("red + ./../x"))
	if status != 400 || !strings.Contains(body, `"position":6`) || !strings.Contains(body, "not allowed") {
		t.Fatalf("path term: %d %s", status, body)
	}

	// So is a quoted path, the same whether or not the file exists.
	for _, q := range []string{"red − '" + secret + "'", "red − '" + secret + ".none'"} {
		status, body := rawGet(t, addr, "/api/search?q="+url.QueryEscape(q))
		if status != 400 || !strings.Contains(body, `"position":8`) || !strings.Contains(body, "not allowed") {
			t.Fatalf("quoted path term %q: %d %s", q, status, body)
		}
	}

	// Following redirects never reaches anything but JSON 404s.
	resp, err := http.Get(ts.URL + "/api/items/1/../../../../" + strings.TrimPrefix(secret, "/"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 404 || strings.Contains(string(b), "TOP-SECRET") {
		t.Fatalf("after redirects: %d %s", resp.StatusCode, b)
	}
}

func mustGetwd(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}

// TestSwappedFileRefused replaces an indexed picture by a link to a secret
// file: the server notices the file is not the indexed one and serves nothing.
func TestSwappedFileRefused(t *testing.T) {
	f := newFixture(t, 4)
	secret := plantSecret(t)
	id := f.ids["colour02.png"]
	if err := os.Remove(f.paths[id]); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, f.paths[id]); err != nil {
		t.Skipf("symlinks: %v", err)
	}
	h := newTestServer(t, f.lib, Config{}).Handler()
	for _, p := range []string{"/file", "/thumb"} {
		rec := do(t, h, httptest.NewRequest("GET", fmt.Sprintf("/api/items/%d%s", id, p), nil))
		if rec.Code != http.StatusConflict || strings.Contains(rec.Body.String(), "TOP-SECRET") {
			t.Fatalf("%s: %d %s", p, rec.Code, rec.Body.String())
		}
	}
}

func TestBindRequiresToken(t *testing.T) {
	lib := failingLibrary{t.TempDir()}
	token := testToken
	tests := []struct {
		cfg  Config
		want string // substring of the error, "" for success
	}{
		{Config{Addr: "127.0.0.1:0"}, ""},
		{Config{Addr: "[::1]:0"}, ""},
		{Config{Addr: "localhost:0"}, ""},
		{Config{Addr: "0.0.0.0:8080"}, "needs --token"},
		{Config{Addr: ":8080"}, "needs --token"},
		{Config{Addr: "[::]:8080"}, "needs --token"},
		{Config{Addr: "192.0.2.10:8080"}, "needs --token"},
		{Config{Addr: "0.0.0.0:8080", Token: token}, ""},
		{Config{Addr: "0.0.0.0:8080", Insecure: true}, ""},
		{Config{Addr: "0.0.0.0:8080", Token: "short"}, "at least 32"},
		{Config{Addr: "0.0.0.0:8080", Token: testToken[:31]}, "at least 32"},
		{Config{Addr: "0.0.0.0:8080", Token: testToken[:32]}, ""},
		{Config{Addr: "0.0.0.0:8080", Token: strings.Repeat("a", 64)}, "only 1 different"},
		{Config{Addr: "0.0.0.0:8080", Token: strings.Repeat("password", 5)}, "only 7 different"},
		{Config{Addr: "0.0.0.0:8080", Token: "has a space in it, long enough to pass"}, "whitespace"},
		{Config{Addr: "127.0.0.1"}, "missing port"},
		{Config{Addr: "127.0.0.1:0", CORSOrigin: "not an origin"}, "CORS origin"},
		{Config{Addr: "127.0.0.1:0", CORSOrigin: "https://a.example/path"}, "CORS origin"},
		{Config{Addr: "127.0.0.1:0", CORSOrigin: "https://a.example"}, ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s token=%q insecure=%v", tt.cfg.Addr, tt.cfg.Token, tt.cfg.Insecure), func(t *testing.T) {
			_, err := New(lib, tt.cfg)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if strings.Contains(tt.want, "token") && !errors.Is(err, ErrNeedToken) {
				t.Fatalf("error %v does not wrap ErrNeedToken", err)
			}
		})
	}

	// A listener on all interfaces is refused by Serve unless a token is set.
	s := newTestServer(t, lib, Config{Addr: "127.0.0.1:0"})
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Skipf("cannot listen on all interfaces: %v", err)
	}
	err = s.Serve(context.Background(), ln)
	if !errors.Is(err, ErrNeedToken) {
		t.Fatalf("Serve on %s: %v, want ErrNeedToken", ln.Addr(), err)
	}
}

func TestTokenAuth(t *testing.T) {
	f := newFixture(t, 4)
	token := testToken
	s := newTestServer(t, f.lib, Config{Addr: "0.0.0.0:0", Token: token})
	h := s.Handler()
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	runCases(t, h, []apiCase{
		{name: "no token", path: "/api/search?q=red", status: 401, code: CodeUnauthorized, check: func(t *testing.T, rec *httptest.ResponseRecorder) {
			if !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("WWW-Authenticate %q", rec.Header().Get("WWW-Authenticate"))
			}
		}},
		{name: "wrong token", path: "/api/search?q=red", header: bearer(testToken[:len(testToken)-1] + "x"), status: 401, code: CodeUnauthorized},
		{name: "token prefix", path: "/api/search?q=red", header: bearer(token[:len(token)-1]), status: 401, code: CodeUnauthorized},
		{name: "token longer", path: "/api/search?q=red", header: bearer(token + "x"), status: 401, code: CodeUnauthorized},
		{name: "basic scheme", path: "/api/stats", header: map[string]string{"Authorization": "Basic " + token}, status: 401, code: CodeUnauthorized},
		{name: "wrong cookie", path: "/api/stats", header: map[string]string{"Cookie": SessionCookie + "=" + token}, status: 401, code: CodeUnauthorized},
		{name: "right token", path: "/api/search?q=red&k=2", header: bearer(token), status: 200, check: wantResults(2)},
		{name: "right token any case", path: "/api/stats", header: map[string]string{"Authorization": "bearer " + token}, status: 200},
		{name: "items need token", path: "/api/items/1/file", status: 401, code: CodeUnauthorized},
		{name: "thumbs need token", path: "/api/items/1/thumb", status: 401, code: CodeUnauthorized},
		{name: "upload needs token", method: "POST", path: "/api/search/image", body: strings.NewReader("x"), status: 401, code: CodeUnauthorized},
		{name: "unknown endpoint needs token", path: "/api/nope", status: 401, code: CodeUnauthorized},
		{name: "page is public", path: "/", status: 200},
		{name: "healthz is public", path: "/healthz", status: 200},
		{name: "page wrong token", path: "/?token=nope", status: 401, code: CodeUnauthorized},
		{name: "login wrong", method: "POST", path: "/api/login", header: jsonHeader, body: jsonBody(map[string]string{"token": "nope"}), status: 401, code: CodeUnauthorized},
		{name: "any Host with a token", path: "/api/stats", header: map[string]string{"Authorization": "Bearer " + token, "Host": "photos.example"}, status: 200},
	})

	// The page's flows: /?token= and POST /api/login give a cookie that works.
	for _, flow := range []struct {
		name string
		req  *http.Request
		want int
	}{
		{"link", httptest.NewRequest("GET", "/?token="+url.QueryEscape(token)+"&q=red", nil), http.StatusSeeOther},
		{"login", func() *http.Request {
			r := httptest.NewRequest("POST", "/api/login", jsonBody(map[string]string{"token": token}))
			r.Header.Set("Content-Type", "application/json")
			return r
		}(), http.StatusOK},
	} {
		t.Run(flow.name, func(t *testing.T) {
			rec := do(t, h, flow.req)
			if rec.Code != flow.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, flow.want, rec.Body.String())
			}
			if flow.want == http.StatusSeeOther {
				if loc := rec.Header().Get("Location"); loc != "/?q=red" {
					t.Fatalf("redirect to %q, want the URL without the token", loc)
				}
			}
			cookies := rec.Result().Cookies()
			if len(cookies) != 1 || cookies[0].Name != SessionCookie || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteStrictMode {
				t.Fatalf("cookies %+v", cookies)
			}
			if strings.Contains(cookies[0].Value, token) {
				t.Fatalf("the cookie holds the token itself")
			}
			req := httptest.NewRequest("GET", "/api/stats", nil)
			req.AddCookie(cookies[0])
			if rec := do(t, h, req); rec.Code != 200 {
				t.Fatalf("with the cookie: %d %s", rec.Code, rec.Body.String())
			}
		})
	}
}

func TestHostCheck(t *testing.T) {
	h := newTestServer(t, statsLibrary{failingLibrary{t.TempDir()}}, Config{}).Handler()
	for _, tt := range []struct {
		host string
		want int
	}{
		{"127.0.0.1:8080", 200},
		{"localhost:8080", 200},
		{"[::1]:8080", 200},
		{"app.localhost", 200},
		{"evil.example", 403},
		{"evil.example:8080", 403},
		{"127.0.0.1.evil.example", 403},
		{"", 403},
	} {
		req := httptest.NewRequest("GET", "/healthz", nil)
		req.Host = tt.host
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("Host %q: status %d, want %d", tt.host, rec.Code, tt.want)
		}
		if tt.want == 403 && decodeError(t, rec).Code != CodeForbiddenHost {
			t.Errorf("Host %q: %s", tt.host, rec.Body.String())
		}
	}
}

func TestUploadLimits(t *testing.T) {
	f := newFixture(t, 4)
	h := newTestServer(t, f.lib, Config{MaxUploadBytes: 2000}).Handler()
	noisy := colourImage(1, 4, 64)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range noisy.Pix {
		if i%4 != 3 {
			noisy.Pix[i] = uint8(rng.Uint32())
		}
	}
	big := imagetest.PNG(t, noisy) // a real image, over 2000 bytes
	if len(big) <= 4000 {
		t.Fatalf("test image only %d bytes", len(big))
	}
	huge := bytes.Repeat([]byte{0x89}, 2000+multipartSlack+1)
	mp, mpType := multipartBody(t, "image", "big.png", big)
	// A body whose length is not announced.
	chunked := httptest.NewRequest("POST", "/api/search/image", io.MultiReader(bytes.NewReader(big)))
	chunked.ContentLength = -1
	chunked.Header.Set("Content-Type", "image/png")
	runCases(t, h, []apiCase{
		{name: "raw over limit", method: "POST", path: "/api/search/image", header: pngHeader, body: bytes.NewReader(big), status: 413, code: CodeTooLarge},
		{name: "multipart over limit", method: "POST", path: "/api/search/image", header: map[string]string{"Content-Type": mpType}, body: mp, status: 413, code: CodeTooLarge},
		{name: "announced over limit", method: "POST", path: "/api/search/image", header: pngHeader, body: bytes.NewReader(huge), status: 413, code: CodeTooLarge},
		{name: "text is not an image", method: "POST", path: "/api/search/image", header: pngHeader, body: strings.NewReader("<svg onload=alert(1)>"), status: 415, code: CodeNotImage},
		{name: "html in multipart", method: "POST", path: "/api/search/image", header: map[string]string{"Content-Type": "multipart/form-data; boundary=X"},
			body: strings.NewReader("--X\r\nContent-Disposition: form-data; name=\"image\"; filename=\"../../a.html\"\r\n\r\n<html></html>\r\n--X--\r\n"), status: 415, code: CodeNotImage},
		{name: "multipart without boundary", method: "POST", path: "/api/search/image", header: map[string]string{"Content-Type": "multipart/form-data"}, body: strings.NewReader("x"), status: 400, code: CodeBadRequest},
	})
	rec := do(t, h, chunked)
	if rec.Code != 413 || decodeError(t, rec).Code != CodeTooLarge {
		t.Fatalf("unannounced body: %d %s", rec.Code, rec.Body.String())
	}
}

// statsLibrary answers Stats and fails everything else.
type statsLibrary struct{ failingLibrary }

func (statsLibrary) Stats(context.Context) (engine.Stats, error) { return engine.Stats{Items: 7}, nil }
func (statsLibrary) Check(context.Context) error                 { return nil }

func TestCORS(t *testing.T) {
	lib := statsLibrary{failingLibrary{t.TempDir()}}
	off := newTestServer(t, lib, Config{}).Handler()
	on := newTestServer(t, lib, Config{CORSOrigin: "https://App.example"}).Handler()
	for _, tt := range []struct {
		name   string
		h      http.Handler
		method string
		origin string
		status int
		allow  string
	}{
		{"off", off, "GET", "https://app.example", 200, ""},
		{"off preflight", off, "OPTIONS", "https://app.example", 405, ""},
		{"on", on, "GET", "https://app.example", 200, "https://app.example"},
		{"on other origin", on, "GET", "https://evil.example", 200, ""},
		{"on preflight", on, "OPTIONS", "https://app.example", 204, "https://app.example"},
		{"on preflight other origin", on, "OPTIONS", "https://evil.example", 405, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, "/api/stats", nil)
			req.Header.Set("Origin", tt.origin)
			if tt.method == "OPTIONS" {
				req.Header.Set("Access-Control-Request-Method", "GET")
			}
			rec := do(t, tt.h, req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body.String())
			}
			if got := rec.Header().Get("Access-Control-Allow-Origin"); got != tt.allow {
				t.Fatalf("Access-Control-Allow-Origin %q, want %q", got, tt.allow)
			}
			if rec.Header().Get("Access-Control-Allow-Credentials") != "" {
				t.Fatalf("credentials allowed cross-origin")
			}
			if tt.status == 204 && !strings.Contains(rec.Header().Get("Access-Control-Allow-Headers"), "Authorization") {
				t.Fatalf("preflight does not allow the Authorization header")
			}
		})
	}
}

func bufioReader(r io.Reader) *bufio.Reader { return bufio.NewReader(r) }

func TestWrongTokensRateLimited(t *testing.T) {
	f := newFixture(t, 4)
	token := testToken
	s := newTestServer(t, f.lib, Config{Addr: "0.0.0.0:0", Token: token})
	now := time.Now()
	s.authFails.now = func() time.Time { return now }
	h := s.Handler()
	get := func(from, tok string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/api/stats", nil)
		req.RemoteAddr = from
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		return do(t, h, req)
	}
	login := func(from, tok string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/api/login", jsonBody(map[string]string{"token": tok}))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = from
		return do(t, h, req)
	}
	// Requests without any credentials are not failures.
	for range 3 * MaxAuthFailures {
		if rec := get("192.0.2.7:1000", ""); rec.Code != http.StatusUnauthorized {
			t.Fatalf("no token: %d", rec.Code)
		}
	}
	// Wrong tokens through the API and the login count together, whatever
	// the source port.
	for i := range MaxAuthFailures {
		from := fmt.Sprintf("192.0.2.7:%d", 2000+i)
		var rec *httptest.ResponseRecorder
		if i%2 == 0 {
			rec = get(from, "wrong-token-0123456789-wrong-token")
		} else {
			rec = login(from, "wrong-token-0123456789-wrong-token")
		}
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("wrong token %d: status %d", i, rec.Code)
		}
	}
	for _, rec := range []*httptest.ResponseRecorder{get("192.0.2.7:3000", token), login("192.0.2.7:3001", token)} {
		if rec.Code != http.StatusTooManyRequests {
			t.Fatalf("after %d wrong tokens: status %d, want 429", MaxAuthFailures, rec.Code)
		}
		if e := decodeError(t, rec); e.Code != CodeTooManyFailures {
			t.Fatalf("error code %q", e.Code)
		}
		if ra, err := strconv.Atoi(rec.Header().Get("Retry-After")); err != nil || ra < 1 || ra > int(AuthFailureWindow.Seconds())+1 {
			t.Fatalf("Retry-After %q", rec.Header().Get("Retry-After"))
		}
	}
	// Other clients are unaffected.
	if rec := get("198.51.100.3:1000", token); rec.Code != http.StatusOK {
		t.Fatalf("another client: %d", rec.Code)
	}
	// The block ends with the window.
	now = now.Add(AuthFailureWindow + time.Second)
	if rec := get("192.0.2.7:4000", token); rec.Code != http.StatusOK {
		t.Fatalf("after the window: %d", rec.Code)
	}
}

func TestAuthLimiterMemoryBounded(t *testing.T) {
	l := newAuthLimiter()
	now := time.Now()
	l.now = func() time.Time { return now }
	for i := range 3 * maxTrackedClients {
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = fmt.Sprintf("10.%d.%d.%d:80", i>>16&255, i>>8&255, i&255)
		l.fail(req)
		now = now.Add(time.Millisecond)
	}
	if n := len(l.clients); n > maxTrackedClients {
		t.Fatalf("tracking %d clients, limit %d", n, maxTrackedClients)
	}
}

// TestItemPathRefused checks that a query naming an item by its path is
// refused over HTTP with one answer, whether the path is indexed or not, so
// that a client cannot probe which paths the library holds.
func TestItemPathRefused(t *testing.T) {
	f := newFixture(t, 4)
	h := newTestServer(t, f.lib, Config{}).Handler()
	indexed := f.paths[f.ids["colour02.png"]]
	var first *APIError
	for _, tt := range []struct {
		name, path string
	}{
		{"indexed", indexed},
		{"not indexed", "/etc/passwd"},
		{"indexed but absent", filepath.Join(filepath.Dir(indexed), "colour99.png")},
	} {
		for _, q := range []string{"red + @" + tt.path, `red + @"` + tt.path + `"`} {
			for _, post := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s %s post=%v", tt.name, q, post), func(t *testing.T) {
					req := httptest.NewRequest("GET", "/api/search?q="+url.QueryEscape(q), nil)
					if post {
						req = httptest.NewRequest("POST", "/api/search", jsonBody(SearchRequest{Q: q}))
						req.Header.Set("Content-Type", "application/json")
					}
					rec := do(t, h, req)
					if rec.Code != http.StatusBadRequest {
						t.Fatalf("status %d, want 400: %s", rec.Code, rec.Body.String())
					}
					e := decodeError(t, rec)
					if e.Code != CodeBadQuery || e.Position == nil || *e.Position != 6 || !strings.Contains(e.Message, "by id") {
						t.Fatalf("error %+v", e)
					}
					if strings.Contains(e.Message, "no indexed item") || strings.Contains(e.Message, tt.path) {
						t.Fatalf("the message tells whether the path is indexed: %q", e.Message)
					}
					if first == nil {
						first = &e
					} else if e.Message != first.Message || e.Code != first.Code {
						t.Fatalf("answer %q differs from %q", e.Message, first.Message)
					}
				})
			}
		}
	}
	// By id the same item works.
	rec := do(t, h, httptest.NewRequest("GET", fmt.Sprintf("/api/search?q=%%40%d&k=2", f.ids["colour02.png"]), nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("@ID: %d %s", rec.Code, rec.Body.String())
	}
}

// TestHidePaths serves a library with HidePaths: no answer names an
// absolute path (of a file or of the library), files show under their
// root's name, the prefix filter takes that form, and a file under no
// configured root shows its name alone.
func TestHidePaths(t *testing.T) {
	f := newFixture(t, 6)
	root := filepath.Base(f.photos)
	img, err := os.ReadFile(f.paths[f.ids["colour00.png"]])
	if err != nil {
		t.Fatal(err)
	}
	get := func(h http.Handler, path string) *httptest.ResponseRecorder {
		rec := do(t, h, httptest.NewRequest("GET", path, nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body.String())
		}
		return rec
	}
	h := newTestServer(t, f.lib, Config{HidePaths: true, Roots: []string{f.photos}}).Handler()
	upload := httptest.NewRequest("POST", "/api/search/image?k=6", bytes.NewReader(img))
	upload.Header.Set("Content-Type", "image/png")
	bodies := map[string]string{
		"search": get(h, "/api/search?q=red&k=6").Body.String(),
		"item":   get(h, fmt.Sprintf("/api/items/%d", f.ids["colour03.png"])).Body.String(),
		"stats":  get(h, "/api/stats").Body.String(),
		"upload": do(t, h, upload).Body.String(),
	}
	for name, b := range bodies {
		for _, abs := range []string{f.photos, f.lib.Dir(), filepath.Dir(f.photos)} {
			if strings.Contains(b, abs) {
				t.Errorf("%s names %s: %s", name, abs, b)
			}
		}
	}
	var res SearchResponse
	if err := json.Unmarshal([]byte(bodies["search"]), &res); err != nil || len(res.Results) != 6 {
		t.Fatalf("search: %v %s", err, bodies["search"])
	}
	for _, r := range res.Results {
		sub := "a"
		if r.ID == f.ids["colour01.png"] || r.ID == f.ids["colour03.png"] || r.ID == f.ids["colour05.png"] {
			sub = "b"
		}
		if want := root + "/" + sub + "/" + r.Name; r.Path != want {
			t.Errorf("result path %q, want %q", r.Path, want)
		}
	}
	var it ItemResponse
	if err := json.Unmarshal([]byte(bodies["item"]), &it); err != nil || it.Path != root+"/b/colour03.png" || it.Name != "colour03.png" {
		t.Fatalf("item %+v %v", it, err)
	}
	var st StatsResponse
	if err := json.Unmarshal([]byte(bodies["stats"]), &st); err != nil || st.Library != filepath.Base(f.lib.Dir()) {
		t.Fatalf("stats %+v %v", st, err)
	}
	// The prefix filter in the shown form.
	var pres SearchResponse
	if err := json.Unmarshal(get(h, "/api/search?q=red&k=6&prefix="+url.QueryEscape(root+"/b/")).Body.Bytes(), &pres); err != nil || len(pres.Results) != 3 {
		t.Fatalf("prefix %s/b/: %+v %v", root, pres.Results, err)
	}
	for _, p := range []string{f.photos + "/b/", "elsewhere/b/", root + "/../../etc/"} {
		rec := do(t, h, httptest.NewRequest("GET", "/api/search?q=red&prefix="+url.QueryEscape(p), nil))
		if rec.Code != http.StatusBadRequest {
			t.Errorf("prefix %q: %d %s", p, rec.Code, rec.Body.String())
		}
	}

	// A file under no configured root shows its name alone.
	h = newTestServer(t, f.lib, Config{HidePaths: true, Roots: []string{filepath.Join(f.photos, "a")}}).Handler()
	var it3 ItemResponse
	if err := json.Unmarshal(get(h, fmt.Sprintf("/api/items/%d", f.ids["colour03.png"])).Body.Bytes(), &it3); err != nil || it3.Path != "colour03.png" {
		t.Fatalf("item outside the roots: %+v %v", it3, err)
	}
	var it0 ItemResponse
	if err := json.Unmarshal(get(h, fmt.Sprintf("/api/items/%d", f.ids["colour00.png"])).Body.Bytes(), &it0); err != nil || it0.Path != "a/colour00.png" {
		t.Fatalf("item under root a: %+v %v", it0, err)
	}

	// Configuration errors.
	for _, cfg := range []Config{
		{HidePaths: true, Roots: []string{filepath.Join(t.TempDir(), "Photos"), filepath.Join(t.TempDir(), "Photos")}},
		{Roots: []string{f.photos}},
	} {
		if _, err := New(f.lib, cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}
