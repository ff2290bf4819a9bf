// Package pq holds binary heaps of (distance, id) pairs specialised for
// nearest-neighbour search: no interfaces, no allocation once grown.
package pq

// Item is a candidate: an internal node id and its distance to the query.
type Item struct {
	Dist float32
	ID   uint32
}

// MinHeap pops the nearest item first.
type MinHeap struct {
	items []Item
}

// Len is the number of items held.
func (h *MinHeap) Len() int { return len(h.items) }

// Reset empties the heap, keeping its storage.
func (h *MinHeap) Reset() { h.items = h.items[:0] }

// Top returns the nearest item. The heap must not be empty.
func (h *MinHeap) Top() Item { return h.items[0] }

// Items returns the items in heap order (not sorted). The slice is the heap's
// own storage and is valid until the next change.
func (h *MinHeap) Items() []Item { return h.items }

// Push adds an item.
func (h *MinHeap) Push(it Item) {
	h.items = append(h.items, it)
	s := h.items
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if s[p].Dist <= it.Dist {
			break
		}
		s[i] = s[p]
		i = p
	}
	s[i] = it
}

// Pop removes and returns the nearest item. The heap must not be empty.
func (h *MinHeap) Pop() Item {
	s := h.items
	top := s[0]
	n := len(s) - 1
	last := s[n]
	h.items = s[:n]
	if n > 0 {
		siftDownMin(s[:n], last)
	}
	return top
}

func siftDownMin(s []Item, it Item) {
	n := len(s)
	i := 0
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if r := c + 1; r < n && s[r].Dist < s[c].Dist {
			c = r
		}
		if it.Dist <= s[c].Dist {
			break
		}
		s[i] = s[c]
		i = c
	}
	s[i] = it
}

// MaxHeap pops the farthest item first; it keeps the best k of a stream.
type MaxHeap struct {
	items []Item
}

// Len is the number of items held.
func (h *MaxHeap) Len() int { return len(h.items) }

// Reset empties the heap, keeping its storage.
func (h *MaxHeap) Reset() { h.items = h.items[:0] }

// Top returns the farthest item. The heap must not be empty.
func (h *MaxHeap) Top() Item { return h.items[0] }

// Items returns the items in heap order (not sorted). The slice is the heap's
// own storage and is valid until the next change.
func (h *MaxHeap) Items() []Item { return h.items }

// Push adds an item.
func (h *MaxHeap) Push(it Item) {
	h.items = append(h.items, it)
	s := h.items
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if s[p].Dist >= it.Dist {
			break
		}
		s[i] = s[p]
		i = p
	}
	s[i] = it
}

// Pop removes and returns the farthest item. The heap must not be empty.
func (h *MaxHeap) Pop() Item {
	s := h.items
	top := s[0]
	n := len(s) - 1
	last := s[n]
	h.items = s[:n]
	if n > 0 {
		siftDownMax(s[:n], last)
	}
	return top
}

// ReplaceTop replaces the farthest item by it, which is cheaper than a Pop
// followed by a Push. The heap must not be empty.
func (h *MaxHeap) ReplaceTop(it Item) {
	siftDownMax(h.items, it)
}

func siftDownMax(s []Item, it Item) {
	n := len(s)
	i := 0
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if r := c + 1; r < n && s[r].Dist > s[c].Dist {
			c = r
		}
		if it.Dist >= s[c].Dist {
			break
		}
		s[i] = s[c]
		i = c
	}
	s[i] = it
}

// PushBounded keeps the k nearest items seen: it pushes it while the heap holds
// fewer than k items, and otherwise replaces the farthest item when it is
// nearer. It reports whether it was kept.
func (h *MaxHeap) PushBounded(it Item, k int) bool {
	if len(h.items) < k {
		h.Push(it)
		return true
	}
	if k == 0 || it.Dist >= h.items[0].Dist {
		return false
	}
	h.ReplaceTop(it)
	return true
}

// DrainSorted empties the heap into dst, nearest first, and returns dst.
func (h *MaxHeap) DrainSorted(dst []Item) []Item {
	n := h.Len()
	start := len(dst)
	for range n {
		dst = append(dst, Item{})
	}
	for i := n - 1; i >= 0; i-- {
		dst[start+i] = h.Pop()
	}
	return dst
}
