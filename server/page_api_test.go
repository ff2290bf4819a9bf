package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/color"
	"image/jpeg"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/image/tiff"

	"mmsearch/engine"
	"mmsearch/internal/imagetest"
)

// TestItemByPath checks GET /api/items?path=: indexed paths answer with
// their item, in the form answers show paths; anything else is a clear
// error that says nothing about the disk.
func TestItemByPath(t *testing.T) {
	f := newFixture(t, 4)
	id2 := f.ids["colour02.png"]
	abs := f.paths[id2]
	wantItem := func(id int64, path string) func(*testing.T, *httptest.ResponseRecorder) {
		return func(t *testing.T, rec *httptest.ResponseRecorder) {
			var it ItemResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &it); err != nil {
				t.Fatal(err)
			}
			if it.ID != id || it.Path != path || it.Thumb != fmt.Sprintf("/api/items/%d/thumb", id) || it.View != fmt.Sprintf("/api/items/%d/file", id) {
				t.Fatalf("item %+v, want id %d path %q", it, id, path)
			}
		}
	}
	q := func(p string) string { return "/api/items?" + url.Values{"path": {p}}.Encode() }
	h := newTestServer(t, f.lib, Config{}).Handler()
	runCases(t, h, []apiCase{
		{name: "indexed", path: q(abs), status: 200, check: wantItem(id2, abs)},
		{name: "uncleaned", path: q(filepath.Dir(abs) + "/./" + filepath.Base(abs)), status: 200, check: wantItem(id2, abs)},
		{name: "not indexed", path: q(filepath.Join(f.photos, "a", "nope.png")), status: 404, code: CodeNotFound},
		{name: "existing but not indexed", path: q("/etc/passwd"), status: 404, code: CodeNotFound},
		{name: "folder", path: q(f.photos), status: 404, code: CodeNotFound},
		{name: "relative", path: q("a/colour02.png"), status: 400, code: CodeBadRequest},
		{name: "empty", path: "/api/items", status: 400, code: CodeBadRequest},
		{name: "NUL", path: q(abs + "\x00"), status: 400, code: CodeBadRequest},
		{name: "too long", path: q("/" + strings.Repeat("a", maxLookupPath)), status: 400, code: CodeBadRequest},
		{name: "POST", method: "POST", path: q(abs), status: 405, code: CodeMethod},
	})
	// With hidden paths, the path is given and shown under the root's name.
	shown := filepath.Base(f.photos) + "/" + filepath.Base(filepath.Dir(abs)) + "/colour02.png"
	hidden := newTestServer(t, f.lib, Config{HidePaths: true, Roots: []string{f.photos}}).Handler()
	runCases(t, hidden, []apiCase{
		{name: "hidden shown form", path: q(shown), status: 200, check: wantItem(id2, shown)},
		{name: "hidden absolute", path: q(abs), status: 404, code: CodeNotFound},
		{name: "hidden escaping", path: q(filepath.Base(f.photos) + "/../../etc/passwd"), status: 404, code: CodeNotFound},
		{name: "hidden other root", path: q("elsewhere/a/colour02.png"), status: 404, code: CodeNotFound},
		{name: "hidden root alone", path: q(filepath.Base(f.photos)), status: 404, code: CodeNotFound},
	})
	// A token guards it like every API route.
	guarded := newTestServer(t, f.lib, Config{Token: testToken}).Handler()
	runCases(t, guarded, []apiCase{{name: "no token", path: q(abs), status: 401, code: CodeUnauthorized}})
}

