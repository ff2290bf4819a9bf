// Package exif reads the few EXIF tags a photo library needs — capture
// time and its offset, camera make and model, orientation and GPS position —
// from a TIFF-structured EXIF block, and finds that block in JPEG, PNG,
// WebP and TIFF files (HEIF and AVIF blocks come from libheif, in package
// imageproc).
//
// The reader is bounded by construction: it visits only IFD0 and the Exif
// and GPS sub-IFDs it points to (each at most once, so offset loops cannot
// make it loop), checks every offset and length against the block before
// reading, caps the entries read per IFD and the length of every string,
// and allocates nothing proportional to a count the file claims. Blocks
// over MaxBlock bytes are refused.
package exif

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// MaxBlock is the largest EXIF block Parse reads: JPEG limits its APP1
// segment to 64 KiB; HEIF blocks may carry a thumbnail, so allow more.
const MaxBlock = 4 << 20

// maxEntries caps the entries read from one IFD (real files have < 100).
const maxEntries = 1000

// maxString caps the length of a string value kept.
const maxString = 128

// Errors Parse returns; callers normally treat any error as "no EXIF".
var (
	// ErrNotTIFF: the block does not start with a TIFF header.
	ErrNotTIFF = errors.New("exif: not a TIFF header")
	// ErrTooLarge: the block is over MaxBlock bytes.
	ErrTooLarge = errors.New("exif: block too large")
)

// Tags are the values read from an EXIF block. Absent tags are zero.
type Tags struct {
	// Make and Model name the camera (IFD0 0x010F, 0x0110), trimmed.
	Make, Model string
	// Orientation is IFD0 0x0112, 1..8 (0 when absent or invalid).
	Orientation int
	// DateTimeOriginal is the Exif IFD's 0x9003 as written
	// ("2006:01:02 15:04:05"), or 0x9004 (DateTimeDigitized) when 0x9003 is
	// absent; SubSec and Offset are the matching sub-second (0x9291/0x9292)
	// and offset (0x9011/0x9012, "+02:00") tags.
	DateTimeOriginal, SubSec, Offset string
	// HasGPS is set when a valid latitude and longitude were read from the
	// GPS IFD; Lat and Lon are then in degrees, south and west negative.
	HasGPS   bool
	Lat, Lon float64
}

