package imageproc

import (
	"errors"
	"fmt"
)

// Sentinel errors, wrapped by every *Error this package returns; test them
// with errors.Is.
var (
	// ErrNotImage reports content that is not in any supported image format.
	ErrNotImage = errors.New("not an image")
	// ErrEmpty reports a zero-byte file; errors wrapping it also wrap ErrNotImage.
	ErrEmpty = errors.New("empty file")
	// ErrTooLarge reports a file over Options.MaxFileBytes or an image whose
	// header claims more than Options.MaxPixels pixels.
	ErrTooLarge = errors.New("image too large")
	// ErrCorrupt reports a recognised format whose data cannot be decoded:
	// truncated, malformed, or one that made a decoder panic.
	ErrCorrupt = errors.New("corrupt image")
	// ErrUnsupported reports a valid image in a variant no decoder here
	// handles (for example a 12-bit JPEG or an unusual BMP).
	ErrUnsupported = errors.New("unsupported image variant")
)

// Error describes a failure to load or preprocess one image.
type Error struct {
	// Name is the file path, or the name given to Decode.
	Name string
	// Format is the detected format ("jpeg", "png", ...), empty when unknown.
	Format string
	// Err is the reason; it wraps one of the sentinel errors, and the
	// underlying cause where there is one.
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	if e.Format != "" {
		return fmt.Sprintf("image %q (%s): %v", e.Name, e.Format, e.Err)
	}
	return fmt.Sprintf("image %q: %v", e.Name, e.Err)
}

// Unwrap returns the reason, so errors.Is and errors.As see the sentinel
// and the cause.
func (e *Error) Unwrap() error { return e.Err }

// newError builds an *Error; err is the reason (already wrapping a sentinel).
func newError(name, format string, err error) *Error {
	return &Error{Name: name, Format: format, Err: err}
}
