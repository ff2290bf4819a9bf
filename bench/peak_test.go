package bench

import (
	"strings"
	"testing"
)

func TestParsePeak(t *testing.T) {
	cpu := func(n int, mhz, flags string) string {
		var b strings.Builder
		for i := range n {
			b.WriteString("processor\t: " + string(rune('0'+i)) + "\nphysical id\t: 0\ncpu cores\t: " + string(rune('0'+n)) + "\ncpu MHz\t\t: " + mhz + "\nflags\t\t: fpu sse2 " + flags + "\n\n")
		}
		return b.String()
	}
	for _, tc := range []struct {
		name      string
		info      string
		override  float64
		wantGF    float64
		wantBits  int
		wantVNNI  bool
		wantInDer string
	}{
		{"zen3 avx2", cpu(2, "2445.404", "avx fma avx2"), 0, 2 * 2.445404 * 32, 256, false, "2 cores (1 socket(s) × 2 'cpu cores') × 2445 MHz"},
		{"avx512 vnni", cpu(4, "2000.000", "avx2 fma avx512f avx512_vnni"), 0, 4 * 2.0 * 64, 512, true, "512-bit"},
		{"clock override", cpu(2, "2445.404", "avx2 fma"), 3500, 2 * 3.5 * 32, 256, false, "given clock"},
		{"sse only", cpu(1, "1000", ""), 0, 1 * 1.0 * 16, 128, false, "128-bit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := parsePeak(strings.NewReader(tc.info), tc.override)
			if err != nil {
				t.Fatal(err)
			}
			if d := p.GFLOPs - tc.wantGF; d > 1e-6 || d < -1e-6 || p.VectorBits != tc.wantBits || p.VNNI != tc.wantVNNI {
				t.Errorf("peak %+v, want %.3f GFLOP/s, %d bits, vnni %t", p, tc.wantGF, tc.wantBits, tc.wantVNNI)
			}
			if !strings.Contains(p.Derivation, tc.wantInDer) {
				t.Errorf("derivation %q lacks %q", p.Derivation, tc.wantInDer)
			}
		})
	}
	if _, err := parsePeak(strings.NewReader("nothing here\n"), 0); err == nil {
		t.Error("an empty cpuinfo gave a peak")
	}
}
