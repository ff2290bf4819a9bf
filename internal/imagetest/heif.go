package imagetest

import (
	"bytes"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// RequireHEIFTools returns the paths of heif-enc and heif-convert (Debian
// libheif-examples, installed by scripts/setup-debian-packages.sh test),
// skipping the test when they are missing.
func RequireHEIFTools(tb testing.TB) (enc, convert string) {
	tb.Helper()
	enc, err := exec.LookPath("heif-enc")
	if err != nil {
		tb.Skipf("heif-enc not found (Debian libheif-examples; run scripts/setup-debian-packages.sh test): %v", err)
	}
	convert, err = exec.LookPath("heif-convert")
	if err != nil {
		tb.Skipf("heif-convert not found (Debian libheif-examples; run scripts/setup-debian-packages.sh test): %v", err)
	}
	return enc, convert
}

// HEIF encodes img with heif-enc at quality (1..100): HEIC (x265), or AVIF
// when avif is set. It skips the test when heif-enc is missing.
func HEIF(tb testing.TB, img image.Image, quality int, avif bool) []byte {
	tb.Helper()
	return HEIFFrom(tb, PNG(tb, img), quality, avif)
}

// HEIFFrom is HEIF for an encoded PNG or JPEG; heif-enc copies a JPEG's
// Exif block into the HEIF file.
func HEIFFrom(tb testing.TB, src []byte, quality int, avif bool) []byte {
	tb.Helper()
	enc, _ := RequireHEIFTools(tb)
	dir := tb.TempDir()
	in := filepath.Join(dir, "in.png")
	if bytes.HasPrefix(src, []byte{0xFF, 0xD8}) {
		in = filepath.Join(dir, "in.jpg")
	}
	Write(tb, in, src)
	out := filepath.Join(dir, "out.heic")
	args := []string{"-q", strconv.Itoa(quality), "-o", out, in}
	if avif {
		out = filepath.Join(dir, "out.avif")
		args = []string{"-A", "-q", strconv.Itoa(quality), "-o", out, in}
	}
	if msg, err := exec.Command(enc, args...).CombinedOutput(); err != nil {
		tb.Fatalf("heif-enc %v: %v\n%s", args, err, msg)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// HEIFToPNG decodes a HEIF/AVIF file with heif-convert (libheif's own tool,
// which applies the container's transformations) and returns the PNG.
func HEIFToPNG(tb testing.TB, heif []byte) []byte {
	tb.Helper()
	_, convert := RequireHEIFTools(tb)
	dir := tb.TempDir()
	in, out := filepath.Join(dir, "in.heic"), filepath.Join(dir, "out.png")
	Write(tb, in, heif)
	if msg, err := exec.Command(convert, in, out).CombinedOutput(); err != nil {
		tb.Fatalf("heif-convert: %v\n%s", err, msg)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}
