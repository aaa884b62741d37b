package kernels

import (
	"fmt"
	"math"
)

// Every exported kernel below works on float32 slices, never allocates, and
// runs on the calling goroutine (callers split rows over bioencoder/parallel).
// It dispatches on Active() at each call. Length mismatches are programming
// errors and panic with a message naming the function, as out-of-range
// indexing would (the assembly does no bounds checks of its own).
//
// Accuracy against float64, as measured by the tests on the AVX2 path (the
// portable path evaluates in float64 and is within ~0.5 ulp): Exp 0.96 ulp,
// SigmoidVec 2.3 ulp, TanhVec 4.8 ulp (worst just below 1, at |x|≈8.3);
// erf-GELU 1.0e-6 absolute on [-10, 10] (worst near x≈-5.7, where the float32
// erf is a few ulp from -1 and GELU scales that by x/2; outputs near ±10
// carry their own rounding of 4.8e-7), tanh-GELU 5e-7, SiLU/QuickGELU/Mish
// ≤ 1.1e-6 including that rounding; Softmax rows 9e-8; LayerNorm 4.3e-7 on
// zero-mean rows. See accuracy_test.go and ops_test.go.

func lenPanic(fn, a string, na int, b string, nb int) {
	panic(fmt.Sprintf("kernels.%s: len(%s)=%d does not match len(%s)=%d", fn, a, na, b, nb))
}

func check2(fn string, dst, src []float32) {
	if len(dst) != len(src) {
		lenPanic(fn, "dst", len(dst), "src", len(src))
	}
}

func checkRows(fn string, n, cols int) int {
	if cols <= 0 || n%cols != 0 {
		panic(fmt.Sprintf("kernels.%s: length %d is not a multiple of cols=%d", fn, n, cols))
	}
	return n / cols
}

// ---- unary maps (internal dispatch; lengths already checked) ----

func vexp(dst, src []float32) {
	if len(src) == 0 {
		return
	}
	switch active {
	case AVX512:
		expAVX512(&dst[0], &src[0], len(src))
	case AVX2:
		expAVX2(&dst[0], &src[0], len(src))
	default:
		expGeneric(dst, src)
	}
}

func vsigmoid(dst, src []float32) {
	if len(src) == 0 {
		return
	}
	switch active {
	case AVX512:
		sigmoidAVX512(&dst[0], &src[0], len(src))
	case AVX2:
		sigmoidAVX2(&dst[0], &src[0], len(src))
	default:
		sigmoidGeneric(dst, src)
	}
}

func vtanh(dst, src []float32) {
	if len(src) == 0 {
		return
	}
	switch active {
	case AVX512:
		tanhAVX512(&dst[0], &src[0], len(src))
	case AVX2:
		tanhAVX2(&dst[0], &src[0], len(src))
	default:
		tanhGeneric(dst, src)
	}
}

func vgelu(dst, src []float32) {
	if len(src) == 0 {
		return
	}
	switch active {
	case AVX512:
		geluAVX512(&dst[0], &src[0], len(src))
	case AVX2:
		geluAVX2(&dst[0], &src[0], len(src))
	default:
		geluGeneric(dst, src)
	}
}

func vgeluTanh(dst, src []float32) {
	if len(src) == 0 {
		return
	}
	switch active {
	case AVX512:
		geluTanhAVX512(&dst[0], &src[0], len(src))
	case AVX2:
		geluTanhAVX2(&dst[0], &src[0], len(src))
	default:
		geluTanhGeneric(dst, src)
	}
}

func vsilu(dst, src []float32, alpha float32) {
	if len(src) == 0 {
		return
	}
	switch active {
	case AVX512:
		siluAVX512(&dst[0], &src[0], len(src), alpha)
	case AVX2:
		siluAVX2(&dst[0], &src[0], len(src), alpha)
	default:
		siluGeneric(dst, src, alpha)
	}
}

