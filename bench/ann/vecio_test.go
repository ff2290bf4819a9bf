package ann

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mmsearch/bench/peers"
)

var sampleRows = [][]float32{{1, -2, 3.5}, {0, 0.25, -1e-3}, {7, 8, 9}, {-1, -1, -1}}

func TestFvecsRoundTrip(t *testing.T) {
	var b bytes.Buffer
	if err := WriteFvecs(&b, sampleRows); err != nil {
		t.Fatal(err)
	}
	if b.Len() != 4*(4+4*3) {
		t.Fatalf("fvecs size %d, want %d", b.Len(), 4*(4+4*3))
	}
	for _, limit := range []int{0, 2, 10} {
		got, err := ReadFvecs(bytes.NewReader(b.Bytes()), limit)
		if err != nil {
			t.Fatal(err)
		}
		want := sampleRows
		if limit > 0 && limit < len(want) {
			want = want[:limit]
		}
		if !equalRows(got, want) {
			t.Errorf("limit %d: got %v, want %v", limit, got, want)
		}
	}
	ids := [][]uint64{{3, 1, 2}, {0, 7, 9}}
	b.Reset()
	if err := WriteIvecs(&b, ids); err != nil {
		t.Fatal(err)
	}
	got, err := ReadIvecs(&b, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(got, ids, slices.Equal) {
		t.Errorf("ivecs: got %v, want %v", got, ids)
	}
	if err := WriteIvecs(&bytes.Buffer{}, [][]uint64{{1 << 40}}); err == nil {
		t.Error("WriteIvecs accepted an id beyond int32")
	}
}

func TestNpyRoundTrip(t *testing.T) {
	var b bytes.Buffer
	if err := WriteNpyFloat32(&b, sampleRows); err != nil {
		t.Fatal(err)
	}
	// The data starts on a 64-byte boundary, as NumPy writes it.
	hlen := int(binary.LittleEndian.Uint16(b.Bytes()[8:10]))
	if (10+hlen)%64 != 0 || b.Len() != 10+hlen+4*12 {
		t.Errorf("header length %d, file %d bytes", hlen, b.Len())
	}
	for _, limit := range []int{0, 3} {
		got, err := ReadNpyFloat32(bytes.NewReader(b.Bytes()), limit)
		if err != nil {
			t.Fatal(err)
		}
		want := sampleRows
		if limit > 0 {
			want = want[:limit]
		}
		if !equalRows(got, want) {
			t.Errorf("limit %d: got %v, want %v", limit, got, want)
		}
	}
	ids := [][]uint64{{5, 4}, {1 << 40, 0}}
	b.Reset()
	if err := WriteNpyIDs(&b, ids); err != nil {
		t.Fatal(err)
	}
	got, err := ReadNpyIDs(&b, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(got, ids, slices.Equal) {
		t.Errorf("ids: got %v, want %v", got, ids)
	}
}

// npyFile builds an .npy file with the given header dictionary and data.
func npyFile(major byte, dict string, data []byte) []byte {
	var b bytes.Buffer
	b.WriteString(npyMagic)
	b.Write([]byte{major, 0})
	hdr := dict + "\n"
	if major == 1 {
		binary.Write(&b, binary.LittleEndian, uint16(len(hdr)))
	} else {
		binary.Write(&b, binary.LittleEndian, uint32(len(hdr)))
	}
	b.WriteString(hdr)
	b.Write(data)
	return b.Bytes()
}

func f32bytes(vs ...float32) []byte {
	b := make([]byte, 4*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

func TestNpyHeaderVariants(t *testing.T) {
	tests := []struct {
		name string
		file []byte
	}{
		{"v1", npyFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", f32bytes(1, 2, 3, 4))},
		{"v2, no trailing comma, key order", npyFile(2, "{'shape': (2, 2), 'fortran_order': False, 'descr': '<f4'}", f32bytes(1, 2, 3, 4))},
		{"v3 double quotes", npyFile(3, `{"descr": "<f4", "fortran_order": False, "shape": (2,2)}`, f32bytes(1, 2, 3, 4))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadNpyFloat32(bytes.NewReader(tt.file), 0)
			if err != nil {
				t.Fatal(err)
			}
			if !equalRows(got, [][]float32{{1, 2}, {3, 4}}) {
				t.Errorf("got %v", got)
			}
		})
	}
}

func TestMalformedRefused(t *testing.T) {
	le32 := func(vs ...int32) []byte {
		b := make([]byte, 4*len(vs))
		for i, v := range vs {
			binary.LittleEndian.PutUint32(b[4*i:], uint32(v))
		}
		return b
	}
	hdr := func(descr, order, shape string) string {
		return "{'descr': '" + descr + "', 'fortran_order': " + order + ", 'shape': " + shape + ", }"
	}
	fv := func(b []byte) ([][]float32, error) { return ReadFvecs(bytes.NewReader(b), 0) }
	iv := func(b []byte) ([][]uint64, error) { return ReadIvecs(bytes.NewReader(b), 0) }
	npf := func(b []byte) ([][]float32, error) { return ReadNpyFloat32(bytes.NewReader(b), 0) }
	npi := func(b []byte) ([][]uint64, error) { return ReadNpyIDs(bytes.NewReader(b), 0) }
	tests := []struct {
		name string
		read func() error
		want string
	}{
		{"fvecs empty", func() error { _, err := fv(nil); return err }, "no vectors"},
		{"fvecs half dimension", func() error { _, err := fv([]byte{3, 0}); return err }, "truncated dimension"},
		{"fvecs zero dimension", func() error { _, err := fv(le32(0)); return err }, "dimension 0 out of range"},
		{"fvecs negative dimension", func() error { _, err := fv(le32(-5, 1)); return err }, "dimension -5 out of range"},
		{"fvecs truncated vector", func() error { _, err := fv(append(le32(3), f32bytes(1, 2)...)); return err }, "vector 0: truncated"},
		{"fvecs ragged", func() error {
			_, err := fv(slices.Concat(le32(2), f32bytes(1, 2), le32(3), f32bytes(1, 2, 3)))
			return err
		}, "vector 1: dimension 3 differs from the first vector's 2"},
		{"fvecs NaN", func() error { _, err := fv(append(le32(1), f32bytes(float32(math.NaN()))...)); return err }, "not finite"},
		{"ivecs negative id", func() error { _, err := iv(le32(2, 1, -3)); return err }, "negative id -3"},
		{"npy bad magic", func() error { _, err := npf([]byte("PK\x03\x04 zip file.......")); return err }, "not a NumPy .npy file"},
		{"npy short", func() error { _, err := npf([]byte("\x93NUM")); return err }, "truncated preamble"},
		{"npy version 9", func() error { _, err := npf(npyFile(9, hdr("<f4", "False", "(1, 1)"), nil)); return err }, "unsupported format version 9"},
		{"npy float64", func() error { _, err := npf(npyFile(1, hdr("<f8", "False", "(1, 1)"), make([]byte, 8))); return err }, "dtype float64 (\"<f8\") not supported; want float32"},
		{"npy big-endian", func() error { _, err := npf(npyFile(1, hdr(">f4", "False", "(1, 1)"), make([]byte, 4))); return err }, "big-endian float32"},
		{"npy int8", func() error { _, err := npf(npyFile(1, hdr("|i1", "False", "(1, 1)"), make([]byte, 1))); return err }, "not supported"},
		{"npy fortran", func() error {
			_, err := npf(npyFile(1, hdr("<f4", "True", "(2, 2)"), f32bytes(1, 2, 3, 4)))
			return err
		}, "Fortran-order"},
		{"npy 1-D", func() error { _, err := npf(npyFile(1, hdr("<f4", "False", "(4,)"), f32bytes(1, 2, 3, 4))); return err }, "1 dimensions [4], want 2"},
		{"npy 3-D", func() error {
			_, err := npf(npyFile(1, hdr("<f4", "False", "(1, 2, 2)"), f32bytes(1, 2, 3, 4)))
			return err
		}, "3 dimensions"},
		{"npy empty", func() error { _, err := npf(npyFile(1, hdr("<f4", "False", "(0, 4)"), nil)); return err }, "empty array"},
		{"npy truncated data", func() error { _, err := npf(npyFile(1, hdr("<f4", "False", "(2, 2)"), f32bytes(1, 2, 3))); return err }, "truncated after"},
		{"npy structured", func() error {
			_, err := npf(npyFile(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", nil))
			return err
		}, "structured dtype not supported"},
		{"npy missing shape", func() error { _, err := npf(npyFile(1, "{'descr': '<f4', 'fortran_order': False}", nil)); return err }, "lacks \"shape\""},
		{"npy unknown key", func() error { _, err := npf(npyFile(1, "{'descr': '<f4', 'extra': 1}", nil)); return err }, "unexpected key \"extra\""},
		{"npy not a dict", func() error { _, err := npf(npyFile(1, "hello", nil)); return err }, "not a dictionary"},
		{"npy bad shape", func() error { _, err := npf(npyFile(1, hdr("<f4", "False", "(2, x)"), nil)); return err }, "bad dimension"},
		{"npy NaN", func() error {
			_, err := npf(npyFile(1, hdr("<f4", "False", "(1, 1)"), f32bytes(float32(math.Inf(1)))))
			return err
		}, "row 0 element 0 is +Inf"},
		{"npy ids float", func() error { _, err := npi(npyFile(1, hdr("<f4", "False", "(1, 1)"), f32bytes(1))); return err }, "not supported for ids"},
		{"npy ids negative", func() error { _, err := npi(npyFile(1, hdr("<i4", "False", "(1, 2)"), le32(3, -1))); return err }, "negative id -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.read()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
	// The peers' "no result" (-1) is accepted only where the caller allows it.
	b := npyFile(1, hdr("<i8", "False", "(1, 2)"), append(make([]byte, 8), bytes.Repeat([]byte{0xff}, 8)...))
	ids, err := readNpyIDs(bytes.NewReader(b), 0, true)
	if err != nil || len(ids) != 1 || ids[0][0] != 0 || ids[0][1] != missingID {
		t.Errorf("readNpyIDs(allow missing) = %v, %v", ids, err)
	}
}

func TestLoadFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, fn func(*bytes.Buffer) error) string {
		t.Helper()
		var b bytes.Buffer
		if err := fn(&b); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fp := write("a.fvecs", func(b *bytes.Buffer) error { return WriteFvecs(b, sampleRows) })
	np := write("a.NPY", func(b *bytes.Buffer) error { return WriteNpyFloat32(b, sampleRows) })
	for _, p := range []string{fp, np} {
		got, err := LoadVectors(p, 3)
		if err != nil {
			t.Fatal(err)
		}
		if !equalRows(got, sampleRows[:3]) {
			t.Errorf("LoadVectors(%s) = %v", filepath.Base(p), got)
		}
	}
	truth := [][]uint64{{1, 2}, {3, 0}}
	ip := write("gt.ivecs", func(b *bytes.Buffer) error { return WriteIvecs(b, truth) })
	tp := write("gt.npy", func(b *bytes.Buffer) error { return WriteNpyIDs(b, truth) })
	for _, p := range []string{ip, tp} {
		got, err := LoadTruth(p, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.EqualFunc(got, truth, slices.Equal) {
			t.Errorf("LoadTruth(%s) = %v", filepath.Base(p), got)
		}
	}
	bad := write("x.csv", func(b *bytes.Buffer) error { b.WriteString("1,2\n"); return nil })
	if _, err := LoadVectors(bad, 0); err == nil || !strings.Contains(err.Error(), `unknown extension ".csv"`) {
		t.Errorf("LoadVectors(.csv) error = %v", err)
	}
	if _, err := LoadTruth(fp, 0); err == nil || !strings.Contains(err.Error(), "want .ivecs or .npy") {
		t.Errorf("LoadTruth(.fvecs) error = %v", err)
	}
	if _, err := LoadVectors(filepath.Join(dir, "missing.npy"), 0); err == nil || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadVectors(missing) error = %v", err)
	}
	trunc := write("t.fvecs", func(b *bytes.Buffer) error { return WriteFvecs(b, sampleRows) })
	raw, _ := os.ReadFile(trunc)
	os.WriteFile(trunc, raw[:len(raw)-2], 0o644)
	if _, err := LoadVectors(trunc, 0); err == nil || !strings.Contains(err.Error(), "t.fvecs") || !strings.Contains(err.Error(), "vector 3: truncated") {
		t.Errorf("LoadVectors(truncated) error = %v, want the file and vector named", err)
	}
}

// TestNpyNumpyInterop checks our .npy files against NumPy itself, when
// Debian's Python with NumPy is installed.
func TestNpyNumpyInterop(t *testing.T) {
	if err := exec.Command(peers.DefaultPython, "-c", "import numpy").Run(); err != nil {
		t.Skipf("%s with numpy not available (%v); skipping the NumPy interop check", peers.DefaultPython, err)
	}
	dir := t.TempDir()
	ours := filepath.Join(dir, "ours.npy")
	var b bytes.Buffer
	if err := WriteNpyFloat32(&b, sampleRows); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ours, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	script := `
import sys, numpy as np
a = np.load(sys.argv[1])
assert a.dtype == np.float32 and a.shape == (4, 3), (a.dtype, a.shape)
assert a[0, 2] == 3.5 and a[1, 2] == np.float32(-1e-3)
np.save(sys.argv[2], (a * 2).astype(np.float32))
np.save(sys.argv[3], np.array([[1, 2], [3, 4]], dtype=np.int64))
np.save(sys.argv[4], np.asfortranarray(a))
np.save(sys.argv[5], a.astype(np.float64))
`
	names := []string{"theirs.npy", "ids.npy", "fortran.npy", "f64.npy"}
	args := []string{"-c", script, ours}
	for _, n := range names {
		args = append(args, filepath.Join(dir, n))
	}
	if out, err := exec.Command(peers.DefaultPython, args...).CombinedOutput(); err != nil {
		t.Fatalf("numpy could not read our file: %v\n%s", err, out)
	}
	got, err := LoadVectors(filepath.Join(dir, "theirs.npy"), 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range sampleRows {
		for j := range sampleRows[i] {
			if got[i][j] != 2*sampleRows[i][j] {
				t.Fatalf("row %d = %v, want twice %v", i, got[i], sampleRows[i])
			}
		}
	}
	ids, err := LoadTruth(filepath.Join(dir, "ids.npy"), 0)
	if err != nil || !slices.EqualFunc(ids, [][]uint64{{1, 2}, {3, 4}}, slices.Equal) {
		t.Errorf("ids = %v, %v", ids, err)
	}
	// np.asfortranarray of a 4×3 array saves with fortran_order True.
	if _, err := LoadVectors(filepath.Join(dir, "fortran.npy"), 0); err == nil || !strings.Contains(err.Error(), "Fortran-order") {
		t.Errorf("Fortran-order file: error = %v", err)
	}
	if _, err := LoadVectors(filepath.Join(dir, "f64.npy"), 0); err == nil || !strings.Contains(err.Error(), "float64") {
		t.Errorf("float64 file: error = %v", err)
	}
}
