package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"bioencoder/kernels"
	"bioencoder/parallel"
)

// eachPath runs f once per kernel path this machine supports.
func eachPath(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	saved := kernels.Active()
	defer kernels.SetPath(saved)
	for _, p := range kernels.Available() {
		if err := kernels.SetPath(p); err != nil {
			t.Fatal(err)
		}
		if ks := activeSet(); ks.path != p {
			t.Fatalf("path %s runs the %s kernels", p, ks.path)
		}
		t.Run(p.String(), f)
	}
}

// withWorkers runs f with the pool set to n threads.
func withWorkers(n int, f func()) {
	saved := parallel.Workers()
	parallel.SetWorkers(n)
	defer parallel.SetWorkers(saved)
	f()
}

// withTinyBlocks shrinks the active kernel set's cache blocks so that small
// shapes cross every block boundary (several kc, mc and nc blocks).
func withTinyBlocks(f func()) {
	p := kernels.Active()
	saved := kernelSets[p]
	tiny := *saved
	tiny.kc, tiny.mc, tiny.nc = 9, 2*tiny.mr, 2*tiny.nr
	kernelSets[p] = &tiny
	defer func() { kernelSets[p] = saved }()
	f()
}

// withFineSplit makes every product, however small, split into many tasks
// on the pool, so that the grid and edge logic of split runs on small shapes.
func withFineSplit(f func()) {
	a, b, c := minParallelFlops, minTaskFlops, tasksPerWorker
	minParallelFlops, minTaskFlops, tasksPerWorker = 0, 1, 8
	defer func() { minParallelFlops, minTaskFlops, tasksPerWorker = a, b, c }()
	f()
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = 2*r.Float32() - 1
	}
	return s
}

// awkward are sizes around every tile and block edge of every kernel set,
// primes, 1, and the 300 upper bound.
var awkward = []int{1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 13, 15, 16, 17, 23, 24, 25, 31, 32, 33, 47, 48, 49,
	61, 63, 64, 65, 97, 127, 128, 129, 143, 144, 145, 191, 192, 193, 251, 255, 256, 257, 263, 299, 300}

// refGemm is C = alpha·op(A)·op(B) + beta·C in float64, also returning the
// magnitude |alpha|·Σ|a||b| + |beta·c| of each element for the error bound.
func refGemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) (ref, mag []float64) {
	ref = make([]float64, m*n)
	mag = make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s, sa float64
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
				sa += math.Abs(float64(av) * float64(bv))
			}
			cv := 0.0
			if beta != 0 {
				cv = float64(beta) * float64(c[i*ldc+j])
			}
			ref[i*n+j] = float64(alpha)*s + cv
			mag[i*n+j] = math.Abs(float64(alpha))*sa + math.Abs(cv)
		}
	}
	return ref, mag
}

const tol = 1e-4

type gemmCase struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	padA, padB     int // extra leading-dimension elements
	padC           int
}

func (c gemmCase) String() string {
	return fmt.Sprintf("tA=%v,tB=%v,m=%d,n=%d,k=%d,alpha=%g,beta=%g,pad=%d/%d/%d",
		c.transA, c.transB, c.m, c.n, c.k, c.alpha, c.beta, c.padA, c.padB, c.padC)
}

