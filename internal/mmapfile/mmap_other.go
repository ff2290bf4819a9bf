//go:build !(linux || darwin || freebsd)

package mmapfile

import (
	"errors"
	"os"
)

var errNoMmap = errors.New("mmapfile: memory mapping not supported here")

func mapFile(*os.File, int) ([]byte, error) { return nil, errNoMmap }

func protectWritable([]byte) error { return nil }

func unmap([]byte) error { return nil }
