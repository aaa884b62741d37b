package nn

import (
	"fmt"
	"sync"

	"bioencoder/gemm"
	"bioencoder/kernels"
	"bioencoder/parallel"
)

// Linear is a PyTorch nn.Linear: y = x·Wᵀ + b with W [out, in] and b [out]
// or nil. For inference it keeps W packed for the GEMM micro-kernels and
// repacks when the parameters change.
type Linear struct {
	W, B *Param
	ps   *Params

	mu      sync.Mutex
	packed  *gemm.Packed
	version uint64
}

// NewLinear wraps a weight (and optional bias) of ps.
func NewLinear(ps *Params, w, b *Param) *Linear { return &Linear{W: w, B: b, ps: ps} }

// Out and In are the output and input sizes.
func (l *Linear) Out() int { return l.W.Shape[0] }
func (l *Linear) In() int  { return l.W.Shape[1] }

func (l *Linear) pack() *gemm.Packed {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.packed == nil || l.version != l.ps.Version() {
		l.packed = gemm.Pack(l.W.W, l.Out(), l.In())
		l.version = l.ps.Version()
	}
	return l.packed
}

func (l *Linear) bias() []float32 {
	if l.B == nil {
		return nil
	}
	return l.B.W
}

// Ep is what follows the matrix product in a dense sub-layer:
// y = dropout(act(x·Wᵀ + b)) + residual. Zero values mean none.
type Ep struct {
	Act      kernels.Act
	Dropout  float32 // training only
	Residual *Var
}

// Linear computes dropout(act(x·Wᵀ + b)) + residual. At inference the bias,
// activation and residual are fused into the GEMM's write-back; when
// training the pre-activation is kept for backward.
func (g *Graph) Linear(x *Var, l *Linear, ep Ep) *Var {
	if x.Cols != l.In() {
		panic(fmt.Sprintf("nn: Linear %s takes %d inputs, got %d", l.W.Name, l.In(), x.Cols))
	}
	var res []float32
	if ep.Residual != nil {
		res = ep.Residual.Data
	}
	if !g.train {
		y := g.New(x.Rows, l.Out())
		gemm.Linear(y.Data, x.Data, x.Rows, l.pack(), gemm.Epilogue{Bias: l.bias(), Act: ep.Act, Residual: res})
		return y
	}
	// Training composes the same steps as separate ops so each keeps what its
	// backward needs (u = x·Wᵀ + b for the activation's derivative).
	u := g.New(x.Rows, l.Out())
	gemm.Linear(u.Data, x.Data, x.Rows, l.pack(), gemm.Epilogue{Bias: l.bias()})
	g.record(func() {
		if u.Grad == nil {
			return
		}
		linearBackward(g, x, l, u.Grad)
	})
	y := g.Act(u, ep.Act)
	y = g.Dropout(y, ep.Dropout)
	if ep.Residual != nil {
		y = g.Add(y, ep.Residual)
	}
	return y
}

// linearBackward accumulates dW += duᵀ·x, db += Σ du, dx += du·W.
func linearBackward(g *Graph, x *Var, l *Linear, du []float32) {
	m, n, k := x.Rows, l.Out(), l.In()
	gemm.Gemm(true, false, n, k, m, 1, du, n, x.Data, k, 1, l.W.G, k)
	if l.B != nil {
		colSums(l.B.G, du, m, n)
	}
	if x.needGrad {
		gemm.Gemm(false, false, m, k, n, 1, du, n, l.W.W, k, 1, g.grad(x), k)
	}
}

// colSums adds the column sums of a [rows, cols] matrix to dst, split by
// column ranges so workers never share an output.
func colSums(dst, a []float32, rows, cols int) {
	parallel.For(cols, 64, func(lo, hi int) {
		d := dst[lo:hi]
		for r := 0; r < rows; r++ {
			kernels.AddTo(d, a[r*cols+lo:r*cols+hi])
		}
	})
}
