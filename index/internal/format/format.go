// Package format frames the index files: an 8-byte magic, a format version,
// then sections. Each section is a 4-byte tag, an 8-byte payload length, the
// payload and a CRC32-C (Castagnoli) of tag, length and payload. Numbers are
// little-endian.
//
// Large payloads (vectors, links) are written and read as raw bytes on
// little-endian hosts, straight into the final slices; other hosts convert
// element by element. Readers report damage as errors wrapping
// index.ErrCorrupt and unknown versions as errors wrapping index.ErrVersion.
package format

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"unsafe"

	"mmsearch/index"
)

// castagnoli is the CRC32-C table; crc32 computes it with the CPU's CRC
// instruction where there is one.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Tag names a section: four ASCII bytes read as a little-endian uint32.
type Tag uint32

// MakeTag builds a Tag from a four-byte name such as "HEAD".
func MakeTag(name string) Tag {
	if len(name) != 4 {
		panic("format: tag name must be 4 bytes")
	}
	return Tag(binary.LittleEndian.Uint32([]byte(name)))
}

// String returns the tag's four-byte name.
func (t Tag) String() string {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(t))
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return fmt.Sprintf("0x%08x", uint32(t))
		}
	}
	return string(b[:])
}

// ioChunk bounds a single raw read or write so that big slices are copied in
// pieces: on a truncated file the reader fails without having touched more
// memory than the file holds.
const ioChunk = 4 << 20

// Writer writes a framed file. Errors are sticky: after the first, every call
// is a no-op and Err returns it.
type Writer struct {
	w         io.Writer
	err       error
	seed      uint32 // CRC32-C of magic and version
	crc       uint32
	tag       Tag
	remaining uint64
	open      bool
	scratch   []byte
	pos       uint64 // bytes written since the magic's first byte
}

// NewWriter writes magic and version to w and returns a Writer for the sections.
func NewWriter(w io.Writer, magic string, version uint32) *Writer {
	fw := &Writer{w: w, scratch: make([]byte, 0, 64)}
	if len(magic) != 8 {
		fw.err = errors.New("format: magic must be 8 bytes")
		return fw
	}
	var head [12]byte
	copy(head[:8], magic)
	binary.LittleEndian.PutUint32(head[8:], version)
	fw.seed = crc32.Update(0, castagnoli, head[:])
	fw.write(head[:])
	return fw
}

func (w *Writer) write(p []byte) {
	if w.err != nil {
		return
	}
	n, err := w.w.Write(p)
	w.pos += uint64(n)
	if err != nil {
		w.err = err
	}
}

// Begin starts a section of exactly length payload bytes.
func (w *Writer) Begin(tag Tag, length uint64) {
	if w.err != nil {
		return
	}
	if w.open {
		w.err = fmt.Errorf("format: section %s begun inside section %s", tag, w.tag)
		return
	}
	var h [12]byte
	binary.LittleEndian.PutUint32(h[:4], uint32(tag))
	binary.LittleEndian.PutUint64(h[4:], length)
	w.crc = crc32.Update(w.seed, castagnoli, h[:])
	w.write(h[:])
	w.tag, w.remaining, w.open = tag, length, true
}

// payload writes section bytes, keeping the checksum and the byte count.
func (w *Writer) payload(p []byte) {
	if w.err != nil {
		return
	}
	if !w.open {
		w.err = errors.New("format: payload outside a section")
		return
	}
	if uint64(len(p)) > w.remaining {
		w.err = fmt.Errorf("format: section %s overflows its declared length", w.tag)
		return
	}
	w.remaining -= uint64(len(p))
	w.crc = crc32.Update(w.crc, castagnoli, p)
	w.write(p)
}

// End closes the section, writing its checksum.
func (w *Writer) End() {
	if w.err != nil {
		return
	}
	if !w.open {
		w.err = errors.New("format: End without Begin")
		return
	}
	if w.remaining != 0 {
		w.err = fmt.Errorf("format: section %s is %d bytes short of its declared length", w.tag, w.remaining)
		return
	}
	var c [4]byte
	binary.LittleEndian.PutUint32(c[:], w.crc)
	w.write(c[:])
	w.open = false
}

