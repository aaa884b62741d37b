package kernels

import (
	"fmt"
	"math"
)

// ActivateBackward sets dx[i] = dy[i]·act'(x[i]) for activation a, where x is
// the activation's input (the pre-activation) and dy the gradient of its
// output. dx may be dy or x. Derivatives follow PyTorch's backward formulas:
//
//   - GELU: Φ(x) + x·φ(x); GELU10: the same where GELU(x) <= 10, else 0
//     (torch.clip passes the gradient at the bounds).
//   - GELUTanh/GELUFast: with t = tanh(k(x+c·x³)), k = √(2/π), c = 0.044715:
//     0.5(1+t) + 0.5·x·(1-t²)·k·(1+3c·x²).
//   - QuickGELU/SiLU (α = 1.702 / 1): s + α·x·s(1-s), s = sigmoid(αx).
//   - ReLU: 1 where x > 0, else 0. Tanh: 1-tanh²(x). Sigmoid: s(1-s).
//   - Mish: t + x·sigmoid(x)·(1-t²), t = tanh(softplus(x)). Identity: 1.
func ActivateBackward(a Act, dx, x, dy []float32) {
	if len(x) != len(dx) {
		lenPanic("ActivateBackward", "x", len(x), "dx", len(dx))
	}
	if len(dy) != len(dx) {
		lenPanic("ActivateBackward", "dy", len(dy), "dx", len(dx))
	}
	if len(x) == 0 {
		return
	}
	switch a {
	case Identity:
		copy(dx, dy)
	case GELU, GELU10:
		switch active {
		case AVX512:
			geluGradAVX512(&dx[0], &x[0], &dy[0], len(x))
		case AVX2:
			geluGradAVX2(&dx[0], &x[0], &dy[0], len(x))
		default:
			geluGradGeneric(dx, x, dy)
		}
		if a == GELU10 {
			for i, v := range x {
				if v > gelu10Max { // GELU(x) = x there
					dx[i] = 0
				}
			}
		}
	case GELUTanh, GELUFast:
		geluTanhBackward(dx, x, dy)
	case QuickGELU:
		siluBackward(dx, x, dy, quickGELUAlpha)
	case SiLU:
		siluBackward(dx, x, dy, 1)
	case ReLU:
		for i, v := range x {
			if v > 0 {
				dx[i] = dy[i]
			} else {
				dx[i] = 0
			}
		}
	case Tanh:
		expBackward(dx, x, dy, 2, func(v, e float32) float32 {
			return 4 * e / ((1 + e) * (1 + e)) // 1-tanh²(v), e = exp(-2|v|)
		})
	case Sigmoid:
		expBackward(dx, x, dy, 1, func(v, e float32) float32 {
			return e / ((1 + e) * (1 + e)) // s(1-s), e = exp(-|v|)
		})
	case Mish:
		mishBackward(dx, x, dy)
	default:
		panic(fmt.Sprintf("kernels.ActivateBackward: unknown activation %v", a))
	}
}

func clampf(v, lo, hi float32) float32 { return max(min(v, hi), lo) }

// expBackward sets dx = dy·d(v, e) with e = exp(-a·|v|) from the vector
// exp. Derivatives written in e (which is <= 1) avoid the cancellation of
// forms such as 1-tanh² or 1-sigmoid near saturation.
func expBackward(dx, x, dy []float32, a float32, d func(v, e float32) float32) {
	var buf [chunk]float32
	for off := 0; off < len(x); off += chunk {
		xs := x[off:min(off+chunk, len(x))]
		e := buf[:len(xs)]
		for i, v := range xs {
			e[i] = -a * abs32(v)
		}
		vexp(e, e)
		for i, v := range xs {
			dx[off+i] = dy[off+i] * d(v, e[i])
		}
	}
}

func abs32(v float32) float32 { return math.Float32frombits(math.Float32bits(v) &^ (1 << 31)) }

// geluTanhBackward: with z = k(x+c·x³) and e = exp(-2|z|),
// 0.5(1+tanh z) = 1/(1+e) (z >= 0) or e/(1+e) (z < 0), 1-tanh²z = 4e/(1+e)².
func geluTanhBackward(dx, x, dy []float32) {
	const k, c = 0.7978845608028654, 0.044715
	var buf [chunk]float32
	for off := 0; off < len(x); off += chunk {
		xs := x[off:min(off+chunk, len(x))]
		e := buf[:len(xs)]
		for i, v := range xs {
			v = clampf(v, -1e4, 1e4)
			e[i] = -2 * abs32(k*(v+c*v*v*v))
		}
		vexp(e, e)
		for i, v := range xs {
			v = clampf(v, -1e4, 1e4) // NaN stays NaN through e
			ei := e[i]
			inv := 1 / (1 + ei)
			phi := inv
			if v < 0 {
				phi = ei * inv
			}
			d := phi + 0.5*v*(4*ei*inv*inv)*k*(1+3*c*v*v)
			dx[off+i] = dy[off+i] * d
		}
	}
}

// siluBackward: s + α·x·s(1-s) with s = sigmoid(αx) and s(1-s) = e/(1+e)²,
// e = exp(-α|x|).
func siluBackward(dx, x, dy []float32, alpha float32) {
	var buf [chunk]float32
	for off := 0; off < len(x); off += chunk {
		xs := x[off:min(off+chunk, len(x))]
		e := buf[:len(xs)]
		for i, v := range xs {
			e[i] = -alpha * abs32(v)
		}
		vexp(e, e)
		for i, v := range xs {
			ei := e[i]
			inv := 1 / (1 + ei)
			s := inv
			if v < 0 {
				s = ei * inv
			}
			v = clampf(v, -1e30, 1e30)
			dx[off+i] = dy[off+i] * (s + alpha*v*ei*inv*inv)
		}
	}
}

