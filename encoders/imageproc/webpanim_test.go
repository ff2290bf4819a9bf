package imageproc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// TestAnimatedWebPFirstFrame decodes animated WebPs made by libwebp's muxer
// (PIL's save_all, testdata/animated-*.webp; the first frame covers only
// part of the canvas) and compares the first frame with PIL's rendering of
// it (testdata/*-frame0.png). Issue 19: they were reported as corrupt.
func TestAnimatedWebPFirstFrame(t *testing.T) {
	for _, c := range []struct {
		name    string
		maxDiff int // lossy VP8 may differ from libwebp by rounding
	}{
		{"animated-lossless", 0},
		{"animated-lossy", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", c.name+".webp"))
			if err != nil {
				t.Fatal(err)
			}
			img, info, err := Decode(bytes.NewReader(data), c.name, int64(len(data)), Options{})
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if info.Format != "webp" || info.Width != 48 || info.Height != 32 {
				t.Fatalf("info %+v, want a 48×32 webp", info)
			}
			f, err := os.Open(filepath.Join("testdata", c.name+"-frame0.png"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			ref, err := png.Decode(f)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := toNRGBA(ref, "png")
			if d := maxPixelDiff(img, want); d > c.maxDiff {
				t.Errorf("first frame differs from PIL's by up to %d levels (allowed %d)", d, c.maxDiff)
			}
			dst := make([]float32, CLIP(16).Len())
			if _, err := DecodeTensor(bytes.NewReader(data), c.name, int64(len(data)), Options{}, CLIP(16), dst); err != nil {
				t.Errorf("tensor: %v", err)
			}
		})
	}
}

// maxPixelDiff is the largest difference of any channel of two images of
// the same size, fully transparent pixels comparing equal.
func maxPixelDiff(a, b *image.NRGBA) int {
	if a.Rect != b.Rect {
		return 1 << 30
	}
	worst := 0
	for i := 0; i < len(a.Pix); i += 4 {
		if a.Pix[i+3] == 0 && b.Pix[i+3] == 0 {
			continue
		}
		for c := 0; c < 4; c++ {
			d := int(a.Pix[i+c]) - int(b.Pix[i+c])
			worst = max(worst, d, -d)
		}
	}
	return worst
}

// TestAnimatedWebPBuilt wraps a still lossless WebP frame in an ANIM/ANMF
// container at an offset on a larger canvas: the frame lands at its offset
// and the rest of the canvas is transparent. Broken containers are refused
// as corrupt.
func TestAnimatedWebPBuilt(t *testing.T) {
	lossless, err := os.ReadFile(filepath.Join("testdata", "animated-lossless.webp"))
	if err != nil {
		t.Fatal(err)
	}
	// Take the VP8L chunk of the first frame as a still image's payload.
	i := bytes.Index(lossless, []byte("VP8L"))
	vp8l := lossless[i+8 : i+8+int(binary.LittleEndian.Uint32(lossless[i+4:]))]
	still := riffChunk("RIFF", append([]byte("WEBP"), riffChunk("VP8L", vp8l)...))
	frame, _, err := Decode(bytes.NewReader(still), "frame", -1, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fw, fh := frame.Rect.Dx(), frame.Rect.Dy()
	const cw, ch, ox, oy = 100, 60, 10, 6 // canvas and offset (even, as ANMF stores /2)
	u24 := func(v int) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16)} }
	vp8x := append([]byte{0x12, 0, 0, 0}, append(u24(cw-1), u24(ch-1)...)...) // animation + alpha
	anmf := append(append(append(append(u24(ox/2), u24(oy/2)...), u24(fw-1)...), u24(fh-1)...), 100, 0, 0, 0)
	anmf = append(anmf, riffChunk("VP8L", vp8l)...)
	body := append([]byte("WEBP"), riffChunk("VP8X", vp8x)...)
	body = append(body, riffChunk("ANIM", make([]byte, 6))...)
	body = append(body, riffChunk("ANMF", anmf)...)
	file := riffChunk("RIFF", body)

	img, info, err := Decode(bytes.NewReader(file), "built.webp", -1, Options{})
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if info.Width != cw || info.Height != ch {
		t.Fatalf("size %d×%d, want the canvas %d×%d", info.Width, info.Height, cw, ch)
	}
	want := image.NewNRGBA(image.Rect(0, 0, cw, ch))
	for y := 0; y < fh; y++ {
		copy(want.Pix[want.PixOffset(ox, oy+y):], frame.Pix[y*frame.Stride:y*frame.Stride+4*fw])
	}
	if d := maxPixelDiff(img, want); d != 0 {
		t.Errorf("canvas differs from the frame placed at (%d, %d) by %d", ox, oy, d)
	}

	bad := map[string][]byte{
		"no frame":             riffChunk("RIFF", append([]byte("WEBP"), append(riffChunk("VP8X", vp8x), riffChunk("ANIM", make([]byte, 6))...)...)),
		"frame off the canvas": riffChunk("RIFF", bytes.Replace(body, anmf[:6], append(u24(cw), u24(0)...), 1)),
		"short ANMF":           riffChunk("RIFF", append(append([]byte("WEBP"), riffChunk("VP8X", vp8x)...), riffChunk("ANMF", anmf[:10])...)),
	}
	for name, data := range bad {
		_, _, err := Decode(bytes.NewReader(data), name, -1, Options{})
		t.Logf("%s: %v", name, err)
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want a corrupt-image error", name, err)
		}
	}
}
