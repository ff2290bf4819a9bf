//go:build !unix

package regfile

// nonBlock is unused where FIFOs cannot block an open.
const nonBlock = 0
