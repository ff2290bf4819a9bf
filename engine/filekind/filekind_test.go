package filekind

import (
	"strings"
	"testing"
)

func ftyp(major string, compat ...string) string {
	s := major + "\x00\x00\x02\x00" + strings.Join(compat, "")
	n := 8 + len(s)
	return string([]byte{0, 0, byte(n >> 8), byte(n)}) + "ftyp" + s + "\x00\x00\x00\x08free"
}

func TestSniff(t *testing.T) {
	tar := make([]byte, 512)
	copy(tar, "photos/a.jpg")
	copy(tar[257:], "ustar\x0000")
	tests := []struct {
		name   string
		head   string
		kind   Kind
		format string
	}{
		{"iPhone MOV", ftyp("qt  ", "qt  "), Video, "quicktime"},
		{"MP4", ftyp("isom", "isom", "iso2", "avc1", "mp41"), Video, "mp4"},
		{"MP4 mp42", ftyp("mp42", "mp42", "isom"), Video, "mp4"},
		{"3GP", ftyp("3gp4", "3gp4"), Video, "3gp"},
		{"M4A", ftyp("M4A ", "M4A ", "mp42", "isom"), Audio, "m4a"},
		{"old QuickTime", "\x00\x00\x00\x20moov\x00\x00\x00\x6cmvhd", Video, "quicktime"},
		{"HEIC we could not route", ftyp("mp42", "mif1", "heic"), Image, "heif"},
		{"Canon CR3", ftyp("crx ", "crx ", "isom"), Image, "canon-cr3"},
		{"AVI", "RIFF\x10\x00\x00\x00AVI LIST", Video, "avi"},
		{"WAV", "RIFF\x10\x00\x00\x00WAVEfmt ", Audio, "wav"},
		{"MKV", "\x1A\x45\xDF\xA3\x9f\x42\x86\x81", Video, "matroska"},
		{"MPEG-TS", "\x47" + strings.Repeat("\xff", 187) + "\x47\x00", Video, "mpeg-ts"},
		{"MP3 ID3", "ID3\x04\x00\x00", Audio, "mp3"},
		{"PDF", "%PDF-1.7\n%\xe2\xe3", Document, "pdf"},
		{"zip", "PK\x03\x04\x14\x00", Archive, "zip"},
		{"gzip", "\x1f\x8b\x08\x00", Archive, "gzip"},
		{"tar", string(tar), Archive, "tar"},
		{"Takeout JSON", "{\n  \"title\": \"IMG_0001.HEIC\",\n  \"photoTakenTime\": {}}", Sidecar, "json"},
		{"JSON with BOM", "\xEF\xBB\xBF  [1, 2]", Sidecar, "json"},
		{"XMP", "<?xpacket begin=\"\xef\xbb\xbf\" id=\"W5M0\"?>\n<x:xmpmeta xmlns:x=\"adobe:ns:meta/\">", Sidecar, "xmp"},
		{"XMP no packet", "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"></x:xmpmeta>", Sidecar, "xmp"},
		{"AAE", "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\"><plist version=\"1.0\"><dict><key>adjustmentFormatIdentifier</key>", Sidecar, "aae"},
		{"binary plist", "bplist00\xd1\x01\x02", Sidecar, "plist"},
		{"text", "shopping list:\n- milk\n- caf\xc3\xa9\n", Text, "text"},
		{"text cut mid-rune", "caf\xc3", Text, "text"},
		{"SVG", "<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\">", Image, "svg"},
		{"JPEG 2000", "\x00\x00\x00\x0CjP  \r\n\x87\n\x00\x00", Image, "jpeg2000"},
		{"PSD", "8BPS\x00\x01", Image, "psd"},
		{"unknown binary", "\x00\x01\x02\x03\x04\x05garbage\x00", Unknown, ""},
		{"binary with high bytes", "\x89\xfe\xff\x00\x10", Unknown, ""},
		{"empty", "", Unknown, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Sniff([]byte(tt.head))
			if got.Kind != tt.kind || got.Format != tt.format {
				t.Errorf("Sniff = %+v, want {%s %s}", got, tt.kind, tt.format)
			}
			if got.Kind.Skip() != (tt.kind != Unknown && tt.kind != Image) {
				t.Errorf("Skip() = %v for %s", got.Kind.Skip(), got.Kind)
			}
		})
	}
}

func TestPlural(t *testing.T) {
	for k, want := range map[Kind]string{Video: "videos", Sidecar: "sidecars", Text: "text files", Archive: "archives"} {
		if got := k.Plural(); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
}
