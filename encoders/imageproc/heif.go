package imageproc

import (
	"image"
	"io"
)

// HEIF (HEIC) and AVIF images are ISO base media files: a 'ftyp' box whose
// brands say what the file holds, then boxes describing image items. They are
// registered with the image package under the names "heic", "avif" and
// "heif" (the generic 'mif1'/'msf1' brands), so DecodeConfig reads their size
// for the pixel guard before anything is decoded. Decoding goes through
// libheif (heif_cgo.go); builds without it (CGO_ENABLED=0, or the tags
// imageproc_noheif or imageproc_purego) recognise the files and refuse them
// with ErrUnsupported (heif_none.go).

// heifBrands maps each major brand we register to the format name reported
// in Info.Format. Sequence brands (hevc, hevx, msf1, avis) are included: such
// files carry a primary still image, which libheif decodes.
var heifBrands = map[string]string{
	"heic": "heic", "heix": "heic", "heim": "heic", "heis": "heic",
	"hevc": "heic", "hevx": "heic",
	"avif": "avif", "avis": "avif",
	"mif1": "heif", "msf1": "heif",
}

func init() {
	for brand, name := range heifBrands {
		image.RegisterFormat(name, "????ftyp"+brand, heifDecoder(name), heifConfigDecoder(name))
	}
}

// heifDecoder and heifConfigDecoder adapt the libheif (or no-libheif) entry
// points to image.RegisterFormat's signatures. The image package wraps our
// bytes.Reader in a bufio.Reader, so the file is read whole again here; HEIF
// needs random access to its boxes anyway.
func heifDecoder(format string) func(io.Reader) (image.Image, error) {
	return func(r io.Reader) (image.Image, error) {
		data, err := io.ReadAll(r)
		if err != nil {
			return nil, err
		}
		return decodeHEIF(data, format)
	}
}

func heifConfigDecoder(format string) func(io.Reader) (image.Config, error) {
	return func(r io.Reader) (image.Config, error) {
		data, err := io.ReadAll(r)
		if err != nil {
			return image.Config{}, err
		}
		return decodeHEIFConfig(data, format)
	}
}

// heifLabel is the format's name in messages.
func heifLabel(format string) string {
	switch format {
	case "avif":
		return "AVIF"
	case "heic":
		return "HEIC"
	}
	return "HEIF"
}
