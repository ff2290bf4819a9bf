package bench

import (
	"bufio"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"sort"

	"github.com/disintegration/imaging"

	"mmsearch/encoders/imageproc"

	"mmsearch/internal/atomicfile"
)

// Collection describes a generated benchmark collection.
type Collection struct {
	Src       string // folder of source pictures
	Out       string // folder to write into
	N         int    // number of files
	Width     int    // pixels
	Height    int    // pixels
	Format    string // "jpeg" (quality 90) or "png"
	PerFolder int    // files per sub-folder of Out (0 = all in Out)
}

// MakeBigJPEGs writes n distinct width×height JPEGs into out, made from the
// pictures in src (see MakeCollection).
func MakeBigJPEGs(ctx context.Context, src, out string, n, width, height int) (int, error) {
	return MakeCollection(ctx, Collection{Src: src, Out: out, N: n, Width: width, Height: height, Format: "jpeg"})
}

// MakeCollection writes c.N distinct pictures made from the images in c.Src:
// each source is scaled to cover the size, centre-cropped, and varied per
// copy (mirroring, brightness, a marked corner) so no two files share
// content (the mark inverts the red channel of one cell per bit, so two
// copies of one source differ even where it is white). It returns how many files there are; existing files are kept, so
// a second call costs nothing.
func MakeCollection(ctx context.Context, c Collection) (int, error) {
	if c.Format != "jpeg" && c.Format != "png" {
		return 0, fmt.Errorf("make collection: format %q, want jpeg or png", c.Format)
	}
	if c.Width < 16 || c.Height < 16 {
		return 0, fmt.Errorf("make collection: %dx%d is smaller than 16x16", c.Width, c.Height)
	}
	entries, err := os.ReadDir(c.Src)
	if err != nil {
		return 0, fmt.Errorf("make collection: %w", err)
	}
	var sources []image.Image
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, name := range names {
		img, _, err := imageproc.Load(filepath.Join(c.Src, name), imageproc.Options{})
		if err == nil && img.Bounds().Dx() >= 64 && img.Bounds().Dy() >= 64 {
			sources = append(sources, img)
		}
	}
	if len(sources) == 0 {
		return 0, fmt.Errorf("make collection: no usable images in %s", c.Src)
	}
	name := map[string]string{"jpeg": "photo-%04d.jpg", "png": "image-%05d.png"}[c.Format]
	// The corner mark: one cell per bit of the copy's number.
	bits := 1
	for 1<<bits < c.N {
		bits++
	}
	cell := max(1, min(8, c.Width/bits))
	for i := 0; i < c.N; i++ {
		if err := ctx.Err(); err != nil {
			return i, err
		}
		dir := c.Out
		if c.PerFolder > 0 {
			dir = filepath.Join(c.Out, fmt.Sprintf("%03d", i/c.PerFolder))
		}
		path := filepath.Join(dir, fmt.Sprintf(name, i))
		if _, err := os.Stat(path); err == nil {
			continue
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return i, err
		}
		img := imaging.Fill(sources[i%len(sources)], c.Width, c.Height, imaging.Center, imaging.Linear)
		if (i/len(sources))%2 == 1 {
			img = imaging.FlipH(img)
		}
		img = imaging.AdjustBrightness(img, float64((i*7)%21-10))
		for b := 0; b < bits && (b+1)*cell <= c.Width; b++ {
			if i&(1<<b) != 0 {
				for y := 0; y < min(cell, c.Height); y++ {
					for x := b * cell; x < (b+1)*cell; x++ {
						img.Pix[y*img.Stride+4*x] ^= 0xff // differs whatever the colour
					}
				}
			}
		}
		if err := writeImageFile(path, img, c.Format); err != nil {
			return i, fmt.Errorf("make collection: %w", err)
		}
	}
	return c.N, nil
}

// writeImageFile encodes img to path atomically (internal/atomicfile).
func writeImageFile(path string, img image.Image, format string) error {
	return atomicfile.Write(path, 0o644, func(w *bufio.Writer) error {
		if format == "png" {
			return png.Encode(w, img)
		}
		return jpeg.Encode(w, img, &jpeg.Options{Quality: 90})
	})
}
