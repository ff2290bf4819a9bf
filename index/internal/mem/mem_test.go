package mem

import (
	"testing"
	"unsafe"
)

func TestInterior(t *testing.T) {
	tests := []struct {
		name     string
		size     int
		minWhole int // whole huge pages that must fit
		maxWhole int
	}{
		{"small", 1 << 10, 0, 0},
		{"one page", hugePage, 0, 1},
		{"five pages", 5 * hugePage, 4, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := make([]byte, tc.size)
			start, end := interior(b)
			lo := uintptr(unsafe.Pointer(&b[0]))
			whole := int((end - start) / hugePage)
			if whole < tc.minWhole || whole > tc.maxWhole {
				t.Fatalf("%d whole pages, want %d..%d", whole, tc.minWhole, tc.maxWhole)
			}
			if whole > 0 {
				if start%hugePage != 0 || end%hugePage != 0 {
					t.Fatalf("bounds %x..%x not aligned", start, end)
				}
				if start < lo || end > lo+uintptr(len(b)) {
					t.Fatalf("bounds %x..%x outside %x..%x", start, end, lo, lo+uintptr(len(b)))
				}
			}
			// The advice is only a hint; it must not disturb the data.
			f := make([]float32, tc.size/4+1)
			f[len(f)-1] = 7
			AdviseHuge(f)
			u := make([]uint32, tc.size/4+1)
			u[0] = 9
			AdviseHuge(u)
			if f[len(f)-1] != 7 || u[0] != 9 {
				t.Fatal("advice changed the data")
			}
		})
	}
	AdviseHuge[float32](nil)
}
