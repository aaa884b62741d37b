package kernels

import "math"

// Coefficients shared by the portable path (evaluated in float64) and the
// SIMD paths (rounded to float32, see consts_amd64.h, which
// TestConstTableInSync regenerates and checks). They are near-minimax fits
// computed for this package (Lawson-weighted linearised rational fits in
// 30-digit arithmetic); the max relative error of each fit before rounding to
// float32 is quoted so the float32 evaluation error clearly dominates.
const (
	// exp(x) = 2^n · e^r, x = n·ln2 + r, |r| <= ln2/2, e^r ≈ Σ expC[k]·r^k
	// (degree 6, fit error 1.9e-9). Inputs are clamped to [expLo, expHi]:
	// exp(-104) rounds to 0 and exp(88.8) overflows to +Inf, as expf does.
	expLo    = -104.0
	expHi    = 88.8
	expLog2e = 1.4426950408889634
	expLn2Hi = 0.693145751953125 // 0x3f317200: n·Ln2Hi is exact for |n| < 2^11
	expLn2Lo = 1.4286068203094173e-06
	expMagic = 12582912.0 // 1.5·2^23: adding it rounds to an integer held in the low mantissa bits
	expC0    = 1.0000000005546544
	expC1    = 1.0000000363445167
	expC2    = 0.49999992074359111
	expC3    = 0.16666420072785526
	expC4    = 0.04166822635364252
	expC5    = 0.0083748240060360715
	expC6    = 0.0013836826545455308

	// erf(x/√2) ≈ x·P(x²)/Q(x²) for |x| <= geluClamp (fit error 2.2e-9
	// relative). Beyond the clamp erf(x/√2) is ±1 in float32.
	geluClamp = 5.75
	geluP0    = 0.79788456252610403
	geluP1    = 0.065485073000334907
	geluP2    = 0.0096090075520448051
	geluP3    = 0.00034075257088295645
	geluP4    = 1.6849803369593671e-5
	geluP5    = 1.0449343972334887e-7
	geluP6    = -1.4841189719439874e-10
	geluQ1    = 0.24874007719316873
	geluQ2    = 0.028499645870126165
	geluQ3    = 0.0019348765064184691
	geluQ4    = 8.193311965471182e-5
	geluQ5    = 1.9852323239978533e-6

	// tanh(x) ≈ x·P(x²)/Q(x²) for |x| <= tanhClamp (fit error 1.5e-9
	// relative); tanh is ±1 in float32 beyond.
	tanhClamp = 9.1
	tanhP0    = 0.99999999856725103
	tanhP1    = 0.13676153298362645
	tanhP2    = 0.0038636129365005338
	tanhP3    = 2.7912291749598018e-5
	tanhP4    = 3.0356198838075604e-8
	tanhP5    = -1.2033976601000264e-11
	tanhQ1    = 0.47009485244521446
	tanhQ2    = 0.02722858614098955
	tanhQ3    = 0.00039303167536208933
	tanhQ4    = 1.2807170502205302e-6

	// tanh-form GELU: 0.5·x·(1+tanh(k·(x+c·x³))) = x·sigmoid(x·(a+b·x²))
	// with a = 2k, b = 2k·c, k = √(2/π), c = 0.044715.
	geluTanhA = 1.5957691216057308
	geluTanhB = 0.07135481627159036
	// quick_gelu: x·sigmoid(1.702·x)
	quickGELUAlpha = 1.702
	// gelu_10 clips exact GELU to [-10, 10].
	gelu10Max = 10.0

	invSqrt2   = 0.70710678118654752
	invSqrt2Pi = 0.39894228040143268 // 1/√(2π)
)

// exp64 is e^x by the same reduction and polynomial as the SIMD kernels,
// evaluated in float64 so the portable path rounds (nearly) correctly.
func exp64(x float64) float64 {
	if x != x {
		return x
	}
	if x > expHi {
		return math.Inf(1)
	}
	if x < expLo {
		return 0
	}
	n := math.RoundToEven(x * expLog2e)
	r := x - n*0.6931471805599453
	p := expC6
	p = p*r + expC5
	p = p*r + expC4
	p = p*r + expC3
	p = p*r + expC2
	p = p*r + expC1
	p = p*r + expC0
	return math.Ldexp(p, int(n))
}

func exp32(x float32) float32 { return float32(exp64(float64(x))) }