// Err returns the first error met, or nil.
func (w *Writer) Err() error { return w.err }

// TagPad names padding sections (see Writer.Pad).
var TagPad = MakeTag("PAD\x00")

// Pad writes a padding section of zero bytes sized so that the payload of
// the next section begins at a multiple of align bytes from the start of
// the stream (align a power of two up to 4096). A reader that uses sections
// in place (Sections) then finds them aligned when the stream itself starts
// aligned; Reader.SkipPad skips them.
func (w *Writer) Pad(align int) {
	if w.err != nil {
		return
	}
	if align <= 0 || align > maxAlign || align&(align-1) != 0 {
		w.err = fmt.Errorf("format: alignment %d is not a power of two up to %d", align, maxAlign)
		return
	}
	// pad header, pad payload, pad checksum, next header.
	a := uint64(align)
	n := (a - (w.pos+12+4+12)%a) % a
	w.Begin(TagPad, n)
	w.Bytes(make([]byte, n))
	w.End()
}

// maxAlign bounds Pad's alignment, and so a padding section's length.
const maxAlign = 4096

// U8 writes one byte.
func (w *Writer) U8(v uint8) { w.payload([]byte{v}) }

// U32 writes a uint32.
func (w *Writer) U32(v uint32) {
	w.scratch = binary.LittleEndian.AppendUint32(w.scratch[:0], v)
	w.payload(w.scratch)
}

// U64 writes a uint64.
func (w *Writer) U64(v uint64) {
	w.scratch = binary.LittleEndian.AppendUint64(w.scratch[:0], v)
	w.payload(w.scratch)
}

// I64 writes an int64.
func (w *Writer) I64(v int64) { w.U64(uint64(v)) }

// F64 writes a float64.
func (w *Writer) F64(v float64) { w.U64(math.Float64bits(v)) }

// Bytes writes raw bytes.
func (w *Writer) Bytes(p []byte) {
	for len(p) > 0 && w.err == nil {
		n := min(len(p), ioChunk)
		w.payload(p[:n])
		p = p[n:]
	}
}

// word is an element type of the slices the format stores: 4 or 8 bytes,
// little-endian on disk.
type word interface{ ~float32 | ~uint32 | ~uint64 }

// wordBytes views s as its bytes (only meaningful on little-endian hosts).
func wordBytes[T word](s []T) []byte {
	if len(s) == 0 {
		return nil
	}
	var zero T
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), int(unsafe.Sizeof(zero))*len(s))
}

// writeWords writes s element by element through put, on any host.
func writeWords[T word](w *Writer, s []T, size int, put func([]byte, T) []byte) {
	buf := make([]byte, 0, size*min(len(s), ioChunk/size))
	for len(s) > 0 && w.err == nil {
		n := min(len(s), ioChunk/size)
		buf = buf[:0]
		for _, v := range s[:n] {
			buf = put(buf, v)
		}
		w.payload(buf)
		s = s[n:]
	}
}

// Float32s writes a slice of float32.
func (w *Writer) Float32s(s []float32) {
	if littleEndian {
		w.Bytes(wordBytes(s))
		return
	}
	w.float32sPortable(s)
}

// float32sPortable writes s element by element, on any host.
func (w *Writer) float32sPortable(s []float32) {
	writeWords(w, s, 4, func(b []byte, v float32) []byte { return binary.LittleEndian.AppendUint32(b, math.Float32bits(v)) })
}

// Uint32s writes a slice of uint32.
func (w *Writer) Uint32s(s []uint32) {
	if littleEndian {
		w.Bytes(wordBytes(s))
		return
	}
	w.uint32sPortable(s)
}

// uint32sPortable writes s element by element, on any host.
func (w *Writer) uint32sPortable(s []uint32) {
	writeWords(w, s, 4, binary.LittleEndian.AppendUint32)
}

