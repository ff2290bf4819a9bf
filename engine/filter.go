package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"mmsearch/engine/store"
	"mmsearch/index"
)

// Filter restricts a search to the items whose attributes match every field
// set; the zero value matches every item. Filters are applied inside the
// index search (the graph walk passes through items that do not match but
// never returns them), or, when few items match, by an exact scan of the
// matching items (see ExactScanRule): either way a filter that k items
// match yields those k, not fewer.
type Filter struct {
	// After keeps items taken at or after this instant; Before keeps items
	// taken before it. The time is the capture time the ingest read (EXIF,
	// else the file's modification time; see Metadata).
	After, Before time.Time
	// Camera keeps items whose camera make and model ("Apple iPhone 12")
	// contain this text, ignoring case. On a library where no item has a
	// camera a camera filter is refused with ErrNoCameraData.
	Camera string
	// Formats keeps items in one of these formats (names as ParseFormats
	// returns them: "jpeg", "png", "heic", ...).
	Formats []string
	// MinPixels keeps items with at least this many pixels (width × height).
	MinPixels int64
	// PathPrefix keeps items whose path starts with it, byte for byte.
	PathPrefix string
}

// Limits on filter values.
const (
	// MaxFilterText bounds Camera and PathPrefix, in bytes.
	MaxFilterText = 4096
	// MaxMinPixels bounds MinPixels (a 1,000,000 × 1,000,000 picture).
	MaxMinPixels = 1_000_000_000_000
)

// ErrBadFilter is wrapped by the errors Filter.Validate returns.
var ErrBadFilter = errors.New("bad filter")

// ErrNoCameraData is returned for a camera filter on a library where no
// item has a camera make or model (none of its photos carries EXIF camera
// tags, or their metadata has not been read: see `index --refresh-metadata`).
var ErrNoCameraData = errors.New("no item of this library records a camera make or model, so --camera cannot be applied (run 'mmsearch index --refresh-metadata' if the library predates metadata)")

// IsZero reports whether f matches every item.
func (f Filter) IsZero() bool {
	return f.After.IsZero() && f.Before.IsZero() && f.Camera == "" && len(f.Formats) == 0 && f.MinPixels == 0 && f.PathPrefix == ""
}

// Validate checks f's values; errors wrap ErrBadFilter.
func (f Filter) Validate() error {
	switch {
	case !f.After.IsZero() && !f.Before.IsZero() && !f.After.Before(f.Before):
		return fmt.Errorf("%w: after %s is not before %s", ErrBadFilter, f.After.Format(time.RFC3339), f.Before.Format(time.RFC3339))
	case f.MinPixels < 0 || f.MinPixels > MaxMinPixels:
		return fmt.Errorf("%w: minimum pixels %d outside 0..%d", ErrBadFilter, f.MinPixels, int64(MaxMinPixels))
	case len(f.Camera) > MaxFilterText || strings.ContainsRune(f.Camera, 0):
		return fmt.Errorf("%w: camera text longer than %d bytes or holding a NUL", ErrBadFilter, MaxFilterText)
	case len(f.PathPrefix) > MaxFilterText || strings.ContainsRune(f.PathPrefix, 0):
		return fmt.Errorf("%w: path prefix longer than %d bytes or holding a NUL", ErrBadFilter, MaxFilterText)
	}
	for _, name := range f.Formats {
		if !slices.Contains(Formats, name) {
			return fmt.Errorf("%w: unknown format %q (known: %s)", ErrBadFilter, name, strings.Join(Formats, ", "))
		}
	}
	return nil
}

// Formats are the image formats items can have, as the decoder names them.
var Formats = []string{"jpeg", "png", "gif", "webp", "bmp", "tiff", "pbm", "pgm", "ppm", "heic", "heif", "avif"}

// formatAliases maps other common names to the decoder's.
var formatAliases = map[string]string{"jpg": "jpeg", "jpe": "jpeg", "tif": "tiff", "hif": "heif"}

