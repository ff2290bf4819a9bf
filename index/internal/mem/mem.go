// Package mem holds memory-layout helpers for the indexes' large arrays.
package mem

import "unsafe"

// hugePage is the transparent huge page size the helpers align to.
const hugePage = 2 << 20

// AdviseHugeFloat32 asks the kernel to back s with transparent huge pages where
// it is enabled on request (Linux with THP in "madvise" mode). Vector data is
// read at random, one vector at a time, so with 4 KiB pages nearly every
// vector read misses the TLB; with 2 MiB pages far fewer do. It is a hint:
// failures are ignored and nothing changes on other systems.
func AdviseHugeFloat32(s []float32) {
	if len(s) == 0 {
		return
	}
	adviseHuge(unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*4))
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
