// Package gemm is bioencoder's float32 matrix-multiply core.
//
// It follows the BLIS design: the product is cut into blocks sized for the
// caches (kc deep, mc rows of A in L2, a B micro-panel of kc×nr in L1), both
// operands are copied ("packed") into contiguous micro-panels, and a
// register-tiled micro-kernel in assembly computes each mr×nr tile of C.
// There are kernels for AVX-512 (12×32 tile), AVX2+FMA (6×16) and portable
// Go (4×4); kernels.Active chooses. Weights of linear layers are packed once
// (Pack) and reused by every call. Work is split over the bioencoder/parallel
// pool along both rows and columns, so even a single-row product uses every
// core, and packing buffers are recycled so steady-state calls allocate
// nothing large.
package gemm

import (
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"

	"bioencoder/kernels"
	"bioencoder/parallel"
)

// Packed is a Linear weight W [n,k] (row-major, PyTorch nn.Linear layout:
// y = x·Wᵀ) packed once for the active kernel path.
//
// Packed keeps a reference to w: if kernels.Active changes later, the next
// call repacks from it (once, thread-safe). After changing w in place (an
// optimiser step), call Repack.
type Packed struct {
	n, k int
	w    []float32
	mu   sync.Mutex // serialises repacking
	pack atomic.Pointer[packing]
}

// packing is W laid out for one kernel set: ceil(n/nr) micro-panels of
// depth k (see pack.go).
type packing struct {
	ks   *kernelSet
	data []float32
}

// Pack packs the weight w [n,k] for the active kernel path. It panics if
// n or k is not positive or len(w) < n·k: callers validate shapes read from
// files before packing.
func Pack(w []float32, n, k int) *Packed {
	if n <= 0 || k <= 0 || len(w) < n*k {
		panic(fmt.Sprintf("gemm: Pack: weight [%d,%d] needs %d floats, have %d", n, k, n*k, len(w)))
	}
	p := &Packed{n: n, k: k, w: w[:n*k]}
	p.current()
	return p
}

// N is the number of output features (rows of W).
func (p *Packed) N() int { return p.n }

// K is the number of input features (columns of W).
func (p *Packed) K() int { return p.k }

// Repack re-reads the weight slice given to Pack after it was changed in
// place. It must not run concurrently with Linear on p.
func (p *Packed) Repack() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pk := p.pack.Load(); pk != nil {
		p.fill(pk)
	}
}

