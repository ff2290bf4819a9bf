package imageproc

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"

	"golang.org/x/image/webp"
)

// golang.org/x/image/webp decodes still images only: given an animated
// WebP (a VP8X chunk with the animation flag, an ANIM chunk and one ANMF
// chunk per frame) it finds no image chunk and reports an invalid format.
// Like PIL, which shows the first frame of an animation, this file takes
// the first ANMF frame, wraps its image chunks as a still WebP for
// x/image/webp, and places the result at the frame's offset on a
// transparent canvas of the animation's size (libwebp's WebPAnimDecoder
// starts from a transparent canvas, so the first frame needs no blending).

// webpAnimated reports whether data is a WebP whose VP8X chunk has the
// animation flag.
func webpAnimated(data []byte) bool {
	return len(data) >= 30 && string(data[0:4]) == "RIFF" && string(data[8:12]) == "WEBP" &&
		string(data[12:16]) == "VP8X" && data[20]&0x02 != 0
}

// riffChunks calls fn for each chunk of a RIFF payload until fn returns
// false; it reports a chunk that runs past the end.
func riffChunks(b []byte, fn func(fourcc string, body []byte) bool) error {
	for len(b) > 0 {
		if len(b) < 8 {
			return fmt.Errorf("%w: truncated RIFF chunk header", ErrCorrupt)
		}
		n := uint64(binary.LittleEndian.Uint32(b[4:]))
		if uint64(len(b)-8) < n {
			return fmt.Errorf("%w: %q chunk of %d bytes runs past the end", ErrCorrupt, b[:4], n)
		}
		if !fn(string(b[:4]), b[8:8+n]) {
			return nil
		}
		b = b[8+n:]
		if n%2 == 1 && len(b) > 0 {
			b = b[1:]
		}
	}
	return nil
}

// riffChunk encodes one chunk, padded to an even length.
func riffChunk(fourcc string, body []byte) []byte {
	out := make([]byte, 8, 8+len(body)+1)
	copy(out, fourcc)
	binary.LittleEndian.PutUint32(out[4:], uint32(len(body)))
	out = append(out, body...)
	if len(body)%2 == 1 {
		out = append(out, 0)
	}
	return out
}

func u24(b []byte) int { return int(b[0]) | int(b[1])<<8 | int(b[2])<<16 }

// decodeAnimatedWebP decodes the first frame of an animated WebP onto its
// canvas.
func decodeAnimatedWebP(data []byte) (*image.NRGBA, bool, error) {
	end := min(len(data), 8+int(binary.LittleEndian.Uint32(data[4:])))
	var (
		canvas image.Point
		anmf   []byte
	)
	err := riffChunks(data[12:end], func(fourcc string, body []byte) bool {
		switch fourcc {
		case "VP8X":
			if len(body) >= 10 {
				canvas = image.Pt(u24(body[4:])+1, u24(body[7:])+1)
			}
		case "ANMF":
			anmf = body
			return false
		}
		return true
	})
	if err != nil {
		return nil, false, err
	}
	if canvas == (image.Point{}) {
		return nil, false, fmt.Errorf("%w: animated WebP without a canvas size", ErrCorrupt)
	}
	if anmf == nil {
		return nil, false, fmt.Errorf("%w: animated WebP without frames", ErrCorrupt)
	}
	if len(anmf) < 16 {
		return nil, false, fmt.Errorf("%w: ANMF chunk of %d bytes", ErrCorrupt, len(anmf))
	}
	x, y := 2*u24(anmf[0:]), 2*u24(anmf[3:])
	fw, fh := u24(anmf[6:])+1, u24(anmf[9:])+1
	rect := image.Rect(x, y, x+fw, y+fh)
	if !rect.In(image.Rectangle{Max: canvas}) {
		return nil, false, fmt.Errorf("%w: first frame %v lies outside the %d×%d canvas", ErrCorrupt, rect, canvas.X, canvas.Y)
	}
	var alph, vp8, vp8l []byte
	if err := riffChunks(anmf[16:], func(fourcc string, body []byte) bool {
		switch fourcc {
		case "ALPH":
			alph = body
		case "VP8 ":
			vp8 = body
		case "VP8L":
			vp8l = body
		}
		return vp8 == nil && vp8l == nil
	}); err != nil {
		return nil, false, err
	}
	still := []byte("WEBP")
	switch {
	case vp8l != nil:
		still = append(still, riffChunk("VP8L", vp8l)...)
	case vp8 != nil && alph != nil:
		vp8x := []byte{0x10, 0, 0, 0, byte(fw - 1), byte((fw - 1) >> 8), byte((fw - 1) >> 16), byte(fh - 1), byte((fh - 1) >> 8), byte((fh - 1) >> 16)}
		still = append(still, riffChunk("VP8X", vp8x)...)
		still = append(still, riffChunk("ALPH", alph)...)
		still = append(still, riffChunk("VP8 ", vp8)...)
	case vp8 != nil:
		still = append(still, riffChunk("VP8 ", vp8)...)
	default:
		return nil, false, fmt.Errorf("%w: first frame has no image data", ErrCorrupt)
	}
	var m image.Image
	if err := recovered(func() error {
		var err error
		m, err = webp.Decode(bytes.NewReader(riffChunk("RIFF", still)))
		return err
	}); err != nil {
		return nil, false, fmt.Errorf("first frame: %w", classify(err))
	}
	if b := m.Bounds(); b.Dx() != fw || b.Dy() != fh {
		return nil, false, fmt.Errorf("%w: first frame decodes to %d×%d, ANMF says %d×%d", ErrCorrupt, b.Dx(), b.Dy(), fw, fh)
	}
	frame, opaque := toNRGBA(m, "webp")
	if rect == (image.Rectangle{Max: canvas}) {
		return frame, opaque, nil
	}
	out := image.NewNRGBA(image.Rectangle{Max: canvas})
	for row := 0; row < fh; row++ {
		copy(out.Pix[out.PixOffset(x, y+row):], frame.Pix[row*frame.Stride:row*frame.Stride+4*fw])
	}
	return out, false, nil
}
