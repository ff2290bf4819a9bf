package exif_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"testing"
	"time"

	"mmsearch/encoders/imageproc/exif"
	"mmsearch/internal/imagetest"
)

// TestRead reads EXIF blocks written by imagetest.EXIFBlock from JPEG, PNG,
// WebP and TIFF containers, in both byte orders.
func TestRead(t *testing.T) {
	jpg := imagetest.JPEG(t, imagetest.Pattern(1, 16, 16), 90)
	png := imagetest.PNG(t, imagetest.Pattern(2, 16, 16))
	full := imagetest.EXIF{Make: "Apple", Model: "iPhone 12", Orientation: 6,
		DateTimeOriginal: "2023:07:14 18:30:05", OffsetTimeOriginal: "+02:00", SubSecTimeOriginal: "250",
		GPS: &[2]float64{48.858370, 2.294481}}
	south := imagetest.EXIF{Make: "Canon", Model: "Canon EOS 5D", DateTimeOriginal: "2019:01:02 03:04:05",
		GPS: &[2]float64{-33.856784, -70.651}, BigEndian: true}
	webp := func(block []byte) []byte {
		chunk := append([]byte("EXIF"), binary.LittleEndian.AppendUint32(nil, uint32(len(block)))...)
		chunk = append(chunk, block...)
		if len(block)%2 == 1 {
			chunk = append(chunk, 0)
		}
		vp8 := append([]byte("VP8L"), 5, 0, 0, 0, 0x2f, 0, 0, 0, 0, 0) // a padded chunk before
		body := append([]byte("WEBP"), append(vp8, chunk...)...)
		return append(append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...), body...)
	}
	tests := []struct {
		name, format string
		data         []byte
		want         imagetest.EXIF
		time         string // RFC3339Nano in the tag's offset; "" for none
		hasOffset    bool
	}{
		{"jpeg full", "jpeg", imagetest.WithEXIFBlock(jpg, imagetest.EXIFBlock(full)), full, "2023-07-14T18:30:05.25+02:00", true},
		{"jpeg big-endian south-west", "jpeg", imagetest.WithEXIFBlock(jpg, imagetest.EXIFBlock(south)), south, "2019-01-02T03:04:05Z", false},
		{"jpeg camera only", "jpeg", imagetest.WithEXIF(jpg, "NIKON CORPORATION", "NIKON D750", 1), imagetest.EXIF{Make: "NIKON CORPORATION", Model: "NIKON D750", Orientation: 1}, "", false},
		{"jpeg without exif", "jpeg", jpg, imagetest.EXIF{}, "", false},
		{"png eXIf", "png", imagetest.PNGWithEXIF(png, imagetest.EXIFBlock(full)), full, "2023-07-14T18:30:05.25+02:00", true},
		{"png without eXIf", "png", png, imagetest.EXIF{}, "", false},
		{"webp EXIF chunk", "webp", webp(imagetest.EXIFBlock(south)), south, "2019-01-02T03:04:05Z", false},
		{"tiff file", "tiff", imagetest.EXIFBlock(full), full, "2023-07-14T18:30:05.25+02:00", true},
		{"heif payload", "heif", nil, full, "2023-07-14T18:30:05.25+02:00", true},
		{"gif has none", "gif", []byte("GIF89a"), imagetest.EXIF{}, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var tags exif.Tags
			var ok bool
			if tc.format == "heif" {
				// HEIF's Exif item: a 4-byte offset to the TIFF header.
				payload := append([]byte{0, 0, 0, 6}, append([]byte("Exif\x00\x00"), imagetest.EXIFBlock(tc.want)...)...)
				b := exif.FromHEIF(payload)
				if b == nil {
					t.Fatal("FromHEIF found no block")
				}
				var err error
				tags, err = exif.Parse(b)
				ok = err == nil
			} else {
				tags, ok = exif.Read(tc.data, tc.format)
			}
			empty := tc.want.Make == "" && tc.want.DateTimeOriginal == ""
			if ok == empty {
				t.Fatalf("Read ok = %v", ok)
			}
			if tags.Make != tc.want.Make || tags.Model != tc.want.Model || tags.Orientation != int(tc.want.Orientation) {
				t.Errorf("camera %q %q orientation %d, want %q %q %d", tags.Make, tags.Model, tags.Orientation, tc.want.Make, tc.want.Model, tc.want.Orientation)
			}
			tm, hasOffset, ok := tags.CaptureTime(time.UTC)
			if got := ""; ok {
				got = tm.Format(time.RFC3339Nano)
				if got != tc.time || hasOffset != tc.hasOffset {
					t.Errorf("capture time %s (offset %v), want %s (%v)", got, hasOffset, tc.time, tc.hasOffset)
				}
			} else if tc.time != "" {
				t.Errorf("no capture time, want %s", tc.time)
			}
			if tags.HasGPS != (tc.want.GPS != nil) {
				t.Fatalf("HasGPS %v, want %v", tags.HasGPS, tc.want.GPS != nil)
			}
			if tc.want.GPS != nil && (math.Abs(tags.Lat-tc.want.GPS[0]) > 1e-6 || math.Abs(tags.Lon-tc.want.GPS[1]) > 1e-6) {
				t.Errorf("GPS %f,%f, want %v", tags.Lat, tags.Lon, *tc.want.GPS)
			}
		})
	}
}

