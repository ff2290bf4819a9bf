package weaviate

import (
	"math/bits"
	"slices"
)

// pageBits is the number of ids one page of an idSet covers (65,536: 8 KiB).
const pageBits = 16

// idSet is a set of uint64 ids stored as a paged bitset: a library's ids are
// dense SQLite row ids, so 10^8 of them take about 12 MiB. It is not safe for
// concurrent use.
type idSet struct {
	pages map[uint64]*[1 << pageBits / 64]uint64
	n     int
}

func newIDSet() *idSet {
	return &idSet{pages: map[uint64]*[1 << pageBits / 64]uint64{}}
}

func split(id uint64) (page uint64, word int, bit uint64) {
	off := id & (1<<pageBits - 1)
	return id >> pageBits, int(off / 64), 1 << (off % 64)
}

// Add inserts id and reports whether it was absent.
func (s *idSet) Add(id uint64) bool {
	p, w, b := split(id)
	pg := s.pages[p]
	if pg == nil {
		pg = new([1 << pageBits / 64]uint64)
		s.pages[p] = pg
	}
	if pg[w]&b != 0 {
		return false
	}
	pg[w] |= b
	s.n++
	return true
}

// Remove deletes id and reports whether it was present.
func (s *idSet) Remove(id uint64) bool {
	p, w, b := split(id)
	pg := s.pages[p]
	if pg == nil || pg[w]&b == 0 {
		return false
	}
	pg[w] &^= b
	s.n--
	return true
}

// Has reports whether id is present.
func (s *idSet) Has(id uint64) bool {
	p, w, b := split(id)
	pg := s.pages[p]
	return pg != nil && pg[w]&b != 0
}

// Len is the number of ids.
func (s *idSet) Len() int { return s.n }

// Each calls fn with every id in ascending order.
func (s *idSet) Each(fn func(id uint64)) {
	keys := make([]uint64, 0, len(s.pages))
	for k := range s.pages {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		pg := s.pages[k]
		for w, word := range pg {
			for word != 0 {
				t := bits.TrailingZeros64(word)
				fn(k<<pageBits | uint64(w*64+t))
				word &= word - 1
			}
		}
	}
}

// Bytes is the memory the set holds, roughly.
func (s *idSet) Bytes() int64 { return int64(len(s.pages)) * (1<<pageBits/8 + 48) }
