package format

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"unsafe"

	"mmsearch/index"
)

// Section is one section of a framed file held in memory, found by
// Sections. Its payload is a sub-slice of the file's bytes, not a copy.
type Section struct {
	Tag     Tag
	Payload []byte
	// Offset is the payload's offset from the start of the file.
	Offset int
	header []byte // tag and length, as stored
	sum    uint32 // stored CRC32-C
	seed   uint32 // CRC32-C of magic and version
}

// Check verifies the section's checksum: it reads the whole payload.
func (s Section) Check() error {
	c := crc32.Update(s.seed, castagnoli, s.header)
	if crc32.Update(c, castagnoli, s.Payload) != s.sum {
		return Corruptf("section %s checksum mismatch", s.Tag)
	}
	return nil
}

// Sections checks the magic and the version of the framed file in data
// (which must lie in [minVersion, maxVersion]) and walks its section
// headers without reading any payload: every section must fit in data and
// the last must end where data ends. Checksums are left to Section.Check,
// so that a caller can verify small sections at once and large ones as
// it uses them.
func Sections(data []byte, magic string, minVersion, maxVersion uint32) (uint32, []Section, error) {
	if len(data) < 12 {
		return 0, nil, Corruptf("truncated in file header")
	}
	if string(data[:8]) != magic {
		return 0, nil, Corruptf("bad magic %q, want %q", data[:8], magic)
	}
	v := binary.LittleEndian.Uint32(data[8:12])
	if v < minVersion || v > maxVersion {
		return 0, nil, fmt.Errorf("%w: file format version %d, this build reads %d to %d", index.ErrVersion, v, minVersion, maxVersion)
	}
	seed := crc32.Update(0, castagnoli, data[:12])
	var secs []Section
	off := 12
	for off < len(data) {
		if len(data)-off < 12 {
			return 0, nil, Corruptf("truncated in a section header at byte %d", off)
		}
		h := data[off : off+12]
		tag := Tag(binary.LittleEndian.Uint32(h[:4]))
		n := binary.LittleEndian.Uint64(h[4:])
		if n > math.MaxInt || uint64(len(data)-off-12) < n || uint64(len(data)-off-12)-n < 4 {
			return 0, nil, Corruptf("truncated in section %s (%d bytes claimed at byte %d, the file holds %d)", tag, n, off, len(data))
		}
		p := off + 12
		end := p + int(n)
		secs = append(secs, Section{
			Tag: tag, Payload: data[p:end:end], Offset: p,
			header: h, sum: binary.LittleEndian.Uint32(data[end:]), seed: seed,
		})
		off = end + 4
	}
	return v, secs, nil
}

// Uint32sFrom decodes little-endian uint32s from src into dst, on any host.
func Uint32sFrom(dst []uint32, src []byte) {
	if littleEndian {
		copy(wordBytes(dst), src)
		return
	}
	for i := range dst {
		dst[i] = binary.LittleEndian.Uint32(src[4*i:])
	}
}

// Uint64sFrom decodes little-endian uint64s from src into dst, on any host.
func Uint64sFrom(dst []uint64, src []byte) {
	if littleEndian {
		copy(wordBytes(dst), src)
		return
	}
	for i := range dst {
		dst[i] = binary.LittleEndian.Uint64(src[8*i:])
	}
}

// LittleEndian reports whether the host stores numbers as the format
// does, so that payloads can be used in place.
const LittleEndian = littleEndian

// view returns p as a slice of T without copying when the host is
// little-endian, p's length is a multiple of T's size and p is aligned for
// T; ok is false otherwise.
func view[T word](p []byte) (s []T, ok bool) {
	var zero T
	size := int(unsafe.Sizeof(zero))
	if !littleEndian || len(p)%size != 0 {
		return nil, false
	}
	if len(p) == 0 {
		return []T{}, true
	}
	if uintptr(unsafe.Pointer(&p[0]))%uintptr(size) != 0 {
		return nil, false
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&p[0])), len(p)/size), true
}

// Float32View returns p as float32s in place (see view).
func Float32View(p []byte) ([]float32, bool) { return view[float32](p) }

// Uint32View returns p as uint32s in place (see view).
func Uint32View(p []byte) ([]uint32, bool) { return view[uint32](p) }

// UpdateFloat32s returns crc updated with s as the format stores it.
func UpdateFloat32s(crc uint32, s []float32) uint32 {
	if littleEndian {
		return crc32.Update(crc, castagnoli, wordBytes(s))
	}
	var b [4]byte
	for _, v := range s {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
		crc = crc32.Update(crc, castagnoli, b[:])
	}
	return crc
}

// UpdateUint32s returns crc updated with s as the format stores it.
func UpdateUint32s(crc uint32, s []uint32) uint32 {
	if littleEndian {
		return crc32.Update(crc, castagnoli, wordBytes(s))
	}
	var b [4]byte
	for _, v := range s {
		binary.LittleEndian.PutUint32(b[:], v)
		crc = crc32.Update(crc, castagnoli, b[:])
	}
	return crc
}