// current returns the packing for the active kernel set, repacking when the
// set changed since the last call. Only one packing is kept: calls still
// running on the old one keep it alive until they finish.
func (p *Packed) current() *packing {
	ks := activeSet()
	if pk := p.pack.Load(); pk != nil && pk.ks == ks {
		return pk
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if pk := p.pack.Load(); pk != nil && pk.ks == ks {
		return pk
	}
	pk := &packing{ks: ks, data: alignedFloats(ceilDiv(p.n, ks.nr) * ks.nr * p.k)}
	p.fill(pk)
	p.pack.Store(pk)
	return pk
}

func (p *Packed) fill(pk *packing) {
	// Op(B) = Wᵀ, i.e. op(B)[q][j] = w[j·k+q]: the transposed case of packB,
	// over the full depth so every kc-block is a contiguous run.
	nr := pk.ks.nr
	panels := ceilDiv(p.n, nr)
	parallel.For(panels, 8, func(lo, hi int) {
		for j := lo; j < hi; j++ {
			cols := min(nr, p.n-j*nr)
			packB(pk.data[j*nr*p.k:(j+1)*nr*p.k], p.w, p.k, true, j*nr, cols, 0, p.k, nr)
		}
	})
}

// Epilogue is fused into the write-back of each output tile while it is hot
// in cache:
//
//	y = Act(x·Wᵀ + Bias) + Residual
//
// Bias is [n] or nil; Residual is [m,n] with row stride n, or nil; Act is an
// element-wise activation. Residual may be y itself only when Act is
// Identity and Accumulate unset (that is y += x·Wᵀ + Bias); otherwise it
// must not overlap y. x must not overlap y.
//
// If Accumulate is set: y += x·Wᵀ (+Bias) (+Residual), with no activation
// (for gradient accumulation); Act must be Identity.
type Epilogue struct {
	Bias       []float32
	Act        kernels.Act
	Residual   []float32
	Accumulate bool
}

// Linear computes y[m,n] = epilogue(x[m,k]·Wᵀ) with x row stride k and y row
// stride n, in parallel on the pool, splitting along both m and n.
// It panics on inconsistent lengths (a programming error).
func Linear(y, x []float32, m int, w *Packed, ep Epilogue) {
	n, k := w.n, w.k
	switch {
	case m < 0:
		panic(fmt.Sprintf("gemm: Linear: m=%d", m))
	case len(x) < m*k:
		panic(fmt.Sprintf("gemm: Linear: x has %d floats, want m·k = %d·%d", len(x), m, k))
	case len(y) < m*n:
		panic(fmt.Sprintf("gemm: Linear: y has %d floats, want m·n = %d·%d", len(y), m, n))
	case ep.Bias != nil && len(ep.Bias) < n:
		panic(fmt.Sprintf("gemm: Linear: bias has %d floats, want n = %d", len(ep.Bias), n))
	case ep.Residual != nil && len(ep.Residual) < m*n:
		panic(fmt.Sprintf("gemm: Linear: residual has %d floats, want m·n = %d·%d", len(ep.Residual), m, n))
	case ep.Accumulate && ep.Act != kernels.Identity:
		panic(fmt.Sprintf("gemm: Linear: Accumulate with activation %s", ep.Act))
	}
	if m == 0 {
		return
	}
	y, x = y[:m*n], x[:m*k]
	if overlaps(x, y) {
		panic("gemm: Linear: x overlaps y")
	}
	accumulate := ep.Accumulate
	residual := ep.Residual
	if residual != nil {
		residual = residual[:m*n]
		if overlaps(residual, y) {
			if &residual[0] != &y[0] || ep.Act != kernels.Identity || ep.Accumulate {
				panic("gemm: Linear: Residual overlaps y (allowed only as y itself, with Act Identity and no Accumulate)")
			}
			accumulate, residual = true, nil
		}
	}

	pk := w.current()
	ks := pk.ks
	c := linearCalls.Get().(*linearCall)
	*c = linearCall{run: c.run, y: y, x: x, m: m, n: n, k: k, pk: pk, bias: ep.Bias, act: ep.Act,
		residual: residual, accumulate: accumulate}
	c.tm, c.tn = split(m, n, k, ks, parallel.Workers(), true)
	parallel.Run(c.tm*c.tn, c.run)
	*c = linearCall{run: c.run}
	linearCalls.Put(c)
}

// linearCall is one Linear call's arguments, pooled together with its bound
// task method so that a call allocates nothing of its own.
type linearCall struct {
	y, x       []float32
	m, n, k    int
	pk         *packing
	bias       []float32
	act        kernels.Act
	residual   []float32
	accumulate bool
	tm, tn     int
	run        func(int)
}

var linearCalls = sync.Pool{New: func() any {
	c := new(linearCall)
	c.run = c.task
	return c
}}

// task computes the t-th block of the tm×tn grid that split chose.
func (c *linearCall) task(t int) {
	ks := c.pk.ks
	mr, nr := ks.mr, ks.nr
	m, n, k := c.m, c.n, c.k
	r0, r1 := share(t/c.tn, c.tm, m, mr)
	p0, p1 := share(t%c.tn, c.tn, ceilDiv(n, nr), 1) // in panels
	if r0 >= r1 || p0 >= p1 {
		return
	}
	ar := getArena()
	mc := blockSize(r1-r0, ks.mc, mr)
	kc := blockSize(k, ks.kc, 8)
	abuf := grow(&ar.a, mc*kc)
	post := c.act != kernels.Identity || c.residual != nil
	group := max(1, epilogueCols/nr) // panels per epilogue pass
	for ic := r0; ic < r1; ic += mc {
		rows := min(mc, r1-ic)
		for pc := 0; pc < k; pc += kc {
			d := min(kc, k-pc)
			packA(abuf, c.x, k, false, 1, ic, rows, pc, d, mr)
			last := pc+d == k
			flags := 0
			if pc > 0 || c.accumulate {
				flags = flagAccumulate
			}
			for jg := p0; jg < p1; jg += group {
				jEnd := min(jg+group, p1)
				for jp := jg; jp < jEnd; jp++ {
					bp := &c.pk.data[jp*nr*k+pc*nr]
					col := jp * nr
					cols := min(nr, n-col)
					var bias []float32
					if last && c.bias != nil {
						bias = c.bias[col : col+cols]
					}
					for ir := 0; ir < rows; ir += mr {
						live := min(mr, rows-ir)
						ap := &abuf[ir*d]
						cp := c.y[(ic+ir)*n+col:]
						if cols == nr {
							var bptr *float32
							if bias != nil {
								bptr = &bias[0]
							}
							ks.kerns[live](d, ap, bp, &cp[0], n, bptr, flags)
						} else {
							tileEdge(ks, ar, live, d, ap, bp, cp, n, cols, bias, flags)
						}
					}
				}
				if last && post {
					c0, c1 := jg*nr, min(jEnd*nr, n)
					for i := ic; i < ic+rows; i++ {
						row := c.y[i*n+c0 : i*n+c1]
						if c.act != kernels.Identity {
							kernels.Activate(c.act, row)
						}
						if c.residual != nil {
							ks.addTo(row, c.residual[i*n+c0:i*n+c1])
						}
					}
				}
			}
		}
	}
	putArena(ar)
}

// epilogueCols is how many columns of a row block get their activation and
// residual at once: few enough that the block is still in L1/L2, many enough
// to amortise the calls.
const epilogueCols = 128

// tileEdge computes a tile that is narrower than nr (the last column panel)
// into a scratch tile and merges the live part into C.
func tileEdge(ks *kernelSet, ar *arena, live, d int, ap, bp *float32, c []float32, ldc, cols int, bias []float32, flags int) {
	tmp := ar.tmp[:]
	ks.kerns[live](d, ap, bp, &tmp[0], ks.nr, nil, 0)
	for r := 0; r < live; r++ {
		row := c[r*ldc : r*ldc+cols]
		t := tmp[r*ks.nr : r*ks.nr+cols]
		for j := range row {
			v := t[j]
			if bias != nil {
				v += bias[j]
			}
			if flags&flagAccumulate != 0 {
				v += row[j]
			}
			row[j] = v
		}
	}
}

// Gemm is row-major BLAS sgemm: C[m,n] = alpha·op(A)·op(B) + beta·C, where
// op(X) is X or Xᵀ and leading dimensions are in elements. A is m×k (k×m
// stored when transA), B is k×n (n×k stored when transB). Both operands are
// packed on the fly, so strided views (a head's slice of Q, K, V) work
// directly. It runs in parallel on the pool. When beta is 0, C is not read
// (NaNs in it do not propagate). C must not overlap A or B. It panics on
// inconsistent arguments.
func Gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemm(parallel.Workers(), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// GemmSerial is Gemm on the calling goroutine only, for callers already
// inside a parallel loop (per-head attention).
func GemmSerial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemm(1, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func gemm(workers int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		for i := 0; i < m; i++ {
			scale(c[i*ldc:i*ldc+n], beta)
		}
		return
	}
	ks := activeSet()
	g := gemmCalls.Get().(*gemmCall)
	*g = gemmCall{run: g.run, ks: ks, transA: transA, transB: transB, m: m, n: n, k: k,
		alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc}
	g.tm, g.tn = split(m, n, k, ks, workers, false)
	if g.tm*g.tn == 1 {
		g.task(0)
	} else {
		parallel.Run(g.tm*g.tn, g.run)
	}
	*g = gemmCall{run: g.run}
	gemmCalls.Put(g)
}

func checkGemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("gemm: Gemm: negative size m=%d n=%d k=%d", m, n, k))
	}
	// need reports the floats a rows×cols matrix with leading dimension ld spans.
	need := func(rows, cols, ld int) int {
		if rows == 0 || cols == 0 {
			return 0
		}
		return (rows-1)*ld + cols
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	switch {
	case lda < max(1, ac):
		panic(fmt.Sprintf("gemm: Gemm: lda=%d < %d", lda, ac))
	case ldb < max(1, bc):
		panic(fmt.Sprintf("gemm: Gemm: ldb=%d < %d", ldb, bc))
	case ldc < max(1, n):
		panic(fmt.Sprintf("gemm: Gemm: ldc=%d < n=%d", ldc, n))
	case len(a) < need(ar, ac, lda):
		panic(fmt.Sprintf("gemm: Gemm: len(a)=%d < %d for a %d×%d matrix with lda=%d", len(a), need(ar, ac, lda), ar, ac, lda))
	case len(b) < need(br, bc, ldb):
		panic(fmt.Sprintf("gemm: Gemm: len(b)=%d < %d for a %d×%d matrix with ldb=%d", len(b), need(br, bc, ldb), br, bc, ldb))
	case len(c) < need(m, n, ldc):
		panic(fmt.Sprintf("gemm: Gemm: len(c)=%d < %d for a %d×%d matrix with ldc=%d", len(c), need(m, n, ldc), m, n, ldc))
	}
}

