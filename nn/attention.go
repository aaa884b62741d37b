package nn

import (
	"math"
	"sort"

	"bioencoder/gemm"
	"bioencoder/kernels"
	"bioencoder/parallel"
)

// Attention configures one multi-head scaled dot-product attention layer.
type Attention struct {
	Heads   int
	Window  int     // 0: global; else a query sees keys with |pos_i - pos_j| <= Window (ModernBERT: local_attention/2)
	Dropout float32 // dropout on the probabilities, training only
}

// queryBlock is how many query rows are scored at once: small enough that
// a block's scores stay in L2 even against 8192 keys, large enough for GEMM.
const queryBlock = 64

var negInf = float32(math.Inf(-1))

// attnPlan is the per-call geometry shared by forward and backward.
type attnPlan struct {
	b          *Batch
	a          Attention
	heads, d   int
	hidden, ld int     // H, and the row stride of qkv (3H)
	scale      float32 // d^-1/2
	firstKey   []int   // per sequence: first and one-past-last attendable token
	endKey     []int
	holes      []bool // per sequence: a non-key token lies between firstKey and endKey
	maxRange   int    // widest key range of any block
	maxLen     int
	drop       *dropStream // attention dropout when training, else nil
}

func newAttnPlan(g *Graph, qkv *Var, b *Batch, a Attention) *attnPlan {
	p := &attnPlan{b: b, a: a, heads: a.Heads, ld: qkv.Cols}
	p.hidden = qkv.Cols / 3
	p.d = p.hidden / a.Heads
	p.scale = float32(1 / math.Sqrt(float64(p.d)))
	n := b.NumSeqs()
	p.firstKey, p.endKey, p.holes = make([]int, n), make([]int, n), make([]bool, n)
	for s := 0; s < n; s++ {
		lo, hi := b.Seq(s)
		p.maxLen = max(p.maxLen, hi-lo)
		first, end := hi, lo
		for t := lo; t < hi; t++ {
			if b.IsKey(t) {
				first = min(first, t)
				end = t + 1
			}
		}
		p.firstKey[s], p.endKey[s] = first, end
		for t := first; t < end; t++ {
			if !b.IsKey(t) {
				p.holes[s] = true
				break
			}
		}
		kr := end - first
		if a.Window > 0 {
			kr = min(kr, queryBlock+2*a.Window+1)
		}
		p.maxRange = max(p.maxRange, kr)
	}
	if a.Dropout > 0 && g.train {
		d := newDropStream(g.Seed, g.opID(), a.Dropout)
		p.drop = &d
	}
	return p
}

// keyRange returns the tokens a block of queries [q0, q1) of sequence s can
// see: the attendable span, cut to the sliding window when there is one.
func (p *attnPlan) keyRange(s, q0, q1 int) (kLo, kHi int) {
	kLo, kHi = p.firstKey[s], p.endKey[s]
	if p.a.Window > 0 && kLo < kHi {
		pos := p.b.Pos
		lowest, highest := pos[q0]-p.a.Window, pos[q1-1]+p.a.Window
		kLo = kLo + sort.Search(kHi-kLo, func(i int) bool { return pos[kLo+i] >= lowest })
		kHi = kLo + sort.Search(kHi-kLo, func(i int) bool { return pos[kLo+i] > highest })
	}
	return kLo, kHi
}

// probs turns a block of scaled scores [q1-q0, kHi-kLo] into probabilities
// in place. Masked entries get exactly 0. It returns which rows see no key
// at all: Hugging Face then adds the same huge negative to every score, so
// such a query attends uniformly to the whole sequence (handled by callers).
func (p *attnPlan) probs(sc []float32, s, q0, q1, kLo, kHi int, uniform []bool) {
	kr := kHi - kLo
	pos := p.b.Pos
	needMask := p.a.Window > 0 || p.holes[s]
	for i := q0; i < q1; i++ {
		row := sc[(i-q0)*kr : (i-q0+1)*kr]
		visible := kr
		if needMask {
			visible = 0
			for j := kLo; j < kHi; j++ {
				if !p.b.IsKey(j) || (p.a.Window > 0 && absInt(pos[i]-pos[j]) > p.a.Window) {
					row[j-kLo] = negInf
				} else {
					visible++
				}
			}
		}
		uniform[i-q0] = visible == 0
		if visible == 0 {
			clear(row)
			continue
		}
		kernels.Softmax(row)
	}
}

