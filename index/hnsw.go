package index

import (
	"math"
	"sort"
	"sync"

	"bioencoder/kernels"
	"bioencoder/parallel"
)

// metric is how the graph compares vectors. Internally everything is a
// distance (smaller is closer); score converts back to the model's
// similarity (higher is closer).
type metric uint8

const (
	metricDot       metric = iota // -⟨a,b⟩ (cosine: vectors are stored L2-normalised)
	metricEuclidean               // squared L2
	metricManhattan               // L1
)

func (m metric) dist(a, b []float32) float32 {
	switch m {
	case metricEuclidean:
		var s float32
		for i := range a {
			d := a[i] - b[i]
			s += d * d
		}
		return s
	case metricManhattan:
		var s float32
		for i := range a {
			s += float32(math.Abs(float64(a[i] - b[i])))
		}
		return s
	}
	return -kernels.Dot(a, b)
}

// score turns a distance back into the model's similarity.
func (m metric) score(d float32) float32 {
	switch m {
	case metricEuclidean:
		return -float32(math.Sqrt(float64(max(d, 0))))
	case metricManhattan:
		return -d
	}
	return -d
}

// maxLevel caps node levels: with M ≥ 2 a level above 16 needs more nodes
// than a uint32 id space holds, and a cap keeps decoded files bounded.
const maxLevel = 16

// noNode marks an empty graph's entry point.
const noNode = math.MaxUint32

// graph is a Hierarchical Navigable Small World graph (Malkov & Yashunin,
// 2016) over the rows of vecs. Node i is row i. Links are stored as
// fixed-capacity lists, a count followed by the neighbour ids: level 0 in
// one flat array, higher levels per node.
//
// Readers search without locks; insert is safe to run from many goroutines
// at once (per-node locks, as hnswlib does) but never together with
// readers - the Index's RWMutex sees to that.
type graph struct {
	dim    int
	m, m0  int // links per node above level 0 / at level 0
	efC    int
	metric metric
	seed   uint64
	vecs   []float32 // row i = node i; owned by the index state

	levels []uint8
	l0     []uint32   // per node: count, m0 ids
	upper  [][]uint32 // per node with level > 0: per level 1..L: count, m ids
	entry  uint32
	top    int // level of the entry point

	epMu  sync.Mutex
	locks []sync.Mutex // per node, used by concurrent inserts only
	pool  sync.Pool    // *searcher
}

func newGraph(dim, m, efC int, mt metric, seed uint64) *graph {
	return &graph{dim: dim, m: m, m0: 2 * m, efC: efC, metric: mt, seed: seed, entry: noNode}
}

func (g *graph) len() int { return len(g.levels) }

// dist is the distance from q to node i.
func (g *graph) dist(q []float32, i uint32) float32 { return g.metric.dist(q, g.vec(i)) }

func (g *graph) vec(i uint32) []float32 {
	return g.vecs[int(i)*g.dim : int(i+1)*g.dim]
}

// links is node i's list at level lc: [count, ids...].
func (g *graph) links(i uint32, lc int) []uint32 {
	if lc == 0 {
		return g.l0[int(i)*(g.m0+1) : int(i+1)*(g.m0+1)]
	}
	return g.upper[i][(lc-1)*(g.m+1) : lc*(g.m+1)]
}

