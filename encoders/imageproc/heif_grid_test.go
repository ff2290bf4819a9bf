package imageproc

import (
	"bytes"
	"encoding/binary"
	"image/color"
	"testing"

	"mmsearch/internal/imagetest"
)

// This file builds a HEIC grid image, as phones write them (an iPhone's
// 12 MP photo is a grid of 512×512 HEVC tiles), from single images that
// heif-enc makes, since heif-enc itself writes no grids.

type bmffBox struct {
	typ        string
	start, end int // the whole box, absolute offsets
	body       int // where its payload starts (after size, type and, for full boxes, version/flags)
}

func bmffChildren(t *testing.T, d []byte, start, end int, full map[string]bool) map[string]bmffBox {
	t.Helper()
	out := map[string]bmffBox{}
	for i := start; i+8 <= end; {
		size := int(binary.BigEndian.Uint32(d[i:]))
		if size < 8 || i+size > end {
			t.Fatalf("bad box size %d at %d", size, i)
		}
		b := bmffBox{typ: string(d[i+4 : i+8]), start: i, end: i + size, body: i + 8}
		if full[b.typ] {
			b.body += 4
		}
		out[b.typ] = b
		i += size
	}
	return out
}

var fullBoxes = map[string]bool{"meta": true, "pitm": true, "iloc": true, "iinf": true, "ipma": true, "iref": true, "hdlr": true}

// heifTile extracts the primary image of a heif-enc HEIC: its coded data
// and its property boxes (hvcC, ispe, colr, ...) with their essential flags.
func heifTile(t *testing.T, d []byte) (data []byte, props [][]byte, essential []bool) {
	t.Helper()
	top := bmffChildren(t, d, 0, len(d), fullBoxes)
	meta := top["meta"]
	m := bmffChildren(t, d, meta.body, meta.end, fullBoxes)
	be := binary.BigEndian
	primary := be.Uint16(d[m["pitm"].body:])
	// iloc, versions 0 and 1, construction method 0, one extent per item.
	il := m["iloc"]
	version := d[il.start+8]
	p := il.body
	offSize, lenSize := int(d[p]>>4), int(d[p]&15)
	baseSize, idxSize := int(d[p+1]>>4), int(d[p+1]&15)
	if version == 0 {
		idxSize = 0
	}
	p += 2
	readN := func(n int) int {
		v := 0
		for k := 0; k < n; k++ {
			v = v<<8 | int(d[p+k])
		}
		p += n
		return v
	}
	count := readN(2)
	for range count {
		id := readN(2)
		if version >= 1 {
			if method := readN(2) & 15; method != 0 && id == int(primary) {
				t.Fatalf("primary item stored with construction method %d", method)
			}
		}
		readN(2) // data reference index
		base := readN(baseSize)
		extents := readN(2)
		for range extents {
			readN(idxSize)
			off, n := readN(offSize), readN(lenSize)
			if id == int(primary) {
				if extents != 1 {
					t.Fatalf("primary item in %d extents", extents)
				}
				data = d[base+off : base+off+n]
			}
		}
	}
	// Properties associated with the primary item.
	iprp := m["iprp"]
	pr := bmffChildren(t, d, iprp.body, iprp.end, fullBoxes)
	var all [][]byte
	for i := pr["ipco"].body; i < pr["ipco"].end; {
		size := int(be.Uint32(d[i:]))
		all = append(all, d[i:i+size])
		i += size
	}
	ip := pr["ipma"]
	flags := be.Uint32(d[ip.start+8:]) & 0xFFFFFF
	q := ip.body
	entries := int(be.Uint32(d[q:]))
	q += 4
	for range entries {
		id := be.Uint16(d[q:])
		n := int(d[q+2])
		q += 3
		for range n {
			var idx int
			var ess bool
			if flags&1 != 0 {
				v := be.Uint16(d[q:])
				idx, ess = int(v&0x7FFF), v&0x8000 != 0
				q += 2
			} else {
				idx, ess = int(d[q]&0x7F), d[q]&0x80 != 0
				q++
			}
			if id == primary && idx > 0 {
				props = append(props, all[idx-1])
				essential = append(essential, ess)
			}
		}
	}
	if data == nil || len(props) == 0 {
		t.Fatal("no primary image found in heif-enc's output")
	}
	return data, props, essential
}

func box(typ string, payload ...[]byte) []byte {
	n := 8
	for _, p := range payload {
		n += len(p)
	}
	out := binary.BigEndian.AppendUint32(nil, uint32(n))
	out = append(out, typ...)
	for _, p := range payload {
		out = append(out, p...)
	}
	return out
}

func fullBox(typ string, payload ...[]byte) []byte {
	return box(typ, append([][]byte{{0, 0, 0, 0}}, payload...)...)
}

func u16(v int) []byte { return binary.BigEndian.AppendUint16(nil, uint16(v)) }
func u32(v int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }

