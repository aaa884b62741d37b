package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

var gradRefs = map[Act]func(x float64) float64{
	Identity: func(x float64) float64 { return 1 },
	GELU: func(x float64) float64 {
		return 0.5*(1+math.Erf(x/math.Sqrt2)) + x*math.Exp(-x*x/2)/math.Sqrt(2*math.Pi)
	},
	GELU10: func(x float64) float64 {
		if refGELU(x) > 10 {
			return 0
		}
		return 0.5*(1+math.Erf(x/math.Sqrt2)) + x*math.Exp(-x*x/2)/math.Sqrt(2*math.Pi)
	},
	GELUTanh: func(x float64) float64 {
		k, c := math.Sqrt(2/math.Pi), 0.044715
		t := math.Tanh(k * (x + c*x*x*x))
		return 0.5*(1+t) + 0.5*x*(1-t*t)*k*(1+3*c*x*x)
	},
	GELUFast: func(x float64) float64 {
		k, c := 0.7978845608, 0.044715
		t := math.Tanh(k * (x + c*x*x*x))
		return 0.5*(1+t) + 0.5*x*(1-t*t)*k*(1+3*c*x*x)
	},
	QuickGELU: func(x float64) float64 {
		s := refSigmoid(1.702 * x)
		return s + 1.702*x*s*(1-s)
	},
	SiLU: func(x float64) float64 {
		s := refSigmoid(x)
		return s + x*s*(1-s)
	},
	ReLU: func(x float64) float64 {
		if x > 0 {
			return 1
		}
		return 0
	},
	Tanh:    func(x float64) float64 { t := math.Tanh(x); return 1 - t*t },
	Sigmoid: func(x float64) float64 { s := refSigmoid(x); return s * (1 - s) },
	Mish: func(x float64) float64 {
		t := math.Tanh(math.Log1p(math.Exp(x)))
		return t + x*refSigmoid(x)*(1-t*t)
	},
}

var fwdRefs = map[Act]func(x float64) float64{
	Identity: func(x float64) float64 { return x }, GELU: refGELU,
	GELU10:   func(x float64) float64 { return math.Max(-10, math.Min(10, refGELU(x))) },
	GELUTanh: refGELUTanh, GELUFast: refGELUFast,
	QuickGELU: func(x float64) float64 { return x * refSigmoid(1.702*x) },
	SiLU:      func(x float64) float64 { return x * refSigmoid(x) },
	ReLU:      func(x float64) float64 { return math.Max(x, 0) },
	Tanh:      math.Tanh, Sigmoid: refSigmoid, Mish: refMish,
}

// The float64 derivative formulas above agree with central differences of
// the forward references (so the test checks the maths, not just itself).
func TestGradRefsMatchFiniteDifferences(t *testing.T) {
	for a, g := range gradRefs {
		f := fwdRefs[a]
		for x := -8.0; x <= 8; x += 0.37 {
			if (a == ReLU && math.Abs(x) < 1e-3) || (a == GELU10 && math.Abs(x-10) < 1e-3) {
				continue
			}
			const h = 1e-5
			num := (f(x+h) - f(x-h)) / (2 * h)
			if math.Abs(num-g(x)) > 1e-6 {
				t.Errorf("%v'(%g): formula %g, finite difference %g", a, x, g(x), num)
			}
		}
	}
}

// ActivateBackward vs the float64 derivatives, dx = dy·act'(x) with dy in
// [-1, 1]. Measured max |err| over x in [-12, 12]: GELU avx2 2.5e-7, others
// <= 5e-7 (generic <= 1.5e-7).
func TestActivateBackward(t *testing.T) {
	for a := Identity; a <= Mish; a++ {
		t.Run(a.String(), func(t *testing.T) {
			forEachPath(t, func(t *testing.T) {
				r := rand.New(rand.NewPCG(17, uint64(a)))
				var worst float64
				for _, n := range append(testLengths, 5000) {
					x := randSlice(r, n, -12, 12)
					dy := randSlice(r, n, -1, 1)
					dx, check := guarded(n)
					ActivateBackward(a, dx, x, dy)
					check(t)
					for i := range x {
						want := float64(dy[i]) * gradRefs[a](float64(x[i]))
						e := math.Abs(float64(dx[i]) - want)
						worst = math.Max(worst, e)
						if e > 1e-6+3e-7*math.Abs(want) {
							t.Fatalf("n=%d x=%g dy=%g: dx=%g want %g", n, x[i], dy[i], dx[i], want)
						}
					}
					// dx may alias dy.
					alias := append([]float32(nil), dy...)
					ActivateBackward(a, alias, x, alias)
					for i := range alias {
						if alias[i] != dx[i] {
							t.Fatalf("n=%d: in-place result differs at %d", n, i)
						}
					}
				}
				t.Logf("max abs error %.3g", worst)
			})
		})
	}
}

func TestActivateBackwardSpecials(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		for a := Identity; a <= Mish; a++ {
			x := []float32{nan32(), inf32(-1), inf32(1), -1e30, 1e30}
			dy := []float32{1, 1, 1, 1, 1}
			dx := make([]float32, len(x))
			ActivateBackward(a, dx, x, dy)
			if a != ReLU && a != Identity && dx[0] == dx[0] {
				t.Errorf("%v: grad at NaN = %g, want NaN", a, dx[0])
			}
			for i, v := range dx[1:] {
				if v != v {
					t.Errorf("%v: grad at %g is NaN", a, x[i+1])
				}
			}
		}
	})
}