// dropoutMask applies (or, for gradients, re-applies) attention dropout to a
// block of probabilities, keyed by (head, query token, key offset).
func (p *attnPlan) dropoutMask(x []float32, h, q0, q1, kLo, kHi, lo int) {
	if p.drop == nil {
		return
	}
	kr := kHi - kLo
	for i := q0; i < q1; i++ {
		base := (h*p.b.Len() + i) * p.maxLen
		p.drop.apply(x[(i-q0)*kr:(i-q0+1)*kr], base+kLo-lo)
	}
}

func absInt(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// scratch hands each running task its own buffers, sized once per call.
type scratch struct {
	free chan []float32
}

func newScratch(g *Graph, per, count int) *scratch {
	s := &scratch{free: make(chan []float32, count)}
	for i := 0; i < count; i++ {
		s.free <- g.WS.GetDirty(per)
	}
	return s
}

// Attention computes softmax(Q·Kᵀ/√d + mask)·V for every head of every
// sequence, from a fused qkv matrix [T, 3H] (Q | K | V blocks, head h in
// columns [h·d, (h+1)·d) of each block). It returns the heads' outputs
// concatenated, [T, H].
func (g *Graph) Attention(qkv *Var, b *Batch, a Attention) *Var {
	p := newAttnPlan(g, qkv, b, a)
	H, d, ld := p.hidden, p.d, p.ld
	ctx := g.New(qkv.Rows, H)
	workers := parallel.Workers()
	buf := newScratch(g, queryBlock*max(p.maxRange, 1)+queryBlock, workers)
	n := b.NumSeqs()
	parallel.Run(n*a.Heads, func(task int) {
		s, h := task/a.Heads, task%a.Heads
		lo, hi := b.Seq(s)
		sc := <-buf.free
		defer func() { buf.free <- sc }()
		uniform := make([]bool, queryBlock) // tiny; escapes to heap only per task
		for q0 := lo; q0 < hi; q0 += queryBlock {
			q1 := min(q0+queryBlock, hi)
			kLo, kHi := p.keyRange(s, q0, q1)
			kr := kHi - kLo
			out := ctx.Data[q0*H+h*d:]
			if kr > 0 {
				scores := sc[:(q1-q0)*kr]
				gemm.GemmSerial(false, true, q1-q0, kr, d, p.scale,
					qkv.Data[q0*ld+h*d:], ld, qkv.Data[kLo*ld+H+h*d:], ld, 0, scores, kr)
				p.probs(scores, s, q0, q1, kLo, kHi, uniform)
				p.dropoutMask(scores, h, q0, q1, kLo, kHi, lo)
				gemm.GemmSerial(false, false, q1-q0, d, kr, 1, scores, kr, qkv.Data[kLo*ld+2*H+h*d:], ld, 0, out, H)
			} else {
				for i := range uniform[:q1-q0] {
					uniform[i] = true
				}
			}
			for i := q0; i < q1; i++ {
				if uniform[i-q0] {
					meanV(ctx.Data[i*H+h*d:i*H+(h+1)*d], qkv.Data, lo, hi, ld, 2*H+h*d)
				}
			}
		}
	})
	g.record(func() {
		if ctx.Grad == nil || !qkv.needGrad {
			return
		}
		g.attentionBackward(p, qkv, ctx)
	})
	return ctx
}

// meanV sets dst to the mean over tokens [lo, hi) of the d values at column
// off of each qkv row: what a query that sees no key receives.
func meanV(dst, qkv []float32, lo, hi, ld, off int) {
	clear(dst)
	for j := lo; j < hi; j++ {
		kernels.AddTo(dst, qkv[j*ld+off:j*ld+off+len(dst)])
	}
	kernels.Scale(dst, 1/float32(hi-lo))
}

// attentionBackward recomputes each block's probabilities and accumulates
// dQ, dK, dV into qkv's gradient. Tasks own disjoint (sequence, head)
// slices of the gradient, so they never contend.
func (g *Graph) attentionBackward(p *attnPlan, qkv, ctx *Var) {
	b, a := p.b, p.a
	H, d, ld := p.hidden, p.d, p.ld
	dqkv := g.grad(qkv)
	per := queryBlock * max(p.maxRange, 1)
	buf := newScratch(g, 3*per+queryBlock, parallel.Workers())
	parallel.Run(b.NumSeqs()*a.Heads, func(task int) {
		s, h := task/a.Heads, task%a.Heads
		lo, hi := b.Seq(s)
		mem := <-buf.free
		defer func() { buf.free <- mem }()
		uniform := make([]bool, queryBlock)
		for q0 := lo; q0 < hi; q0 += queryBlock {
			q1 := min(q0+queryBlock, hi)
			m := q1 - q0
			kLo, kHi := p.keyRange(s, q0, q1)
			kr := kHi - kLo
			dO := ctx.Grad[q0*H+h*d:]
			if kr > 0 {
				P, Pd, dP := mem[:m*kr], mem[per:per+m*kr], mem[2*per:2*per+m*kr]
				Q, K, V := qkv.Data[q0*ld+h*d:], qkv.Data[kLo*ld+H+h*d:], qkv.Data[kLo*ld+2*H+h*d:]
				gemm.GemmSerial(false, true, m, kr, d, p.scale, Q, ld, K, ld, 0, P, kr)
				p.probs(P, s, q0, q1, kLo, kHi, uniform)
				copy(Pd, P)
				p.dropoutMask(Pd, h, q0, q1, kLo, kHi, lo)
				// dV += Pdᵀ·dO ; dP = dO·Vᵀ (then through dropout) ; dS = softmax'(P)·dP
				gemm.GemmSerial(true, false, kr, d, m, 1, Pd, kr, dO, H, 1, dqkv[kLo*ld+2*H+h*d:], ld)
				gemm.GemmSerial(false, true, m, kr, d, 1, dO, H, V, ld, 0, dP, kr)
				p.dropoutMask(dP, h, q0, q1, kLo, kHi, lo)
				dS := Pd
				for i := 0; i < m; i++ {
					if uniform[i] {
						clear(dS[i*kr : (i+1)*kr])
						continue
					}
					kernels.SoftmaxBackward(dS[i*kr:(i+1)*kr], P[i*kr:(i+1)*kr], dP[i*kr:(i+1)*kr])
				}
				// dQ += scale·dS·K ; dK += scale·dSᵀ·Q
				gemm.GemmSerial(false, false, m, d, kr, p.scale, dS, kr, K, ld, 1, dqkv[q0*ld+h*d:], ld)
				gemm.GemmSerial(true, false, kr, d, m, p.scale, dS, kr, Q, ld, 1, dqkv[kLo*ld+H+h*d:], ld)
			} else {
				for i := range uniform[:m] {
					uniform[i] = true
				}
			}
			for i := q0; i < q1; i++ {
				if !uniform[i-q0] {
					continue
				}
				// A uniform row's output is the mean of V: each value row gets dO/n.
				inv := 1 / float32(hi-lo)
				for j := lo; j < hi; j++ {
					kernels.Axpy(dqkv[j*ld+2*H+h*d:j*ld+2*H+(h+1)*d], inv, ctx.Grad[i*H+h*d:i*H+(h+1)*d])
				}
			}
		}
	})
}
