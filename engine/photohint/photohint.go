// Package photohint tells whether the first images of an ingest look like
// camera photos, so that a library indexed with the bundled emoji model can
// be told, once, that a real CLIP model suits photos better.
package photohint

// Sample is what the decision needs to know of one indexed image.
type Sample struct {
	Format        string // imageproc's format name: "jpeg", "heic", "png", ...
	Width, Height int    // pixels, in display orientation
	// CameraMake is the EXIF camera make ("Apple", "Canon"), empty when the
	// file has none or the library does not record it yet. The ingest fills
	// it in one place, engine's photoSample.
	CameraMake string
}

// MinPixels is the size from which a JPEG or HEIC counts as a camera photo:
// 1 megapixel (phones and cameras write 8 to 50; screenshots of small
// screens, icons, emoji and web images mostly stay below).
const MinPixels = 1_000_000

// cameraFormats are the formats cameras and phones write.
var cameraFormats = map[string]bool{"jpeg": true, "heic": true, "heif": true, "avif": true}

// CameraLike reports whether one image looks like a camera photo: it names
// a camera make, or it is a JPEG or HEIC/HEIF/AVIF of at least MinPixels.
func CameraLike(s Sample) bool {
	if s.CameraMake != "" {
		return true
	}
	return cameraFormats[s.Format] && int64(s.Width)*int64(s.Height) >= MinPixels
}

// CameraPhotos reports whether most of samples (more than half) look like
// camera photos. No samples is no.
func CameraPhotos(samples []Sample) bool {
	n := 0
	for _, s := range samples {
		if CameraLike(s) {
			n++
		}
	}
	return len(samples) > 0 && 2*n > len(samples)
}
