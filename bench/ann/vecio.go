package ann

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Vector file formats read and written here:
//
//   - .fvecs / .ivecs (the TEXMEX corpus format used by SIFT1M, GIST1M ...):
//     each vector is a little-endian int32 dimension followed by that many
//     little-endian float32 (fvecs) or int32 (ivecs) values.
//   - .npy (NumPy): the "\x93NUMPY" magic, a version, a header dictionary,
//     then the raw array. Only 2-D C-order little-endian float32 arrays are
//     read as vectors; ids are read from 2-D int64 or int32 arrays.

// maxVecDim bounds the dimension read from a file, to refuse garbage headers
// before allocating for them.
const maxVecDim = 1 << 16

// LoadVectors reads a vector file by its extension: .fvecs or .npy. limit > 0
// keeps only the first limit vectors.
func LoadVectors(path string, limit int) ([][]float32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load vectors: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var rows [][]float32
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".fvecs":
		rows, err = readFvecs(r, limit, fvecsRows(f, r, limit))
	case ".npy":
		rows, err = ReadNpyFloat32(r, limit)
	default:
		return nil, fmt.Errorf("load vectors %s: unknown extension %q (want .fvecs or .npy)", path, ext)
	}
	if err != nil {
		return nil, fmt.Errorf("load vectors %s: %w", path, err)
	}
	return rows, nil
}

// LoadTruth reads ground-truth neighbour ids from an .ivecs or .npy file
// (one row per query, nearest first). limit > 0 keeps only the first limit rows.
func LoadTruth(path string, limit int) ([][]uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load ground truth: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var rows [][]uint64
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".ivecs":
		rows, err = ReadIvecs(r, limit)
	case ".npy":
		rows, err = ReadNpyIDs(r, limit)
	default:
		return nil, fmt.Errorf("load ground truth %s: unknown extension %q (want .ivecs or .npy)", path, ext)
	}
	if err != nil {
		return nil, fmt.Errorf("load ground truth %s: %w", path, err)
	}
	return rows, nil
}

// fvecsRows estimates the number of vectors in an .fvecs file from its size
// and first dimension field, capped by limit, so the reader allocates once.
// It returns 0 when it cannot tell.
func fvecsRows(f *os.File, r *bufio.Reader, limit int) int {
	st, err := f.Stat()
	if err != nil {
		return 0
	}
	b, err := r.Peek(4)
	if err != nil {
		return 0
	}
	d := int64(int32(binary.LittleEndian.Uint32(b)))
	if d <= 0 || d > maxVecDim {
		return 0
	}
	n := int(st.Size() / (4 + 4*d))
	if limit > 0 && limit < n {
		n = limit
	}
	return n
}

// ReadFvecs reads .fvecs vectors from r. limit > 0 stops after limit vectors.
// All vectors must share one dimension.
func ReadFvecs(r io.Reader, limit int) ([][]float32, error) {
	return readFvecs(r, limit, 0)
}

