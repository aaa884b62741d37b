package kernels

import (
	"math/rand/v2"
	"testing"
)

// Benchmarks per path: go test -bench . -run '^$' ./kernels
// Each reports ns/op and Gelem/s (elements processed per second).

func benchPaths(b *testing.B, n int, f func()) {
	saved := Active()
	defer SetPath(saved)
	for _, p := range Available() {
		SetPath(p)
		b.Run(p.String(), func(b *testing.B) {
			for b.Loop() {
				f()
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gelem/s")
		})
	}
}

func benchData(n int) []float32 {
	r := rand.New(rand.NewPCG(1, 1))
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64() * 2)
	}
	return x
}

const benchN = 16384 // 64 KiB of float32: fits L2, larger than L1

func BenchmarkActivate(b *testing.B) {
	src := benchData(benchN)
	x := make([]float32, benchN)
	for _, a := range []Act{GELU, GELUTanh, QuickGELU, SiLU, Tanh, Sigmoid, Mish, ReLU} {
		b.Run(a.String(), func(b *testing.B) {
			copy(x, src)
			benchPaths(b, benchN, func() { Activate(a, x) })
		})
	}
}

func BenchmarkExp(b *testing.B) {
	src := benchData(benchN)
	dst := make([]float32, benchN)
	benchPaths(b, benchN, func() { Exp(dst, src) })
}

// Softmax over rows of 128 (attention at 128 tokens); one op = one row.
func BenchmarkSoftmax128(b *testing.B) {
	src := benchData(128)
	x := make([]float32, 128)
	benchPaths(b, 128, func() {
		copy(x, src)
		SoftmaxScaled(x, 0.125)
	})
}

// LayerNorm over one row of 384 / 768; one op = one row.
func BenchmarkLayerNorm(b *testing.B) {
	for _, cols := range []int{384, 768} {
		b.Run(map[int]string{384: "384", 768: "768"}[cols], func(b *testing.B) {
			x := benchData(cols)
			y := make([]float32, cols)
			g, be := benchData(cols), benchData(cols)
			benchPaths(b, cols, func() { LayerNorm(y, x, cols, g, be, 1e-12) })
		})
	}
}

func BenchmarkGELUBackward(b *testing.B) {
	x, dy := benchData(benchN), benchData(benchN)
	dx := make([]float32, benchN)
	benchPaths(b, benchN, func() { ActivateBackward(GELU, dx, x, dy) })
}

func BenchmarkAxpy(b *testing.B) {
	x, y := benchData(benchN), benchData(benchN)
	benchPaths(b, benchN, func() { Axpy(y, 1e-3, x) })
}

func BenchmarkDot(b *testing.B) {
	x, y := benchData(benchN), benchData(benchN)
	benchPaths(b, benchN, func() { _ = Dot(x, y) })
}

func BenchmarkF16ToF32(b *testing.B) {
	h := make([]uint16, benchN)
	for i := range h {
		h[i] = uint16(i)
	}
	dst := make([]float32, benchN)
	benchPaths(b, benchN, func() { F16ToF32(dst, h) })
}
