package imageproc

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/gif"
	"testing"
)

// TestToNRGBA checks the conversion of each decoded image type to 8-bit
// straight-alpha RGBA, with values worked out by hand.
func TestToNRGBA(t *testing.T) {
	r := image.Rect(0, 0, 2, 1)
	gray16 := image.NewGray16(r)
	gray16.SetGray16(0, 0, color.Gray16{0x12ff})
	gray16.SetGray16(1, 0, color.Gray16{0xffff})

	nrgba64 := image.NewNRGBA64(r)
	nrgba64.SetNRGBA64(0, 0, color.NRGBA64{0xabcd, 0x0102, 0xffff, 0x8000})
	nrgba64.SetNRGBA64(1, 0, color.NRGBA64{0, 0, 0, 0xffff})

	rgba := image.NewRGBA(r) // premultiplied
	rgba.SetRGBA(0, 0, color.RGBA{64, 32, 0, 128})
	rgba.SetRGBA(1, 0, color.RGBA{10, 20, 30, 255})

	pal := image.NewPaletted(r, color.Palette{color.RGBA{1, 2, 3, 255}, color.NRGBA{200, 100, 50, 0}})
	pal.SetColorIndex(0, 0, 1)
	pal.SetColorIndex(1, 0, 0)

	cmyk := image.NewCMYK(r)
	cmyk.SetCMYK(0, 0, color.CMYK{0, 255, 255, 0}) // red
	cmyk.SetCMYK(1, 0, color.CMYK{100, 50, 0, 60})

	ycc := image.NewYCbCr(r, image.YCbCrSubsampleRatio444)
	copy(ycc.Y, []uint8{76, 255})
	copy(ycc.Cb, []uint8{85, 128})
	copy(ycc.Cr, []uint8{255, 128})

	tests := []struct {
		name   string
		img    image.Image
		want   []uint8
		opaque bool
	}{
		{"Gray16 keeps the high byte", gray16, []uint8{0x12, 0x12, 0x12, 255, 255, 255, 255, 255}, true},
		{"NRGBA64 keeps the high bytes", nrgba64, []uint8{0xab, 0x01, 0xff, 0x80, 0, 0, 0, 255}, false},
		{"RGBA is unpremultiplied", rgba, []uint8{128, 64, 0, 128, 10, 20, 30, 255}, false},
		{"Paletted keeps straight colour", pal, []uint8{200, 100, 50, 0, 1, 2, 3, 255}, false},
		// PIL: R = 255-k - round(c·(255-k)/255); (100,50,0,60): 195-76, 195-38, 195.
		{"CMYK with PIL's formula", cmyk, []uint8{255, 0, 0, 255, 119, 157, 195, 255}, true},
		// JFIF: Y 76, Cb 85, Cr 255 is pure red; Y 255 neutral is white.
		{"YCbCr 4:4:4", ycc, []uint8{254, 0, 0, 255, 255, 255, 255, 255}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, opaque := toNRGBA(tt.img, "")
			if !bytes.Equal(got.Pix, tt.want) || opaque != tt.opaque || got.Rect != r {
				t.Errorf("got %v opaque=%v rect %v, want %v opaque=%v", got.Pix, opaque, got.Rect, tt.want, tt.opaque)
			}
		})
	}
	// A sub-image with an offset origin comes back at (0, 0).
	big := image.NewNRGBA(image.Rect(0, 0, 4, 4))
	big.SetNRGBA(2, 3, color.NRGBA{9, 8, 7, 255})
	sub := big.SubImage(image.Rect(2, 3, 3, 4))
	got, _ := toNRGBA(sub, "")
	if got.Rect != image.Rect(0, 0, 1, 1) || !bytes.Equal(got.Pix, []uint8{9, 8, 7, 255}) {
		t.Errorf("sub-image: %v %v", got.Rect, got.Pix)
	}
}

// TestGIFPartialFirstFrame: a first frame smaller than the logical screen
// is placed on it, the rest transparent.
func TestGIFPartialFirstFrame(t *testing.T) {
	frame := image.NewPaletted(image.Rect(2, 1, 4, 3), color.Palette{color.RGBA{0, 0, 0, 0}, color.RGBA{255, 0, 0, 255}})
	for i := range frame.Pix {
		frame.Pix[i] = 1
	}
	var buf bytes.Buffer
	err := gif.EncodeAll(&buf, &gif.GIF{
		Image:  []*image.Paletted{frame},
		Delay:  []int{0},
		Config: image.Config{ColorModel: frame.Palette, Width: 5, Height: 4},
	})
	if err != nil {
		t.Fatal(err)
	}
	img, info, err := Decode(&buf, "partial.gif", -1, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if info.Width != 5 || info.Height != 4 {
		t.Fatalf("size %d×%d, want the 5×4 screen", info.Width, info.Height)
	}
	for y := 0; y < 4; y++ {
		for x := 0; x < 5; x++ {
			want := color.NRGBA{}
			if image.Pt(x, y).In(frame.Rect) {
				want = color.NRGBA{255, 0, 0, 255}
			}
			if got := img.NRGBAAt(x, y); got != want {
				t.Errorf("pixel %d,%d = %v, want %v", x, y, got, want)
			}
		}
	}
}

// tinyWebPs are 1×1 WebP files of each kind (the widely used feature-test
// images), with the pixel PIL 9.4 decodes from each.
var tinyWebPs = []struct {
	name, b64 string
	want      []uint8
}{
	{"lossless", "UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==", []uint8{0, 0, 0, 0}},
	{"lossy", "UklGRiIAAABXRUJQVlA4IBYAAAAwAQCdASoBAAEADsD+JaQAA3AAAAAA", []uint8{130, 130, 130, 255}},
	{"lossy with alpha", "UklGRkoAAABXRUJQVlA4WAoAAAAQAAAAAAAAAAAAQUxQSAwAAAARBxAR/Q9ERP8DAABWUDggGAAAABQBAJ0BKgEAAQAAAP4AAA3AAP7mtQAAAA==", []uint8{0, 0, 0, 0}},
}

func TestTinyWebP(t *testing.T) {
	for _, w := range tinyWebPs {
		t.Run(w.name, func(t *testing.T) {
			data, err := base64.StdEncoding.DecodeString(w.b64)
			if err != nil {
				t.Fatal(err)
			}
			img, info, err := Decode(bytes.NewReader(data), w.name+".webp", int64(len(data)), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if info.Format != "webp" || info.Width != 1 || info.Height != 1 || !bytes.Equal(img.Pix, w.want) {
				t.Errorf("got %+v %v, want webp 1×1 %v", info, img.Pix, w.want)
			}
		})
	}
}
