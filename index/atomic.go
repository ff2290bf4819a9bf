package index

import (
	"bufio"

	"mmsearch/internal/atomicfile"
)

// SaveFile writes idx to path atomically (internal/atomicfile): a crash leaves
// either the old file or the new one, never a mix.
func SaveFile(path string, idx Index) error {
	return atomicfile.Write(path, 0o644, func(w *bufio.Writer) error { return idx.Save(w) })
}
