package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mmsearch/engine"
	"mmsearch/internal/imagetest"
)

// apiCase is one request and what its answer must be.
type apiCase struct {
	name   string
	method string
	path   string
	body   io.Reader
	header map[string]string
	status int
	code   string                                             // error code, for errors
	check  func(t *testing.T, rec *httptest.ResponseRecorder) // more checks
}

func runCases(t *testing.T, h http.Handler, cases []apiCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			req := httptest.NewRequest(method, tc.path, tc.body)
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			rec := do(t, h, req)
			if rec.Code != tc.status {
				t.Fatalf("%s %s: status %d, want %d; body %s", method, tc.path, rec.Code, tc.status, rec.Body.String())
			}
			// Security headers are on every answer.
			for _, hd := range []string{"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy"} {
				if rec.Header().Get(hd) == "" {
					t.Errorf("missing %s header", hd)
				}
			}
			if !strings.Contains(rec.Header().Get("Content-Security-Policy"), "script-src 'self'") &&
				!strings.Contains(rec.Header().Get("Content-Security-Policy"), "default-src 'none'") {
				t.Errorf("CSP %q does not restrict scripts", rec.Header().Get("Content-Security-Policy"))
			}
			if rec.Code == http.StatusUnauthorized && !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer ") {
				t.Errorf("401 with WWW-Authenticate %q, want a Bearer challenge", rec.Header().Get("WWW-Authenticate"))
			}
			if tc.code != "" {
				e := decodeError(t, rec)
				if e.Code != tc.code {
					t.Fatalf("error code %q, want %q (%s)", e.Code, tc.code, e.Message)
				}
				if e.Message == "" {
					t.Errorf("error without a message")
				}
			}
			if tc.check != nil {
				tc.check(t, rec)
			}
		})
	}
}

func decodeError(t *testing.T, rec *httptest.ResponseRecorder) APIError {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error Content-Type %q, want JSON", ct)
	}
	var body ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("error body %q: %v", rec.Body.String(), err)
	}
	return body.Error
}

func decodeSearch(t *testing.T, rec *httptest.ResponseRecorder) SearchResponse {
	t.Helper()
	var res SearchResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
		t.Fatalf("search body %q: %v", rec.Body.String(), err)
	}
	for i, h := range res.Results {
		if h.Thumb != fmt.Sprintf("/api/items/%d/thumb", h.ID) || h.File != fmt.Sprintf("/api/items/%d/file", h.ID) || h.Name != filepath.Base(h.Path) {
			t.Errorf("result %d: bad links %+v", i, h)
		}
		if i > 0 && res.Mode == engine.ModeAdd && h.Score > res.Results[i-1].Score+1e-6 {
			t.Errorf("results not sorted by score: %+v", res.Results)
		}
	}
	return res
}

func wantResults(n int, exclude ...int64) func(*testing.T, *httptest.ResponseRecorder) {
	return func(t *testing.T, rec *httptest.ResponseRecorder) {
		res := decodeSearch(t, rec)
		if len(res.Results) != n {
			t.Fatalf("%d results, want %d", len(res.Results), n)
		}
		for _, h := range res.Results {
			for _, x := range exclude {
				if h.ID == x {
					t.Fatalf("input item %d returned: %+v", x, res.Results)
				}
			}
		}
	}
}

func wantPosition(pos, length int, msg string) func(*testing.T, *httptest.ResponseRecorder) {
	return func(t *testing.T, rec *httptest.ResponseRecorder) {
		e := decodeError(t, rec)
		if e.Position == nil || e.Length == nil {
			t.Fatalf("bad_query without position: %+v", e)
		}
		if *e.Position != pos || (length >= 0 && *e.Length != length) {
			t.Fatalf("position %d length %d, want %d %d (%s)", *e.Position, *e.Length, pos, length, e.Message)
		}
		if !strings.Contains(e.Message, msg) {
			t.Fatalf("message %q, want it to contain %q", e.Message, msg)
		}
		if e.Query == nil {
			t.Fatalf("bad_query without the query")
		}
	}
}

func jsonBody(v any) io.Reader {
	b, _ := json.Marshal(v)
	return bytes.NewReader(b)
}

var jsonHeader = map[string]string{"Content-Type": "application/json"}

// pngHeader is the Content-Type of a raw PNG upload.
var pngHeader = map[string]string{"Content-Type": "image/png"}

