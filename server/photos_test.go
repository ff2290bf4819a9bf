package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"mmsearch/engine"
)

// TestAPICopiesAndSkipped checks what issue 12 adds to the API: a search
// result for content held by several files lists every path, and stats
// count the files skipped as not still images by kind.
func TestAPICopiesAndSkipped(t *testing.T) {
	f := newFixture(t, 6)
	src := f.paths[f.ids["colour00.png"]]
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string][]byte{
		"colour00 copy.png": data,
		"clip.mp4":          []byte("\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom\x00\x00\x00\x08free"),
		"clip.json":         []byte(`{"title": "clip.mp4"}`),
	} {
		if err := os.WriteFile(filepath.Join(f.photos, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.lib.Ingest(context.Background(), []string{f.photos}, engine.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	h := newTestServer(t, f.lib, Config{}).Handler()
	id := strconv.FormatInt(f.ids["colour00.png"], 10)
	rec := do(t, h, httptest.NewRequest(http.MethodGet, "/api/search?k=3&include_inputs=true&q=@"+id, nil))
	res := decodeSearch(t, rec)
	if len(res.Results) == 0 || len(res.Results[0].Paths) != 2 || res.Results[0].Score < 0.9999 {
		t.Fatalf("first result %+v, want the content with its 2 paths", res.Results)
	}
	rec = do(t, h, httptest.NewRequest(http.MethodGet, "/api/search?k=10&q=@"+id, nil))
	for _, r := range decodeSearch(t, rec).Results {
		if len(r.Paths) > 0 || r.Score > 0.9999 {
			t.Errorf("a copy of the input came back: %+v", r)
		}
	}
	rec = do(t, h, httptest.NewRequest(http.MethodGet, "/api/stats", nil))
	var st StatsResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || st.SkippedByKind["video"] != 1 || st.SkippedByKind["sidecar"] != 1 || st.Errors != 0 {
		t.Errorf("stats %s: %+v %v", rec.Body.String(), st, err)
	}
}
