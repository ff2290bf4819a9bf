package hnsw

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"

	"mmsearch/index"
	"mmsearch/index/internal/format"
	"mmsearch/index/internal/mem"
	"mmsearch/index/internal/vec"
	"mmsearch/internal/mmapfile"
)

// Opening a saved index in place
//
// Load copies a file into fresh memory and checks all of it first: at 100k
// vectors of 256 dimensions that is 117 MB read, checksummed and walked
// before the first search, a cost every CLI process paid. Map instead uses
// the bytes where they lie (a file mapped by internal/mmapfile shares the
// page cache) and splits the checks by cost:
//
//   - at once: the framing (every section present, in order, of the length
//     the header implies, ending where the data ends — a truncated file
//     fails here), the checksums of the small sections (header, labels and
//     tombstones, levels and upper-layer links, per-node checksums), the
//     labels (no two live nodes share one), the entry point, every
//     upper-layer link, and the entry point's own vector and links (the
//     label map, which also finds a label held twice, is built on first
//     use by Contains, Vector, Delete or a change);
//   - node by node, the first time a search or Vector reaches a node: its
//     vector and layer-0 links against the node's checksum in NCRC, its
//     vector finite, its links within range. A node is used only once it
//     passed, so a damaged file never yields a wrong result: the search
//     fails with an error wrapping index.ErrCorrupt (the catalog then
//     rebuilds the index from the store);
//   - everything still unchecked, before the first change (Add, AddBatch,
//     Compact) and before Save, so damage is never written out under fresh
//     checksums; Verify does it on demand.
//
// A search therefore checks only the few thousand nodes it visits. The
// first change also makes the mapping writable (private copy-on-write: the
// file never changes) and copies the last, partial chunk to the heap so it
// can fill up; later chunks are allocated as usual. Close unmaps, after
// in-flight searches finish; an index dropped without Close is unmapped by
// the garbage collector once unreachable.

// lazyCheck tracks which nodes of a mapped index were checked.
type lazyCheck struct {
	sums []uint32 // per node: CRC32-C of vector and layer-0 block
	ok   []uint32 // bitset of checked nodes, read and set atomically
}

// checkNode checks node id on first use (see Map). Callers hold mu and
// x.lazy is set.
func (x *Index) checkNode(id uint32) error {
	lz := x.lazy
	if int(id) >= x.count {
		return format.Corruptf("link to node %d of %d", id, x.count)
	}
	w, bit := &lz.ok[id>>5], uint32(1)<<(id&31)
	if atomic.LoadUint32(w)&bit != 0 {
		return nil
	}
	if x.nodeSum(id) != lz.sums[id] {
		return format.Corruptf("node %d: vector or layer-0 links do not match their checksum", id)
	}
	if !vec.Finite(x.vector(id)) {
		return format.Corruptf("node %d: vector holds NaN or infinity", id)
	}
	if err := x.validateBlock(id, 0); err != nil {
		return err
	}
	atomic.OrUint32(w, bit)
	return nil
}

// checkAllLocked checks every node not checked yet and ends lazy checking.
// Callers hold mu exclusively.
func (x *Index) checkAllLocked() error {
	if x.lazy == nil {
		return nil
	}
	for id := range uint32(x.count) {
		if err := x.checkNode(id); err != nil {
			return err
		}
	}
	x.lazy = nil
	return nil
}