func vrelu(dst, src []float32) {
	if len(src) == 0 {
		return
	}
	switch active {
	case AVX512:
		reluAVX512(&dst[0], &src[0], len(src))
	case AVX2:
		reluAVX2(&dst[0], &src[0], len(src))
	default:
		reluGeneric(dst, src)
	}
}

// ---- exported element-wise API ----

// Activate applies activation a to x in place, with the semantics of the
// Hugging Face / PyTorch function of the same name (ENCODERS.md §0):
//
//   - GELU: exact 0.5·x·(1+erf(x/√2)); GELU10: the same clipped to [-10, 10].
//   - GELUTanh and GELUFast: 0.5·x·(1+tanh(√(2/π)(x+0.044715x³))), computed as
//     the identical x·sigmoid(2√(2/π)(x+0.044715x³)) (the two constants of
//     gelu_fast and gelu_new agree in float32).
//   - QuickGELU: x·sigmoid(1.702x); SiLU: x·sigmoid(x); Mish: x·tanh(softplus(x)).
//   - ReLU: max(x, 0) (NaN stays NaN); Tanh; Sigmoid; Identity does nothing.
//
// NaN inputs give NaN. At -Inf the GELU family and SiLU give -0, their limit,
// where the textbook formula would give NaN (-Inf·0); at +Inf they give +Inf.
// An Act outside the enum panics.
func Activate(a Act, x []float32) {
	switch a {
	case Identity:
	case GELU:
		vgelu(x, x)
	case GELU10:
		vgelu(x, x)
		for i, v := range x {
			if v > gelu10Max {
				x[i] = gelu10Max
			} else if v < -gelu10Max {
				x[i] = -gelu10Max
			}
		}
	case GELUTanh, GELUFast:
		vgeluTanh(x, x)
	case QuickGELU:
		vsilu(x, x, quickGELUAlpha)
	case SiLU:
		vsilu(x, x, 1)
	case ReLU:
		vrelu(x, x)
	case Tanh:
		vtanh(x, x)
	case Sigmoid:
		vsigmoid(x, x)
	case Mish:
		mish(x)
	default:
		panic(fmt.Sprintf("kernels.Activate: unknown activation %v", a))
	}
}

// chunk is the stack buffer size for activations composed of several passes.
const chunk = 256

// mish = x·m/(m+2) with m = e^x(e^x+2), which is x·tanh(log1p(e^x)); for
// x > 20 it is x (as PyTorch, whose tanh rounds to 1 there).
func mish(x []float32) {
	var buf [chunk]float32
	for off := 0; off < len(x); off += chunk {
		xs := x[off:min(off+chunk, len(x))]
		e := buf[:len(xs)]
		vexp(e, xs)
		for i, v := range xs {
			if v > 20 {
				continue
			}
			m := e[i] * (e[i] + 2)
			xs[i] = max(v, -1e30) * (m / (m + 2)) // -Inf gives -0, the limit
		}
	}
}

// Exp sets dst[i] = e^src[i] (dst may be src). Like expf: +Inf above
// ~88.72, 0 below ~-103.97, denormal results in between, NaN stays NaN.
func Exp(dst, src []float32) {
	check2("Exp", dst, src)
	vexp(dst, src)
}

// TanhVec sets dst[i] = tanh(src[i]) (dst may be src). It is not named Tanh
// because that name is the Act constant.
func TanhVec(dst, src []float32) {
	check2("TanhVec", dst, src)
	vtanh(dst, src)
}

// SigmoidVec sets dst[i] = 1/(1+e^-src[i]) (dst may be src). It is not named
// Sigmoid because that name is the Act constant.
func SigmoidVec(dst, src []float32) {
	check2("SigmoidVec", dst, src)
	vsigmoid(dst, src)
}

// AddBias adds bias (length cols) to every row of x (row-major, row length
// cols).
func AddBias(x []float32, cols int, bias []float32) {
	rows := checkRows("AddBias", len(x), cols)
	if len(bias) != cols {
		lenPanic("AddBias", "bias", len(bias), "cols", cols)
	}
	for r := 0; r < rows; r++ {
		row := x[r*cols : (r+1)*cols]
		vadd(row, row, bias)
	}
}