// ParseFormats reads a comma-separated list of format names ("jpeg,heic"),
// ignoring case and spaces and accepting jpg, tif and hif for jpeg, tiff and
// heif. An empty name or an unknown one is an error wrapping ErrBadFilter.
func ParseFormats(s string) ([]string, error) {
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		name := strings.ToLower(strings.TrimSpace(part))
		if a, ok := formatAliases[name]; ok {
			name = a
		}
		if name == "" {
			return nil, fmt.Errorf("%w: empty format name in %q", ErrBadFilter, s)
		}
		if !slices.Contains(Formats, name) {
			return nil, fmt.Errorf("%w: unknown format %q (known: %s)", ErrBadFilter, part, strings.Join(Formats, ", "))
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out, nil
}

// dateLayouts are the forms ParseDate accepts, longest first.
var dateLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02", "2006-01", "2006"}

// ParseDate reads a date for the after/before filters: RFC 3339
// (2024-06-01T12:00:00Z), or a local date and time at any precision from a
// year to seconds (2024, 2024-06, 2024-06-01, 2024-06-01T12:00,
// 2024-06-01 12:00:05), meaning its first instant in loc.
func ParseDate(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range dateLayouts {
		var t time.Time
		var err error
		if layout == time.RFC3339Nano {
			t, err = time.Parse(layout, s)
		} else {
			t, err = time.ParseInLocation(layout, s, loc)
		}
		if err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: date %q: want YYYY, YYYY-MM, YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS] or RFC 3339", ErrBadFilter, s)
}

// Sort is the order of a search's results.
type Sort string

// Sort orders.
const (
	// SortScore puts the best match first (the default; also the zero value).
	SortScore Sort = "score"
	// SortDate puts the newest of the matches found first: the k best
	// matches, then ordered by date, newest first (not the k newest items).
	SortDate Sort = "date"
)

// ParseSort reads "score" (or "") or "date".
func ParseSort(s string) (Sort, error) {
	switch Sort(s) {
	case "", SortScore:
		return SortScore, nil
	case SortDate:
		return SortDate, nil
	}
	return "", fmt.Errorf("%w: unknown sort %q (want score or date)", ErrBadFilter, s)
}

// attrTable is the library's filterable attributes at one store generation,
// in columns for fast scans.
type attrTable struct {
	gen, metaGen int64
	ids          []int64
	date         []int64  // nanoseconds since 1970: capture time, else mtime
	camera       []string // "make model", lower case, for a contains match
	pixels       []int64
	format       []string
	path         []string
	maxID        int64
	hasCamera    bool // some item has a camera make or model
}

func newAttrTable(gen, metaGen int64, rows []store.Attrs) *attrTable {
	t := &attrTable{gen: gen, metaGen: metaGen, ids: make([]int64, len(rows)), date: make([]int64, len(rows)),
		camera: make([]string, len(rows)), pixels: make([]int64, len(rows)), format: make([]string, len(rows)), path: make([]string, len(rows))}
	cameras := map[[2]string]string{} // one lowered string per camera
	for i, r := range rows {
		t.ids[i] = r.ID
		t.date[i] = r.MtimeNs
		if r.HasCapture {
			t.date[i] = r.CaptureNs
		}
		if r.CameraMake != "" || r.CameraModel != "" {
			key := [2]string{r.CameraMake, r.CameraModel}
			c, ok := cameras[key]
			if !ok {
				c = strings.ToLower(r.CameraMake + " " + r.CameraModel)
				cameras[key] = c
			}
			t.camera[i], t.hasCamera = c, true
		}
		t.pixels[i] = int64(r.Width) * int64(r.Height)
		t.format[i] = r.Format
		t.path[i] = r.Path
		t.maxID = max(t.maxID, r.ID)
	}
	return t
}

// attrCache holds the attribute table of the latest generation read.
type attrCache struct {
	mu sync.Mutex
	t  *attrTable
}

// attributes returns the attribute table of the store's current generation
// and metadata generation, reading it only when one of them changed since
// the last call.
func (l *Library) attributes(ctx context.Context) (*attrTable, error) {
	gen, err := l.store.Generation(ctx)
	if err != nil {
		return nil, fmt.Errorf("filter: %w", err)
	}
	metaGen, err := l.store.MetaGeneration(ctx)
	if err != nil {
		return nil, fmt.Errorf("filter: %w", err)
	}
	l.attrs.mu.Lock()
	defer l.attrs.mu.Unlock()
	if l.attrs.t != nil && l.attrs.t.gen == gen && l.attrs.t.metaGen == metaGen {
		return l.attrs.t, nil
	}
	// metaGen was read before the table, so a table cached under it is at
	// least that new; a refresh in between only costs one more read.
	gen, rows, err := l.store.Attributes(ctx)
	if err != nil {
		return nil, fmt.Errorf("filter: %w", err)
	}
	l.attrs.t = newAttrTable(gen, metaGen, rows)
	return l.attrs.t, nil
}

// matchSet is the items a filter accepts: a bitset over item ids for the
// graph walk's test and the sorted list for an exact scan.
type matchSet struct {
	bits  []uint64
	ids   []uint64
	total int // items in the table the set was made from
}

func (m *matchSet) has(id uint64) bool {
	w := id >> 6
	return w < uint64(len(m.bits)) && m.bits[w]&(1<<(id&63)) != 0
}

// match evaluates f over t, leaving out the ids in exclude.
func (t *attrTable) match(f Filter, exclude map[int64]bool) *matchSet {
	m := &matchSet{bits: make([]uint64, t.maxID>>6+1), total: len(t.ids)}
	camera := strings.ToLower(f.Camera)
	after, before := int64(0), int64(0)
	if !f.After.IsZero() {
		after = f.After.UnixNano()
	}
	if !f.Before.IsZero() {
		before = f.Before.UnixNano()
	}
	for i, id := range t.ids {
		switch {
		case !f.After.IsZero() && t.date[i] < after,
			!f.Before.IsZero() && t.date[i] >= before,
			t.pixels[i] < f.MinPixels,
			camera != "" && !strings.Contains(t.camera[i], camera),
			len(f.Formats) > 0 && !slices.Contains(f.Formats, t.format[i]),
			f.PathPrefix != "" && !strings.HasPrefix(t.path[i], f.PathPrefix),
			exclude[id]:
			continue
		}
		m.bits[id>>6] |= 1 << (id & 63)
		m.ids = append(m.ids, uint64(id))
	}
	return m
}

// filter is the set as an index.Filter.
func (m *matchSet) filter() index.Filter { return m.has }

// The exact-scan switch. A graph walk under a filter that accepts a
// fraction p of the items must pass about ef/p nodes before it has ef
// accepted ones, while an exact scan of the m = p·n matching items costs m
// distances; the two meet where m ≈ sqrt(c·ef·n). ExactScanFactor is
// sqrt(c) as measured by `mmsearch bench filter` (see the README: on a
// quiet machine at 100,000 items and ef 64 the scan was faster at 2,000
// matches and the walk at 5,000), and
// below ExactScanMin matches the scan is always used: it is then cheaper
// than the walk's fixed cost.
const (
	ExactScanFactor = 1.5
	ExactScanMin    = 1000
)

// ExactScanRule describes the rule for reports and help texts.
const ExactScanRule = "exact scan when matches ≤ max(1000, 1.5·sqrt(ef·n))"

// ExactScanLimit is the largest number of matching items for which a
// search for ef candidates among total items scans the matches exactly.
func ExactScanLimit(total, ef int) int {
	return max(ExactScanMin, int(ExactScanFactor*math.Sqrt(float64(ef)*float64(total))))
}

// ExactScanChosen reports whether a search for ef candidates among total
// items, of which matches pass the filter, scans the matches exactly
// (ScanAuto) rather than walking the graph.
func ExactScanChosen(matches, total, ef int) bool {
	return matches <= ExactScanLimit(total, ef)
}

// Scan picks how a filtered search runs.
type Scan string

// Scan modes.
const (
	// ScanAuto follows ExactScanRule (the default; also the zero value).
	ScanAuto Scan = ""
	// ScanGraph always walks the graph with the filter.
	ScanGraph Scan = "graph"
	// ScanExact always scans the matching items exactly.
	ScanExact Scan = "exact"
)

// exact reports whether a filtered search with this many matches among
// total items and beam ef scans the matches exactly.
func (s Scan) exact(matches, total, ef int) bool {
	switch s {
	case ScanGraph:
		return false
	case ScanExact:
		return true
	}
	return ExactScanChosen(matches, total, ef)
}

// dateOf returns item id's date (ns since 1970) and whether the table has it.
func (t *attrTable) dateOf(id int64) (int64, bool) {
	i, ok := slices.BinarySearch(t.ids, id)
	if !ok {
		return 0, false
	}
	return t.date[i], true
}

// sortByDate orders results newest first; results the table does not know
// (added since it was read) go last, in their order.
func (t *attrTable) sortByDate(rs []Result) {
	slices.SortStableFunc(rs, func(a, b Result) int {
		da, oka := t.dateOf(a.ID)
		db, okb := t.dateOf(b.ID)
		switch {
		case oka != okb:
			if oka {
				return -1
			}
			return 1
		case da > db:
			return -1
		case da < db:
			return 1
		}
		return 0
	})
}
