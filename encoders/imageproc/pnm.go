package imageproc

import (
	"bufio"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
)

// The PNM family (Netpbm): P1 plain PBM, P2 plain PGM, P3 plain PPM,
// P4 raw PBM, P5 raw PGM, P6 raw PPM. Samples up to maxval 255 decode to
// 8-bit images, larger maxvals (up to 65535, two bytes big-endian in the raw
// forms) to 16-bit images; samples are rescaled to the full range when maxval
// is not 255 or 65535. PBM's 1 is black.

// pnmMaxSide bounds each dimension; pnmMaxPixels bounds their product, so a
// direct image.Decode of a hostile header cannot ask for absurd memory.
const (
	pnmMaxSide   = 1 << 24
	pnmMaxPixels = 1 << 31
)

func init() {
	// The magic is the two-character code plus the byte after it, which the
	// format requires to be whitespace (or a comment), so that an ordinary
	// text starting with "P1" is not taken for an image.
	formats := []struct {
		name string
		code byte
	}{{"pbm", '1'}, {"pgm", '2'}, {"ppm", '3'}, {"pbm", '4'}, {"pgm", '5'}, {"ppm", '6'}}
	for _, f := range formats {
		for _, sep := range []byte(" \t\n\r\v\f#") {
			magic := string([]byte{'P', f.code, sep})
			image.RegisterFormat(f.name, magic, decodePNM, decodePNMConfig)
		}
	}
}

// pnmHeader is what precedes the raster.
type pnmHeader struct {
	code   byte // '1'..'6'
	width  int
	height int
	maxval int
}

func (h pnmHeader) plain() bool { return h.code <= '3' }

func (h pnmHeader) channels() int {
	if h.code == '3' || h.code == '6' {
		return 3
	}
	return 1
}

func (h pnmHeader) colorModel() color.Model {
	switch {
	case h.code == '1' || h.code == '4':
		return color.GrayModel
	case h.channels() == 1 && h.maxval <= 255:
		return color.GrayModel
	case h.channels() == 1:
		return color.Gray16Model
	case h.maxval <= 255:
		return color.NRGBAModel
	default:
		return color.NRGBA64Model
	}
}

// errPNMSyntax is wrapped by header and sample syntax errors.
var errPNMSyntax = errors.New("pnm: syntax error")

func isPNMSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\v' || b == '\f'
}

