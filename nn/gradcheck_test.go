package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"bioencoder/kernels"
	"bioencoder/tensor"
)

// A finite-difference check for every op: the op's output is reduced to
// L = Σ wᵢ·outᵢ with fixed random weights; backward's gradient of every
// input (all inputs are parameters here) is compared with central
// differences of L. Computation is float32, so steps are moderate and the
// tolerance is a few percent of the gradient's scale.

type gradCase struct {
	name   string
	params map[string][]int
	build  func(g *Graph, p map[string]*Param) *Var
	scale  float64 // input magnitude (default 1)
}

// testParams is the parameter set of the case being checked (Linear needs it
// to know when to repack weights).
var testParams *Params

// in turns a parameter into a fresh node (so in-place ops cannot touch the parameter).
func in(g *Graph, p *Param) *Var {
	v := g.Param(p)
	zero := g.Input(make([]float32, len(p.W)), v.Rows, v.Cols)
	return g.Add(v, zero)
}

func testBatch() *Batch {
	// Two sequences of 5 and 3 tokens; positions count from 0.
	return &Batch{IDs: []int{1, 2, 3, 4, 5, 6, 7, 1}, Pos: []int{0, 1, 2, 3, 4, 0, 1, 2}, Starts: []int{0, 5, 8}}
}

