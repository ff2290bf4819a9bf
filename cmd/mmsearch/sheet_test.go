package main

import (
	"bytes"
	"encoding/base64"
	htmlpkg "html"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"mmsearch/internal/imagetest"
)

// TestSheetOnWhite checks that the contact sheet shows a transparent
// picture on white: its thumbnail's transparent corners are white, not the
// black a JPEG of the bare pixels would show, its opaque middle keeps its
// colour, and the page puts no checkerboard behind pictures.
func TestSheetOnWhite(t *testing.T) {
	dir := t.TempDir()
	photos := filepath.Join(dir, "photos")
	if err := os.Mkdir(photos, 0o755); err != nil {
		t.Fatal(err)
	}
	img := image.NewNRGBA(image.Rect(0, 0, 64, 64))
	for y := 16; y < 48; y++ {
		for x := 16; x < 48; x++ {
			img.SetNRGBA(x, y, color.NRGBA{30, 40, 200, 255})
		}
	}
	imagetest.Write(t, filepath.Join(photos, "clear.png"), imagetest.PNG(t, img))
	lib := filepath.Join(dir, "lib")
	if r := run(t, "index", "--library", lib, "--model", tinyModel, photos); r.code != 0 {
		t.Fatalf("index: %d %s", r.code, r.stderr)
	}
	r := run(t, "search", "--library", lib, "--json", "-k", "1", "blue")
	if r.code != 0 {
		t.Fatalf("search: %d %s", r.code, r.stderr)
	}
	res := filepath.Join(dir, "res.json")
	if err := os.WriteFile(res, []byte(r.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "sheet.html")
	if r := run(t, "sheet", "--out", out, "--thumb", "64", res); r.code != 0 {
		t.Fatalf("sheet: %d %s", r.code, r.stderr)
	}
	html, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(html), "conic-gradient") {
		t.Error("the sheet still draws a checkerboard behind pictures")
	}
	m := regexp.MustCompile(`src="data:image/jpeg;base64,([^"]+)"`).FindSubmatch(html)
	if m == nil {
		t.Fatalf("no thumbnail in the sheet:\n%s", html)
	}
	b, err := base64.StdEncoding.DecodeString(htmlpkg.UnescapeString(string(m[1])))
	if err != nil {
		t.Fatal(err)
	}
	th, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	corner := color.RGBAModel.Convert(th.At(2, 2)).(color.RGBA)
	if corner.R < 245 || corner.G < 245 || corner.B < 245 {
		t.Errorf("transparent corner is %v, want white", corner)
	}
	mid := th.Bounds().Dx() / 2
	if c := color.RGBAModel.Convert(th.At(mid, mid)).(color.RGBA); c.B < 150 || c.R > 80 {
		t.Errorf("opaque middle is %v, want the blue square", c)
	}
}