// readFvecs is ReadFvecs with room reserved for rowsHint vectors.
func readFvecs(r io.Reader, limit, rowsHint int) ([][]float32, error) {
	var data []float32
	dim, n, err := readVecs(r, limit, func(b []byte) error {
		if data == nil && rowsHint > 0 {
			data = make([]float32, 0, rowsHint*len(b)/4)
		}
		for i := 0; i+4 <= len(b); i += 4 {
			v := math.Float32frombits(binary.LittleEndian.Uint32(b[i:]))
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("value %v is not finite", v)
			}
			data = append(data, v)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("fvecs: %w", err)
	}
	rows := make([][]float32, n)
	for i := range rows {
		rows[i] = data[i*dim : (i+1)*dim : (i+1)*dim]
	}
	return rows, nil
}

// ReadIvecs reads .ivecs rows of ids from r. limit > 0 stops after limit rows.
// Negative ids are refused.
func ReadIvecs(r io.Reader, limit int) ([][]uint64, error) {
	var data []uint64
	dim, n, err := readVecs(r, limit, func(b []byte) error {
		for i := 0; i+4 <= len(b); i += 4 {
			v := int32(binary.LittleEndian.Uint32(b[i:]))
			if v < 0 {
				return fmt.Errorf("negative id %d", v)
			}
			data = append(data, uint64(v))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ivecs: %w", err)
	}
	rows := make([][]uint64, n)
	for i := range rows {
		rows[i] = data[i*dim : (i+1)*dim : (i+1)*dim]
	}
	return rows, nil
}

// readVecs walks the records of an fvecs/ivecs stream, handing each record's
// payload to add, and returns the common dimension and the record count.
func readVecs(r io.Reader, limit int, add func([]byte) error) (dim, n int, err error) {
	var hdr [4]byte
	var buf []byte
	for limit <= 0 || n < limit {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return 0, 0, fmt.Errorf("vector %d: truncated dimension field", n)
		}
		d := int32(binary.LittleEndian.Uint32(hdr[:]))
		if d <= 0 || d > maxVecDim {
			return 0, 0, fmt.Errorf("vector %d: dimension %d out of range 1..%d (not a vecs file?)", n, d, maxVecDim)
		}
		if n == 0 {
			dim = int(d)
			buf = make([]byte, 4*dim)
		} else if int(d) != dim {
			return 0, 0, fmt.Errorf("vector %d: dimension %d differs from the first vector's %d", n, d, dim)
		}
		if _, err := io.ReadFull(r, buf); err != nil {
			return 0, 0, fmt.Errorf("vector %d: truncated (want %d values): %w", n, dim, err)
		}
		if err := add(buf); err != nil {
			return 0, 0, fmt.Errorf("vector %d: %w", n, err)
		}
		n++
	}
	if n == 0 {
		return 0, 0, errEmpty
	}
	return dim, n, nil
}

// WriteFvecs writes rows in .fvecs format.
func WriteFvecs(w io.Writer, rows [][]float32) error {
	bw := bufio.NewWriter(w)
	var b [4]byte
	for i, r := range rows {
		if len(r) == 0 || len(r) > maxVecDim {
			return fmt.Errorf("fvecs: vector %d has dimension %d", i, len(r))
		}
		binary.LittleEndian.PutUint32(b[:], uint32(len(r)))
		bw.Write(b[:])
		for _, v := range r {
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
			bw.Write(b[:])
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("fvecs: %w", err)
	}
	return nil
}

// WriteIvecs writes rows of ids in .ivecs format; ids must fit an int32.
func WriteIvecs(w io.Writer, rows [][]uint64) error {
	bw := bufio.NewWriter(w)
	var b [4]byte
	for i, r := range rows {
		if len(r) == 0 || len(r) > maxVecDim {
			return fmt.Errorf("ivecs: row %d has %d ids", i, len(r))
		}
		binary.LittleEndian.PutUint32(b[:], uint32(len(r)))
		bw.Write(b[:])
		for _, v := range r {
			if v > math.MaxInt32 {
				return fmt.Errorf("ivecs: row %d: id %d does not fit an int32", i, v)
			}
			binary.LittleEndian.PutUint32(b[:], uint32(v))
			bw.Write(b[:])
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("ivecs: %w", err)
	}
	return nil
}

// npyMagic starts every .npy file.
const npyMagic = "\x93NUMPY"

// npyHeader is the part of an .npy header dictionary this package reads.
type npyHeader struct {
	descr   string
	fortran bool
	shape   []int
}

// readNpyHeader reads and parses the magic, version and header dictionary.
func readNpyHeader(r io.Reader) (npyHeader, error) {
	var h npyHeader
	pre := make([]byte, 8)
	if _, err := io.ReadFull(r, pre); err != nil {
		return h, fmt.Errorf("npy: truncated preamble: %w", err)
	}
	if string(pre[:6]) != npyMagic {
		return h, errors.New("npy: bad magic (not a NumPy .npy file)")
	}
	var hlen int
	switch major := pre[6]; major {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return h, fmt.Errorf("npy: truncated header length: %w", err)
		}
		hlen = int(binary.LittleEndian.Uint16(b[:]))
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return h, fmt.Errorf("npy: truncated header length: %w", err)
		}
		hlen = int(binary.LittleEndian.Uint32(b[:]))
	default:
		return h, fmt.Errorf("npy: unsupported format version %d.%d", major, pre[7])
	}
	if hlen <= 0 || hlen > 1<<20 {
		return h, fmt.Errorf("npy: header length %d out of range", hlen)
	}
	hb := make([]byte, hlen)
	if _, err := io.ReadFull(r, hb); err != nil {
		return h, fmt.Errorf("npy: truncated header: %w", err)
	}
	return parseNpyDict(string(hb))
}

// parseNpyDict parses the Python literal dictionary of an .npy header, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (1000, 128), }.
func parseNpyDict(s string) (npyHeader, error) {
	var h npyHeader
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") {
		return h, fmt.Errorf("npy: header %q is not a dictionary", s)
	}
	body := s[1 : len(s)-1]
	seen := map[string]bool{}
	for body = strings.TrimSpace(body); body != ""; body = strings.TrimSpace(body) {
		key, rest, err := npyString(body)
		if err != nil {
			return h, fmt.Errorf("npy: header key: %w", err)
		}
		rest = strings.TrimSpace(rest)
		if !strings.HasPrefix(rest, ":") {
			return h, fmt.Errorf("npy: header: missing ':' after %q", key)
		}
		rest = strings.TrimSpace(rest[1:])
		switch key {
		case "descr":
			if strings.HasPrefix(rest, "[") {
				return h, errors.New("npy: structured dtype not supported; want a plain float32 array")
			}
			h.descr, rest, err = npyString(rest)
		case "fortran_order":
			switch {
			case strings.HasPrefix(rest, "False"):
				h.fortran, rest = false, rest[len("False"):]
			case strings.HasPrefix(rest, "True"):
				h.fortran, rest = true, rest[len("True"):]
			default:
				err = fmt.Errorf("fortran_order is not True or False")
			}
		case "shape":
			h.shape, rest, err = npyShape(rest)
		default:
			return h, fmt.Errorf("npy: header: unexpected key %q (structured arrays are not supported)", key)
		}
		if err != nil {
			return h, fmt.Errorf("npy: header %s: %w", key, err)
		}
		seen[key] = true
		rest = strings.TrimSpace(rest)
		rest = strings.TrimPrefix(rest, ",")
		body = rest
	}
	for _, k := range []string{"descr", "fortran_order", "shape"} {
		if !seen[k] {
			return h, fmt.Errorf("npy: header lacks %q", k)
		}
	}
	return h, nil
}

// npyString reads a single- or double-quoted Python string at the start of s.
func npyString(s string) (val, rest string, err error) {
	if s == "" || (s[0] != '\'' && s[0] != '"') {
		return "", s, fmt.Errorf("want a quoted string at %q", truncate(s, 20))
	}
	end := strings.IndexByte(s[1:], s[0])
	if end < 0 {
		return "", s, errors.New("unterminated string")
	}
	return s[1 : 1+end], s[2+end:], nil
}

// npyShape reads a Python tuple of non-negative integers at the start of s.
func npyShape(s string) (shape []int, rest string, err error) {
	if !strings.HasPrefix(s, "(") {
		return nil, s, errors.New("want a tuple")
	}
	end := strings.IndexByte(s, ')')
	if end < 0 {
		return nil, s, errors.New("unterminated tuple")
	}
	for _, part := range strings.Split(s[1:end], ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		part = strings.TrimSuffix(part, "L") // Python 2 longs
		v, err := strconv.Atoi(part)
		if err != nil || v < 0 {
			return nil, s, fmt.Errorf("bad dimension %q", part)
		}
		shape = append(shape, v)
	}
	return shape, s[end+1:], nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// check2D refuses headers that are not a C-order 2-D array.
func (h npyHeader) check2D() (rows, cols int, err error) {
	if h.fortran {
		return 0, 0, errors.New("npy: Fortran-order array not supported; save a C-order array (np.ascontiguousarray)")
	}
	if len(h.shape) != 2 {
		return 0, 0, fmt.Errorf("npy: array has %d dimensions %v, want 2 (rows, dim)", len(h.shape), h.shape)
	}
	rows, cols = h.shape[0], h.shape[1]
	if rows == 0 || cols == 0 {
		return 0, 0, fmt.Errorf("npy: empty array of shape %v", h.shape)
	}
	if cols > maxVecDim {
		return 0, 0, fmt.Errorf("npy: row length %d exceeds %d", cols, maxVecDim)
	}
	if uint64(rows)*uint64(cols) > 1<<34 {
		return 0, 0, fmt.Errorf("npy: array of shape %v is too large", h.shape)
	}
	return rows, cols, nil
}

// dtypeName describes an .npy descr for error messages.
func dtypeName(descr string) string {
	names := map[string]string{
		"f2": "float16", "f4": "float32", "f8": "float64",
		"i1": "int8", "i2": "int16", "i4": "int32", "i8": "int64",
		"u1": "uint8", "u2": "uint16", "u4": "uint32", "u8": "uint64", "b1": "bool",
	}
	if len(descr) == 3 {
		if n, ok := names[descr[1:]]; ok {
			if descr[0] == '>' {
				return "big-endian " + n
			}
			return n
		}
	}
	return descr
}

// ReadNpyFloat32 reads a 2-D C-order little-endian float32 .npy array as rows.
// Other dtypes, orders and shapes are refused with an error that says what
// the file holds. limit > 0 keeps only the first limit rows.
func ReadNpyFloat32(r io.Reader, limit int) ([][]float32, error) {
	h, err := readNpyHeader(r)
	if err != nil {
		return nil, err
	}
	if h.descr != "<f4" {
		return nil, fmt.Errorf("npy: dtype %s (%q) not supported; want float32 ('<f4'), e.g. arr.astype(np.float32)", dtypeName(h.descr), h.descr)
	}
	rows, cols, err := h.check2D()
	if err != nil {
		return nil, err
	}
	if limit > 0 && limit < rows {
		rows = limit
	}
	data := make([]float32, rows*cols)
	if err := readLE32(r, len(data), func(i int, u uint32) error {
		v := math.Float32frombits(u)
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("npy: row %d element %d is %v", i/cols, i%cols, v)
		}
		data[i] = v
		return nil
	}); err != nil {
		return nil, err
	}
	out := make([][]float32, rows)
	for i := range out {
		out[i] = data[i*cols : (i+1)*cols : (i+1)*cols]
	}
	return out, nil
}

// readLE32 reads n little-endian 32-bit words, passing each to set.
func readLE32(r io.Reader, n int, set func(i int, u uint32) error) error {
	buf := make([]byte, 1<<16)
	for i := 0; i < n; {
		want := min(len(buf), 4*(n-i))
		if _, err := io.ReadFull(r, buf[:want]); err != nil {
			return fmt.Errorf("npy: data truncated after %d of %d values: %w", i, n, err)
		}
		for j := 0; j < want; j += 4 {
			if err := set(i, binary.LittleEndian.Uint32(buf[j:])); err != nil {
				return err
			}
			i++
		}
	}
	return nil
}

// ReadNpyIDs reads a 2-D C-order little-endian int64 or int32 .npy array of
// ids. Negative ids are refused. limit > 0 keeps only the first limit rows.
func ReadNpyIDs(r io.Reader, limit int) ([][]uint64, error) {
	return readNpyIDs(r, limit, false)
}

// missingID stands for "no result" (-1 in FAISS output) when readNpyIDs is
// told to allow it. It never matches a ground-truth id.
const missingID = math.MaxUint64

// readNpyIDs is ReadNpyIDs; with allowMissing, -1 becomes missingID.
func readNpyIDs(r io.Reader, limit int, allowMissing bool) ([][]uint64, error) {
	h, err := readNpyHeader(r)
	if err != nil {
		return nil, err
	}
	var width int
	switch h.descr {
	case "<i8", "<u8":
		width = 8
	case "<i4":
		width = 4
	default:
		return nil, fmt.Errorf("npy: dtype %s (%q) not supported for ids; want int64 or int32", dtypeName(h.descr), h.descr)
	}
	rows, cols, err := h.check2D()
	if err != nil {
		return nil, err
	}
	if limit > 0 && limit < rows {
		rows = limit
	}
	data := make([]uint64, rows*cols)
	raw := make([]byte, width*cols)
	for i := range rows {
		if _, err := io.ReadFull(r, raw); err != nil {
			return nil, fmt.Errorf("npy: data truncated at row %d of %d: %w", i, rows, err)
		}
		for j := range cols {
			var v int64
			if width == 8 {
				v = int64(binary.LittleEndian.Uint64(raw[8*j:]))
				if h.descr == "<u8" && v < 0 {
					return nil, fmt.Errorf("npy: row %d: id %d too large", i, binary.LittleEndian.Uint64(raw[8*j:]))
				}
			} else {
				v = int64(int32(binary.LittleEndian.Uint32(raw[4*j:])))
			}
			switch {
			case v == -1 && allowMissing:
				data[i*cols+j] = missingID
			case v < 0:
				return nil, fmt.Errorf("npy: row %d: negative id %d", i, v)
			default:
				data[i*cols+j] = uint64(v)
			}
		}
	}
	out := make([][]uint64, rows)
	for i := range out {
		out[i] = data[i*cols : (i+1)*cols : (i+1)*cols]
	}
	return out, nil
}

// writeNpyHeader writes a version 1.0 header for a 2-D C-order array, padded
// with spaces so the data starts on a 64-byte boundary.
func writeNpyHeader(w io.Writer, descr string, rows, cols int) error {
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%d, %d), }", descr, rows, cols)
	total := len(npyMagic) + 2 + 2 + len(dict) + 1
	pad := (64 - total%64) % 64
	hdr := dict + strings.Repeat(" ", pad) + "\n"
	var b bytes.Buffer
	b.WriteString(npyMagic)
	b.Write([]byte{1, 0})
	binary.Write(&b, binary.LittleEndian, uint16(len(hdr)))
	b.WriteString(hdr)
	_, err := w.Write(b.Bytes())
	return err
}

