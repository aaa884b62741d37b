package kernels

import (
	"strings"
	"testing"
)

// No kernel allocates, on any path (the composed activations use stack
// buffers).
func TestNoAllocs(t *testing.T) {
	const n, cols = 777, 111
	x := make([]float32, n)
	y := make([]float32, n)
	z := make([]float32, n)
	h := make([]uint16, n)
	g := make([]float32, cols)
	b := make([]float32, cols)
	for i := range x {
		x[i] = float32(i%17) - 8
		y[i] = float32(i%5) - 2
	}
	for i := range g {
		g[i] = 1
	}
	fns := map[string]func(){
		"Exp": func() { Exp(z, x) }, "TanhVec": func() { TanhVec(z, x) }, "SigmoidVec": func() { SigmoidVec(z, x) },
		"AddBias": func() { AddBias(z, cols, b) }, "Add": func() { Add(z, x, y) }, "AddTo": func() { AddTo(z, x) },
		"Scale": func() { Scale(z, 0.5) }, "Axpy": func() { Axpy(z, 0.5, x) }, "Dot": func() { _ = Dot(x, y) },
		"Sum": func() { _ = Sum(x) }, "Max": func() { _ = Max(x) },
		"Softmax": func() { copy(z, x); Softmax(z) }, "SoftmaxScaled": func() { copy(z, x); SoftmaxScaled(z, 0.125) },
		"LayerNorm": func() { LayerNorm(z, x, cols, g, b, 1e-12) }, "LayerNormNoBeta": func() { LayerNorm(z, x, cols, g, nil, 1e-5) },
		"L2Normalize": func() { copy(z, x); L2Normalize(z, cols) },
		"BF16ToF32":   func() { BF16ToF32(z, h) }, "F16ToF32": func() { F16ToF32(z, h) },
		"F32ToBF16": func() { F32ToBF16(h, x) }, "F32ToF16": func() { F32ToF16(h, x) },
		"SoftmaxBackward":   func() { SoftmaxBackward(z, x, y) },
		"LayerNormBackward": func() { LayerNormBackward(z, g, b, x, y, g, cols, 1e-5) },
	}
	for a := Identity; a <= Mish; a++ {
		fns["Activate/"+a.String()] = func() { copy(z, x); Activate(a, z) }
		fns["ActivateBackward/"+a.String()] = func() { ActivateBackward(a, z, x, y) }
	}
	forEachPath(t, func(t *testing.T) {
		for name, f := range fns {
			if allocs := testing.AllocsPerRun(20, f); allocs != 0 {
				t.Errorf("%s: %v allocations per call", name, allocs)
			}
		}
	})
}

func TestLengthMismatchPanics(t *testing.T) {
	a, b := make([]float32, 8), make([]float32, 9)
	cases := map[string]func(){
		"Exp":               func() { Exp(a, b) },
		"Add":               func() { Add(a, a, b) },
		"Axpy":              func() { Axpy(a, 1, b) },
		"Dot":               func() { Dot(a, b) },
		"AddBias":           func() { AddBias(a, 3, b[:3]) },
		"LayerNorm":         func() { LayerNorm(a, a, 4, b[:3], nil, 1e-5) },
		"L2Normalize":       func() { L2Normalize(a, 0) },
		"F16ToF32":          func() { F16ToF32(a, make([]uint16, 9)) },
		"ActivateBackward":  func() { ActivateBackward(GELU, a, b, a) },
		"SoftmaxBackward":   func() { SoftmaxBackward(a, b, a) },
		"LayerNormBackward": func() { LayerNormBackward(a, a[:4], nil, a, a, b[:3], 4, 1e-5) },
		"Activate":          func() { Activate(Act(99), a) },
	}
	for name, f := range cases {
		func() {
			defer func() {
				r := recover()
				if r == nil {
					t.Errorf("%s: no panic", name)
				} else if s, _ := r.(string); !strings.Contains(s, "kernels.") {
					t.Errorf("%s: panic %v does not name the function", name, r)
				}
			}()
			f()
		}()
	}
}
