package index

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"bioencoder/kernels"
)

// randomVectors draws n vectors of width dim: with clusters > 0 from a
// mixture of Gaussians (closer to real embeddings), otherwise i.i.d.
// Gaussian, the hardest case for a graph index.
func randomVectors(rng *rand.Rand, n, dim, clusters int, normalize bool) []float32 {
	centers := make([]float32, clusters*dim)
	for i := range centers {
		centers[i] = float32(rng.NormFloat64())
	}
	v := make([]float32, n*dim)
	for i := range n {
		c := 0
		if clusters > 0 {
			c = rng.IntN(clusters)
		}
		for j := range dim {
			x := float32(rng.NormFloat64())
			if clusters > 0 {
				x = centers[c*dim+j] + 0.5*x
			}
			v[i*dim+j] = x
		}
	}
	if normalize {
		kernels.L2Normalize(v, dim)
	}
	return v
}

// scaleRows gives unit rows norms uniform in [0.7, 1.3].
func scaleRows(rng *rand.Rand, v []float32, dim int) {
	kernels.L2Normalize(v, dim)
	for i := 0; i < len(v); i += dim {
		kernels.Scale(v[i:i+dim], float32(0.7+0.6*rng.Float64()))
	}
}

// bruteTop is the exact top k by the graph's metric.
func bruteTop(g *graph, q []float32, k int) []cand {
	return topK(k, g.len(), func(i int) (float32, bool) { return g.metric.dist(q, g.vec(uint32(i))), true })
}

func recallAt(got, want []cand) float64 {
	in := map[uint32]bool{}
	for _, c := range want {
		in[c.id] = true
	}
	hit := 0
	for _, c := range got {
		if in[c.id] {
			hit++
		}
	}
	return float64(hit) / float64(len(want))
}

func TestHNSWRecallRandom(t *testing.T) {
	for _, tc := range []struct {
		name      string
		n, dim    int
		clusters  int
		mt        metric
		normalize bool
		m, efC    int
		ef        int
		min       float64
	}{
		{"cosine-64d-gauss", 3000, 64, 0, metricDot, true, 16, 200, 128, 0.98},
		{"cosine-384d-clustered", 2500, 384, 50, metricDot, true, 16, 200, 128, 0.98},
		// Dot product (norms in [0.7, 1.3]) needs a wider beam: large-norm
		// vectors attract every query.
		{"dot-128d-clustered-scaled", 2000, 128, 30, metricDot, false, 16, 200, 256, 0.98},
		{"euclidean-96d-clustered", 2000, 96, 30, metricEuclidean, false, 16, 200, 128, 0.98},
		{"manhattan-64d-clustered", 2000, 64, 20, metricManhattan, false, 16, 200, 128, 0.98},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(tc.dim)))
			g := newGraph(tc.dim, tc.m, tc.efC, tc.mt, 7)
			g.vecs = randomVectors(rng, tc.n, tc.dim, tc.clusters, tc.normalize)
			if tc.mt == metricDot && !tc.normalize {
				scaleRows(rng, g.vecs, tc.dim)
			}
			t0, c0 := time.Now(), cpuTime()
			g.insertRange(0, tc.n, nil)
			build, buildCPU := time.Since(t0), cpuTime()-c0
			const nq, k = 200, 10
			qs := randomVectors(rng, nq, tc.dim, tc.clusters, tc.normalize)
			var sum float64
			got := make([][]cand, nq)
			t1, c1 := time.Now(), cpuTime()
			for i := range nq {
				got[i] = g.search(qs[i*tc.dim:(i+1)*tc.dim], max(tc.ef, k), nil)[:k]
			}
			qt, qCPU := time.Since(t1), cpuTime()-c1
			for i := range nq {
				sum += recallAt(got[i], bruteTop(g, qs[i*tc.dim:(i+1)*tc.dim], k))
			}
			r := sum / nq
			t.Logf("n=%d dim=%d M=%d efC=%d ef=%d: recall@10 %.4f; build %v wall, %v CPU (%.0f µs CPU/insert); query %.0f µs wall, %.0f µs CPU",
				tc.n, tc.dim, tc.m, tc.efC, tc.ef, r, build.Round(time.Millisecond), buildCPU.Round(time.Millisecond),
				float64(buildCPU.Microseconds())/float64(tc.n), float64(qt.Microseconds())/nq, float64(qCPU.Microseconds())/nq)
			if r < tc.min {
				t.Errorf("recall@10 = %.4f, want ≥ %.2f", r, tc.min)
			}
			checkGraph(t, g)
		})
	}
}

