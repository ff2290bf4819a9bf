// Package vec holds the float32 vector kernels the indexes rank by: dot
// product and squared Euclidean distance.
//
// On amd64 processors with AVX2 and FMA the kernels call the assembly of
// github.com/viterin/vek (four 8-wide FMA accumulators, 32 floats per loop
// turn); elsewhere they run plain Go unrolled eight times. BenchmarkDot compares
// the two.
package vec

import (
	"fmt"
	"math"

	"github.com/viterin/vek"
	"github.com/viterin/vek/vek32"

	"mmsearch/index"
)

// accelerated reports whether vek runs its AVX2 assembly on this machine. It is
// decided once by vek from the CPU's feature flags and never changes.
var accelerated = vek.Info().Acceleration

// Dot returns the dot product of a and b, which have the same length.
func Dot(a, b []float32) float32 {
	if accelerated && len(a) > 0 {
		return vek32.Dot(a, b)
	}
	return DotGo(a, b)
}

// L2Sq returns the squared Euclidean distance between a and b, which have the
// same length.
func L2Sq(a, b []float32) float32 {
	if accelerated && len(a) > 0 {
		d := vek32.Distance(a, b)
		return d * d
	}
	return L2SqGo(a, b)
}

// Norm returns the Euclidean length of a.
func Norm(a []float32) float32 {
	if accelerated && len(a) > 0 {
		return vek32.Norm(a)
	}
	return sqrt32(DotGo(a, a))
}

// Kernel is a dot-product or distance kernel over two slices of one length.
type Kernel func(a, b []float32) float32

// DotKernel returns the fastest dot product for this machine, for hot loops
// that call it through a function value: one call less than Dot. The slices
// must not be empty.
func DotKernel() Kernel {
	if accelerated {
		return vek32.Dot
	}
	return DotGo
}

// L2SqKernel is DotKernel for the squared Euclidean distance.
func L2SqKernel() Kernel {
	if accelerated {
		return l2SqVek
	}
	return L2SqGo
}

func l2SqVek(a, b []float32) float32 {
	d := vek32.Distance(a, b)
	return d * d
}

// DotGo is the portable dot product: eight independent products per loop turn
// summed into four accumulators, then a scalar tail.
func DotGo(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+8 <= n; i += 8 {
		aa := a[i : i+8 : i+8]
		bb := b[i : i+8 : i+8]
		s0 += aa[0]*bb[0] + aa[4]*bb[4]
		s1 += aa[1]*bb[1] + aa[5]*bb[5]
		s2 += aa[2]*bb[2] + aa[6]*bb[6]
		s3 += aa[3]*bb[3] + aa[7]*bb[7]
	}
	for ; i < n; i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// L2SqGo is the portable squared Euclidean distance, unrolled like DotGo.
func L2SqGo(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+8 <= n; i += 8 {
		aa := a[i : i+8 : i+8]
		bb := b[i : i+8 : i+8]
		d0, d1, d2, d3 := aa[0]-bb[0], aa[1]-bb[1], aa[2]-bb[2], aa[3]-bb[3]
		d4, d5, d6, d7 := aa[4]-bb[4], aa[5]-bb[5], aa[6]-bb[6], aa[7]-bb[7]
		s0 += d0*d0 + d4*d4
		s1 += d1*d1 + d5*d5
		s2 += d2*d2 + d6*d6
		s3 += d3*d3 + d7*d7
	}
	for ; i < n; i++ {
		d := a[i] - b[i]
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

// DotSimple is the textbook one-product-per-turn loop, kept as the baseline of
// BenchmarkDot.
func DotSimple(a, b []float32) float32 {
	var s float32
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// Normalize scales a to unit length in place and returns its former length. A
// zero vector is left as it is.
func Normalize(a []float32) float32 {
	n := Norm(a)
	if n > 0 {
		inv := 1 / n
		for i := range a {
			a[i] *= inv
		}
	}
	return n
}

func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) }

// Distance returns the distance between a and b under metric m: 1 - a·b for
// Cosine, -a·b for InnerProduct and the squared Euclidean distance for L2.
func Distance(m index.Metric, a, b []float32) float32 {
	switch m {
	case index.Cosine:
		return 1 - Dot(a, b)
	case index.InnerProduct:
		return -Dot(a, b)
	default:
		return L2Sq(a, b)
	}
}

// Finite reports whether every element of a is a finite number.
func Finite(a []float32) bool {
	for _, x := range a {
		// x-x is NaN exactly when x is NaN or ±Inf.
		if x-x != 0 {
			return false
		}
	}
	return true
}

// Check returns an error wrapping index.ErrDimension when len(a) != dim and one
// wrapping index.ErrInvalidInput when a holds NaN or an infinity.
func Check(a []float32, dim int) error {
	if err := index.CheckDim(a, dim); err != nil {
		return err
	}
	if !Finite(a) {
		return fmt.Errorf("%w: vector holds NaN or infinity", index.ErrInvalidInput)
	}
	return nil
}