func vadd(dst, a, b []float32) {
	if len(dst) == 0 {
		return
	}
	switch active {
	case AVX512:
		addAVX512(&dst[0], &a[0], &b[0], len(dst))
	case AVX2:
		addAVX2(&dst[0], &a[0], &b[0], len(dst))
	default:
		addGeneric(dst, a, b)
	}
}

// Add sets dst = a + b element-wise; dst may be a or b.
func Add(dst, a, b []float32) {
	if len(a) != len(dst) {
		lenPanic("Add", "a", len(a), "dst", len(dst))
	}
	if len(b) != len(dst) {
		lenPanic("Add", "b", len(b), "dst", len(dst))
	}
	vadd(dst, a, b)
}

// AddTo sets dst += src.
func AddTo(dst, src []float32) {
	check2("AddTo", dst, src)
	vadd(dst, dst, src)
}

// Scale multiplies x by s in place.
func Scale(x []float32, s float32) {
	if len(x) == 0 {
		return
	}
	switch active {
	case AVX512:
		scaleAVX512(&x[0], len(x), s)
	case AVX2:
		scaleAVX2(&x[0], len(x), s)
	default:
		scaleGeneric(x, s)
	}
}

// Axpy sets y += alpha·x (one fused multiply-add per element on SIMD paths).
func Axpy(y []float32, alpha float32, x []float32) {
	if len(x) != len(y) {
		lenPanic("Axpy", "x", len(x), "y", len(y))
	}
	if len(x) == 0 {
		return
	}
	switch active {
	case AVX512:
		axpyAVX512(&y[0], &x[0], len(x), alpha)
	case AVX2:
		axpyAVX2(&y[0], &x[0], len(x), alpha)
	default:
		axpyGeneric(y, alpha, x)
	}
}

// Dot is Σ a[i]·b[i]. SIMD paths accumulate in float32 over several vector
// accumulators (relative error ~1e-7·√n for well-conditioned sums); the
// portable path accumulates in float64.
func Dot(a, b []float32) float32 {
	if len(a) != len(b) {
		lenPanic("Dot", "a", len(a), "b", len(b))
	}
	if len(a) == 0 {
		return 0
	}
	switch active {
	case AVX512:
		return dotAVX512(&a[0], &b[0], len(a))
	case AVX2:
		return dotAVX2(&a[0], &b[0], len(a))
	}
	return dotGeneric(a, b)
}

// Sum is Σ x[i] (accumulated as Dot is).
func Sum(x []float32) float32 {
	if len(x) == 0 {
		return 0
	}
	switch active {
	case AVX512:
		return sumAVX512(&x[0], len(x))
	case AVX2:
		return sumAVX2(&x[0], len(x))
	}
	return sumGeneric(x)
}

// Max is the largest element of x. NaN elements are skipped; an empty or
// all-NaN x gives -Inf.
func Max(x []float32) float32 {
	if len(x) == 0 {
		return float32(math.Inf(-1))
	}
	switch active {
	case AVX512:
		return maxAVX512(&x[0], len(x))
	case AVX2:
		return maxAVX2(&x[0], len(x))
	}
	return maxGeneric(x)
}

// Softmax replaces the row x with softmax(x) in float32, as PyTorch does:
// m = max(x), e_i = exp(x_i - m), x_i = e_i · (1/Σe). Entries at
// -3.4028235e38 (finfo.min masking) or -Inf get exactly 0 weight unless the
// whole row is masked, which gives a uniform row as in PyTorch. A NaN
// anywhere makes the row NaN, as does +Inf.
func Softmax(x []float32) { softmax(x, 1) }

