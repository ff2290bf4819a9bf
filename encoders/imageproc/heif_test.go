package imageproc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image/color"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"mmsearch/internal/imagetest"
)

// heifOrNot skips a libheif test in a build without libheif.
func heifOrNot(t *testing.T) {
	t.Helper()
	if !HEIFCompiled {
		t.Skip("this build has no libheif (see TestHEIFWithoutLibheif)")
	}
}

// tensorOf decodes data into a CLIP tensor of size p.
func tensorOf(t *testing.T, data []byte, name string, p Preprocess) ([]float32, Info) {
	t.Helper()
	dst := make([]float32, p.Len())
	info, err := DecodeTensor(bytes.NewReader(data), name, int64(len(data)), Options{}, p, dst)
	if err != nil {
		t.Fatal(err)
	}
	return dst, info
}

func diffs(a, b []float32) (maxDiff, mean float64) {
	var sum float64
	for i := range a {
		d := math.Abs(float64(a[i] - b[i]))
		maxDiff = max(maxDiff, d)
		sum += d
	}
	return maxDiff, sum / float64(len(a))
}

// TestHEIFGolden encodes the golden pictures as HEIC and AVIF with heif-enc
// and compares our tensor of each with our tensor of the PNG heif-convert
// decodes from the same file: both go through libheif, so they must agree
// within the golden tolerance. The HEIC tensor must also stay near the PIL
// reference tensor of the original (lossy coding moves it only a little).
func TestHEIFGolden(t *testing.T) {
	heifOrNot(t)
	imagetest.RequireHEIFTools(t)
	dir := requireShared(t, "golden/preprocess")
	for _, e := range readGoldenIndex(t, dir) {
		p := CLIP(e.Shape[1])
		p.Mean, p.Std = e.Mean, e.Std
		src, _, err := Load(filepath.Join(dir, e.Image), Options{})
		if err != nil {
			t.Fatal(err)
		}
		ref := readF32(t, filepath.Join(dir, e.Image+".chw.f32"), p.Len())
		for _, tc := range []struct {
			format string
			avif   bool
		}{{"heic", false}, {"avif", true}} {
			t.Run(tc.format+"/"+e.Image, func(t *testing.T) {
				enc := imagetest.HEIF(t, src, 90, tc.avif)
				got, info := tensorOf(t, enc, e.Image+"."+tc.format, p)
				if info.Format != tc.format {
					t.Errorf("format %q, want %q", info.Format, tc.format)
				}
				if info.Width != e.SourceSize[0] || info.Height != e.SourceSize[1] {
					t.Errorf("size %d×%d, want %v", info.Width, info.Height, e.SourceSize)
				}
				want, _ := tensorOf(t, imagetest.HEIFToPNG(t, enc), "heif-convert.png", p)
				maxDiff, mean := diffs(got, want)
				refMax, refMean := diffs(got, ref)
				t.Logf("%s: vs heif-convert max |Δ| %.6f mean %.7f; vs PIL reference of the original max %.4f mean %.4f",
					tc.format, maxDiff, mean, refMax, refMean)
				if maxDiff > goldenMaxDiff || mean > goldenMeanDiff {
					t.Errorf("vs heif-convert: max |Δ| %.6f (limit %v), mean %.7f (limit %v)", maxDiff, goldenMaxDiff, mean, goldenMeanDiff)
				}
				if refMean > 0.06 {
					t.Errorf("mean |Δ| %.4f from the original's reference tensor: not the same picture", refMean)
				}
			})
		}
	}
}

// setIrot turns the 16-byte 'pixi' property heif-enc writes into an 'irot'
// property of the same size (libheif skips a box's trailing bytes), so the
// primary image gains a rotation of angle×90° anticlockwise.
func setIrot(t *testing.T, heic []byte, angle byte) []byte {
	t.Helper()
	out := bytes.Clone(heic)
	i := bytes.Index(out, []byte("pixi"))
	if i < 4 || binary.BigEndian.Uint32(out[i-4:]) != 16 {
		t.Fatalf("no 16-byte pixi box in heif-enc's output")
	}
	copy(out[i:], "irot")
	out[i+4] = angle
	return out
}

