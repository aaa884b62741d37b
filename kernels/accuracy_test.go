package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Accuracy of the element-wise maps against float64 references, on every
// path. Each case states its tolerance; the measured maxima are logged (run
// with -v) and quoted in the comments (Zen 3, generic and avx2 paths).

type unaryCase struct {
	name   string
	run    func(dst, src []float32)
	ref    func(x float64) float64
	lo, hi float64 // sweep range
	maxUlp float64 // if > 0: bound in float32 ulps of the reference
	absTol float64 // else: |got-ref| <= absTol + relTol·|ref|
	relTol float64
}

func inPlace(a Act) func(dst, src []float32) {
	return func(dst, src []float32) {
		copy(dst, src)
		Activate(a, dst)
	}
}

func refGELU(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }
func refGELUTanh(x float64) float64 {
	return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
}
func refGELUFast(x float64) float64 {
	return 0.5 * x * (1 + math.Tanh(0.7978845608*x*(1+0.044715*x*x)))
}
func refSigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
func refMish(x float64) float64    { return x * math.Tanh(math.Log1p(math.Exp(x))) }

var unaryCases = []unaryCase{
	// measured: generic 0.53 ulp, avx2 0.96 ulp
	{name: "Exp", run: Exp, ref: math.Exp, lo: -103, hi: 88.7, maxUlp: 2},
	// measured: generic 0.53 ulp, avx2 4.8 ulp (at x≈8.3, where tanh ≈ 1-1e-7)
	{name: "TanhVec", run: TanhVec, ref: math.Tanh, lo: -12, hi: 12, maxUlp: 5},
	// measured: generic 0.53 ulp, avx2 2.3 ulp
	{name: "SigmoidVec", run: SigmoidVec, ref: refSigmoid, lo: -87, hi: 30, maxUlp: 3},
	// GELU measured max |err| on [-10,10]: generic 2.4e-7, avx2 1.02e-6 (both
	// include the rounding of results near ±10, where 1 ulp is 9.5e-7, hence
	// relTol). The avx2 worst case (1.02e-6) is at x≈-5.7: the float32 erf rational is
	// ~6 ulp (3.6e-7) from -1 there and 0.5·x·(1+erf) scales that by |x|/2. PyTorch's
	// float32 GELU has the same kind of error in that tail.
	{name: "GELU", run: inPlace(GELU), ref: refGELU, lo: -10, hi: 10, absTol: 1.2e-6, relTol: 1.2e-7},
	{name: "GELU10", run: inPlace(GELU10), ref: func(x float64) float64 { return math.Max(-10, math.Min(10, refGELU(x))) },
		lo: -12, hi: 12, absTol: 1.2e-6, relTol: 1.2e-7},
	{name: "GELUTanh", run: inPlace(GELUTanh), ref: refGELUTanh, lo: -10, hi: 10, absTol: 4e-7, relTol: 1.2e-7},
	{name: "GELUFast", run: inPlace(GELUFast), ref: refGELUFast, lo: -10, hi: 10, absTol: 4e-7, relTol: 1.2e-7},
	{name: "QuickGELU", run: inPlace(QuickGELU), ref: func(x float64) float64 { return x * refSigmoid(1.702*x) },
		lo: -10, hi: 10, absTol: 3e-7, relTol: 2.4e-7},
	{name: "SiLU", run: inPlace(SiLU), ref: func(x float64) float64 { return x * refSigmoid(x) },
		lo: -10, hi: 10, absTol: 3e-7, relTol: 2.4e-7},
	{name: "Mish", run: inPlace(Mish), ref: refMish, lo: -10, hi: 10, absTol: 3e-7, relTol: 3e-7},
	{name: "Tanh", run: inPlace(Tanh), ref: math.Tanh, lo: -10, hi: 10, maxUlp: 5},
	{name: "Sigmoid", run: inPlace(Sigmoid), ref: refSigmoid, lo: -10, hi: 10, maxUlp: 3},
	{name: "ReLU", run: inPlace(ReLU), ref: func(x float64) float64 { return math.Max(x, 0) }, lo: -10, hi: 10, maxUlp: 0.0001},
	{name: "Identity", run: inPlace(Identity), ref: func(x float64) float64 { return x }, lo: -10, hi: 10, maxUlp: 0.0001},
}

// sweep is a dense grid over [lo, hi] plus random points.
func sweep(lo, hi float64, n int, r *rand.Rand) []float32 {
	s := make([]float32, 0, 2*n)
	for i := 0; i < n; i++ {
		s = append(s, float32(lo+(hi-lo)*float64(i)/float64(n-1)))
	}
	for i := 0; i < n; i++ {
		s = append(s, float32(lo+(hi-lo)*r.Float64()))
	}
	return s
}

