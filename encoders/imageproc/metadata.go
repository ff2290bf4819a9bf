package imageproc

import "mmsearch/encoders/imageproc/exif"

// ReadEXIF reads the EXIF tags of an encoded image whose format (as
// Info.Format names it) is known from its decode: from a JPEG's APP1
// segment, a PNG eXIf chunk, a WebP EXIF chunk, a TIFF file's own IFDs, or
// a HEIC/HEIF/AVIF file's Exif item (through libheif, reading the boxes
// only). It works on the bytes already in memory and decodes no pixels.
// ok is false when the image carries no readable EXIF.
func ReadEXIF(data []byte, format string) (exif.Tags, bool) {
	switch format {
	case "heic", "heif", "avif":
		b := heifEXIF(data)
		if b == nil {
			return exif.Tags{}, false
		}
		t, err := exif.Parse(b)
		return t, err == nil
	}
	return exif.Read(data, format)
}