// checkGraph verifies the structural invariants the file reader enforces
// and that every node is reachable from the entry point at level 0.
func checkGraph(t *testing.T, g *graph) {
	t.Helper()
	var buf bytes.Buffer
	if err := writeGraph(&buf, g); err != nil {
		t.Fatal(err)
	}
	c, err := readContainer(bytes.NewReader(buf.Bytes()), int64(buf.Len()), "graph", kindGraph)
	if err != nil {
		t.Fatal(err)
	}
	g2, err := readGraph(c, g.len(), g.dim, g.metric)
	if err != nil {
		t.Fatalf("graph does not survive a round trip: %v", err)
	}
	if g2.entry != g.entry || g2.top != g.top || !bytes.Equal(g2.levels, g.levels) {
		t.Fatal("graph header differs after a round trip")
	}
	for i := range g.l0 {
		if g.l0[i] != g2.l0[i] {
			t.Fatal("level-0 links differ after a round trip")
		}
	}
	seen := make([]bool, g.len())
	stack := []uint32{g.entry}
	seen[g.entry] = true
	n := 1
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		l := g.links(x, 0)
		for _, y := range l[1 : 1+l[0]] {
			if !seen[y] {
				seen[y] = true
				n++
				stack = append(stack, y)
			}
		}
	}
	// Heuristic pruning can orphan a node now and then (hnswlib too);
	// searches fall back to brute force when the graph runs short.
	if n < g.len()*99/100 {
		t.Errorf("only %d of %d nodes reachable at level 0", n, g.len())
	} else if n < g.len() {
		t.Logf("%d of %d nodes reachable at level 0", n, g.len())
	}
}

func TestHNSWSkipTombstones(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	const n, dim, k = 2000, 32, 10
	g := newGraph(dim, 8, 100, metricDot, 1)
	g.vecs = randomVectors(rng, n, dim, 20, true)
	g.insertRange(0, n, nil)
	deleted := func(i uint32) bool { return i%3 != 0 } // two thirds gone
	q := randomVectors(rng, 1, dim, 20, true)
	got := g.search(q, 64, deleted)
	want := topK(k, n, func(i int) (float32, bool) { return g.metric.dist(q, g.vec(uint32(i))), !deleted(uint32(i)) })
	for _, c := range got {
		if deleted(c.id) {
			t.Fatalf("search returned deleted node %d", c.id)
		}
	}
	if len(got) < k {
		t.Fatalf("%d results, want ≥ %d", len(got), k)
	}
	if r := recallAt(got[:k], want); r < 0.9 {
		t.Errorf("recall with tombstones %.2f", r)
	}
}

func TestHNSWIncremental(t *testing.T) {
	// Nodes linked in several calls (as Add does) give the same quality as
	// one build.
	rng := rand.New(rand.NewPCG(5, 5))
	const n, dim, k = 3000, 48, 10
	g := newGraph(dim, 16, 200, metricDot, 1)
	g.vecs = randomVectors(rng, n, dim, 40, true)
	for lo := 0; lo < n; lo += 700 {
		g.insertRange(lo, min(lo+700, n), nil)
	}
	checkGraph(t, g)
	qs := randomVectors(rng, 100, dim, 40, true)
	var sum float64
	for i := range 100 {
		q := qs[i*dim : (i+1)*dim]
		sum += recallAt(g.search(q, 100, nil)[:k], bruteTop(g, q, k))
	}
	if r := sum / 100; r < 0.98 {
		t.Errorf("recall@10 after incremental inserts %.4f", r)
	}
}

func TestHNSWSmall(t *testing.T) {
	for _, n := range []int{0, 1, 2, 5, 40} {
		g := newGraph(4, 2, 10, metricEuclidean, 1)
		rng := rand.New(rand.NewPCG(uint64(n), 9))
		g.vecs = randomVectors(rng, n, 4, 0, false)
		g.insertRange(0, n, nil)
		q := []float32{0, 0, 0, 0}
		got := g.search(q, 100, nil)
		if len(got) < n*9/10 {
			t.Errorf("n=%d: search found %d nodes", n, len(got))
		}
		for i := 1; i < len(got); i++ {
			if got[i].d < got[i-1].d {
				t.Errorf("n=%d: results out of order", n)
			}
		}
		if n > 0 {
			checkGraph(t, g)
		}
	}
}

func TestMetricScore(t *testing.T) {
	a, b := []float32{1, 2, 2}, []float32{0, 0, 0}
	if s := metricEuclidean.score(metricEuclidean.dist(a, b)); math.Abs(float64(s)+3) > 1e-6 {
		t.Errorf("euclidean score %v, want -3", s)
	}
	if s := metricManhattan.score(metricManhattan.dist(a, b)); s != -5 {
		t.Errorf("manhattan score %v, want -5", s)
	}
	if s := metricDot.score(metricDot.dist(a, a)); s != 9 {
		t.Errorf("dot score %v, want 9", s)
	}
}

// BenchmarkHNSW builds a graph over 5000 clustered 384-d unit vectors
// (one op = one build) and searches it (one op = one query, efSearch 100).
func BenchmarkHNSWBuild(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	vecs := randomVectors(rng, 5000, 384, 50, true)
	for b.Loop() {
		g := newGraph(384, 16, 200, metricDot, 1)
		g.vecs = vecs
		g.insertRange(0, 5000, nil)
	}
}

func BenchmarkHNSWSearch(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	g := newGraph(384, 16, 200, metricDot, 1)
	g.vecs = randomVectors(rng, 5000, 384, 50, true)
	g.insertRange(0, 5000, nil)
	qs := randomVectors(rng, 100, 384, 50, true)
	i := 0
	for b.Loop() {
		g.search(qs[(i%100)*384:(i%100+1)*384], 100, nil)
		i++
	}
}

func BenchmarkExactSearch(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	st := &state{dim: 384, metric: metricDot, ids: make([]string, 5000)}
	st.vecs = randomVectors(rng, 5000, 384, 50, true)
	st.del.grow(5000)
	q := randomVectors(rng, 1, 384, 50, true)
	for b.Loop() {
		st.exactTop(q, 10)
	}
}