// WriteNpyFloat32 writes rows (all of one length) as a 2-D float32 .npy array.
func WriteNpyFloat32(w io.Writer, rows [][]float32) error {
	if len(rows) == 0 || len(rows[0]) == 0 {
		return errors.New("npy: nothing to write")
	}
	cols := len(rows[0])
	bw := bufio.NewWriterSize(w, 1<<20)
	if err := writeNpyHeader(bw, "<f4", len(rows), cols); err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	var b [4]byte
	for i, r := range rows {
		if len(r) != cols {
			return fmt.Errorf("npy: row %d has length %d, want %d", i, len(r), cols)
		}
		for _, v := range r {
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
			bw.Write(b[:])
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	return nil
}

// WriteNpyIDs writes rows of ids (all of one length) as a 2-D int64 .npy array.
func WriteNpyIDs(w io.Writer, rows [][]uint64) error {
	if len(rows) == 0 || len(rows[0]) == 0 {
		return errors.New("npy: nothing to write")
	}
	cols := len(rows[0])
	bw := bufio.NewWriterSize(w, 1<<20)
	if err := writeNpyHeader(bw, "<i8", len(rows), cols); err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	var b [8]byte
	for i, r := range rows {
		if len(r) != cols {
			return fmt.Errorf("npy: row %d has length %d, want %d", i, len(r), cols)
		}
		for _, v := range r {
			if v > math.MaxInt64 {
				return fmt.Errorf("npy: row %d: id %d does not fit an int64", i, v)
			}
			binary.LittleEndian.PutUint64(b[:], v)
			bw.Write(b[:])
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	return nil
}
