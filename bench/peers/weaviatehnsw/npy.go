package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// maxNpyHeader bounds the header length a .npy file may declare.
const maxNpyHeader = 1 << 16

// maxNpyElements bounds the elements of a matrix read from a .npy file
// (2^31 float32 = 8 GiB), so a corrupt shape cannot demand any memory.
const maxNpyElements = 1 << 31

// readNpyFloat32 reads a 2-D little-endian float32 C-order .npy file (as
// `mmsearch bench ann` writes base.npy and queries.npy) into rows.
func readNpyFloat32(path string) ([][]float32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := decodeNpyFloat32(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return rows, nil
}

// decodeNpyFloat32 decodes the .npy stream of readNpyFloat32.
func decodeNpyFloat32(r io.Reader) ([][]float32, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, fmt.Errorf("npy preamble: %w", err)
	}
	if string(pre[:6]) != "\x93NUMPY" {
		return nil, errors.New("not a .npy file (bad magic)")
	}
	var hlen int
	switch pre[6] {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("npy header length: %w", err)
		}
		hlen = int(binary.LittleEndian.Uint16(b[:]))
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("npy header length: %w", err)
		}
		hlen = int(binary.LittleEndian.Uint32(b[:]))
	default:
		return nil, fmt.Errorf("npy version %d.%d not supported", pre[6], pre[7])
	}
	if hlen <= 0 || hlen > maxNpyHeader {
		return nil, fmt.Errorf("npy header of %d bytes, want 1..%d", hlen, maxNpyHeader)
	}
	hb := make([]byte, hlen)
	if _, err := io.ReadFull(r, hb); err != nil {
		return nil, fmt.Errorf("npy header: %w", err)
	}
	h := string(hb)
	descr, err := headerValue(h, "descr")
	if err != nil {
		return nil, err
	}
	if descr != "'<f4'" && descr != "'float32'" {
		return nil, fmt.Errorf("npy dtype %s, want '<f4' (float32)", descr)
	}
	order, err := headerValue(h, "fortran_order")
	if err != nil {
		return nil, err
	}
	if order != "False" {
		return nil, errors.New("npy in Fortran order, want C order")
	}
	shape, err := headerValue(h, "shape")
	if err != nil {
		return nil, err
	}
	n, dim, err := parseShape2(shape)
	if err != nil {
		return nil, err
	}
	if n < 1 || dim < 1 || n > maxNpyElements/dim {
		return nil, fmt.Errorf("npy shape (%d, %d): want at least one row and column, at most %d elements", n, dim, maxNpyElements)
	}
	flat := make([]float32, n*dim)
	buf := make([]byte, 4*dim)
	rows := make([][]float32, n)
	for i := range rows {
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, fmt.Errorf("npy row %d of %d: %w", i, n, err)
		}
		row := flat[i*dim : (i+1)*dim : (i+1)*dim]
		for j := range row {
			v := math.Float32frombits(binary.LittleEndian.Uint32(buf[4*j:]))
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("npy row %d column %d: %v is not a finite number", i, j, v)
			}
			row[j] = v
		}
		rows[i] = row
	}
	return rows, nil
}

// headerValue returns the text after 'key': in a .npy header dict, up to
// the next top-level comma or closing brace.
func headerValue(h, key string) (string, error) {
	i := strings.Index(h, "'"+key+"'")
	if i < 0 {
		return "", fmt.Errorf("npy header lacks %q", key)
	}
	rest := strings.TrimSpace(h[i+len(key)+2:])
	rest, ok := strings.CutPrefix(rest, ":")
	if !ok {
		return "", fmt.Errorf("npy header: no ':' after %q", key)
	}
	rest = strings.TrimSpace(rest)
	depth := 0
	for j, c := range rest {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case ',', '}':
			if depth == 0 {
				return strings.TrimSpace(rest[:j]), nil
			}
		}
	}
	return "", fmt.Errorf("npy header: unterminated value of %q", key)
}

// parseShape2 parses a two-element shape tuple such as "(1000, 512)".
func parseShape2(s string) (int, int, error) {
	inner, ok := strings.CutPrefix(s, "(")
	if ok {
		inner, ok = strings.CutSuffix(inner, ")")
	}
	if !ok {
		return 0, 0, fmt.Errorf("npy shape %s is not a tuple", s)
	}
	var dims []int
	for _, p := range strings.Split(inner, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return 0, 0, fmt.Errorf("npy shape %s: %q is not a size", s, p)
		}
		dims = append(dims, v)
	}
	if len(dims) != 2 {
		return 0, 0, fmt.Errorf("npy shape %s: want 2 dimensions, got %d", s, len(dims))
	}
	return dims[0], dims[1], nil
}

// writeNpyInt64 writes ids, every row k long, as a 2-D little-endian int64
// .npy file (the dtype the Python peers save and the Go side reads).
func writeNpyInt64(path string, ids [][]uint64, k int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	err = encodeNpyInt64(w, ids, k)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// encodeNpyInt64 is writeNpyInt64's encoder. A row shorter than k (an index
// that found fewer than k neighbours) is padded with -1, as FAISS does.
func encodeNpyInt64(w io.Writer, ids [][]uint64, k int) error {
	header := fmt.Sprintf("{'descr': '<i8', 'fortran_order': False, 'shape': (%d, %d), }", len(ids), k)
	// Pad with spaces so magic + version + length + header + '\n' is a
	// multiple of 64 bytes, as the format asks.
	total := 10 + len(header) + 1
	header += strings.Repeat(" ", (64-total%64)%64) + "\n"
	if len(header) > math.MaxUint16 {
		return errors.New("npy header too long")
	}
	var pre [10]byte
	copy(pre[:], "\x93NUMPY\x01\x00")
	binary.LittleEndian.PutUint16(pre[8:], uint16(len(header)))
	if _, err := w.Write(pre[:]); err != nil {
		return err
	}
	if _, err := io.WriteString(w, header); err != nil {
		return err
	}
	buf := make([]byte, 8*k)
	for i, row := range ids {
		if len(row) > k {
			return fmt.Errorf("row %d holds %d ids, more than k=%d", i, len(row), k)
		}
		for j := range k {
			v := int64(-1)
			if j < len(row) {
				if row[j] > math.MaxInt64 {
					return fmt.Errorf("row %d: id %d does not fit int64", i, row[j])
				}
				v = int64(row[j])
			}
			binary.LittleEndian.PutUint64(buf[8*j:], uint64(v))
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}
