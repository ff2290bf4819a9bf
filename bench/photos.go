package bench

import (
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"sort"

	"github.com/disintegration/imaging"

	"mmsearch/encoders/imageproc"
)

// MakeBigJPEGs writes n distinct width×height JPEGs (quality 90) into out,
// made from the images in src: each source is scaled to cover the size,
// centre-cropped, and varied per copy (mirroring, brightness, a marked
// corner) so no two files share content. It returns how many were written;
// existing files are kept, so a second call costs nothing.
func MakeBigJPEGs(ctx context.Context, src, out string, n, width, height int) (int, error) {
	entries, err := os.ReadDir(src)
	if err != nil {
		return 0, fmt.Errorf("make photos: %w", err)
	}
	var sources []image.Image
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, name := range names {
		img, _, err := imageproc.Load(filepath.Join(src, name), imageproc.Options{})
		if err == nil && img.Bounds().Dx() >= 64 && img.Bounds().Dy() >= 64 {
			sources = append(sources, img)
		}
	}
	if len(sources) == 0 {
		return 0, fmt.Errorf("make photos: no usable images in %s", src)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return 0, err
	}
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			return i, err
		}
		path := filepath.Join(out, fmt.Sprintf("photo-%04d.jpg", i))
		if _, err := os.Stat(path); err == nil {
			continue
		}
		img := imaging.Fill(sources[i%len(sources)], width, height, imaging.Center, imaging.Linear)
		if (i/len(sources))%2 == 1 {
			img = imaging.FlipH(img)
		}
		img = imaging.AdjustBrightness(img, float64((i*7)%21-10))
		// Mark a corner with the copy's number so every file differs.
		for b := 0; b < 16; b++ {
			if i&(1<<b) != 0 {
				for y := 0; y < 8; y++ {
					for x := b * 8; x < b*8+8; x++ {
						img.Pix[y*img.Stride+4*x] = 255
					}
				}
			}
		}
		f, err := os.Create(path + ".tmp")
		if err != nil {
			return i, err
		}
		err = jpeg.Encode(f, img, &jpeg.Options{Quality: 90})
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(path+".tmp", path)
		}
		if err != nil {
			os.Remove(path + ".tmp")
			return i, fmt.Errorf("make photos: %w", err)
		}
	}
	return n, nil
}