func multipartBody(t testing.TB, field, name string, data []byte) (io.Reader, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile(field, name)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	mw.Close()
	return &buf, mw.FormDataContentType()
}

func TestAPI(t *testing.T) {
	f := newFixture(t, 20)
	s := newTestServer(t, f.lib, Config{})
	h := s.Handler()
	id1 := f.ids["colour00.png"]
	img3Path := filepath.Join(f.photos, "b", "colour03.png")
	img3, err := os.ReadFile(img3Path)
	if err != nil {
		t.Fatal(err)
	}
	id3 := f.ids["colour03.png"]
	mp, mpType := multipartBody(t, "image", "mine.png", img3)
	mpNoField, mpNoFieldType := multipartBody(t, "other", "x.png", img3)

	selfFirst := func(id int64) func(*testing.T, *httptest.ResponseRecorder) {
		return func(t *testing.T, rec *httptest.ResponseRecorder) {
			res := decodeSearch(t, rec)
			if len(res.Results) == 0 || res.Results[0].ID != id || res.Results[0].Score < 0.9999 {
				t.Fatalf("want item %d first with score ≈ 1: %+v", id, res.Results)
			}
		}
	}

	runCases(t, h, []apiCase{
		{name: "healthz", path: "/healthz", status: 200, check: func(t *testing.T, rec *httptest.ResponseRecorder) {
			if strings.TrimSpace(rec.Body.String()) != `{"status":"ok"}` {
				t.Fatalf("body %q", rec.Body.String())
			}
		}},
		{name: "stats", path: "/api/stats", status: 200, check: func(t *testing.T, rec *httptest.ResponseRecorder) {
			var st StatsResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || st.Items != 20 || st.Model.Name != "tiny-test" || st.Model.Dim != 4 ||
				st.Library != f.lib.Dir() || !strings.Contains(rec.Body.String(), `"model":{"name":"tiny-test"`) {
				t.Fatalf("stats %+v %v", st, err)
			}
		}},
		{name: "text search", path: "/api/search?q=red+car&k=5", status: 200, check: func(t *testing.T, rec *httptest.ResponseRecorder) {
			res := decodeSearch(t, rec)
			if len(res.Results) != 5 || res.K != 5 || res.Mode != "add" || res.Query != "red car" ||
				len(res.Terms) != 1 || res.Terms[0].Kind != "text" || res.Terms[0].Value != "red car" {
				t.Fatalf("response %+v", res)
			}
		}},
		{name: "default k", path: "/api/search?q=red", status: 200, check: wantResults(20)},
		{name: "item excluded", path: fmt.Sprintf("/api/search?q=@%d&k=3", id1), status: 200, check: wantResults(3, id1)},
		{name: "item included", path: fmt.Sprintf("/api/search?q=@%d&k=3&include_inputs=true", id1), status: 200, check: selfFirst(id1)},
		{name: "mul mode", path: fmt.Sprintf("/api/search?q=@%d+-+dog+%%2B+cat&k=4&mode=mul", id1), status: 200, check: func(t *testing.T, rec *httptest.ResponseRecorder) {
			res := decodeSearch(t, rec)
			if res.Mode != "mul" || len(res.Results) != 4 || len(res.Terms) != 3 || res.Terms[1].Coef != -1 {
				t.Fatalf("response %+v", res)
			}
			if want := fmt.Sprintf(`1.0 × item @%d − 1.0 × text "dog" + 1.0 × text "cat"`, id1); res.ReadAs != want {
				t.Fatalf("read_as %q, want %q", res.ReadAs, want)
			}
		}},
		{name: "unicode minus", path: "/api/search?q=" + url.QueryEscape(fmt.Sprintf("@%d − 0.5:dog", id1)), status: 200, check: func(t *testing.T, rec *httptest.ResponseRecorder) {
			res := decodeSearch(t, rec)
			if len(res.Terms) != 2 || res.Terms[0].Kind != "item" || res.Terms[1].Coef != -0.5 || res.Terms[1].Value != "dog" ||
				res.ReadAs != fmt.Sprintf(`1.0 × item @%d − 0.5 × text "dog"`, id1) {
				t.Fatalf("response %+v", res)
			}
		}},
		{name: "prefix", path: "/api/search?q=red&k=20&prefix=" + url.QueryEscape(filepath.Join(f.photos, "a")+"/"), status: 200, check: func(t *testing.T, rec *httptest.ResponseRecorder) {
			res := decodeSearch(t, rec)
			if len(res.Results) != 10 {
				t.Fatalf("%d results under a/, want 10", len(res.Results))
			}
			for _, r := range res.Results {
				if !strings.HasPrefix(r.Path, filepath.Join(f.photos, "a")) {
					t.Fatalf("result outside the prefix: %s", r.Path)
				}
			}
		}},
		{name: "post search", method: "POST", path: "/api/search", header: jsonHeader,
			body:   jsonBody(SearchRequest{Q: fmt.Sprintf("@%d - @%d + 2:@%d", f.ids["colour01.png"], f.ids["colour02.png"], id3), K: 5}),
			status: 200, check: wantResults(5, f.ids["colour01.png"], f.ids["colour02.png"], id3)},
		{name: "post search charset", method: "POST", path: "/api/search", header: map[string]string{"Content-Type": "application/json; charset=utf-8"},
			body: strings.NewReader(`{"q":"blue","k":2}`), status: 200, check: wantResults(2)},

		// Query errors carry the position.
		{name: "dangling operator", path: "/api/search?q=" + url.QueryEscape("dog +"), status: 400, code: CodeBadQuery, check: wantPosition(4, 1, "")},
		{name: "empty query", path: "/api/search?q=", status: 400, code: CodeBadQuery, check: wantPosition(0, -1, "empty")},
		{name: "unknown item in query", path: "/api/search?q=" + url.QueryEscape("red - @9999"), status: 400, code: CodeBadQuery, check: wantPosition(6, 5, "no indexed item")},
		{name: "bad weight", path: "/api/search?q=" + url.QueryEscape("dog + -2:cat"), status: 400, code: CodeBadQuery},
		{name: "glued operator", path: "/api/search?q=" + url.QueryEscape("red -car"), status: 400, code: CodeBadQuery, check: wantPosition(4, 4, "glued")},
		{name: "cancel out", path: fmt.Sprintf("/api/search?q=@%d+-+@%d", id1, id1), status: 400, code: CodeBadQuery},
		{name: "post bad query", method: "POST", path: "/api/search", header: jsonHeader, body: jsonBody(SearchRequest{Q: "cat - "}),
			status: 400, code: CodeBadQuery, check: wantPosition(4, 1, "")},

		// Parameter errors.
		{name: "k zero", path: "/api/search?q=red&k=0", status: 400, code: CodeBadRequest},
		{name: "k too big", path: "/api/search?q=red&k=201", status: 400, code: CodeBadRequest},
		{name: "k not a number", path: "/api/search?q=red&k=ten", status: 400, code: CodeBadRequest},
		{name: "bad mode", path: "/api/search?q=red&mode=max", status: 400, code: CodeBadRequest},
		{name: "bad include_inputs", path: "/api/search?q=red&include_inputs=maybe", status: 400, code: CodeBadRequest},
		{name: "post negative k", method: "POST", path: "/api/search", header: jsonHeader, body: strings.NewReader(`{"q":"red","k":-3}`), status: 400, code: CodeBadRequest},
		{name: "post bad JSON", method: "POST", path: "/api/search", header: jsonHeader, body: strings.NewReader(`{"q":`), status: 400, code: CodeBadRequest},
		{name: "post unknown field", method: "POST", path: "/api/search", header: jsonHeader, body: strings.NewReader(`{"q":"red","folder":"/etc"}`), status: 400, code: CodeBadRequest},
		{name: "post trailing data", method: "POST", path: "/api/search", header: jsonHeader, body: strings.NewReader(`{"q":"red"} {}`), status: 400, code: CodeBadRequest},
		{name: "post not JSON", method: "POST", path: "/api/search", header: map[string]string{"Content-Type": "text/plain"}, body: strings.NewReader(`q=red`), status: 415, code: CodeMediaType},
		{name: "post too big", method: "POST", path: "/api/search", header: jsonHeader,
			body: strings.NewReader(`{"q":"` + strings.Repeat("a", DefaultMaxBodyBytes) + `"}`), status: 413, code: CodeTooLarge},

		// Items.
		{name: "item", path: fmt.Sprintf("/api/items/%d", id3), status: 200, check: func(t *testing.T, rec *httptest.ResponseRecorder) {
			var it ItemResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &it); err != nil {
				t.Fatal(err)
			}
			if it.ID != id3 || it.Path != img3Path || it.Name != "colour03.png" || it.Format != "png" || it.Width != 48 || it.Height != 48 ||
				it.Size != int64(len(img3)) || len(it.Hash) != 64 || it.Thumb != fmt.Sprintf("/api/items/%d/thumb", id3) {
				t.Fatalf("item %+v", it)
			}
		}},
		{name: "unknown item", path: "/api/items/9999", status: 404, code: CodeNotFound},
		{name: "item id zero", path: "/api/items/0", status: 400, code: CodeBadRequest},
		{name: "item id not a number", path: "/api/items/abc", status: 400, code: CodeBadRequest},
		{name: "item id signed", path: "/api/items/+1", status: 400, code: CodeBadRequest},
		{name: "item id overflow", path: "/api/items/99999999999999999999", status: 400, code: CodeBadRequest},
		{name: "thumb", path: fmt.Sprintf("/api/items/%d/thumb", id3), status: 200, check: wantJPEG(48, 48)},
		{name: "thumb 128", path: fmt.Sprintf("/api/items/%d/thumb?size=128", id3), status: 200, check: wantJPEG(48, 48)},
		{name: "thumb bad size", path: fmt.Sprintf("/api/items/%d/thumb?size=100", id3), status: 400, code: CodeBadRequest},
		{name: "thumb unknown item", path: "/api/items/9999/thumb", status: 404, code: CodeNotFound},
		{name: "file", path: fmt.Sprintf("/api/items/%d/file", id3), status: 200, check: func(t *testing.T, rec *httptest.ResponseRecorder) {
			if !bytes.Equal(rec.Body.Bytes(), img3) {
				t.Fatalf("file body differs from the original (%d bytes)", rec.Body.Len())
			}
			if ct := rec.Header().Get("Content-Type"); ct != "image/png" {
				t.Fatalf("Content-Type %q", ct)
			}
			if cd := rec.Header().Get("Content-Disposition"); cd != `inline; filename=colour03.png` {
				t.Fatalf("Content-Disposition %q", cd)
			}
		}},
		{name: "file range", path: fmt.Sprintf("/api/items/%d/file", id3), header: map[string]string{"Range": "bytes=0-7"}, status: 206,
			check: func(t *testing.T, rec *httptest.ResponseRecorder) {
				if !bytes.Equal(rec.Body.Bytes(), img3[:8]) {
					t.Fatalf("range body %x", rec.Body.Bytes())
				}
			}},
		{name: "file unknown item", path: "/api/items/9999/file", status: 404, code: CodeNotFound},

		// Image uploads.
		{name: "upload raw", method: "POST", path: "/api/search/image?k=3", header: map[string]string{"Content-Type": "image/png"},
			body: bytes.NewReader(img3), status: 200, check: selfFirst(id3)},
		{name: "upload multipart", method: "POST", path: "/api/search/image?k=3", header: map[string]string{"Content-Type": mpType},
			body: mp, status: 200, check: func(t *testing.T, rec *httptest.ResponseRecorder) {
				selfFirst(id3)(t, rec)
				res := decodeSearch(t, rec)
				if len(res.Terms) != 1 || res.Terms[0].Kind != "upload" || res.Terms[0].Value != "mine.png" {
					t.Fatalf("terms %+v", res.Terms)
				}
			}},
		{name: "upload not an image", method: "POST", path: "/api/search/image", header: pngHeader, body: strings.NewReader("hello, I am text"), status: 415, code: CodeNotImage},
		{name: "upload empty", method: "POST", path: "/api/search/image", header: pngHeader, body: strings.NewReader(""), status: 415, code: CodeNotImage},
		{name: "upload corrupt", method: "POST", path: "/api/search/image", header: pngHeader, body: bytes.NewReader(img3[:60]), status: 422, code: CodeCorrupt},
		{name: "upload no image field", method: "POST", path: "/api/search/image", header: map[string]string{"Content-Type": mpNoFieldType},
			body: mpNoField, status: 400, code: CodeBadRequest},
		{name: "upload bad k", method: "POST", path: "/api/search/image?k=-1", header: pngHeader, body: bytes.NewReader(img3), status: 400, code: CodeBadRequest},

		// Methods and routes.
		{name: "delete item", method: "DELETE", path: fmt.Sprintf("/api/items/%d", id3), status: 405, code: CodeMethod, check: wantAllow("GET, HEAD")},
		{name: "put search", method: "PUT", path: "/api/search", status: 405, code: CodeMethod, check: wantAllow("GET, POST, HEAD")},
		{name: "get image search", path: "/api/search/image", status: 405, code: CodeMethod, check: wantAllow("POST")},
		{name: "post page", method: "POST", path: "/", status: 405, code: CodeMethod},
		{name: "unknown endpoint", path: "/api/nope", status: 404, code: CodeNotFound},
		{name: "unknown page", path: "/nope.html", status: 404, code: CodeNotFound},
		{name: "page", path: "/", status: 200, check: func(t *testing.T, rec *httptest.ResponseRecorder) {
			b := rec.Body.String()
			if !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") || !strings.Contains(b, `<script src="/assets/app.js" defer></script>`) ||
				strings.Contains(b, "<script>") {
				t.Fatalf("page: %s", b)
			}
		}},
		{name: "script", path: "/assets/app.js", status: 200, check: func(t *testing.T, rec *httptest.ResponseRecorder) {
			if !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/javascript") || !strings.Contains(rec.Body.String(), "pushState") {
				t.Fatalf("script: %q", rec.Header().Get("Content-Type"))
			}
		}},
		{name: "style", path: "/assets/style.css", status: 200},
		{name: "unknown asset", path: "/assets/index.html", status: 404, code: CodeNotFound},
		{name: "asset listing", path: "/assets/", status: 404, code: CodeNotFound},
	})

	// The thumbnails are cached on disk under the library folder.
	cached, _ := filepath.Glob(filepath.Join(f.lib.Dir(), "thumbs", fmt.Sprintf("%d-*-*.jpg", id3)))
	if len(cached) != 2 {
		t.Errorf("cached thumbnails %v, want 2 (sizes 256 and 128)", cached)
	}
}