// gemmCall is one Gemm call's arguments; see linearCall.
type gemmCall struct {
	ks             *kernelSet
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int
	tm, tn         int
	run            func(int)
}

var gemmCalls = sync.Pool{New: func() any {
	g := new(gemmCall)
	g.run = g.task
	return g
}}

// task computes the t-th block of the tm×tn grid, BLIS loop order: column
// blocks of nc, depth blocks of kc (B packed once per block), row blocks of
// mc (A packed), then micro-panels.
func (g *gemmCall) task(t int) {
	ks := g.ks
	mr, nr := ks.mr, ks.nr
	r0, r1 := share(t/g.tn, g.tm, g.m, mr)
	c0, c1 := share(t%g.tn, g.tn, g.n, nr)
	if r0 >= r1 || c0 >= c1 {
		return
	}
	if g.beta != 0 && g.beta != 1 {
		for i := r0; i < r1; i++ {
			scale(g.c[i*g.ldc+c0:i*g.ldc+c1], g.beta)
		}
	}
	ar := getArena()
	kc := blockSize(g.k, ks.kc, 8)
	mc := blockSize(r1-r0, ks.mc, mr)
	nc := blockSize(c1-c0, ks.nc, nr)
	abuf := grow(&ar.a, mc*kc)
	bbuf := grow(&ar.b, nc*kc)
	for jc := c0; jc < c1; jc += nc {
		cols := min(nc, c1-jc)
		for pc := 0; pc < g.k; pc += kc {
			d := min(kc, g.k-pc)
			packB(bbuf, g.b, g.ldb, g.transB, jc, cols, pc, d, nr)
			flags := 0
			if pc > 0 || g.beta != 0 {
				flags = flagAccumulate
			}
			for ic := r0; ic < r1; ic += mc {
				rows := min(mc, r1-ic)
				packA(abuf, g.a, g.lda, g.transA, g.alpha, ic, rows, pc, d, mr)
				for jr := 0; jr < cols; jr += nr {
					bp := &bbuf[jr*d]
					w := min(nr, cols-jr)
					for ir := 0; ir < rows; ir += mr {
						live := min(mr, rows-ir)
						cp := g.c[(ic+ir)*g.ldc+jc+jr:]
						if w == nr {
							ks.kerns[live](d, &abuf[ir*d], bp, &cp[0], g.ldc, nil, flags)
						} else {
							tileEdge(ks, ar, live, d, &abuf[ir*d], bp, cp, g.ldc, w, nil, flags)
						}
					}
				}
			}
		}
	}
	putArena(ar)
}

