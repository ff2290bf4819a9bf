package imageproc

import (
	"testing"
	"time"

	"mmsearch/internal/imagetest"
)

// TestReadEXIFFromHEIF makes HEIC and AVIF files with heif-enc from a JPEG
// carrying EXIF (heif-enc copies the block into an Exif item) and reads
// the tags back through libheif.
func TestReadEXIFFromHEIF(t *testing.T) {
	if !HEIFCompiled {
		t.Skip("built without libheif")
	}
	want := imagetest.EXIF{Make: "Apple", Model: "iPhone 15 Pro", DateTimeOriginal: "2024:05:01 09:15:00",
		OffsetTimeOriginal: "-07:00", GPS: &[2]float64{37.7749, -122.4194}}
	jpg := imagetest.WithEXIFBlock(imagetest.JPEG(t, imagetest.Pattern(4, 64, 48), 90), imagetest.EXIFBlock(want))
	for _, tc := range []struct {
		format string
		avif   bool
	}{{"heic", false}, {"avif", true}} {
		t.Run(tc.format, func(t *testing.T) {
			data := imagetest.HEIFFrom(t, jpg, 80, tc.avif)
			tags, ok := ReadEXIF(data, tc.format)
			if !ok {
				t.Fatal("no EXIF read from the HEIF file")
			}
			tm, hasOffset, ok := tags.CaptureTime(time.UTC)
			if tags.Make != want.Make || tags.Model != want.Model || !ok || !hasOffset ||
				tm.Format(time.RFC3339) != "2024-05-01T09:15:00-07:00" || !tags.HasGPS ||
				tags.Lat < 37.7748 || tags.Lat > 37.7750 || tags.Lon > -122.4193 || tags.Lon < -122.4195 {
				t.Errorf("tags %+v (time %v)", tags, tm)
			}
			// A HEIF file without EXIF, and a damaged one, give none.
			if _, ok := ReadEXIF(imagetest.HEIF(t, imagetest.Pattern(5, 32, 32), 80, tc.avif), tc.format); ok {
				t.Error("EXIF read from a file without any")
			}
			if _, ok := ReadEXIF(data[:len(data)/3], tc.format); ok {
				t.Log("a truncated file still gave its EXIF (its boxes come first)")
			}
		})
	}
}