func runGemmCase(t *testing.T, r *rand.Rand, tc gemmCase, serial bool) {
	t.Helper()
	ar, ac := tc.m, tc.k
	if tc.transA {
		ar, ac = tc.k, tc.m
	}
	br, bc := tc.k, tc.n
	if tc.transB {
		br, bc = tc.n, tc.k
	}
	lda, ldb, ldc := max(1, ac)+tc.padA, max(1, bc)+tc.padB, tc.n+tc.padC
	a := randSlice(r, ar*lda)
	b := randSlice(r, br*ldb)
	c := randSlice(r, tc.m*ldc)
	if tc.beta == 0 {
		for i := range c {
			c[i] = float32(math.NaN()) // beta = 0 must not read C
		}
	}
	c0 := append([]float32(nil), c...)
	ref, mag := refGemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
	if serial {
		GemmSerial(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
	} else {
		Gemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
	}
	bad := 0
	for i := 0; i < tc.m; i++ {
		for j := 0; j < ldc; j++ {
			got := c[i*ldc+j]
			if j >= tc.n { // padding between rows must be untouched
				if math.Float32bits(got) != math.Float32bits(c0[i*ldc+j]) {
					t.Fatalf("%v: C[%d][%d] in the row padding changed: %g -> %g", tc, i, j, c0[i*ldc+j], got)
				}
				continue
			}
			want := ref[i*tc.n+j]
			if d := math.Abs(float64(got) - want); !(d <= tol*mag[i*tc.n+j]+1e-30) {
				if bad++; bad <= 3 {
					t.Errorf("%v: C[%d][%d] = %g, want %g (|diff| %.3g, bound %.3g)", tc, i, j, got, want, d, tol*mag[i*tc.n+j])
				}
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%v: %d wrong elements", tc, bad)
	}
}

func pick(r *rand.Rand, s []int) int { return s[r.IntN(len(s))] }

// nRandom is how many random shapes a test draws: fewer with -short, which
// is how the tests run under the (slow) AVX-512 emulator.
func nRandom(n int) int {
	if testing.Short() {
		return n / 5
	}
	return n
}

func TestGemm(t *testing.T) {
	eachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		var cases []gemmCase
		// Fixed cases: every transpose combination on an awkward shape, and
		// the special alpha/beta values.
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				cases = append(cases,
					gemmCase{transA: ta, transB: tb, m: 13, n: 37, k: 29, alpha: 1, beta: 0},
					gemmCase{transA: ta, transB: tb, m: 67, n: 33, k: 300, alpha: -0.5, beta: 1, padA: 3, padB: 5, padC: 7},
					gemmCase{transA: ta, transB: tb, m: 1, n: 300, k: 257, alpha: 2, beta: 0.25, padC: 1},
					gemmCase{transA: ta, transB: tb, m: 300, n: 1, k: 1, alpha: 1, beta: -1},
				)
			}
		}
		cases = append(cases,
			gemmCase{m: 7, n: 1700, k: 5, alpha: 1, beta: 0},   // more than one nc block
			gemmCase{m: 5, n: 9, k: 0, alpha: 1, beta: 0.5},    // k = 0: C = beta·C
			gemmCase{m: 5, n: 9, k: 4, alpha: 0, beta: 0},      // alpha = 0, beta = 0: C = 0
			gemmCase{m: 64, n: 64, k: 1000, alpha: 1, beta: 0}, // deep: several kc blocks
		)
		alphas := []float32{1, 1, -1, 0.5, 3}
		betas := []float32{0, 0, 1, -0.5, 2}
		for range nRandom(120) {
			cases = append(cases, gemmCase{
				transA: r.IntN(2) == 0, transB: r.IntN(2) == 0,
				m: pick(r, awkward), n: pick(r, awkward), k: pick(r, awkward),
				alpha: alphas[r.IntN(len(alphas))], beta: betas[r.IntN(len(betas))],
				padA: r.IntN(3) * r.IntN(9), padB: r.IntN(3) * r.IntN(9), padC: r.IntN(3) * r.IntN(9),
			})
		}
		for i, tc := range cases {
			runGemmCase(t, r, tc, i%4 == 3)
		}
		// Fine splits with 2 and 3 workers: many small tasks with edges.
		for _, w := range []int{2, 3} {
			withWorkers(w, func() {
				withFineSplit(func() {
					for range nRandom(20) {
						runGemmCase(t, r, gemmCase{transA: r.IntN(2) == 0, transB: r.IntN(2) == 0,
							m: pick(r, awkward), n: pick(r, awkward), k: pick(r, awkward),
							alpha: alphas[r.IntN(len(alphas))], beta: betas[r.IntN(len(betas))], padC: r.IntN(3)}, false)
					}
				})
			})
		}
	})
}