// TestHEIFOrientation checks that the container's rotation (irot) is
// applied once, as heif-convert applies it, and that the Exif orientation a
// HEIC also carries is not applied on top: heif-enc copies the JPEG's Exif
// (orientation 6 here) into the HEIC without turning it into irot, and
// libheif, like every HEIF reader, displays such a file unrotated.
func TestHEIFOrientation(t *testing.T) {
	heifOrNot(t)
	const w, h = 64, 32
	jpg := withSegment(quadrantJPEG(t, w, h), exifSegment(6, binary.LittleEndian))
	heic := imagetest.HEIFFrom(t, jpg, 95, false)
	tests := []struct {
		name           string
		data           []byte
		w, h           int
		tl, tr, bl, br color.NRGBA
	}{
		{"exif 6, no irot", heic, w, h, red, green, blue, white},
		{"irot 90", setIrot(t, heic, 1), h, w, green, white, red, blue},
		{"irot 180", setIrot(t, heic, 2), w, h, white, blue, green, red},
		{"irot 270", setIrot(t, heic, 3), h, w, blue, red, white, green},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, info, err := Decode(bytes.NewReader(tt.data), tt.name, int64(len(tt.data)), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if info.Width != tt.w || info.Height != tt.h || img.Rect.Dx() != tt.w || img.Rect.Dy() != tt.h {
				t.Fatalf("size %d×%d (pixels %v), want %d×%d", info.Width, info.Height, img.Rect, tt.w, tt.h)
			}
			if info.Orientation != 1 {
				t.Errorf("Orientation %d: the Exif orientation must not be applied to a HEIC", info.Orientation)
			}
			q := func(x, y int) color.NRGBA { return img.NRGBAAt(x, y) }
			cw, ch := tt.w/4, tt.h/4
			for _, c := range []struct {
				got, want color.NRGBA
				where     string
			}{
				{q(cw, ch), tt.tl, "top left"}, {q(tt.w-cw, ch), tt.tr, "top right"},
				{q(cw, tt.h-ch), tt.bl, "bottom left"}, {q(tt.w-cw, tt.h-ch), tt.br, "bottom right"},
			} {
				if !near(c.got, c.want, 40) {
					t.Errorf("%s is %v, want %v", c.where, c.got, c.want)
				}
			}
			ref, _, err := Decode(bytes.NewReader(imagetest.HEIFToPNG(t, tt.data)), "heif-convert.png", -1, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if ref.Rect != img.Rect {
				t.Fatalf("heif-convert gives %v, we give %v", ref.Rect, img.Rect)
			}
			var maxd int
			for i := range ref.Pix {
				maxd = max(maxd, int(ref.Pix[i])-int(img.Pix[i]), int(img.Pix[i])-int(ref.Pix[i]))
			}
			if maxd > 2 {
				t.Errorf("pixels differ from heif-convert's by up to %d levels", maxd)
			}
		})
	}
}

// TestHEIFGuards checks the limits and errors on HEIF input: the pixel
// limit is enforced from the header before decoding, and damaged files are
// corrupt images, not "not an image".
func TestHEIFGuards(t *testing.T) {
	heifOrNot(t)
	heic := imagetest.HEIF(t, imagetest.Pattern(3, 64, 48), 80, false)
	_, _, err := Decode(bytes.NewReader(heic), "big.heic", -1, Options{MaxPixels: 64*48 - 1})
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "64×48") {
		t.Errorf("over the pixel limit: %v, want ErrTooLarge naming 64×48", err)
	}
	if _, info, err := Decode(bytes.NewReader(heic), "ok.heic", -1, Options{MaxPixels: 64 * 48}); err != nil || info.Format != "heic" {
		t.Errorf("at the pixel limit: %v %+v", err, info)
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"truncated", heic[:len(heic)*2/3]},
		{"header only", heic[:40]},
		{"garbage after ftyp", append(append([]byte{}, heic[:24]...), bytes.Repeat([]byte{0xAB}, 200)...)},
	} {
		_, _, err := Decode(bytes.NewReader(tc.data), tc.name, -1, Options{})
		var ie *Error
		if !errors.As(err, &ie) || !(errors.Is(err, ErrCorrupt) || errors.Is(err, ErrUnsupported)) || errors.Is(err, ErrNotImage) {
			t.Errorf("%s: %v, want a corrupt-image *Error", tc.name, err)
		} else if ie.Format != "heic" {
			t.Errorf("%s: format %q, want heic", tc.name, ie.Format)
		}
	}
}

// TestHEIFWithoutLibheif runs in builds without libheif (go test -tags
// imageproc_noheif, or CGO_ENABLED=0): HEIC and AVIF are recognised and
// refused with a message saying why, as unsupported images, never as "not
// an image".
func TestHEIFWithoutLibheif(t *testing.T) {
	if HEIFCompiled {
		t.Skip("libheif is built in; run with -tags imageproc_noheif")
	}
	for _, tc := range []struct{ head, label string }{
		{"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "HEIC"},
		{"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf", "AVIF"},
	} {
		_, _, err := Decode(strings.NewReader(tc.head), "x", -1, Options{})
		if !errors.Is(err, ErrUnsupported) || errors.Is(err, ErrNotImage) || !strings.Contains(err.Error(), tc.label+": this build has no libheif") {
			t.Errorf("%s: %v", tc.label, err)
		}
	}
}
