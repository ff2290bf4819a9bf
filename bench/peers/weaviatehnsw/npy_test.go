package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
)

// npyFloat builds a .npy float32 stream with the given header dict.
func npyFloat(header string, vals []float32) []byte {
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	h := header + "\n"
	binary.Write(&b, binary.LittleEndian, uint16(len(h)))
	b.WriteString(h)
	binary.Write(&b, binary.LittleEndian, vals)
	return b.Bytes()
}

func writeFloatNpy(t *testing.T, path string, rows [][]float32) {
	t.Helper()
	var flat []float32
	for _, r := range rows {
		flat = append(flat, r...)
	}
	h := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", len(rows), len(rows[0]))
	if err := os.WriteFile(path, npyFloat(h, flat), 0o644); err != nil {
		t.Fatal(err)
	}
}

// readInt64Npy reads what writeNpyInt64 wrote, checking the header.
func readInt64Npy(t *testing.T, path string, rows, cols int) [][]uint64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 10 || string(b[:8]) != "\x93NUMPY\x01\x00" {
		t.Fatalf("%s: bad preamble", path)
	}
	hl := int(binary.LittleEndian.Uint16(b[8:10]))
	if (10+hl)%64 != 0 {
		t.Errorf("%s: data starts at %d, not 64-aligned", path, 10+hl)
	}
	h := string(b[10 : 10+hl])
	want := fmt.Sprintf("{'descr': '<i8', 'fortran_order': False, 'shape': (%d, %d), }", rows, cols)
	if !strings.HasPrefix(h, want) || !strings.HasSuffix(h, "\n") {
		t.Fatalf("%s: header %q, want %q", path, h, want)
	}
	data := b[10+hl:]
	if len(data) != 8*rows*cols {
		t.Fatalf("%s: %d data bytes, want %d", path, len(data), 8*rows*cols)
	}
	out := make([][]uint64, rows)
	for i := range out {
		out[i] = make([]uint64, cols)
		for j := range out[i] {
			out[i][j] = binary.LittleEndian.Uint64(data[8*(i*cols+j):])
		}
	}
	return out
}

func TestDecodeNpyFloat32(t *testing.T) {
	good := "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
	rows, err := decodeNpyFloat32(bytes.NewReader(npyFloat(good, []float32{1, 2, 3, 4, 5, 6})))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[1][2] != 6 || rows[0][0] != 1 {
		t.Fatalf("rows %v", rows)
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"magic", []byte("PK\x03\x04 not npy"), "bad magic"},
		{"dtype", npyFloat("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1), }", []float32{0, 0}), "'<f8'"},
		{"fortran", npyFloat("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 1), }", []float32{0}), "Fortran"},
		{"1-D", npyFloat("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", []float32{0, 0, 0}), "want 2 dimensions"},
		{"empty", npyFloat("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4), }", nil), "at least one row"},
		{"huge", npyFloat("{'descr': '<f4', 'fortran_order': False, 'shape': (100000000, 100000), }", nil), "at most"},
		{"truncated", npyFloat(good, []float32{1, 2, 3, 4}), "row 1 of 2"},
		{"nan", npyFloat(good, []float32{1, 2, float32(math.NaN()), 4, 5, 6}), "not a finite number"},
		{"no shape", npyFloat("{'descr': '<f4', 'fortran_order': False, }", nil), `lacks "shape"`},
	} {
		_, err := decodeNpyFloat32(bytes.NewReader(tc.data))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

func TestWriteNpyInt64(t *testing.T) {
	path := t.TempDir() + "/ids.npy"
	// A short row (fewer results than k) is padded with -1.
	if err := writeNpyInt64(path, [][]uint64{{3, 1, 2}, {7, 9}}, 3); err != nil {
		t.Fatal(err)
	}
	got := readInt64Npy(t, path, 2, 3)
	if got[0][0] != 3 || got[0][2] != 2 || got[1][1] != 9 || int64(got[1][2]) != -1 {
		t.Errorf("ids %v", got)
	}
	if err := writeNpyInt64(path, [][]uint64{{1, 2, 3, 4}}, 3); err == nil || !strings.Contains(err.Error(), "more than k=3") {
		t.Errorf("over-long row: %v", err)
	}
}
