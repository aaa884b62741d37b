package nn

import (
	"bioencoder/kernels"
	"bioencoder/parallel"
)

// Dropout masks are a pure function of (graph seed, op number, element
// index): no state is stored, backward regenerates the same mask, and the
// result does not depend on how work is split across threads. One 64-bit
// hash gives four 16-bit uniforms, so the drop probability is resolved to
// 1/65536.

func mix(x uint64) uint64 { // splitmix64 finaliser
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// dropStream decides which elements of one op's output survive.
type dropStream struct {
	key    uint64
	thresh uint64 // an element survives if its 16-bit uniform is >= thresh
	scale  float32
}

func newDropStream(seed, op uint64, p float32) dropStream {
	return dropStream{key: mix(seed ^ mix(op)), thresh: uint64(p*65536 + 0.5), scale: 1 / (1 - p)}
}

// keep reports whether element i survives.
func (d dropStream) keep(i int) bool {
	return (mix(d.key+uint64(i>>2))>>(16*(i&3)))&0xffff >= d.thresh
}

// apply multiplies x (the elements starting at global index start) by the
// mask: dropped elements become 0, kept ones are scaled by 1/(1-p).
func (d dropStream) apply(x []float32, start int) {
	i := 0
	for i < len(x) {
		g := start + i
		h := mix(d.key + uint64(g>>2))
		for s := g & 3; s < 4 && i < len(x); s++ {
			if (h>>(16*s))&0xffff >= d.thresh {
				x[i] *= d.scale
			} else {
				x[i] = 0
			}
			i++
		}
	}
}

// Dropout zeroes elements with probability p and scales the rest by
// 1/(1-p) when training; otherwise it returns x.
func (g *Graph) Dropout(x *Var, p float32) *Var {
	if !g.train || p <= 0 {
		return x
	}
	d := newDropStream(g.Seed, g.opID(), p)
	y := g.New(x.Rows, x.Cols)
	copy(y.Data, x.Data)
	parallel.For(len(y.Data), 1<<14, func(lo, hi int) { d.apply(y.Data[lo:hi], lo) })
	g.record(func() {
		if y.Grad == nil || !x.needGrad {
			return
		}
		dx := g.WS.GetDirty(len(x.Data))
		copy(dx, y.Grad)
		parallel.For(len(dx), 1<<14, func(lo, hi int) { d.apply(dx[lo:hi], lo) })
		kernels.AddTo(g.grad(x), dx)
	})
	return y
}
