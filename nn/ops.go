package nn

import (
	"fmt"

	"bioencoder/kernels"
	"bioencoder/parallel"
)

// Embedding gathers rows of table [V, H] for ids. As with PyTorch's
// nn.Embedding(padding_idx), the row padIdx gets no gradient from the lookup
// (padIdx < 0: none). Callers validate ids first (Batch.Validate).
func (g *Graph) Embedding(table *Param, ids []int, padIdx int) *Var {
	h := table.Shape[1]
	y := g.New(len(ids), h)
	parallel.For(len(ids), 256, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			copy(y.Data[t*h:(t+1)*h], table.W[ids[t]*h:(ids[t]+1)*h])
		}
	})
	g.record(func() {
		if y.Grad == nil {
			return
		}
		// Serial: several tokens may share a row, and the tables are small
		// next to the encoder's work.
		for t, id := range ids {
			if id == padIdx {
				continue
			}
			kernels.AddTo(table.G[id*h:(id+1)*h], y.Grad[t*h:(t+1)*h])
		}
	})
	return y
}

// Add returns a + b.
func (g *Graph) Add(a, b *Var) *Var {
	sameShape("Add", a, b)
	y := g.New(a.Rows, a.Cols)
	kernels.Add(y.Data, a.Data, b.Data)
	g.record(func() {
		if y.Grad == nil {
			return
		}
		if a.needGrad {
			kernels.AddTo(g.grad(a), y.Grad)
		}
		if b.needGrad {
			kernels.AddTo(g.grad(b), y.Grad)
		}
	})
	return y
}

func sameShape(op string, a, b *Var) {
	if a.Rows != b.Rows || a.Cols != b.Cols {
		panic(fmt.Sprintf("nn: %s: shapes [%d %d] and [%d %d] differ", op, a.Rows, a.Cols, b.Rows, b.Cols))
	}
}

// LayerNorm is torch's LayerNorm over the last dimension; B may be nil (no bias).
type LayerNorm struct {
	W, B *Param
	Eps  float32
}

// LayerNorm normalises every row of x.
func (g *Graph) LayerNorm(x *Var, ln *LayerNorm) *Var {
	y := g.New(x.Rows, x.Cols)
	var beta []float32
	if ln.B != nil {
		beta = ln.B.W
	}
	cols := x.Cols
	parallel.For(x.Rows, 64, func(lo, hi int) {
		kernels.LayerNorm(y.Data[lo*cols:hi*cols], x.Data[lo*cols:hi*cols], cols, ln.W.W, beta, ln.Eps)
	})
	g.record(func() {
		if y.Grad == nil {
			return
		}
		layerNormBackward(g, x, y.Grad, ln)
	})
	return y
}

// layerNormBackward splits rows across workers, each with its own partial
// dgamma/dbeta, then sums the partials in a fixed order (deterministic).
func layerNormBackward(g *Graph, x *Var, dy []float32, ln *LayerNorm) {
	cols := x.Cols
	chunks := min(parallel.Workers(), max(1, x.Rows/16))
	partG := g.WS.Get(chunks * cols)
	var partB []float32
	if ln.B != nil {
		partB = g.WS.Get(chunks * cols)
	}
	// The kernel writes dx; x may already hold gradient from other consumers,
	// so it is computed aside and added.
	dx := g.WS.GetDirty(len(x.Data))
	parallel.Run(chunks, func(c int) {
		lo, hi := c*x.Rows/chunks, (c+1)*x.Rows/chunks
		var db []float32
		if partB != nil {
			db = partB[c*cols : (c+1)*cols]
		}
		kernels.LayerNormBackward(dx[lo*cols:hi*cols], partG[c*cols:(c+1)*cols], db,
			x.Data[lo*cols:hi*cols], dy[lo*cols:hi*cols], ln.W.W, cols, ln.Eps)
	})
	if x.needGrad {
		kernels.AddTo(g.grad(x), dx)
	}
	for c := 0; c < chunks; c++ {
		kernels.AddTo(ln.W.G, partG[c*cols:(c+1)*cols])
		if partB != nil {
			kernels.AddTo(ln.B.G, partB[c*cols:(c+1)*cols])
		}
	}
}

