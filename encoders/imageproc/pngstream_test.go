package imageproc

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"math/rand/v2"
	"testing"

	"mmsearch/internal/imagetest"
)

// pngVariants are PNGs of every colour type and bit depth, with and
// without tRNS, interlaced or not, with every filter type, of odd sizes.
func pngVariants(t testing.TB) map[string][]byte {
	combos := []struct{ ct, depth int }{
		{0, 1}, {0, 2}, {0, 4}, {0, 8}, {0, 16},
		{2, 8}, {2, 16},
		{3, 1}, {3, 2}, {3, 4}, {3, 8},
		{4, 8}, {4, 16},
		{6, 8}, {6, 16},
	}
	out := map[string][]byte{}
	for _, c := range combos {
		for _, interlaced := range []bool{false, true} {
			for _, withTRNS := range []bool{false, true} {
				if withTRNS && (c.ct == 4 || c.ct == 6) {
					continue
				}
				rng := rand.New(rand.NewPCG(uint64(c.ct*100+c.depth), 7))
				p := imagetest.RawPNG{
					Width: 37, Height: 23, Depth: c.depth, ColorType: c.ct, Interlaced: interlaced,
					Row: func(pass, y int, row []byte) {
						for i := range row {
							row[i] = byte(rng.IntN(256))
						}
						if rng.IntN(3) == 0 && len(row) > 6 { // repeat a pixel: colour keys match
							copy(row[:6], row[len(row)-6:])
						}
					},
					Filter: func(pass, y int) byte { return byte((pass + y) % 5) },
					Level:  1,
				}
				if c.ct == 3 {
					n := 1 << c.depth
					if c.depth == 8 {
						n = 200 // indices past PLTE are opaque black
					}
					p.Palette = make([]byte, 3*n)
					for i := range p.Palette {
						p.Palette[i] = byte(rng.IntN(256))
					}
				}
				if withTRNS {
					switch c.ct {
					case 0:
						p.TRNS = []byte{0, byte(rng.IntN(1 << min(c.depth, 8)))}
						if c.depth == 16 {
							p.TRNS[0] = byte(rng.IntN(256))
						}
					case 2:
						p.TRNS = make([]byte, 6)
						for i := range p.TRNS {
							p.TRNS[i] = byte(rng.IntN(256))
						}
					case 3:
						p.TRNS = make([]byte, 1<<min(c.depth, 7))
						for i := range p.TRNS {
							p.TRNS[i] = byte(rng.IntN(256))
						}
					}
				}
				out[fmt.Sprintf("type%d-%dbit-interlaced=%v-trns=%v", c.ct, c.depth, interlaced, withTRNS)] = p.Encode(t)
			}
		}
	}
	return out
}

// TestPNGStreamMatchesImagePNG checks that the streaming decoder gives, at
// full size, exactly image/png's pixels after toNRGBA, and at 1/2, 1/4 and
// 1/8 the alpha-weighted box average of those pixels.
func TestPNGStreamMatchesImagePNG(t *testing.T) {
	for name, data := range pngVariants(t) {
		t.Run(name, func(t *testing.T) {
			m, err := png.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("image/png: %v", err)
			}
			want, wantOpaque := toNRGBA(m, "png")
			got, opaque, err := pngReduce(data, 1)
			if err != nil {
				t.Fatal(err)
			}
			if got.Rect != want.Rect || !bytes.Equal(got.Pix, want.Pix) || opaque != wantOpaque {
				t.Fatalf("full size differs from image/png (opaque %v, want %v)", opaque, wantOpaque)
			}
			for _, r := range []int{2, 4, 8} {
				got, _, err := pngReduce(data, r)
				if err != nil {
					t.Fatal(err)
				}
				ref := boxReference(want, r)
				if got.Rect != ref.Rect || !bytes.Equal(got.Pix, ref.Pix) {
					t.Fatalf("1/%d differs from the box average of image/png's pixels", r)
				}
			}
		})
	}
}

// boxReference averages r×r blocks of src, weighting colour by alpha.
func boxReference(src *image.NRGBA, r int) *image.NRGBA {
	w, h := src.Rect.Dx(), src.Rect.Dy()
	out := image.NewNRGBA(image.Rect(0, 0, (w+r-1)/r, (h+r-1)/r))
	for oy := 0; oy < out.Rect.Dy(); oy++ {
		for ox := 0; ox < out.Rect.Dx(); ox++ {
			var s [4]uint32
			n := uint32(0)
			for y := oy * r; y < min(h, oy*r+r); y++ {
				for x := ox * r; x < min(w, ox*r+r); x++ {
					p := src.Pix[src.PixOffset(x, y):]
					a := uint32(p[3])
					s[0] += uint32(p[0]) * a
					s[1] += uint32(p[1]) * a
					s[2] += uint32(p[2]) * a
					s[3] += a
					n++
				}
			}
			o := out.Pix[out.PixOffset(ox, oy):]
			if s[3] == 0 {
				continue
			}
			for c := 0; c < 3; c++ {
				o[c] = uint8((s[c] + s[3]/2) / s[3])
			}
			o[3] = uint8((s[3] + n/2) / n)
		}
	}
	return out
}

// TestPNGStreamHostile feeds damaged PNGs: each gives an ErrCorrupt or
// ErrUnsupported error naming the problem, never a panic.
func TestPNGStreamHostile(t *testing.T) {
	good := imagetest.RawPNG{Width: 40, Height: 30, Depth: 8, ColorType: imagetest.PNGRGB,
		Row: func(_, y int, row []byte) {
			for i := range row {
				row[i] = byte(i * y)
			}
		}}.Encode(t)
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0xff
		return b
	}
	idat := bytes.Index(good, []byte("IDAT"))
	iend := bytes.Index(good, []byte("IEND"))
	badFilter := imagetest.RawPNG{Width: 4, Height: 4, Depth: 8, ColorType: imagetest.PNGGray,
		Filter: func(_, y int) byte { return 9 }}.Encode(t)
	cases := []struct {
		name string
		data []byte
		is   []error
		msg  string
	}{
		{"truncated in IDAT", good[:idat+20], []error{ErrCorrupt, io.ErrUnexpectedEOF}, "truncated"},
		{"no IEND", good[:iend-4], []error{ErrCorrupt, io.ErrUnexpectedEOF}, "truncated"},
		{"bad CRC", flip(idat + 10), []error{ErrCorrupt}, "checksum"},
		{"bad filter", badFilter, []error{ErrCorrupt}, "filter type"},
		{"bad depth", imagetest.RawPNG{Width: 4, Height: 4, Depth: 3, ColorType: imagetest.PNGGray}.Encode(t), []error{ErrUnsupported}, "bit depth 3"},
		{"palette without PLTE", imagetest.RawPNG{Width: 4, Height: 4, Depth: 8, ColorType: imagetest.PNGPalette}.Encode(t), []error{ErrCorrupt}, "PLTE"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, r := range []int{1, 4} {
				_, _, err := pngReduce(c.data, r)
				for _, is := range c.is {
					if !errors.Is(err, is) {
						t.Errorf("r=%d: %v does not wrap %v", r, err, is)
					}
				}
				if err == nil || !bytes.Contains([]byte(err.Error()), []byte(c.msg)) {
					t.Errorf("r=%d: %v, want %q", r, err, c.msg)
				}
			}
		})
	}
}
