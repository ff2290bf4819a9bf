package imageproc

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"io"
)

// This file decodes PNGs row by row straight into 8-bit NRGBA, optionally
// box-reduced by 2, 4 or 8 while decoding. image/png would first build the
// whole image at its own depth: a 100-megapixel 16-bit RGBA PNG of under a
// megabyte takes 800 MB there, then 400 MB more as NRGBA. Here the same
// file takes one or two rows plus the output: 400 MB at full size, 6 MB at
// 1/8. Pixels equal image/png's followed by toNRGBA (16-bit samples keep
// their high byte, low bit depths are scaled, tRNS colour keys and palette
// alpha become alpha, palette indices past PLTE are opaque black).

// pngInfo is what the header chunks say.
type pngInfo struct {
	w, h       int
	depth      int
	colorType  int
	interlaced bool
	palette    [256][4]uint8
	hasPLTE    bool
	trns       []byte
}

// channels is the number of samples a pixel has.
func (p *pngInfo) channels() int {
	switch p.colorType {
	case 2:
		return 3
	case 4:
		return 2
	case 6:
		return 4
	}
	return 1
}

// validDepth reports whether IHDR's bit depth is allowed for its colour type.
func (p *pngInfo) validDepth() bool {
	switch p.colorType {
	case 0:
		return p.depth == 1 || p.depth == 2 || p.depth == 4 || p.depth == 8 || p.depth == 16
	case 3:
		return p.depth == 1 || p.depth == 2 || p.depth == 4 || p.depth == 8
	case 2, 4, 6:
		return p.depth == 8 || p.depth == 16
	}
	return false
}

// pngChunks splits data into the header and the IDAT payloads, checking
// every chunk's CRC up to IEND.
func pngChunks(data []byte) (*pngInfo, [][]byte, error) {
	if !bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) {
		return nil, nil, fmt.Errorf("%w: not a PNG signature", ErrCorrupt)
	}
	rest := data[8:]
	var (
		info pngInfo
		idat [][]byte
		seen bool // IHDR
	)
	for i := 0; ; i++ {
		if len(rest) < 12 {
			return nil, nil, fmt.Errorf("%w: truncated (no IEND chunk): %w", ErrCorrupt, io.ErrUnexpectedEOF)
		}
		n := binary.BigEndian.Uint32(rest)
		if n > 0x7fffffff {
			return nil, nil, fmt.Errorf("%w: bad chunk length %d", ErrCorrupt, n)
		}
		if uint64(len(rest)) < 12+uint64(n) {
			return nil, nil, fmt.Errorf("%w: truncated (no IEND chunk): %w", ErrCorrupt, io.ErrUnexpectedEOF)
		}
		typ := string(rest[4:8])
		body := rest[8 : 8+n]
		if crc32.ChecksumIEEE(rest[4:8+n]) != binary.BigEndian.Uint32(rest[8+n:]) {
			return nil, nil, fmt.Errorf("%w: invalid checksum in %q chunk", ErrCorrupt, typ)
		}
		rest = rest[12+n:]
		if i == 0 && typ != "IHDR" {
			return nil, nil, fmt.Errorf("%w: first chunk is %q, not IHDR", ErrCorrupt, typ)
		}
		switch typ {
		case "IHDR":
			if seen || n != 13 {
				return nil, nil, fmt.Errorf("%w: bad IHDR chunk", ErrCorrupt)
			}
			seen = true
			w, h := binary.BigEndian.Uint32(body), binary.BigEndian.Uint32(body[4:])
			if w == 0 || h == 0 || w > 0x7fffffff || h > 0x7fffffff {
				return nil, nil, fmt.Errorf("%w: header gives size %d×%d", ErrCorrupt, w, h)
			}
			info.w, info.h = int(w), int(h)
			info.depth, info.colorType = int(body[8]), int(body[9])
			if !info.validDepth() {
				return nil, nil, fmt.Errorf("%w: png: bit depth %d, color type %d", ErrUnsupported, info.depth, info.colorType)
			}
			if body[10] != 0 || body[11] != 0 || body[12] > 1 {
				return nil, nil, fmt.Errorf("%w: png: compression, filter or interlace method %d/%d/%d", ErrUnsupported, body[10], body[11], body[12])
			}
			info.interlaced = body[12] == 1
		case "PLTE":
			if n%3 != 0 || n == 0 || n > 3*256 || int(n/3) > 1<<info.depth || len(idat) > 0 {
				return nil, nil, fmt.Errorf("%w: bad PLTE chunk", ErrCorrupt)
			}
			if info.colorType == 0 || info.colorType == 4 {
				return nil, nil, fmt.Errorf("%w: PLTE chunk in a grey image", ErrCorrupt)
			}
			info.hasPLTE = true
			for j := 0; j < int(n)/3; j++ {
				info.palette[j] = [4]uint8{body[3*j], body[3*j+1], body[3*j+2], 255}
			}
		case "tRNS":
			if info.colorType == 4 || info.colorType == 6 {
				return nil, nil, fmt.Errorf("%w: tRNS chunk in an image with alpha", ErrCorrupt)
			}
			info.trns = body
		case "IDAT":
			idat = append(idat, body)
		case "IEND":
			if len(idat) == 0 {
				return nil, nil, fmt.Errorf("%w: no image data (IDAT)", ErrCorrupt)
			}
			return &info, idat, nil
		}
	}
}

