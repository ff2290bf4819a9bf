package catalog

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"

	"mmsearch/index"
	"mmsearch/internal/atomicfile"
)

// The index file: a header naming what the index was built from, the
// backend's own Save stream, and a trailer that checks the whole file.
//
//	magic       8 bytes  "MMSLIBX2"
//	generation  uint64   store generation the index reflects
//	fingerprint uint16 length + bytes: the model's fingerprint
//	backend     uint8 length + bytes: index.Backend.Name
//	payload     the backend's Save stream
//	trailer     uint64 payload length, uint32 CRC32-C of everything before
//	            the trailer, 8 bytes "MMSLIBX$"
//
// Numbers are little-endian. The trailer lets stats tell an intact file
// from a damaged one whatever the backend's format checks, and lets a
// loader reject damage before trusting the backend's parser with it.
const (
	fileMagic    = "MMSLIBX2"
	trailerMagic = "MMSLIBX$"
	trailerLen   = 8 + 4 + 8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type fileHeader struct {
	gen         int64
	fingerprint string
	backend     string
	headerLen   int64
	payloadLen  int64
	crc         uint32
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

// readHeader reads the header and the trailer of the open file f.
func readHeader(f *os.File) (fileHeader, error) {
	var h fileHeader
	fi, err := f.Stat()
	if err != nil {
		return h, err
	}
	size := fi.Size()
	r := bufio.NewReader(io.NewSectionReader(f, 0, size))
	var head [8 + 8 + 2]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return h, corrupt("header: %v", err)
	}
	if string(head[:8]) != fileMagic {
		return h, corrupt("bad magic %q", head[:8])
	}
	h.gen = int64(binary.LittleEndian.Uint64(head[8:]))
	fp := make([]byte, binary.LittleEndian.Uint16(head[16:]))
	if _, err := io.ReadFull(r, fp); err != nil {
		return h, corrupt("header: %v", err)
	}
	n, err := r.ReadByte()
	if err != nil {
		return h, corrupt("header: %v", err)
	}
	name := make([]byte, n)
	if _, err := io.ReadFull(r, name); err != nil {
		return h, corrupt("header: %v", err)
	}
	h.fingerprint, h.backend = string(fp), string(name)
	h.headerLen = int64(len(head)) + int64(len(fp)) + 1 + int64(n)
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

// verifyFile reads the whole file and checks its checksum.
func verifyFile(path string) (fileHeader, error) {
	f, err := os.Open(path)
	if err != nil {
		return fileHeader{}, err
	}
	defer f.Close()
	h, err := readHeader(f)
	if err != nil {
		return h, err
	}
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
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	h, err := readHeader(f)
	if err != nil {
		return nil, 0, err
	}
	if h.fingerprint != fingerprint {
		return nil, 0, errors.New("index file was built with another model")
	}
	if h.backend != backend.Name {
		return nil, 0, fmt.Errorf("index file was built by index backend %q, not %q", h.backend, backend.Name)
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
