package imageproc

// Default limits used when the corresponding Options field is zero or negative.
const (
	// DefaultMaxPixels is the default limit on width×height read from an
	// image header (100 megapixels, about 400 MB once decoded to RGBA).
	DefaultMaxPixels int64 = 100_000_000
	// DefaultMaxFileBytes is the default limit on the size of an image file.
	DefaultMaxFileBytes int64 = 256 << 20
)

// Options controls decoding. The zero value is ready to use.
type Options struct {
	// MaxPixels refuses images whose header claims more pixels than this,
	// before decoding. Zero or negative means DefaultMaxPixels.
	MaxPixels int64
	// MaxFileBytes refuses files larger than this, before reading them.
	// Zero or negative means DefaultMaxFileBytes.
	MaxFileBytes int64
	// IgnoreOrientation skips the JPEG EXIF orientation; CLIP's reference
	// preprocessing never applies it.
	IgnoreOrientation bool
	// PureGo decodes JPEGs with the standard library even when libjpeg-turbo
	// is compiled in; it also disables reduced-resolution decoding.
	PureGo bool
}

func (o Options) maxPixels() int64 {
	if o.MaxPixels <= 0 {
		return DefaultMaxPixels
	}
	return o.MaxPixels
}

// FileLimit is the file size limit in effect: MaxFileBytes, or
// DefaultMaxFileBytes when that is zero or negative.
func (o Options) FileLimit() int64 {
	if o.MaxFileBytes <= 0 {
		return DefaultMaxFileBytes
	}
	return o.MaxFileBytes
}
