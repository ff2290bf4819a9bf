package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// TimeSource says where an item's capture time comes from.
type TimeSource string

// Time sources, as stored and shown in JSON.
const (
	// TimeUnread: the item's metadata has not been read yet (it was
	// indexed before the library's schema had metadata).
	TimeUnread TimeSource = ""
	// TimeEXIF: EXIF DateTimeOriginal with its OffsetTimeOriginal.
	TimeEXIF TimeSource = "exif"
	// TimeEXIFNoOffset: EXIF DateTimeOriginal without an offset tag, read
	// in the indexing machine's local time zone.
	TimeEXIFNoOffset TimeSource = "exif-no-offset"
	// TimeMtime: the file's modification time (no EXIF date).
	TimeMtime TimeSource = "mtime"
)

// GPS is a position in degrees (WGS 84, as EXIF records it); south and west
// are negative.
type GPS struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// Metadata is what an image file says about the photo, read at ingest.
type Metadata struct {
	// CaptureTime is when the photo was taken, in the offset from UTC it
	// was taken in (zero when unread).
	CaptureTime time.Time `json:"capture_time,omitzero"`
	// TimeSource says where CaptureTime comes from.
	TimeSource TimeSource `json:"time_source,omitempty"`
	// CameraMake and CameraModel are EXIF Make and Model ("" when absent).
	CameraMake  string `json:"camera_make,omitempty"`
	CameraModel string `json:"camera_model,omitempty"`
	// GPS is the position, nil when the file records none.
	GPS *GPS `json:"gps,omitempty"`
}

// maxMetaString bounds the camera names stored.
const maxMetaString = 256

// Validate reports what makes m unfit to store: an unknown time source, a
// time source without a time, an over-long or non-UTF-8 camera name, a GPS
// position out of range. Metadata from elsewhere (a cluster worker) is
// checked with it before it reaches a transaction.
func (m Metadata) Validate() error { return m.validate() }

func (m Metadata) validate() error {
	switch m.TimeSource {
	case TimeUnread, TimeEXIF, TimeEXIFNoOffset, TimeMtime:
	default:
		return fmt.Errorf("unknown time source %q", m.TimeSource)
	}
	if m.TimeSource != TimeUnread && m.CaptureTime.IsZero() {
		return fmt.Errorf("time source %q without a capture time", m.TimeSource)
	}
	for _, s := range []string{m.CameraMake, m.CameraModel} {
		if len(s) > maxMetaString || !utf8.ValidString(s) {
			return fmt.Errorf("camera name %q: over %d bytes or not UTF-8", s, maxMetaString)
		}
	}
	if g := m.GPS; g != nil && (math.IsNaN(g.Lat) || math.IsNaN(g.Lon) || math.Abs(g.Lat) > 90 || math.Abs(g.Lon) > 180) {
		return fmt.Errorf("GPS position %v,%v out of range", g.Lat, g.Lon)
	}
	return nil
}

// metaColumns are the items columns that hold Metadata, in the order of
// metaCols.dest and Metadata.args.
const metaColumns = "capture_ns, capture_offset_s, time_source, camera_make, camera_model, gps_lat, gps_lon"

// args returns the column values of m.
func (m Metadata) args() []any {
	var ns, lat, lon any
	var off int
	if !m.CaptureTime.IsZero() {
		ns = m.CaptureTime.UnixNano()
		_, off = m.CaptureTime.Zone()
	}
	if m.GPS != nil {
		lat, lon = m.GPS.Lat, m.GPS.Lon
	}
	return []any{ns, off, string(m.TimeSource), m.CameraMake, m.CameraModel, lat, lon}
}

// metaCols scans the metadata columns.
type metaCols struct {
	ns       sql.NullInt64
	off      int64
	source   string
	make     string
	model    string
	lat, lon sql.NullFloat64
}

func (c *metaCols) dest() []any {
	return []any{&c.ns, &c.off, &c.source, &c.make, &c.model, &c.lat, &c.lon}
}

func (c *metaCols) metadata() Metadata {
	m := Metadata{TimeSource: TimeSource(c.source), CameraMake: c.make, CameraModel: c.model}
	if c.ns.Valid {
		m.CaptureTime = captureTime(c.ns.Int64, int32(c.off))
	}
	if c.lat.Valid && c.lon.Valid {
		m.GPS = &GPS{Lat: c.lat.Float64, Lon: c.lon.Float64}
	}
	return m
}

