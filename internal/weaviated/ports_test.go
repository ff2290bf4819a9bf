package weaviated

import "testing"

// TestFreeBlockBelowEphemeralRange: the ports handed to nodes are free and
// below the range the kernel gives outgoing connections, so none can be
// taken by another process's connection before the node binds it.
func TestFreeBlockBelowEphemeralRange(t *testing.T) {
	for range 20 {
		base, err := freeBlock(18)
		if err != nil {
			t.Fatal(err)
		}
		if base < 1024 || base+18 > ephemeralLow() {
			t.Fatalf("block %d..%d reaches the ephemeral range from %d", base, base+17, ephemeralLow())
		}
	}
}
