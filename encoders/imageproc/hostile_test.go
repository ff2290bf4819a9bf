package imageproc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/png"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pngWithHeader builds a PNG holding only an IHDR claiming w×h RGB pixels
// (with a valid CRC) and IEND: no pixel data at all.
func pngWithHeader(w, h uint32) []byte {
	var buf bytes.Buffer
	buf.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		_ = binary.Write(&buf, binary.BigEndian, uint32(len(data)))
		crc := crc32.NewIEEE()
		crc.Write([]byte(typ))
		crc.Write(data)
		buf.WriteString(typ)
		buf.Write(data)
		_ = binary.Write(&buf, binary.BigEndian, crc.Sum32())
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	chunk("IHDR", ihdr)
	chunk("IEND", nil)
	return buf.Bytes()
}

func smallPNG(t testing.TB) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, 64, 64))
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range img.Pix {
		img.Pix[i] = uint8(rng.IntN(256))
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestHostileInput(t *testing.T) {
	jpg := quadrantJPEG(t, 64, 64)
	pngData := smallPNG(t)
	random := make([]byte, 4096)
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range random {
		random[i] = uint8(rng.IntN(256))
	}
	random[0] = 'x' // not accidentally a magic number
	tests := []struct {
		name string
		data []byte
		opt  Options
		want []error // every one must match with errors.Is
		text string  // the message must contain it
	}{
		{"zero-byte file", nil, Options{}, []error{ErrEmpty, ErrNotImage}, "empty file"},
		{"truncated JPEG", jpg[:len(jpg)*6/10], Options{}, []error{ErrCorrupt, io.ErrUnexpectedEOF}, "truncated"},
		{"truncated JPEG, pure Go", jpg[:len(jpg)*6/10], Options{PureGo: true}, []error{ErrCorrupt, io.ErrUnexpectedEOF}, "truncated"},
		{"JPEG cut inside its header", jpg[:30], Options{}, []error{ErrCorrupt, io.ErrUnexpectedEOF}, "truncated"},
		{"truncated PNG", pngData[:len(pngData)/2], Options{}, []error{ErrCorrupt, io.ErrUnexpectedEOF}, "truncated"},
		{"PNG header claims 100000×100000", pngWithHeader(100000, 100000), Options{}, []error{ErrTooLarge}, "10000000000 pixels"},
		{"PNG over a small pixel limit", pngData, Options{MaxPixels: 64*64 - 1}, []error{ErrTooLarge}, "4096 pixels"},
		{"file over the size limit", pngData, Options{MaxFileBytes: int64(len(pngData)) - 1}, []error{ErrTooLarge}, "bytes"},
		{"random bytes", random, Options{}, []error{ErrNotImage}, "unknown format"},
		{"random bytes after a JPEG magic", append([]byte{0xFF, 0xD8, 0xFF, 0xDB}, random...), Options{}, []error{ErrCorrupt}, "corrupt"},
		{"random bytes after a PNG signature", append([]byte("\x89PNG\r\n\x1a\n"), random...), Options{}, []error{ErrCorrupt}, "corrupt"},
		{"GIF header only", []byte("GIF89a\x10\x00\x10\x00\x00\x00\x00"), Options{}, []error{ErrCorrupt}, "corrupt"},
	}
	dir := t.TempDir()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name)
			if err := os.WriteFile(path, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			p := CLIP(32)
			dst := make([]float32, p.Len())
			loaders := map[string]func() error{
				"Load": func() error { _, _, err := Load(path, tt.opt); return err },
				"Decode": func() error {
					_, _, err := Decode(bytes.NewReader(tt.data), path, -1, tt.opt)
					return err
				},
				"LoadTensor": func() error { _, err := LoadTensor(path, tt.opt, p, dst); return err },
			}
			for name, load := range loaders {
				err := load()
				if err == nil {
					t.Fatalf("%s: no error", name)
				}
				for _, w := range tt.want {
					if !errors.Is(err, w) {
						t.Errorf("%s: %v; want errors.Is %v", name, err, w)
					}
				}
				var e *Error
				if !errors.As(err, &e) || e.Name != path {
					t.Errorf("%s: %v is not an *Error naming %q", name, err, path)
				}
				if !strings.Contains(err.Error(), tt.text) || !strings.Contains(err.Error(), tt.name) {
					t.Errorf("%s: message %q should contain %q and the file name", name, err, tt.text)
				}
			}
		})
		_ = i
	}
}

// TestPixelLimitBeforeDecoding shows that the pixel limit is applied from
// the header: the same header-only PNG is refused as too large, and only
// with a raised limit does decoding start (and find no pixel data).
func TestPixelLimitBeforeDecoding(t *testing.T) {
	data := pngWithHeader(100000, 100000)
	_, _, err := Decode(bytes.NewReader(data), "big.png", int64(len(data)), Options{})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
	small := pngWithHeader(100, 100)
	_, _, err = Decode(bytes.NewReader(small), "small.png", int64(len(small)), Options{})
	if !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrCorrupt (decoding started, no IDAT)", err)
	}
}

func TestSizeLimitBeforeReading(t *testing.T) {
	// A reader that fails if read: the declared size alone refuses it.
	_, _, err := Decode(failingReader{}, "huge.jpg", 1<<40, Options{})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
	// An unknown size is enforced while reading.
	data := bytes.Repeat([]byte{0xFF}, 2048)
	_, _, err = Decode(bytes.NewReader(data), "stream", -1, Options{MaxFileBytes: 1024})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("must not be read") }

func TestFileErrors(t *testing.T) {
	dir := t.TempDir()
	_, _, err := Load(filepath.Join(dir, "missing.jpg"), Options{})
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "missing.jpg") {
		t.Errorf("missing file: %v", err)
	}
	_, _, err = Load(dir, Options{})
	if !errors.Is(err, ErrNotImage) || !strings.Contains(err.Error(), "directory") {
		t.Errorf("directory: %v", err)
	}
	// A reader error is passed on.
	_, _, err = Decode(failingReader{}, "r", -1, Options{})
	if err == nil || !strings.Contains(err.Error(), "must not be read") {
		t.Errorf("reader error: %v", err)
	}
}

func TestRecoveredPanic(t *testing.T) {
	err := recovered(func() error { panic("index out of range") })
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "index out of range") {
		t.Fatalf("got %v", err)
	}
	if err := recovered(func() error { return nil }); err != nil {
		t.Fatalf("got %v", err)
	}
}
