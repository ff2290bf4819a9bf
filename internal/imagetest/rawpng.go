package imagetest

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"testing"
)

// PNG colour types, as in the IHDR chunk.
const (
	PNGGray      = 0
	PNGRGB       = 2
	PNGPalette   = 3
	PNGGrayAlpha = 4
	PNGRGBA      = 6
)

// RawPNG describes a PNG written sample by sample, for decoder tests and
// decompression bombs that image/png cannot make: any colour type and bit
// depth, chosen filters, tRNS and PLTE chunks, Adam7 interlacing, and rows
// produced one at a time so huge images need no huge buffer.
type RawPNG struct {
	Width, Height int
	Depth         int  // 1, 2, 4, 8 or 16
	ColorType     int  // PNGGray ... PNGRGBA
	Interlaced    bool // Adam7
	// Row fills one unfiltered row of a pass (the whole image when not
	// interlaced): len(row) is the row's byte length. Nil leaves zeros.
	Row func(pass, y int, row []byte)
	// Filter picks the filter type (0..4) of a row; nil uses 0 (none).
	Filter  func(pass, y int) byte
	Palette []byte // PLTE payload (3 bytes an entry)
	TRNS    []byte // tRNS payload
	// Level is the zlib compression level (0 = zlib.BestCompression).
	Level int
}

func (p RawPNG) channels() int {
	switch p.ColorType {
	case PNGRGB:
		return 3
	case PNGGrayAlpha:
		return 2
	case PNGRGBA:
		return 4
	}
	return 1
}

// Encode writes the PNG.
func (p RawPNG) Encode(tb testing.TB) []byte {
	tb.Helper()
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(data)))
		out.Write(n[:])
		crc := crc32.NewIEEE()
		crc.Write([]byte(typ))
		crc.Write(data)
		out.WriteString(typ)
		out.Write(data)
		binary.BigEndian.PutUint32(n[:], crc.Sum32())
		out.Write(n[:])
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(p.Width))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(p.Height))
	ihdr[8], ihdr[9] = byte(p.Depth), byte(p.ColorType)
	if p.Interlaced {
		ihdr[12] = 1
	}
	chunk("IHDR", ihdr)
	if p.Palette != nil {
		chunk("PLTE", p.Palette)
	}
	if p.TRNS != nil {
		chunk("tRNS", p.TRNS)
	}
	level := p.Level
	if level == 0 {
		level = zlib.BestCompression
	}
	var idat bytes.Buffer
	zw, err := zlib.NewWriterLevel(&idat, level)
	if err != nil {
		tb.Fatal(err)
	}
	bitsPP := p.channels() * p.Depth
	bpp := max(1, bitsPP/8)
	type pass struct{ x0, y0, dx, dy int }
	passes := []pass{{0, 0, 1, 1}}
	if p.Interlaced {
		passes = []pass{{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}}
	}
	for pi, ps := range passes {
		w := (p.Width - ps.x0 + ps.dx - 1) / ps.dx
		h := (p.Height - ps.y0 + ps.dy - 1) / ps.dy
		if w <= 0 || h <= 0 {
			continue
		}
		rowLen := (w*bitsPP + 7) / 8
		prev := make([]byte, rowLen)
		cur := make([]byte, rowLen)
		enc := make([]byte, rowLen+1)
		for y := 0; y < h; y++ {
			clear(cur)
			if p.Row != nil {
				p.Row(pi, y, cur)
			}
			ft := byte(0)
			if p.Filter != nil {
				ft = p.Filter(pi, y)
			}
			enc[0] = ft
			for i := range cur {
				var a, b, c byte
				if i >= bpp {
					a = cur[i-bpp]
					c = prev[i-bpp]
				}
				b = prev[i]
				var pred byte
				switch ft {
				case 1:
					pred = a
				case 2:
					pred = b
				case 3:
					pred = byte((int(a) + int(b)) / 2)
				case 4:
					pred = paeth(a, b, c)
				}
				enc[i+1] = cur[i] - pred
			}
			if _, err := zw.Write(enc); err != nil {
				tb.Fatal(err)
			}
			prev, cur = cur, prev
		}
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	chunk("IDAT", idat.Bytes())
	chunk("IEND", nil)
	return out.Bytes()
}

func paeth(a, b, c byte) byte {
	p := int(a) + int(b) - int(c)
	pa, pb, pc := abs(p-int(a)), abs(p-int(b)), abs(p-int(c))
	switch {
	case pa <= pb && pa <= pc:
		return a
	case pb <= pc:
		return b
	}
	return c
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// ZeroPNG16 is the decompression bomb of issue 19: an all-zero w×h 16-bit
// RGBA PNG (10000×10000 gives about 777 KB that decode to 800 MB).
func ZeroPNG16(tb testing.TB, w, h int) []byte {
	tb.Helper()
	return RawPNG{Width: w, Height: h, Depth: 16, ColorType: PNGRGBA}.Encode(tb)
}
