package hnsw

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"math/bits"
	"math/rand/v2"
	"os"

	"mmsearch/index"
	"mmsearch/index/internal/format"
	"mmsearch/index/internal/vec"
)

// File format (all numbers little-endian), after format's framing:
//
//	magic "MMSHNSW\x00", version u32
//	HEAD  dim u32, metric u8, M u32, M0 u32, efConstruction u32, efSearch u32,
//	      mL f64, seed i64, nodes u64, live u64, entry id u32, entry level u32
//	      (entry id 0xFFFFFFFF when empty)
//	PAD   zeros, so that VECS's payload starts 64-byte aligned (version 2)
//	VECS  nodes×dim float32
//	LABL  nodes×u64 labels, then ⌈nodes/32⌉ u32 words of tombstone bits
//	PAD   zeros, so that LNK0's payload starts 64-byte aligned (version 2)
//	LNK0  nodes×(1+M0) u32: per node a link count and M0 slots
//	UPPR  nodes×u8 levels, then for each node of level L>0 in id order,
//	      L blocks of (1+M) u32
//	NCRC  nodes×u32: per node the CRC32-C of its VECS row followed by its
//	      LNK0 block, as stored (version 2)
//
// Each section carries its own length and CRC32-C. Version 2 adds the
// padding and the per-node checksums, so that Map can use VECS and LNK0 in
// place and check them node by node as searches reach them (see Map);
// version 1 files are still read by Load.
const (
	magic      = "MMSHNSW\x00"
	version    = 2
	minVersion = 1
	headLen    = 4 + 1 + 4 + 4 + 4 + 4 + 8 + 8 + 8 + 8 + 4 + 4
	// sectionAlign is where version 2 starts the VECS and LNK0 payloads,
	// counted from the stream's first byte: a cache line.
	sectionAlign = 64
)

var (
	tagHead  = format.MakeTag("HEAD")
	tagVecs  = format.MakeTag("VECS")
	tagLabel = format.MakeTag("LABL")
	tagLink0 = format.MakeTag("LNK0")
	tagUpper = format.MakeTag("UPPR")
	tagSums  = format.MakeTag("NCRC")
)

// Save writes the index in its versioned binary format. Inserts, deletes and
// searches wait while it runs.
func (x *Index) Save(w io.Writer) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return fmt.Errorf("hnsw: save: %w", index.ErrClosed)
	}
	// Data not checked yet must be checked before it is written under new
	// checksums, which would make damage permanent.
	if err := x.checkAllLocked(); err != nil {
		return fmt.Errorf("hnsw: save: %w", err)
	}
	if err := x.save(w); err != nil {
		return fmt.Errorf("hnsw: save: %w", err)
	}
	return nil
}

// SaveFile writes the index to path atomically.
func (x *Index) SaveFile(path string) error { return index.SaveFile(path, x) }

func (x *Index) save(w io.Writer) error {
	n := x.count
	epID, epLevel := uint32(noNode), uint32(0)
	if e := x.entry.Load(); e != emptyEntry {
		id, l := unpackEntry(e)
		epID, epLevel = id, uint32(l)
	}
	fw := format.NewWriter(w, magic, version)
	fw.Begin(tagHead, headLen)
	fw.U32(uint32(x.dim))
	fw.U8(uint8(x.metric))
	fw.U32(uint32(x.m))
	fw.U32(uint32(x.m0))
	fw.U32(uint32(x.efC))
	fw.U32(uint32(x.efS.Load()))
	fw.F64(x.mL)
	fw.I64(x.seed)
	fw.U64(uint64(n))
	fw.U64(uint64(x.live.Load()))
	fw.U32(epID)
	fw.U32(epLevel)
	fw.End()

	fw.Pad(sectionAlign)
	fw.Begin(tagVecs, uint64(n)*uint64(x.dim)*4)
	for c := 0; c*chunkSize < n; c++ {
		rows := min(n-c*chunkSize, chunkSize)
		fw.Float32s(x.vecs[c][:rows*x.dim])
	}
	fw.End()

	words := (n + 31) / 32
	fw.Begin(tagLabel, uint64(n)*8+uint64(words)*4)
	for c := 0; c*chunkSize < n; c++ {
		rows := min(n-c*chunkSize, chunkSize)
		fw.Uint64s(x.nodes[c].labels[:rows])
	}
	for c := 0; c*chunkSize < n; c++ {
		rows := min(n-c*chunkSize, chunkSize)
		fw.Uint32s(x.nodes[c].dead[:(rows+31)/32])
	}
	fw.End()

	fw.Pad(sectionAlign)
	fw.Begin(tagLink0, uint64(n)*uint64(x.m0+1)*4)
	for c := 0; c*chunkSize < n; c++ {
		rows := min(n-c*chunkSize, chunkSize)
		fw.Uint32s(x.links[c][:rows*(x.m0+1)])
	}
	fw.End()

	var levelSum uint64
	for id := range n {
		levelSum += uint64(x.level(uint32(id)))
	}
	fw.Begin(tagUpper, uint64(n)+levelSum*uint64(x.m+1)*4)
	for c := 0; c*chunkSize < n; c++ {
		rows := min(n-c*chunkSize, chunkSize)
		fw.Bytes(x.nodes[c].levels[:rows])
	}
	for c := 0; c*chunkSize < n; c++ {
		rows := min(n-c*chunkSize, chunkSize)
		for i := range rows {
			if u := x.nodes[c].upper[i]; len(u) > 0 {
				fw.Uint32s(u)
			}
		}
	}
	fw.End()

	fw.Begin(tagSums, uint64(n)*4)
	sums := make([]uint32, 0, min(n, chunkSize))
	for id := range uint32(n) {
		sums = append(sums, x.nodeSum(id))
		if len(sums) == cap(sums) || int(id) == n-1 {
			fw.Uint32s(sums)
			sums = sums[:0]
		}
	}
	fw.End()
	return fw.Err()
}

