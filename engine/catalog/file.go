package catalog

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"

	"mmsearch/index"
	"mmsearch/internal/atomicfile"
	"mmsearch/internal/mmapfile"
)

// The index file: a header naming what the index was built from, the
// backend's own Save stream, and a trailer that checks the whole file.
//
//	magic       8 bytes  "MMSLIBX3"
//	generation  uint64   store generation the index reflects
//	fingerprint uint16 length + bytes: the model's fingerprint
//	backend     uint8 length + bytes: index.Backend.Name
//	padding     zero bytes, so that the payload starts 64-byte aligned
//	header CRC  uint32 CRC32-C of the header bytes before it
//	payload     the backend's Save stream
//	trailer     uint64 payload length, uint32 CRC32-C of everything before
//	            the trailer, 8 bytes "MMSLIBX$"
//
// Numbers are little-endian. The trailer lets stats tell an intact file
// from a damaged one whatever the backend's format checks, and lets a
// loader reject damage before trusting the backend's parser with it.
//
// A backend that can open its payload in place (index.Backend.Map) gets
// the file mapped (internal/mmapfile): the header is checked against its
// own CRC, the trailer for its length, and the payload by the backend,
// which checks its own checksums lazily (hnsw: node by node, before any
// node is used); the whole-file CRC, which would read every byte, is then
// not computed at load. Other backends, and files of the older layout
// "MMSLIBX2" (no padding, no header CRC), are read and checked whole.
const (
	fileMagic    = "MMSLIBX3"
	fileMagicV2  = "MMSLIBX2"
	trailerMagic = "MMSLIBX$"
	trailerLen   = 8 + 4 + 8
	// payloadAlign aligns the payload in the file, so that a backend can
	// use sections of a mapped file in place.
	payloadAlign = 64
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type fileHeader struct {
	gen         int64
	fingerprint string
	backend     string
	headerLen   int64
	payloadLen  int64
	crc         uint32
	// headerCRC: the header carries its own checksum (layout X3), which
	// readHeader verified.
	headerCRC bool
}

type countingWriter struct {
	w   io.Writer
	crc hash.Hash32
	n   int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.crc.Write(p[:n])
	c.n += int64(n)
	return n, err
}

func writeFile(path, backend string, gen int64, fingerprint string, idx index.Index) error {
	if len(fingerprint) > 0xffff || len(backend) > 0xff {
		return fmt.Errorf("index file: fingerprint or backend name too long")
	}
	return atomicfile.Write(path, 0o644, func(bw *bufio.Writer) error {
		cw := &countingWriter{w: bw, crc: crc32.New(castagnoli)}
		var b []byte
		b = append(b, fileMagic...)
		b = binary.LittleEndian.AppendUint64(b, uint64(gen))
		b = binary.LittleEndian.AppendUint16(b, uint16(len(fingerprint)))
		b = append(b, fingerprint...)
		b = append(b, byte(len(backend)))
		b = append(b, backend...)
		b = append(b, make([]byte, padLen(len(b)))...)
		b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
		if _, err := cw.Write(b); err != nil {
			return err
		}
		head := cw.n
		if err := idx.Save(cw); err != nil {
			return err
		}
		var t []byte
		t = binary.LittleEndian.AppendUint64(t, uint64(cw.n-head))
		t = binary.LittleEndian.AppendUint32(t, cw.crc.Sum32())
		t = append(t, trailerMagic...)
		_, err := bw.Write(t)
		return err
	})
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("index file: "+format+": %w", append(args, index.ErrCorrupt)...)
}

// padLen is the number of zero bytes after a header of n bytes that put
// the payload, after the header CRC, at a multiple of payloadAlign.
func padLen(n int) int { return (payloadAlign - (n+4)%payloadAlign) % payloadAlign }

// readHeader reads the header and the trailer of a file of size bytes.
func readHeader(f io.ReaderAt, size int64) (fileHeader, error) {
	var h fileHeader
	r := bufio.NewReader(io.NewSectionReader(f, 0, size))
	crc := crc32.New(castagnoli)
	tr := io.TeeReader(r, crc)
	var head [8 + 8 + 2]byte
	if _, err := io.ReadFull(tr, head[:]); err != nil {
		return h, corrupt("header: %v", err)
	}
	magic := string(head[:8])
	if magic != fileMagic && magic != fileMagicV2 {
		return h, corrupt("bad magic %q", head[:8])
	}
	h.gen = int64(binary.LittleEndian.Uint64(head[8:]))
	fp := make([]byte, binary.LittleEndian.Uint16(head[16:]))
	if _, err := io.ReadFull(tr, fp); err != nil {
		return h, corrupt("header: %v", err)
	}
	var n [1]byte
	if _, err := io.ReadFull(tr, n[:]); err != nil {
		return h, corrupt("header: %v", err)
	}
	name := make([]byte, n[0])
	if _, err := io.ReadFull(tr, name); err != nil {
		return h, corrupt("header: %v", err)
	}
	h.fingerprint, h.backend = string(fp), string(name)
	h.headerLen = int64(len(head)) + int64(len(fp)) + 1 + int64(n[0])
	if magic == fileMagic {
		pad := make([]byte, padLen(int(h.headerLen)))
		if _, err := io.ReadFull(tr, pad); err != nil {
			return h, corrupt("header: %v", err)
		}
		want := crc.Sum32()
		var c [4]byte
		if _, err := io.ReadFull(r, c[:]); err != nil {
			return h, corrupt("header: %v", err)
		}
		if binary.LittleEndian.Uint32(c[:]) != want || bytes.Count(pad, []byte{0}) != len(pad) {
			return h, corrupt("header checksum mismatch")
		}
		h.headerLen += int64(len(pad)) + 4
		h.headerCRC = true
	}
	var t [trailerLen]byte
	if size < h.headerLen+trailerLen {
		return h, corrupt("truncated (%d bytes)", size)
	}
	if _, err := f.ReadAt(t[:], size-trailerLen); err != nil {
		return h, corrupt("trailer: %v", err)
	}
	if string(t[12:]) != trailerMagic {
		return h, corrupt("no trailer (truncated or not finished)")
	}
	h.payloadLen = int64(binary.LittleEndian.Uint64(t[:8]))
	h.crc = binary.LittleEndian.Uint32(t[8:12])
	if h.headerLen+h.payloadLen+trailerLen != size {
		return h, corrupt("payload length %d does not match the file size %d", h.payloadLen, size)
	}
	return h, nil
}

// openHeader opens path and reads its header.
func openHeader(path string) (*os.File, fileHeader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fileHeader{}, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fileHeader{}, err
	}
	h, err := readHeader(f, fi.Size())
	if err != nil {
		f.Close()
		return nil, h, err
	}
	return f, h, nil
}