// Verify checks now every part of a mapped index that is checked lazily
// (see Map); it returns an error wrapping index.ErrCorrupt when one is
// damaged. It is a no-op for an index built or loaded in memory.
func (x *Index) Verify() error {
	if !x.pending.Load() {
		return nil
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if err := x.checkAllLocked(); err != nil {
		return fmt.Errorf("hnsw: verify: %w", err)
	}
	return nil
}

var _ index.Verifier = (*Index)(nil)

// own prepares a mapped index for its first change: everything checked,
// the mapping writable (privately), the last partial chunk on the heap.
func (x *Index) own() error {
	if !x.pending.Load() {
		return nil
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.ownLocked()
}

// ownLocked is own for callers holding mu exclusively.
func (x *Index) ownLocked() error {
	if !x.pending.Load() {
		return nil
	}
	if x.closed {
		return index.ErrClosed
	}
	if err := x.checkAllLocked(); err != nil {
		return err
	}
	x.labelMu.Lock()
	_, err := x.labelMapLocked()
	x.labelMu.Unlock()
	if err != nil {
		return err
	}
	if err := x.mapping.Writable(); err != nil {
		return err
	}
	if c := len(x.vecs) - 1; c >= 0 && len(x.vecs[c]) < chunkSize*x.dim {
		v := make([]float32, chunkSize*x.dim)
		mem.AdviseHuge(v)
		copy(v, x.vecs[c])
		l := make([]uint32, chunkSize*(x.m0+1))
		copy(l, x.links[c])
		x.vecs[c], x.links[c] = v, l
	}
	x.pending.Store(false)
	return nil
}

// Close releases the index's memory and, for a mapped index, unmaps its
// file, once in-flight searches and changes have finished. Later calls
// fail with index.ErrClosed. Close is idempotent.
func (x *Index) Close() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return nil
	}
	x.closed = true
	x.lazy = nil
	x.vecs, x.links, x.nodes = nil, nil, nil
	x.labelMu.Lock()
	x.count = 0
	x.labels = map[uint64]uint32{}
	x.labelMu.Unlock()
	x.entry.Store(emptyEntry)
	x.live.Store(0)
	x.dead.Store(0)
	if x.mapping != nil {
		if err := x.mapping.Close(); err != nil {
			return fmt.Errorf("hnsw: close: %w", err)
		}
	}
	return nil
}

// errNotInPlace reports bytes Map cannot use in place; Load reads them.
var errNotInPlace = errors.New("hnsw: map: the sections cannot be used in place on this host (alignment or byte order); use Load")

// Map opens the index that Save wrote into m's bytes (format version 2),
// using the vector and layer-0 link sections in place and checking them
// lazily (see the comment above lazyCheck for what is checked when). On
// success the index owns m: Close releases it. An error wrapping
// index.ErrCorrupt reports damage found at once; index.ErrVersion an older
// format, which Load reads.
func Map(m index.Mapping) (*Index, error) {
	x, err := mapIndex(m)
	if err != nil {
		return nil, fmt.Errorf("hnsw: map: %w", err)
	}
	return x, nil
}

