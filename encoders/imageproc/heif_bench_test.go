package imageproc

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"mmsearch/internal/imagetest"
)

// BenchmarkDecode12MP decodes one 4032×3024 picture (an iPhone's 12 MP)
// stored as HEIC (libheif + libde265) and as JPEG (libjpeg-turbo): "full"
// is a full-resolution decode (Decode), "tensor" the ingest's path to a CLIP
// 224 tensor (DecodeTensor; JPEGs are decoded at reduced resolution there,
// HEVC has no such shortcut). Run it on one core for per-core figures:
//
//	taskset -c 0 go test -run '^$' -bench Decode12MP -cpu 1 -benchtime 5x ./encoders/imageproc
func BenchmarkDecode12MP(b *testing.B) {
	if !HEIFCompiled || !turboCompiled {
		b.Skip("needs libheif and libjpeg-turbo built in")
	}
	const w, h = 4032, 3024
	dir := b.TempDir()
	jpgPath := filepath.Join(dir, "12mp.jpg")
	writeBigJPEG(b, jpgPath, w, h, 3)
	jpg, err := os.ReadFile(jpgPath)
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	heic := imagetest.HEIFFrom(b, jpg, 85, false)
	b.Logf("heif-enc took %v; JPEG %d bytes, HEIC %d bytes", time.Since(t0).Round(time.Millisecond), len(jpg), len(heic))
	p := CLIP(224)
	dst := make([]float32, p.Len())
	for _, f := range []struct {
		name string
		data []byte
	}{{"heic", heic}, {"jpeg", jpg}} {
		b.Run(f.name+"/full", func(b *testing.B) {
			cpu0 := cpuTime(b)
			for b.Loop() {
				img, info, err := Decode(bytes.NewReader(f.data), f.name, int64(len(f.data)), Options{MaxPixels: 13_000_000})
				if err != nil {
					b.Fatal(err)
				}
				if info.Width != w || img.Rect.Dx() != w {
					b.Fatalf("decoded %v, %+v", img.Rect, info)
				}
			}
			b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/img")
		})
		b.Run(f.name+"/tensor", func(b *testing.B) {
			cpu0 := cpuTime(b)
			for b.Loop() {
				if _, err := DecodeTensor(bytes.NewReader(f.data), f.name, int64(len(f.data)), Options{}, p, dst); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/img")
		})
	}
}