func wantJPEG(maxW, maxH int) func(*testing.T, *httptest.ResponseRecorder) {
	return func(t *testing.T, rec *httptest.ResponseRecorder) {
		if ct := rec.Header().Get("Content-Type"); ct != "image/jpeg" {
			t.Fatalf("Content-Type %q", ct)
		}
		img, err := jpeg.Decode(bytes.NewReader(rec.Body.Bytes()))
		if err != nil {
			t.Fatalf("thumbnail is not a JPEG: %v", err)
		}
		if b := img.Bounds(); b.Dx() > maxW || b.Dy() > maxH || b.Dx() == 0 {
			t.Fatalf("thumbnail size %v", b)
		}
	}
}

func wantAllow(allow string) func(*testing.T, *httptest.ResponseRecorder) {
	return func(t *testing.T, rec *httptest.ResponseRecorder) {
		if got := rec.Header().Get("Allow"); got != allow {
			t.Fatalf("Allow %q, want %q", got, allow)
		}
	}
}

// TestThumbnailResize checks that a large picture is shrunk to the asked
// size, keeping its aspect ratio, and that the cache serves the same bytes.
func TestThumbnailResize(t *testing.T) {
	ctx := context.Background()
	photos := t.TempDir()
	big := image.NewNRGBA(image.Rect(0, 0, 600, 300))
	for i := range big.Pix {
		big.Pix[i] = uint8(i * 7)
	}
	if err := os.WriteFile(filepath.Join(photos, "wide.png"), imagetest.PNG(t, big), 0o644); err != nil {
		t.Fatal(err)
	}
	lib, err := engine.Open(ctx, t.TempDir(), engine.Options{Model: tinyModel})
	if err != nil {
		t.Fatal(err)
	}
	defer lib.Close()
	if _, err := lib.Ingest(ctx, []string{photos}, engine.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	h := newTestServer(t, lib, Config{}).Handler()
	for _, tc := range []struct{ size, w, h int }{{128, 128, 64}, {256, 256, 128}, {512, 512, 256}} {
		var first []byte
		for round := 0; round < 2; round++ {
			rec := do(t, h, httptest.NewRequest("GET", fmt.Sprintf("/api/items/1/thumb?size=%d", tc.size), nil))
			if rec.Code != 200 {
				t.Fatalf("size %d: %d %s", tc.size, rec.Code, rec.Body.String())
			}
			img, err := jpeg.Decode(bytes.NewReader(rec.Body.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			if b := img.Bounds(); b.Dx() != tc.w || b.Dy() != tc.h {
				t.Fatalf("size %d: thumbnail %dx%d, want %dx%d", tc.size, b.Dx(), b.Dy(), tc.w, tc.h)
			}
			if round == 0 {
				first = rec.Body.Bytes()
			} else if !bytes.Equal(first, rec.Body.Bytes()) {
				t.Fatalf("size %d: the cached thumbnail differs", tc.size)
			}
		}
	}
}

// TestStaleFile checks that a file changed since indexing is neither served
// nor thumbnailed.
func TestStaleFile(t *testing.T) {
	f := newFixture(t, 4)
	h := newTestServer(t, f.lib, Config{}).Handler()
	id := f.ids["colour01.png"]
	if err := os.WriteFile(f.paths[id], imagetest.PNG(t, colourImage(3, 4, 48)), 0o644); err != nil {
		t.Fatal(err)
	}
	runCases(t, h, []apiCase{
		{name: "file", path: fmt.Sprintf("/api/items/%d/file", id), status: 409, code: CodeStale},
		{name: "thumb", path: fmt.Sprintf("/api/items/%d/thumb", id), status: 409, code: CodeStale},
	})
	if err := os.Remove(f.paths[id]); err != nil {
		t.Fatal(err)
	}
	runCases(t, h, []apiCase{
		{name: "gone", path: fmt.Sprintf("/api/items/%d/file", id), status: 409, code: CodeStale},
	})
}

func TestEmptyLibrary(t *testing.T) {
	lib, err := engine.Open(context.Background(), t.TempDir(), engine.Options{Model: tinyModel})
	if err != nil {
		t.Fatal(err)
	}
	defer lib.Close()
	runCases(t, newTestServer(t, lib, Config{}).Handler(), []apiCase{
		{name: "search", path: "/api/search?q=red", status: 409, code: CodeEmptyLibrary},
		{name: "stats", path: "/api/stats", status: 200},
	})
}

// failingLibrary fails every call with an internal error.
type failingLibrary struct{ dir string }

var errDisk = errors.New("disk on fire at /secret/place")

func (l failingLibrary) Search(context.Context, string, engine.SearchOptions) (*engine.SearchResult, error) {
	return nil, errDisk
}
func (l failingLibrary) SearchImage(context.Context, io.Reader, string, int64, engine.SearchOptions) ([]engine.Result, error) {
	return nil, errDisk
}
func (l failingLibrary) Item(context.Context, int64) (engine.ItemInfo, error) {
	return engine.ItemInfo{}, errDisk
}
func (l failingLibrary) ItemByPath(context.Context, string) (engine.ItemInfo, error) {
	return engine.ItemInfo{}, errDisk
}
func (l failingLibrary) TextLanguages() []string { return nil }
func (l failingLibrary) Thumbnail(context.Context, []byte, string, int) (*image.NRGBA, error) {
	return nil, errDisk
}
func (l failingLibrary) Stats(context.Context) (engine.Stats, error) { return engine.Stats{}, errDisk }
func (l failingLibrary) Dir() string                                 { return l.dir }
func (l failingLibrary) Check(context.Context) error                 { return errDisk }

func TestInternalErrorsAreHidden(t *testing.T) {
	h := newTestServer(t, failingLibrary{t.TempDir()}, Config{}).Handler()
	hidden := func(t *testing.T, rec *httptest.ResponseRecorder) {
		if strings.Contains(rec.Body.String(), "secret") {
			t.Fatalf("internal detail leaked: %s", rec.Body.String())
		}
	}
	runCases(t, h, []apiCase{
		{name: "search", path: "/api/search?q=red", status: 500, code: CodeInternal, check: hidden},
		{name: "image", method: "POST", path: "/api/search/image", header: pngHeader, body: strings.NewReader("x"), status: 500, code: CodeInternal, check: hidden},
		{name: "item", path: "/api/items/1", status: 500, code: CodeInternal, check: hidden},
		{name: "thumb", path: "/api/items/1/thumb", status: 500, code: CodeInternal, check: hidden},
		{name: "file", path: "/api/items/1/file", status: 500, code: CodeInternal, check: hidden},
		{name: "preview", path: "/api/items/1/preview", status: 500, code: CodeInternal, check: hidden},
		{name: "item by path", path: "/api/items?path=/secret/place", status: 500, code: CodeInternal, check: hidden},
		{name: "stats", path: "/api/stats", status: 500, code: CodeInternal, check: hidden},
	})
}

// TestThumbnailsPruned checks that the thumbnails of deleted and changed
// items go, while current ones, fresh temporary files and unrelated files
// stay.
func TestThumbnailsPruned(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 4)
	s := newTestServer(t, f.lib, Config{})
	h := s.Handler()
	for _, name := range []string{"colour00.png", "colour01.png", "colour02.png"} {
		runCases(t, h, []apiCase{{name: "thumb " + name, path: fmt.Sprintf("/api/items/%d/thumb", f.ids[name]), status: 200}})
	}
	dir := filepath.Join(f.lib.Dir(), "thumbs")
	thumbOf := func(name string) []string {
		m, _ := filepath.Glob(filepath.Join(dir, fmt.Sprintf("%d-*-*.jpg", f.ids[name])))
		return m
	}
	// colour00 is deleted, colour01 changes, colour02 stays.
	if err := os.Remove(f.paths[f.ids["colour00.png"]]); err != nil {
		t.Fatal(err)
	}
	changed := f.paths[f.ids["colour01.png"]]
	if err := os.WriteFile(changed, imagetest.PNG(t, colourImage(7, 8, 48)), 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	os.Chtimes(changed, later, later)
	if _, err := f.lib.Ingest(ctx, []string{f.photos}, engine.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	oldTmp := filepath.Join(dir, ".thumb-123.tmp")
	newTmp := filepath.Join(dir, ".thumb-456.tmp")
	other := filepath.Join(dir, "notes.txt")
	for _, p := range []string{oldTmp, newTmp, other} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	hourAgo := time.Now().Add(-time.Hour)
	os.Chtimes(oldTmp, hourAgo, hourAgo)
	kept := thumbOf("colour02.png")
	if len(kept) != 1 || len(thumbOf("colour00.png")) != 1 || len(thumbOf("colour01.png")) != 1 {
		t.Fatalf("thumbnails before pruning: %v %v %v", thumbOf("colour00.png"), thumbOf("colour01.png"), kept)
	}

	n, err := s.thumbs.prune(ctx, f.lib)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("pruned %d files, want 3 (a deleted item's, a changed item's, an old temporary file)", n)
	}
	for _, gone := range [][]string{thumbOf("colour00.png"), thumbOf("colour01.png")} {
		if len(gone) != 0 {
			t.Errorf("stale thumbnail kept: %v", gone)
		}
	}
	for _, p := range append(kept, newTmp, other) {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	if _, err := os.Stat(oldTmp); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("old temporary file kept: %v", err)
	}
	// The changed item gets a new thumbnail under its new content hash.
	runCases(t, h, []apiCase{{name: "thumb of changed item", path: fmt.Sprintf("/api/items/%d/thumb", f.ids["colour01.png"]), status: 200}})
	if got := thumbOf("colour01.png"); len(got) != 1 {
		t.Errorf("thumbnails of the changed item: %v", got)
	}
}

// TestMalformedUploads feeds broken multipart bodies and content types: each
// is the client's error (400), never an internal one (500).
func TestMalformedUploads(t *testing.T) {
	f := newFixture(t, 4)
	h := newTestServer(t, f.lib, Config{}).Handler()
	img, err := os.ReadFile(filepath.Join(f.photos, "a", "colour00.png"))
	if err != nil {
		t.Fatal(err)
	}
	head := "--X\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n\r\n"
	mp := "multipart/form-data; boundary=X"
	for _, tt := range []struct {
		name, ct, body string
		msg            string
	}{
		{"no closing boundary", mp, head + string(img), "broke off"},
		{"half an image, no closing boundary", mp, head + string(img[:len(img)/2]), "broke off"},
		{"cut inside the closing boundary", mp, head + string(img) + "\r\n--", "broke off"},
		{"header without colon", mp, "--X\r\nbad header\r\n\r\nxx\r\n--X--\r\n", "malformed MIME header"},
		{"no boundary in the body", mp, "garbage", `no "image" field`},
		{"empty body", mp, "", `no "image" field`},
		{"boundary parameter without value", "multipart/form-data; boundary", head + string(img) + "\r\n--X--\r\n", "bad Content-Type"},
		{"no boundary parameter", "multipart/form-data", head, "without a boundary"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/api/search/image", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", tt.ct)
			rec := do(t, h, req)
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", rec.Code, rec.Body.String())
			}
			if e := decodeError(t, rec); e.Code != CodeBadRequest || !strings.Contains(e.Message, tt.msg) {
				t.Fatalf("error %+v, want bad_request with %q", e, tt.msg)
			}
		})
	}
	// The same image, well formed, is searched.
	rec := do(t, h, func() *http.Request {
		req := httptest.NewRequest("POST", "/api/search/image", strings.NewReader(head+string(img)+"\r\n--X--\r\n"))
		req.Header.Set("Content-Type", mp)
		return req
	}())
	if rec.Code != http.StatusOK {
		t.Fatalf("well-formed body: %d %s", rec.Code, rec.Body.String())
	}
}

