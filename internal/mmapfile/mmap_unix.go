//go:build linux || darwin || freebsd

package mmapfile

import (
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps size bytes of f read-only and private, and asks the kernel
// to read ahead (a cold file is then read in the background while the
// caller parses the first pages).
func mapFile(f *os.File, size int) ([]byte, error) {
	data, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_PRIVATE)
	if err != nil {
		return nil, err
	}
	_ = unix.Madvise(data, unix.MADV_WILLNEED) // advice only
	return data, nil
}

func protectWritable(data []byte) error {
	return unix.Mprotect(data, unix.PROT_READ|unix.PROT_WRITE)
}

func unmap(data []byte) error { return unix.Munmap(data) }
