package ingest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mmsearch/bench"
	"mmsearch/internal/imagetest"
	"mmsearch/internal/sharedtest"
)

// TestRunFormats makes 3 small photos as JPEG and HEIC (real heif-enc),
// ingests both sets with the tiny model and times one decode of each: every
// photo is indexed in both formats, the ratio is the two rates' quotient,
// the four decode timings are there, and the report names them. A second
// preparation reuses the files (none is written again).
func TestRunFormats(t *testing.T) {
	imagetest.RequireHEIFTools(t)
	src := sharedtest.Require(t, "../../../shared/images/formats")
	cfg := FormatsConfig{Src: src, Dir: t.TempDir(), N: 3, Width: 320, Height: 240, HEICQuality: 60, HEICPreset: "ultrafast",
		Model: tinyModel, Batch: 2, Rounds: 2, DecodeRuns: 2}
	r, res, err := RunFormats(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rounds) != 2 || res.Rounds[0].First != "jpeg" || res.Rounds[1].First != "heic" {
		t.Fatalf("rounds %+v", res.Rounds)
	}
	for i, rd := range res.Rounds {
		if rd.JPEG.Images != 3 || rd.HEIC.Images != 3 || rd.JPEG.PerSecond <= 0 || rd.HEIC.PerSecond <= 0 {
			t.Errorf("round %d: %+v", i, rd)
		}
		if rd.Ratio != rd.HEIC.PerSecond/rd.JPEG.PerSecond {
			t.Errorf("round %d: ratio %g", i, rd.Ratio)
		}
	}
	if len(res.Decode) != 4 {
		t.Fatalf("decode timings %+v", res.Decode)
	}
	for _, d := range res.Decode {
		if d.Runs != 2 || d.WallMs <= 0 || d.Bytes <= 0 {
			t.Errorf("decode %+v", d)
		}
	}
	if res.HEICBytes <= 0 || res.JPEGBytes <= 0 || !strings.HasPrefix(res.HEIFEnc, "heif-enc") {
		t.Errorf("sizes %d %d, heif-enc %q", res.JPEGBytes, res.HEICBytes, res.HEIFEnc)
	}
	var md bytes.Buffer
	if err := r.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ingest-heic-vs-jpeg", "HEIC/JPEG", "One picture decoded on one core", "preset=ultrafast"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, md.String())
		}
	}
	if f := r.Figures; f["ratio_heic_over_jpeg"] != res.Ratio || f["decode_one_core_heic_full_cpu_ms"] != res.decodeOf("heic", "full").CPUMs {
		t.Errorf("figures %v", f)
	}

	jpegDir, heicDir := FormatsDirs(cfg)
	if !strings.HasSuffix(heicDir, "heic-q60-ultrafast") {
		t.Errorf("HEIC folder %s does not name its settings", heicDir)
	}
	heic := filepath.Join(heicDir, "photo-0000.heic")
	old := time.Unix(1_000_000_000, 0)
	for _, p := range []string{heic, filepath.Join(jpegDir, "photo-0000.jpg")} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := PrepareFormats(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{heic, filepath.Join(jpegDir, "photo-0000.jpg")} {
		if fi, err := os.Stat(p); err != nil || !fi.ModTime().Equal(old) {
			t.Errorf("%s was written again by the second preparation", p)
		}
	}
}

// TestMakeHEICsErrors: no heif-enc is a clear error; a JPEG heif-enc cannot
// read fails with heif-enc's message and leaves no file, not even a
// temporary one.
func TestMakeHEICsErrors(t *testing.T) {
	_, err := bench.MakeHEICs(context.Background(), bench.HEICSet{JPEGDir: t.TempDir(), Out: t.TempDir(), Quality: 50, Encoder: "/nonexistent/heif-enc"})
	if !errors.Is(err, bench.ErrNoHEIFEnc) {
		t.Errorf("missing heif-enc: %v", err)
	}
	imagetest.RequireHEIFTools(t)
	in, out := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(in, "broken.jpg"), []byte("\xff\xd8 not really"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = bench.MakeHEICs(context.Background(), bench.HEICSet{JPEGDir: in, Out: out, Quality: 50, Preset: "ultrafast"})
	if err == nil || !strings.Contains(err.Error(), "heif-enc") {
		t.Fatalf("broken JPEG: %v", err)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("files left after a failed encode: %v", entries)
	}
	if _, err := bench.MakeHEICs(context.Background(), bench.HEICSet{JPEGDir: in, Out: out, Quality: 0}); err == nil {
		t.Error("quality 0 accepted")
	}
}
