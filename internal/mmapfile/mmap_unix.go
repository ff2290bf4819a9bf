//go:build linux || darwin || freebsd

package mmapfile

import (
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps size bytes of f read-only and private. It gives the kernel
// no read-ahead advice for the whole file: a caller such as a one-shot
// search touches a few megabytes of a large index, and asking for all of it
// (MADV_WILLNEED) would read every page of a cold file; the kernel's
// ordinary read-ahead around each fault serves the sequential parts.
func mapFile(f *os.File, size int) ([]byte, error) {
	return unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_PRIVATE)
}

func protectWritable(data []byte) error {
	return unix.Mprotect(data, unix.PROT_READ|unix.PROT_WRITE)
}

func unmap(data []byte) error { return unix.Munmap(data) }
