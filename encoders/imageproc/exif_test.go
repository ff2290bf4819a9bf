package imageproc

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"
)

var (
	red   = color.NRGBA{255, 0, 0, 255}
	green = color.NRGBA{0, 255, 0, 255}
	blue  = color.NRGBA{0, 0, 255, 255}
	white = color.NRGBA{255, 255, 255, 255}
)

// quadrantJPEG encodes a w×h JPEG whose quadrants are red (top left),
// green (top right), blue (bottom left) and white (bottom right).
func quadrantJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := red
			switch {
			case x >= w/2 && y < h/2:
				c = green
			case x < w/2 && y >= h/2:
				c = blue
			case x >= w/2 && y >= h/2:
				c = white
			}
			img.SetNRGBA(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// exifSegment builds an APP1 Exif segment whose IFD0 holds the orientation
// tag (SHORT) in the given byte order, preceded by another tag. Layout:
// bytes 0-3 marker and length, 4-9 "Exif\0\0", 10 TIFF header, 18 IFD0
// entry count, 20 first entry, 32 orientation entry (34 type, 40 value).
func exifSegment(orientation uint16, order binary.ByteOrder) []byte {
	var tiff bytes.Buffer
	if order == binary.LittleEndian {
		tiff.WriteString("II")
	} else {
		tiff.WriteString("MM")
	}
	w := func(v any) { _ = binary.Write(&tiff, order, v) }
	w(uint16(42))
	w(uint32(8))      // IFD0 offset
	w(uint16(2))      // two entries
	w(uint16(0x010F)) // Make, ASCII, 4 bytes inline
	w(uint16(2))
	w(uint32(4))
	tiff.WriteString("Go\x00\x00")
	w(uint16(0x0112)) // Orientation, SHORT, 1
	w(uint16(3))
	w(uint32(1))
	w(orientation)
	w(uint16(0))
	w(uint32(0)) // no next IFD
	payload := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	seg := []byte{0xFF, 0xE1, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)}
	return append(seg, payload...)
}

