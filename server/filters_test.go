package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"mmsearch/engine"
	"mmsearch/index/hnsw"
	"mmsearch/internal/imagetest"
)

// TestAPIFilters starts the real server on loopback over a library of 12
// pictures (two sizes, in a/ and b/, modification times a month apart) and
// checks every filter parameter over HTTP on each search endpoint: the
// results are exactly the matching items, date order is newest first, and
// bad values are 400 with a message naming the parameter.
func TestAPIFilters(t *testing.T) {
	ctx := context.Background()
	photos := t.TempDir()
	const n = 12
	base := time.Date(2023, 1, 15, 12, 0, 0, 0, time.Local)
	mtime := map[string]time.Time{}
	for i := range n {
		sub, size := "a", 48
		if i%2 == 1 {
			sub = "b"
		}
		if i >= 8 {
			size = 96
		}
		name := fmt.Sprintf("colour%02d.png", i)
		p := filepath.Join(photos, sub, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		imagetest.Write(t, p, imagetest.PNG(t, colourImage(i, n, size)))
		mt := base.AddDate(0, i, 0) // colour00 in January 2023, colour11 in December
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
		mtime[name] = mt
	}
	lib, err := engine.Open(ctx, t.TempDir(), engine.Options{Model: tinyModel, Index: hnsw.Config{Seed: 1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lib.Close() })
	if rep, err := lib.Ingest(ctx, []string{photos}, engine.IngestOptions{}); err != nil || rep.Indexed != n {
		t.Fatalf("index: %+v %v", rep, err)
	}

	s := newTestServer(t, lib, Config{Addr: "127.0.0.1:0"})
	ln, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	srvCtx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- s.Serve(srvCtx, ln) }()
	t.Cleanup(func() {
		stop()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	api := "http://" + ln.Addr().String()

	call := func(req *http.Request) (int, SearchResponse, string) {
		t.Helper()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		var sr SearchResponse
		if resp.StatusCode == http.StatusOK {
			if err := json.Unmarshal(body, &sr); err != nil {
				t.Fatalf("%s: %v %s", req.URL, err, body)
			}
		}
		return resp.StatusCode, sr, string(body)
	}
	get := func(params string) (int, SearchResponse, string) {
		req, err := http.NewRequest(http.MethodGet, api+"/api/search?q=red&k=50&"+params, nil)
		if err != nil {
			t.Fatal(err)
		}
		return call(req)
	}
	post := func(body string) (int, SearchResponse, string) {
		req, err := http.NewRequest(http.MethodPost, api+"/api/search", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		return call(req)
	}
	upload := func(params string) (int, SearchResponse, string) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		fw, err := mw.CreateFormFile("image", "query.png")
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(imagetest.PNG(t, colourImage(3, n, 48)))
		mw.Close()
		req, err := http.NewRequest(http.MethodPost, api+"/api/search/image?k=50&"+params, &b)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", mw.FormDataContentType())
		return call(req)
	}
	names := func(sr SearchResponse) []string {
		var out []string
		for _, h := range sr.Results {
			out = append(out, h.Name)
		}
		return out
	}
	sorted := func(xs []string) []string { xs = slices.Clone(xs); slices.Sort(xs); return xs }
	want := func(keep func(i int, sub string, size int) bool) []string {
		var out []string
		for i := range n {
			sub, size := "a", 48
			if i%2 == 1 {
				sub = "b"
			}
			if i >= 8 {
				size = 96
			}
			if keep(i, sub, size) {
				out = append(out, fmt.Sprintf("colour%02d.png", i))
			}
		}
		return out
	}
	aDir := url.QueryEscape(filepath.Join(photos, "a") + string(filepath.Separator))
	tests := []struct {
		name string
		do   func() (int, SearchResponse, string)
		want []string
	}{
		{"after", func() (int, SearchResponse, string) { return get("after=2023-06-01") },
			want(func(i int, _ string, _ int) bool { return i >= 5 })},
		{"before", func() (int, SearchResponse, string) { return get("before=2023-03") },
			want(func(i int, _ string, _ int) bool { return i < 2 })},
		{"range", func() (int, SearchResponse, string) { return get("after=2023-03-01&before=2023-05-01") },
			want(func(i int, _ string, _ int) bool { return i == 2 || i == 3 })},
		{"min_pixels", func() (int, SearchResponse, string) { return get("min_pixels=2305") },
			want(func(_ int, _ string, size int) bool { return size == 96 })},
		{"format", func() (int, SearchResponse, string) { return get("format=jpeg,heic") }, nil},
		{"format png", func() (int, SearchResponse, string) { return get("format=PNG") },
			want(func(int, string, int) bool { return true })},
		{"path", func() (int, SearchResponse, string) { return get("path=" + aDir) },
			want(func(_ int, sub string, _ int) bool { return sub == "a" })},
		{"prefix", func() (int, SearchResponse, string) { return get("prefix=" + aDir + "&min_pixels=2305") },
			want(func(_ int, sub string, size int) bool { return sub == "a" && size == 96 })},
		{"post", func() (int, SearchResponse, string) {
			return post(`{"q":"red","k":50,"after":"2023-06-01","path":` + jsonString(filepath.Join(photos, "b")+"/") + `}`)
		}, want(func(i int, sub string, _ int) bool { return i >= 5 && sub == "b" })},
		{"upload", func() (int, SearchResponse, string) { return upload("before=2023-07&min_pixels=100") },
			want(func(i int, _ string, _ int) bool { return i < 6 })}, // an upload is no indexed item: its copy colour03 stays
	}
	for _, tc := range tests {
		code, sr, body := tc.do()
		if code != http.StatusOK {
			t.Errorf("%s: status %d %s", tc.name, code, body)
			continue
		}
		got := sorted(names(sr))
		if !slices.Equal(got, sorted(tc.want)) {
			t.Errorf("%s: results %q, want %q", tc.name, got, sorted(tc.want))
		}
	}

	// Date order: newest first, on GET and in a JSON body.
	newestFirst := want(func(i int, sub string, _ int) bool { return sub == "b" })
	slices.SortFunc(newestFirst, func(a, b string) int { return mtime[b].Compare(mtime[a]) })
	for _, do := range []func() (int, SearchResponse, string){
		func() (int, SearchResponse, string) {
			return get("sort=date&path=" + url.QueryEscape(filepath.Join(photos, "b")))
		},
		func() (int, SearchResponse, string) {
			return post(`{"q":"red","k":50,"sort":"date","prefix":` + jsonString(filepath.Join(photos, "b")) + `}`)
		},
	} {
		code, sr, body := do()
		if code != http.StatusOK || !slices.Equal(names(sr), newestFirst) {
			t.Errorf("sort=date: status %d, results %q, want %q %s", code, names(sr), newestFirst, body)
		}
	}

	// min_score keeps exactly the results at or above it.
	_, all, _ := get("")
	if len(all.Results) != n {
		t.Fatalf("unfiltered: %d results", len(all.Results))
	}
	cut := all.Results[4].Score
	code, kept, body := get("min_score=" + jsonString(cut))
	wantKept := 0
	for _, h := range all.Results {
		if h.Score >= cut {
			wantKept++
		}
	}
	if code != http.StatusOK || len(kept.Results) != wantKept || wantKept < 5 || wantKept == n {
		t.Errorf("min_score=%v: status %d, %d results, want %d %s", cut, code, len(kept.Results), wantKept, body)
	}

	// Bad values: 400, and the message says what is wrong.
	bad := []struct {
		name string
		do   func() (int, SearchResponse, string)
		msg  string
	}{
		{"after", func() (int, SearchResponse, string) { return get("after=yesterday") }, "after: date"},
		{"before", func() (int, SearchResponse, string) { return get("before=2023-13") }, "before: date"},
		{"reversed", func() (int, SearchResponse, string) { return get("after=2024&before=2023") }, "is not before"},
		{"format", func() (int, SearchResponse, string) { return get("format=raw") }, `format: unknown format \"raw\"`},
		{"min_pixels", func() (int, SearchResponse, string) { return get("min_pixels=lots") }, "min_pixels must be a whole number"},
		{"negative min_pixels", func() (int, SearchResponse, string) { return get("min_pixels=-4") }, "minimum pixels -4"},
		{"min_score", func() (int, SearchResponse, string) { return get("min_score=high") }, "min_score must be a finite number"},
		{"min_score range", func() (int, SearchResponse, string) { return get("min_score=3") }, "can never be met"},
		{"sort", func() (int, SearchResponse, string) { return get("sort=name") }, `sort: unknown sort \"name\"`},
		{"path and prefix", func() (int, SearchResponse, string) { return get("path=/a&prefix=/b") }, "give one"},
		{"camera", func() (int, SearchResponse, string) { return get("camera=Canon") }, "camera"},
		{"post format", func() (int, SearchResponse, string) { return post(`{"q":"red","format":"svg"}`) }, `unknown format \"svg\"`},
		{"post min_pixels type", func() (int, SearchResponse, string) { return post(`{"q":"red","min_pixels":"big"}`) }, "min_pixels"},
		{"upload sort", func() (int, SearchResponse, string) { return upload("sort=size") }, `unknown sort \"size\"`},
	}
	for _, tc := range bad {
		code, _, body := tc.do()
		if code != http.StatusBadRequest || !strings.Contains(body, tc.msg) {
			t.Errorf("%s: status %d, body %s; want 400 saying %q", tc.name, code, body, tc.msg)
		}
	}
}

func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