// pngReduce decodes the PNG in data to NRGBA at 1/r of its size in each
// direction (rounding up), r being 1, 2, 4 or 8; opaque reports whether
// every pixel has A = 255. cfg is the header as sniffed.
func pngReduce(data []byte, r int) (*image.NRGBA, bool, error) {
	info, idat, err := pngChunks(data)
	if err != nil {
		return nil, false, err
	}
	if info.colorType == 3 && !info.hasPLTE {
		return nil, false, fmt.Errorf("%w: palette image without a PLTE chunk", ErrCorrupt)
	}
	// Palette entries past PLTE are opaque black; tRNS gives alpha.
	for j := range info.palette {
		if info.palette[j][3] == 0 {
			info.palette[j] = [4]uint8{0, 0, 0, 255}
		}
	}
	var key [3]uint16 // tRNS colour key, compared at 8 or 16 bits as image/png does
	useKey := false
	switch info.colorType {
	case 3:
		if len(info.trns) > 256 {
			return nil, false, fmt.Errorf("%w: bad tRNS chunk", ErrCorrupt)
		}
		for j, a := range info.trns {
			info.palette[j][3] = a
		}
	case 0:
		if info.trns != nil {
			if len(info.trns) != 2 {
				return nil, false, fmt.Errorf("%w: bad tRNS chunk", ErrCorrupt)
			}
			useKey = true
			key[0] = binary.BigEndian.Uint16(info.trns)
			if info.depth < 16 {
				key[0] = uint16(info.trns[1]) * uint16(255/(1<<info.depth-1))
			}
		}
	case 2:
		if info.trns != nil {
			if len(info.trns) != 6 {
				return nil, false, fmt.Errorf("%w: bad tRNS chunk", ErrCorrupt)
			}
			useKey = true
			for c := range key {
				key[c] = binary.BigEndian.Uint16(info.trns[2*c:])
				if info.depth < 16 {
					key[c] = uint16(info.trns[2*c+1])
				}
			}
		}
	}
	zr, err := zlib.NewReader(&chunkReader{parts: idat})
	if err != nil {
		return nil, false, fmt.Errorf("%w: image data: %w", ErrCorrupt, zlibErr(err))
	}
	defer zr.Close()

	w, h := info.w, info.h
	rw, rh := (w+r-1)/r, (h+r-1)/r
	out := image.NewNRGBA(image.Rect(0, 0, rw, rh))
	acc := newBoxAccumulator(out, w, h, r, info.interlaced)
	bitsPP := info.channels() * info.depth
	bpp := max(1, bitsPP/8)
	passes := []adam7Pass{{0, 0, 1, 1}}
	if info.interlaced {
		passes = adam7
	}
	opaque := true
	var rowRGBA []uint8
	for _, ps := range passes {
		pw := (w - ps.x0 + ps.dx - 1) / ps.dx
		ph := (h - ps.y0 + ps.dy - 1) / ps.dy
		if pw <= 0 || ph <= 0 {
			continue
		}
		rowLen := (pw*bitsPP + 7) / 8
		cur := make([]byte, rowLen+1)
		prev := make([]byte, rowLen+1)
		if cap(rowRGBA) < 4*pw {
			rowRGBA = make([]uint8, 4*w)
		}
		px := rowRGBA[:4*pw]
		for y := 0; y < ph; y++ {
			if _, err := io.ReadFull(zr, cur); err != nil {
				return nil, false, fmt.Errorf("%w: image data: %w", ErrCorrupt, zlibErr(err))
			}
			if err := unfilter(cur[0], cur[1:], prev[1:], bpp); err != nil {
				return nil, false, err
			}
			if !info.toNRGBA(cur[1:], px, key, useKey) {
				opaque = false
			}
			acc.addRow(px, ps, ps.y0+y*ps.dy)
			cur, prev = prev, cur
		}
	}
	// image/png insists the stream ends here, checksum included.
	var one [1]byte
	if n, err := io.ReadFull(zr, one[:]); n != 0 || !errors.Is(err, io.EOF) {
		if n != 0 {
			return nil, false, fmt.Errorf("%w: too much pixel data", ErrCorrupt)
		}
		return nil, false, fmt.Errorf("%w: image data: %w", ErrCorrupt, zlibErr(err))
	}
	acc.finish()
	return out, opaque, nil
}

