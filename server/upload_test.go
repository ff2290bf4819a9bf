package server

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// formPart is one field of a multipart body: a file when name is set.
type formPart struct{ field, name, value string }

func formBody(t testing.TB, parts ...formPart) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		var err error
		if p.name != "" {
			var fw interface{ Write([]byte) (int, error) }
			fw, err = mw.CreateFormFile(p.field, p.name)
			if err == nil {
				_, err = fw.Write([]byte(p.value))
			}
		} else {
			err = mw.WriteField(p.field, p.value)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	mw.Close()
	return &buf, mw.FormDataContentType()
}

// TestUploadQueries: POST /api/search/image takes "q" in the URL or as a
// form field, numbers the "image" fields from 1, and refuses what cannot be
// meant (q twice, several images without q, too many images, a query that
// leaves an upload out) with a 400 that says why.
func TestUploadQueries(t *testing.T) {
	f := newFixture(t, 6)
	h := newTestServer(t, f.lib, Config{}).Handler()
	img := func(name string) string {
		b, err := os.ReadFile(filepath.Join(f.photos, "a", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	a, b := img("colour00.png"), img("colour02.png")
	post := func(params url.Values, parts ...formPart) *httptest.ResponseRecorder {
		body, ct := formBody(t, parts...)
		req := httptest.NewRequest("POST", "/api/search/image?"+params.Encode(), body)
		req.Header.Set("Content-Type", ct)
		return do(t, h, req)
	}
	k := url.Values{"k": {"3"}}
	with := func(kv ...string) url.Values {
		v := url.Values{"k": {"3"}}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	tests := []struct {
		name   string
		params url.Values
		parts  []formPart
		status int
		want   string // in the error message, or the read_as of a success
	}{
		{"q in the URL", with("q", "$upload + @1"), []formPart{{"image", "a.png", a}}, 200, "1.0 × upload $upload1 + 1.0 × item @1"},
		{"q as a form field", k, []formPart{{"q", "", "$upload2 - $upload1"}, {"image", "a.png", a}, {"image", "b.png", b}}, 200, "1.0 × upload $upload2 − 1.0 × upload $upload1"},
		{"q after the images", k, []formPart{{"image", "a.png", a}, {"q", "", "@upload"}}, 200, "1.0 × upload $upload1"},
		{"q twice", with("q", "$upload"), []formPart{{"q", "", "$upload"}, {"image", "a.png", a}}, 400, `give "q" once`},
		{"q field twice", k, []formPart{{"q", "", "$upload"}, {"q", "", "$upload"}, {"image", "a.png", a}}, 400, `"q" twice`},
		{"q too long", k, []formPart{{"q", "", strings.Repeat("x", 5000)}, {"image", "a.png", a}}, 400, "over the 4096-byte limit"},
		{"two images without q", k, []formPart{{"image", "a.png", a}, {"image", "b.png", b}}, 400, `2 images need a "q"`},
		{"ten images", with("q", "$upload"), func() []formPart {
			var ps []formPart
			for range 10 {
				ps = append(ps, formPart{"image", "a.png", a})
			}
			return ps
		}(), 400, "more than 9 images"},
		{"upload left out", with("q", "$upload2"), []formPart{{"image", "a.png", a}, {"image", "b.png", b}}, 400, "upload 1 (a.png) is not used"},
		{"item path still refused", with("q", "$upload + @a/colour00.png"), []formPart{{"image", "a.png", a}}, 400, "items are named by id over HTTP"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := post(tc.params, tc.parts...)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body.String())
			}
			if tc.status != 200 {
				if e := decodeError(t, rec); !strings.Contains(e.Message, tc.want) {
					t.Fatalf("error %q, want %q", e.Message, tc.want)
				}
				return
			}
			res := decodeSearch(t, rec)
			if res.ReadAs != tc.want {
				t.Errorf("read_as %q, want %q", res.ReadAs, tc.want)
			}
			if len(res.Results) != 3 {
				t.Errorf("%d results, want 3", len(res.Results))
			}
			source := map[string]string{"a.png": "colour00.png", "b.png": "colour02.png"}
			for _, p := range tc.parts {
				for _, hit := range res.Results {
					if p.name != "" && hit.ID == f.ids[source[p.name]] {
						t.Errorf("the uploaded picture %s is among the results: %+v", p.name, hit)
					}
				}
			}
		})
	}
	// Over GET /api/search, $upload has nothing to stand for.
	rec := do(t, h, httptest.NewRequest("GET", "/api/search?q="+url.QueryEscape(`$upload - "x"`), nil))
	if e := decodeError(t, rec); rec.Code != http.StatusBadRequest || e.Code != CodeBadQuery || !strings.Contains(e.Message, "stands for an uploaded image") {
		t.Fatalf("$upload without an upload: %d %+v", rec.Code, e)
	}
	// A raw body with q is $upload1.
	req := httptest.NewRequest("POST", "/api/search/image?k=2&q="+url.QueryEscape(`$upload - @3`), strings.NewReader(a))
	req.Header.Set("Content-Type", "image/png")
	if rec := do(t, h, req); rec.Code != 200 || decodeSearch(t, rec).ReadAs != "1.0 × upload $upload1 − 1.0 × item @3" {
		t.Fatalf("raw body with q: %d %s", rec.Code, rec.Body.String())
	}
}
