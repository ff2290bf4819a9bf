//go:build unix

package walk

import (
	"errors"
	"io/fs"
	"syscall"
)

// idOf returns the device and inode of fi.
func idOf(fi fs.FileInfo) (fileID, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{dev: uint64(st.Dev), ino: uint64(st.Ino)}, true // the field types differ by platform
}

// isLoop reports whether err says a chain of links never ends.
func isLoop(err error) bool { return errors.Is(err, syscall.ELOOP) }
