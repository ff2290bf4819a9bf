package atomicfile

import (
	"errors"
	"syscall"
)

// isUnsupported reports a folder fsync the file system does not support.
func isUnsupported(err error) bool {
	return errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP)
}