// TestCaptureTime covers the date forms cameras write.
func TestCaptureTime(t *testing.T) {
	tokyo := time.FixedZone("JST", 9*3600)
	tests := []struct {
		tags      exif.Tags
		want      string
		hasOffset bool
	}{
		{exif.Tags{DateTimeOriginal: "2024:02:29 23:59:59", Offset: "-05:30"}, "2024-02-29T23:59:59-05:30", true},
		{exif.Tags{DateTimeOriginal: "2024:02:29 23:59:59"}, "2024-02-29T23:59:59+09:00", false}, // read in loc
		{exif.Tags{DateTimeOriginal: "2024:02:29 23:59:59", Offset: "bogus"}, "2024-02-29T23:59:59+09:00", false},
		{exif.Tags{DateTimeOriginal: "2024:02:29 23:59:59", SubSec: "07"}, "2024-02-29T23:59:59.07+09:00", false},
		{exif.Tags{DateTimeOriginal: "0000:00:00 00:00:00"}, "", false},
		{exif.Tags{DateTimeOriginal: "    :  :     :  :  "}, "", false},
		{exif.Tags{DateTimeOriginal: "2023:13:01 00:00:00"}, "", false},
		{exif.Tags{DateTimeOriginal: "2023:01:01"}, "", false},
		{exif.Tags{}, "", false},
	}
	for _, tc := range tests {
		tm, hasOffset, ok := tc.tags.CaptureTime(tokyo)
		got := ""
		if ok {
			got = tm.Format(time.RFC3339Nano)
		}
		if got != tc.want || hasOffset != tc.hasOffset {
			t.Errorf("%+v: %q (offset %v), want %q (%v)", tc.tags, got, hasOffset, tc.want, tc.hasOffset)
		}
	}
}

// hostile builds blocks that try to make a reader loop, read out of bounds
// or allocate what a count claims.
func hostile() map[string][]byte {
	le := binary.LittleEndian
	hdr := func() []byte { return []byte{'I', 'I', 42, 0, 8, 0, 0, 0} }
	ent := func(b []byte, tag, typ uint16, count, val uint32) []byte {
		b = le.AppendUint16(b, tag)
		b = le.AppendUint16(b, typ)
		b = le.AppendUint32(b, count)
		return le.AppendUint32(b, val)
	}
	out := map[string][]byte{}
	// IFD0 whose Exif and GPS pointers point back at IFD0 itself.
	b := le.AppendUint16(hdr(), 2)
	b = ent(b, 0x8769, 4, 1, 8)
	b = ent(b, 0x8825, 4, 1, 8)
	out["self loop"] = le.AppendUint32(b, 8) // next IFD: itself too
	// An entry count of 65535 in a 30-byte block.
	b = le.AppendUint16(hdr(), 0xFFFF)
	out["huge entry count"] = ent(b, 0x010F, 2, 4, 0x41414141)
	// A Make claiming 4 G characters, at an offset past the end.
	b = le.AppendUint16(hdr(), 2)
	b = ent(b, 0x010F, 2, 0xFFFFFFFF, 26)
	b = ent(b, 0x0110, 2, 0x40000000, 0xFFFFFFF0)
	out["huge value counts"] = le.AppendUint32(b, 0)
	// GPS rationals with zero denominators and a count over the data.
	b = le.AppendUint16(hdr(), 1)
	b = ent(b, 0x8825, 4, 1, 26)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint16(b, 2)
	b = ent(b, 2, 5, 3, 56)
	b = ent(b, 4, 5, 0x20000000, 56)
	b = le.AppendUint32(b, 0)
	out["gps zero denominators"] = append(b, make([]byte, 24)...)
	// IFD offset past the end and an unknown field type.
	out["ifd offset past end"] = []byte{'M', 'M', 0, 42, 0x7F, 0xFF, 0xFF, 0xFF}
	b = le.AppendUint16(hdr(), 1)
	out["unknown type"] = ent(b, 0x010F, 0xFFFF, 0xFFFFFFFF, 0)
	return out
}