func gradCases() []gradCase {
	lin := func(act kernels.Act, drop float32, residual, bias bool) func(g *Graph, p map[string]*Param) *Var {
		return func(g *Graph, p map[string]*Param) *Var {
			var b *Param
			if bias {
				b = p["b"]
			}
			var r *Var
			if residual {
				r = in(g, p["r"])
			}
			return g.Linear(in(g, p["x"]), NewLinear(testParams, p["w"], b), Ep{Act: act, Dropout: drop, Residual: r})
		}
	}
	cases := []gradCase{
		{name: "linear", params: map[string][]int{"x": {5, 7}, "w": {6, 7}, "b": {6}}, build: lin(kernels.Identity, 0, false, true)},
		{name: "linear+gelu+residual", params: map[string][]int{"x": {5, 7}, "w": {7, 7}, "b": {7}, "r": {5, 7}}, build: lin(kernels.GELU, 0, true, true)},
		{name: "linear+tanh, no bias", params: map[string][]int{"x": {3, 4}, "w": {5, 4}}, build: lin(kernels.Tanh, 0, false, false)},
		{name: "linear+dropout", params: map[string][]int{"x": {4, 6}, "w": {6, 6}, "b": {6}, "r": {4, 6}}, build: lin(kernels.Identity, 0.3, true, true)},
		{name: "layernorm", params: map[string][]int{"x": {4, 9}, "g": {9}, "b": {9}}, build: func(g *Graph, p map[string]*Param) *Var {
			return g.LayerNorm(in(g, p["x"]), &LayerNorm{W: p["g"], B: p["b"], Eps: 1e-5})
		}},
		{name: "layernorm no bias", params: map[string][]int{"x": {3, 8}, "g": {8}}, build: func(g *Graph, p map[string]*Param) *Var {
			return g.LayerNorm(in(g, p["x"]), &LayerNorm{W: p["g"], Eps: 1e-12})
		}},
		{name: "geglu", params: map[string][]int{"u": {4, 10}}, build: func(g *Graph, p map[string]*Param) *Var {
			return g.GeGLU(in(g, p["u"]), kernels.GELU)
		}},
		// Row 0 is the padding row: it gets no gradient by design (checked below).
		{name: "embedding", params: map[string][]int{"t": {8, 5}}, build: func(g *Graph, p map[string]*Param) *Var {
			return g.Embedding(p["t"], []int{1, 3, 3, 1, 7}, 0)
		}},
		{name: "gather", params: map[string][]int{"x": {8, 4}}, build: func(g *Graph, p map[string]*Param) *Var {
			return g.Gather(in(g, p["x"]), []int{0, 5, 5})
		}},
		{name: "meanpool", params: map[string][]int{"x": {8, 4}}, build: func(g *Graph, p map[string]*Param) *Var {
			return g.MeanPool(in(g, p["x"]), testBatch(), nil)
		}},
		{name: "pool modes", params: map[string][]int{"x": {8, 3}}, build: func(g *Graph, p map[string]*Param) *Var {
			x := in(g, p["x"])
			b := testBatch()
			mask := []bool{true, true, false, true, true, true, true, false}
			var parts []*Var
			for _, m := range []PoolMode{PoolCLS, PoolMax, PoolMean, PoolMeanSqrtLen, PoolWeightedMean, PoolLastToken} {
				parts = append(parts, g.Pool(x, b, m, mask))
			}
			return g.Concat(parts...)
		}},
		{name: "l2 normalize", params: map[string][]int{"x": {3, 6}}, build: func(g *Graph, p map[string]*Param) *Var {
			return g.L2Normalize(in(g, p["x"]))
		}},
		{name: "matmulT", params: map[string][]int{"x": {3, 5}, "w": {4, 5}, "b": {4}}, build: func(g *Graph, p map[string]*Param) *Var {
			return g.MatMulT(in(g, p["x"]), in(g, p["w"]), p["b"])
		}},
	}
	cases = append(cases,
		gradCase{name: "scale", params: map[string][]int{"x": {3, 4}}, build: func(g *Graph, p map[string]*Param) *Var {
			return g.Scale(in(g, p["x"]), 20)
		}},
		gradCase{name: "stack", params: map[string][]int{"a": {2, 3}, "b": {3, 3}}, build: func(g *Graph, p map[string]*Param) *Var {
			return g.Stack(in(g, p["a"]), in(g, p["b"]))
		}},
		gradCase{name: "maxsim all pairs", params: map[string][]int{"q": {5, 4}, "d": {7, 4}}, build: func(g *Graph, p map[string]*Param) *Var {
			return g.MaxSim(in(g, p["q"]), []int{0, 2, 5}, in(g, p["d"]), []int{0, 3, 4, 7}, nil)
		}},
		gradCase{name: "maxsim chosen columns", params: map[string][]int{"q": {5, 4}, "d": {7, 4}}, build: func(g *Graph, p map[string]*Param) *Var {
			return g.MaxSim(in(g, p["q"]), []int{0, 2, 5}, in(g, p["d"]), []int{0, 3, 4, 7}, [][]int{{0, 2}, {1, 2}})
		}},
		gradCase{name: "reshape", params: map[string][]int{"x": {4, 3}}, build: func(g *Graph, p map[string]*Param) *Var {
			return g.Act(g.Reshape(in(g, p["x"]), 2, 6), kernels.Tanh)
		}},
		gradCase{name: "minmax rows", params: map[string][]int{"x": {3, 5}}, build: func(g *Graph, p map[string]*Param) *Var {
			return g.MinMaxRows(in(g, p["x"]))
		}},
		gradCase{name: "rowdot", params: map[string][]int{"a": {4, 5}, "b": {4, 5}}, build: func(g *Graph, p map[string]*Param) *Var {
			return g.RowDot(in(g, p["a"]), in(g, p["b"]))
		}},
	)
	for _, a := range []kernels.Act{kernels.GELU, kernels.GELUTanh, kernels.SiLU, kernels.Sigmoid, kernels.Mish, kernels.QuickGELU} {
		a := a
		cases = append(cases, gradCase{name: "act " + a.String(), params: map[string][]int{"x": {3, 7}}, build: func(g *Graph, p map[string]*Param) *Var {
			return g.Act(in(g, p["x"]), a)
		}})
	}
	attn := func(window int, key []bool, rope bool, drop float32) func(g *Graph, p map[string]*Param) *Var {
		return func(g *Graph, p map[string]*Param) *Var {
			b := testBatch()
			b.Key = key
			qkv := in(g, p["qkv"])
			if rope {
				qkv = g.RopeQK(qkv, b, NewRope(10000, 4), 2)
			}
			return g.Attention(qkv, b, Attention{Heads: 2, Window: window, Dropout: drop})
		}
	}
	qkv := map[string][]int{"qkv": {8, 24}} // 8 tokens, H = 8 = 2 heads x 4
	cases = append(cases,
		gradCase{name: "attention global", params: qkv, build: attn(0, nil, false, 0)},
		gradCase{name: "attention window 1", params: qkv, build: attn(1, nil, false, 0)},
		gradCase{name: "attention with non-key tokens", params: qkv, build: attn(0, []bool{true, false, true, true, false, true, true, false}, false, 0)},
		// Token 4's window (|i-j| <= 1) holds only non-keys: it attends uniformly to its whole sequence.
		gradCase{name: "attention, a query seeing no key", params: qkv, build: attn(1, []bool{true, true, true, false, false, true, true, true}, false, 0)},
		gradCase{name: "attention + rope", params: qkv, build: attn(2, nil, true, 0)},
		gradCase{name: "attention dropout", params: qkv, build: attn(0, nil, false, 0.25)},
	)
	return cases
}

func TestGradientsMatchFiniteDifferences(t *testing.T) {
	for _, path := range kernels.Available() {
		kernels.SetPath(path)
		for _, tc := range gradCases() {
			t.Run(path.String()+"/"+tc.name, func(t *testing.T) { checkGrad(t, tc) })
		}
	}
	kernels.SetPath(kernels.Best())
}