// randomLevel draws node i's level from the exponential distribution with
// mL = 1/ln(M), from a hash of the seed and the node id so a build is
// reproducible.
func (g *graph) randomLevel(i uint32) uint8 {
	x := splitmix64(g.seed ^ (uint64(i) * 0x9e3779b97f4a7c15))
	u := (float64(x>>11) + 0.5) / (1 << 53) // (0,1)
	l := int(-math.Log(u) / math.Log(float64(g.m)))
	return uint8(min(l, maxLevel))
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// grow makes room for nodes up to n (their vectors must already be in
// vecs) without linking them.
func (g *graph) grow(n int) {
	old := g.len()
	for i := old; i < n; i++ {
		l := g.randomLevel(uint32(i))
		g.levels = append(g.levels, l)
		var up []uint32
		if l > 0 {
			up = make([]uint32, int(l)*(g.m+1))
		}
		g.upper = append(g.upper, up)
	}
	g.l0 = append(g.l0, make([]uint32, (n-old)*(g.m0+1))...)
	if len(g.locks) < n {
		// Every lock is free between inserts, so fresh ones are equivalent.
		g.locks = make([]sync.Mutex, max(n, 2*len(g.locks)))
	}
}

// insertRange links nodes [lo, hi), in parallel on the worker pool.
// progress, if set, is called with the number of nodes linked so far.
func (g *graph) insertRange(lo, hi int, progress func(done int)) {
	if lo >= hi {
		return
	}
	g.grow(hi)
	// The first node is the entry point; the next few are linked one by one
	// so parallel inserts start from a connected core.
	seq := min(hi, max(lo, 1+g.m0))
	s := g.searcher()
	for i := lo; i < seq; i++ {
		g.insert(s, uint32(i))
	}
	g.pool.Put(s)
	const step = 1024
	for a := seq; a < hi; a += step {
		b := min(a+step, hi)
		parallel.For(b-a, 16, func(x, y int) {
			s := g.searcher()
			for i := a + x; i < a+y; i++ {
				g.insert(s, uint32(i))
			}
			g.pool.Put(s)
		})
		if progress != nil {
			progress(b - lo)
		}
	}
	if progress != nil {
		progress(hi - lo)
	}
}

// insert links node q (its level already drawn by grow).
func (g *graph) insert(s *searcher, q uint32) {
	level := int(g.levels[q])
	g.epMu.Lock()
	if g.entry == noNode {
		g.entry, g.top = q, level
		g.epMu.Unlock()
		return
	}
	ep, top := g.entry, g.top
	hold := level > top // a new top level: keep others off the entry point
	if !hold {
		g.epMu.Unlock()
	}
	qv := g.vec(q)
	cur, curD := ep, g.dist(qv, ep)
	for lc := top; lc > level; lc-- {
		cur, curD = g.greedy(s, qv, cur, curD, lc, true)
	}
	s.eps = append(s.eps[:0], cand{curD, cur})
	for lc := min(level, top); lc >= 0; lc-- {
		w := g.searchLayer(s, qv, s.eps, g.efC, lc, true, nil)
		// Drop q itself, which a concurrent insert may already have linked.
		k := 0
		for _, c := range w {
			if c.id != q {
				w[k] = c
				k++
			}
		}
		w = w[:k]
		s.eps = append(s.eps[:0], w...)
		// addLink reuses the selection buffer, so keep a copy.
		sel := append(s.chosen[:0], g.selectNeighbors(s, s.eps, g.m)...)
		s.chosen = sel
		g.locks[q].Lock()
		l := g.links(q, lc)
		l[0] = uint32(len(sel))
		for j, c := range sel {
			l[1+j] = c.id
		}
		g.locks[q].Unlock()
		capacity := g.m
		if lc == 0 {
			capacity = g.m0
		}
		for _, c := range sel {
			g.locks[c.id].Lock()
			g.addLink(s, c.id, q, c.d, lc, capacity)
			g.locks[c.id].Unlock()
		}
	}
	if hold {
		g.entry, g.top = q, level
		g.epMu.Unlock()
	}
}

// greedy walks from cur to the closest node it can reach at level lc.
func (g *graph) greedy(s *searcher, q []float32, cur uint32, curD float32, lc int, lock bool) (uint32, float32) {
	for changed := true; changed; {
		changed = false
		for _, nb := range g.neighbors(s, cur, lc, lock) {
			if d := g.dist(q, nb); d < curD {
				cur, curD, changed = nb, d, true
			}
		}
	}
	return cur, curD
}

// neighbors returns node i's neighbours at level lc (a copy taken under the
// node's lock while inserts run).
func (g *graph) neighbors(s *searcher, i uint32, lc int, lock bool) []uint32 {
	if !lock {
		l := g.links(i, lc)
		return l[1 : 1+l[0]]
	}
	g.locks[i].Lock()
	l := g.links(i, lc)
	s.nb = append(s.nb[:0], l[1:1+l[0]]...)
	g.locks[i].Unlock()
	return s.nb
}

// addLink adds q (at distance d from e) to e's list at level lc, pruning
// with the neighbour heuristic when the list is full. The caller holds e's
// lock.
func (g *graph) addLink(s *searcher, e, q uint32, d float32, lc, capacity int) {
	l := g.links(e, lc)
	n := int(l[0])
	for _, x := range l[1 : 1+n] {
		if x == q {
			return
		}
	}
	if n < capacity {
		l[1+n] = q
		l[0]++
		return
	}
	ev := g.vec(e)
	cs := append(s.prune[:0], cand{d, q})
	for _, x := range l[1 : 1+n] {
		cs = append(cs, cand{g.dist(ev, x), x})
	}
	sortCands(cs)
	sel := g.selectNeighbors(s, cs, capacity)
	l[0] = uint32(len(sel))
	for j, c := range sel {
		l[1+j] = c.id
	}
	s.prune = cs
}

// selectNeighbors is the HNSW neighbour heuristic (algorithm 4 without
// extension or pruned-connection filling): walking candidates from the
// closest, keep one only if it is closer to the base than to every one
// kept, which favours links in diverse directions. cs must be sorted
// closest first; the result reuses the searcher's buffer.
func (g *graph) selectNeighbors(s *searcher, cs []cand, m int) []cand {
	if len(cs) <= m {
		return append(s.sel[:0], cs...)
	}
	sel := s.sel[:0]
	for _, c := range cs {
		if len(sel) >= m {
			break
		}
		cv := g.vec(c.id)
		good := true
		for _, r := range sel {
			if g.dist(cv, r.id) < c.d {
				good = false
				break
			}
		}
		if good {
			sel = append(sel, c)
		}
	}
	s.sel = sel
	return sel
}

// searchLayer is the HNSW beam search at one level: it returns up to ef
// nodes closest to q, closest first, in the searcher's buffer. Nodes for
// which skip is true (tombstones) are walked through but not returned.
func (g *graph) searchLayer(s *searcher, q []float32, eps []cand, ef, lc int, lock bool, skip func(uint32) bool) []cand {
	s.visit(g.len())
	s.cand.reset()
	s.res.reset()
	for _, e := range eps {
		if s.seen(e.id) {
			continue
		}
		s.cand.push(near(e))
		if skip == nil || !skip(e.id) {
			s.res.push(e)
		}
	}
	for s.res.len() > ef {
		s.res.pop()
	}
	for s.cand.len() > 0 {
		c := near(s.cand.pop())
		if s.res.len() > 0 && c.d > s.res.top().d && (s.res.len() >= ef || skip == nil) {
			break
		}
		for _, nb := range g.neighbors(s, c.id, lc, lock) {
			if s.seen(nb) {
				continue
			}
			d := g.dist(q, nb)
			if s.res.len() < ef || d < s.res.top().d {
				s.cand.push(near(cand{d, nb}))
				if skip == nil || !skip(nb) {
					s.res.push(cand{d, nb})
					if s.res.len() > ef {
						s.res.pop()
					}
				}
			}
		}
	}
	out := s.out[:0]
	for s.res.len() > 0 {
		out = append(out, s.res.pop())
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	s.out = out
	return out
}

// search returns up to ef nodes closest to q (closest first) that skip does
// not reject. The result is the caller's to keep.
func (g *graph) search(q []float32, ef int, skip func(uint32) bool) []cand {
	if g.entry == noNode {
		return nil
	}
	s := g.searcher()
	defer g.pool.Put(s)
	cur := g.entry
	curD := g.dist(q, cur)
	for lc := g.top; lc > 0; lc-- {
		cur, curD = g.greedy(s, q, cur, curD, lc, false)
	}
	w := g.searchLayer(s, q, []cand{{curD, cur}}, ef, 0, false, skip)
	return append([]cand(nil), w...)
}

// cand is a node and its distance to the query.
type cand struct {
	d  float32
	id uint32
}

// less orders by distance, then id, so ties resolve the same way every time.
func (a cand) less(b cand) bool { return a.d < b.d || (a.d == b.d && a.id < b.id) }

func sortCands(cs []cand) { sort.Slice(cs, func(i, j int) bool { return cs[i].less(cs[j]) }) }

// searcher is one goroutine's scratch space for searches and inserts.
type searcher struct {
	marks  []uint32
	mark   uint32
	cand   heap // closest on top
	res    heap // farthest on top
	eps    []cand
	out    []cand
	sel    []cand
	prune  []cand
	chosen []cand
	nb     []uint32
}

func (g *graph) searcher() *searcher {
	if s, ok := g.pool.Get().(*searcher); ok {
		return s
	}
	return &searcher{}
}

// visit starts a new visited set over n nodes.
func (s *searcher) visit(n int) {
	if len(s.marks) < n {
		s.marks = make([]uint32, n+n/4)
		s.mark = 0
	}
	s.mark++
	if s.mark == 0 {
		clear(s.marks)
		s.mark = 1
	}
}

// seen marks i visited and reports whether it already was.
func (s *searcher) seen(i uint32) bool {
	if s.marks[i] == s.mark {
		return true
	}
	s.marks[i] = s.mark
	return false
}

// heap is a binary max-heap of candidates, farthest on top. The beam's
// candidate queue, closest on top, is the same heap over negated entries
// (see near): a second copy of the sift code would be the alternative.
type heap struct{ a []cand }

func (h *heap) reset()    { h.a = h.a[:0] }
func (h *heap) len() int  { return len(h.a) }
func (h *heap) top() cand { return h.a[0] }

func (h *heap) push(c cand) {
	h.a = append(h.a, c)
	a := h.a
	for i := len(a) - 1; i > 0; {
		p := (i - 1) / 2
		if !a[p].less(a[i]) {
			break
		}
		a[i], a[p] = a[p], a[i]
		i = p
	}
}

func (h *heap) pop() cand {
	a := h.a
	top := a[0]
	n := len(a) - 1
	a[0] = a[n]
	a = a[:n]
	h.a = a
	for i := 0; ; {
		l, r, b := 2*i+1, 2*i+2, i
		if l < n && a[b].less(a[l]) {
			b = l
		}
		if r < n && a[b].less(a[r]) {
			b = r
		}
		if b == i {
			break
		}
		a[i], a[b] = a[b], a[i]
		i = b
	}
	return top
}

// near maps a candidate to a key whose max-heap order is the closest-first
// order of the original (distance negated, id complemented for ties); it
// is its own inverse.
func near(c cand) cand { return cand{-c.d, ^c.id} }
