package hnsw

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"mmsearch/index"
	"mmsearch/index/internal/testdata"
)

// roundTrip saves x, loads it back and checks the copy answers every query
// exactly as x does.
func roundTrip(t *testing.T, x *Index, queries [][]float32) *Index {
	t.Helper()
	var buf bytes.Buffer
	if err := x.Save(&buf); err != nil {
		t.Fatal(err)
	}
	y, err := Load(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if y.Len() != x.Len() || y.Deleted() != x.Deleted() || y.Dim() != x.Dim() || y.Metric() != x.Metric() {
		t.Fatalf("loaded Len/Deleted/Dim/Metric %d/%d/%d/%v, want %d/%d/%d/%v",
			y.Len(), y.Deleted(), y.Dim(), y.Metric(), x.Len(), x.Deleted(), x.Dim(), x.Metric())
	}
	if y.Config().M != x.Config().M || y.Config().EfConstruction != x.Config().EfConstruction || y.Config().EfSearch != x.Config().EfSearch {
		t.Fatalf("loaded config %+v, want %+v", y.Config(), x.Config())
	}
	for _, q := range queries {
		for _, ef := range []int{0, 20, 100} {
			a, err := x.Search(q, 10, index.SearchOptions{Ef: ef})
			if err != nil {
				t.Fatal(err)
			}
			b, err := y.Search(q, 10, index.SearchOptions{Ef: ef})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("ef=%d: loaded index answers\n%v\nwant\n%v", ef, b, a)
			}
		}
	}
	var again bytes.Buffer
	if err := y.Save(&again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Fatal("saving a loaded index gives different bytes")
	}
	return y
}

func TestSaveLoad(t *testing.T) {
	tests := []struct {
		name   string
		metric index.Metric
		n      int
		del    int // delete every del-th id; 0 deletes none
	}{
		{"empty", index.Cosine, 0, 0},
		{"one", index.Cosine, 1, 0},
		{"cosine", index.Cosine, 3000, 0},
		{"ip with deletes", index.InnerProduct, 2000, 5},
		{"l2 across chunks", index.L2, chunkSize + 100, 7},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, queries := testdata.MixtureWithQueries(20, max(tc.n, 1), 20, 16, 10, 0.05)
			x, err := New(16, Config{Metric: tc.metric, M: 8, EfConstruction: 50, EfSearch: 33, Seed: 9})
			if err != nil {
				t.Fatal(err)
			}
			for i := range tc.n {
				if err := x.Add(uint64(i)*3+1, data[i]); err != nil {
					t.Fatal(err)
				}
			}
			for i := 0; tc.del > 0 && i < tc.n; i += tc.del {
				if err := x.Delete(uint64(i)*3 + 1); err != nil {
					t.Fatal(err)
				}
			}
			y := roundTrip(t, x, queries)
			// The loaded index keeps working: add, delete, compact.
			if err := y.Add(999999, data[0]); err != nil {
				t.Fatal(err)
			}
			if res, _ := y.Search(data[0], 1, index.SearchOptions{}); len(res) == 0 || res[0].Distance > 1e-5 {
				t.Fatalf("search after add to a loaded index: %v", res)
			}
		})
	}
}

func TestSaveLoadFile(t *testing.T) {
	data := testdata.Mixture(22, 500, 8, 5, 0.05)
	x, _ := build(t, data, Config{Seed: 10})
	path := filepath.Join(t.TempDir(), "x.hnsw")
	if err := x.SaveFile(path); err != nil {
		t.Fatal(err)
	}
	y, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if y.Len() != 500 {
		t.Fatalf("Len = %d", y.Len())
	}
	if _, err := LoadFile(filepath.Join(t.TempDir(), "absent")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("LoadFile of a missing file: %v", err)
	}
}

// sectionBounds returns the byte ranges of a saved file's parts: the
// preamble and each section (header, payload and checksum).
func sectionBounds(t *testing.T, b []byte) [][2]int {
	t.Helper()
	bounds := [][2]int{{0, 12}}
	for off := 12; off < len(b); {
		if off+12 > len(b) {
			t.Fatalf("file ends inside a section header at %d", off)
		}
		n := int(binary.LittleEndian.Uint64(b[off+4:]))
		end := off + 12 + n + 4
		bounds = append(bounds, [2]int{off, end})
		off = end
	}
	return bounds
}

// TestLoadCorrupt truncates a saved file at many offsets and flips bytes in
// every section: each must give an error, never a panic or a silently
// different index.
func TestLoadCorrupt(t *testing.T) {
	data := testdata.Mixture(23, 300, 8, 5, 0.05)
	x, _ := build(t, data, Config{M: 4, Seed: 11})
	for id := uint64(0); id < 300; id += 9 {
		if err := x.Delete(id); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := x.Save(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	bounds := sectionBounds(t, good)
	if len(bounds) != 9 {
		t.Fatalf("found %d parts, want the preamble and 8 sections", len(bounds))
	}

	wantErr := func(t *testing.T, what string, b []byte, versionField bool) {
		t.Helper()
		_, err := Load(bytes.NewReader(b))
		switch {
		case err == nil:
			t.Fatalf("%s: Load succeeded", what)
		case errors.Is(err, index.ErrCorrupt):
		case versionField && errors.Is(err, index.ErrVersion):
		default:
			t.Fatalf("%s: error %v does not wrap ErrCorrupt", what, err)
		}
	}
	t.Run("truncate", func(t *testing.T) {
		offsets := []int{0, 1, 7, 8, 11, 12}
		for _, bd := range bounds {
			offsets = append(offsets, bd[0], bd[0]+1, bd[0]+4, bd[0]+12, bd[0]+13, (bd[0]+bd[1])/2, bd[1]-4, bd[1]-1)
		}
		for off := 0; off < len(good); off += 97 {
			offsets = append(offsets, off)
		}
		for _, off := range offsets {
			if off >= len(good) {
				continue
			}
			wantErr(t, "truncated at "+itoa(off), good[:off], false)
		}
	})
	t.Run("flip", func(t *testing.T) {
		for i, bd := range bounds {
			// Every byte of small parts, a stride through big ones, and
			// both ends of each.
			step := max(1, (bd[1]-bd[0])/200)
			for off := bd[0]; off < bd[1]; off += step {
				for _, o := range []int{off, min(off+1, bd[1]-1)} {
					b := bytes.Clone(good)
					b[o] ^= 0x5a
					wantErr(t, "part "+itoa(i)+" byte "+itoa(o)+" flipped", b, o >= 8 && o < 12)
				}
			}
			b := bytes.Clone(good)
			b[bd[1]-1] ^= 1
			wantErr(t, "part "+itoa(i)+" last byte flipped", b, i == 0)
		}
	})
	t.Run("version", func(t *testing.T) {
		b := bytes.Clone(good)
		binary.LittleEndian.PutUint32(b[8:], version+1)
		if _, err := Load(bytes.NewReader(b)); !errors.Is(err, index.ErrVersion) {
			t.Fatalf("future version: %v, want ErrVersion", err)
		}
	})
	t.Run("other format", func(t *testing.T) {
		b := bytes.Clone(good)
		copy(b, "MMSFLAT\x00")
		wantErr(t, "flat magic", b, false)
	})
}
