package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// testLengths covers empty input, every tail length of both vector widths,
// and the unrolled loops.
var testLengths = []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 31, 33, 63, 64, 65, 100, 1000}

// forEachPath runs f once per kernel path this machine supports.
func forEachPath(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	saved := Active()
	defer SetPath(saved)
	for _, p := range Available() {
		if err := SetPath(p); err != nil {
			t.Fatal(err)
		}
		t.Run(p.String(), f)
	}
}

const guard = 12345.678

// guarded returns a slice of length n that starts one element into a larger
// buffer (so it is not 32-byte aligned) with guard values on both sides, and a
// check that the guards are intact (masked tails must not write past the end).
func guarded(n int) ([]float32, func(t *testing.T)) {
	buf := make([]float32, n+2+16)
	for i := range buf {
		buf[i] = guard
	}
	s := buf[1 : 1+n : 1+n]
	return s, func(t *testing.T) {
		t.Helper()
		if buf[0] != guard {
			t.Fatalf("n=%d: wrote before the slice", n)
		}
		for i := 1 + n; i < len(buf); i++ {
			if buf[i] != guard {
				t.Fatalf("n=%d: wrote past the end at +%d", n, i-1-n)
			}
		}
	}
}

func randSlice(r *rand.Rand, n int, lo, hi float64) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(lo + (hi-lo)*r.Float64())
	}
	return s
}

// ulpErr is |got-want| in units of the float32 spacing at want (spacing of
// the smallest normal below it, so denormal results count in denormal ulps).
func ulpErr(got float32, want float64) float64 {
	if math.IsNaN(want) {
		if got != got {
			return 0
		}
		return math.Inf(1)
	}
	if math.IsInf(want, 0) || math.Abs(want) > math.MaxFloat32 {
		if float64(got) == want || (math.IsInf(float64(got), 0) && math.Signbit(float64(got)) == math.Signbit(want)) {
			return 0
		}
		return math.Inf(1)
	}
	a := math.Abs(want)
	_, e := math.Frexp(a)                 // a = f·2^e, f in [0.5, 1)
	ulp := math.Ldexp(1, max(e-24, -149)) // float32 spacing at a
	return math.Abs(float64(got)-want) / ulp
}

func nan32() float32      { return float32(math.NaN()) }
func inf32(s int) float32 { return float32(math.Inf(s)) }

func fmtf(v float64) string { return fmt.Sprintf("%.3g", v) }