// CaptureTime parses DateTimeOriginal. With an offset tag the time is in
// that offset (hasOffset true); without one it is read in loc, the zone
// the camera's clock is assumed to have shown. ok is false when the tag is
// absent or unreadable (including the "0000:00:00 00:00:00" some cameras
// write).
func (t Tags) CaptureTime(loc *time.Location) (tm time.Time, hasOffset, ok bool) {
	s := strings.TrimSpace(t.DateTimeOriginal)
	if len(s) < 19 {
		return time.Time{}, false, false
	}
	s = s[:19]
	if sub := strings.TrimSpace(t.SubSec); sub != "" && len(sub) <= 9 && allDigits(sub) {
		s += "." + sub
	}
	if off, ok := parseOffset(t.Offset); ok {
		tm, err := time.ParseInLocation("2006:01:02 15:04:05.999999999", s, time.FixedZone("", off))
		if err == nil && tm.Year() > 1 {
			return tm, true, true
		}
		return time.Time{}, false, false
	}
	if loc == nil {
		loc = time.Local
	}
	tm, err := time.ParseInLocation("2006:01:02 15:04:05.999999999", s, loc)
	if err != nil || tm.Year() <= 1 {
		return time.Time{}, false, false
	}
	return tm, false, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseOffset reads "+hh:mm" or "-hh:mm" into seconds east of UTC.
func parseOffset(s string) (int, bool) {
	s = strings.TrimSpace(s)
	if len(s) != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':' || !allDigits(s[1:3]) || !allDigits(s[4:6]) {
		return 0, false
	}
	h := int(s[1]-'0')*10 + int(s[2]-'0')
	m := int(s[4]-'0')*10 + int(s[5]-'0')
	if h > 14 || m > 59 {
		return 0, false
	}
	off := h*3600 + m*60
	if s[0] == '-' {
		off = -off
	}
	return off, true
}

// TIFF field types used here.
const (
	typeByte      = 1
	typeASCII     = 2
	typeShort     = 3
	typeLong      = 4
	typeRational  = 5
	typeUndefined = 7
)

var typeSize = [...]int{0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8}

// block is a TIFF-structured EXIF block.
type block struct {
	b  []byte
	bo binary.ByteOrder
}

// entry is one IFD entry whose value lies within the block.
type entry struct {
	tag, typ uint16
	count    int
	val      []byte // count*size bytes
}

// Parse reads the tags from b, a TIFF-structured block ("II*\0" or
// "MM\0*" header, as found after "Exif\0\0" in a JPEG APP1 segment). It
// returns what it could read: a damaged sub-IFD leaves its tags zero rather
// than failing the block.
func Parse(b []byte) (Tags, error) {
	if len(b) > MaxBlock {
		return Tags{}, fmt.Errorf("%w: %d bytes, over %d", ErrTooLarge, len(b), MaxBlock)
	}
	return parse(b)
}

// parse is Parse without the size limit.
func parse(b []byte) (Tags, error) {
	var t Tags
	if len(b) < 8 {
		return t, ErrNotTIFF
	}
	var bo binary.ByteOrder
	switch string(b[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return t, ErrNotTIFF
	}
	if bo.Uint16(b[2:]) != 42 {
		return t, ErrNotTIFF
	}
	k := block{b: b, bo: bo}
	ifd0, err := k.ifd(bo.Uint32(b[4:]))
	if err != nil {
		return t, fmt.Errorf("exif: IFD0: %w", err)
	}
	var exifOff, gpsOff uint32
	for _, e := range ifd0 {
		switch e.tag {
		case 0x010F:
			t.Make = k.ascii(e)
		case 0x0110:
			t.Model = k.ascii(e)
		case 0x0112:
			if v, ok := k.uint(e); ok && v >= 1 && v <= 8 {
				t.Orientation = int(v)
			}
		case 0x8769:
			exifOff, _ = k.uint(e)
		case 0x8825:
			gpsOff, _ = k.uint(e)
		}
	}
	if exifOff != 0 {
		if ents, err := k.ifd(exifOff); err == nil {
			var digitized, subDig, offDig string
			for _, e := range ents {
				switch e.tag {
				case 0x9003:
					t.DateTimeOriginal = k.ascii(e)
				case 0x9004:
					digitized = k.ascii(e)
				case 0x9011:
					t.Offset = k.ascii(e)
				case 0x9012:
					offDig = k.ascii(e)
				case 0x9291:
					t.SubSec = k.ascii(e)
				case 0x9292:
					subDig = k.ascii(e)
				}
			}
			if t.DateTimeOriginal == "" && digitized != "" {
				t.DateTimeOriginal, t.SubSec, t.Offset = digitized, subDig, offDig
			}
		}
	}
	if gpsOff != 0 && gpsOff != exifOff {
		if ents, err := k.ifd(gpsOff); err == nil {
			k.gps(ents, &t)
		}
	}
	return t, nil
}

// ifd reads the entries of the IFD at off whose values lie in the block;
// entries of unknown types or out-of-range values are dropped.
func (k block) ifd(off uint32) ([]entry, error) {
	b := k.b
	if off < 8 || uint64(off)+2 > uint64(len(b)) {
		return nil, fmt.Errorf("offset %d outside the %d-byte block", off, len(b))
	}
	n := int(k.bo.Uint16(b[off:]))
	start := int(off) + 2
	if avail := (len(b) - start) / 12; n > avail {
		n = avail // a count past the end: read what is there
	}
	n = min(n, maxEntries)
	out := make([]entry, 0, n)
	for i := range n {
		p := b[start+12*i : start+12*i+12]
		e := entry{tag: k.bo.Uint16(p), typ: k.bo.Uint16(p[2:])}
		cnt := uint64(k.bo.Uint32(p[4:]))
		if e.typ == 0 || int(e.typ) >= len(typeSize) {
			continue
		}
		size := cnt * uint64(typeSize[e.typ])
		if size <= 4 {
			e.val = p[8 : 8+size]
		} else {
			vo := uint64(k.bo.Uint32(p[8:]))
			if vo+size > uint64(len(b)) {
				continue
			}
			e.val = b[vo : vo+size]
		}
		e.count = int(cnt)
		out = append(out, e)
	}
	return out, nil
}

// ascii returns an ASCII (or UNDEFINED, as some writers use) value up to
// its first NUL, trimmed, at most maxString bytes, with control bytes and
// invalid UTF-8 dropped.
func (k block) ascii(e entry) string {
	if e.typ != typeASCII && e.typ != typeUndefined && e.typ != typeByte {
		return ""
	}
	v := e.val
	if i := indexByte(v, 0); i >= 0 {
		v = v[:i]
	}
	if len(v) > maxString {
		v = v[:maxString]
	}
	s := strings.ToValidUTF8(string(v), "")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7F {
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// uint returns a single SHORT or LONG value.
func (k block) uint(e entry) (uint32, bool) {
	if e.count < 1 {
		return 0, false
	}
	switch e.typ {
	case typeShort:
		return uint32(k.bo.Uint16(e.val)), true
	case typeLong:
		return k.bo.Uint32(e.val), true
	}
	return 0, false
}

// rationals returns the first n RATIONAL values; ok is false when there are
// fewer or a denominator is zero.
func (k block) rationals(e entry, n int) ([]float64, bool) {
	if e.typ != typeRational || e.count < n {
		return nil, false
	}
	out := make([]float64, n)
	for i := range n {
		num, den := k.bo.Uint32(e.val[8*i:]), k.bo.Uint32(e.val[8*i+4:])
		if den == 0 {
			return nil, false
		}
		out[i] = float64(num) / float64(den)
	}
	return out, true
}

// gps reads latitude and longitude from the GPS IFD's entries.
func (k block) gps(ents []entry, t *Tags) {
	var latRef, lonRef string
	var lat, lon []float64
	for _, e := range ents {
		switch e.tag {
		case 0x0001:
			latRef = k.ascii(e)
		case 0x0002:
			lat, _ = k.rationals(e, 3)
		case 0x0003:
			lonRef = k.ascii(e)
		case 0x0004:
			lon, _ = k.rationals(e, 3)
		}
	}
	if lat == nil || lon == nil {
		return
	}
	la := lat[0] + lat[1]/60 + lat[2]/3600
	lo := lon[0] + lon[1]/60 + lon[2]/3600
	switch latRef {
	case "S", "s":
		la = -la
	case "N", "n", "":
	default:
		return
	}
	switch lonRef {
	case "W", "w":
		lo = -lo
	case "E", "e", "":
	default:
		return
	}
	if math.IsNaN(la) || math.IsNaN(lo) || math.Abs(la) > 90 || math.Abs(lo) > 180 {
		return
	}
	t.HasGPS, t.Lat, t.Lon = true, la, lo
}
