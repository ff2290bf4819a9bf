package engine

import (
	"context"
	"time"

	"mmsearch/encoders/imageproc"
	"mmsearch/engine/store"
)

// Metadata is an item's photo metadata as search results, the API and
// `search --json` show it: capture time (RFC 3339 with the offset it was
// taken in) and where it comes from, camera, GPS position, pixel size after
// orientation, and format.
type Metadata struct {
	store.Metadata
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Format string `json:"format"`
}

// PhotoStats summarises a library's photo metadata (see Stats.Photos).
type PhotoStats = store.MetaStats

// metadataOf is the Metadata of a stored item.
func metadataOf(it store.Item) Metadata {
	return Metadata{Metadata: it.Meta, Width: it.Width, Height: it.Height, Format: it.Format}
}

// readMetadata reads a photo's metadata from its encoded bytes (already in
// memory; no pixels are decoded): the EXIF capture time with its offset,
// else the EXIF time read in loc, else the file's modification time in loc;
// camera make and model; GPS position.
func readMetadata(data []byte, format string, mtimeNs int64, loc *time.Location) store.Metadata {
	m := store.Metadata{TimeSource: store.TimeMtime, CaptureTime: time.Unix(0, mtimeNs).In(loc)}
	tags, ok := imageproc.ReadEXIF(data, format)
	if !ok {
		return m
	}
	m.CameraMake, m.CameraModel = tags.Make, tags.Model
	if t, hasOffset, ok := tags.CaptureTime(loc); ok {
		m.CaptureTime, m.TimeSource = t, store.TimeEXIFNoOffset
		if hasOffset {
			m.TimeSource = store.TimeEXIF
		}
	}
	if tags.HasGPS {
		m.GPS = &store.GPS{Lat: tags.Lat, Lon: tags.Lon}
	}
	return m
}

// location is the zone of capture times without an offset.
func (l *Library) location() *time.Location {
	if l.opts.Location != nil {
		return l.opts.Location
	}
	return time.Local
}

// MetaTable returns every item's metadata, width, height and format by
// item id, held in memory, for filters applied during an index search (see
// store.MetaTable: Get by id does not allocate). The table is read from the
// store on first use and again only when the store's metadata generation
// moved (an ingest, a forget, a metadata refresh, here or in another
// process); otherwise the cached table is returned, after one small read.
func (l *Library) MetaTable(ctx context.Context) (*store.MetaTable, error) {
	g, err := l.store.MetaGeneration(ctx)
	if err != nil {
		return nil, err
	}
	l.metaMu.Lock()
	defer l.metaMu.Unlock()
	if l.metaTab != nil && l.metaTab.MetaGeneration == g {
		return l.metaTab, nil
	}
	t, err := l.store.MetaTable(ctx)
	if err != nil {
		return nil, err
	}
	l.metaTab = t
	return t, nil
}

// ItemMetadata returns the metadata of the items with these ids (absent
// ids are left out), read from the store.
func (l *Library) ItemMetadata(ctx context.Context, ids []int64) (map[int64]Metadata, error) {
	items, err := l.store.ItemsByIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]Metadata, len(items))
	for id, it := range items {
		out[id] = metadataOf(it)
	}
	return out, nil
}