// withSegment inserts a marker segment right after a JPEG's SOI.
func withSegment(jpg, seg []byte) []byte {
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

func TestEXIFOrientation(t *testing.T) {
	const w, h = 64, 32
	plain := quadrantJPEG(t, w, h)
	// Display colours of the top-left, top-right, bottom-left and
	// bottom-right quadrants for each orientation value.
	tests := []struct {
		o              uint16
		tl, tr, bl, br color.NRGBA
	}{
		{1, red, green, blue, white},
		{2, green, red, white, blue},
		{3, white, blue, green, red},
		{4, blue, white, red, green},
		{5, red, blue, green, white},
		{6, blue, red, white, green},
		{7, white, green, blue, red},
		{8, green, white, red, blue},
	}
	dir := t.TempDir()
	for _, pureGo := range []bool{false, true} {
		for _, tt := range tests {
			order := binary.ByteOrder(binary.LittleEndian)
			if tt.o%2 == 0 {
				order = binary.BigEndian
			}
			data := withSegment(plain, exifSegment(tt.o, order))
			path := filepath.Join(dir, "o.jpg")
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			img, info, err := Load(path, Options{PureGo: pureGo})
			if err != nil {
				t.Fatalf("orientation %d: %v", tt.o, err)
			}
			dw, dh := w, h
			if tt.o >= 5 {
				dw, dh = h, w
			}
			if info.Orientation != int(tt.o) || info.Width != dw || info.Height != dh || img.Bounds() != image.Rect(0, 0, dw, dh) {
				t.Errorf("pureGo=%v orientation %d: info %+v, bounds %v; want %d×%d", pureGo, tt.o, info, img.Bounds(), dw, dh)
				continue
			}
			check := func(corner string, x, y int, want color.NRGBA) {
				got := img.NRGBAAt(x, y)
				if !near(got, want, 40) {
					t.Errorf("pureGo=%v orientation %d: %s pixel %v, want %v", pureGo, tt.o, corner, got, want)
				}
			}
			check("top-left", dw/4, dh/4, tt.tl)
			check("top-right", 3*dw/4, dh/4, tt.tr)
			check("bottom-left", dw/4, 3*dh/4, tt.bl)
			check("bottom-right", 3*dw/4, 3*dh/4, tt.br)

			// LoadTensor (at half resolution with libjpeg-turbo: the shorter
			// side 32 halves to 16 = 2×8) sees the same layout in the 8×8
			// centre crop.
			p := CLIP(8)
			dst := make([]float32, p.Len())
			tinfo, err := LoadTensor(path, Options{PureGo: pureGo}, p, dst)
			if err != nil {
				t.Fatal(err)
			}
			if wantScale := map[bool]int{false: 2, true: 1}[pureGo || !turboCompiled]; tinfo.Scale != wantScale || tinfo.Width != dw {
				t.Errorf("pureGo=%v orientation %d: LoadTensor info %+v, want scale %d", pureGo, tt.o, tinfo, wantScale)
			}
			at := func(x, y int) color.NRGBA {
				var c [3]uint8
				for ch := 0; ch < 3; ch++ {
					v := (dst[ch*64+y*8+x]*p.Std[ch] + p.Mean[ch]) * 255
					c[ch] = uint8(min(max(v+0.5, 0), 255))
				}
				return color.NRGBA{c[0], c[1], c[2], 255}
			}
			for _, q := range []struct {
				x, y int
				want color.NRGBA
			}{{1, 1, tt.tl}, {6, 1, tt.tr}, {1, 6, tt.bl}, {6, 6, tt.br}} {
				if got := at(q.x, q.y); !near(got, q.want, 40) {
					t.Errorf("pureGo=%v orientation %d: tensor pixel %d,%d = %v, want %v", pureGo, tt.o, q.x, q.y, got, q.want)
				}
			}

			// IgnoreOrientation leaves the stored layout.
			img, info, err = Load(path, Options{PureGo: pureGo, IgnoreOrientation: true})
			if err != nil {
				t.Fatal(err)
			}
			if info.Orientation != int(tt.o) || info.Width != w || !near(img.NRGBAAt(3*w/4, h/4), green, 40) {
				t.Errorf("IgnoreOrientation %d: info %+v, top-right %v", tt.o, info, img.NRGBAAt(3*w/4, h/4))
			}
		}
	}
}

func near(a, b color.NRGBA, tol int) bool {
	d := func(x, y uint8) bool { return int(x)-int(y) <= tol && int(y)-int(x) <= tol }
	return d(a.R, b.R) && d(a.G, b.G) && d(a.B, b.B) && a.A == b.A
}

func TestJPEGOrientationParser(t *testing.T) {
	plain := quadrantJPEG(t, 16, 16)
	good := exifSegment(6, binary.LittleEndian)
	long := exifSegment(6, binary.BigEndian)
	// Rewrite the orientation entry's type to LONG (4) holding 8.
	copy(long[34:], []byte{0, 4, 0, 0, 0, 1, 0, 0, 0, 8})
	tests := []struct {
		name string
		data []byte
		want int
	}{
		{"no exif", plain, 1},
		{"little endian", withSegment(plain, good), 6},
		{"LONG type", withSegment(plain, long), 8},
		{"out-of-range value", withSegment(plain, exifSegment(9, binary.LittleEndian)), 1},
		{"after other APP segment", withSegment(plain, append([]byte{0xFF, 0xE0, 0, 4, 'J', 'F'}, good...)), 6},
		{"fill bytes before marker", withSegment(plain, append([]byte{0xFF, 0xFF}, good[1:]...)), 6},
		{"segment longer than file", append(append([]byte{}, plain[:2]...), good[:20]...), 1},
		{"IFD offset out of range", withSegment(plain, corrupt(good, 14, 0xFF)), 1},
		{"entry count beyond data", withSegment(plain, corrupt(corrupt(good, 18, 0x7F), 32, 0x13)), 1},
		{"bad byte order", withSegment(plain, corrupt(good, 10, 'X')), 1},
		{"not a JPEG", []byte("GIF89a"), 1},
		{"empty", nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := jpegOrientation(tt.data); got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

// corrupt returns a copy of b with b[i] = v.
func corrupt(b []byte, i int, v byte) []byte {
	c := append([]byte{}, b...)
	c[i] = v
	return c
}
