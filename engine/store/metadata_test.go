package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"
)

func metaItem(path string, seed int, m Metadata) Item {
	it := item(path, seed)
	it.Meta = m
	return it
}

// TestMetadataRoundTrip writes items with metadata and reads it back
// through ItemByPath, the MetaTable and MetaStats; SetMetadata changes only
// the metadata and moves only the metadata generation.
func TestMetadataRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	paris := time.FixedZone("", 2*3600)
	ny := time.FixedZone("", -4*3600)
	tests := []struct {
		path string
		meta Metadata
	}{
		{"/p/a.jpg", Metadata{CaptureTime: time.Date(2023, 7, 14, 18, 30, 5, 250e6, paris), TimeSource: TimeEXIF,
			CameraMake: "Apple", CameraModel: "iPhone 12", GPS: &GPS{Lat: 48.85837, Lon: 2.294481}}},
		{"/p/b.jpg", Metadata{CaptureTime: time.Date(2020, 1, 2, 3, 4, 5, 0, ny), TimeSource: TimeEXIFNoOffset,
			CameraMake: "Canon", CameraModel: "Canon EOS 5D"}},
		{"/p/c.png", Metadata{CaptureTime: time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC), TimeSource: TimeMtime}},
		{"/p/d.heic", Metadata{CaptureTime: time.Date(2023, 8, 1, 9, 0, 0, 0, paris), TimeSource: TimeEXIF,
			CameraMake: "Apple", CameraModel: "iPhone 12", GPS: &GPS{Lat: -33.85, Lon: -70.65}}},
		{"/p/e.jpg", Metadata{}}, // unread
	}
	var items []Item
	for i, tc := range tests {
		it := metaItem(tc.path, i+1, tc.meta)
		if i == 2 {
			it.Format = "png"
		}
		items = append(items, it)
	}
	ids, err := s.UpsertItems(ctx, items)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		got, err := s.ItemByPath(ctx, tc.path)
		if err != nil {
			t.Fatal(err)
		}
		sameMeta(t, tc.path, got.Meta, tc.meta)
	}
	states, err := s.FileStates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !states["/p/e.jpg"].NoMeta || states["/p/a.jpg"].NoMeta {
		t.Errorf("NoMeta: e %v, a %v", states["/p/e.jpg"].NoMeta, states["/p/a.jpg"].NoMeta)
	}

	tab, err := s.MetaTable(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tab.Len() != len(tests) {
		t.Fatalf("table has %d rows", tab.Len())
	}
	for i, tc := range tests {
		r, ok := tab.Get(ids[i])
		if !ok {
			t.Fatalf("table lacks item %d", ids[i])
		}
		sameMeta(t, tc.path+" (table)", r.Metadata(), tc.meta)
		if r.Width != 640 || r.Height != 480 || r.Pixels() != 640*480 || r.Format != items[i].Format {
			t.Errorf("%s: table row %+v", tc.path, r)
		}
	}
	if _, ok := tab.Get(ids[len(ids)-1] + 1); ok {
		t.Error("Get of an absent id succeeded")
	}
	if n := testing.AllocsPerRun(100, func() { tab.Get(ids[0]) }); n != 0 {
		t.Errorf("Get allocates %v times", n)
	}

	st, err := s.MetaStats(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.First.Format(time.RFC3339); got != "2020-01-02T03:04:05-04:00" {
		t.Errorf("first %s", got)
	}
	if got := st.Last.Format(time.RFC3339); got != "2024-02-29T12:00:00Z" {
		t.Errorf("last %s", got)
	}
	if len(st.Cameras) != 2 || st.Cameras[0] != (Count{"Apple iPhone 12", 2}) || st.Cameras[1] != (Count{"Canon EOS 5D", 1}) {
		t.Errorf("cameras %+v", st.Cameras)
	}
	if len(st.Formats) != 2 || st.Formats[0] != (Count{"jpeg", 4}) || st.Formats[1] != (Count{"png", 1}) {
		t.Errorf("formats %+v", st.Formats)
	}
	for _, c := range []struct{ mk, model, want string }{
		{"NIKON CORPORATION", "NIKON D750", "NIKON CORPORATION NIKON D750"},
		{"Canon", "Canon EOS R5", "Canon EOS R5"},
		{"samsung", "SM-G991B", "samsung SM-G991B"},
		{"", "DMC-GX7", "DMC-GX7"},
		{"FUJIFILM", "", "FUJIFILM"},
	} {
		if got := CameraName(c.mk, c.model); got != c.want {
			t.Errorf("CameraName(%q, %q) = %q, want %q", c.mk, c.model, got, c.want)
		}
	}
	if st.WithGPS != 2 || st.BySource["exif"] != 2 || st.BySource["unread"] != 1 {
		t.Errorf("stats %+v", st)
	}

	// SetMetadata: the metadata generation moves, the generation does not.
	gen, _ := s.Generation(ctx)
	mgen, _ := s.MetaGeneration(ctx)
	tx, err := s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fresh := Metadata{CaptureTime: time.Date(2019, 5, 5, 5, 5, 5, 0, time.UTC), TimeSource: TimeMtime}
	n, err := tx.SetMetadata(ctx, []ItemMeta{{ID: ids[4], Meta: fresh}, {ID: 999999, Meta: fresh}})
	if err != nil || n != 1 {
		t.Fatalf("SetMetadata = %d, %v", n, err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	gen2, _ := s.Generation(ctx)
	mgen2, _ := s.MetaGeneration(ctx)
	if gen2 != gen || mgen2 != mgen+1 {
		t.Errorf("after SetMetadata: generation %d -> %d, metadata generation %d -> %d", gen, gen2, mgen, mgen2)
	}
	got, _ := s.ItemByID(ctx, ids[4])
	sameMeta(t, "after SetMetadata", got.Meta, fresh)
	// Deleting an item moves both.
	if _, err := s.DeleteItems(ctx, ids[:1]); err != nil {
		t.Fatal(err)
	}
	if mgen3, _ := s.MetaGeneration(ctx); mgen3 != mgen2+1 {
		t.Errorf("metadata generation after a delete: %d, want %d", mgen3, mgen2+1)
	}

	// Bad metadata is refused with the item's path.
	for _, bad := range []Metadata{
		{TimeSource: "sundial", CaptureTime: time.Now()},
		{TimeSource: TimeEXIF},
		{TimeSource: TimeMtime, CaptureTime: time.Now(), GPS: &GPS{Lat: 91}},
		{CameraMake: "\xff\xfe"},
	} {
		if _, err := s.UpsertItems(ctx, []Item{metaItem("/p/bad.jpg", 9, bad)}); err == nil {
			t.Errorf("metadata %+v accepted", bad)
		}
	}
}

func sameMeta(t *testing.T, what string, got, want Metadata) {
	t.Helper()
	if !got.CaptureTime.Equal(want.CaptureTime) || got.CaptureTime.Format(time.RFC3339Nano) != want.CaptureTime.Format(time.RFC3339Nano) ||
		got.TimeSource != want.TimeSource || got.CameraMake != want.CameraMake || got.CameraModel != want.CameraModel ||
		(got.GPS == nil) != (want.GPS == nil) || got.GPS != nil && *got.GPS != *want.GPS {
		t.Errorf("%s: metadata %+v (gps %v)\nwant %+v (gps %v)", what, got, got.GPS, want, want.GPS)
	}
}

// TestMigrateToMetadata opens a database of schema version 3 (before
// metadata): its items keep their ids, paths and vectors, read as
// TimeUnread with NoMeta set, so that the next ingest reads their metadata.
func TestMigrateToMetadata(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v3.db")
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range migrations[:3] {
		if _, err := raw.Exec(m); err != nil {
			t.Fatal(err)
		}
	}
	it := item("/old/a.jpg", 1)
	if _, err := raw.Exec(`INSERT INTO items (id, path, size, mtime_ns, content_hash, width, height, format, vector, indexed_at)
		VALUES (7, ?, ?, ?, ?, 640, 480, 'jpeg', ?, 0); PRAGMA user_version = 3`,
		[]byte(it.Path), it.Size, it.MtimeNs, it.Hash[:], encodeVector(it.Vector)); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	// Read-only, an old schema is refused (it needs a write to migrate).
	if _, err := OpenReadOnly(ctx, path); err == nil {
		t.Error("OpenReadOnly accepted a version-3 database")
	}
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.SetModel(ctx, testModel); err != nil {
		t.Fatal(err)
	}
	got, err := s.ItemByID(ctx, 7)
	if err != nil {
		t.Fatal(err)
	}
	sameItem(t, got, it)
	if got.Meta.TimeSource != TimeUnread || !got.Meta.CaptureTime.IsZero() || got.Meta.GPS != nil {
		t.Errorf("migrated item's metadata %+v", got.Meta)
	}
	states, err := s.FileStates(ctx)
	if err != nil || !states[it.Path].NoMeta || states[it.Path].ID != 7 {
		t.Errorf("states %+v, %v", states, err)
	}
	if g, err := s.MetaGeneration(ctx); err != nil || g != 0 {
		t.Errorf("MetaGeneration = %d, %v", g, err)
	}
	st, err := s.Stats(ctx)
	if err != nil || st.SchemaVersion != 4 || st.Items != 1 {
		t.Errorf("stats %+v, %v", st, err)
	}
	ms, err := s.MetaStats(ctx, 5)
	if err != nil || !ms.First.IsZero() || ms.BySource["unread"] != 1 {
		t.Errorf("metadata stats %+v, %v", ms, err)
	}
}