// heicGrid assembles tiles (rows×cols, row-major, each tw×th) into a HEIC
// whose primary item is a 'grid' of them, of output size w×h (which may
// crop the right and bottom tiles).
func heicGrid(t *testing.T, tiles [][]byte, rows, cols, w, h int) []byte {
	t.Helper()
	type tile struct {
		data  []byte
		props [][]byte
		ess   []bool
	}
	var ts []tile
	for _, d := range tiles {
		data, props, ess := heifTile(t, d)
		ts = append(ts, tile{data, props, ess})
	}
	gridID := len(ts) + 1
	var ipco, ipma, infe [][]byte
	for i, tl := range ts {
		assoc := []byte{byte(len(tl.props))}
		for j, p := range tl.props {
			ipco = append(ipco, p)
			idx := byte(len(ipco))
			if tl.ess[j] {
				idx |= 0x80
			}
			assoc = append(assoc, idx)
		}
		ipma = append(ipma, append(u16(i+1), assoc...))
		infe = append(infe, box("infe", []byte{2, 0, 0, 1}, u16(i+1), u16(0), []byte("hvc1"), []byte{0}))
	}
	ipco = append(ipco, fullBox("ispe", u32(w), u32(h)))
	ipma = append(ipma, append(u16(gridID), 1, byte(len(ipco))))
	infe = append(infe, box("infe", []byte{2, 0, 0, 0}, u16(gridID), u16(0), []byte("grid"), []byte{0}))
	grid := []byte{0, 0, byte(rows - 1), byte(cols - 1)}
	grid = append(grid, u16(w)...)
	grid = append(grid, u16(h)...)
	dimg := append(u16(gridID), u16(len(ts))...)
	for i := range ts {
		dimg = append(dimg, u16(i+1)...)
	}
	ftyp := box("ftyp", []byte("heic"), u32(0), []byte("mif1heic"))
	build := func(mdatStart int) []byte {
		var iloc [][]byte
		iloc = append(iloc, []byte{0x44, 0x00}, u16(len(ts)+1))
		off := mdatStart
		for i, tl := range ts {
			iloc = append(iloc, u16(i+1), u16(0), u16(1), u32(off), u32(len(tl.data)))
			off += len(tl.data)
		}
		iloc = append(iloc, u16(gridID), u16(0), u16(1), u32(off), u32(len(grid)))
		return fullBox("meta",
			fullBox("hdlr", u32(0), []byte("pict"), make([]byte, 12), []byte{0}),
			fullBox("pitm", u16(gridID)),
			fullBox("iloc", iloc...),
			fullBox("iinf", append([][]byte{u16(len(infe))}, infe...)...),
			fullBox("iref", box("dimg", dimg)),
			box("iprp", box("ipco", ipco...), fullBox("ipma", append([][]byte{u32(len(ipma))}, ipma...)...)),
		)
	}
	meta := build(0)
	meta = build(len(ftyp) + len(meta) + 8)
	var mdat [][]byte
	for _, tl := range ts {
		mdat = append(mdat, tl.data)
	}
	mdat = append(mdat, grid)
	return bytes.Join([][]byte{ftyp, meta, box("mdat", mdat...)}, nil)
}

// TestHEIFGrid decodes a 2×2 grid of 64×64 tiles cropped to 120×100, as
// libheif assembles it: we must give heif-convert's picture, and each tile's
// colour must land in its quadrant.
func TestHEIFGrid(t *testing.T) {
	heifOrNot(t)
	imagetest.RequireHEIFTools(t)
	colours := []color.NRGBA{red, green, blue, white}
	var tiles [][]byte
	for _, c := range colours {
		img := imagetest.Pattern(0, 64, 64)
		for i := 0; i < len(img.Pix); i += 4 {
			img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, 255
		}
		tiles = append(tiles, imagetest.HEIF(t, img, 90, false))
	}
	grid := heicGrid(t, tiles, 2, 2, 120, 100)
	img, info, err := Decode(bytes.NewReader(grid), "grid.heic", int64(len(grid)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if info.Width != 120 || info.Height != 100 || info.Format != "heic" {
		t.Fatalf("info %+v, want a 120×100 heic", info)
	}
	for i, pt := range [][2]int{{20, 20}, {100, 20}, {20, 90}, {100, 90}} {
		if got := img.NRGBAAt(pt[0], pt[1]); !near(got, colours[i], 12) {
			t.Errorf("tile %d at %v: %v, want %v", i, pt, got, colours[i])
		}
	}
	ref, _, err := Decode(bytes.NewReader(imagetest.HEIFToPNG(t, grid)), "heif-convert.png", -1, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ref.Rect != img.Rect || !bytes.Equal(ref.Pix, img.Pix) {
		t.Errorf("heif-convert gives %v, different pixels from our %v", ref.Rect, img.Rect)
	}
	// The pixel limit applies to the grid's output size, before decoding.
	if _, _, err := Decode(bytes.NewReader(grid), "grid.heic", -1, Options{MaxPixels: 120*100 - 1}); err == nil {
		t.Error("grid over the pixel limit decoded")
	}
}