// TestPreview checks GET /api/items/{id}/preview: TIFF and PGM items come
// back as JPEGs fitted within previewSize, transparent pictures on white,
// and answers name the preview as the view URL of formats browsers cannot
// show.
func TestPreview(t *testing.T) {
	f := newFixture(t, 2)
	big := colourImage(1, 3, previewSize+300) // larger than a preview
	var tif bytes.Buffer
	if err := tiff.Encode(&tif, big, nil); err != nil {
		t.Fatal(err)
	}
	extra := map[string][]byte{
		"big.tif":   tif.Bytes(),
		"gray.pgm":  pgm(colourImage(2, 3, 64)),
		"clear.png": imagetest.PNG(t, transparentDisc(64)),
	}
	for name, b := range extra {
		if err := os.WriteFile(filepath.Join(f.photos, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	if rep, err := f.lib.Ingest(ctx, []string{f.photos}, engine.IngestOptions{}); err != nil || rep.Indexed != len(extra) {
		t.Fatalf("index: %+v %v", rep, err)
	}
	id := map[string]int64{}
	for name := range extra {
		it, err := f.lib.ItemByPath(ctx, filepath.Join(f.photos, name))
		if err != nil {
			t.Fatal(err)
		}
		id[name] = it.ID
	}
	whiteCorner := func(t *testing.T, rec *httptest.ResponseRecorder) {
		img, err := jpeg.Decode(bytes.NewReader(rec.Body.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		if c := color.RGBAModel.Convert(img.At(1, 1)).(color.RGBA); !isWhite(c) {
			t.Fatalf("transparent corner %v, want white", c)
		}
	}
	preview := func(name string) string { return fmt.Sprintf("/api/items/%d/preview", id[name]) }
	h := newTestServer(t, f.lib, Config{}).Handler()
	runCases(t, h, []apiCase{
		{name: "tiff", path: preview("big.tif"), status: 200, check: wantJPEG(previewSize, previewSize)},
		{name: "pgm", path: preview("gray.pgm"), status: 200, check: wantJPEG(64, 64)},
		{name: "png on white", path: preview("clear.png"), status: 200, check: whiteCorner},
		{name: "unknown item", path: "/api/items/9999/preview", status: 404, code: CodeNotFound},
		{name: "bad id", path: "/api/items/x/preview", status: 400, code: CodeBadRequest},
	})
	rec := do(t, h, httptest.NewRequest("GET", preview("big.tif"), nil))
	if img, err := jpeg.Decode(bytes.NewReader(rec.Body.Bytes())); err != nil || img.Bounds().Dx() != previewSize {
		t.Fatalf("TIFF preview of a %d px picture: %v %v, want %d px wide", previewSize+300, err, img.Bounds(), previewSize)
	}
	// The view URL in search answers: the preview for TIFF and PGM, the
	// original for PNG.
	rec = do(t, h, httptest.NewRequest("GET", "/api/search?q=red&k=10", nil))
	var res SearchResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, hit := range res.Results {
		want := hit.File
		if hit.Format == "tiff" || hit.Format == "pgm" {
			want = fmt.Sprintf("/api/items/%d/preview", hit.ID)
			seen++
		}
		if hit.View != want {
			t.Errorf("%s (%s): view %q, want %q", hit.Name, hit.Format, hit.View, want)
		}
	}
	if seen != 2 {
		t.Fatalf("%d TIFF/PGM results in %+v", seen, res.Results)
	}
}

// TestViewURL pins which formats open as themselves.
func TestViewURL(t *testing.T) {
	for _, c := range []struct{ format, want string }{
		{"jpeg", "/api/items/7/file"}, {"png", "/api/items/7/file"}, {"gif", "/api/items/7/file"},
		{"webp", "/api/items/7/file"}, {"bmp", "/api/items/7/file"},
		{"tiff", "/api/items/7/preview"}, {"pgm", "/api/items/7/preview"}, {"ppm", "/api/items/7/preview"},
		{"pbm", "/api/items/7/preview"}, {"heif", "/api/items/7/preview"}, {"", "/api/items/7/preview"},
	} {
		if got := viewURL(7, c.format); got != c.want {
			t.Errorf("viewURL(%q) = %q, want %q", c.format, got, c.want)
		}
	}
}

// TestLanguageNotice checks the rule for non-English text: more than half
// of the letters outside ASCII A–Z, with an English-only model.
func TestLanguageNotice(t *testing.T) {
	text := func(vs ...string) []engine.TermInfo {
		var ts []engine.TermInfo
		for _, v := range vs {
			ts = append(ts, engine.TermInfo{Kind: "text", Value: v, Coef: 1})
		}
		return ts
	}
	en := []string{"en"}
	cases := []struct {
		name   string
		langs  []string
		terms  []engine.TermInfo
		notice bool
	}{
		{"chinese", en, text("猫"), true},
		{"japanese", en, text("赤い 車"), true},
		{"russian", en, text("собака"), true},
		{"greek", en, text("γάτα"), true},
		{"arabic", en, text("قطة"), true},
		{"english", en, text("red car"), false},
		{"accented english", en, text("café", "naïve"), false},
		{"german in latin letters", en, text("Hund"), false},
		{"digits and punctuation only", en, text("2024 !!"), false},
		{"mostly english", en, text("cat", "dog", "猫"), false},
		{"half chinese", en, text("cat", "小猫咪"), false},
		{"mostly chinese", en, text("cat", "小猫咪们"), true},
		{"items only", en, []engine.TermInfo{{Kind: "item", ItemID: 3, Coef: 1}}, false},
		{"path value ignored", en, []engine.TermInfo{{Kind: "path", Value: "/照片/猫.jpg", Coef: 1}}, false},
		{"multilingual model", []string{"en", "zh"}, text("猫"), false},
		{"model says nothing", nil, text("猫"), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := languageNotice(c.langs, c.terms)
			if (got != "") != c.notice {
				t.Fatalf("notice %q, want one: %v", got, c.notice)
			}
			if got != "" && !strings.Contains(got, "English only") {
				t.Fatalf("notice %q does not say why", got)
			}
		})
	}
	if got := languageNotice(en, text(strings.Repeat("猫", 100))); len([]rune(got)) > 200 {
		t.Fatalf("notice not truncated: %d characters", len([]rune(got)))
	}
}
