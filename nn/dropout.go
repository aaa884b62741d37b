package nn

import "bioencoder/parallel"

// Dropout masks are a pure function of (graph seed, op number, element
// index): no state is stored, backward regenerates the same mask, and the
// result does not depend on how work is split across threads.

func mix(x uint64) uint64 { // splitmix64 finaliser
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// keep reports whether element i of stream (seed, op) survives dropout p.
func keep(seed, op uint64, i int, p float32) bool {
	u := mix(seed ^ mix(op<<32^uint64(i)))
	return float32(u>>40)*(1.0/(1<<24)) >= p
}

// Dropout zeroes elements with probability p and scales the rest by
// 1/(1-p) when training; otherwise it returns x.
func (g *Graph) Dropout(x *Var, p float32) *Var {
	if !g.train || p <= 0 {
		return x
	}
	op := g.opID()
	seed := g.Seed
	scale := 1 / (1 - p)
	y := g.New(x.Rows, x.Cols)
	parallel.For(len(x.Data), 4096, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if keep(seed, op, i, p) {
				y.Data[i] = x.Data[i] * scale
			} else {
				y.Data[i] = 0
			}
		}
	})
	g.record(func() {
		if y.Grad == nil || !x.needGrad {
			return
		}
		dx := g.grad(x)
		parallel.For(len(x.Data), 4096, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				if keep(seed, op, i, p) {
					dx[i] += y.Grad[i] * scale
				}
			}
		})
	})
	return y
}