// mishBackward: with e = exp(x), m = e(e+2): t = tanh(softplus(x)) = m/(m+2),
// 1-t² = 4(m+1)/(m+2)², sigmoid(x) = e/(1+e); the gradient is
// t + x·sigmoid(x)·(1-t²), and 1 for x > 20.
func mishBackward(dx, x, dy []float32) {
	var buf [chunk]float32
	for off := 0; off < len(x); off += chunk {
		xs := x[off:min(off+chunk, len(x))]
		e := buf[:len(xs)]
		vexp(e, xs)
		for i, v := range xs {
			d := float32(1)
			if v != v {
				d = v
			} else if v <= 20 {
				ei := e[i]
				m := ei * (ei + 2)
				m2 := m + 2
				t := m / m2
				s := ei / (1 + ei)
				d = t + max(v, -1e30)*s*(4*(m+1)/(m2*m2))
			}
			dx[off+i] = dy[off+i] * d
		}
	}
}

// SoftmaxBackward sets dx = y⊙(dy − ⟨dy, y⟩) for one row, where y is the
// softmax output and dy the gradient of it. dx may be dy.
func SoftmaxBackward(dx, y, dy []float32) {
	if len(y) != len(dx) {
		lenPanic("SoftmaxBackward", "y", len(y), "dx", len(dx))
	}
	if len(dy) != len(dx) {
		lenPanic("SoftmaxBackward", "dy", len(dy), "dx", len(dx))
	}
	if len(y) == 0 {
		return
	}
	d := Dot(dy, y)
	switch active {
	case AVX512:
		mulSubAVX512(&dx[0], &y[0], &dy[0], len(y), d)
	case AVX2:
		mulSubAVX2(&dx[0], &y[0], &dy[0], len(y), d)
	default:
		for i, v := range y {
			dx[i] = v * (dy[i] - d)
		}
	}
}

// LayerNormBackward is the gradient of LayerNorm(·, cols, gamma, beta, eps)
// over all rows of x: with x̂ = (x−μ)·rstd (μ and rstd recomputed from x as
// in the forward pass) and g = dy⊙gamma,
//
//	dx     = rstd·(g − mean(g) − x̂·mean(g⊙x̂))   (written, not accumulated)
//	dgamma += Σ_rows dy⊙x̂
//	dbeta  += Σ_rows dy                          (skipped when dbeta is nil)
//
// dx may be dy or x. gamma and dgamma have length cols.
func LayerNormBackward(dx, dgamma, dbeta, x, dy, gamma []float32, cols int, eps float32) {
	if len(x) != len(dx) {
		lenPanic("LayerNormBackward", "x", len(x), "dx", len(dx))
	}
	if len(dy) != len(dx) {
		lenPanic("LayerNormBackward", "dy", len(dy), "dx", len(dx))
	}
	rows := checkRows("LayerNormBackward", len(x), cols)
	if len(gamma) != cols {
		lenPanic("LayerNormBackward", "gamma", len(gamma), "cols", cols)
	}
	if len(dgamma) != cols {
		lenPanic("LayerNormBackward", "dgamma", len(dgamma), "cols", cols)
	}
	if dbeta != nil && len(dbeta) != cols {
		lenPanic("LayerNormBackward", "dbeta", len(dbeta), "cols", cols)
	}
	p := active
	n := float32(cols)
	for r := 0; r < rows; r++ {
		xs, dys, dxs := x[r*cols:(r+1)*cols], dy[r*cols:(r+1)*cols], dx[r*cols:(r+1)*cols]
		if p == Generic {
			layerNormBackwardRowGeneric(dxs, dgamma, dbeta, xs, dys, gamma, eps)
			continue
		}
		mean, rstd := rowMoments(p, xs, eps)
		if dbeta != nil {
			vadd(dbeta, dbeta, dys)
		}
		if p == AVX512 {
			sg, sgx := lnBwdReduceAVX512(&xs[0], &dys[0], &gamma[0], &dgamma[0], cols, mean, rstd)
			lnBwdApplyAVX512(&dxs[0], &xs[0], &dys[0], &gamma[0], cols, mean, rstd, sg/n, sgx/n)
		} else {
			sg, sgx := lnBwdReduceAVX2(&xs[0], &dys[0], &gamma[0], &dgamma[0], cols, mean, rstd)
			lnBwdApplyAVX2(&dxs[0], &xs[0], &dys[0], &gamma[0], cols, mean, rstd, sg/n, sgx/n)
		}
	}
}

func layerNormBackwardRowGeneric(dx, dgamma, dbeta, x, dy, gamma []float32, eps float32) {
	n := float64(len(x))
	var s float64
	for _, v := range x {
		s += float64(v)
	}
	mean := s / n
	var ss float64
	for _, v := range x {
		d := float64(v) - mean
		ss += d * d
	}
	rstd := 1 / math.Sqrt(ss/n+float64(eps))
	var sg, sgx float64
	for i, v := range x {
		xh := (float64(v) - mean) * rstd
		g := float64(dy[i]) * float64(gamma[i])
		sg += g
		sgx += g * xh
		dgamma[i] += float32(float64(dy[i]) * xh)
		if dbeta != nil {
			dbeta[i] += dy[i]
		}
	}
	a, b := sg/n, sgx/n
	for i, v := range x {
		xh := (float64(v) - mean) * rstd
		g := float64(dy[i]) * float64(gamma[i])
		dx[i] = float32(rstd * (g - a - xh*b))
	}
}