// SoftmaxBackward vs float64: measured max |err| 3e-8.
func TestSoftmaxBackward(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(19, 20))
		for _, n := range testLengths {
			y := randSlice(r, n, -2, 2)
			Softmax(y)
			dy := randSlice(r, n, -1, 1)
			dx, check := guarded(n)
			SoftmaxBackward(dx, y, dy)
			check(t)
			var d float64
			for i := range y {
				d += float64(y[i]) * float64(dy[i])
			}
			for i := range y {
				want := float64(y[i]) * (float64(dy[i]) - d)
				if math.Abs(float64(dx[i])-want) > 2e-7 {
					t.Fatalf("n=%d i=%d: %g want %g", n, i, dx[i], want)
				}
			}
		}
	})
}

func refLayerNormBackward(x, dy, gamma []float32, eps float64) (dx, dgamma, dbeta []float64) {
	n := float64(len(x))
	var s float64
	for _, v := range x {
		s += float64(v)
	}
	mean := s / n
	var ss float64
	for _, v := range x {
		ss += (float64(v) - mean) * (float64(v) - mean)
	}
	rstd := 1 / math.Sqrt(ss/n+eps)
	var sg, sgx float64
	xh := make([]float64, len(x))
	for i, v := range x {
		xh[i] = (float64(v) - mean) * rstd
		g := float64(dy[i]) * float64(gamma[i])
		sg += g
		sgx += g * xh[i]
	}
	dx = make([]float64, len(x))
	dgamma = make([]float64, len(x))
	dbeta = make([]float64, len(x))
	for i := range x {
		g := float64(dy[i]) * float64(gamma[i])
		dx[i] = rstd * (g - sg/n - xh[i]*sgx/n)
		dgamma[i] = float64(dy[i]) * xh[i]
		dbeta[i] = float64(dy[i])
	}
	return
}

// The reference LayerNorm gradient agrees with finite differences of
// Σ dy·LayerNorm(x) in float64.
func TestLayerNormBackwardRefFiniteDifferences(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	x := randSlice(r, 9, -2, 2)
	dy := randSlice(r, 9, -1, 1)
	gamma := randSlice(r, 9, 0.5, 1.5)
	zero := make([]float32, 9)
	dx, _, _ := refLayerNormBackward(x, dy, gamma, 1e-5)
	loss := func(xs []float64) float64 {
		x32 := make([]float32, len(xs))
		for i := range xs {
			x32[i] = float32(xs[i])
		}
		// refLayerNorm works on float32 inputs; use a float64 copy instead.
		n := float64(len(xs))
		var s float64
		for _, v := range xs {
			s += v
		}
		m := s / n
		var ss float64
		for _, v := range xs {
			ss += (v - m) * (v - m)
		}
		rstd := 1 / math.Sqrt(ss/n+1e-5)
		var l float64
		for i, v := range xs {
			l += float64(dy[i]) * ((v-m)*rstd*float64(gamma[i]) + float64(zero[i]))
		}
		return l
	}
	for i := range x {
		xp := make([]float64, len(x))
		for j := range x {
			xp[j] = float64(x[j])
		}
		const h = 1e-6
		xp[i] += h
		lp := loss(xp)
		xp[i] -= 2 * h
		lm := loss(xp)
		if num := (lp - lm) / (2 * h); math.Abs(num-dx[i]) > 1e-6 {
			t.Errorf("dx[%d]: formula %g, finite difference %g", i, dx[i], num)
		}
	}
}

// LayerNormBackward vs float64: measured max |err| of dx ~3e-7 (avx2) on
// zero-mean rows; dgamma/dbeta accumulate over rows.
func TestLayerNormBackward(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(23, 24))
		var worst float64
		for _, cols := range []int{1, 3, 7, 8, 17, 33, 64, 65, 384, 768} {
			for _, withBeta := range []bool{true, false} {
				rows := 3
				x := randSlice(r, rows*cols, -2, 2)
				dy := randSlice(r, rows*cols, -1, 1)
				gamma := randSlice(r, cols, 0.5, 1.5)
				dgamma := randSlice(r, cols, -1, 1)
				dgamma0 := append([]float32(nil), dgamma...)
				var dbeta, dbeta0 []float32
				if withBeta {
					dbeta = randSlice(r, cols, -1, 1)
					dbeta0 = append([]float32(nil), dbeta...)
				}
				dx, check := guarded(rows * cols)
				LayerNormBackward(dx, dgamma, dbeta, x, dy, gamma, cols, 1e-5)
				check(t)
				wantDG := make([]float64, cols)
				wantDB := make([]float64, cols)
				for i := range wantDG {
					wantDG[i] = float64(dgamma0[i])
					if withBeta {
						wantDB[i] = float64(dbeta0[i])
					}
				}
				for row := 0; row < rows; row++ {
					wdx, wdg, wdb := refLayerNormBackward(x[row*cols:(row+1)*cols], dy[row*cols:(row+1)*cols], gamma, 1e-5)
					for i := range wdx {
						e := math.Abs(float64(dx[row*cols+i]) - wdx[i])
						worst = math.Max(worst, e)
						if e > 2e-6*math.Max(1, math.Abs(wdx[i])) {
							t.Fatalf("cols=%d row=%d i=%d: dx %g want %g", cols, row, i, dx[row*cols+i], wdx[i])
						}
						wantDG[i] += wdg[i]
						wantDB[i] += wdb[i]
					}
				}
				for i := range wantDG {
					if math.Abs(float64(dgamma[i])-wantDG[i]) > 2e-6 {
						t.Fatalf("cols=%d dgamma[%d] = %g want %g", cols, i, dgamma[i], wantDG[i])
					}
					if withBeta && math.Abs(float64(dbeta[i])-wantDB[i]) > 2e-6 {
						t.Fatalf("cols=%d dbeta[%d] = %g want %g", cols, i, dbeta[i], wantDB[i])
					}
				}
			}
		}
		t.Logf("max abs error of dx %.3g", worst)
	})
}
