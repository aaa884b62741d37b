package train

import (
	"math"

	"bioencoder/nn"
	"bioencoder/parallel"
)

// AdamW is torch.optim.AdamW (decoupled weight decay, bias-corrected
// moments), computed in float32 in the same order as PyTorch 1.13's
// single-tensor implementation so a step matches it to rounding.
type AdamW struct {
	LR          float64
	Beta1       float64
	Beta2       float64
	Eps         float64
	WeightDecay float64
	// DecayAll applies weight decay to every parameter (torch's default with
	// one parameter group); otherwise biases and norm scales are skipped.
	DecayAll bool

	Step int         // completed steps
	M, V [][]float32 // first and second moments, per parameter set, laid out like its W
}

// NewAdamW returns an optimizer with torch's default betas and eps.
func NewAdamW(lr, weightDecay float64) *AdamW {
	return &AdamW{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: weightDecay}
}

// Update applies one step with learning rate lr to every parameter of the
// sets, using their gradients.
func (o *AdamW) Update(sets []*nn.Params, lr float64) {
	if o.M == nil {
		for _, ps := range sets {
			o.M = append(o.M, make([]float32, len(ps.W)))
			o.V = append(o.V, make([]float32, len(ps.W)))
		}
	}
	o.Step++
	b1, b2 := float32(o.Beta1), float32(o.Beta2)
	bc1 := 1 - math.Pow(o.Beta1, float64(o.Step))
	bc2 := 1 - math.Pow(o.Beta2, float64(o.Step))
	stepSize := float32(lr / bc1)
	bc2sqrt := float32(math.Sqrt(bc2))
	eps := float32(o.Eps)
	for si, ps := range sets {
		o.update(ps, o.M[si], o.V[si], lr, b1, b2, stepSize, bc2sqrt, eps)
		ps.Touch()
	}
}

func (o *AdamW) update(ps *nn.Params, M, V []float32, lr float64, b1, b2, stepSize, bc2sqrt, eps float32) {
	for _, p := range ps.List {
		off := p.Offset()
		decay := float32(1)
		if o.WeightDecay != 0 && (o.DecayAll || p.Decay) {
			decay = float32(1 - lr*o.WeightDecay)
		}
		w, g := p.W, p.G
		m, v := M[off:off+len(w)], V[off:off+len(w)]
		parallel.For(len(w), 1<<14, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				w[i] *= decay
				m[i] = m[i]*b1 + g[i]*(1-b1)
				v[i] = v[i]*b2 + g[i]*g[i]*(1-b2)
				denom := float32(math.Sqrt(float64(v[i])))/bc2sqrt + eps
				w[i] += -stepSize * (m[i] / denom)
			}
		})
	}
}