// nodeSum is the CRC32-C of node id's vector followed by its layer-0 block,
// as Save stores them. Callers hold mu.
func (x *Index) nodeSum(id uint32) uint32 {
	return format.UpdateUint32s(format.UpdateFloat32s(0, x.vector(id)), x.block(id, 0))
}

// Load reads an index written by Save. Everything is checked: a damaged or
// truncated file yields an error wrapping index.ErrCorrupt, a file of another
// format version one wrapping index.ErrVersion.
func Load(r io.Reader) (*Index, error) {
	x, err := load(r)
	if err != nil {
		return nil, fmt.Errorf("hnsw: load: %w", err)
	}
	return x, nil
}

// LoadFile reads the index stored at path.
func LoadFile(path string) (*Index, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("hnsw: load: %w", err)
	}
	defer f.Close()
	x, err := Load(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return x, nil
}

// head is the HEAD section.
type head struct {
	dim, m, m0, efC, efS int
	metric               index.Metric
	mL                   float64
	seed                 int64
	n, live              int
	epID                 uint32
	epLevel              int
}

// readHead reads and checks the HEAD section.
func readHead(fr *format.Reader) (head, error) {
	fr.BeginExact(tagHead, headLen)
	var (
		dim     = fr.U32()
		metric  = index.Metric(fr.U8())
		m       = fr.U32()
		m0      = fr.U32()
		efC     = fr.U32()
		efS     = fr.U32()
		mL      = fr.F64()
		seed    = fr.I64()
		n64     = fr.U64()
		live64  = fr.U64()
		epID    = fr.U32()
		epLevel = fr.U32()
	)
	if err := fr.End(); err != nil {
		return head{}, err
	}
	switch {
	case dim == 0 || dim > maxDim:
		return head{}, format.Corruptf("dimension %d outside 1..%d", dim, maxDim)
	case metric > index.L2:
		return head{}, format.Corruptf("unknown metric %d", metric)
	case m < 2 || m > maxM:
		return head{}, format.Corruptf("M = %d outside 2..%d", m, maxM)
	case m0 < m || m0 > 2*maxM:
		return head{}, format.Corruptf("M0 = %d outside %d..%d", m0, m, 2*maxM)
	case efC < 1 || efC > maxEf || efS < 1 || efS > maxEf:
		return head{}, format.Corruptf("ef values %d, %d outside 1..%d", efC, efS, maxEf)
	case math.IsNaN(mL) || mL <= 0 || mL > 10:
		return head{}, format.Corruptf("level multiplier %g outside (0, 10]", mL)
	case n64 > maxNodes:
		return head{}, format.Corruptf("%d nodes exceed the maximum %d", n64, maxNodes)
	case live64 > n64:
		return head{}, format.Corruptf("%d live nodes of %d", live64, n64)
	case n64 == 0 && epID != noNode:
		return head{}, format.Corruptf("empty index with entry point %d", epID)
	case n64 > 0 && (uint64(epID) >= n64 || epLevel > maxLevel):
		return head{}, format.Corruptf("entry point %d at level %d invalid for %d nodes", epID, epLevel, n64)
	}
	return head{
		dim: int(dim), metric: metric, m: int(m), m0: int(m0), efC: int(efC), efS: int(efS),
		mL: mL, seed: seed, n: int(n64), live: int(live64), epID: epID, epLevel: int(epLevel),
	}, nil
}

