package kernels

import "math"

// Portable implementations. They are the whole story off amd64 and the
// reference the SIMD paths are tested against (together with float64 maths in
// the tests). Transcendentals are evaluated in float64 with the same
// reductions and polynomial/rational fits as the SIMD kernels, so they round
// almost always correctly to float32.

func expGeneric(dst, src []float32) {
	for i, v := range src {
		dst[i] = float32(exp64(float64(v)))
	}
}

func sigmoidGeneric(dst, src []float32) {
	for i, v := range src {
		dst[i] = float32(sigmoid64(float64(v)))
	}
}

func tanhGeneric(dst, src []float32) {
	for i, v := range src {
		dst[i] = float32(tanh64(float64(v)))
	}
}

func geluGeneric(dst, src []float32) {
	for i, v := range src {
		dst[i] = float32(geluErf64(float64(v)))
	}
}

func geluTanhGeneric(dst, src []float32) {
	for i, v := range src {
		dst[i] = float32(geluTanh64(float64(v)))
	}
}

func siluGeneric(dst, src []float32, alpha float32) {
	for i, v := range src {
		dst[i] = float32(siluA64(float64(v), float64(alpha)))
	}
}

func reluGeneric(dst, src []float32) {
	for i, v := range src {
		if v < 0 {
			v = 0
		}
		dst[i] = v // NaN and -0 pass through, as with VMAXPS
	}
}

func geluGradGeneric(dx, x, dy []float32) {
	for i, v := range x {
		dx[i] = dy[i] * float32(geluErfGrad64(float64(v)))
	}
}

func addGeneric(dst, a, b []float32) {
	for i := range dst {
		dst[i] = a[i] + b[i]
	}
}

func scaleGeneric(x []float32, s float32) {
	for i := range x {
		x[i] *= s
	}
}

func axpyGeneric(y []float32, alpha float32, x []float32) {
	for i, v := range x {
		y[i] += alpha * v
	}
}

func dotGeneric(a, b []float32) float32 {
	var s float64
	for i, v := range a {
		s += float64(v) * float64(b[i])
	}
	return float32(s)
}

func sumGeneric(x []float32) float32 {
	var s float64
	for _, v := range x {
		s += float64(v)
	}
	return float32(s)
}

func maxGeneric(x []float32) float32 {
	m := float32(math.Inf(-1))
	for _, v := range x {
		if v > m {
			m = v
		}
	}
	return m
}

// softmaxGeneric computes the row in float64 from the float32 inputs
// x·scale - shift (shift = scale·max rounded to float32, as the SIMD path).
func softmaxGeneric(x []float32, scale float32) {
	m := maxGeneric(x)
	shift := float64(scale * m)
	var s float64
	for i, v := range x {
		e := float32(exp64(float64(float32(float64(v)*float64(scale) - shift))))
		x[i] = e
		s += float64(e)
	}
	inv := float32(1 / s)
	for i := range x {
		x[i] *= inv
	}
}

func layerNormRowGeneric(dst, src, gamma, beta []float32, eps float32) {
	n := float64(len(src))
	var s float64
	for _, v := range src {
		s += float64(v)
	}
	mean := s / n
	var ss float64
	for _, v := range src {
		d := float64(v) - mean
		ss += d * d
	}
	rstd := 1 / math.Sqrt(ss/n+float64(eps))
	for i, v := range src {
		y := (float64(v) - mean) * rstd * float64(gamma[i])
		if beta != nil {
			y += float64(beta[i])
		}
		dst[i] = float32(y)
	}
}