// Act applies an activation element-wise.
func (g *Graph) Act(x *Var, act kernels.Act) *Var {
	if act == kernels.Identity {
		return x
	}
	y := g.New(x.Rows, x.Cols)
	copy(y.Data, x.Data)
	parallel.For(len(y.Data), 4096, func(lo, hi int) { kernels.Activate(act, y.Data[lo:hi]) })
	g.record(func() {
		if y.Grad == nil || !x.needGrad {
			return
		}
		dx := g.WS.GetDirty(len(x.Data))
		kernels.ActivateBackward(act, dx, x.Data, y.Grad)
		kernels.AddTo(g.grad(x), dx)
	})
	return y
}

// GeGLU splits every row of u [T, 2I] into input | gate halves and returns
// act(input) ⊙ gate [T, I] (ModernBERT's MLP; the activation is on the first half).
func (g *Graph) GeGLU(u *Var, act kernels.Act) *Var {
	n := u.Cols / 2
	y := g.New(u.Rows, n)
	parallel.For(u.Rows, 16, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			in, gate, out := u.Data[r*2*n:r*2*n+n], u.Data[r*2*n+n:(r+1)*2*n], y.Data[r*n:(r+1)*n]
			copy(out, in)
			kernels.Activate(act, out)
			mul(out, gate)
		}
	})
	g.record(func() {
		if y.Grad == nil || !u.needGrad {
			return
		}
		du := g.grad(u)
		parallel.For(u.Rows, 16, func(lo, hi int) {
			tmp := make([]float32, 2*n)
			a, t := tmp[:n], tmp[n:]
			for r := lo; r < hi; r++ {
				in, gate := u.Data[r*2*n:r*2*n+n], u.Data[r*2*n+n:(r+1)*2*n]
				dy := y.Grad[r*n : (r+1)*n]
				dIn, dGate := du[r*2*n:r*2*n+n], du[r*2*n+n:(r+1)*2*n]
				copy(a, in)
				kernels.Activate(act, a) // act(input)
				for j := range a {
					dGate[j] += dy[j] * a[j]
					t[j] = dy[j] * gate[j]
				}
				kernels.ActivateBackward(act, a, in, t)
				kernels.AddTo(dIn, a)
			}
		})
	})
	return y
}

// Gather returns the listed rows of x (e.g. the [CLS] token of every sequence).
func (g *Graph) Gather(x *Var, rows []int) *Var {
	y := g.New(len(rows), x.Cols)
	c := x.Cols
	for i, r := range rows {
		copy(y.Data[i*c:(i+1)*c], x.Data[r*c:(r+1)*c])
	}
	g.record(func() {
		if y.Grad == nil || !x.needGrad {
			return
		}
		dx := g.grad(x)
		for i, r := range rows {
			kernels.AddTo(dx[r*c:(r+1)*c], y.Grad[i*c:(i+1)*c])
		}
	})
	return y
}

// MeanPool averages the rows of each sequence of b whose mask is set
// (mask nil: every token of the sequence).
func (g *Graph) MeanPool(x *Var, b *Batch, mask []bool) *Var {
	n, c := b.NumSeqs(), x.Cols
	y := g.Zeros(n, c)
	counts := make([]float32, n)
	for s := 0; s < n; s++ {
		lo, hi := b.Seq(s)
		row := y.Data[s*c : (s+1)*c]
		cnt := 0
		for t := lo; t < hi; t++ {
			if mask == nil || mask[t] {
				kernels.AddTo(row, x.Data[t*c:(t+1)*c])
				cnt++
			}
		}
		// sentence-transformers clamps the count at 1e-9: an empty sequence pools to 0.
		counts[s] = max(float32(cnt), 1e-9)
		kernels.Scale(row, 1/counts[s])
	}
	g.record(func() {
		if y.Grad == nil || !x.needGrad {
			return
		}
		dx := g.grad(x)
		for s := 0; s < n; s++ {
			lo, hi := b.Seq(s)
			for t := lo; t < hi; t++ {
				if mask == nil || mask[t] {
					kernels.Axpy(dx[t*c:(t+1)*c], 1/counts[s], y.Grad[s*c:(s+1)*c])
				}
			}
		}
	})
	return y
}

// mul sets x[i] *= y[i].
func mul(x, y []float32) {
	for i := range x {
		x[i] *= y[i]
	}
}
