package tokenizer

import (
	"hash/maphash"
	"sync"
)

const (
	// DefaultCacheSize is the number of words the BPE cache holds when
	// Options.CacheSize is 0.
	DefaultCacheSize = 1 << 16
	cacheShards      = 32
	maxCachedWord    = 256 // longer words are not cached
)

// wordCache maps pre-tokens to their ids. It is split into shards, each
// with its own lock, and each shard keeps two generations: when the current
// generation is full it becomes the old one and the previous old one is
// dropped; a hit in the old generation moves the entry back. Recently used
// words thus survive, and the cache never holds more than its capacity.
type wordCache struct {
	seed    maphash.Seed
	perGen  int  // entries per generation and shard
	keepOld bool // false for a one-word cache, which has no old generation
	shards  []cacheShard
}

type cacheShard struct {
	mu       sync.Mutex
	cur, old map[string][]int
}

// newWordCache returns a cache for about size words, or nil (no caching)
// when size is negative.
func newWordCache(size int) *wordCache {
	if size < 0 {
		return nil
	}
	if size == 0 {
		size = DefaultCacheSize
	}
	shards := 1
	for shards < cacheShards && 4*shards <= size {
		shards *= 2
	}
	c := &wordCache{
		seed:    maphash.MakeSeed(),
		perGen:  max(1, size/(2*shards)),
		keepOld: size >= 2,
		shards:  make([]cacheShard, shards),
	}
	for i := range c.shards {
		c.shards[i].cur = make(map[string][]int)
	}
	return c
}

func (c *wordCache) shard(word string) *cacheShard {
	return &c.shards[maphash.String(c.seed, word)%uint64(len(c.shards))]
}

// get returns the cached ids of word. The slice is shared: callers must not
// modify it.
func (c *wordCache) get(word string) ([]int, bool) {
	if c == nil {
		return nil, false
	}
	s := c.shard(word)
	s.mu.Lock()
	defer s.mu.Unlock()
	if ids, ok := s.cur[word]; ok {
		return ids, true
	}
	if ids, ok := s.old[word]; ok {
		delete(s.old, word)
		c.insert(s, word, ids)
		return ids, true
	}
	return nil, false
}

// put stores the ids of word; the cache keeps ids, which the caller must
// not modify afterwards.
func (c *wordCache) put(word string, ids []int) {
	if c == nil || len(word) > maxCachedWord {
		return
	}
	s := c.shard(word)
	s.mu.Lock()
	defer s.mu.Unlock()
	c.insert(s, word, ids)
}

// insert adds word to shard s, whose lock the caller holds.
func (c *wordCache) insert(s *cacheShard, word string, ids []int) {
	if len(s.cur) >= c.perGen {
		s.old = nil
		if c.keepOld {
			s.old = s.cur
		}
		s.cur = make(map[string][]int, c.perGen)
	}
	s.cur[word] = ids
}

// len returns the number of cached words.
func (c *wordCache) len() int {
	if c == nil {
		return 0
	}
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.cur) + len(s.old)
		s.mu.Unlock()
	}
	return n
}