// checkMade checks that h names the model and the backend wanted.
func checkMade(h fileHeader, backend index.Backend, fingerprint string) error {
	if h.fingerprint != fingerprint {
		return errors.New("index file was built with another model")
	}
	if h.backend != backend.Name {
		return fmt.Errorf("index file was built by index backend %q, not %q", h.backend, backend.Name)
	}
	return nil
}

// errNotMappable says that mapFile cannot open a file in place; readFile can.
var errNotMappable = errors.New("index file cannot be opened in place")

// errOldLayout is errNotMappable for a file written in an older layout
// (the file's, or the backend's format version): saving it again fixes it.
var errOldLayout = fmt.Errorf("%w: older file layout", errNotMappable)

// mapFile opens the index at path in place through backend.Map (see the
// file layout above). It returns errNotMappable when the backend has no
// Map, the file has the older layout or the backend declines the bytes.
func mapFile(path string, backend index.Backend, fingerprint string) (index.Index, int64, error) {
	if backend.Map == nil {
		return nil, 0, errNotMappable
	}
	m, err := mmapfile.Open(path)
	if err != nil {
		return nil, 0, err
	}
	h, err := readHeader(bytes.NewReader(m.Bytes()), int64(len(m.Bytes())))
	if err == nil && !h.headerCRC {
		err = errOldLayout
	}
	if err == nil {
		err = checkMade(h, backend, fingerprint)
	}
	if err != nil {
		m.Close()
		return nil, 0, err
	}
	idx, err := backend.Map(&payload{File: m, off: h.headerLen, n: h.payloadLen})
	if err != nil {
		m.Close()
		if errors.Is(err, index.ErrVersion) {
			return nil, 0, fmt.Errorf("%w: %w", errOldLayout, err)
		}
		if !errors.Is(err, index.ErrCorrupt) {
			return nil, 0, fmt.Errorf("%w: %w", errNotMappable, err)
		}
		return nil, 0, fmt.Errorf("index file: %w", err)
	}
	return idx, h.gen, nil
}

// payload is the backend's part of a mapped index file.
type payload struct {
	*mmapfile.File
	off, n int64
}

func (p *payload) Bytes() []byte { return p.File.Bytes()[p.off : p.off+p.n : p.off+p.n] }

// verifyFile reads the whole file and checks its checksum.
func verifyFile(path string) (fileHeader, error) {
	f, h, err := openHeader(path)
	if err != nil {
		return h, err
	}
	defer f.Close()
	crc := crc32.New(castagnoli)
	if _, err := io.Copy(crc, io.NewSectionReader(f, 0, h.headerLen+h.payloadLen)); err != nil {
		return h, fmt.Errorf("index file: %w", err)
	}
	if crc.Sum32() != h.crc {
		return h, corrupt("checksum mismatch")
	}
	return h, nil
}

// readFile loads the index saved at path by backend for the model with this
// fingerprint and returns it with the generation it reflects. The checksum
// is verified over the bytes the backend reads.
func readFile(path string, backend index.Backend, fingerprint string) (index.Index, int64, error) {
	f, h, err := openHeader(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	if err := checkMade(h, backend, fingerprint); err != nil {
		return nil, 0, err
	}
	crc := crc32.New(castagnoli)
	if _, err := io.Copy(crc, io.NewSectionReader(f, 0, h.headerLen)); err != nil {
		return nil, 0, fmt.Errorf("index file: %w", err)
	}
	payload := io.TeeReader(io.NewSectionReader(f, h.headerLen, h.payloadLen), crc)
	br := bufio.NewReaderSize(payload, 1<<20)
	idx, err := backend.Load(br)
	if err != nil {
		return nil, 0, fmt.Errorf("index file: %w", err)
	}
	// Whatever the backend left unread still counts.
	if _, err := io.Copy(io.Discard, br); err != nil {
		return nil, 0, fmt.Errorf("index file: %w", err)
	}
	if crc.Sum32() != h.crc {
		return nil, 0, corrupt("checksum mismatch")
	}
	return idx, h.gen, nil
}