// TestGemmBlocks runs shapes through tiny cache blocks, so that a few dozen
// rows and columns already cross several kc, mc and nc block boundaries.
func TestGemmBlocks(t *testing.T) {
	eachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		withTinyBlocks(func() {
			for range 40 {
				tc := gemmCase{
					transA: r.IntN(2) == 0, transB: r.IntN(2) == 0,
					m: 1 + r.IntN(70), n: 1 + r.IntN(110), k: 1 + r.IntN(60),
					alpha: 1, beta: []float32{0, 1, 0.5}[r.IntN(3)], padC: r.IntN(4),
				}
				runGemmCase(t, r, tc, r.IntN(2) == 0)
			}
		})
	})
}

// refAct is the activation in float64.
func refAct(act kernels.Act, v float64) float64 {
	switch act {
	case kernels.GELU:
		return 0.5 * v * (1 + math.Erf(v/math.Sqrt2))
	case kernels.GELUTanh:
		return 0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v)))
	case kernels.ReLU:
		return max(v, 0)
	case kernels.Identity:
		return v
	}
	panic("refAct: " + act.String())
}

type linearCase struct {
	m, k, n  int
	bias     bool
	act      kernels.Act
	residual bool
	accum    bool
	inPlace  bool // Residual is y itself
}

func (c linearCase) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "m=%d,k=%d,n=%d", c.m, c.k, c.n)
	if c.bias {
		b.WriteString(",bias")
	}
	if c.act != kernels.Identity {
		fmt.Fprintf(&b, ",%s", c.act)
	}
	if c.residual {
		b.WriteString(",residual")
	}
	if c.accum {
		b.WriteString(",accumulate")
	}
	if c.inPlace {
		b.WriteString(",residual=y")
	}
	return b.String()
}

