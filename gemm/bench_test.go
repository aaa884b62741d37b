package gemm

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"bioencoder/kernels"
	"bioencoder/parallel"
)

// poolFromCPU makes the pool follow -cpu (GOMAXPROCS), which the pool read
// only once at start-up. Give -cpu one value per invocation: with a list
// (-cpu 2,1) the sub-benchmarks all ran with GOMAXPROCS 1 in Go 1.26,
// whatever their name says.
func poolFromCPU(b *testing.B) {
	saved := parallel.Workers()
	parallel.SetWorkers(runtime.GOMAXPROCS(0))
	b.Cleanup(func() { parallel.SetWorkers(saved) })
}

// BenchmarkLinear times y = x·Wᵀ with a pre-packed W on the active path and
// GOMAXPROCS threads (set -cpu or BIOENC_KERNEL to vary).
func BenchmarkLinear(b *testing.B) {
	for _, s := range []struct{ m, k, n int }{
		{1024, 384, 1536}, {128, 384, 1536}, {32, 384, 384}, {1, 384, 1536}, {8, 384, 1536}, {32, 384, 1536},
		{1024, 1536, 384}, {128, 384, 384},
	} {
		b.Run(fmt.Sprintf("%dx%dx%d/%s", s.m, s.k, s.n, kernels.Active()), func(b *testing.B) {
			poolFromCPU(b)
			r := rand.New(rand.NewPCG(1, 1))
			x, w, y := randSlice(r, s.m*s.k), randSlice(r, s.n*s.k), make([]float32, s.m*s.n)
			p := Pack(w, s.n, s.k)
			Linear(y, x, s.m, p, Epilogue{})
			b.ResetTimer()
			for b.Loop() {
				Linear(y, x, s.m, p, Epilogue{})
			}
			b.ReportMetric(2*float64(s.m*s.k*s.n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
		})
	}
}

func BenchmarkGemm(b *testing.B) {
	for _, s := range []struct {
		tA, tB  bool
		m, n, k int
	}{
		{false, false, 1024, 384, 1536}, // dX = dY·W
		{true, false, 384, 1536, 1024},  // dW = dYᵀ·X
		{false, true, 128, 128, 64},     // one head's Q·Kᵀ
	} {
		b.Run(fmt.Sprintf("tA=%v,tB=%v,%dx%dx%d/%s", s.tA, s.tB, s.m, s.n, s.k, kernels.Active()), func(b *testing.B) {
			poolFromCPU(b)
			r := rand.New(rand.NewPCG(1, 1))
			a, bb, c := randSlice(r, s.m*s.k), randSlice(r, s.k*s.n), make([]float32, s.m*s.n)
			lda, ldb := s.k, s.n
			if s.tA {
				lda = s.m
			}
			if s.tB {
				ldb = s.k
			}
			for b.Loop() {
				Gemm(s.tA, s.tB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, s.n)
			}
			b.ReportMetric(2*float64(s.m*s.k*s.n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
		})
	}
}

// BenchmarkLinearEpilogue measures what the fused epilogues add to the
// FFN-up (bias+GELU) and attention-output (bias+residual) products.
func BenchmarkLinearEpilogue(b *testing.B) {
	const m, k, n = 1024, 384, 1536
	r := rand.New(rand.NewPCG(1, 1))
	x, w, y := randSlice(r, m*k), randSlice(r, n*k), make([]float32, m*n)
	bias, res := randSlice(r, n), randSlice(r, m*n)
	p := Pack(w, n, k)
	for _, c := range []struct {
		name string
		ep   Epilogue
	}{
		{"none", Epilogue{}},
		{"bias", Epilogue{Bias: bias}},
		{"bias+gelu", Epilogue{Bias: bias, Act: kernels.GELU}},
		{"bias+residual", Epilogue{Bias: bias, Residual: res}},
	} {
		b.Run(fmt.Sprintf("%dx%dx%d/%s/%s", m, k, n, kernels.Active(), c.name), func(b *testing.B) {
			poolFromCPU(b)
			Linear(y, x, m, p, c.ep)
			for b.Loop() {
				Linear(y, x, m, p, c.ep)
			}
			b.ReportMetric(2*float64(m*k*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
		})
	}
}

// BenchmarkKernel times the active path's micro-kernel alone on L1-resident
// panels, full height and one row: the ceiling for the loops around it.
func BenchmarkKernel(b *testing.B) {
	ks := activeSet()
	for _, kc := range []int{64, 256, 384} {
		for _, mr := range []int{ks.mr, 1} {
			b.Run(fmt.Sprintf("%s/rows=%d/kc=%d", ks.path, mr, kc), func(b *testing.B) {
				poolFromCPU(b)
				a := alignedFloats(ks.mr * kc)
				bb := alignedFloats(ks.nr * kc)
				c := alignedFloats(ks.mr * ks.nr)
				for b.Loop() {
					ks.kerns[mr](kc, &a[0], &bb[0], &c[0], ks.nr, nil, 0)
				}
				b.ReportMetric(2*float64(mr*ks.nr*kc)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
			})
		}
	}
}