// captureTime is the instant ns (Unix nanoseconds) in a zone offset
// seconds east of UTC; zones are shared so that a table holds few.
func captureTime(ns int64, offset int32) time.Time {
	return time.Unix(0, ns).In(zoneFor(offset))
}

var utcZone = time.FixedZone("", 0)

// zoneFor returns a fixed zone for offset (named like its RFC 3339 form).
func zoneFor(offset int32) *time.Location {
	if offset == 0 {
		return utcZone
	}
	return time.FixedZone("", int(offset))
}

// ItemMeta pairs an item id with metadata, for SetMetadata.
type ItemMeta struct {
	ID   int64
	Meta Metadata
}

// SetMetadata replaces the metadata of existing items (ids that name no
// item are ignored) and returns how many it changed. Vectors and the
// generation do not change; the metadata generation does.
func (t *Tx) SetMetadata(ctx context.Context, ms []ItemMeta) (int, error) {
	if len(ms) == 0 {
		return 0, nil
	}
	for _, m := range ms {
		if err := m.Meta.validate(); err != nil {
			return 0, fmt.Errorf("store: set metadata of item %d: %w", m.ID, err)
		}
	}
	up, err := t.tx.PrepareContext(ctx, `UPDATE items SET capture_ns = ?, capture_offset_s = ?, time_source = ?,
		camera_make = ?, camera_model = ?, gps_lat = ?, gps_lon = ? WHERE id = ?`)
	if err != nil {
		return 0, fmt.Errorf("store: set metadata: %w", err)
	}
	defer up.Close()
	n := 0
	for _, m := range ms {
		res, err := up.ExecContext(ctx, append(m.Meta.args(), m.ID)...)
		if err != nil {
			return n, fmt.Errorf("store: set metadata of item %d: %w", m.ID, err)
		}
		k, _ := res.RowsAffected()
		n += int(k)
	}
	if n > 0 {
		t.metaChanged = true
	}
	return n, nil
}

// MetaGeneration returns the metadata change counter: it grows with every
// commit that changed items or their metadata. A MetaTable read at
// metadata generation g is current while MetaGeneration() == g.
func (s *Store) MetaGeneration(ctx context.Context) (int64, error) {
	g, err := metaGeneration(ctx, s.r)
	if err != nil {
		return 0, fmt.Errorf("store: %w", err)
	}
	return g, nil
}

func metaGeneration(ctx context.Context, q queryer) (int64, error) {
	v, ok, err := getMeta(ctx, q, "meta_generation")
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, errors.New("meta has no meta_generation")
	}
	g, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad meta_generation %q in meta: %w", v, err)
	}
	return g, nil
}

// MetaRow is one item's metadata as a MetaTable holds it: flat, so that a
// filter reads it without allocating.
type MetaRow struct {
	// CaptureNs is the capture time in Unix nanoseconds (UTC); 0 with
	// Source TimeUnread. OffsetS is the capture's offset east of UTC.
	CaptureNs int64
	OffsetS   int32
	Source    TimeSource
	// Make, Model and Format are shared strings (one copy per value).
	Make, Model, Format string
	Width, Height       int
	// HasGPS says whether Lat and Lon hold a position.
	HasGPS   bool
	Lat, Lon float64
}

// CaptureTime returns the capture time in its own offset (zero when unread).
func (r MetaRow) CaptureTime() time.Time {
	if r.Source == TimeUnread {
		return time.Time{}
	}
	return captureTime(r.CaptureNs, r.OffsetS)
}

// Pixels is Width×Height.
func (r MetaRow) Pixels() int64 { return int64(r.Width) * int64(r.Height) }

// Metadata returns the row as Metadata.
func (r MetaRow) Metadata() Metadata {
	m := Metadata{CaptureTime: r.CaptureTime(), TimeSource: r.Source, CameraMake: r.Make, CameraModel: r.Model}
	if r.HasGPS {
		m.GPS = &GPS{Lat: r.Lat, Lon: r.Lon}
	}
	return m
}

// metaRow is MetaRow packed: strings as indexes into the table's lists.
type metaRow struct {
	captureNs     int64
	lat, lon      float64
	width, height int32
	offsetS       int32
	camera        uint32 // index into MetaTable.cameras
	format        uint16 // index into MetaTable.formats
	source        uint8  // index into sources
	hasGPS        bool
}