func runLinearCase(t *testing.T, r *rand.Rand, tc linearCase) {
	t.Helper()
	x := randSlice(r, tc.m*tc.k)
	w := randSlice(r, tc.n*tc.k)
	y := randSlice(r, tc.m*tc.n)
	y0 := append([]float32(nil), y...)
	var ep Epilogue
	ep.Act = tc.act
	ep.Accumulate = tc.accum
	if tc.bias {
		ep.Bias = randSlice(r, tc.n)
	}
	if tc.residual {
		ep.Residual = randSlice(r, tc.m*tc.n)
	}
	if tc.inPlace {
		ep.Residual = y
	}
	// Reference: x·Wᵀ is Gemm with transB on W [n,k].
	lin, mag := refGemm(false, true, tc.m, tc.n, tc.k, 1, x, tc.k, w, tc.k, 0, nil, tc.n)
	p := Pack(w, tc.n, tc.k)
	if p.N() != tc.n || p.K() != tc.k {
		t.Fatalf("Packed dims %d×%d, want %d×%d", p.N(), p.K(), tc.n, tc.k)
	}
	Linear(y, x, tc.m, p, ep)
	bad := 0
	for i := 0; i < tc.m; i++ {
		for j := 0; j < tc.n; j++ {
			v, bound := lin[i*tc.n+j], tol*mag[i*tc.n+j]
			if tc.bias {
				v += float64(ep.Bias[j])
				bound += 1e-7 * math.Abs(float64(ep.Bias[j]))
			}
			v = refAct(tc.act, v)
			bound *= 1.2 // GELU's slope is at most ~1.13
			if tc.residual {
				v += float64(ep.Residual[i*tc.n+j])
				bound += 1e-7 * math.Abs(float64(ep.Residual[i*tc.n+j]))
			}
			if tc.accum || tc.inPlace {
				v += float64(y0[i*tc.n+j])
				bound += 1e-7 * math.Abs(float64(y0[i*tc.n+j]))
			}
			got := float64(y[i*tc.n+j])
			if d := math.Abs(got - v); !(d <= bound+1e-6) {
				if bad++; bad <= 3 {
					t.Errorf("%v: y[%d][%d] = %g, want %g (|diff| %.3g, bound %.3g)", tc, i, j, got, v, d, bound)
				}
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%v: %d wrong elements", tc, bad)
	}
}

func TestLinear(t *testing.T) {
	eachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 6))
		cases := []linearCase{
			{m: 1, k: 384, n: 384},
			{m: 1, k: 1, n: 1},
			{m: 7, k: 300, n: 299, bias: true},
			{m: 33, k: 64, n: 97, bias: true, act: kernels.GELU},
			{m: 129, k: 257, n: 65, bias: true, residual: true},
			{m: 13, k: 31, n: 200, bias: true, act: kernels.GELUTanh, residual: true},
			{m: 25, k: 17, n: 33, act: kernels.ReLU},
			{m: 49, k: 300, n: 47, accum: true},
			{m: 12, k: 5, n: 129, accum: true, bias: true},
			{m: 31, k: 63, n: 64, bias: true, inPlace: true},
			{m: 200, k: 100, n: 1700, bias: true}, // many panels, several tasks per worker
		}
		type ep struct {
			bias, res, accum bool
			act              kernels.Act
		}
		eps := []ep{{}, {bias: true}, {bias: true, act: kernels.GELU}, {res: true}, {bias: true, res: true},
			{accum: true}, {accum: true, bias: true}}
		for range nRandom(60) {
			e := eps[r.IntN(len(eps))]
			cases = append(cases, linearCase{m: pick(r, awkward), k: pick(r, awkward), n: pick(r, awkward),
				bias: e.bias, act: e.act, residual: e.res, accum: e.accum})
		}
		for _, tc := range cases {
			runLinearCase(t, r, tc)
		}
		for _, w := range []int{2, 3} {
			withWorkers(w, func() {
				withFineSplit(func() {
					for _, m := range []int{1, 2, 6, 37} {
						runLinearCase(t, r, linearCase{m: m, k: 40, n: 300, bias: true})
					}
					for range nRandom(20) {
						e := eps[r.IntN(len(eps))]
						runLinearCase(t, r, linearCase{m: pick(r, awkward), k: pick(r, awkward), n: pick(r, awkward),
							bias: e.bias, act: e.act, residual: e.res, accum: e.accum})
					}
				})
			})
		}
		withWorkers(1, func() {
			runLinearCase(t, r, linearCase{m: 50, k: 70, n: 90, bias: true, residual: true})
		})
		withTinyBlocks(func() {
			for range 20 {
				e := eps[r.IntN(len(eps))]
				runLinearCase(t, r, linearCase{m: 1 + r.IntN(60), k: 1 + r.IntN(50), n: 1 + r.IntN(100),
					bias: e.bias, act: e.act, residual: e.res, accum: e.accum})
			}
		})
	})
}

// TestPackFollowsPath packs under one kernel path and multiplies under every
// other: the weight must be repacked for the new tile shape.
func TestPackFollowsPath(t *testing.T) {
	saved := kernels.Active()
	defer kernels.SetPath(saved)
	r := rand.New(rand.NewPCG(7, 8))
	m, k, n := 19, 45, 71
	x, w := randSlice(r, m*k), randSlice(r, n*k)
	ref, mag := refGemm(false, true, m, n, k, 1, x, k, w, k, 0, nil, n)
	avail := kernels.Available()
	kernels.SetPath(avail[len(avail)-1])
	p := Pack(w, n, k)
	check := func(when string) {
		y := make([]float32, m*n)
		Linear(y, x, m, p, Epilogue{})
		for i := range y {
			if d := math.Abs(float64(y[i]) - ref[i]); d > tol*mag[i] {
				t.Fatalf("%s (%s): y[%d] = %g, want %g", when, kernels.Active(), i, y[i], ref[i])
			}
		}
	}
	for _, path := range avail {
		kernels.SetPath(path)
		check("after switching path")
	}
	// Repack picks up an in-place weight update.
	for i := range w {
		w[i] = -w[i]
	}
	p.Repack()
	for i := range ref {
		ref[i] = -ref[i]
	}
	for _, path := range avail {
		kernels.SetPath(path)
		check("after Repack")
	}
}

