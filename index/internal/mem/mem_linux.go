package mem

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

func adviseHuge(b []byte) {
	start, end := interior(b)
	if start == end {
		return
	}
	off := start - uintptr(unsafe.Pointer(&b[0]))
	_ = unix.Madvise(b[off:off+(end-start)], unix.MADV_HUGEPAGE)
}