var sources = []TimeSource{TimeUnread, TimeEXIF, TimeEXIFNoOffset, TimeMtime}

func sourceIndex(s TimeSource) uint8 {
	for i, v := range sources {
		if v == s {
			return uint8(i)
		}
	}
	return 0
}

// MetaTable is every item's metadata (with its width, height and format),
// read from one snapshot of the store and held in memory by item id, for
// filters evaluated during an index search. It is immutable and safe for
// concurrent use. About 56 bytes per item.
type MetaTable struct {
	// Generation and MetaGeneration are those of the snapshot read.
	Generation, MetaGeneration int64

	ids     []int64 // ascending
	rows    []metaRow
	cameras [][2]string
	formats []string
}

// Len is the number of items in the table.
func (t *MetaTable) Len() int { return len(t.ids) }

// Get returns the metadata of item id; ok is false when the table has no
// such item. It does not allocate.
func (t *MetaTable) Get(id int64) (r MetaRow, ok bool) {
	i := sort.Search(len(t.ids), func(i int) bool { return t.ids[i] >= id })
	if i == len(t.ids) || t.ids[i] != id {
		return r, false
	}
	return t.row(i), true
}

func (t *MetaTable) row(i int) MetaRow {
	p := &t.rows[i]
	cam := t.cameras[p.camera]
	return MetaRow{CaptureNs: p.captureNs, OffsetS: p.offsetS, Source: sources[p.source],
		Make: cam[0], Model: cam[1], Format: t.formats[p.format],
		Width: int(p.width), Height: int(p.height), HasGPS: p.hasGPS, Lat: p.lat, Lon: p.lon}
}

// Each calls fn with every item's id and metadata in id order until fn
// returns false.
func (t *MetaTable) Each(fn func(id int64, r MetaRow) bool) {
	for i, id := range t.ids {
		if !fn(id, t.row(i)) {
			return
		}
	}
}

// MetaTable reads every item's metadata in one read transaction.
func (s *Store) MetaTable(ctx context.Context) (*MetaTable, error) {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("store: metadata table: %w", err)
	}
	defer tx.Rollback()
	t := &MetaTable{}
	if t.Generation, err = generation(ctx, tx); err != nil {
		return nil, fmt.Errorf("store: metadata table: %w", err)
	}
	if t.MetaGeneration, err = metaGeneration(ctx, tx); err != nil {
		return nil, fmt.Errorf("store: metadata table: %w", err)
	}
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil {
		return nil, fmt.Errorf("store: metadata table: %w", err)
	}
	t.ids = make([]int64, 0, n)
	t.rows = make([]metaRow, 0, n)
	rows, err := tx.QueryContext(ctx, "SELECT id, width, height, format, "+metaColumns+" FROM items ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("store: metadata table: %w", err)
	}
	defer rows.Close()
	camIdx := map[[2]string]uint32{}
	fmtIdx := map[string]uint16{}
	for rows.Next() {
		var (
			id            int64
			width, height int64
			format        string
			mc            metaCols
		)
		if err := rows.Scan(append([]any{&id, &width, &height, &format}, mc.dest()...)...); err != nil {
			return nil, fmt.Errorf("store: metadata table: %w", err)
		}
		cam := [2]string{mc.make, mc.model}
		ci, ok := camIdx[cam]
		if !ok {
			ci = uint32(len(t.cameras))
			camIdx[cam] = ci
			t.cameras = append(t.cameras, cam)
		}
		fi, ok := fmtIdx[format]
		if !ok {
			if len(t.formats) == math.MaxUint16 {
				return nil, errors.New("store: metadata table: too many formats")
			}
			fi = uint16(len(t.formats))
			fmtIdx[format] = fi
			t.formats = append(t.formats, format)
		}
		r := metaRow{captureNs: mc.ns.Int64, offsetS: int32(mc.off), width: int32(width), height: int32(height),
			camera: ci, format: fi, source: sourceIndex(TimeSource(mc.source))}
		if mc.lat.Valid && mc.lon.Valid {
			r.hasGPS, r.lat, r.lon = true, mc.lat.Float64, mc.lon.Float64
		}
		t.ids = append(t.ids, id)
		t.rows = append(t.rows, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: metadata table: %w", err)
	}
	return t, nil
}