// TestHostile checks that hostile blocks are read quickly, without panics,
// and give no values from outside the block.
func TestHostile(t *testing.T) {
	for name, b := range hostile() {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			tags, _ := exif.Parse(b)
			if d := time.Since(start); d > 100*time.Millisecond {
				t.Errorf("took %v", d)
			}
			wantMake := ""
			if name == "huge entry count" {
				wantMake = "AAAA" // the one entry the block does hold, inline
			}
			if tags.Make != wantMake || tags.Model != "" || tags.HasGPS || tags.DateTimeOriginal != "" {
				t.Errorf("read values from outside a hostile block: %+v", tags)
			}
			if name == "self loop" {
				// The loop leaves IFD0 readable; its pointers lead nowhere new.
				if _, err := exif.Parse(b); err != nil {
					t.Errorf("self loop: %v", err)
				}
			}
		})
	}
	if _, err := exif.Parse(make([]byte, exif.MaxBlock+1)); !errors.Is(err, exif.ErrTooLarge) {
		t.Errorf("a block over MaxBlock: %v", err)
	}
	if _, err := exif.Parse([]byte("not a tiff header")); !errors.Is(err, exif.ErrNotTIFF) {
		t.Errorf("not TIFF: %v", err)
	}
	// A huge entry count reads no more than the block holds: allocation
	// stays proportional to the block, not to the count.
	b := hostile()["huge entry count"]
	allocs := testing.AllocsPerRun(20, func() { exif.Parse(b) })
	if allocs > 10 {
		t.Errorf("%v allocations for a %d-byte block", allocs, len(b))
	}
}

// TestContainersTruncated cuts files with EXIF at every length: finding the
// block never panics, and a block is only found whole.
func TestContainersTruncated(t *testing.T) {
	block := imagetest.EXIFBlock(imagetest.EXIF{Make: "Apple", Model: "iPhone", DateTimeOriginal: "2020:01:01 00:00:00"})
	jpg := imagetest.WithEXIFBlock(imagetest.JPEG(t, imagetest.Pattern(3, 8, 8), 80), block)
	png := imagetest.PNGWithEXIF(imagetest.PNG(t, imagetest.Pattern(3, 8, 8)), block)
	for _, c := range []struct {
		format string
		data   []byte
	}{{"jpeg", jpg}, {"png", png}} {
		for n := range len(c.data) {
			if b := exif.Find(c.data[:n], c.format); b != nil && !bytes.Equal(b, block) {
				t.Fatalf("%s cut at %d: found a %d-byte block", c.format, n, len(b))
			}
		}
	}
}

// FuzzParse feeds arbitrary blocks (seeded with real and hostile ones) to
// Parse: it must not panic, and what it returns must be sane.
func FuzzParse(f *testing.F) {
	f.Add(imagetest.EXIFBlock(imagetest.EXIF{Make: "Apple", Model: "iPhone", Orientation: 6,
		DateTimeOriginal: "2023:07:14 18:30:05", OffsetTimeOriginal: "+02:00", GPS: &[2]float64{1, 2}}))
	f.Add(imagetest.EXIFBlock(imagetest.EXIF{Make: "Canon", BigEndian: true, GPS: &[2]float64{-1, -2}}))
	for _, b := range hostile() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tags, err := exif.Parse(b)
		if err != nil {
			return
		}
		if len(tags.Make) > 128 || len(tags.Model) > 128 || tags.Orientation < 0 || tags.Orientation > 8 {
			t.Fatalf("bad tags %+v", tags)
		}
		if tags.HasGPS && (math.Abs(tags.Lat) > 90 || math.Abs(tags.Lon) > 180 || math.IsNaN(tags.Lat)) {
			t.Fatalf("bad GPS %+v", tags)
		}
		tags.CaptureTime(time.UTC)
		for _, format := range []string{"jpeg", "png", "webp", "tiff"} {
			exif.Read(b, format)
		}
		exif.FromHEIF(b)
	})
}
