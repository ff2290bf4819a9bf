package weaviate

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"mmsearch/index"
)

// The descriptor file Save writes:
//
//	magic    8 bytes "MMSWVT\x00\x01"
//	version  uint32 little-endian (1)
//	header   uint32 length + JSON {collection, dim, metric}
//	runs     uvarint count, then per run uvarint gap (from the end of the
//	         previous run) and uvarint length: the ids the collection holds
//	crc      uint32 CRC32-C of everything before it
//
// The server's address and API key are not saved: Load takes them from its
// Config, so a library can move to another address of the same cluster.
var magic = [8]byte{'M', 'M', 'S', 'W', 'V', 'T', 0, 1}

const fileVersion = 1

// maxFile bounds the descriptor Load reads (10^9 dense ids take a few
// bytes; 10^9 scattered ones about 2 GiB, beyond what this backend serves).
const maxFile = 1 << 30

type header struct {
	Collection string `json:"collection"`
	Dim        int    `json:"dim"`
	Metric     string `json:"metric"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Save writes the descriptor: the collection, dimension, metric and ids.
func (x *Index) Save(w io.Writer) error {
	var buf bytes.Buffer
	buf.Write(magic[:])
	_ = binary.Write(&buf, binary.LittleEndian, uint32(fileVersion))
	h, err := json.Marshal(header{Collection: x.cfg.Collection, Dim: x.dim, Metric: x.metric.String()})
	if err != nil {
		return fmt.Errorf("weaviate: save: %w", err)
	}
	_ = binary.Write(&buf, binary.LittleEndian, uint32(len(h)))
	buf.Write(h)
	type run struct{ start, n uint64 }
	var runs []run
	x.mu.RLock()
	x.ids.Each(func(id uint64) {
		if l := len(runs); l > 0 && runs[l-1].start+runs[l-1].n == id {
			runs[l-1].n++
			return
		}
		runs = append(runs, run{id, 1})
	})
	x.mu.RUnlock()
	buf.Write(binary.AppendUvarint(nil, uint64(len(runs))))
	var end uint64
	for _, r := range runs {
		buf.Write(binary.AppendUvarint(nil, r.start-end))
		buf.Write(binary.AppendUvarint(nil, r.n))
		end = r.start + r.n
	}
	_ = binary.Write(&buf, binary.LittleEndian, crc32.Checksum(buf.Bytes(), castagnoli))
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("weaviate: save: %w", err)
	}
	return nil
}

// Load reads a descriptor Save wrote and reconnects to its collection on the
// server cfg names. A damaged descriptor, one for another collection, or a
// collection the server no longer has is index.ErrCorrupt (the catalog then
// rebuilds: re-sends the store's vectors).
func Load(ctx context.Context, cfg Config, r io.Reader) (*Index, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(r, maxFile+1))
	if err != nil {
		return nil, fmt.Errorf("weaviate: load: %w", err)
	}
	if len(data) > maxFile {
		return nil, fmt.Errorf("weaviate: load: descriptor over %d bytes: %w", maxFile, index.ErrCorrupt)
	}
	if len(data) < len(magic)+12 {
		return nil, fmt.Errorf("weaviate: load: %d bytes: %w", len(data), index.ErrCorrupt)
	}
	if !bytes.Equal(data[:8], magic[:]) {
		return nil, fmt.Errorf("weaviate: load: not an mmsearch weaviate descriptor: %w", index.ErrCorrupt)
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, fmt.Errorf("weaviate: load: checksum mismatch: %w", index.ErrCorrupt)
	}
	br := bufio.NewReader(bytes.NewReader(body[8:]))
	var ver, hlen uint32
	if err := binary.Read(br, binary.LittleEndian, &ver); err != nil {
		return nil, fmt.Errorf("weaviate: load: %w", index.ErrCorrupt)
	}
	if ver != fileVersion {
		return nil, fmt.Errorf("weaviate: load: version %d: %w", ver, index.ErrVersion)
	}
	if err := binary.Read(br, binary.LittleEndian, &hlen); err != nil || hlen > 1<<16 {
		return nil, fmt.Errorf("weaviate: load: header: %w", index.ErrCorrupt)
	}
	hb := make([]byte, hlen)
	if _, err := io.ReadFull(br, hb); err != nil {
		return nil, fmt.Errorf("weaviate: load: header: %w", index.ErrCorrupt)
	}
	var h header
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, fmt.Errorf("weaviate: load: header: %v: %w", err, index.ErrCorrupt)
	}
	metric, err := index.ParseMetric(h.Metric)
	if err != nil || h.Dim <= 0 || h.Dim > 65536 {
		return nil, fmt.Errorf("weaviate: load: header %+v: %w", h, index.ErrCorrupt)
	}
	if cfg.UniqueCollections {
		cfg.Collection = h.Collection
	} else if h.Collection != cfg.Collection {
		return nil, fmt.Errorf("weaviate: load: the saved index is of collection %s, the library's is %s: %w", h.Collection, cfg.Collection, index.ErrCorrupt)
	}
	// maxLoadIDs bounds the ids a descriptor may list (a corrupt count
	// must not make Load spin): 2^32 ids, a 512 MiB bitset.
	const maxLoadIDs = 1 << 32
	ids := newIDSet()
	nruns, err := binary.ReadUvarint(br)
	if err != nil || nruns > uint64(len(body)) {
		return nil, fmt.Errorf("weaviate: load: ids: %w", index.ErrCorrupt)
	}
	var end, total uint64
	for range nruns {
		gap, err1 := binary.ReadUvarint(br)
		n, err2 := binary.ReadUvarint(br)
		total += n
		if err1 != nil || err2 != nil || n == 0 || n > maxLoadIDs || total > maxLoadIDs {
			return nil, fmt.Errorf("weaviate: load: ids: %w", index.ErrCorrupt)
		}
		start := end + gap
		for id := start; id < start+n; id++ {
			ids.Add(id)
		}
		end = start + n
	}
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("weaviate: load: trailing bytes: %w", index.ErrCorrupt)
	}
	x := &Index{cfg: cfg, cl: newClient(cfg), dim: h.Dim, metric: metric, ids: ids}
	exists, err := x.checkOwned(ctx)
	if err != nil {
		return nil, fmt.Errorf("weaviate: load: %w", err)
	}
	if !exists {
		return nil, fmt.Errorf("weaviate: load: collection %s is gone: %w", cfg.Where(), index.ErrCorrupt)
	}
	return x, nil
}
