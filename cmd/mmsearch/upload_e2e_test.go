package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	benchserve "mmsearch/bench/serve"
	"mmsearch/engine"
	"mmsearch/server"
)

// bundledModel is the model every fresh install has: a real CLIP-style
// dual encoder.
const bundledModel = "../../onnx-models/emoji-clip"

// postUploads sends images as multipart fields "image" (in order) with
// the URL parameters params to POST /api/search/image.
func postUploads(t *testing.T, base string, params url.Values, images ...string) (int, []byte) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, p := range images {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		fw, err := mw.CreateFormFile("image", filepath.Base(p))
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(data)
	}
	mw.Close()
	resp, err := http.Post(base+"/api/search/image?"+params.Encode(), mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// TestUploadArithmeticMatchesCLI: over real HTTP with the bundled model,
// "$upload - "dog" + "cat"" with a picture uploaded gives the same items,
// in the same order with the same scores, as the CLI's
// "./picture.png - "dog" + "cat"" for the same file, whether the picture is
// indexed (then it is excluded as an input in both) or not; "@upload" and
// numbered uploads work the same way.
func TestUploadArithmeticMatchesCLI(t *testing.T) {
	photos := filepath.Join(t.TempDir(), "photos")
	if err := benchserve.WriteImages(photos, 12); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "outside")
	if err := benchserve.WriteImages(outside, 13); err != nil {
		t.Fatal(err)
	}
	// WriteImages draws by i/n, so picture 12 of 13 is not in the library.
	var extra string
	if m, _ := filepath.Glob(filepath.Join(outside, "*")); len(m) == 13 {
		extra = m[12]
	} else {
		t.Fatalf("outside pictures: %v", m)
	}
	lib := filepath.Join(t.TempDir(), "lib")
	if r := run(t, "index", "--library", lib, "--model", bundledModel, photos); r.code != exitOK {
		t.Fatalf("index: %d %s", r.code, r.stderr)
	}
	indexed, _ := filepath.Glob(filepath.Join(photos, "*"))
	base, _, _ := startServe(t, lib)

	cli := func(q string) []engine.Result {
		t.Helper()
		r := run(t, "search", "--library", lib, "--json", "-k", "5", q)
		if r.code != exitOK {
			t.Fatalf("search %q: %d %s", q, r.code, r.stderr)
		}
		var sr engine.SearchResult
		if err := json.Unmarshal([]byte(r.stdout), &sr); err != nil {
			t.Fatal(err)
		}
		return sr.Results
	}
	for _, tc := range []struct {
		name, q, cliQ string
		images        []string
	}{
		{"indexed picture", `$upload - "dog" + "cat"`, `%s - "dog" + "cat"`, []string{indexed[3]}},
		{"picture outside the library", `$upload - "dog" + "cat"`, `%s - "dog" + "cat"`, []string{extra}},
		{"at form", `@upload − "dog" + "cat"`, `%s - "dog" + "cat"`, []string{extra}},
		{"two uploads", `$upload2 - 0.5:$upload1 + "cat"`, `%[2]s - 0.5:%[1]s + "cat"`, []string{extra, indexed[5]}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := postUploads(t, base, url.Values{"q": {tc.q}, "k": {"5"}}, tc.images...)
			if code != http.StatusOK {
				t.Fatalf("upload: %d %s", code, body)
			}
			var got server.SearchResponse
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			args := make([]any, len(tc.images))
			for i, p := range tc.images {
				args[i] = "file:'" + p + "'"
			}
			want := cli(fmt.Sprintf(tc.cliQ, args...))
			if len(got.Results) != 5 || len(want) != 5 {
				t.Fatalf("results: HTTP %d, CLI %d", len(got.Results), len(want))
			}
			for i := range want {
				g, w := got.Results[i], want[i]
				if g.ID != w.ID || abs32(g.Score-w.Score) > 1e-5 {
					t.Errorf("result %d: HTTP id %d score %v, CLI id %d score %v", i, g.ID, g.Score, w.ID, w.Score)
				}
				for _, p := range tc.images {
					if filepath.Base(g.Path) == filepath.Base(p) && filepath.Dir(p) == photos {
						t.Errorf("result %d is the uploaded picture %s itself", i, p)
					}
				}
			}
			if term := got.Terms[0]; term.Kind != "upload" || term.Upload < 1 || term.Value != filepath.Base(tc.images[term.Upload-1]) {
				t.Errorf("terms: %+v", got.Terms)
			}
		})
	}
	// Refusals: an upload the query does not name, a name without an
	// upload, and a path over HTTP.
	for _, tc := range []struct {
		name, q string
		images  []string
		want    string
	}{
		{"unused upload", `$upload - "dog"`, []string{extra, indexed[0]}, "upload 2 (" + filepath.Base(indexed[0]) + ") is not used"},
		{"missing upload", `$upload2 - "dog"`, []string{extra}, "names upload 2, but only 1 came with this query"},
		{"bad number", `$upload0`, []string{extra}, "out of range"},
		{"path", `$upload - ` + extra, []string{extra}, "file paths are not allowed here"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := postUploads(t, base, url.Values{"q": {tc.q}}, tc.images...)
			var e server.ErrorBody
			if err := json.Unmarshal(body, &e); err != nil || code != http.StatusBadRequest || e.Error.Code != server.CodeBadQuery ||
				!bytes.Contains([]byte(e.Error.Message), []byte(tc.want)) {
				t.Fatalf("%d %s, want 400 bad_query with %q", code, body, tc.want)
			}
		})
	}
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}
