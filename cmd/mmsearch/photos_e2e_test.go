package main

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/disintegration/imaging"

	"mmsearch/engine"
	"mmsearch/internal/imagetest"
)

// phoneFile is one file of the generated phone dump and what indexing must
// make of it: "image" (indexed), a skipped kind ("video", "sidecar",
// "document", "archive", "text"), "fail" (listed by errors) or "excluded"
// (never looked at).
type phoneFile struct {
	rel  string
	data []byte
	want string
}

// phoneDump writes a folder shaped like a phone dump or a Google Takeout
// export: HEIC (when heif-enc is installed), JPEGs with EXIF, PNG
// screenshots, MP4 and MOV headers, JSON/XMP/AAE sidecars, a Synology
// @eaDir, a .git folder, nested unicode names, exact and near copies, and a
// few real failures.
func phoneDump(t *testing.T, root string) []phoneFile {
	t.Helper()
	photo := imagetest.Pattern(7, 96, 64)
	jpg := imagetest.WithEXIFBlock(imagetest.JPEG(t, photo, 92), imagetest.EXIFBlock(iPhoneEXIF))
	shot := imagetest.Pattern(11, 80, 160)
	files := []phoneFile{
		{"DCIM/100APPLE/IMG_0002.JPG", jpg, "image"},
		{"DCIM/100APPLE/IMG_0002.AAE", []byte(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict><key>adjustmentFormatIdentifier</key><string>com.apple.photo</string></dict></plist>`), "sidecar"},
		{"DCIM/100APPLE/IMG_0003.MOV", append([]byte("\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  \x00\x00\x00\x08wide"), make([]byte, 3000)...), "video"},
		{"DCIM/100APPLE/IMG_0004.MP4", append([]byte("\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41\x00\x00\x00\x08free"), make([]byte, 3000)...), "video"},
		{"DCIM/100APPLE/IMG_0005.JPG", imagetest.JPEG(t, imagetest.Pattern(5, 64, 48), 90)[:300], "fail"}, // truncated
		{"Takeout/Google Photos/Photos from 2023/IMG_0002(1).JPG", jpg, "image"},                          // exact copy
		{"Takeout/Google Photos/Photos from 2023/IMG_0002.JPG.json", []byte(`{"title": "IMG_0002.JPG", "photoTakenTime": {"timestamp": "1700000000"}}`), "sidecar"},
		{"Takeout/Google Photos/Photos from 2023/IMG_0002-edited.jpg", imagetest.WithEXIFBlock(imagetest.JPEG(t, photo, 60), imagetest.EXIFBlock(iPhoneEXIF)), "image"}, // re-encoded
		{"Takeout/Google Photos/Photos from 2023/metadata.xmp", []byte(`<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"></x:xmpmeta>`), "sidecar"},
		{"Takeout/archive_browser.html", []byte("<html><body>Takeout</body></html>\n"), "text"},
		{"Takeout/Takeout-1.zip", []byte("PK\x03\x04\x14\x00\x00\x00\x08\x00rest"), "archive"},
		{"Screenshots/Screenshot 2024-01-01 at 10.00.00.png", imagetest.PNG(t, shot), "image"},
		{"Screenshots/Screenshot small.png", imagetest.PNG(t, imaging.Resize(shot, 40, 80, imaging.Lanczos)), "image"}, // resized copy
		{"Documents/manual.pdf", []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"), "document"},
		{"Documents/notes.txt", []byte("buy film\n"), "text"},
		{"Documents/scan.jp2", []byte("\x00\x00\x00\x0CjP  \r\n\x87\n\x00\x00\x00\x14ftypjp2 "), "fail"}, // unsupported image format
		{"Ünïcode/日本/写真 1.png", imagetest.PNGWithEXIF(imagetest.PNG(t, imagetest.Pattern(21, 48, 48)), imagetest.EXIFBlock(fujiEXIF)), "image"},
		{"Ünïcode/Ελλάδα/παραλία.png", imagetest.PNG(t, imagetest.Pattern(22, 48, 48)), "image"},
		{"@eaDir/IMG_0002.JPG/SYNOPHOTO_THUMB_XL.jpg", imagetest.JPEG(t, imagetest.Pattern(30, 32, 32), 80), "excluded"},
		{"DCIM/@eaDir/x/SYNOPHOTO_THUMB_M.jpg", imagetest.JPEG(t, imagetest.Pattern(31, 32, 32), 80), "excluded"},
		{".git/objects/ab/cdef.png", imagetest.PNG(t, imagetest.Pattern(32, 16, 16)), "excluded"},
		{"node_modules/pkg/logo.png", imagetest.PNG(t, imagetest.Pattern(33, 16, 16)), "excluded"},
	}
	if _, err := exec.LookPath("heif-enc"); err == nil {
		files = append(files,
			phoneFile{"DCIM/100APPLE/IMG_0001.HEIC", imagetest.HEIFFrom(t, imagetest.WithEXIFBlock(imagetest.JPEG(t, imagetest.Pattern(1, 64, 48), 95),
				imagetest.EXIFBlock(heicEXIF)), 80, false), "image"},
			phoneFile{"DCIM/100APPLE/IMG_0006.HEIC", append(imagetest.HEIF(t, imagetest.Pattern(6, 64, 48), 80, false)[:60], make([]byte, 100)...), "fail"})
	} else {
		t.Log("heif-enc not installed: the dump has no HEIC files")
	}
	for _, f := range files {
		p := filepath.Join(root, f.rel)
		imagetest.Write(t, p, f.data)
		if err := os.Chtimes(p, dumpMtime, dumpMtime); err != nil {
			t.Fatal(err)
		}
	}
	return files
}

// The phone dump's EXIF blocks and file times.
var (
	iPhoneEXIF = imagetest.EXIF{Make: "Apple", Model: "iPhone 12", Orientation: 6,
		DateTimeOriginal: "2023:07:14 18:30:05", OffsetTimeOriginal: "+02:00", GPS: &[2]float64{48.85837, 2.294481}}
	heicEXIF = imagetest.EXIF{Make: "Apple", Model: "iPhone 15 Pro",
		DateTimeOriginal: "2024:05:01 09:15:00", OffsetTimeOriginal: "-07:00", GPS: &[2]float64{37.7749, -122.4194}}
	fujiEXIF  = imagetest.EXIF{Make: "FUJIFILM", Model: "X100V", DateTimeOriginal: "2022:08:15 14:20:00"} // no offset
	dumpMtime = time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC)
)

func count(files []phoneFile, want string) int {
	n := 0
	for _, f := range files {
		if f.want == want {
			n++
		}
	}
	return n
}

func runJSON(t *testing.T, v any, args ...string) result {
	t.Helper()
	r := run(t, args...)
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("%v: code %d, %v\nstdout %s\nstderr %s", args, r.code, err, r.stdout, r.stderr)
	}
	return r
}

// TestCLIPhoneDump indexes a generated phone dump and checks what a user
// sees: counts of indexed, skipped-by-kind and failed files, that errors
// lists only the real failures, default excludes, --exclude and
// .mmsearchignore, duplicates (exact and near), one search result per
// content, the photo metadata (search --json, stats), and forget.
func TestCLIPhoneDump(t *testing.T) {
	root := filepath.Join(t.TempDir(), "phone")
	files := phoneDump(t, root)
	lib := t.TempDir()

	// --hidden, so the default excludes, not the hidden rule, keep .git out.
	var rep engine.IngestReport
	r := runJSON(t, &rep, "index", "--library", lib, "--model", tinyModel, "--hidden", "--json", root)
	if r.code != 0 {
		t.Fatalf("index: code %d\n%s", r.code, r.stderr)
	}
	images := count(files, "image")
	if rep.Indexed+rep.Reused != images {
		t.Errorf("indexed %d + reused %d, want %d images", rep.Indexed, rep.Reused, images)
	}
	wantSkipped := map[string]int{}
	for _, k := range []string{"video", "sidecar", "document", "archive", "text"} {
		wantSkipped[k] = count(files, k)
	}
	for k, n := range wantSkipped {
		if rep.SkippedByKind[k] != n {
			t.Errorf("skipped %ss: %d, want %d (report %v)", k, rep.SkippedByKind[k], n, rep.SkippedByKind)
		}
	}
	if rep.Failed != count(files, "fail") {
		t.Errorf("failed %d, want %d: %+v", rep.Failed, count(files, "fail"), rep.Errors)
	}
	if want := len(files) - count(files, "excluded"); rep.Found != want {
		t.Errorf("found %d, want %d (excluded folders must not be walked)", rep.Found, want)
	}

	// errors lists exactly the real failures, each with its reason.
	var errs []struct{ Path, Reason string }
	runJSON(t, &errs, "errors", "--library", lib, "--json")
	var gotFail, wantFail []string
	for _, e := range errs {
		gotFail = append(gotFail, e.Path)
		if strings.HasSuffix(e.Path, "scan.jp2") && !strings.Contains(e.Reason, "jpeg2000") {
			t.Errorf("jp2 reason %q does not name the format", e.Reason)
		}
		if strings.HasSuffix(e.Path, ".HEIC") && strings.Contains(e.Reason, "not an image") {
			t.Errorf("broken HEIC reported as not an image: %q", e.Reason)
		}
	}
	for _, f := range files {
		if f.want == "fail" {
			wantFail = append(wantFail, filepath.Join(root, f.rel))
		}
	}
	sort.Strings(gotFail)
	sort.Strings(wantFail)
	if strings.Join(gotFail, "\n") != strings.Join(wantFail, "\n") {
		t.Errorf("errors lists\n%s\nwant\n%s", strings.Join(gotFail, "\n"), strings.Join(wantFail, "\n"))
	}
	r = run(t, "errors", "--library", lib)
	if strings.Contains(r.stdout, ".MOV") || strings.Contains(r.stdout, ".json") || !strings.Contains(r.stdout, "(not errors: 2 videos, 3 sidecars") {
		t.Errorf("errors table:\n%s", r.stdout)
	}
	// The text report says what was skipped, by kind.
	r = run(t, "index", "--library", lib, root)
	if r.code != 0 || !strings.Contains(r.stdout, "2 videos, 3 sidecars, 1 document, 1 archive, 2 text files skipped") {
		t.Errorf("second run's report:\n%s%s", r.stdout, r.stderr)
	}
	var st engine.Stats
	runJSON(t, &st, "stats", "--library", lib, "--json")
	if st.SkippedBy["video"] != 2 || st.SkippedBy["sidecar"] != 3 || st.Errors != int64(count(files, "fail")) {
		t.Errorf("stats: skipped %v, errors %d", st.SkippedBy, st.Errors)
	}

	// The EXIF orientation (6) of the JPEG was applied: 96×64 shows as 64×96.
	var sr engine.SearchResult
	jpgPath := filepath.Join(root, "DCIM/100APPLE/IMG_0002.JPG")
	copyPath := filepath.Join(root, "Takeout/Google Photos/Photos from 2023/IMG_0002(1).JPG")
	runJSON(t, &sr, "search", "--library", lib, "--json", "--include-inputs", "-k", "3", "@"+jpgPath)
	if len(sr.Results) == 0 || sr.Results[0].Width != 64 || sr.Results[0].Height != 96 {
		t.Fatalf("search @IMG_0002.JPG with inputs: %+v", sr.Results)
	}
	// Identical content is one result listing both paths.
	if got := sr.Results[0].Paths; len(got) != 2 || got[0] != sr.Results[0].Path || !(got[1] == copyPath || got[1] == jpgPath) {
		t.Errorf("paths of the identical pair: %q", got)
	}
	for _, res := range sr.Results[1:] {
		if res.Path == copyPath || res.Path == jpgPath {
			t.Errorf("a copy came back twice: %+v", sr.Results)
		}
	}
	// A copy of a query input is never a result; the table marks copies.
	runJSON(t, &sr, "search", "--library", lib, "--json", "-k", "20", "@"+jpgPath)
	for _, res := range sr.Results {
		if res.Path == copyPath || res.Path == jpgPath {
			t.Errorf("the input's copy was returned: %+v", res)
		}
	}
	r = run(t, "search", "--library", lib, "--include-inputs", "-k", "1", "@"+jpgPath)
	if !strings.Contains(r.stdout, "+1 copy") {
		t.Errorf("table does not mark the copy:\n%s", r.stdout)
	}

	checkPhoneMetadata(t, lib, root, files)

	// duplicates: the exact pair; with --near the re-encode and the resized
	// screenshot join their originals.
	var groups []engine.DuplicateGroup
	runJSON(t, &groups, "duplicates", "--library", lib, "--json")
	if len(groups) != 1 || len(groups[0].Members) != 2 || !groups[0].Exact {
		t.Fatalf("exact duplicates: %+v", groups)
	}
	var near []engine.DuplicateGroup
	runJSON(t, &near, "duplicates", "--library", lib, "--json", "--near", "0.95")
	groupOf := map[string]int{}
	for i, g := range near {
		for _, m := range g.Members {
			groupOf[filepath.Base(m.Path)] = i + 1
			t.Logf("near group %d: %.4f %s", i+1, m.Similarity, m.Path)
		}
	}
	same := func(a, b string) bool { return groupOf[a] != 0 && groupOf[a] == groupOf[b] }
	if !same("IMG_0002.JPG", "IMG_0002(1).JPG") || !same("IMG_0002.JPG", "IMG_0002-edited.jpg") ||
		!same("Screenshot 2024-01-01 at 10.00.00.png", "Screenshot small.png") {
		t.Errorf("near duplicates not grouped: %v", groupOf)
	}
	if same("IMG_0002.JPG", "Screenshot small.png") || groupOf["写真 1.png"] != 0 && same("写真 1.png", "παραλία.png") {
		t.Errorf("unrelated pictures grouped: %v", groupOf)
	}

	// Excludes: --exclude and a .mmsearchignore remove what they now cover.
	imagetest.Write(t, filepath.Join(root, "Ünïcode", ".mmsearchignore"), []byte("# no travel pictures\n日本/\n"))
	runJSON(t, &rep, "index", "--library", lib, "--json", "--exclude", "Screenshots/", root)
	if rep.ExcludedRemoved != 3 || rep.Deleted != 3 { // two screenshots and 写真 1.png
		t.Errorf("newly excluded: removed %d (deleted %d), want 3", rep.ExcludedRemoved, rep.Deleted)
	}
	r = run(t, "search", "--library", lib, "-f", "-k", "50", "anything")
	for _, gone := range []string{"Screenshot", "写真"} {
		if strings.Contains(r.stdout, gone) {
			t.Errorf("%s still indexed after its exclusion:\n%s", gone, r.stdout)
		}
	}
	// --no-default-excludes walks @eaDir (the thumbnails get indexed).
	runJSON(t, &rep, "index", "--library", lib, "--json", "--hidden", "--no-default-excludes", "--exclude", "Screenshots/", root)
	// Two @eaDir thumbnails, the .git and node_modules pictures, and the
	// .mmsearchignore itself (hidden; a text file, skipped).
	if rep.New != 5 || rep.SkippedByKind["text"] != 3 {
		t.Errorf("--no-default-excludes: %d new files (want 5), skipped %v", rep.New, rep.SkippedByKind)
	}
	if r := run(t, "index", "--library", lib, "--exclude", "[bad", root); r.code != exitUsage || !strings.Contains(r.stderr, "[bad") {
		t.Errorf("bad --exclude: code %d %s", r.code, r.stderr)
	}

	// forget: everything under DCIM goes, in one transaction; a path with
	// nothing in the library is a usage error and removes nothing.
	before := countItems(t.Context(), t, lib)
	if r := run(t, "forget", "--library", lib, filepath.Join(root, "DCIM"), filepath.Join(root, "nowhere")); r.code != exitUsage || !strings.Contains(r.stderr, "not in the library") {
		t.Errorf("forget of an unknown path: code %d %s", r.code, r.stderr)
	}
	if n := countItems(t.Context(), t, lib); n != before {
		t.Fatalf("a failed forget removed %d items", before-n)
	}
	var fr engine.ForgetReport
	runJSON(t, &fr, "forget", "--library", lib, "--json", filepath.Join(root, "DCIM"))
	dcimImages := 0
	for _, f := range files {
		if strings.HasPrefix(f.rel, "DCIM/") && (f.want == "image" || f.want == "excluded" && strings.Contains(f.rel, "@eaDir")) {
			dcimImages++
		}
	}
	if fr.Items != dcimImages || fr.Skipped != 3 || fr.Errors < 1 {
		t.Errorf("forget DCIM: %+v, want %d items, 3 skip records and the failures", fr, dcimImages)
	}
	if n := countItems(t.Context(), t, lib); n != before-dcimImages {
		t.Errorf("%d items after forget, want %d", n, before-dcimImages)
	}
	r = run(t, "search", "--library", lib, "-f", "-k", "50", "anything")
	if strings.Contains(r.stdout, "/DCIM/") {
		t.Errorf("DCIM still searchable after forget:\n%s", r.stdout)
	}
	var after []struct{ Path string }
	runJSON(t, &after, "errors", "--library", lib, "--json")
	for _, e := range after {
		if strings.Contains(e.Path, "/DCIM/") {
			t.Errorf("forgotten failure still listed: %s", e.Path)
		}
	}
}

// checkPhoneMetadata reads the phone dump's photo metadata back through
// `search --json` and `stats --json` / `stats`: EXIF time with offset (JPEG,
// HEIC), without (PNG eXIf), the file time for pictures without EXIF,
// cameras, GPS, size after orientation, formats; and --refresh-metadata
// reads it again for every unchanged item.
func checkPhoneMetadata(t *testing.T, lib, root string, files []phoneFile) {
	t.Helper()
	var sr engine.SearchResult
	runJSON(t, &sr, "search", "--library", lib, "--json", "-k", "50", "anything")
	got := map[string]engine.Metadata{}
	for _, r := range sr.Results {
		// Copies (identical bytes and file times) share their metadata.
		for _, p := range append([]string{r.Path}, r.Paths...) {
			rel, _ := filepath.Rel(root, p)
			got[filepath.ToSlash(rel)] = r.Metadata
		}
	}
	type want struct {
		time   string // RFC 3339; for exif-no-offset the wall clock only
		source string
		camera string
		gps    []float64
		w, h   int
		format string
	}
	mtime := dumpMtime.Format(time.RFC3339)
	wants := map[string]want{
		"DCIM/100APPLE/IMG_0002.JPG":                                 {"2023-07-14T18:30:05+02:00", "exif", "Apple/iPhone 12", []float64{48.85837, 2.294481}, 64, 96, "jpeg"},
		"Takeout/Google Photos/Photos from 2023/IMG_0002(1).JPG":     {"2023-07-14T18:30:05+02:00", "exif", "Apple/iPhone 12", []float64{48.85837, 2.294481}, 64, 96, "jpeg"},
		"Takeout/Google Photos/Photos from 2023/IMG_0002-edited.jpg": {"2023-07-14T18:30:05+02:00", "exif", "Apple/iPhone 12", []float64{48.85837, 2.294481}, 64, 96, "jpeg"},
		"Screenshots/Screenshot 2024-01-01 at 10.00.00.png":          {mtime, "mtime", "/", nil, 80, 160, "png"},
		"Ünïcode/日本/写真 1.png":                                        {"2022-08-15T14:20:00", "exif-no-offset", "FUJIFILM/X100V", nil, 48, 48, "png"},
		"Screenshots/Screenshot small.png":                           {mtime, "mtime", "/", nil, 40, 80, "png"},
		"Ünïcode/Ελλάδα/παραλία.png":                                 {mtime, "mtime", "/", nil, 48, 48, "png"},
	}
	if _, err := exec.LookPath("heif-enc"); err == nil {
		wants["DCIM/100APPLE/IMG_0001.HEIC"] = want{"2024-05-01T09:15:00-07:00", "exif", "Apple/iPhone 15 Pro", []float64{37.7749, -122.4194}, 64, 48, "heic"}
	}
	for rel, w := range wants {
		m, ok := got[rel]
		if !ok {
			t.Errorf("metadata: %s not among the results", rel)
			continue
		}
		tm := m.CaptureTime.Format(time.RFC3339)
		if w.source == "mtime" {
			if !m.CaptureTime.Equal(dumpMtime) {
				t.Errorf("%s: capture time %s, want the file time %s", rel, tm, mtime)
			}
		} else if !strings.HasPrefix(tm, w.time) {
			t.Errorf("%s: capture time %s, want %s", rel, tm, w.time)
		}
		if string(m.TimeSource) != w.source || m.CameraMake+"/"+m.CameraModel != w.camera ||
			m.Width != w.w || m.Height != w.h || m.Format != w.format || (m.GPS == nil) != (w.gps == nil) ||
			m.GPS != nil && (math.Abs(m.GPS.Lat-w.gps[0]) > 1e-5 || math.Abs(m.GPS.Lon-w.gps[1]) > 1e-5) {
			t.Errorf("%s: metadata %+v (gps %v), want %+v", rel, m, m.GPS, w)
		}
	}
	// The JSON field names, as a script reads them.
	r := run(t, "search", "--library", lib, "--json", "--include-inputs", "-k", "1", "@"+filepath.Join(root, "DCIM/100APPLE/IMG_0002.JPG"))
	for _, field := range []string{`"metadata": {`, `"capture_time": "2023-07-14T18:30:05+02:00"`, `"time_source": "exif"`,
		`"camera_make": "Apple"`, `"camera_model": "iPhone 12"`, `"gps": {`, `"lat": 48.85837`, `"width": 64`, `"height": 96`, `"format": "jpeg"`} {
		if !strings.Contains(r.stdout, field) {
			t.Errorf("search --json lacks %s:\n%s", field, r.stdout)
		}
	}

	var st engine.Stats
	runJSON(t, &st, "stats", "--library", lib, "--json")
	p := st.Photos
	if !strings.HasPrefix(p.First.Format(time.RFC3339), "2022-08-15T14:20:00") {
		t.Errorf("stats: first capture %v, want the X100V's 2022-08-15 14:20", p.First)
	}
	wantLast := dumpMtime
	if _, ok := wants["DCIM/100APPLE/IMG_0001.HEIC"]; ok {
		wantLast = time.Date(2024, 5, 1, 16, 15, 0, 0, time.UTC)
	}
	if !p.Last.Equal(wantLast) {
		t.Errorf("stats: last capture %v, want %v", p.Last, wantLast)
	}
	formats := map[string]int64{}
	cameras := map[string]int64{}
	for _, w := range wants {
		formats[w.format]++
		if w.camera != "/" {
			mk, model, _ := strings.Cut(w.camera, "/")
			cameras[mk+" "+model]++
		}
	}
	if len(p.Cameras) == 0 || p.Cameras[0].Name != "Apple iPhone 12" || p.Cameras[0].Count != 3 {
		t.Errorf("stats: cameras %+v, want Apple iPhone 12 (3) first", p.Cameras)
	}
	for _, c := range p.Cameras {
		if cameras[c.Name] != c.Count {
			t.Errorf("stats: camera %s counted %d, want %d", c.Name, c.Count, cameras[c.Name])
		}
	}
	for _, f := range p.Formats {
		if formats[f.Name] != f.Count {
			t.Errorf("stats: format %s counted %d, want %d (%+v)", f.Name, f.Count, formats[f.Name], p.Formats)
		}
	}
	if len(p.Formats) != len(formats) || len(p.Cameras) != len(cameras) || p.WithGPS != int64(3+len(wants)-7) {
		t.Errorf("stats: %d formats, %d cameras, %d with GPS: %+v", len(p.Formats), len(p.Cameras), p.WithGPS, p)
	}
	r = run(t, "stats", "--library", lib)
	for _, line := range []string{"taken       2022-08-15 to ", "cameras     Apple iPhone 12 (3)", "FUJIFILM X100V (1)", "formats     png (4), jpeg (3)"} {
		if !strings.Contains(r.stdout, line) {
			t.Errorf("stats table lacks %q:\n%s", line, r.stdout)
		}
	}
	// --refresh-metadata reads every unchanged image's metadata again.
	var rep engine.IngestReport
	runJSON(t, &rep, "index", "--library", lib, "--json", "--hidden", "--refresh-metadata", root)
	if rep.MetadataRead != len(wants) || rep.Indexed != 0 {
		t.Errorf("--refresh-metadata: read %d, indexed %d; want %d, 0", rep.MetadataRead, rep.Indexed, len(wants))
	}
}
