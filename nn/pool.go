package nn

import (
	"math"

	"bioencoder/kernels"
)

// PoolMode is a sentence-transformers pooling mode.
type PoolMode int

const (
	PoolCLS          PoolMode = iota // the first token
	PoolMax                          // element-wise max over pooled tokens
	PoolMean                         // mean over pooled tokens
	PoolMeanSqrtLen                  // sum / sqrt(count)
	PoolWeightedMean                 // tokens weighted by position+1
	PoolLastToken                    // the last pooled token
)

// Pool reduces each sequence of x to one row. mask selects the tokens that
// take part (nil: all); sentence-transformers' conventions apply: CLS is the
// first token whatever the mask, counts are clamped at 1e-9 (an empty
// sequence pools to zeros), max over no token is -1e9.
func (g *Graph) Pool(x *Var, b *Batch, mode PoolMode, mask []bool) *Var {
	switch mode {
	case PoolCLS:
		return g.Gather(x, b.Starts[:b.NumSeqs()])
	case PoolMean:
		return g.MeanPool(x, b, mask)
	case PoolLastToken:
		rows := make([]int, b.NumSeqs())
		for s := range rows {
			lo, hi := b.Seq(s)
			rows[s] = lo
			for t := hi - 1; t >= lo; t-- {
				if mask == nil || mask[t] {
					rows[s] = t
					break
				}
			}
		}
		return g.Gather(x, rows)
	case PoolMax:
		return g.maxPool(x, b, mask)
	}
	return g.weightedSum(x, b, mode, mask)
}

// weightedSum covers mean_sqrt_len (weights 1, divided by sqrt of the count)
// and weightedmean (weights position+1, divided by their sum).
func (g *Graph) weightedSum(x *Var, b *Batch, mode PoolMode, mask []bool) *Var {
	n, c := b.NumSeqs(), x.Cols
	y := g.Zeros(n, c)
	w := make([]float32, x.Rows) // per-token factor
	for s := 0; s < n; s++ {
		lo, hi := b.Seq(s)
		total := 0.0
		for t := lo; t < hi; t++ {
			if mask == nil || mask[t] {
				if mode == PoolWeightedMean {
					total += float64(b.Pos[t] + 1)
				} else {
					total++
				}
			}
		}
		var div float64
		if mode == PoolWeightedMean {
			div = math.Max(total, 1e-9)
		} else {
			div = math.Sqrt(math.Max(total, 1e-9))
		}
		for t := lo; t < hi; t++ {
			if mask == nil || mask[t] {
				f := 1.0
				if mode == PoolWeightedMean {
					f = float64(b.Pos[t] + 1)
				}
				w[t] = float32(f / div)
				kernels.Axpy(y.Data[s*c:(s+1)*c], w[t], x.Data[t*c:(t+1)*c])
			}
		}
	}
	g.record(func() {
		if y.Grad == nil || !x.needGrad {
			return
		}
		dx := g.grad(x)
		for s := 0; s < n; s++ {
			lo, hi := b.Seq(s)
			for t := lo; t < hi; t++ {
				if w[t] != 0 {
					kernels.Axpy(dx[t*c:(t+1)*c], w[t], y.Grad[s*c:(s+1)*c])
				}
			}
		}
	})
	return y
}

func (g *Graph) maxPool(x *Var, b *Batch, mask []bool) *Var {
	n, c := b.NumSeqs(), x.Cols
	y := g.New(n, c)
	arg := make([]int, n*c) // winning token per output, -1 if none
	for s := 0; s < n; s++ {
		lo, hi := b.Seq(s)
		for j := 0; j < c; j++ {
			best, at := float32(-1e9), -1
			for t := lo; t < hi; t++ {
				if (mask == nil || mask[t]) && (at < 0 || x.Data[t*c+j] > best) {
					best, at = x.Data[t*c+j], t
				}
			}
			y.Data[s*c+j], arg[s*c+j] = best, at
		}
	}
	g.record(func() {
		if y.Grad == nil || !x.needGrad {
			return
		}
		dx := g.grad(x)
		for i, t := range arg {
			if t >= 0 {
				dx[t*c+i%c] += y.Grad[i]
			}
		}
	})
	return y
}

// Concat joins nodes with the same number of rows side by side.
func (g *Graph) Concat(vs ...*Var) *Var {
	if len(vs) == 1 {
		return vs[0]
	}
	rows, cols := vs[0].Rows, 0
	for _, v := range vs {
		if v.Rows != rows {
			panic("nn: Concat: row counts differ")
		}
		cols += v.Cols
	}
	y := g.New(rows, cols)
	off := 0
	for _, v := range vs {
		for r := 0; r < rows; r++ {
			copy(y.Data[r*cols+off:r*cols+off+v.Cols], v.Data[r*v.Cols:(r+1)*v.Cols])
		}
		off += v.Cols
	}
	g.record(func() {
		if y.Grad == nil {
			return
		}
		off := 0
		for _, v := range vs {
			if v.needGrad {
				dv := g.grad(v)
				for r := 0; r < rows; r++ {
					kernels.AddTo(dv[r*v.Cols:(r+1)*v.Cols], y.Grad[r*cols+off:r*cols+off+v.Cols])
				}
			}
			off += v.Cols
		}
	})
	return y
}

// L2Normalize divides each row by max(‖row‖, 1e-12) (torch F.normalize).
func (g *Graph) L2Normalize(x *Var) *Var {
	y := g.New(x.Rows, x.Cols)
	copy(y.Data, x.Data)
	kernels.L2Normalize(y.Data, x.Cols)
	g.record(func() {
		if y.Grad == nil || !x.needGrad {
			return
		}
		dx := g.grad(x)
		c := x.Cols
		for r := 0; r < x.Rows; r++ {
			xr, yr, dy := x.Data[r*c:(r+1)*c], y.Data[r*c:(r+1)*c], y.Grad[r*c:(r+1)*c]
			norm := float32(math.Sqrt(float64(kernels.Dot(xr, xr))))
			if norm < 1e-12 {
				// Below the clamp the op is x/1e-12: a plain scale.
				kernels.Axpy(dx[r*c:(r+1)*c], 1e12, dy)
				continue
			}
			// d(x/|x|) = (dy - y·⟨y, dy⟩)/|x|
			dot := kernels.Dot(yr, dy)
			d := dx[r*c : (r+1)*c]
			for j := range d {
				d[j] += (dy[j] - yr[j]*dot) / norm
			}
		}
	})
	return y
}
