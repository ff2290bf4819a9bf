package imageproc

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"io"
	"strings"
	"testing"
)

func TestPNM(t *testing.T) {
	tests := []struct {
		name   string
		data   string
		format string
		w, h   int
		model  color.Model
		// want holds the expected RGBA (8-bit) of every pixel, row by row.
		want [][4]uint8
	}{
		{"P1 plain bitmap", "P1\n# comment\n3 2\n1 0 1\n0 1 0\n", "pbm", 3, 2, color.GrayModel,
			[][4]uint8{{0, 0, 0, 255}, {255, 255, 255, 255}, {0, 0, 0, 255}, {255, 255, 255, 255}, {0, 0, 0, 255}, {255, 255, 255, 255}}},
		{"P1 without separators", "P1 3 2 101010", "pbm", 3, 2, color.GrayModel,
			[][4]uint8{{0, 0, 0, 255}, {255, 255, 255, 255}, {0, 0, 0, 255}, {255, 255, 255, 255}, {0, 0, 0, 255}, {255, 255, 255, 255}}},
		{"P2 maxval 15", "P2 2 1 15\n0 15\n", "pgm", 2, 1, color.GrayModel,
			[][4]uint8{{0, 0, 0, 255}, {255, 255, 255, 255}}},
		{"P2 maxval 1000", "P2 2 1 1000 500 1000", "pgm", 2, 1, color.Gray16Model,
			[][4]uint8{{128, 128, 128, 255}, {255, 255, 255, 255}}}, // 500/1000 → 32768 → high byte 128
		{"P3 plain pixmap", "P3\n2 1\n255\n255 0 0  0 128 255\n", "ppm", 2, 1, color.NRGBAModel,
			[][4]uint8{{255, 0, 0, 255}, {0, 128, 255, 255}}},
		{"P4 raw bitmap", "P4\n10 1\n\xA0\x40", "pbm", 10, 1, color.GrayModel,
			[][4]uint8{{0, 0, 0, 255}, {255, 255, 255, 255}, {0, 0, 0, 255}, {255, 255, 255, 255}, {255, 255, 255, 255},
				{255, 255, 255, 255}, {255, 255, 255, 255}, {255, 255, 255, 255}, {255, 255, 255, 255}, {0, 0, 0, 255}}},
		{"P5 raw greymap", "P5 3 1 255\n\x00\x80\xff", "pgm", 3, 1, color.GrayModel,
			[][4]uint8{{0, 0, 0, 255}, {128, 128, 128, 255}, {255, 255, 255, 255}}},
		{"P5 16-bit", "P5 2 1 65535\n\x12\x34\xff\xff", "pgm", 2, 1, color.Gray16Model,
			[][4]uint8{{0x12, 0x12, 0x12, 255}, {255, 255, 255, 255}}},
		{"P6 raw pixmap with comment", "P6 #c\n2 1 255\n\x01\x02\x03\xfa\xfb\xfc", "ppm", 2, 1, color.NRGBAModel,
			[][4]uint8{{1, 2, 3, 255}, {250, 251, 252, 255}}},
		{"P6 16-bit", "P6 1 1 65535\n\xff\xff\x80\x00\x00\x01", "ppm", 1, 1, color.NRGBA64Model,
			[][4]uint8{{255, 128, 0, 255}}},
		{"P6 maxval 3", "P6 1 1 3\n\x03\x01\x00", "ppm", 1, 1, color.NRGBAModel,
			[][4]uint8{{255, 85, 0, 255}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, format, err := image.DecodeConfig(strings.NewReader(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if format != tt.format || cfg.Width != tt.w || cfg.Height != tt.h || cfg.ColorModel != tt.model {
				t.Errorf("config %s %d×%d %T, want %s %d×%d", format, cfg.Width, cfg.Height, cfg.ColorModel, tt.format, tt.w, tt.h)
			}
			img, info, err := Decode(strings.NewReader(tt.data), tt.name, int64(len(tt.data)), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if info.Format != tt.format || info.Width != tt.w || info.Height != tt.h {
				t.Errorf("info %+v", info)
			}
			for i, w := range tt.want {
				got := img.Pix[4*i : 4*i+4]
				if !bytes.Equal(got, w[:]) {
					t.Errorf("pixel %d = %v, want %v", i, got, w)
				}
			}
		})
	}
}

func TestPNMErrors(t *testing.T) {
	tests := []struct {
		name, data string
		want       error
	}{
		{"sample over maxval", "P2 2 1 15\n0 16\n", ErrCorrupt},
		{"raw sample over maxval", "P5 1 1 100\n\xff", ErrCorrupt},
		{"bad PBM digit", "P1 2 1\n0 2\n", ErrCorrupt},
		{"truncated raw", "P6 4 4 255\n\x00\x00", io.ErrUnexpectedEOF},
		{"truncated plain", "P3 2 1 255\n1 2 3 4", io.ErrUnexpectedEOF},
		{"zero width", "P5 0 1 255\n", ErrCorrupt},
		{"maxval zero", "P5 1 1 0\n\x00", ErrCorrupt},
		{"maxval too big", "P5 1 1 65536\n\x00\x00", ErrCorrupt},
		{"too many digits", "P5 1234567890 1 255\n", ErrCorrupt},
		{"garbage in header", "P5 12x 1 255\n", ErrCorrupt},
		{"huge header refused by the limit", "P6 60000 60000 255\n", ErrTooLarge},
		{"P without digit is not PNM", "P7 1 1 255\n\x00", ErrNotImage},
		{"P1 without whitespace is not PNM", "P1234", ErrNotImage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Decode(strings.NewReader(tt.data), "x.pnm", -1, Options{})
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}