// Uint64s writes a slice of uint64.
func (w *Writer) Uint64s(s []uint64) {
	if littleEndian {
		w.Bytes(wordBytes(s))
		return
	}
	w.uint64sPortable(s)
}

// uint64sPortable writes s element by element, on any host.
func (w *Writer) uint64sPortable(s []uint64) {
	writeWords(w, s, 8, binary.LittleEndian.AppendUint64)
}

// Reader reads a framed file. Errors are sticky: after the first, reads return
// zero values and Err returns it.
type Reader struct {
	r         io.Reader
	err       error
	seed      uint32 // CRC32-C of magic and version
	crc       uint32
	tag       Tag
	remaining uint64
	open      bool
	scratch   [8]byte
}

// Corruptf returns an error wrapping index.ErrCorrupt.
func Corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", index.ErrCorrupt, fmt.Sprintf(format, args...))
}

// NewReader reads and checks the magic and the version, which must lie in
// [minVersion, maxVersion]. It returns the version found.
func NewReader(r io.Reader, magic string, minVersion, maxVersion uint32) (*Reader, uint32, error) {
	fr := &Reader{r: r}
	var head [12]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, 0, fr.ioErr("file header", err)
	}
	if string(head[:8]) != magic {
		return nil, 0, Corruptf("bad magic %q, want %q", head[:8], magic)
	}
	v := binary.LittleEndian.Uint32(head[8:])
	if v < minVersion || v > maxVersion {
		return nil, 0, fmt.Errorf("%w: file format version %d, this build reads %d to %d", index.ErrVersion, v, minVersion, maxVersion)
	}
	fr.seed = crc32.Update(0, castagnoli, head[:])
	return fr, v, nil
}

func (r *Reader) ioErr(where string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return Corruptf("truncated in %s", where)
	}
	return fmt.Errorf("read %s: %w", where, err)
}