func TestLinearAllocs(t *testing.T) {
	eachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(9, 10))
		m, k, n := 64, 384, 512
		x, w, y := randSlice(r, m*k), randSlice(r, n*k), make([]float32, m*n)
		bias, res := randSlice(r, n), randSlice(r, m*n)
		p := Pack(w, n, k)
		ep := Epilogue{Bias: bias, Residual: res}
		Linear(y, x, m, p, ep) // warm the arenas
		allocs := testing.AllocsPerRun(20, func() { Linear(y, x, m, p, ep) })
		// parallel.Run allocates its job descriptor; nothing else may.
		if allocs > 2 {
			t.Errorf("Linear allocates %.1f objects per call in steady state, want <= 2", allocs)
		}
		a, b := randSlice(r, m*k), randSlice(r, k*n)
		Gemm(false, false, m, n, k, 1, a, k, b, n, 0, y, n)
		allocs = testing.AllocsPerRun(20, func() { Gemm(false, false, m, n, k, 1, a, k, b, n, 0, y, n) })
		if allocs > 2 {
			t.Errorf("Gemm allocates %.1f objects per call in steady state, want <= 2", allocs)
		}
	})
}

func TestPanics(t *testing.T) {
	p := Pack(make([]float32, 6), 2, 3)
	for _, tc := range []struct {
		name string
		f    func()
		want string
	}{
		{"short x", func() { Linear(make([]float32, 4), make([]float32, 5), 2, p, Epilogue{}) }, "x has 5 floats"},
		{"short y", func() { Linear(make([]float32, 3), make([]float32, 6), 2, p, Epilogue{}) }, "y has 3 floats"},
		{"short bias", func() { Linear(make([]float32, 4), make([]float32, 6), 2, p, Epilogue{Bias: []float32{1}}) }, "bias"},
		{"act with accumulate", func() {
			Linear(make([]float32, 4), make([]float32, 6), 2, p, Epilogue{Accumulate: true, Act: kernels.GELU})
		}, "Accumulate"},
		{"residual overlaps", func() {
			y := make([]float32, 5)
			Linear(y[:4], make([]float32, 6), 2, p, Epilogue{Residual: y[1:5]})
		}, "overlaps"},
		{"x overlaps y", func() {
			buf := make([]float32, 10)
			Linear(buf[:4], buf[2:8], 2, p, Epilogue{})
		}, "x overlaps y"},
		{"short weight", func() { Pack(make([]float32, 5), 2, 3) }, "needs 6 floats"},
		{"bad lda", func() {
			Gemm(false, false, 2, 2, 3, 1, make([]float32, 6), 2, make([]float32, 6), 2, 0, make([]float32, 4), 2)
		}, "lda=2"},
		{"short c", func() {
			Gemm(false, false, 2, 2, 3, 1, make([]float32, 6), 3, make([]float32, 6), 2, 0, make([]float32, 3), 2)
		}, "len(c)=3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				msg := fmt.Sprint(recover())
				if !strings.Contains(msg, tc.want) {
					t.Errorf("panic %q, want one mentioning %q", msg, tc.want)
				}
			}()
			tc.f()
		})
	}
}

func TestSplitCoversGrid(t *testing.T) {
	for _, ks := range kernelSets {
		if ks == nil {
			continue
		}
		for _, w := range []int{1, 2, 3, 4, 8} {
			for _, m := range []int{1, 5, 6, 7, 100, 1024} {
				for _, n := range []int{1, 16, 17, 384, 1536} {
					tm, tn := split(m, n, 384, ks, w, true)
					if tm < 1 || tn < 1 || tm > ceilDiv(m, ks.mr) || tn > ceilDiv(n, ks.nr) {
						t.Errorf("%s: split(%d,%d, workers %d) = %d×%d", ks.path, m, n, w, tm, tn)
					}
				}
			}
		}
	}
}

