package engine

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"mmsearch/engine/catalog"
	"mmsearch/engine/store"
	"mmsearch/index/hnsw"
	"mmsearch/internal/imagetest"
)

// TestIngestMetadata indexes pictures with and without EXIF and checks the
// metadata read back through search results and the MetaTable: EXIF time
// with offset, without (read in the library's Location), the file time
// when there is none, camera, GPS, size after orientation, format.
func TestIngestMetadata(t *testing.T) {
	ctx := context.Background()
	photos := t.TempDir()
	zone := time.FixedZone("test", 5*3600+30*60)
	mtime := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	jpg := func(seed int, e imagetest.EXIF) []byte {
		return imagetest.WithEXIFBlock(imagetest.JPEG(t, imagetest.Pattern(seed, 40, 20), 90), imagetest.EXIFBlock(e))
	}
	type want struct {
		time, source, make, model, format string
		gps                               *store.GPS
		w, h                              int
	}
	files := []struct {
		name string
		data []byte
		want want
	}{
		{"offset.jpg", jpg(1, imagetest.EXIF{Make: "Apple", Model: "iPhone 12", Orientation: 6,
			DateTimeOriginal: "2023:07:14 18:30:05", OffsetTimeOriginal: "+02:00", GPS: &[2]float64{48.85837, 2.294481}}),
			want{"2023-07-14T18:30:05+02:00", "exif", "Apple", "iPhone 12", "jpeg", &store.GPS{Lat: 48.85837, Lon: 2.294481}, 20, 40}},
		{"local.jpg", jpg(2, imagetest.EXIF{Make: "Canon", Model: "Canon EOS 5D", DateTimeOriginal: "2019:01:02 03:04:05"}),
			want{"2019-01-02T03:04:05+05:30", "exif-no-offset", "Canon", "Canon EOS 5D", "jpeg", nil, 40, 20}},
		{"camera-only.jpg", jpg(3, imagetest.EXIF{Make: "NIKON", Model: "D750"}),
			want{"2021-03-04T10:36:07+05:30", "mtime", "NIKON", "D750", "jpeg", nil, 40, 20}},
		{"shot.png", imagetest.PNG(t, imagetest.Pattern(4, 30, 60)),
			want{"2021-03-04T10:36:07+05:30", "mtime", "", "", "png", nil, 30, 60}},
		{"exif.png", imagetest.PNGWithEXIF(imagetest.PNG(t, imagetest.Pattern(5, 16, 16)), imagetest.EXIFBlock(imagetest.EXIF{
			DateTimeOriginal: "2022:12:31 23:59:59", OffsetTimeOriginal: "-08:00", GPS: &[2]float64{-33.5, -70.25}})),
			want{"2022-12-31T23:59:59-08:00", "exif", "", "", "png", &store.GPS{Lat: -33.5, Lon: -70.25}, 16, 16}},
	}
	for _, f := range files {
		p := filepath.Join(photos, f.name)
		imagetest.Write(t, p, f.data)
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	lib, err := Open(ctx, t.TempDir(), Options{Model: tinyModel, Index: hnsw.Config{Seed: 1}, Location: zone})
	if err != nil {
		t.Fatal(err)
	}
	defer lib.Close()
	rep, err := lib.Ingest(ctx, []string{photos}, IngestOptions{})
	if err != nil || rep.Indexed != len(files) || rep.MetadataRead != 0 {
		t.Fatalf("ingest: %+v %v", rep, err)
	}
	check := func(stage string) {
		t.Helper()
		res, err := lib.Search(ctx, "anything", SearchOptions{K: 10})
		if err != nil {
			t.Fatal(err)
		}
		byName := map[string]Result{}
		for _, r := range res.Results {
			byName[filepath.Base(r.Path)] = r
		}
		tab, err := lib.MetaTable(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			r, ok := byName[f.name]
			if !ok {
				t.Fatalf("%s: %s not found", stage, f.name)
			}
			m := r.Metadata
			got := want{m.CaptureTime.Format(time.RFC3339), string(m.TimeSource), m.CameraMake, m.CameraModel, m.Format, m.GPS, m.Width, m.Height}
			if got.time != f.want.time || got.source != f.want.source || got.make != f.want.make || got.model != f.want.model ||
				got.format != f.want.format || got.w != f.want.w || got.h != f.want.h || (got.gps == nil) != (f.want.gps == nil) ||
				got.gps != nil && (abs(got.gps.Lat-f.want.gps.Lat) > 1e-6 || abs(got.gps.Lon-f.want.gps.Lon) > 1e-6) {
				t.Errorf("%s: %s: metadata %+v (gps %v)\nwant %+v (gps %v)", stage, f.name, got, got.gps, f.want, f.want.gps)
			}
			row, ok := tab.Get(r.ID)
			if !ok || row.CaptureTime().Format(time.RFC3339) != f.want.time || row.Make != f.want.make ||
				row.Format != f.want.format || row.Width != f.want.w || row.HasGPS != (f.want.gps != nil) {
				t.Errorf("%s: %s: table row %+v, %v", stage, f.name, row, ok)
			}
		}
		// The JSON a result carries.
		b, _ := json.Marshal(byName["offset.jpg"].Metadata)
		for _, s := range []string{`"capture_time":"2023-07-14T18:30:05+02:00"`, `"time_source":"exif"`, `"camera_make":"Apple"`,
			`"camera_model":"iPhone 12"`, `"gps":{"lat":48.85837`, `"width":20`, `"height":40`, `"format":"jpeg"`} {
			if !strings.Contains(string(b), s) {
				t.Errorf("%s: metadata JSON %s lacks %s", stage, b, s)
			}
		}
		b, _ = json.Marshal(byName["shot.png"].Metadata)
		if strings.Contains(string(b), "gps") || strings.Contains(string(b), "camera") {
			t.Errorf("%s: metadata JSON of a screenshot %s", stage, b)
		}
	}
	check("first run")

	// Filters read the capture time and the camera: the EXIF time with its
	// offset, else the EXIF time in the library's zone, else the file time.
	filtered := func(stage string, f Filter) []string {
		t.Helper()
		res, err := lib.Search(ctx, "anything", SearchOptions{K: 10, Filter: f})
		if err != nil {
			t.Fatalf("%s: filter %+v: %v", stage, f, err)
		}
		var names []string
		for _, r := range res.Results {
			names = append(names, filepath.Base(r.Path))
		}
		slices.Sort(names)
		return names
	}
	date := func(s string) time.Time {
		d, err := ParseDate(s, zone)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	filterCases := []struct {
		f    Filter
		want []string
	}{
		{Filter{Camera: "canon"}, []string{"local.jpg"}},
		{Filter{Camera: "APPLE IPHONE"}, []string{"offset.jpg"}},
		{Filter{Camera: "d750"}, []string{"camera-only.jpg"}},
		{Filter{Before: date("2020")}, []string{"local.jpg"}},
		{Filter{After: date("2021"), Before: date("2022")}, []string{"camera-only.jpg", "shot.png"}},
		// 2022-12-31T23:59:59-08:00 is 2023-01-01T13:29:59 in the library's zone.
		{Filter{After: date("2023")}, []string{"exif.png", "offset.jpg"}},
		{Filter{After: date("2023"), Camera: "iphone"}, []string{"offset.jpg"}},
	}
	checkFilters := func(stage string) {
		t.Helper()
		for _, c := range filterCases {
			if got := filtered(stage, c.f); !slices.Equal(got, c.want) {
				t.Errorf("%s: filter %+v: %v, want %v", stage, c.f, got, c.want)
			}
		}
	}
	checkFilters("first run")

	// The table is cached while nothing changes, and read again after.
	t1, _ := lib.MetaTable(ctx)
	if t2, _ := lib.MetaTable(ctx); t2 != t1 {
		t.Error("MetaTable read again though nothing changed")
	}

	// An unchanged run reads nothing; a library whose items lack
	// metadata (indexed before it existed) gets it on the next run, and
	// --refresh-metadata reads it again for every unchanged item, without
	// embedding anything.
	rep, err = lib.Ingest(ctx, []string{photos}, IngestOptions{})
	if err != nil || rep.MetadataRead != 0 || rep.Indexed != 0 {
		t.Fatalf("unchanged run: %+v %v", rep, err)
	}
	forgetMetadata(t, lib)
	if _, err := lib.Search(ctx, "anything", SearchOptions{Filter: Filter{Camera: "canon"}}); !errors.Is(err, ErrNoCameraData) {
		t.Errorf("camera filter without metadata: %v, want ErrNoCameraData", err)
	}
	gen, _ := lib.store.Generation(ctx)
	rep, err = lib.Ingest(ctx, []string{photos}, IngestOptions{})
	if err != nil || rep.MetadataRead != len(files) || rep.Indexed != 0 || rep.Unchanged != len(files) {
		t.Fatalf("backfill run: %+v %v", rep, err)
	}
	if g, _ := lib.store.Generation(ctx); g != gen {
		t.Errorf("a metadata backfill moved the generation %d -> %d (the index would be rebuilt)", gen, g)
	}
	if t3, _ := lib.MetaTable(ctx); t3 == t1 || t3.MetaGeneration == t1.MetaGeneration {
		t.Error("MetaTable not read again after the backfill")
	}
	check("after backfill")
	checkFilters("after backfill")
	rep, err = lib.Ingest(ctx, []string{photos}, IngestOptions{RefreshMetadata: true})
	if err != nil || rep.MetadataRead != len(files) || rep.Indexed != 0 {
		t.Fatalf("refresh run: %+v %v", rep, err)
	}
	check("after refresh")
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// forgetMetadata makes lib look like a library migrated from before
// metadata: every item's metadata unread.
func forgetMetadata(t *testing.T, lib *Library) {
	t.Helper()
	ctx := context.Background()
	tab, err := lib.store.MetaTable(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ms []store.ItemMeta
	tab.Each(func(id int64, _ store.MetaRow) bool {
		ms = append(ms, store.ItemMeta{ID: id})
		return true
	})
	if _, err := lib.cat.Apply(ctx, catalog.Batch{SetMeta: ms}); err != nil {
		t.Fatal(err)
	}
}
