package imagetest

import (
	"bytes"
	"encoding/binary"
)

// WithEXIF inserts an APP1 Exif segment after a JPEG's SOI marker, with
// IFD0 holding Make (camera), Model (ASCII) and Orientation (1..8), little-endian,
// as a phone writes them.
func WithEXIF(jpg []byte, camera, model string, orientation uint16) []byte {
	type entry struct {
		tag, typ uint16
		data     []byte
	}
	entries := []entry{
		{0x010F, 2, append([]byte(camera), 0)},
		{0x0110, 2, append([]byte(model), 0)},
		{0x0112, 3, binary.LittleEndian.AppendUint16(nil, orientation)},
	}
	var tiff bytes.Buffer
	le := binary.LittleEndian
	tiff.WriteString("II")
	tiff.Write(le.AppendUint16(nil, 42))
	tiff.Write(le.AppendUint32(nil, 8))
	tiff.Write(le.AppendUint16(nil, uint16(len(entries))))
	extra := 8 + 2 + 12*len(entries) + 4 // where out-of-line values start
	var values bytes.Buffer
	for _, e := range entries {
		tiff.Write(le.AppendUint16(nil, e.tag))
		tiff.Write(le.AppendUint16(nil, e.typ))
		count := len(e.data)
		if e.typ == 3 {
			count = len(e.data) / 2
		}
		tiff.Write(le.AppendUint32(nil, uint32(count)))
		if len(e.data) <= 4 {
			v := make([]byte, 4)
			copy(v, e.data)
			tiff.Write(v)
		} else {
			tiff.Write(le.AppendUint32(nil, uint32(extra+values.Len())))
			values.Write(e.data)
		}
	}
	tiff.Write(le.AppendUint32(nil, 0)) // no next IFD
	tiff.Write(values.Bytes())
	payload := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	seg := []byte{0xFF, 0xE1, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)}
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	out = append(out, payload...)
	return append(out, jpg[2:]...)
}
