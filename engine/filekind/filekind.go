// Package filekind recognises, from the first bytes of a file, content that
// is not a still image: videos, audio, photo sidecars (JSON, XMP, Apple AAE
// plists), documents, archives and text. The ingest counts such files as
// skipped, by kind, instead of recording them as failures. It also names
// image formats that no decoder here handles (JPEG 2000, JPEG XL, PSD, SVG,
// camera raw containers), so those stay failures with a precise reason.
//
// Detection is by content only, never by file name.
package filekind

import (
	"bytes"
	"encoding/binary"
	"unicode/utf8"
)

// Kind is what a file's content is.
type Kind string

// Kinds of content. Unknown means "not recognised".
const (
	Unknown  Kind = ""
	Video    Kind = "video"
	Audio    Kind = "audio"
	Sidecar  Kind = "sidecar"
	Document Kind = "document"
	Archive  Kind = "archive"
	Text     Kind = "text"
	// Image is a still-image format that no decoder here handles.
	Image Kind = "image"
)

// Kinds lists the skippable kinds in the order reports show them.
var Kinds = []Kind{Video, Audio, Sidecar, Document, Archive, Text}

// Skip reports whether files of kind k are skipped rather than failed.
func (k Kind) Skip() bool {
	switch k {
	case Video, Audio, Sidecar, Document, Archive, Text:
		return true
	}
	return false
}

// Plural is the kind's name for counts: "videos", "sidecars", "text files".
func (k Kind) Plural() string {
	switch k {
	case Text:
		return "text files"
	case Audio:
		return "audio files"
	case Unknown:
		return "unknown files"
	}
	return string(k) + "s"
}

// HeadSize is how many leading bytes Sniff needs at most.
const HeadSize = 4096

// Result is what Sniff found.
type Result struct {
	Kind Kind
	// Format names the container or format: "mp4", "quicktime", "json",
	// "xmp", "aae", "pdf", "zip", "jpeg2000", ...
	Format string
}

// Sniff classifies content from its first bytes (up to HeadSize are used).
func Sniff(head []byte) Result {
	if len(head) > HeadSize {
		head = head[:HeadSize]
	}
	if r, ok := isoBMFF(head); ok {
		return r
	}
	for _, m := range magics {
		if len(head) >= m.off+len(m.magic) && bytes.Equal(head[m.off:m.off+len(m.magic)], []byte(m.magic)) {
			return Result{m.kind, m.format}
		}
	}
	if len(head) >= 12 && string(head[:4]) == "RIFF" {
		switch string(head[8:12]) {
		case "AVI ":
			return Result{Video, "avi"}
		case "WAVE":
			return Result{Audio, "wav"}
		}
	}
	if len(head) >= 189 && head[0] == 0x47 && head[188] == 0x47 {
		return Result{Video, "mpeg-ts"}
	}
	if len(head) >= 2 && head[0] == 0xFF && (head[1]&0xF6) == 0xF2 {
		return Result{Audio, "mp3"} // MPEG audio frame sync, layer III
	}
	return sniffText(head)
}

type magic struct {
	off    int
	magic  string
	kind   Kind
	format string
}

var magics = []magic{
	{0, "\x1A\x45\xDF\xA3", Video, "matroska"},
	{0, "FLV\x01", Video, "flv"},
	{0, "\x00\x00\x01\xBA", Video, "mpeg-ps"},
	{0, "\x00\x00\x01\xB3", Video, "mpeg"},
	{0, "\x30\x26\xB2\x75\x8E\x66\xCF\x11", Video, "asf"},
	{0, "ID3", Audio, "mp3"},
	{0, "fLaC", Audio, "flac"},
	{0, "OggS", Audio, "ogg"},
	{0, "MThd", Audio, "midi"},
	{0, "%PDF-", Document, "pdf"},
	{0, "%!PS", Document, "postscript"},
	{0, "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", Document, "ole"}, // old Office files, Thumbs.db
	{0, "{\\rtf", Document, "rtf"},
	{0, "PK\x03\x04", Archive, "zip"},
	{0, "PK\x05\x06", Archive, "zip"},
	{0, "\x1F\x8B", Archive, "gzip"},
	{0, "7z\xBC\xAF\x27\x1C", Archive, "7z"},
	{0, "Rar!\x1A\x07", Archive, "rar"},
	{0, "BZh", Archive, "bzip2"},
	{0, "\xFD7zXZ\x00", Archive, "xz"},
	{0, "\x28\xB5\x2F\xFD", Archive, "zstd"},
	{257, "ustar", Archive, "tar"},
	{0, "bplist00", Sidecar, "plist"},
	// Still images no decoder here handles: failures, with a precise reason.
	{0, "\x00\x00\x00\x0CjP  \r\n\x87\n", Image, "jpeg2000"},
	{0, "\xFF\x4F\xFF\x51", Image, "jpeg2000"},
	{0, "\x00\x00\x00\x0CJXL \r\n\x87\n", Image, "jpegxl"},
	{0, "\xFF\x0A", Image, "jpegxl"},
	{0, "8BPS", Image, "psd"},
	{0, "\x00\x00\x01\x00", Image, "ico"},
	{0, "\x76\x2F\x31\x01", Image, "openexr"},
	{0, "qoif", Image, "qoi"},
	{0, "#?RADIANCE", Image, "radiance-hdr"},
	{0, "gimp xcf", Image, "xcf"},
	{0, "FUJIFILMCCD-RAW", Image, "fuji-raw"},
	{0, "IIRO", Image, "olympus-raw"},
	{0, "IIU\x00", Image, "panasonic-raw"},
	{0, "DDS ", Image, "dds"},
}

