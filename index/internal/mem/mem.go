// Package mem holds memory-layout helpers for the indexes' large arrays.
package mem

import "unsafe"

// hugePage is the transparent huge page size the helpers align to.
const hugePage = 2 << 20

// AdviseHuge asks the kernel to back s with transparent huge pages where it
// is enabled on request (Linux with THP in "madvise" mode). Vectors and link
// lists are read at random, so with 4 KiB pages nearly every read misses the
// TLB; with 2 MiB pages far fewer do. It is a hint: failures are ignored and
// nothing changes on other systems.
func AdviseHuge[T float32 | uint32](s []T) {
	if len(s) == 0 {
		return
	}
	var zero T
	adviseHuge(unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*int(unsafe.Sizeof(zero))))
}

// interior returns the [start, end) addresses of the whole huge pages inside
// b, or start == end when there is none.
func interior(b []byte) (start, end uintptr) {
	lo := uintptr(unsafe.Pointer(&b[0]))
	hi := lo + uintptr(len(b))
	start = (lo + hugePage - 1) &^ (hugePage - 1)
	end = hi &^ (hugePage - 1)
	if end <= start {
		return 0, 0
	}
	return start, end
}
