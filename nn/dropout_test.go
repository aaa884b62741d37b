package nn

import (
	"math"
	"testing"
)

func TestDropStreamRateAndDeterminism(t *testing.T) {
	for _, p := range []float32{0.1, 0.25, 0.5} {
		d := newDropStream(7, 3, p)
		const n = 200000
		x := make([]float32, n)
		for i := range x {
			x[i] = 1
		}
		d.apply(x, 0)
		kept := 0
		for i, v := range x {
			if v != 0 {
				kept++
				if math.Abs(float64(v)-1/(1-float64(p))) > 1e-6 {
					t.Fatalf("kept value %v, want 1/(1-p)", v)
				}
			}
			if (v != 0) != d.keep(i) {
				t.Fatalf("apply and keep disagree at %d", i)
			}
		}
		rate := 1 - float64(kept)/n
		if math.Abs(rate-float64(p)) > 0.005 {
			t.Errorf("p=%v: dropped %.4f", p, rate)
		}
		// Applying in pieces with their global offsets gives the same mask.
		y := make([]float32, n)
		for i := range y {
			y[i] = 1
		}
		for lo := 0; lo < n; lo += 777 {
			d.apply(y[lo:min(lo+777, n)], lo)
		}
		for i := range x {
			if x[i] != y[i] {
				t.Fatalf("mask depends on how it is split (element %d)", i)
			}
		}
	}
}