// newIndex returns an empty index with h's parameters.
func (h head) newIndex() *Index {
	x := newIndex(h.dim, h.metric, h.m, h.m0, h.efC, h.mL, h.seed, (&Config{}).defaultWorkers())
	x.efS.Store(int64(h.efS))
	// Continue the level sequence somewhere new but reproducible.
	x.rng = rand.New(rand.NewPCG(uint64(h.seed), uint64(h.n)^0x6d6d736561726368))
	return x
}

// Section lengths h implies.
func (h head) vecsLen() uint64  { return uint64(h.n) * uint64(h.dim) * 4 }
func (h head) labelLen() uint64 { return uint64(h.n)*8 + uint64((h.n+31)/32)*4 }
func (h head) link0Len() uint64 { return uint64(h.n) * uint64(h.m0+1) * 4 }
func (h head) upperLen(levelSum uint64) uint64 {
	return uint64(h.n) + levelSum*uint64(h.m+1)*4
}

func load(r io.Reader) (*Index, error) {
	fr, ver, err := format.NewReader(r, magic, minVersion, version)
	if err != nil {
		return nil, err
	}
	h, err := readHead(fr)
	if err != nil {
		return nil, err
	}
	n, n64 := h.n, uint64(h.n)
	x := h.newIndex()
	if ver >= 2 {
		fr.SkipPad()
	}
	// Vectors: allocate chunk by chunk as the bytes arrive, so a file that
	// claims more than it holds fails early.
	fr.BeginExact(tagVecs, h.vecsLen())
	for c := 0; c*chunkSize < n && fr.Err() == nil; c++ {
		x.growLocked((c + 1) * chunkSize)
		rows := min(n-c*chunkSize, chunkSize)
		fr.Float32s(x.vecs[c][:rows*x.dim])
	}
	if err := fr.End(); err != nil {
		return nil, err
	}
	fr.BeginExact(tagLabel, h.labelLen())
	for c := 0; c*chunkSize < n; c++ {
		rows := min(n-c*chunkSize, chunkSize)
		fr.Uint64s(x.nodes[c].labels[:rows])
	}
	for c := 0; c*chunkSize < n; c++ {
		rows := min(n-c*chunkSize, chunkSize)
		fr.Uint32s(x.nodes[c].dead[:(rows+31)/32])
	}
	if err := fr.End(); err != nil {
		return nil, err
	}
	if ver >= 2 {
		fr.SkipPad()
	}
	fr.BeginExact(tagLink0, h.link0Len())
	for c := 0; c*chunkSize < n; c++ {
		rows := min(n-c*chunkSize, chunkSize)
		fr.Uint32s(x.links[c][:rows*x.m0+rows])
	}
	if err := fr.End(); err != nil {
		return nil, err
	}
	upperLen := fr.Begin(tagUpper, h.upperLen(n64*maxLevel))
	var levelSum uint64
	for c := 0; c*chunkSize < n; c++ {
		rows := min(n-c*chunkSize, chunkSize)
		lv := x.nodes[c].levels[:rows]
		fr.Bytes(lv)
		for _, l := range lv {
			if l > maxLevel {
				return nil, format.Corruptf("node level %d above %d", l, maxLevel)
			}
			levelSum += uint64(l)
		}
	}
	if fr.Err() == nil && upperLen != h.upperLen(levelSum) {
		return nil, format.Corruptf("upper-layer section holds %d bytes, want %d", upperLen, h.upperLen(levelSum))
	}
	for c := 0; c*chunkSize < n && fr.Err() == nil; c++ {
		rows := min(n-c*chunkSize, chunkSize)
		nc := x.nodes[c]
		for i := range rows {
			if l := int(nc.levels[i]); l > 0 {
				nc.upper[i] = make([]uint32, l*(x.m+1))
				x.upperWords.Add(int64(l * (x.m + 1)))
				fr.Uint32s(nc.upper[i])
			}
		}
	}
	if err := fr.End(); err != nil {
		return nil, err
	}
	x.count = n
	if n > 0 {
		x.entry.Store(packEntry(h.epID, h.epLevel))
	}
	if ver >= 2 {
		fr.BeginExact(tagSums, n64*4)
		sums := make([]uint32, min(n, chunkSize))
		for lo := 0; lo < n && fr.Err() == nil; lo += len(sums) {
			part := sums[:min(len(sums), n-lo)]
			fr.Uint32s(part)
			for i, sum := range part {
				if fr.Err() == nil && x.nodeSum(uint32(lo+i)) != sum {
					return nil, format.Corruptf("node %d: vector or layer-0 links do not match their checksum", lo+i)
				}
			}
		}
		if err := fr.End(); err != nil {
			return nil, err
		}
	}
	if err := x.validate(h.live); err != nil {
		return nil, err
	}
	return x, nil
}

