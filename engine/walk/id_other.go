//go:build !unix

package walk

import "io/fs"

// idOf cannot identify files here; loops through links are then caught only
// by the system's own limit on chains of links.
func idOf(fs.FileInfo) (fileID, bool) { return fileID{}, false }

// isLoop reports whether err says a chain of links never ends.
func isLoop(error) bool { return false }