// erfHalf64 is erf(x/√2) by the rational form the SIMD kernels use.
func erfHalf64(x float64) float64 {
	if x != x {
		return x
	}
	if x >= geluClamp || x <= -geluClamp {
		return math.Copysign(1, x)
	}
	u := x * x
	p := geluP6
	p = p*u + geluP5
	p = p*u + geluP4
	p = p*u + geluP3
	p = p*u + geluP2
	p = p*u + geluP1
	p = p*u + geluP0
	q := geluQ5
	q = q*u + geluQ4
	q = q*u + geluQ3
	q = q*u + geluQ2
	q = q*u + geluQ1
	q = q*u + 1
	return max(min(x*p/q, 1), -1)
}

// tanh64 is tanh by the rational form the SIMD kernels use.
func tanh64(x float64) float64 {
	if x != x {
		return x
	}
	x = max(min(x, tanhClamp), -tanhClamp)
	u := x * x
	p := tanhP5
	p = p*u + tanhP4
	p = p*u + tanhP3
	p = p*u + tanhP2
	p = p*u + tanhP1
	p = p*u + tanhP0
	q := tanhQ4
	q = q*u + tanhQ3
	q = q*u + tanhQ2
	q = q*u + tanhQ1
	q = q*u + 1
	return max(min(x*p/q, 1), -1)
}

// sigmoid64 is 1/(1+e^-x); it is 0 at -Inf and 1 at +Inf.
func sigmoid64(x float64) float64 { return 1 / (1 + exp64(-x)) }

// geluErf64 is 0.5·x·(1+erf(x/√2)). Beyond ±geluClamp erf(x/√2) is ±1 in
// float32, so the result is x or -0 there (also at ±Inf: -0 is the limit at
// -Inf, where the textbook formula gives NaN).
func geluErf64(x float64) float64 {
	switch {
	case x != x:
		return x
	case x <= -geluClamp:
		return math.Copysign(0, -1)
	case x >= geluClamp:
		return x
	}
	h := 0.5 * x
	return h + h*erfHalf64(x)
}

// geluTanh64 is x·sigmoid(x·(a+b·x²)) = 0.5·x·(1+tanh(√(2/π)(x+0.044715x³))).
func geluTanh64(x float64) float64 {
	if x != x {
		return x
	}
	x = max(x, -1e4) // -Inf -> -0 instead of NaN; the result there is 0 anyway
	return x / (1 + exp64(-x*(geluTanhA+geluTanhB*x*x)))
}

// siluA64 is x·sigmoid(α·x) (SiLU for α=1, quick_gelu for α=1.702).
func siluA64(x, alpha float64) float64 {
	if x != x {
		return x
	}
	x = max(x, -1e30)
	return x / (1 + exp64(-alpha*x))
}

// mish64 is x·tanh(softplus(x)) = x·m/(m+2) with m = e^x(e^x+2).
func mish64(x float64) float64 {
	if x != x {
		return x
	}
	if x > 20 {
		return x
	}
	e := exp64(x)
	m := e * (e + 2)
	return x * m / (m + 2)
}

// Derivatives for ActivateBackward (evaluated in float64).

func geluErfGrad64(x float64) float64 {
	if x != x {
		return x
	}
	xc := max(min(x, 20), -20) // φ(x)·x underflows to 0 well before ±20
	return 0.5*(1+erfHalf64(x)) + xc*invSqrt2Pi*exp64(-0.5*xc*xc)
}

func geluTanhGrad64(x float64) float64 {
	if x != x {
		return x
	}
	const k, c = 0.7978845608028654, 0.044715
	xc := max(min(x, 1e4), -1e4)
	t := tanh64(k * (xc + c*xc*xc*xc))
	return 0.5*(1+t) + 0.5*xc*(1-t*t)*k*(1+3*c*xc*xc)
}

func siluAGrad64(x, alpha float64) float64 {
	if x != x {
		return x
	}
	s := sigmoid64(alpha * x)
	xc := max(min(x, 1e30), -1e30)
	return s + alpha*xc*s*(1-s)
}

func mishGrad64(x float64) float64 {
	if x != x {
		return x
	}
	if x > 20 {
		return 1
	}
	e := exp64(x)
	m := e * (e + 2)
	t := m / (m + 2) // tanh(softplus(x))
	s := e / (1 + e) // sigmoid(x)
	return t + x*s*(1-t*t)
}
