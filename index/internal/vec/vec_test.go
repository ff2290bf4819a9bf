package vec

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"mmsearch/index"
)

func refDot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func refL2(a, b []float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return s
}

func randVec(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

func approxEqual(got float32, want float64, n int) bool {
	tol := 1e-5 * math.Max(1, math.Abs(want)) * math.Sqrt(float64(n)+1)
	return math.Abs(float64(got)-want) <= tol
}

// kernelOrRef runs k, which need not accept empty slices, or returns want for
// them.
func kernelOrRef(k Kernel, a, b []float32, want float64) float32 {
	if len(a) == 0 {
		return float32(want)
	}
	return k(a, b)
}

func TestKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 3, 7, 8, 9, 15, 16, 31, 32, 33, 64, 100, 512, 768, 1001} {
		a, b := randVec(rng, n), randVec(rng, n)
		wantDot, wantL2 := refDot(a, b), refL2(a, b)
		tests := []struct {
			name string
			got  float32
			want float64
		}{
			{"Dot", Dot(a, b), wantDot},
			{"DotGo", DotGo(a, b), wantDot},
			{"DotSimple", DotSimple(a, b), wantDot},
			{"L2Sq", L2Sq(a, b), wantL2},
			{"L2SqGo", L2SqGo(a, b), wantL2},
			{"Norm", Norm(a), math.Sqrt(refDot(a, a))},
			{"DotKernel", kernelOrRef(DotKernel(), a, b, wantDot), wantDot},
			{"L2SqKernel", kernelOrRef(L2SqKernel(), a, b, wantL2), wantL2},
		}
		for _, tc := range tests {
			if !approxEqual(tc.got, tc.want, n) {
				t.Errorf("n=%d %s = %g, want %g", n, tc.name, tc.got, tc.want)
			}
		}
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		name     string
		in       []float32
		wantNorm float32
	}{
		{"3-4-5", []float32{3, 4}, 5},
		{"zero", []float32{0, 0, 0}, 0},
		{"unit", []float32{0, 1, 0}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := append([]float32(nil), tc.in...)
			if got := Normalize(v); math.Abs(float64(got-tc.wantNorm)) > 1e-6 {
				t.Fatalf("Normalize returned %g, want %g", got, tc.wantNorm)
			}
			n := Norm(v)
			if tc.wantNorm == 0 {
				if n != 0 {
					t.Fatalf("zero vector changed: %v", v)
				}
				return
			}
			if math.Abs(float64(n)-1) > 1e-6 {
				t.Fatalf("norm after Normalize = %g, want 1", n)
			}
		})
	}
}

var sink float32

func BenchmarkDot(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, dim := range []int{64, 512} {
		x, y := randVec(rng, dim), randVec(rng, dim)
		kernels := []struct {
			name string
			fn   func(a, b []float32) float32
		}{
			{"vek", Dot},
			{"vek-kernel", DotKernel()},
			{"unrolled8", DotGo},
			{"simple", DotSimple},
			{"l2-vek", L2Sq},
			{"l2-unrolled8", L2SqGo},
		}
		for _, k := range kernels {
			b.Run(k.name+"/dim="+itoa(dim), func(b *testing.B) {
				b.SetBytes(int64(8 * dim))
				var s float32
				for b.Loop() {
					s += k.fn(x, y)
				}
				sink = s
			})
		}
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var buf [20]byte
	i := len(buf)
	for n > 0 {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	return string(buf[i:])
}

func TestCheck(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	tests := []struct {
		name    string
		v       []float32
		dim     int
		wantErr error
	}{
		{"ok", []float32{1, 2, 3}, 3, nil},
		{"short", []float32{1, 2}, 3, index.ErrDimension},
		{"long", []float32{1, 2, 3, 4}, 3, index.ErrDimension},
		{"nan", []float32{1, nan, 3}, 3, index.ErrInvalidInput},
		{"inf", []float32{1, 2, -inf}, 3, index.ErrInvalidInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.v, tc.dim)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Check = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestDistance(t *testing.T) {
	a := []float32{1, 0, 0}
	b := []float32{0.6, 0.8, 0}
	tests := []struct {
		m    index.Metric
		want float64
	}{
		{index.Cosine, 0.4},
		{index.InnerProduct, -0.6},
		{index.L2, 0.16 + 0.64},
	}
	for _, tc := range tests {
		if got := Distance(tc.m, a, b); math.Abs(float64(got)-tc.want) > 1e-6 {
			t.Errorf("%v distance = %g, want %g", tc.m, got, tc.want)
		}
	}
}
