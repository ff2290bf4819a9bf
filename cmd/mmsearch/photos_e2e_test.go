package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

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
	jpg := imagetest.WithEXIF(imagetest.JPEG(t, photo, 92), "Apple", "iPhone 12", 6)
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
		{"Takeout/Google Photos/Photos from 2023/IMG_0002-edited.jpg", imagetest.WithEXIF(imagetest.JPEG(t, photo, 60), "Apple", "iPhone 12", 6), "image"}, // re-encoded
		{"Takeout/Google Photos/Photos from 2023/metadata.xmp", []byte(`<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"></x:xmpmeta>`), "sidecar"},
		{"Takeout/archive_browser.html", []byte("<html><body>Takeout</body></html>\n"), "text"},
		{"Takeout/Takeout-1.zip", []byte("PK\x03\x04\x14\x00\x00\x00\x08\x00rest"), "archive"},
		{"Screenshots/Screenshot 2024-01-01 at 10.00.00.png", imagetest.PNG(t, shot), "image"},
		{"Screenshots/Screenshot small.png", imagetest.PNG(t, imaging.Resize(shot, 40, 80, imaging.Lanczos)), "image"}, // resized copy
		{"Documents/manual.pdf", []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"), "document"},
		{"Documents/notes.txt", []byte("buy film\n"), "text"},
		{"Documents/scan.jp2", []byte("\x00\x00\x00\x0CjP  \r\n\x87\n\x00\x00\x00\x14ftypjp2 "), "fail"}, // unsupported image format
		{"Ünïcode/日本/写真 1.png", imagetest.PNG(t, imagetest.Pattern(21, 48, 48)), "image"},
		{"Ünïcode/Ελλάδα/παραλία.png", imagetest.PNG(t, imagetest.Pattern(22, 48, 48)), "image"},
		{"@eaDir/IMG_0002.JPG/SYNOPHOTO_THUMB_XL.jpg", imagetest.JPEG(t, imagetest.Pattern(30, 32, 32), 80), "excluded"},
		{"DCIM/@eaDir/x/SYNOPHOTO_THUMB_M.jpg", imagetest.JPEG(t, imagetest.Pattern(31, 32, 32), 80), "excluded"},
		{".git/objects/ab/cdef.png", imagetest.PNG(t, imagetest.Pattern(32, 16, 16)), "excluded"},
		{"node_modules/pkg/logo.png", imagetest.PNG(t, imagetest.Pattern(33, 16, 16)), "excluded"},
	}
	if _, err := exec.LookPath("heif-enc"); err == nil {
		files = append(files,
			phoneFile{"DCIM/100APPLE/IMG_0001.HEIC", imagetest.HEIF(t, imagetest.Pattern(1, 64, 48), 80, false), "image"},
			phoneFile{"DCIM/100APPLE/IMG_0006.HEIC", append(imagetest.HEIF(t, imagetest.Pattern(6, 64, 48), 80, false)[:60], make([]byte, 100)...), "fail"})
	} else {
		t.Log("heif-enc not installed: the dump has no HEIC files")
	}
	for _, f := range files {
		imagetest.Write(t, filepath.Join(root, f.rel), f.data)
	}
	return files
}

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
// content, and forget.
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
