package imageproc

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // registers GIF
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	_ "golang.org/x/image/webp" // registers WebP

	"mmsearch/internal/regfile"
)

// Info describes a loaded image.
type Info struct {
	// Width and Height are the display size: after EXIF orientation, at
	// full resolution even when a reduced-resolution decode was used.
	Width, Height int
	// Format is the detected format: "jpeg", "png", "gif", "webp", "bmp",
	// "tiff", "pbm", "pgm", "ppm", "heic", "avif" or "heif".
	Format string
	// Orientation is the JPEG EXIF orientation found in the file, 1..8
	// (1 when absent or not a JPEG). It has been applied to the pixels
	// unless Options.IgnoreOrientation was set.
	Orientation int
	// Bytes is the size of the encoded file.
	Bytes int64
	// Scale is the reduced-resolution divisor the JPEG or PNG was decoded
	// with (2, 4 or 8), or 1 for a full-resolution decode.
	Scale int
}

// errTurboFallback tells the caller to decode with the standard library.
var errTurboFallback = errors.New("imageproc: decode with the standard library")

// decoded is an image in display orientation, possibly at reduced resolution.
type decoded struct {
	img    *image.NRGBA
	info   Info
	opaque bool // every pixel has A = 255
}

// Load reads and decodes the image file at path, applying the size guards
// of opt. See the package documentation for the conversions applied.
func Load(path string, opt Options) (*image.NRGBA, Info, error) {
	data, err := readFile(path, opt)
	if err != nil {
		return nil, Info{}, err
	}
	d, err := decodeBytes(data, path, opt, 0)
	if err != nil {
		return nil, Info{}, err
	}
	return d.img, d.info, nil
}

// Decode reads an encoded image from r and decodes it like Load. name
// identifies the image in errors. size is the encoded size when known, so
// an oversized input is refused before reading; pass -1 when unknown (the
// limit is then enforced while reading).
func Decode(r io.Reader, name string, size int64, opt Options) (*image.NRGBA, Info, error) {
	data, err := readAll(r, name, size, opt)
	if err != nil {
		return nil, Info{}, err
	}
	d, err := decodeBytes(data, name, opt, 0)
	if err != nil {
		return nil, Info{}, err
	}
	return d.img, d.info, nil
}

// readFile checks that path is a regular file (a FIFO or device named as an
// image is refused at once instead of blocking) and its size, then reads it
// whole.
func readFile(path string, opt Options) ([]byte, error) {
	f, fi, err := regfile.Open(path)
	if err != nil {
		var nr *regfile.NotRegularError
		if errors.As(err, &nr) && nr.IsDir() {
			return nil, newError(path, "", fmt.Errorf("%w: is a directory", ErrNotImage))
		}
		if errors.As(err, &nr) {
			return nil, newError(path, "", fmt.Errorf("%w: is %s, not a regular file", ErrNotImage, regfile.Describe(nr.Mode)))
		}
		return nil, newError(path, "", err)
	}
	defer f.Close()
	return readAll(f, path, fi.Size(), opt)
}

// readAll reads at most opt.FileLimit() bytes from r. size, when not
// negative, is the expected length, checked before reading.
func readAll(r io.Reader, name string, size int64, opt Options) ([]byte, error) {
	limit := opt.FileLimit()
	if size > limit {
		return nil, newError(name, "", fmt.Errorf("%w: file is %d bytes, over the %d-byte limit", ErrTooLarge, size, limit))
	}
	n := size + 1 // one more to see EOF without growing
	if size < 0 {
		n = 64 << 10
	}
	data := make([]byte, 0, min(n, limit+1))
	lr := io.LimitReader(r, limit+1)
	for {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
		m, err := lr.Read(data[len(data):cap(data)])
		data = data[:len(data)+m]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, newError(name, "", fmt.Errorf("reading: %w", err))
		}
	}
	if int64(len(data)) > limit {
		return nil, newError(name, "", fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit))
	}
	if len(data) == 0 {
		return nil, newError(name, "", fmt.Errorf("%w: %w (0 bytes)", ErrNotImage, ErrEmpty))
	}
	return data, nil
}

// recovered runs fn, turning a panic into an ErrCorrupt error.
func recovered(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: decoder panicked: %v", ErrCorrupt, r)
		}
	}()
	return fn()
}

