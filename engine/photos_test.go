package engine

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"mmsearch/encoders/imageproc"
	"mmsearch/internal/imagetest"
)

func mp4Header(size int) []byte {
	b := []byte("\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2")
	return append(b, bytes.Repeat([]byte{0x42}, size-len(b))...)
}

// TestVideoSkippedBeforeSizeLimit checks that a video over the file-size
// limit is skipped as a video (recognised from its head), while an image
// over the limit stays a "too large" failure.
func TestVideoSkippedBeforeSizeLimit(t *testing.T) {
	ctx := context.Background()
	photos := t.TempDir()
	imagetest.Write(t, filepath.Join(photos, "clip.mp4"), mp4Header(5000))
	big := imagetest.PNG(t, imagetest.Pattern(1, 200, 200))
	imagetest.Write(t, filepath.Join(photos, "big.png"), big)
	lib := openLib(t, t.TempDir(), tinyModel)
	rep, err := lib.Ingest(ctx, []string{photos}, IngestOptions{Image: imageproc.Options{MaxFileBytes: int64(len(big)) - 1}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.SkippedByKind["video"] != 1 || rep.SkippedNew != 1 || rep.Failed != 1 || len(rep.Errors) != 1 || filepath.Base(rep.Errors[0].Path) != "big.png" {
		t.Fatalf("report: skipped %v, failed %d %+v", rep.SkippedByKind, rep.Failed, rep.Errors)
	}
	// Unchanged, the video is not looked at again but still counted.
	rep, err = lib.Ingest(ctx, []string{photos}, IngestOptions{Image: imageproc.Options{MaxFileBytes: int64(len(big)) - 1}})
	if err != nil || rep.SkippedByKind["video"] != 1 || rep.SkippedNew != 0 || rep.New+rep.Changed != 0 {
		t.Fatalf("second run: %+v %v", rep, err)
	}
}

// TestImageReplacedByVideo checks that an indexed picture whose file now
// holds a video leaves the store and the index, and is counted as skipped.
func TestImageReplacedByVideo(t *testing.T) {
	ctx := context.Background()
	photos := t.TempDir()
	for i := range 3 {
		writeImage(t, filepath.Join(photos, string(rune('a'+i))+".png"), i+1, "png")
	}
	lib := openLib(t, t.TempDir(), tinyModel)
	if _, err := lib.Ingest(ctx, []string{photos}, IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	imagetest.Write(t, filepath.Join(photos, "b.png"), mp4Header(3000))
	rep, err := lib.Ingest(ctx, []string{photos}, IngestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Changed != 1 || rep.SkippedByKind["video"] != 1 || rep.Failed != 0 {
		t.Fatalf("report %+v", rep)
	}
	if paths := itemPaths(t, lib); len(paths) != 2 {
		t.Fatalf("items %q, want a.png and c.png", paths)
	}
	res, err := lib.Search(ctx, "anything", SearchOptions{K: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Results) != 2 {
		t.Errorf("search finds %d items, want 2: %+v", len(res.Results), res.Results)
	}
	for _, r := range res.Results {
		if filepath.Base(r.Path) == "b.png" {
			t.Errorf("the video is still searchable: %+v", r)
		}
	}
}

// TestCopiesOneResult checks that identical files are one search result
// listing every path (KeepCopies restores one result per item), and that
// copies of a query input are excluded with it.
func TestCopiesOneResult(t *testing.T) {
	ctx := context.Background()
	photos := t.TempDir()
	for i := range 5 {
		writeImage(t, filepath.Join(photos, string(rune('a'+i))+".png"), i+1, "png")
	}
	for _, name := range []string{"a copy.png", "sub/a.png"} {
		writeImage(t, filepath.Join(photos, name), 1, "png")
	}
	lib := openLib(t, t.TempDir(), tinyModel)
	if _, err := lib.Ingest(ctx, []string{photos}, IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	a := filepath.Join(photos, "a.png")
	q := "@" + a
	res, err := lib.Search(ctx, q, SearchOptions{K: 10, IncludeInputs: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Results) != 5 || res.Results[0].Copies() != 2 || len(res.Results[0].Paths) != 3 {
		t.Fatalf("collapsed: %d results, first %+v", len(res.Results), res.Results[0])
	}
	res, err = lib.Search(ctx, q, SearchOptions{K: 10, IncludeInputs: true, KeepCopies: true})
	if err != nil || len(res.Results) != 7 || res.Results[2].Score < 0.9999 || len(res.Results[0].Paths) != 0 {
		t.Fatalf("KeepCopies: %+v %v", res, err)
	}
	res, err = lib.Search(ctx, q, SearchOptions{K: 10})
	if err != nil || len(res.Results) != 4 {
		t.Fatalf("without inputs: %+v %v", res, err)
	}
	// A file outside the library with the same content is an input too.
	outside := filepath.Join(t.TempDir(), "same.png")
	writeImage(t, outside, 1, "png")
	res, err = lib.Search(ctx, outside, SearchOptions{K: 10, AllowPaths: true})
	if err != nil || len(res.Results) != 4 {
		t.Fatalf("outside copy as input: %+v %v", res, err)
	}
	for _, r := range res.Results {
		if r.Score > 0.9999 {
			t.Errorf("a copy of the outside input came back: %+v", r)
		}
	}
}