// OpenFile maps the index file at path (see Map), falling back to LoadFile
// for a file Map cannot use in place.
func OpenFile(path string) (*Index, error) {
	f, err := mmapfile.Open(path)
	if err != nil {
		return nil, fmt.Errorf("hnsw: open: %w", err)
	}
	x, err := Map(f)
	if err == nil {
		return x, nil
	}
	f.Close()
	if errors.Is(err, index.ErrCorrupt) {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return LoadFile(path)
}

func mapIndex(m index.Mapping) (*Index, error) {
	data := m.Bytes()
	_, secs, err := format.Sections(data, magic, version, version)
	if err != nil {
		return nil, err
	}
	want := []format.Tag{tagHead, format.TagPad, tagVecs, tagLabel, format.TagPad, tagLink0, tagUpper, tagSums}
	if len(secs) != len(want) {
		return nil, format.Corruptf("%d sections, want %d", len(secs), len(want))
	}
	for i, t := range want {
		if secs[i].Tag != t {
			return nil, format.Corruptf("found section %s where %s belongs", secs[i].Tag, t)
		}
	}
	sHead, sVecs, sLabel, sLink0, sUpper, sSums := secs[0], secs[2], secs[3], secs[5], secs[6], secs[7]
	fr, _, err := format.NewReader(bytes.NewReader(data[:sHead.Offset+len(sHead.Payload)+4]), magic, version, version)
	if err != nil {
		return nil, err
	}
	h, err := readHead(fr)
	if err != nil {
		return nil, err
	}
	n := h.n
	for _, c := range []struct {
		s    format.Section
		want uint64
	}{{sVecs, h.vecsLen()}, {sLabel, h.labelLen()}, {sLink0, h.link0Len()}, {sSums, uint64(n) * 4}} {
		if uint64(len(c.s.Payload)) != c.want {
			return nil, format.Corruptf("section %s holds %d bytes, want %d", c.s.Tag, len(c.s.Payload), c.want)
		}
	}
	// The small sections are checked now; VECS and LNK0 node by node.
	for _, i := range []int{1, 3, 4, 6, 7} {
		if err := secs[i].Check(); err != nil {
			return nil, err
		}
	}
	for _, i := range []int{1, 4} {
		for _, b := range secs[i].Payload {
			if b != 0 {
				return nil, format.Corruptf("padding holds non-zero bytes")
			}
		}
	}
	vecs, ok1 := format.Float32View(sVecs.Payload)
	links, ok2 := format.Uint32View(sLink0.Payload)
	if !ok1 || !ok2 {
		return nil, errNotInPlace
	}
	if len(sUpper.Payload) < n {
		return nil, format.Corruptf("upper-layer section holds %d bytes for %d nodes", len(sUpper.Payload), n)
	}
	levels, upper := sUpper.Payload[:n], sUpper.Payload[n:]
	var levelSum uint64
	for _, l := range levels {
		if l > maxLevel {
			return nil, format.Corruptf("node level %d above %d", l, maxLevel)
		}
		levelSum += uint64(l)
	}
	if uint64(len(sUpper.Payload)) != h.upperLen(levelSum) {
		return nil, format.Corruptf("upper-layer section holds %d bytes, want %d", len(sUpper.Payload), h.upperLen(levelSum))
	}

	x := h.newIndex()
	w0 := x.m0 + 1
	words := (n + 31) / 32
	deadBits := sLabel.Payload[n*8:]
	for c := 0; c*chunkSize < n; c++ {
		lo := c * chunkSize
		rows := min(n-lo, chunkSize)
		x.vecs = append(x.vecs, vecs[lo*x.dim:(lo+rows)*x.dim:(lo+rows)*x.dim])
		x.links = append(x.links, links[lo*w0:(lo+rows)*w0:(lo+rows)*w0])
		nc := new(nodeChunk)
		x.nodes = append(x.nodes, nc)
		format.Uint64sFrom(nc.labels[:rows], sLabel.Payload[lo*8:])
		dw := (rows + 31) / 32
		format.Uint32sFrom(nc.dead[:dw], deadBits[lo/32*4:min(words, lo/32+dw)*4])
		copy(nc.levels[:rows], levels[lo:lo+rows])
		for i := range rows {
			if l := int(nc.levels[i]); l > 0 {
				k := l * (x.m + 1)
				nc.upper[i] = make([]uint32, k)
				format.Uint32sFrom(nc.upper[i], upper[:4*k])
				upper = upper[4*k:]
				x.upperWords.Add(int64(k))
			}
		}
	}
	x.count = n
	if n > 0 {
		x.entry.Store(packEntry(h.epID, h.epLevel))
	}
	x.lazy = &lazyCheck{sums: make([]uint32, n), ok: make([]uint32, words)}
	format.Uint32sFrom(x.lazy.sums, sSums.Payload)
	x.labels = nil // built on first use
	if err := x.validateMeta(h.live, false); err != nil {
		return nil, err
	}
	for id := range uint32(n) {
		for l := 1; l <= x.level(id); l++ {
			if err := x.validateBlock(id, l); err != nil {
				return nil, err
			}
		}
	}
	if n > 0 {
		if err := x.checkNode(h.epID); err != nil {
			return nil, err
		}
	}
	x.mapping = m
	x.pending.Store(true)
	runtime.AddCleanup(x, func(m index.Mapping) { m.Close() }, m)
	return x, nil
}