// SoftmaxScaled replaces x with softmax(scale·x), fusing the scaling into the
// exponent: e_i = exp(fma(x_i, scale, -scale·max)). For scale <= 0 (or NaN)
// it scales first and then runs Softmax.
func SoftmaxScaled(x []float32, scale float32) {
	if !(scale > 0) {
		Scale(x, scale)
		scale = 1
	}
	softmax(x, scale)
}

func softmax(x []float32, scale float32) {
	if len(x) == 0 {
		return
	}
	var s float32
	switch active {
	case AVX512:
		m := maxAVX512(&x[0], len(x))
		s = expSumAVX512(&x[0], len(x), scale, scale*m)
		scaleAVX512(&x[0], len(x), 1/s)
	case AVX2:
		m := maxAVX2(&x[0], len(x))
		s = expSumAVX2(&x[0], len(x), scale, scale*m)
		scaleAVX2(&x[0], len(x), 1/s)
	default:
		softmaxGeneric(x, scale)
	}
}

// LayerNorm normalises each row of src (row length cols) into dst:
// y = (x-μ)/√(σ²+eps)·gamma + beta with the biased variance σ² = mean((x-μ)²),
// as torch.nn.LayerNorm. beta may be nil (no bias, as ModernBERT); dst may be
// src. The SIMD paths compute μ and then Σ(x-μ)² in two passes with float32
// vector partial sums (no E[x²]-μ² cancellation); the portable path uses
// float64. Results agree with a float64 reference to ~1e-6 relative.
func LayerNorm(dst, src []float32, cols int, gamma, beta []float32, eps float32) {
	check2("LayerNorm", dst, src)
	rows := checkRows("LayerNorm", len(src), cols)
	if len(gamma) != cols {
		lenPanic("LayerNorm", "gamma", len(gamma), "cols", cols)
	}
	if beta != nil && len(beta) != cols {
		lenPanic("LayerNorm", "beta", len(beta), "cols", cols)
	}
	p := active
	for r := 0; r < rows; r++ {
		s, d := src[r*cols:(r+1)*cols], dst[r*cols:(r+1)*cols]
		if p == Generic {
			layerNormRowGeneric(d, s, gamma, beta, eps)
			continue
		}
		mean, rstd := rowMoments(p, s, eps)
		switch {
		case p == AVX512 && beta != nil:
			lnApplyAVX512(&d[0], &s[0], &gamma[0], &beta[0], cols, mean, rstd)
		case p == AVX512:
			lnApplyNoBetaAVX512(&d[0], &s[0], &gamma[0], cols, mean, rstd)
		case beta != nil:
			lnApplyAVX2(&d[0], &s[0], &gamma[0], &beta[0], cols, mean, rstd)
		default:
			lnApplyNoBetaAVX2(&d[0], &s[0], &gamma[0], cols, mean, rstd)
		}
	}
}

// rowMoments returns the mean and 1/√(var+eps) of a non-empty row on a SIMD
// path.
func rowMoments(p Path, s []float32, eps float32) (mean, rstd float32) {
	n := float32(len(s))
	var ssd float32
	if p == AVX512 {
		mean = sumAVX512(&s[0], len(s)) / n
		ssd = sumSqDevAVX512(&s[0], len(s), mean)
	} else {
		mean = sumAVX2(&s[0], len(s)) / n
		ssd = sumSqDevAVX2(&s[0], len(s), mean)
	}
	rstd = float32(1 / math.Sqrt(float64(ssd/n+eps)))
	return mean, rstd
}

// L2Normalize divides each row of x (row length cols) by max(‖row‖₂, 1e-12),
// as sentence-transformers' Normalize (F.normalize); it multiplies by the
// reciprocal, which may differ from a division by one ulp.
func L2Normalize(x []float32, cols int) {
	rows := checkRows("L2Normalize", len(x), cols)
	for r := 0; r < rows; r++ {
		row := x[r*cols : (r+1)*cols]
		norm := float32(math.Sqrt(float64(Dot(row, row))))
		Scale(row, 1/max(norm, 1e-12))
	}
}
