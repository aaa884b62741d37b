package nn

import (
	"bioencoder/gemm"
	"bioencoder/kernels"
)

// MatMulT computes x·wᵀ (+ bias) where w is itself a graph node, e.g. the
// effective word-embedding matrix of BERT-Hash that its tied MLM decoder
// multiplies by. bias may be nil.
func (g *Graph) MatMulT(x, w *Var, bias *Param) *Var {
	m, n, k := x.Rows, w.Rows, x.Cols
	if w.Cols != k {
		panic("nn: MatMulT: inner dimensions differ")
	}
	y := g.New(m, n)
	gemm.Gemm(false, true, m, n, k, 1, x.Data, k, w.Data, k, 0, y.Data, n)
	if bias != nil {
		for r := 0; r < m; r++ {
			kernels.AddTo(y.Data[r*n:(r+1)*n], bias.W)
		}
	}
	g.record(func() {
		if y.Grad == nil {
			return
		}
		if bias != nil {
			colSums(bias.G, y.Grad, m, n)
		}
		if w.needGrad {
			gemm.Gemm(true, false, n, k, m, 1, y.Grad, n, x.Data, k, 1, g.grad(w), k)
		}
		if x.needGrad {
			gemm.Gemm(false, false, m, k, n, 1, y.Grad, n, w.Data, k, 1, g.grad(x), k)
		}
	})
	return y
}