func checkGrad(t *testing.T, tc gradCase) {
	rng := rand.New(rand.NewPCG(1, 2))
	ps := NewParams()
	names := make([]string, 0, len(tc.params))
	for name := range tc.params {
		names = append(names, name)
	}
	sortStrings(names)
	p := map[string]*Param{}
	for _, n := range names {
		p[n] = ps.Add(n, tc.params[n]...)
	}
	ps.Alloc()
	testParams = ps
	for _, n := range names {
		for i := range p[n].W {
			p[n].W[i] = float32(rng.NormFloat64())
		}
	}
	var ws tensor.Workspace
	g := NewGraph(&ws, true)
	g.Seed = 7
	var weights []float32
	loss := func() float64 {
		g.Reset()
		ps.Touch()
		out := tc.build(g, p)
		if weights == nil {
			weights = make([]float32, len(out.Data))
			for i := range weights {
				weights[i] = float32(rng.NormFloat64())
			}
		}
		s := 0.0
		for i, v := range out.Data {
			s += float64(weights[i]) * float64(v)
		}
		return s
	}
	// Analytic gradient.
	loss()
	g.Reset()
	ps.ZeroGrad()
	out := tc.build(g, p)
	g.SeedGrad(out, weights)
	g.Backward()
	grad := append([]float32(nil), ps.G...)

	const h = 1e-2
	for _, n := range names {
		pp := p[n]
		for k := 0; k < min(len(pp.W), 12); k++ {
			i := rng.IntN(len(pp.W))
			orig := pp.W[i]
			pp.W[i] = orig + h
			up := loss()
			pp.W[i] = orig - h
			down := loss()
			pp.W[i] = orig
			num := (up - down) / (2 * h)
			ana := float64(grad[pp.Offset()+i])
			if math.Abs(num-ana) > 2e-3+2e-2*math.Max(math.Abs(num), math.Abs(ana)) {
				t.Errorf("%s[%d]: backward %.6g, finite difference %.6g", n, i, ana, num)
			}
		}
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func TestCrossEntropyAndMSEGradients(t *testing.T) {
	var ws tensor.Workspace
	for _, tc := range []struct {
		name string
		loss func(g *Graph, x *Var) float64
	}{
		{"cross-entropy with ignored rows", func(g *Graph, x *Var) float64 {
			l, err := g.CrossEntropy(x, []int{2, IgnoreIndex, 0, 4})
			if err != nil {
				t.Fatal(err)
			}
			return l
		}},
		{"kl-div at T=2", func(g *Graph, x *Var) float64 {
			teacher := make([]float32, len(x.Data))
			for i := range teacher {
				teacher[i] = float32(math.Cos(float64(3 * i)))
			}
			l, err := g.KLDiv(x, teacher, 2)
			if err != nil {
				t.Fatal(err)
			}
			return l
		}},
		{"bce with logits", func(g *Graph, x *Var) float64 {
			target := make([]float32, len(x.Data))
			for i := range target {
				target[i] = float32(i%2) * 0.9
			}
			l, err := g.BCEWithLogits(x, target)
			if err != nil {
				t.Fatal(err)
			}
			return l
		}},
		{"mse", func(g *Graph, x *Var) float64 {
			target := make([]float32, len(x.Data))
			for i := range target {
				target[i] = float32(i%3) - 1
			}
			l, err := g.MSE(x, target)
			if err != nil {
				t.Fatal(err)
			}
			return l
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := NewParams()
			p := ps.Add("x", 4, 5)
			ps.Alloc()
			for i := range p.W {
				p.W[i] = float32(math.Sin(float64(i)))
			}
			g := NewGraph(&ws, true)
			tc.loss(g, g.Param(p))
			g.Backward()
			for i := range p.W {
				orig := p.W[i]
				p.W[i] = orig + 1e-2
				g.Reset()
				up := tc.loss(g, g.Param(p))
				p.W[i] = orig - 1e-2
				g.Reset()
				down := tc.loss(g, g.Param(p))
				p.W[i] = orig
				num := (up - down) / 2e-2
				if math.Abs(num-float64(p.G[i])) > 1e-3+1e-2*math.Abs(num) {
					t.Errorf("x[%d]: backward %.6g, finite difference %.6g", i, p.G[i], num)
				}
			}
			g.Reset()
		})
	}
}

func TestEmbeddingPaddingRowGetsNoGradient(t *testing.T) {
	var ws tensor.Workspace
	ps := NewParams()
	table := ps.Add("t", 4, 3)
	ps.Alloc()
	g := NewGraph(&ws, true)
	y := g.Embedding(table, []int{0, 2, 0}, 0)
	g.SeedGrad(y, []float32{1, 1, 1, 2, 2, 2, 3, 3, 3})
	g.Backward()
	want := []float32{0, 0, 0, 0, 0, 0, 2, 2, 2, 0, 0, 0}
	for i := range want {
		if table.G[i] != want[i] {
			t.Fatalf("grad %v, want %v", table.G, want)
		}
	}
}
