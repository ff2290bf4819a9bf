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
	"time"

	"mmsearch/engine"
	"mmsearch/internal/imagetest"
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

// TestAPIMetadata checks that search results, items and stats of the HTTP
// API carry the photo metadata read at ingest.
func TestAPIMetadata(t *testing.T) {
	f := newFixture(t, 4)
	jpg := imagetest.WithEXIFBlock(imagetest.JPEG(t, imagetest.Pattern(9, 40, 30), 90), imagetest.EXIFBlock(imagetest.EXIF{
		Make: "Apple", Model: "iPhone 12", Orientation: 8, DateTimeOriginal: "2023:07:14 18:30:05", OffsetTimeOriginal: "+02:00",
		GPS: &[2]float64{48.85837, 2.294481}}))
	imagetest.Write(t, filepath.Join(f.photos, "IMG_0001.JPG"), jpg)
	if _, err := f.lib.Ingest(context.Background(), []string{f.photos}, engine.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	h := newTestServer(t, f.lib, Config{}).Handler()
	rec := do(t, h, httptest.NewRequest(http.MethodGet, "/api/search?k=10&q=anything", nil))
	var raw struct {
		Results []struct {
			ID       int64          `json:"id"`
			Name     string         `json:"name"`
			Metadata map[string]any `json:"metadata"`
		} `json:"results"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	var photoID int64
	for _, r := range raw.Results {
		m := r.Metadata
		if m == nil || m["format"] == nil || m["width"] == nil || m["capture_time"] == nil || m["time_source"] == nil {
			t.Errorf("%s: metadata %v", r.Name, m)
		}
		if r.Name != "IMG_0001.JPG" {
			if m["time_source"] != "mtime" || m["gps"] != nil || m["camera_make"] != nil {
				t.Errorf("%s (no EXIF): metadata %v", r.Name, m)
			}
			continue
		}
		photoID = r.ID
		gps, _ := m["gps"].(map[string]any)
		if m["capture_time"] != "2023-07-14T18:30:05+02:00" || m["time_source"] != "exif" || m["camera_make"] != "Apple" ||
			m["camera_model"] != "iPhone 12" || gps["lat"] != 48.85837 || m["width"] != 30.0 || m["height"] != 40.0 || m["format"] != "jpeg" {
			t.Errorf("IMG_0001.JPG: metadata %v", m)
		}
	}
	if photoID == 0 {
		t.Fatalf("the photo is not among the results: %s", rec.Body.String())
	}
	rec = do(t, h, httptest.NewRequest(http.MethodGet, "/api/items/"+strconv.FormatInt(photoID, 10), nil))
	var item ItemResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &item); err != nil || item.Metadata.CameraModel != "iPhone 12" || item.Metadata.GPS == nil {
		t.Errorf("item %s: %+v %v", rec.Body.String(), item.Metadata, err)
	}
	rec = do(t, h, httptest.NewRequest(http.MethodGet, "/api/stats", nil))
	var st StatsResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || len(st.Photos.Cameras) != 1 || st.Photos.Cameras[0].Name != "Apple iPhone 12" ||
		st.Photos.WithGPS != 1 || len(st.Photos.Formats) != 2 || st.Photos.First.Format(time.RFC3339) != "2023-07-14T18:30:05+02:00" {
		t.Errorf("stats %s: %+v %v", rec.Body.String(), st.Photos, err)
	}
}
