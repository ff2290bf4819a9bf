package exif

import (
	"bytes"
	"encoding/binary"
)

// Find returns the TIFF-structured EXIF block of an encoded image in
// format ("jpeg", "png", "webp" or "tiff"; see imageproc.Info.Format), or
// nil when it has none or format carries none this package can find. The
// block is a sub-slice of data: nothing is copied. For "tiff" the file
// itself is the block.
func Find(data []byte, format string) []byte {
	switch format {
	case "jpeg":
		return FromJPEG(data)
	case "png":
		return FromPNG(data)
	case "webp":
		return FromWebP(data)
	case "tiff":
		if len(data) >= 8 && (string(data[:4]) == "II*\x00" || string(data[:4]) == "MM\x00*") {
			return data
		}
	}
	return nil
}

// Read finds the EXIF block of data (see Find) and parses it. A TIFF file
// may be larger than MaxBlock: its IFDs are read in place all the same.
func Read(data []byte, format string) (Tags, bool) {
	b := Find(data, format)
	if b == nil {
		return Tags{}, false
	}
	var t Tags
	var err error
	if format == "tiff" {
		t, err = parse(b)
	} else {
		t, err = Parse(b)
	}
	return t, err == nil
}

// exifHeader starts the payload of a JPEG APP1 EXIF segment (and, in some
// writers' files, PNG eXIf and WebP EXIF chunks).
const exifHeader = "Exif\x00\x00"

// FromJPEG returns the TIFF block of the first APP1 EXIF segment of a JPEG,
// walking the marker segments up to the first scan, or nil.
func FromJPEG(data []byte) []byte {
	if len(data) < 4 || data[0] != 0xFF || data[1] != 0xD8 {
		return nil
	}
	i := 2
	for i+4 <= len(data) {
		if data[i] != 0xFF {
			return nil
		}
		marker := data[i+1]
		if marker == 0xFF { // fill byte
			i++
			continue
		}
		i += 2
		switch {
		case marker == 0x01 || marker >= 0xD0 && marker <= 0xD8: // no length
			continue
		case marker == 0xD9 || marker == 0xDA: // EOI, start of scan
			return nil
		}
		segLen := int(data[i])<<8 | int(data[i+1])
		if segLen < 2 || i+segLen > len(data) {
			return nil
		}
		seg := data[i+2 : i+segLen]
		if marker == 0xE1 && len(seg) >= 6+8 && string(seg[:6]) == exifHeader {
			return seg[6:]
		}
		i += segLen
	}
	return nil
}

// FromPNG returns the payload of a PNG's eXIf chunk, or nil. It walks the
// chunk headers only (no CRC or decompression).
func FromPNG(data []byte) []byte {
	const sig = "\x89PNG\r\n\x1a\n"
	if len(data) < len(sig) || string(data[:len(sig)]) != sig {
		return nil
	}
	for i := len(sig); i+8 <= len(data); {
		n := uint64(binary.BigEndian.Uint32(data[i:]))
		typ := string(data[i+4 : i+8])
		end := uint64(i) + 8 + n
		if end > uint64(len(data)) {
			return nil
		}
		switch typ {
		case "eXIf":
			return trimExifHeader(data[i+8 : end])
		case "IEND":
			return nil
		}
		i = int(end) + 4 // the CRC
	}
	return nil
}

// FromWebP returns the payload of a WebP file's EXIF chunk, or nil.
func FromWebP(data []byte) []byte {
	if len(data) < 12 || string(data[:4]) != "RIFF" || string(data[8:12]) != "WEBP" {
		return nil
	}
	for i := 12; i+8 <= len(data); {
		n := uint64(binary.LittleEndian.Uint32(data[i+4:]))
		end := uint64(i) + 8 + n
		if end > uint64(len(data)) {
			return nil
		}
		if string(data[i:i+4]) == "EXIF" {
			return trimExifHeader(data[i+8 : end])
		}
		i = int(end + end&1) // chunks are padded to even sizes
	}
	return nil
}

// FromHEIF returns the TIFF block of a HEIF 'Exif' item's payload: a
// 4-byte big-endian offset to the TIFF header, then (after that many
// bytes, often "Exif\0\0") the block. Some writers get the offset wrong,
// so the TIFF header is also looked for near the start.
func FromHEIF(payload []byte) []byte {
	if len(payload) < 4 {
		return nil
	}
	off := uint64(binary.BigEndian.Uint32(payload)) + 4
	if off+8 <= uint64(len(payload)) && isTIFF(payload[off:]) {
		return payload[off:]
	}
	head := payload[4:min(len(payload), 64)]
	for _, magic := range []string{"II*\x00", "MM\x00*"} {
		if i := bytes.Index(head, []byte(magic)); i >= 0 {
			return payload[4+i:]
		}
	}
	return nil
}

func isTIFF(b []byte) bool {
	return len(b) >= 8 && (string(b[:4]) == "II*\x00" || string(b[:4]) == "MM\x00*")
}

// trimExifHeader drops an "Exif\0\0" prefix some writers put before the
// TIFF header.
func trimExifHeader(b []byte) []byte {
	return bytes.TrimPrefix(b, []byte(exifHeader))
}