// CameraName is how a camera is shown: "Make Model", or the model alone
// when it starts with the make already ("Canon EOS 5D", not "Canon Canon
// EOS 5D").
func CameraName(mk, model string) string {
	switch {
	case model == "":
		return mk
	case mk == "" || len(model) >= len(mk) && strings.EqualFold(model[:len(mk)], mk):
		return model
	}
	return mk + " " + model
}

// Count is a value and how many items have it.
type Count struct {
	Name  string `json:"name"`
	Count int64  `json:"count"`
}

// MetaStats summarises the items' metadata.
type MetaStats struct {
	// First and Last are the earliest and latest capture times, each in its
	// own offset (zero when no item has one).
	First time.Time `json:"first,omitzero"`
	Last  time.Time `json:"last,omitzero"`
	// BySource counts items by time source ("exif", "exif-no-offset",
	// "mtime", and "unread" for items whose metadata is not read yet).
	BySource map[string]int64 `json:"time_sources,omitempty"`
	// Cameras counts items by camera (see CameraName), most first;
	// items without a camera are left out.
	Cameras []Count `json:"cameras,omitempty"`
	// Formats counts items by format, most first.
	Formats []Count `json:"formats,omitempty"`
	// WithGPS counts items with a position.
	WithGPS int64 `json:"with_gps"`
}

// MetaStats reads the summary in one read transaction; Cameras holds at
// most topCameras entries.
func (s *Store) MetaStats(ctx context.Context, topCameras int) (MetaStats, error) {
	var st MetaStats
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return st, fmt.Errorf("store: metadata stats: %w", err)
	}
	defer tx.Rollback()
	for _, q := range []struct {
		sql string
		dst *time.Time
	}{
		{"SELECT capture_ns, capture_offset_s FROM items WHERE capture_ns IS NOT NULL ORDER BY capture_ns ASC LIMIT 1", &st.First},
		{"SELECT capture_ns, capture_offset_s FROM items WHERE capture_ns IS NOT NULL ORDER BY capture_ns DESC LIMIT 1", &st.Last},
	} {
		var ns, off int64
		err := tx.QueryRowContext(ctx, q.sql).Scan(&ns, &off)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return st, fmt.Errorf("store: metadata stats: date range: %w", err)
		}
		*q.dst = captureTime(ns, int32(off))
	}
	counts := func(q string, args ...any) ([]Count, error) {
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []Count
		for rows.Next() {
			var c Count
			if err := rows.Scan(&c.Name, &c.Count); err != nil {
				return nil, err
			}
			out = append(out, c)
		}
		return out, rows.Err()
	}
	cams, err := counts(`SELECT camera_make || char(0) || camera_model, count(*) AS n FROM items
		WHERE camera_make != '' OR camera_model != '' GROUP BY camera_make, camera_model
		ORDER BY n DESC, 1 LIMIT ?`, max(topCameras, 0))
	if err != nil {
		return st, fmt.Errorf("store: metadata stats: cameras: %w", err)
	}
	for _, c := range cams {
		mk, model, _ := strings.Cut(c.Name, "\x00")
		st.Cameras = append(st.Cameras, Count{Name: CameraName(mk, model), Count: c.Count})
	}
	// Formats, time sources and GPS in one pass: the rows hold the vectors,
	// so each scan of the table reads all of them.
	rows, err := tx.QueryContext(ctx, "SELECT format, time_source, gps_lat IS NOT NULL, count(*) FROM items GROUP BY 1, 2, 3")
	if err != nil {
		return st, fmt.Errorf("store: metadata stats: formats and time sources: %w", err)
	}
	defer rows.Close()
	formats := map[string]int64{}
	for rows.Next() {
		var format, source string
		var gps bool
		var n int64
		if err := rows.Scan(&format, &source, &gps, &n); err != nil {
			return st, fmt.Errorf("store: metadata stats: formats and time sources: %w", err)
		}
		formats[format] += n
		if source == string(TimeUnread) {
			source = "unread"
		}
		if st.BySource == nil {
			st.BySource = map[string]int64{}
		}
		st.BySource[source] += n
		if gps {
			st.WithGPS += n
		}
	}
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("store: metadata stats: formats and time sources: %w", err)
	}
	for name, n := range formats {
		st.Formats = append(st.Formats, Count{Name: name, Count: n})
	}
	slices.SortFunc(st.Formats, func(a, b Count) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return st, nil
}