// TestErrorsNameNoGoTypes sends bodies and parameters of the wrong types and
// shapes: no error message names a Go type, package or struct.
func TestErrorsNameNoGoTypes(t *testing.T) {
	h := newTestServer(t, statsLibrary{failingLibrary{t.TempDir()}}, Config{}).Handler()
	goish := []string{"Go ", "struct", "int64", "int32", "float32", "float64", "bool", "SearchRequest", "server.", "engine.", "json:", "multipart:", "mime:", "*http.", "%!"}
	post := func(body string) *http.Request {
		req := httptest.NewRequest("POST", "/api/search", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		return req
	}
	for _, tt := range []struct {
		name string
		req  *http.Request
		want string
	}{
		{"k as a string", post(`{"q":"red","k":"ten"}`), `"k" must be a number`},
		{"k as a fraction", post(`{"q":"red","k":2.5}`), `"k" must be a whole number`},
		{"k too large for int", post(`{"q":"red","k":1e30}`), `"k" must be a whole number`},
		{"q as a number", post(`{"q":5}`), `"q" must be a string`},
		{"include_inputs as a string", post(`{"q":"red","include_inputs":"yes"}`), `"include_inputs" must be true or false`},
		{"body an array", post(`["red"]`), "must be a JSON object"},
		{"body a string", post(`"red"`), "must be a JSON object"},
		{"unknown field", post(`{"q":"red","x":1}`), `unknown field "x"`},
		{"syntax", post(`{"q":}`), "invalid character"},
		{"cut short", post(`{"q":"red"`), "ends early"},
		{"empty", post(``), "empty"},
		{"login token a number", func() *http.Request {
			req := httptest.NewRequest("POST", "/api/login", strings.NewReader(`{"token":123}`))
			req.Header.Set("Content-Type", "application/json")
			return req
		}(), `"token" must be a string`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(t, h, tt.req)
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", rec.Code, rec.Body.String())
			}
			e := decodeError(t, rec)
			for _, g := range goish {
				if strings.Contains(e.Message, g) {
					t.Errorf("message %q names %q", e.Message, g)
				}
			}
			if !strings.Contains(e.Message, tt.want) {
				t.Errorf("message %q, want it to contain %q", e.Message, tt.want)
			}
		})
	}
}