// loopKernelSet is a kernel set of any tile shape whose micro-kernels are
// plain loops. It lets this machine run the blocking, packing and edge
// logic with the tile shapes of kernel paths it cannot execute (the 12×32
// AVX-512 tile on an AVX2 machine).
func loopKernelSet(mr, nr int, addTo func(dst, src []float32)) *kernelSet {
	ks := &kernelSet{path: kernels.Generic, mr: mr, nr: nr, kc: 64, mc: 4 * mr, nc: 8 * nr,
		kerns: make([]microKernel, mr+1), addTo: addTo}
	for rows := 1; rows <= mr; rows++ {
		ks.kerns[rows] = func(kc int, a, b, c *float32, ldc int, bias *float32, flags int) {
			A, B := unsafe.Slice(a, kc*mr), unsafe.Slice(b, kc*nr)
			C := unsafe.Slice(c, (rows-1)*ldc+nr)
			for i := 0; i < rows; i++ {
				for j := 0; j < nr; j++ {
					var s float32
					for p := 0; p < kc; p++ {
						s += A[p*mr+i] * B[p*nr+j]
					}
					if bias != nil {
						s += unsafe.Slice(bias, nr)[j]
					}
					if flags&flagAccumulate != 0 {
						s += C[i*ldc+j]
					}
					C[i*ldc+j] = s
				}
			}
		}
	}
	return ks
}

// TestTileShapes runs Gemm and Linear with the tile shapes of every kernel
// set (and an odd one) through loop kernels on the generic path.
func TestTileShapes(t *testing.T) {
	saved, savedSet := kernels.Active(), kernelSets[kernels.Generic]
	defer func() {
		kernels.SetPath(saved)
		kernelSets[kernels.Generic] = savedSet
	}()
	kernels.SetPath(kernels.Generic)
	addTo := addToGeneric
	if ks := kernelSets[kernels.Best()]; ks != nil {
		addTo = ks.addTo
	}
	for _, shape := range [][2]int{{12, 32}, {6, 16}, {3, 8}} {
		t.Run(fmt.Sprintf("%dx%d", shape[0], shape[1]), func(t *testing.T) {
			kernelSets[kernels.Generic] = loopKernelSet(shape[0], shape[1], addTo)
			r := rand.New(rand.NewPCG(11, uint64(shape[0])))
			for range 15 {
				runGemmCase(t, r, gemmCase{transA: r.IntN(2) == 0, transB: r.IntN(2) == 0,
					m: 1 + r.IntN(80), n: 1 + r.IntN(150), k: 1 + r.IntN(150),
					alpha: 1, beta: []float32{0, 1, 2}[r.IntN(3)], padC: r.IntN(3)}, r.IntN(2) == 0)
				runLinearCase(t, r, linearCase{m: 1 + r.IntN(80), k: 1 + r.IntN(150), n: 1 + r.IntN(150),
					bias: true, act: []kernels.Act{kernels.Identity, kernels.GELU}[r.IntN(2)], residual: r.IntN(2) == 0})
			}
		})
	}
}

// TestConcurrentRepack calls Linear from several goroutines at once right
// after a kernel path switch: exactly one repack must happen and every call
// must see a complete packing (run with -race).
func TestConcurrentRepack(t *testing.T) {
	saved := kernels.Active()
	defer kernels.SetPath(saved)
	avail := kernels.Available()
	r := rand.New(rand.NewPCG(13, 14))
	m, k, n := 9, 70, 50
	x, w := randSlice(r, m*k), randSlice(r, n*k)
	ref, mag := refGemm(false, true, m, n, k, 1, x, k, w, k, 0, nil, n)
	kernels.SetPath(avail[0])
	p := Pack(w, n, k)
	kernels.SetPath(avail[len(avail)-1])
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			y := make([]float32, m*n)
			Linear(y, x, m, p, Epilogue{})
			for i := range y {
				if d := math.Abs(float64(y[i]) - ref[i]); d > tol*mag[i] {
					errs <- fmt.Sprintf("y[%d] = %g, want %g", i, y[i], ref[i])
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
