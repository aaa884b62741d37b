package eval

import "fmt"

// RNG is the Mersenne Twister MT19937 with NumPy's legacy seeding and its
// bounded-integer and shuffle algorithms, so that every seeded choice made
// here (folds, derangements, masked words) can be reproduced in Python with
// numpy.random.RandomState(seed). In particular StratifiedKFold gives the
// same folds as scikit-learn's StratifiedKFold(shuffle=True,
// random_state=seed).
type RNG struct {
	mt  [624]uint32
	pos int
}

// NewRNG seeds like numpy.random.RandomState(seed); seeds are 32-bit there,
// so only the low 32 bits of seed are used.
func NewRNG(seed uint64) *RNG {
	r := &RNG{}
	s := uint32(seed)
	for i := range r.mt {
		r.mt[i] = s
		s = 1812433253*(s^(s>>30)) + uint32(i) + 1
	}
	r.pos = len(r.mt)
	return r
}

// Uint32 is the next raw 32-bit output (genrand_int32).
func (r *RNG) Uint32() uint32 {
	const n, m = 624, 397
	if r.pos >= n {
		for i := 0; i < n; i++ {
			y := r.mt[i]&0x80000000 | r.mt[(i+1)%n]&0x7fffffff
			v := r.mt[(i+m)%n] ^ y>>1
			if y&1 != 0 {
				v ^= 0x9908b0df
			}
			r.mt[i] = v
		}
		r.pos = 0
	}
	y := r.mt[r.pos]
	r.pos++
	y ^= y >> 11
	y ^= y << 7 & 0x9d2c5680
	y ^= y << 15 & 0xefc60000
	y ^= y >> 18
	return y
}

// Interval returns a uniform integer in [0, max] by masked rejection
// (NumPy's random_interval).
func (r *RNG) Interval(max uint64) uint64 {
	if max == 0 {
		return 0
	}
	mask := max
	for s := uint(1); s <= 32; s <<= 1 {
		mask |= mask >> s
	}
	if max <= 0xffffffff {
		for {
			if v := uint64(r.Uint32()) & mask; v <= max {
				return v
			}
		}
	}
	for {
		hi := uint64(r.Uint32())
		if v := (hi<<32 | uint64(r.Uint32())) & mask; v <= max {
			return v
		}
	}
}

// Shuffle permutes n items in place as RandomState.shuffle does for a
// one-dimensional array: for i from n-1 down to 1, swap i with a uniform j
// in [0, i].
func (r *RNG) Shuffle(n int, swap func(i, j int)) {
	for i := n - 1; i > 0; i-- {
		swap(i, int(r.Interval(uint64(i))))
	}
}

// Derangement returns a uniformly random permutation p of 0..n-1 with
// p[i] != i for every i: shuffles of the identity are drawn until one has
// no fixed point (on average e ≈ 2.72 draws). The Python equivalent is
//
//	rng = numpy.random.RandomState(seed)
//	while True:
//	    p = numpy.arange(n); rng.shuffle(p)
//	    if (p != numpy.arange(n)).all(): break
func Derangement(n int, seed uint64) ([]int, error) {
	if n < 2 {
		return nil, fmt.Errorf("eval: no derangement of %d items (need at least 2)", n)
	}
	r := NewRNG(seed)
	p := make([]int, n)
	for {
		for i := range p {
			p[i] = i
		}
		r.Shuffle(n, func(i, j int) { p[i], p[j] = p[j], p[i] })
		ok := true
		for i, v := range p {
			if v == i {
				ok = false
				break
			}
		}
		if ok {
			return p, nil
		}
	}
}