// TestHealthzChecksStore damages the database file of a library the server
// has open — truncated, then overwritten — and checks that /healthz answers
// 503 (while cached pages would still answer queries), and ok again once
// the file is restored.
func TestHealthzChecksStore(t *testing.T) {
	f := newFixture(t, 6)
	h := newTestServer(t, f.lib, Config{}).Handler()
	health := func() *httptest.ResponseRecorder { return do(t, h, httptest.NewRequest("GET", "/healthz", nil)) }
	if rec := health(); rec.Code != http.StatusOK {
		t.Fatalf("healthy library: %d %s", rec.Code, rec.Body.String())
	}
	db := filepath.Join(f.lib.Dir(), "library.db")
	orig, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	garbage := bytes.Repeat([]byte("not a database "), len(orig)/15+1)[:len(orig)]
	for _, tt := range []struct {
		name    string
		content []byte
	}{
		{"truncated to half", orig[:len(orig)/2]},
		{"truncated to 50 bytes", orig[:50]},
		{"empty", nil},
		{"overwritten", garbage},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(db, tt.content, 0o644); err != nil {
				t.Fatal(err)
			}
			defer os.WriteFile(db, orig, 0o644)
			rec := health()
			if rec.Code != http.StatusServiceUnavailable {
				t.Fatalf("status %d, want 503: %s", rec.Code, rec.Body.String())
			}
			if e := decodeError(t, rec); e.Code != CodeUnavailable || strings.Contains(e.Message, f.lib.Dir()) {
				t.Fatalf("error %+v", e)
			}
		})
	}
	if rec := health(); rec.Code != http.StatusOK {
		t.Fatalf("restored library: %d %s", rec.Code, rec.Body.String())
	}
}