func (r *Reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// Begin reads a section header, which must carry tag, and returns the payload
// length. A length above maxLen is reported as corruption before anything is
// allocated for it.
func (r *Reader) Begin(tag Tag, maxLen uint64) uint64 {
	if r.err != nil {
		return 0
	}
	if r.open {
		r.fail(fmt.Errorf("format: section %s begun inside section %s", tag, r.tag))
		return 0
	}
	var h [12]byte
	if _, err := io.ReadFull(r.r, h[:]); err != nil {
		r.fail(r.ioErr("section "+tag.String()+" header", err))
		return 0
	}
	got := Tag(binary.LittleEndian.Uint32(h[:4]))
	if got != tag {
		r.fail(Corruptf("found section %s where %s belongs", got, tag))
		return 0
	}
	n := binary.LittleEndian.Uint64(h[4:])
	if n > maxLen {
		r.fail(Corruptf("section %s claims %d bytes, at most %d expected", tag, n, maxLen))
		return 0
	}
	r.crc = crc32.Update(r.seed, castagnoli, h[:])
	r.tag, r.remaining, r.open = tag, n, true
	return n
}

// BeginExact reads a section header that must carry tag and exactly length bytes.
func (r *Reader) BeginExact(tag Tag, length uint64) {
	n := r.Begin(tag, length)
	if r.err == nil && n != length {
		r.fail(Corruptf("section %s holds %d bytes, want %d", tag, n, length))
	}
}

func (r *Reader) payload(p []byte) bool {
	if r.err != nil {
		return false
	}
	if !r.open {
		r.fail(errors.New("format: payload read outside a section"))
		return false
	}
	if uint64(len(p)) > r.remaining {
		r.fail(Corruptf("section %s is shorter than its contents", r.tag))
		return false
	}
	if _, err := io.ReadFull(r.r, p); err != nil {
		r.fail(r.ioErr("section "+r.tag.String(), err))
		return false
	}
	r.remaining -= uint64(len(p))
	r.crc = crc32.Update(r.crc, castagnoli, p)
	return true
}

// End checks that the section's payload was read completely and that its
// checksum matches.
func (r *Reader) End() error {
	if r.err != nil {
		return r.err
	}
	if !r.open {
		r.fail(errors.New("format: End without Begin"))
		return r.err
	}
	if r.remaining != 0 {
		r.fail(Corruptf("section %s has %d unread bytes", r.tag, r.remaining))
		return r.err
	}
	var c [4]byte
	if _, err := io.ReadFull(r.r, c[:]); err != nil {
		r.fail(r.ioErr("section "+r.tag.String()+" checksum", err))
		return r.err
	}
	if got := binary.LittleEndian.Uint32(c[:]); got != r.crc {
		r.fail(Corruptf("section %s checksum mismatch", r.tag))
		return r.err
	}
	r.open = false
	return nil
}

// Err returns the first error met, or nil.
func (r *Reader) Err() error { return r.err }

// SkipPad reads a padding section written by Writer.Pad, checking that it
// holds only zeros.
func (r *Reader) SkipPad() {
	n := r.Begin(TagPad, maxAlign)
	if r.err != nil {
		return
	}
	p := make([]byte, n)
	r.Bytes(p)
	for _, b := range p {
		if b != 0 {
			r.fail(Corruptf("padding holds non-zero bytes"))
			return
		}
	}
	r.End()
}

// U8 reads one byte.
func (r *Reader) U8() uint8 {
	if !r.payload(r.scratch[:1]) {
		return 0
	}
	return r.scratch[0]
}

// U32 reads a uint32.
func (r *Reader) U32() uint32 {
	if !r.payload(r.scratch[:4]) {
		return 0
	}
	return binary.LittleEndian.Uint32(r.scratch[:4])
}

// U64 reads a uint64.
func (r *Reader) U64() uint64 {
	if !r.payload(r.scratch[:8]) {
		return 0
	}
	return binary.LittleEndian.Uint64(r.scratch[:8])
}

// I64 reads an int64.
func (r *Reader) I64() int64 { return int64(r.U64()) }

// F64 reads a float64.
func (r *Reader) F64() float64 { return math.Float64frombits(r.U64()) }

// Bytes fills p.
func (r *Reader) Bytes(p []byte) {
	for len(p) > 0 && r.err == nil {
		n := min(len(p), ioChunk)
		r.payload(p[:n])
		p = p[n:]
	}
}

// readWords fills s element by element through get, on any host.
func readWords[T word](r *Reader, s []T, size int, get func([]byte) T) {
	buf := make([]byte, size*min(len(s), ioChunk/size))
	for len(s) > 0 && r.err == nil {
		n := min(len(s), ioChunk/size)
		if !r.payload(buf[:size*n]) {
			return
		}
		for i := range n {
			s[i] = get(buf[size*i:])
		}
		s = s[n:]
	}
}

// Float32s fills s.
func (r *Reader) Float32s(s []float32) {
	if littleEndian {
		r.Bytes(wordBytes(s))
		return
	}
	r.float32sPortable(s)
}

// float32sPortable fills s element by element, on any host.
func (r *Reader) float32sPortable(s []float32) {
	readWords(r, s, 4, func(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) })
}

// Uint32s fills s.
func (r *Reader) Uint32s(s []uint32) {
	if littleEndian {
		r.Bytes(wordBytes(s))
		return
	}
	r.uint32sPortable(s)
}

// uint32sPortable fills s element by element, on any host.
func (r *Reader) uint32sPortable(s []uint32) {
	readWords(r, s, 4, binary.LittleEndian.Uint32)
}

// Uint64s fills s.
func (r *Reader) Uint64s(s []uint64) {
	if littleEndian {
		r.Bytes(wordBytes(s))
		return
	}
	r.uint64sPortable(s)
}

// uint64sPortable fills s element by element, on any host.
func (r *Reader) uint64sPortable(s []uint64) {
	readWords(r, s, 8, binary.LittleEndian.Uint64)
}
