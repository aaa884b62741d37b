package nn

import (
	"fmt"
	"math"

	"bioencoder/gemm"
)

// MaxSim is ColBERT's late-interaction score. q holds the token vectors of
// every query, query i owning rows [qs[i], qs[i+1]); d likewise for
// documents with ds. The result is [queries, K] with entry (i, k) =
// Σ_{a∈q_i} max_{b∈d_j} ⟨q_a, d_b⟩ for j = cols[i][k]; cols nil scores
// every query against every document (K = documents).
func (g *Graph) MaxSim(q *Var, qs []int, d *Var, ds []int, cols [][]int) *Var {
	nq, nd := len(qs)-1, len(ds)-1
	K := nd
	if cols != nil {
		if len(cols) != nq {
			panic(fmt.Sprintf("nn: MaxSim: %d column lists for %d queries", len(cols), nq))
		}
		K = len(cols[0])
	}
	col := func(i, k int) int {
		if cols == nil {
			return k
		}
		return cols[i][k]
	}
	D := q.Cols
	// All token-token similarities at once; [Σq, Σd] is small for the
	// batches ColBERT trains on.
	sim := g.WS.GetDirty(q.Rows * d.Rows)
	gemm.Gemm(false, true, q.Rows, d.Rows, D, 1, q.Data, D, d.Data, D, 0, sim, d.Rows)
	y := g.New(nq, K)
	arg := make([]int32, q.Rows*K) // best document token for each (query token, column)
	for i := 0; i < nq; i++ {
		for k := 0; k < K; k++ {
			j := col(i, k)
			var total float32
			for a := qs[i]; a < qs[i+1]; a++ {
				best, at := float32(math.Inf(-1)), -1
				row := sim[a*d.Rows:]
				for b := ds[j]; b < ds[j+1]; b++ {
					if row[b] > best {
						best, at = row[b], b
					}
				}
				if at < 0 {
					best = 0 // an empty document scores 0
				}
				total += best
				arg[a*K+k] = int32(at)
			}
			y.Data[i*K+k] = total
		}
	}
	g.record(func() {
		if y.Grad == nil {
			return
		}
		for i := 0; i < nq; i++ {
			for k := 0; k < K; k++ {
				dy := y.Grad[i*K+k]
				for a := qs[i]; a < qs[i+1]; a++ {
					b := int(arg[a*K+k])
					if b < 0 {
						continue
					}
					if q.needGrad {
						axpy(g.grad(q)[a*D:(a+1)*D], dy, d.Data[b*D:(b+1)*D])
					}
					if d.needGrad {
						axpy(g.grad(d)[b*D:(b+1)*D], dy, q.Data[a*D:(a+1)*D])
					}
				}
			}
		}
	})
	return y
}

func axpy(y []float32, a float32, x []float32) {
	for i := range y {
		y[i] += a * x[i]
	}
}

// MinMaxRows rescales each row to [0, 1]: (x − min)/(max − min + 1e-8), as
// PyLate's distillation loss normalises student scores.
func (g *Graph) MinMaxRows(x *Var) *Var {
	y := g.New(x.Rows, x.Cols)
	c := x.Cols
	lo := make([]int, x.Rows)
	hi := make([]int, x.Rows)
	for r := 0; r < x.Rows; r++ {
		row := x.Data[r*c : (r+1)*c]
		for j := range row {
			if row[j] < row[lo[r]] {
				lo[r] = j
			}
			if row[j] > row[hi[r]] {
				hi[r] = j
			}
		}
		mn, den := row[lo[r]], row[hi[r]]-row[lo[r]]+1e-8
		for j, v := range row {
			y.Data[r*c+j] = (v - mn) / den
		}
	}
	g.record(func() {
		if y.Grad == nil || !x.needGrad {
			return
		}
		dx := g.grad(x)
		for r := 0; r < x.Rows; r++ {
			row := x.Data[r*c : (r+1)*c]
			mn, den := row[lo[r]], row[hi[r]]-row[lo[r]]+1e-8
			// y_j = (x_j − x_lo)/(x_hi − x_lo + ε)
			var sLo, sHi float32
			for j := range row {
				dy := y.Grad[r*c+j]
				dx[r*c+j] += dy / den
				sLo += dy * (row[j] - row[hi[r]] - 1e-8) / (den * den)
				sHi -= dy * (row[j] - mn) / (den * den)
			}
			dx[r*c+lo[r]] += sLo
			dx[r*c+hi[r]] += sHi
		}
	})
	return y
}

// BCEWithLogits is PyTorch's binary_cross_entropy_with_logits with mean
// reduction over all elements (targets in [0, 1]).
func (g *Graph) BCEWithLogits(x *Var, target []float32) (float64, error) {
	if len(target) != len(x.Data) {
		return 0, fmt.Errorf("nn: bce: %d targets for %d logits", len(target), len(x.Data))
	}
	n := float64(len(x.Data))
	loss := 0.0
	for i, v := range x.Data {
		z, t := float64(v), float64(target[i])
		// max(z,0) − z·t + log(1 + e^−|z|), stable for any z.
		loss += math.Max(z, 0) - z*t + math.Log1p(math.Exp(-math.Abs(z)))
	}
	scale := float64(g.lossScale()) / n
	g.record(func() {
		if !x.needGrad {
			return
		}
		dx := g.grad(x)
		for i, v := range x.Data {
			dx[i] += float32(scale * (1/(1+math.Exp(-float64(v))) - float64(target[i])))
		}
	})
	return loss / n, nil
}