// zlibErr turns a short stream into io.ErrUnexpectedEOF, which classify
// reports as truncation.
func zlibErr(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// chunkReader reads the IDAT payloads as one stream.
type chunkReader struct{ parts [][]byte }

func (c *chunkReader) Read(p []byte) (int, error) {
	for len(c.parts) > 0 && len(c.parts[0]) == 0 {
		c.parts = c.parts[1:]
	}
	if len(c.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.parts[0])
	c.parts[0] = c.parts[0][n:]
	return n, nil
}

// ReadByte lets flate read without its own buffering.
func (c *chunkReader) ReadByte() (byte, error) {
	var b [1]byte
	if _, err := c.Read(b[:]); err != nil {
		return 0, err
	}
	return b[0], nil
}

// unfilter undoes a row's filter in place; prev is the previous
// unfiltered row of the pass (zeros for the first).
func unfilter(ft byte, cur, prev []byte, bpp int) error {
	switch ft {
	case 0:
	case 1:
		for i := bpp; i < len(cur); i++ {
			cur[i] += cur[i-bpp]
		}
	case 2:
		for i, p := range prev {
			cur[i] += p
		}
	case 3:
		for i := 0; i < bpp && i < len(cur); i++ {
			cur[i] += prev[i] / 2
		}
		for i := bpp; i < len(cur); i++ {
			cur[i] += uint8((int(cur[i-bpp]) + int(prev[i])) / 2)
		}
	case 4:
		for i := 0; i < bpp && i < len(cur); i++ {
			cur[i] += prev[i] // paeth(0, b, 0) = b
		}
		for i := bpp; i < len(cur); i++ {
			a, b, c := int(cur[i-bpp]), int(prev[i]), int(prev[i-bpp])
			p := a + b - c
			pa, pb, pc := p-a, p-b, p-c
			if pa < 0 {
				pa = -pa
			}
			if pb < 0 {
				pb = -pb
			}
			if pc < 0 {
				pc = -pc
			}
			switch {
			case pa <= pb && pa <= pc:
				cur[i] += uint8(a)
			case pb <= pc:
				cur[i] += uint8(b)
			default:
				cur[i] += uint8(c)
			}
		}
	default:
		return fmt.Errorf("%w: bad filter type %d", ErrCorrupt, ft)
	}
	return nil
}

// toNRGBA converts one unfiltered row of samples into 8-bit NRGBA pixels
// (len(px)/4 of them) and reports whether all are opaque.
func (p *pngInfo) toNRGBA(row, px []uint8, key [3]uint16, useKey bool) bool {
	n := len(px) / 4
	opaque := true
	switch {
	case p.colorType == 3 || (p.colorType == 0 && p.depth < 8):
		per := 8 / p.depth
		mask := uint8(1<<p.depth - 1)
		scale := uint8(255 / mask)
		for x := 0; x < n; x++ {
			shift := uint(8 - p.depth*(x%per+1))
			v := (row[x/per] >> shift) & mask
			d := px[4*x : 4*x+4 : 4*x+4]
			if p.colorType == 3 {
				c := p.palette[v]
				d[0], d[1], d[2], d[3] = c[0], c[1], c[2], c[3]
			} else {
				g := v * scale
				a := uint8(255)
				if useKey && uint16(g) == key[0] {
					a = 0
				}
				d[0], d[1], d[2], d[3] = g, g, g, a
			}
			opaque = opaque && d[3] == 255
		}
	case p.depth == 8:
		switch p.colorType {
		case 0:
			for x := 0; x < n; x++ {
				g := row[x]
				a := uint8(255)
				if useKey && uint16(g) == key[0] {
					a, opaque = 0, false
				}
				px[4*x], px[4*x+1], px[4*x+2], px[4*x+3] = g, g, g, a
			}
		case 2:
			for x := 0; x < n; x++ {
				s := row[3*x : 3*x+3 : 3*x+3]
				a := uint8(255)
				if useKey && uint16(s[0]) == key[0] && uint16(s[1]) == key[1] && uint16(s[2]) == key[2] {
					a, opaque = 0, false
				}
				px[4*x], px[4*x+1], px[4*x+2], px[4*x+3] = s[0], s[1], s[2], a
			}
		case 4:
			for x := 0; x < n; x++ {
				g, a := row[2*x], row[2*x+1]
				px[4*x], px[4*x+1], px[4*x+2], px[4*x+3] = g, g, g, a
				opaque = opaque && a == 255
			}
		case 6:
			copy(px, row[:4*n])
			opaque = alphaOpaque(px)
		}
	default: // 16 bits: the high byte of each sample
		u16 := func(i int) uint16 { return uint16(row[i])<<8 | uint16(row[i+1]) }
		switch p.colorType {
		case 0:
			for x := 0; x < n; x++ {
				g := row[2*x]
				a := uint8(255)
				if useKey && u16(2*x) == key[0] {
					a, opaque = 0, false
				}
				px[4*x], px[4*x+1], px[4*x+2], px[4*x+3] = g, g, g, a
			}
		case 2:
			for x := 0; x < n; x++ {
				a := uint8(255)
				if useKey && u16(6*x) == key[0] && u16(6*x+2) == key[1] && u16(6*x+4) == key[2] {
					a, opaque = 0, false
				}
				px[4*x], px[4*x+1], px[4*x+2], px[4*x+3] = row[6*x], row[6*x+2], row[6*x+4], a
			}
		case 4:
			for x := 0; x < n; x++ {
				g, a := row[4*x], row[4*x+2]
				px[4*x], px[4*x+1], px[4*x+2], px[4*x+3] = g, g, g, a
				opaque = opaque && a == 255
			}
		case 6:
			for x := 0; x < n; x++ {
				s := row[8*x : 8*x+8 : 8*x+8]
				px[4*x], px[4*x+1], px[4*x+2], px[4*x+3] = s[0], s[2], s[4], s[6]
				opaque = opaque && s[6] == 255
			}
		}
	}
	return opaque
}

// adam7Pass is one pass of an interlaced image: pixels x0+i·dx, y0+j·dy.
type adam7Pass struct{ x0, y0, dx, dy int }

var adam7 = []adam7Pass{{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}}

// boxAccumulator averages r×r blocks of full-size pixels into out, with
// alpha weighting (premultiplied sums), so transparent pixels lend no
// colour. A non-interlaced image is reduced one band of r rows at a time;
// an interlaced one, whose rows arrive in any order, keeps sums for the
// whole output.
type boxAccumulator struct {
	out      *image.NRGBA
	w, h, r  int
	sums     []uint32 // 4 per output pixel of the band (or of the image)
	band     int      // output row the band holds; -1 before the first
	banded   bool
	finished bool
}

func newBoxAccumulator(out *image.NRGBA, w, h, r int, interlaced bool) *boxAccumulator {
	a := &boxAccumulator{out: out, w: w, h: h, r: r, band: -1, banded: !interlaced}
	if r > 1 {
		rows := out.Rect.Dy()
		if a.banded {
			rows = 1
		}
		a.sums = make([]uint32, 4*out.Rect.Dx()*rows)
	}
	return a
}

// addRow adds the pixels of one row of pass ps at full-size row y.
func (a *boxAccumulator) addRow(px []uint8, ps adam7Pass, y int) {
	n := len(px) / 4
	if a.r == 1 {
		d := a.out.Pix[y*a.out.Stride:]
		if ps.dx == 1 {
			copy(d, px)
			return
		}
		for i := 0; i < n; i++ {
			copy(d[4*(ps.x0+i*ps.dx):4*(ps.x0+i*ps.dx)+4], px[4*i:4*i+4])
		}
		return
	}
	oy := y / a.r
	sums := a.sums
	if a.banded {
		if oy != a.band {
			if a.band >= 0 {
				a.flush(a.band, a.sums)
			}
			clear(a.sums)
			a.band = oy
		}
	} else {
		sums = a.sums[4*a.out.Rect.Dx()*oy:]
	}
	for i := 0; i < n; i++ {
		x := ps.x0 + i*ps.dx
		s := sums[4*(x/a.r) : 4*(x/a.r)+4 : 4*(x/a.r)+4]
		p := px[4*i : 4*i+4 : 4*i+4]
		al := uint32(p[3])
		s[0] += uint32(p[0]) * al
		s[1] += uint32(p[1]) * al
		s[2] += uint32(p[2]) * al
		s[3] += al
	}
}

// flush writes output row oy from its sums.
func (a *boxAccumulator) flush(oy int, sums []uint32) {
	rw := a.out.Rect.Dx()
	bh := min(a.r, a.h-oy*a.r)
	d := a.out.Pix[oy*a.out.Stride:]
	for ox := 0; ox < rw; ox++ {
		bw := min(a.r, a.w-ox*a.r)
		n := uint32(bw * bh)
		s := sums[4*ox : 4*ox+4 : 4*ox+4]
		o := d[4*ox : 4*ox+4 : 4*ox+4]
		if s[3] == 0 {
			o[0], o[1], o[2], o[3] = 0, 0, 0, 0
			continue
		}
		o[0] = uint8((s[0] + s[3]/2) / s[3])
		o[1] = uint8((s[1] + s[3]/2) / s[3])
		o[2] = uint8((s[2] + s[3]/2) / s[3])
		o[3] = uint8((s[3] + n/2) / n)
	}
}

// finish writes the rows still held in sums.
func (a *boxAccumulator) finish() {
	if a.r == 1 || a.finished {
		return
	}
	a.finished = true
	if a.banded {
		if a.band >= 0 {
			a.flush(a.band, a.sums)
		}
		return
	}
	rw := a.out.Rect.Dx()
	for oy := 0; oy < a.out.Rect.Dy(); oy++ {
		a.flush(oy, a.sums[4*rw*oy:])
	}
}
