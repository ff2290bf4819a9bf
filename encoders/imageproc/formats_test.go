package imageproc

import (
	"bytes"
	"errors"
	"image"
	"image/draw"
	"image/gif"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSharedFormats decodes every file of ../shared/images/formats and
// checks its detected format and size (read off each file's header).
func TestSharedFormats(t *testing.T) {
	dir := requireShared(t, "images/formats")
	want := map[string]struct {
		format string
		w, h   int
	}{
		"bee.jpg":                           {"jpeg", 384, 256},
		"bee_animated.gif":                  {"gif", 200, 133},
		"black cat at night.jpg":            {"jpeg", 384, 256},
		"black cat sleeping on a chair.JPG": {"jpeg", 384, 256},
		"black kitty.jpeg":                  {"jpeg", 384, 256},
		"boats on a lake.png":               {"png", 384, 256},
		"books.jpg":                         {"jpeg", 384, 576},
		"cake.jpg":                          {"jpeg", 384, 256},
		"camera lens.jpg":                   {"jpeg", 384, 256},
		"camera.jpg":                        {"jpeg", 384, 256},
		"cat.jpg":                           {"jpeg", 384, 256},
		"cautious cat.jpg":                  {"jpeg", 384, 256},
		"chess-knight.tiff":                 {"tiff", 384, 256},
		"chess-pawns.bmp":                   {"bmp", 384, 256},
		"chess-queen.gif":                   {"gif", 256, 384},
		"chessboard with rocks.JPG":         {"jpeg", 384, 256},
		"duck.jp2":                          {"jpeg", 384, 256}, // a JPEG, whatever its name says
		"kookaburras.pnm":                   {"ppm", 384, 256},
		"magpie.pbm":                        {"pbm", 384, 256},
		"parrot-and-flowers.pgm":            {"pgm", 256, 384},
		"parrot-looks-into-the-camera.ppm":  {"ppm", 256, 384},
		"tree.webp":                         {"webp", 171, 256},
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, e := range entries {
		name := e.Name()
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			img, info, err := Load(path, Options{})
			if name == "not-an-image.txt" {
				if !errors.Is(err, ErrNotImage) {
					t.Fatalf("got %v, want ErrNotImage", err)
				}
				if !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "unknown format") {
					t.Errorf("error %q should name the file and say unknown format", err)
				}
				return
			}
			w, ok := want[name]
			if !ok {
				t.Fatalf("new file %s: add its expected format and size to the table", name)
			}
			seen++
			if err != nil {
				t.Fatal(err)
			}
			if info.Format != w.format || info.Width != w.w || info.Height != w.h {
				t.Errorf("got %s %d×%d, want %s %d×%d", info.Format, info.Width, info.Height, w.format, w.w, w.h)
			}
			if b := img.Bounds(); b != image.Rect(0, 0, w.w, w.h) {
				t.Errorf("image bounds %v, want 0,0-%d,%d", b, w.w, w.h)
			}
			if info.Bytes <= 0 || info.Orientation != 1 || info.Scale != 1 {
				t.Errorf("info %+v: want positive Bytes, orientation 1, scale 1", info)
			}
			// A photo is not a flat colour: at least 16 distinct grey levels.
			levels := map[uint8]bool{}
			for i := 0; i < len(img.Pix); i += 4 {
				levels[img.Pix[i+1]] = true
			}
			if len(levels) < 2 || (name != "magpie.pbm" && len(levels) < 16) {
				t.Errorf("only %d distinct green levels", len(levels))
			}
			// Decoding from a reader gives the same pixels.
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			img2, info2, err := Decode(bytes.NewReader(data), name, -1, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if info2 != info || !bytes.Equal(img2.Pix, img.Pix) {
				t.Errorf("Decode differs from Load: %+v vs %+v", info2, info)
			}
		})
	}
	if seen != len(want) {
		t.Errorf("decoded %d of the %d expected files", seen, len(want))
	}
}

// TestAnimatedGIFFirstFrame checks that an animated GIF yields its first
// frame, not a later one.
func TestAnimatedGIFFirstFrame(t *testing.T) {
	path := filepath.Join(requireShared(t, "images/formats"), "bee_animated.gif")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	all, err := gif.DecodeAll(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Image) < 2 {
		t.Fatalf("test file has %d frames, want an animation", len(all.Image))
	}
	// Frames composited onto the logical screen, as a viewer shows them.
	screen := image.Rect(0, 0, all.Config.Width, all.Config.Height)
	canvas := image.NewNRGBA(screen)
	var frames []*image.NRGBA
	for _, fr := range all.Image[:2] {
		draw.Draw(canvas, fr.Bounds(), fr, fr.Bounds().Min, draw.Over)
		frames = append(frames, image.NewNRGBA(screen))
		copy(frames[len(frames)-1].Pix, canvas.Pix)
	}
	img, _, err := Load(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	diff := func(a, b *image.NRGBA) int {
		n := 0
		for i := range a.Pix {
			if a.Pix[i] != b.Pix[i] {
				n++
			}
		}
		return n
	}
	if d := diff(img, frames[0]); d != 0 {
		t.Errorf("%d bytes differ from frame 0", d)
	}
	if diff(frames[0], frames[1]) == 0 {
		t.Fatal("frames 0 and 1 are identical; the test cannot tell them apart")
	}
}

// TestFormatFromContent: names never decide the format.
func TestFormatFromContent(t *testing.T) {
	shared := requireShared(t, "images/formats")
	dir := t.TempDir()
	copyTo := func(src, dst string) string {
		data, err := os.ReadFile(filepath.Join(shared, src))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, dst)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		src, dst, format string
		err              error
	}{
		{"not-an-image.txt", "holiday.jpg", "", ErrNotImage},
		{"not-an-image.txt", "holiday.png", "", ErrNotImage},
		{"cat.jpg", "cat.png", "jpeg", nil},
		{"boats on a lake.png", "boats.jpg", "png", nil},
		{"tree.webp", "tree", "webp", nil},
		{"kookaburras.pnm", "bird.gif", "ppm", nil},
	}
	for _, tt := range tests {
		t.Run(tt.dst, func(t *testing.T) {
			_, info, err := Load(copyTo(tt.src, tt.dst), Options{})
			if !errors.Is(err, tt.err) || (err != nil) != (tt.err != nil) {
				t.Fatalf("got %v, want %v", err, tt.err)
			}
			if info.Format != tt.format {
				t.Errorf("format %q, want %q", info.Format, tt.format)
			}
		})
	}
}
