package nn

import (
	"math"
	"sync"

	"bioencoder/parallel"
)

// Rope holds rotary-embedding tables (GPT-NeoX "rotate-half" convention,
// full head dimension) for one base theta, computed in float32 the way
// PyTorch computes them: inv_freq[j] = 1/theta^(2j/d), f = pos·inv_freq,
// cos/sin of f.
type Rope struct {
	Theta float64
	Dim   int // head dimension (even)

	mu       sync.Mutex
	cos, sin []float32 // [positions, Dim/2]
	invFreq  []float32
}

// NewRope returns an empty table; rows are computed on demand.
func NewRope(theta float64, dim int) *Rope {
	r := &Rope{Theta: theta, Dim: dim, invFreq: make([]float32, dim/2)}
	base := float64(float32(theta))
	for j := range r.invFreq {
		e := float32(2*j) / float32(dim)
		r.invFreq[j] = 1 / float32(math.Pow(base, float64(e)))
	}
	return r
}

// tables returns cos and sin for positions [0, n).
func (r *Rope) tables(n int) (cos, sin []float32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := r.Dim / 2
	if have := len(r.cos) / h; have < n {
		cos := make([]float32, n*h)
		sin := make([]float32, n*h)
		copy(cos, r.cos)
		copy(sin, r.sin)
		for p := have; p < n; p++ {
			for j, inv := range r.invFreq {
				f := float32(p) * inv
				cos[p*h+j] = float32(math.Cos(float64(f)))
				sin[p*h+j] = float32(math.Sin(float64(f)))
			}
		}
		r.cos, r.sin = cos, sin
	}
	return r.cos, r.sin
}

// RopeQK rotates the query and key blocks of a fused qkv matrix [T, 3H]
// (Q | K | V, heads of width Dim inside each block) in place, using each
// token's position. The unrotated values are gone afterwards; backward turns
// the gradient back (the inverse rotation) before earlier ops read it.
func (g *Graph) RopeQK(qkv *Var, b *Batch, r *Rope, heads int) *Var {
	d := r.Dim
	hidden := heads * d
	maxPos := 0
	for _, p := range b.Pos {
		maxPos = max(maxPos, p+1)
	}
	cos, sin := r.tables(maxPos)
	rotate := func(data []float32, inverse bool) {
		parallel.For(qkv.Rows, 64, func(lo, hi int) {
			for t := lo; t < hi; t++ {
				p := b.Pos[t]
				c, s := cos[p*d/2:(p+1)*d/2], sin[p*d/2:(p+1)*d/2]
				row := data[t*qkv.Cols : t*qkv.Cols+2*hidden] // Q and K blocks
				for h := 0; h < 2*heads; h++ {
					rotateHalf(row[h*d:(h+1)*d], c, s, inverse)
				}
			}
		})
	}
	rotate(qkv.Data, false)
	g.record(func() {
		if qkv.Grad != nil {
			rotate(qkv.Grad, true)
		}
	})
	return qkv
}

// rotateHalf applies x' = x·cos + rotate_half(x)·sin to one head vector:
// pairs are (j, j+d/2). The inverse rotation (sin -> -sin) is the transpose,
// which is what backward needs.
func rotateHalf(x, cos, sin []float32, inverse bool) {
	h := len(x) / 2
	x1, x2 := x[:h], x[h:]
	if inverse {
		for j := 0; j < h; j++ {
			a, b := x1[j], x2[j]
			x1[j] = a*cos[j] + b*sin[j]
			x2[j] = b*cos[j] - a*sin[j]
		}
		return
	}
	for j := 0; j < h; j++ {
		a, b := x1[j], x2[j]
		x1[j] = a*cos[j] - b*sin[j]
		x2[j] = b*cos[j] + a*sin[j]
	}
}