// classify wraps a decoder's error in the matching sentinel.
func classify(err error) error {
	var (
		jpegUnsupported jpeg.UnsupportedError
		pngUnsupported  png.UnsupportedError
		tiffUnsupported tiff.UnsupportedError
	)
	switch {
	case errors.Is(err, ErrCorrupt), errors.Is(err, ErrUnsupported), errors.Is(err, ErrTooLarge):
		return err
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fmt.Errorf("%w: truncated: %w", ErrCorrupt, io.ErrUnexpectedEOF)
	case errors.As(err, &jpegUnsupported), errors.As(err, &pngUnsupported),
		errors.As(err, &tiffUnsupported), errors.Is(err, bmp.ErrUnsupported):
		return fmt.Errorf("%w: %w", ErrUnsupported, err)
	default:
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
}

// sniff reads the header: the format, detected from content, and the size.
func sniff(data []byte) (image.Config, string, error) {
	var (
		cfg    image.Config
		format string
	)
	err := recovered(func() error {
		var err error
		cfg, format, err = image.DecodeConfig(bytes.NewReader(data))
		return err
	})
	if errors.Is(err, image.ErrFormat) {
		return cfg, "", fmt.Errorf("%w (unknown format; starts with %q)", ErrNotImage, data[:min(len(data), 8)])
	}
	if err != nil {
		return cfg, format, fmt.Errorf("reading header: %w", classify(err))
	}
	return cfg, format, nil
}

// decodeBytes decodes an encoded image. minSide > 0 allows a
// reduced-resolution JPEG decode that keeps the shorter side ≥ minSide.
func decodeBytes(data []byte, name string, opt Options, minSide int) (decoded, error) {
	if len(data) == 0 {
		return decoded{}, newError(name, "", fmt.Errorf("%w: %w (0 bytes)", ErrNotImage, ErrEmpty))
	}
	cfg, format, err := sniff(data)
	if err != nil {
		return decoded{}, newError(name, format, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return decoded{}, newError(name, format, fmt.Errorf("%w: header gives size %d×%d", ErrCorrupt, cfg.Width, cfg.Height))
	}
	if px, limit := int64(cfg.Width)*int64(cfg.Height), opt.maxPixels(); px > limit {
		return decoded{}, newError(name, format, fmt.Errorf("%w: %d×%d is %d pixels, over the limit of %d",
			ErrTooLarge, cfg.Width, cfg.Height, px, limit))
	}
	d := decoded{info: Info{Format: format, Orientation: 1, Bytes: int64(len(data)), Scale: 1}}
	if format == "jpeg" {
		d.info.Orientation = jpegOrientation(data)
	}
	if format == "jpeg" && turboCompiled && !opt.PureGo {
		img, scale, err := decodeJPEGTurbo(data, cfg, minSide)
		switch {
		case err == nil:
			d.img, d.opaque, d.info.Scale = img, true, scale
		case !errors.Is(err, errTurboFallback):
			return decoded{}, newError(name, format, err)
		}
	}
	if format == "webp" && webpAnimated(data) {
		var err error
		if d.img, d.opaque, err = decodeAnimatedWebP(data); err != nil {
			return decoded{}, newError(name, format, err)
		}
	}
	if format == "png" {
		r := reduceFactor(cfg.Width, cfg.Height, minSide)
		var err error
		if d.img, d.opaque, err = pngReduce(data, r); err != nil {
			return decoded{}, newError(name, format, err)
		}
		d.info.Scale = r
	}
	if d.img == nil {
		var m image.Image
		err := recovered(func() error {
			var err error
			m, _, err = image.Decode(bytes.NewReader(data))
			return err
		})
		if err != nil {
			if format == "png" && !bytes.Contains(data[max(0, len(data)-64):], []byte("IEND")) {
				// Go's png reports a short stream as "not enough pixel
				// data"; a missing IEND chunk says what happened.
				err = fmt.Errorf("%w: truncated (no IEND chunk; %v): %w", ErrCorrupt, err, io.ErrUnexpectedEOF)
			}
			return decoded{}, newError(name, format, classify(err))
		}
		b := m.Bounds()
		if int64(b.Dx())*int64(b.Dy()) > int64(cfg.Width)*int64(cfg.Height) {
			return decoded{}, newError(name, format, fmt.Errorf("%w: decoded %v, header said %d×%d",
				ErrCorrupt, b, cfg.Width, cfg.Height))
		}
		if b.Empty() {
			return decoded{}, newError(name, format, fmt.Errorf("%w: decoded image is empty (%v)", ErrCorrupt, b))
		}
		if p, ok := m.(*image.Paletted); ok && format == "gif" {
			m = gifCanvas(p, cfg)
		}
		d.img, d.opaque = toNRGBA(m, format)
	}
	w, h := d.img.Rect.Dx(), d.img.Rect.Dy()
	if d.info.Scale > 1 {
		w, h = cfg.Width, cfg.Height // the full-resolution size
	}
	if !opt.IgnoreOrientation && d.info.Orientation != 1 {
		d.img = orient(d.img, d.info.Orientation)
		if d.info.Orientation >= 5 {
			w, h = h, w
		}
	}
	d.info.Width, d.info.Height = w, h
	return d, nil
}

// gifCanvas places a GIF's first frame on the logical screen when the frame
// covers only part of it; the rest stays transparent, as in the GIF.
func gifCanvas(p *image.Paletted, cfg image.Config) image.Image {
	screen := image.Rect(0, 0, cfg.Width, cfg.Height)
	if p.Rect == screen || !p.Rect.In(screen) {
		return p
	}
	c := image.NewNRGBA(screen)
	fr, _ := toNRGBA(p, "gif")
	for y := 0; y < fr.Rect.Dy(); y++ {
		copy(c.Pix[c.PixOffset(p.Rect.Min.X, p.Rect.Min.Y+y):], fr.Pix[y*fr.Stride:y*fr.Stride+4*fr.Rect.Dx()])
	}
	return c
}

// reduceFactor is the largest of 8, 4, 2 by which a w×h image can be
// shrunk (rounding up, as libjpeg does) with its shorter side still at least
// minSide; 1 when none can, or when minSide is not positive.
func reduceFactor(w, h, minSide int) int {
	if minSide <= 0 {
		return 1
	}
	short := min(w, h)
	for _, s := range []int{8, 4, 2} {
		if (short+s-1)/s >= minSide {
			return s
		}
	}
	return 1
}
