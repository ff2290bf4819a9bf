package format

import (
	"bytes"
	"errors"
	"io"
	"math"
	"slices"
	"testing"

	"mmsearch/index"
)

const testMagic = "TESTFMT\x00"

var (
	tagA = MakeTag("AAAA")
	tagB = MakeTag("BBBB")
)

// sample writes one section of scalars and one of slices, raw or portable.
func sample(t *testing.T, portable bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf, testMagic, 3)
	w.Begin(tagA, 1+4+8+8+8+3)
	w.U8(7)
	w.U32(0xdeadbeef)
	w.U64(1 << 40)
	w.I64(-5)
	w.F64(math.Pi)
	w.Bytes([]byte("xyz"))
	w.End()
	f := []float32{1.5, -2, float32(math.Inf(1)), 0}
	u := []uint32{1, 2, math.MaxUint32}
	v := []uint64{math.MaxUint64, 0}
	w.Begin(tagB, 4*4+3*4+2*8)
	if portable {
		w.float32sPortable(f)
		w.uint32sPortable(u)
		w.uint64sPortable(v)
	} else {
		w.Float32s(f)
		w.Uint32s(u)
		w.Uint64s(v)
	}
	w.End()
	if err := w.Err(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readSample(b []byte, portable bool) error {
	r, ver, err := NewReader(bytes.NewReader(b), testMagic, 1, 3)
	if err != nil {
		return err
	}
	r.BeginExact(tagA, 1+4+8+8+8+3)
	a, b32, b64, i64, f64 := r.U8(), r.U32(), r.U64(), r.I64(), r.F64()
	xyz := make([]byte, 3)
	r.Bytes(xyz)
	if err := r.End(); err != nil {
		return err
	}
	if a != 7 || b32 != 0xdeadbeef || b64 != 1<<40 || i64 != -5 || f64 != math.Pi || string(xyz) != "xyz" {
		return errors.New("scalars differ")
	}
	r.BeginExact(tagB, 4*4+3*4+2*8)
	f, u, v := make([]float32, 4), make([]uint32, 3), make([]uint64, 2)
	if portable {
		r.float32sPortable(f)
		r.uint32sPortable(u)
		r.uint64sPortable(v)
	} else {
		r.Float32s(f)
		r.Uint32s(u)
		r.Uint64s(v)
	}
	if err := r.End(); err != nil {
		return err
	}
	if !slices.Equal(f, []float32{1.5, -2, float32(math.Inf(1)), 0}) || !slices.Equal(u, []uint32{1, 2, math.MaxUint32}) || !slices.Equal(v, []uint64{math.MaxUint64, 0}) {
		return errors.New("slices differ")
	}
	if ver != 3 {
		return errors.New("wrong version")
	}
	return nil
}

func TestRoundTrip(t *testing.T) {
	raw, portable := sample(t, false), sample(t, true)
	if !bytes.Equal(raw, portable) {
		t.Fatal("raw and portable encodings differ")
	}
	for _, tc := range []struct {
		name     string
		portable bool
	}{{"raw", false}, {"portable", true}} {
		t.Run(tc.name, func(t *testing.T) {
			if err := readSample(raw, tc.portable); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestDamage(t *testing.T) {
	good := sample(t, false)
	for off := range good {
		if err := readSample(good[:off], false); !errors.Is(err, index.ErrCorrupt) {
			t.Fatalf("truncated at %d: %v", off, err)
		}
		for _, bit := range []byte{1, 0x80} {
			b := bytes.Clone(good)
			b[off] ^= bit
			err := readSample(b, false)
			// A version byte flipped to another readable version is caught
			// by the section checksums, which cover the preamble.
			if off >= 8 && off < 12 {
				if !errors.Is(err, index.ErrVersion) && !errors.Is(err, index.ErrCorrupt) {
					t.Fatalf("version byte %d flipped: %v", off, err)
				}
				continue
			}
			if !errors.Is(err, index.ErrCorrupt) {
				t.Fatalf("byte %d flipped: %v", off, err)
			}
		}
	}
}

func TestVersionAndMagic(t *testing.T) {
	good := sample(t, false)
	if _, _, err := NewReader(bytes.NewReader(good), testMagic, 4, 5); !errors.Is(err, index.ErrVersion) {
		t.Fatalf("old version: %v", err)
	}
	if _, _, err := NewReader(bytes.NewReader(good), "OTHERFMT", 1, 3); !errors.Is(err, index.ErrCorrupt) {
		t.Fatalf("other magic: %v", err)
	}
}

func TestSectionLimits(t *testing.T) {
	good := sample(t, false)
	r, _, err := NewReader(bytes.NewReader(good), testMagic, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	if r.Begin(tagA, 10); !errors.Is(r.Err(), index.ErrCorrupt) {
		t.Fatalf("oversized section accepted: %v", r.Err())
	}
	r, _, _ = NewReader(bytes.NewReader(good), testMagic, 1, 3)
	if r.Begin(tagB, 1000); !errors.Is(r.Err(), index.ErrCorrupt) {
		t.Fatalf("wrong tag accepted: %v", r.Err())
	}
	r, _, _ = NewReader(bytes.NewReader(good), testMagic, 1, 3)
	r.BeginExact(tagA, 32)
	r.U8()
	if err := r.End(); !errors.Is(err, index.ErrCorrupt) {
		t.Fatalf("unread bytes accepted: %v", err)
	}
}

type failWriter struct{ after int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.after < len(p) {
		return 0, io.ErrShortWrite
	}
	f.after -= len(p)
	return len(p), nil
}

func TestWriterErrors(t *testing.T) {
	tests := []struct {
		name  string
		write func(w *Writer)
	}{
		{"short section", func(w *Writer) { w.Begin(tagA, 8); w.U32(1); w.End() }},
		{"long section", func(w *Writer) { w.Begin(tagA, 2); w.U32(1) }},
		{"payload outside", func(w *Writer) { w.U32(1) }},
		{"nested", func(w *Writer) { w.Begin(tagA, 4); w.Begin(tagB, 4) }},
		{"end without begin", func(w *Writer) { w.End() }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := NewWriter(io.Discard, testMagic, 1)
			tc.write(w)
			if w.Err() == nil {
				t.Fatal("no error")
			}
		})
	}
	w := NewWriter(&failWriter{after: 14}, testMagic, 1)
	w.Begin(tagA, 4)
	w.U32(1)
	w.End()
	if !errors.Is(w.Err(), io.ErrShortWrite) {
		t.Fatalf("write failure not reported: %v", w.Err())
	}
	if w := NewWriter(io.Discard, "short", 1); w.Err() == nil {
		t.Fatal("bad magic accepted")
	}
}

func TestTagString(t *testing.T) {
	if s := MakeTag("HEAD").String(); s != "HEAD" {
		t.Fatalf("tag string %q", s)
	}
	if s := Tag(0x01020304).String(); s != "0x01020304" {
		t.Fatalf("binary tag string %q", s)
	}
}