// eof turns a clean EOF in the middle of an image into io.ErrUnexpectedEOF.
func eof(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// skipComment consumes a comment up to and including its end of line; the
// leading '#' has already been read.
func skipComment(br *bufio.Reader) error {
	for {
		b, err := br.ReadByte()
		if err != nil {
			return eof(err)
		}
		if b == '\n' || b == '\r' {
			return nil
		}
	}
}

// skipSpace consumes whitespace and comments before a token.
func skipSpace(br *bufio.Reader) error {
	for {
		b, err := br.ReadByte()
		if err != nil {
			return eof(err)
		}
		switch {
		case isPNMSpace(b):
		case b == '#':
			if err := skipComment(br); err != nil {
				return err
			}
		default:
			return br.UnreadByte()
		}
	}
}

// readUint reads a decimal token of at most 9 digits and the one whitespace
// byte (or comment) that ends it. A clean end of input right after the digits
// is accepted only when eofOK.
func readUint(br *bufio.Reader, what string, eofOK bool) (int, error) {
	if err := skipSpace(br); err != nil {
		return 0, fmt.Errorf("pnm: reading %s: %w", what, err)
	}
	n, digits := 0, 0
	for {
		b, err := br.ReadByte()
		if err == io.EOF && digits > 0 && eofOK {
			return n, nil
		}
		if err != nil {
			return 0, fmt.Errorf("pnm: reading %s: %w", what, eof(err))
		}
		switch {
		case b >= '0' && b <= '9':
			if digits == 9 {
				return 0, fmt.Errorf("%w: %s has too many digits", errPNMSyntax, what)
			}
			n = n*10 + int(b-'0')
			digits++
			continue
		case digits == 0:
			return 0, fmt.Errorf("%w: %s: unexpected byte %q", errPNMSyntax, what, b)
		case isPNMSpace(b):
			return n, nil
		case b == '#':
			if err := skipComment(br); err != nil {
				return 0, fmt.Errorf("pnm: reading %s: %w", what, err)
			}
			return n, nil
		default:
			return 0, fmt.Errorf("%w: %s: unexpected byte %q after %d", errPNMSyntax, what, b, n)
		}
	}
}

func readPNMHeader(br *bufio.Reader) (pnmHeader, error) {
	var magic [2]byte
	if _, err := io.ReadFull(br, magic[:]); err != nil {
		return pnmHeader{}, fmt.Errorf("pnm: reading magic: %w", eof(err))
	}
	if magic[0] != 'P' || magic[1] < '1' || magic[1] > '6' {
		return pnmHeader{}, fmt.Errorf("%w: bad magic %q", errPNMSyntax, magic[:])
	}
	h := pnmHeader{code: magic[1], maxval: 1}
	var err error
	if h.width, err = readUint(br, "width", false); err != nil {
		return h, err
	}
	if h.height, err = readUint(br, "height", false); err != nil {
		return h, err
	}
	if h.code != '1' && h.code != '4' {
		if h.maxval, err = readUint(br, "maxval", false); err != nil {
			return h, err
		}
		if h.maxval < 1 || h.maxval > 65535 {
			return h, fmt.Errorf("%w: maxval %d outside 1..65535", errPNMSyntax, h.maxval)
		}
	}
	if h.width < 1 || h.height < 1 || h.width > pnmMaxSide || h.height > pnmMaxSide {
		return h, fmt.Errorf("%w: bad dimensions %d×%d", errPNMSyntax, h.width, h.height)
	}
	return h, nil
}

func asBufio(r io.Reader) *bufio.Reader {
	if br, ok := r.(*bufio.Reader); ok {
		return br
	}
	return bufio.NewReader(r)
}

func decodePNMConfig(r io.Reader) (image.Config, error) {
	h, err := readPNMHeader(asBufio(r))
	if err != nil {
		return image.Config{}, err
	}
	return image.Config{ColorModel: h.colorModel(), Width: h.width, Height: h.height}, nil
}

// sampleReader yields raster samples already checked against maxval.
type sampleReader struct {
	br  *bufio.Reader
	h   pnmHeader
	row []byte // raw forms: one row of bytes
}

// readRow fills dst (width*channels samples) with the next row's samples.
func (s *sampleReader) readRow(dst []int) error {
	h := s.h
	switch {
	case h.code == '1':
		for i := range dst {
			if err := skipSpace(s.br); err != nil {
				return fmt.Errorf("pnm: reading pixel: %w", err)
			}
			b, err := s.br.ReadByte()
			if err != nil {
				return fmt.Errorf("pnm: reading pixel: %w", eof(err))
			}
			if b != '0' && b != '1' {
				return fmt.Errorf("%w: PBM pixel %q is not 0 or 1", errPNMSyntax, b)
			}
			dst[i] = int(b - '0')
		}
	case h.plain():
		for i := range dst {
			v, err := readUint(s.br, "sample", true)
			if err != nil {
				return err
			}
			if v > h.maxval {
				return fmt.Errorf("%w: sample %d exceeds maxval %d", errPNMSyntax, v, h.maxval)
			}
			dst[i] = v
		}
	case h.code == '4':
		if _, err := io.ReadFull(s.br, s.row); err != nil {
			return fmt.Errorf("pnm: reading row: %w", eof(err))
		}
		for i := range dst {
			dst[i] = int(s.row[i>>3]>>(7-uint(i&7))) & 1
		}
	default:
		if _, err := io.ReadFull(s.br, s.row); err != nil {
			return fmt.Errorf("pnm: reading row: %w", eof(err))
		}
		wide := h.maxval > 255
		for i := range dst {
			v := int(s.row[i])
			if wide {
				v = int(s.row[2*i])<<8 | int(s.row[2*i+1])
			}
			if v > h.maxval {
				return fmt.Errorf("%w: sample %d exceeds maxval %d", errPNMSyntax, v, h.maxval)
			}
			dst[i] = v
		}
	}
	return nil
}

func decodePNM(r io.Reader) (image.Image, error) {
	br := asBufio(r)
	h, err := readPNMHeader(br)
	if err != nil {
		return nil, err
	}
	if int64(h.width)*int64(h.height) > pnmMaxPixels {
		return nil, fmt.Errorf("pnm: %d×%d is more pixels than the decoder accepts", h.width, h.height)
	}
	n := h.width * h.channels()
	s := &sampleReader{br: br, h: h}
	switch {
	case h.code == '4':
		s.row = make([]byte, (h.width+7)/8)
	case h.code >= '5' && h.maxval > 255:
		s.row = make([]byte, 2*n)
	case h.code >= '5':
		s.row = make([]byte, n)
	}
	samples := make([]int, n)
	rect := image.Rect(0, 0, h.width, h.height)
	// scale8 and scale16 map 0..maxval onto the full 8- or 16-bit range, rounding.
	scale8 := func(v int) uint8 { return uint8((v*255 + h.maxval/2) / h.maxval) }
	scale16 := func(v int) uint16 { return uint16((uint64(v)*65535 + uint64(h.maxval/2)) / uint64(h.maxval)) }
	switch m := h.colorModel(); {
	case h.code == '1' || h.code == '4':
		img := image.NewGray(rect)
		for y := 0; y < h.height; y++ {
			if err := s.readRow(samples); err != nil {
				return nil, err
			}
			row := img.Pix[y*img.Stride:]
			for x, v := range samples {
				row[x] = uint8(255 * (1 - v))
			}
		}
		return img, nil
	case m == color.GrayModel:
		img := image.NewGray(rect)
		for y := 0; y < h.height; y++ {
			if err := s.readRow(samples); err != nil {
				return nil, err
			}
			row := img.Pix[y*img.Stride:]
			for x, v := range samples {
				row[x] = scale8(v)
			}
		}
		return img, nil
	case m == color.Gray16Model:
		img := image.NewGray16(rect)
		for y := 0; y < h.height; y++ {
			if err := s.readRow(samples); err != nil {
				return nil, err
			}
			row := img.Pix[y*img.Stride:]
			for x, v := range samples {
				w := scale16(v)
				row[2*x], row[2*x+1] = uint8(w>>8), uint8(w)
			}
		}
		return img, nil
	case m == color.NRGBAModel:
		img := image.NewNRGBA(rect)
		for y := 0; y < h.height; y++ {
			if err := s.readRow(samples); err != nil {
				return nil, err
			}
			row := img.Pix[y*img.Stride:]
			for x := 0; x < h.width; x++ {
				row[4*x] = scale8(samples[3*x])
				row[4*x+1] = scale8(samples[3*x+1])
				row[4*x+2] = scale8(samples[3*x+2])
				row[4*x+3] = 255
			}
		}
		return img, nil
	default:
		img := image.NewNRGBA64(rect)
		for y := 0; y < h.height; y++ {
			if err := s.readRow(samples); err != nil {
				return nil, err
			}
			row := img.Pix[y*img.Stride:]
			for x := 0; x < h.width; x++ {
				for c := 0; c < 3; c++ {
					w := scale16(samples[3*x+c])
					row[8*x+2*c], row[8*x+2*c+1] = uint8(w>>8), uint8(w)
				}
				row[8*x+6], row[8*x+7] = 255, 255
			}
		}
		return img, nil
	}
}