// isoBMFF classifies ISO base media files (MP4, MOV, 3GP, HEIF, AVIF) by
// their 'ftyp' brands, and QuickTime files that start without one.
func isoBMFF(head []byte) (Result, bool) {
	if len(head) < 12 {
		return Result{}, false
	}
	box := string(head[4:8])
	if box != "ftyp" {
		switch box {
		case "moov", "mdat", "wide", "free", "skip", "pnot":
			if size := binary.BigEndian.Uint32(head[:4]); size >= 8 || size == 1 {
				return Result{Video, "quicktime"}, true
			}
		}
		return Result{}, false
	}
	size := int(binary.BigEndian.Uint32(head[:4]))
	brands := []string{string(head[8:12])}
	for i := 16; i+4 <= min(size, len(head)); i += 4 {
		brands = append(brands, string(head[i:i+4]))
	}
	for _, b := range brands {
		switch b {
		case "heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1", "avif", "avis", "avci", "jpeg", "vvic":
			return Result{Image, "heif"}, true
		case "crx ":
			return Result{Image, "canon-cr3"}, true
		}
	}
	switch b := brands[0]; {
	case b == "qt  ":
		return Result{Video, "quicktime"}, true
	case b[:3] == "3gp" || b[:3] == "3g2":
		return Result{Video, "3gp"}, true
	case b == "M4A " || b == "M4B " || b == "M4P " || b == "F4A ":
		return Result{Audio, "m4a"}, true
	}
	return Result{Video, "mp4"}, true // isom, mp41, mp42, avc1, M4V, dash, XAVC, ...
}

// sniffText recognises sidecars and other text: JSON, XMP, Apple plists
// (AAE edit sidecars), SVG (an image format we do not decode), and any
// valid UTF-8 without control characters.
func sniffText(head []byte) Result {
	s := bytes.TrimPrefix(head, []byte("\xEF\xBB\xBF"))
	s = bytes.TrimLeft(s, " \t\r\n")
	if len(s) == 0 || !looksText(head) {
		return Result{}
	}
	lower := bytes.ToLower(s[:min(len(s), 1024)])
	switch {
	case s[0] == '{' || s[0] == '[':
		return Result{Sidecar, "json"}
	case bytes.HasPrefix(s, []byte("<?xpacket")) || bytes.Contains(lower, []byte("<x:xmpmeta")) || bytes.Contains(lower, []byte("<rdf:rdf")):
		return Result{Sidecar, "xmp"}
	case bytes.Contains(lower, []byte("<plist")) || bytes.Contains(lower, []byte("<!doctype plist")):
		return Result{Sidecar, "aae"}
	case bytes.Contains(lower, []byte("<svg")):
		return Result{Image, "svg"}
	}
	return Result{Text, "text"}
}

// looksText reports whether head is UTF-8 text: no NUL or other control
// bytes except tab, newlines and form feed; a multi-byte sequence cut at
// the end of head is allowed.
func looksText(head []byte) bool {
	for i := 0; i < len(head); {
		c := head[i]
		if c < 0x80 {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' || c == 0x7F {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(head[i:])
		if r == utf8.RuneError && n <= 1 {
			return len(head)-i < utf8.UTFMax && !utf8.FullRune(head[i:])
		}
		i += n
	}
	return true
}
