package nn

import (
	"fmt"
	"math"

	"bioencoder/kernels"
)

// Scale returns s·x.
func (g *Graph) Scale(x *Var, s float32) *Var {
	y := g.New(x.Rows, x.Cols)
	copy(y.Data, x.Data)
	kernels.Scale(y.Data, s)
	g.record(func() {
		if y.Grad == nil || !x.needGrad {
			return
		}
		kernels.Axpy(g.grad(x), s, y.Grad)
	})
	return y
}

// Stack puts nodes with the same width one under the other.
func (g *Graph) Stack(vs ...*Var) *Var {
	if len(vs) == 1 {
		return vs[0]
	}
	rows, cols := 0, vs[0].Cols
	for _, v := range vs {
		if v.Cols != cols {
			panic("nn: Stack: widths differ")
		}
		rows += v.Rows
	}
	y := g.New(rows, cols)
	off := 0
	for _, v := range vs {
		copy(y.Data[off:], v.Data)
		off += len(v.Data)
	}
	g.record(func() {
		if y.Grad == nil {
			return
		}
		off := 0
		for _, v := range vs {
			if v.needGrad {
				kernels.AddTo(g.grad(v), y.Grad[off:off+len(v.Data)])
			}
			off += len(v.Data)
		}
	})
	return y
}

// RowDot returns ⟨a_i, b_i⟩ for each row i, as a [rows, 1] node.
func (g *Graph) RowDot(a, b *Var) *Var {
	sameShape("RowDot", a, b)
	c := a.Cols
	y := g.New(a.Rows, 1)
	for r := 0; r < a.Rows; r++ {
		y.Data[r] = kernels.Dot(a.Data[r*c:(r+1)*c], b.Data[r*c:(r+1)*c])
	}
	g.record(func() {
		if y.Grad == nil {
			return
		}
		for r := 0; r < a.Rows; r++ {
			if a.needGrad {
				kernels.Axpy(g.grad(a)[r*c:(r+1)*c], y.Grad[r], b.Data[r*c:(r+1)*c])
			}
			if b.needGrad {
				kernels.Axpy(g.grad(b)[r*c:(r+1)*c], y.Grad[r], a.Data[r*c:(r+1)*c])
			}
		}
	})
	return y
}

// KLDiv is sentence-transformers' DistillKLDivLoss on scores [B, K]:
// with q = softmax(scores/T) and p = softmax(teacher/T) per row,
// loss = T² · (1/B) · Σ_b Σ_k p·(log p − log q)  (torch KLDivLoss,
// reduction "batchmean"; terms with p = 0 count 0).
func (g *Graph) KLDiv(scores *Var, teacher []float32, temperature float64) (float64, error) {
	if len(teacher) != len(scores.Data) {
		return 0, fmt.Errorf("nn: kl-div: %d teacher scores for %d student scores", len(teacher), len(scores.Data))
	}
	B, K := scores.Rows, scores.Cols
	T := temperature
	p := make([]float64, B*K)
	q := make([]float64, B*K)
	loss := 0.0
	for r := 0; r < B; r++ {
		logSoftmax64(teacher[r*K:(r+1)*K], T, p[r*K:(r+1)*K])
		logSoftmax64(scores.Data[r*K:(r+1)*K], T, q[r*K:(r+1)*K])
		for k := 0; k < K; k++ {
			lp, lq := p[r*K+k], q[r*K+k]
			if pk := math.Exp(lp); pk > 0 {
				loss += pk * (lp - lq)
			}
		}
	}
	loss = loss * T * T / float64(B)
	scale := float64(g.lossScale())
	g.record(func() {
		if !scores.needGrad {
			return
		}
		// d/ds_k of T²/B Σ p(log p − log softmax(s/T)) = (T/B)(q_k − p_k).
		ds := g.grad(scores)
		for i := range ds {
			ds[i] += float32(scale * T / float64(B) * (math.Exp(q[i]) - math.Exp(p[i])))
		}
	})
	return loss, nil
}

// logSoftmax64 writes log softmax(x/T) in float64.
func logSoftmax64(x []float32, T float64, out []float64) {
	mx := math.Inf(-1)
	for _, v := range x {
		mx = math.Max(mx, float64(v)/T)
	}
	s := 0.0
	for _, v := range x {
		s += math.Exp(float64(v)/T - mx)
	}
	ls := math.Log(s) + mx
	for i, v := range x {
		out[i] = float64(v)/T - ls
	}
}

// Reshape views x with another shape of the same size. The data is shared;
// gradients flow back to x.
func (g *Graph) Reshape(x *Var, rows, cols int) *Var {
	if rows*cols != len(x.Data) {
		panic(fmt.Sprintf("nn: Reshape: [%d %d] to [%d %d]", x.Rows, x.Cols, rows, cols))
	}
	y := &Var{Rows: rows, Cols: cols, Data: x.Data, needGrad: x.needGrad}
	g.record(func() {
		if y.Grad != nil && x.needGrad {
			kernels.AddTo(g.grad(x), y.Grad)
		}
	})
	return y
}