func TestUnaryAccuracy(t *testing.T) {
	for _, c := range unaryCases {
		t.Run(c.name, func(t *testing.T) {
			forEachPath(t, func(t *testing.T) {
				r := rand.New(rand.NewPCG(1, 2))
				src := sweep(c.lo, c.hi, 100000, r)
				dst := make([]float32, len(src))
				c.run(dst, src)
				var worstUlp, worstAbs, worstX float64
				for i, x := range src {
					want := c.ref(float64(x))
					got := dst[i]
					if c.maxUlp > 0 {
						if e := ulpErr(got, want); e > worstUlp {
							worstUlp, worstX = e, float64(x)
						}
						continue
					}
					e := math.Abs(float64(got) - want)
					if e > worstAbs {
						worstAbs = e
					}
					if e > c.absTol+c.relTol*math.Abs(want) {
						t.Fatalf("%s(%g) = %g, want %g (err %.3g > %.3g + %.3g·|want|)", c.name, x, got, want, e, c.absTol, c.relTol)
					}
				}
				if c.maxUlp > 0 {
					t.Logf("max error %.3g ulp at x=%g", worstUlp, worstX)
					if worstUlp > c.maxUlp {
						t.Errorf("max error %.3g ulp at x=%g, want <= %g", worstUlp, worstX, c.maxUlp)
					}
				} else {
					t.Logf("max abs error %.3g", worstAbs)
				}
			})
		})
	}
}

// TestUnaryLengths checks every tail length, unaligned slices, in-place use,
// and that nothing outside the slice is written; the SIMD result for each
// element must match the one computed for the same value in a long run.
func TestUnaryLengths(t *testing.T) {
	for _, c := range unaryCases {
		t.Run(c.name, func(t *testing.T) {
			forEachPath(t, func(t *testing.T) {
				r := rand.New(rand.NewPCG(3, 4))
				for _, n := range testLengths {
					src := randSlice(r, n, c.lo, c.hi)
					dst, check := guarded(n)
					c.run(dst, src)
					check(t)
					long := make([]float32, 0, 1024)
					long = append(long, src...)
					for len(long) < 1024 {
						long = append(long, 0)
					}
					c.run(long, long) // in place, whole vectors
					for i := range src {
						if math.Float32bits(dst[i]) != math.Float32bits(long[i]) {
							t.Fatalf("n=%d i=%d x=%g: %g (tail) != %g (in a long run)", n, i, src[i], dst[i], long[i])
						}
					}
				}
			})
		})
	}
}

// Special values: what each map does at ±Inf, NaN, ±0 and very large inputs.
func TestUnarySpecials(t *testing.T) {
	type sv struct {
		x, want float32
	}
	isNaN := func(v float32) bool { return v != v }
	cases := []struct {
		name string
		run  func(dst, src []float32)
		vals []sv
	}{
		{"Exp", Exp, []sv{{inf32(-1), 0}, {inf32(1), inf32(1)}, {0, 1}, {89, inf32(1)}, {-105, 0}, {-1000, 0}, {1000, inf32(1)},
			{-3.4028235e38, 0}, {88.72, 3.3931806e38}}},
		{"GELU", inPlace(GELU), []sv{{inf32(-1), 0}, {inf32(1), inf32(1)}, {0, 0}, {-20, 0}, {20, 20}, {1e30, 1e30}, {-1e30, 0}, {-3.4028235e38, 0}}},
		{"GELU10", inPlace(GELU10), []sv{{inf32(1), 10}, {20, 10}, {10, 10}, {inf32(-1), 0}}},
		{"GELUTanh", inPlace(GELUTanh), []sv{{inf32(-1), 0}, {inf32(1), inf32(1)}, {0, 0}, {-20, 0}, {20, 20}, {1e30, 1e30}, {-1e30, 0}}},
		{"QuickGELU", inPlace(QuickGELU), []sv{{inf32(-1), 0}, {inf32(1), inf32(1)}, {-200, 0}, {200, 200}}},
		{"SiLU", inPlace(SiLU), []sv{{inf32(-1), 0}, {inf32(1), inf32(1)}, {-200, 0}, {200, 200}, {0, 0}}},
		{"Mish", inPlace(Mish), []sv{{inf32(-1), 0}, {inf32(1), inf32(1)}, {-200, 0}, {200, 200}, {0, 0}}},
		{"Tanh", TanhVec, []sv{{inf32(-1), -1}, {inf32(1), 1}, {0, 0}, {1e-20, 1e-20}, {-1e-20, -1e-20}, {20, 1}, {-20, -1}}},
		{"Sigmoid", SigmoidVec, []sv{{inf32(-1), 0}, {inf32(1), 1}, {0, 0.5}, {200, 1}, {-200, 0}}},
		{"ReLU", inPlace(ReLU), []sv{{inf32(-1), 0}, {inf32(1), inf32(1)}, {-1, 0}, {2, 2}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			forEachPath(t, func(t *testing.T) {
				src := []float32{nan32()}
				for _, v := range c.vals {
					src = append(src, v.x)
				}
				dst := make([]float32, len(src))
				c.run(dst, src)
				if !isNaN(dst[0]) {
					t.Errorf("%s(NaN) = %g, want NaN", c.name, dst[0])
				}
				for i, v := range c.vals {
					got := dst[i+1]
					if got != v.want && !(math.Abs(float64(got-v.want)) <= 1e-6*math.Abs(float64(v.want))) {
						t.Errorf("%s(%g) = %g, want %g", c.name, v.x, got, v.want)
					}
				}
			})
		})
	}
}
