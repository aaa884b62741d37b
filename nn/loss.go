package nn

import (
	"fmt"
	"math"

	"bioencoder/kernels"
	"bioencoder/parallel"
)

// IgnoreIndex marks labels that take no part in a loss (PyTorch's -100).
const IgnoreIndex = -100

// lossScale is the factor loss gradients are seeded with (1 unless a
// trainer averages over accumulated micro-batches).
func (g *Graph) lossScale() float32 {
	if g.GradScale == 0 {
		return 1
	}
	return g.GradScale
}

// CrossEntropy is PyTorch's F.cross_entropy(logits, labels,
// ignore_index=-100) with mean reduction over the labelled rows. When
// training it seeds d(loss)/d(logits). Labels outside [0, C) other than
// IgnoreIndex are an error.
func (g *Graph) CrossEntropy(logits *Var, labels []int) (float64, error) {
	if len(labels) != logits.Rows {
		return 0, fmt.Errorf("nn: cross-entropy: %d labels for %d rows", len(labels), logits.Rows)
	}
	c := logits.Cols
	n := 0
	for _, l := range labels {
		if l == IgnoreIndex {
			continue
		}
		if l < 0 || l >= c {
			return 0, fmt.Errorf("nn: cross-entropy: label %d outside 0..%d", l, c-1)
		}
		n++
	}
	if n == 0 {
		return 0, nil // PyTorch returns nan; an all-ignored batch contributes nothing here
	}
	// Per-row log-sum-exp in float64 for a stable mean; probabilities for the
	// gradient are recomputed in backward.
	rowLoss := make([]float64, logits.Rows)
	parallel.For(logits.Rows, 8, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			if labels[r] == IgnoreIndex {
				continue
			}
			row := logits.Data[r*c : (r+1)*c]
			mx := kernels.Max(row)
			sum := 0.0
			for _, v := range row {
				sum += math.Exp(float64(v - mx))
			}
			rowLoss[r] = math.Log(sum) + float64(mx) - float64(row[labels[r]])
		}
	})
	total := 0.0
	for _, v := range rowLoss {
		total += v
	}
	loss := total / float64(n)
	scale := g.lossScale() / float32(n)
	g.record(func() {
		if !logits.needGrad {
			return
		}
		dl := g.grad(logits)
		parallel.For(logits.Rows, 8, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				if labels[r] == IgnoreIndex {
					continue
				}
				d := dl[r*c : (r+1)*c]
				p := logits.Data[r*c : (r+1)*c]
				mx := kernels.Max(p)
				var sum float64
				for _, v := range p {
					sum += math.Exp(float64(v - mx))
				}
				// d = (softmax(p) - onehot(label)) · scale, added to what is there.
				inv := 1 / sum
				for j, v := range p {
					d[j] += float32(math.Exp(float64(v-mx))*inv) * scale
				}
				d[labels[r]] -= scale
			}
		})
	})
	return loss, nil
}

// MSE is PyTorch's mean squared error over all elements of a and target
// (same shape); target takes no gradient.
func (g *Graph) MSE(a *Var, target []float32) (float64, error) {
	if len(target) != len(a.Data) {
		return 0, fmt.Errorf("nn: mse: %d targets for %d values", len(target), len(a.Data))
	}
	sum := 0.0
	for i, v := range a.Data {
		d := float64(v - target[i])
		sum += d * d
	}
	n := float64(len(a.Data))
	scale := 2 * g.lossScale() / float32(n)
	g.record(func() {
		if !a.needGrad {
			return
		}
		da := g.grad(a)
		for i, v := range a.Data {
			da[i] += scale * (v - target[i])
		}
	})
	return sum / n, nil
}