// scale multiplies x by beta; beta 0 clears x (dropping NaNs, as BLAS does).
func scale(x []float32, beta float32) {
	switch beta {
	case 1:
	case 0:
		clear(x)
	default:
		for i := range x {
			x[i] *= beta
		}
	}
}

// Parallel split. A call is cut into a tm×tn grid of tasks that the pool
// hands out one at a time, a couple per worker, so that a worker slowed by
// other processes is compensated by the others taking more tasks. (More
// tasks per worker cost up to 10% on 1024×384×1536 on an idle machine: each
// task packs its rows of A and streams its columns of B again.)
//
// Waking a parked helper thread takes 60-80 µs on the target VMs (measured
// on the dev VM: time from parallel.Run to the helper's first task). Below
// minParallelFlops (~80 µs on one core) the helper would arrive when the
// work is nearly done, so the call runs on the caller alone. Above it, tasks
// of at least minTaskFlops let the caller make progress while the helper
// wakes up.
//
// These are variables only so that tests can force fine splits of small
// products.
var (
	minParallelFlops = 8 << 20
	minTaskFlops     = 2 << 20
	tasksPerWorker   = 2
)

// split chooses the task grid for an m×n×k product. Cutting along n makes
// every task pack the same rows of A again; cutting along m makes every task
// stream (Linear) or pack (Gemm) the same columns of B again. split picks the
// grid with at least the wanted number of tasks that duplicates the least.
func split(m, n, k int, ks *kernelSet, workers int, prepackedB bool) (tm, tn int) {
	mt, nt := ceilDiv(m, ks.mr), ceilDiv(n, ks.nr)
	flops := 2 * float64(m) * float64(n) * float64(k)
	want := min(int(flops/float64(minTaskFlops)), workers*tasksPerWorker, mt*nt)
	if workers <= 1 || want <= 1 || flops < float64(minParallelFlops) {
		return 1, 1
	}
	best := -1.0
	for cm := 1; cm <= min(mt, want); cm++ {
		cn := min(ceilDiv(want, cm), nt)
		var cost float64
		if prepackedB {
			// Re-packing A (a scalar copy, ~0.5 cycle per float) vs streaming
			// packed B from L3 once per mc-row block (~0.1 cycle per float).
			blocks := cm * ceilDiv(ceilDiv(m, cm), ks.mc)
			cost = 5*float64(cn*m) + float64(blocks*n)
		} else {
			cost = float64(cn*m + cm*n)
		}
		if best < 0 || cost < best {
			best, tm, tn = cost, cm, cn
		}
	}
	return tm, tn
}

// share returns part i of parts of [0, n) in units of unit (the last part
// takes the remainder), as element offsets.
func share(i, parts, n, unit int) (lo, hi int) {
	units := ceilDiv(n, unit)
	lo = i * units / parts * unit
	hi = min((i+1)*units/parts*unit, n)
	return lo, hi
}

// blockSize splits n into the fewest blocks of at most limit, of equal size
// rounded up to a multiple of unit, so there is no sliver of a block at the
// end.
func blockSize(n, limit, unit int) int {
	nb := ceilDiv(n, limit)
	s := ceilDiv(ceilDiv(n, nb), unit) * unit
	return min(s, max(limit/unit*unit, unit))
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// overlaps reports whether two slices share memory.
func overlaps(a, b []float32) bool {
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	a0 := uintptr(unsafe.Pointer(&a[0]))
	b0 := uintptr(unsafe.Pointer(&b[0]))
	return a0 < b0+uintptr(len(b))*4 && b0 < a0+uintptr(len(a))*4
}
