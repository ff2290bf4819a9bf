package imagetest

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"math"
)

// EXIF lists the tags EXIFBlock writes; empty fields are left out.
type EXIF struct {
	Make, Model string
	Orientation uint16
	// DateTimeOriginal ("2006:01:02 15:04:05"), OffsetTimeOriginal
	// ("+02:00") and SubSecTimeOriginal go into the Exif IFD.
	DateTimeOriginal, OffsetTimeOriginal, SubSecTimeOriginal string
	// GPS, when set, is written to the GPS IFD as degrees, minutes and
	// seconds with N/S and E/W references.
	GPS *[2]float64
	// BigEndian writes an "MM" block (default "II", as phones do).
	BigEndian bool
}

// ifdEntry is one TIFF IFD entry before layout.
type ifdEntry struct {
	tag, typ uint16
	count    uint32
	data     []byte // encoded value (in the block's byte order)
	sub      int    // 1: points to the Exif IFD, 2: to the GPS IFD
}

// EXIFBlock writes a TIFF-structured EXIF block with IFD0 (Make, Model,
// Orientation and the pointers), an Exif IFD and a GPS IFD as needed.
func EXIFBlock(e EXIF) []byte {
	var bo binary.AppendByteOrder = binary.LittleEndian
	if e.BigEndian {
		bo = binary.BigEndian
	}
	ascii := func(tag uint16, s string) ifdEntry {
		d := append([]byte(s), 0)
		return ifdEntry{tag: tag, typ: 2, count: uint32(len(d)), data: d}
	}
	rationals := func(tag uint16, v float64) ifdEntry {
		v = math.Abs(v)
		deg := math.Floor(v)
		mins := math.Floor((v - deg) * 60)
		secs := (v - deg - mins/60) * 3600
		var d []byte
		for _, r := range [][2]uint32{{uint32(deg), 1}, {uint32(mins), 1}, {uint32(math.Round(secs * 10000)), 10000}} {
			d = bo.AppendUint32(d, r[0])
			d = bo.AppendUint32(d, r[1])
		}
		return ifdEntry{tag: tag, typ: 5, count: 3, data: d}
	}
	var ifd0, exifIFD, gpsIFD []ifdEntry
	if e.Make != "" {
		ifd0 = append(ifd0, ascii(0x010F, e.Make))
	}
	if e.Model != "" {
		ifd0 = append(ifd0, ascii(0x0110, e.Model))
	}
	if e.Orientation != 0 {
		ifd0 = append(ifd0, ifdEntry{tag: 0x0112, typ: 3, count: 1, data: bo.AppendUint16(nil, e.Orientation)})
	}
	if e.DateTimeOriginal != "" {
		exifIFD = append(exifIFD, ascii(0x9003, e.DateTimeOriginal))
	}
	if e.OffsetTimeOriginal != "" {
		exifIFD = append(exifIFD, ascii(0x9011, e.OffsetTimeOriginal))
	}
	if e.SubSecTimeOriginal != "" {
		exifIFD = append(exifIFD, ascii(0x9291, e.SubSecTimeOriginal))
	}
	if e.GPS != nil {
		latRef, lonRef := "N", "E"
		if e.GPS[0] < 0 {
			latRef = "S"
		}
		if e.GPS[1] < 0 {
			lonRef = "W"
		}
		gpsIFD = []ifdEntry{ascii(1, latRef), rationals(2, e.GPS[0]), ascii(3, lonRef), rationals(4, e.GPS[1])}
	}
	if len(exifIFD) > 0 {
		ifd0 = append(ifd0, ifdEntry{tag: 0x8769, typ: 4, count: 1, sub: 1})
	}
	if len(gpsIFD) > 0 {
		ifd0 = append(ifd0, ifdEntry{tag: 0x8825, typ: 4, count: 1, sub: 2})
	}
	size := func(ents []ifdEntry) int {
		if len(ents) == 0 {
			return 0
		}
		return 2 + 12*len(ents) + 4
	}
	off0 := 8
	offExif := off0 + size(ifd0)
	offGPS := offExif + size(exifIFD)
	values := offGPS + size(gpsIFD) // out-of-line values follow the IFDs
	var out, extra bytes.Buffer
	if e.BigEndian {
		out.WriteString("MM")
	} else {
		out.WriteString("II")
	}
	out.Write(bo.AppendUint16(nil, 42))
	out.Write(bo.AppendUint32(nil, uint32(off0)))
	for _, ents := range [][]ifdEntry{ifd0, exifIFD, gpsIFD} {
		if len(ents) == 0 {
			continue
		}
		out.Write(bo.AppendUint16(nil, uint16(len(ents))))
		for _, en := range ents {
			switch en.sub {
			case 1:
				en.data = bo.AppendUint32(nil, uint32(offExif))
			case 2:
				en.data = bo.AppendUint32(nil, uint32(offGPS))
			}
			out.Write(bo.AppendUint16(nil, en.tag))
			out.Write(bo.AppendUint16(nil, en.typ))
			out.Write(bo.AppendUint32(nil, en.count))
			if len(en.data) <= 4 {
				v := make([]byte, 4)
				copy(v, en.data)
				out.Write(v)
			} else {
				out.Write(bo.AppendUint32(nil, uint32(values+extra.Len())))
				extra.Write(en.data)
			}
		}
		out.Write(bo.AppendUint32(nil, 0)) // no next IFD
	}
	out.Write(extra.Bytes())
	return out.Bytes()
}

// WithEXIFBlock inserts an APP1 Exif segment holding block (a TIFF
// structure, as EXIFBlock makes) after a JPEG's SOI marker.
func WithEXIFBlock(jpg, block []byte) []byte {
	payload := append([]byte("Exif\x00\x00"), block...)
	seg := []byte{0xFF, 0xE1, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)}
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	out = append(out, payload...)
	return append(out, jpg[2:]...)
}

// WithEXIF inserts an APP1 Exif segment after a JPEG's SOI marker, with
// IFD0 holding Make (camera), Model (ASCII) and Orientation (1..8), little-endian,
// as a phone writes them.
func WithEXIF(jpg []byte, camera, model string, orientation uint16) []byte {
	return WithEXIFBlock(jpg, EXIFBlock(EXIF{Make: camera, Model: model, Orientation: orientation}))
}

// PNGWithEXIF inserts an eXIf chunk holding block right after a PNG's IHDR
// chunk.
func PNGWithEXIF(png, block []byte) []byte {
	const ihdrEnd = 8 + 8 + 13 + 4 // signature, IHDR header, data, CRC
	chunk := binary.BigEndian.AppendUint32(nil, uint32(len(block)))
	chunk = append(chunk, "eXIf"...)
	chunk = append(chunk, block...)
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(chunk[4:]))
	out := append([]byte{}, png[:ihdrEnd]...)
	out = append(out, chunk...)
	return append(out, png[ihdrEnd:]...)
}