// validate checks a loaded graph's invariants and builds the label map, so
// that nothing read from a file can make a search index out of range.
func (x *Index) validate(live int) error {
	if err := x.validateMeta(live, true); err != nil {
		return err
	}
	for c := range x.vecs {
		rows := min(x.count-c*chunkSize, chunkSize)
		if !vec.Finite(x.vecs[c][:rows*x.dim]) {
			return format.Corruptf("vectors hold NaN or infinity")
		}
	}
	for id := range uint32(x.count) {
		for l := 0; l <= x.level(id); l++ {
			if err := x.validateBlock(id, l); err != nil {
				return err
			}
		}
	}
	return nil
}

// validateMeta checks what lies outside the vectors and the link lists:
// tombstones, the live count, levels and the entry point. With labels it
// also builds the label map, which finds labels held twice; a mapped index
// builds it on first use instead (labelMapLocked).
func (x *Index) validateMeta(live int, labels bool) error {
	n := x.count
	dead := 0
	for c, nc := range x.nodes {
		// Tombstone bits past the last node must be clear.
		rows := min(n-c*chunkSize, chunkSize)
		if rows%32 != 0 && nc.dead[rows/32]>>(rows%32) != 0 {
			return format.Corruptf("tombstone bits set past the last node")
		}
		for _, w := range nc.dead[:(rows+31)/32] {
			dead += bits.OnesCount32(w)
		}
	}
	if n-dead != live {
		return format.Corruptf("%d live nodes found, header says %d", n-dead, live)
	}
	if labels {
		if err := x.buildLabels(live); err != nil {
			return err
		}
	}
	x.live.Store(int64(live))
	x.dead.Store(int64(dead))

	if n > 0 {
		epID, epLevel := unpackEntry(x.entry.Load())
		if x.level(epID) != epLevel {
			return format.Corruptf("entry point %d has level %d, header says %d", epID, x.level(epID), epLevel)
		}
	}
	_, top := unpackEntry(x.entry.Load())
	for id := range uint32(n) {
		if lv := x.level(id); lv > top {
			return format.Corruptf("node %d has level %d above the entry point's %d", id, lv, top)
		}
	}
	return nil
}

// buildLabels builds the label map of the live nodes. Callers hold mu, and
// labelMu unless the index is not shared yet.
func (x *Index) buildLabels(live int) error {
	labels := make(map[uint64]uint32, live) // sized once: no rehashing while it fills
	for id := range uint32(x.count) {
		if x.isDead(id) {
			continue
		}
		lb := x.label(id)
		if _, dup := labels[lb]; dup {
			return format.Corruptf("label %d held by two live nodes", lb)
		}
		labels[lb] = id
	}
	x.labels = labels
	return nil
}

// labelMapLocked returns the label map, building it on first use in a
// mapped index (about 10 ms per 100k nodes that a search never needs).
// Callers hold mu and labelMu.
func (x *Index) labelMapLocked() (map[uint64]uint32, error) {
	if x.labels == nil {
		if err := x.buildLabels(int(x.live.Load())); err != nil {
			return nil, err
		}
	}
	return x.labels, nil
}

// validateBlock checks node id's link list on layer: its count within the
// capacity, every link to another existing node that reaches the layer.
func (x *Index) validateBlock(id uint32, l int) error {
	blk := x.block(id, l)
	cnt := int(blk[0])
	if cnt > x.maxLinks(l) {
		return format.Corruptf("node %d has %d links on layer %d, capacity %d", id, cnt, l, x.maxLinks(l))
	}
	for _, nb := range blk[1 : 1+cnt] {
		if int(nb) >= x.count || nb == id {
			return format.Corruptf("node %d links to %d on layer %d", id, nb, l)
		}
		if x.level(nb) < l {
			return format.Corruptf("node %d links on layer %d to node %d of level %d", id, l, nb, x.level(nb))
		}
	}
	return nil
}
