package index

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"bioencoder/gemm"
	"bioencoder/kernels"
	"bioencoder/parallel"
)

// Search returns the k documents most similar to query, best first, using
// the graph with the index's efSearch.
func (ix *Index) Search(ctx context.Context, query string, k int) ([]Hit, error) {
	return ix.SearchWith(ctx, query, SearchOptions{K: k})
}

// SearchWith is Search with options: exact (brute-force) search, a beam
// width, a cross-encoder rerank.
func (ix *Index) SearchWith(ctx context.Context, query string, o SearchOptions) ([]Hit, error) {
	if o.K <= 0 {
		return nil, fmt.Errorf("index: k = %d, want a positive number of results", o.K)
	}
	if o.EfSearch < 0 || o.RerankDepth < 0 {
		return nil, errors.New("index: efSearch and rerank depth must not be negative")
	}
	if err := ix.usable(); err != nil {
		return nil, err
	}
	if ix.model == nil {
		return nil, errNoModel
	}
	dim, multi, norm, err := ix.params()
	if err != nil {
		return nil, err
	}
	var q []float32
	nq := 1
	if multi {
		v, err := ix.model.EncodeColBERT(ctx, []string{query}, true)
		if err != nil {
			return nil, err
		}
		nq = len(v[0])
		for _, r := range v[0] {
			q = append(q, r...)
		}
	} else {
		v, err := ix.model.EmbedQuery(ctx, []string{query})
		if err != nil {
			return nil, err
		}
		q = v[0]
		if norm {
			kernels.L2Normalize(q, dim)
		}
	}
	if len(q) != nq*dim {
		return nil, fmt.Errorf("index: query vectors of %d values, want %d×%d", len(q), nq, dim)
	}
	depth := o.K
	if o.Reranker != nil {
		depth = max(depth, o.RerankDepth)
	}
	hits, err := ix.searchVectors(ctx, q, nq, depth, o)
	if err != nil {
		return nil, err
	}
	if o.Reranker != nil && len(hits) > 0 {
		texts := make([]string, len(hits))
		for i, h := range hits {
			texts[i] = h.Text
		}
		scores, err := o.Reranker.Rerank(ctx, query, texts)
		if err != nil {
			return nil, fmt.Errorf("index: rerank: %w", err)
		}
		for i := range hits {
			hits[i].Score = scores[i]
		}
		sort.SliceStable(hits, func(a, b int) bool { return hits[a].Score > hits[b].Score })
	}
	if len(hits) > o.K {
		hits = hits[:o.K]
	}
	return hits, nil
}

// SearchVector searches with a query vector already computed (dense
// indexes: the model's query embedding; ColBERT: the query's token vectors
// laid end to end). It skips the model, so tests and tools can compare
// exact and graph search on the same vector.
func (ix *Index) SearchVector(ctx context.Context, q []float32, o SearchOptions) ([]Hit, error) {
	if o.K <= 0 {
		return nil, fmt.Errorf("index: k = %d, want a positive number of results", o.K)
	}
	dim, multi, norm, err := ix.params()
	if err != nil {
		return nil, err
	}
	if len(q) == 0 || len(q)%dim != 0 || (!multi && len(q) != dim) {
		return nil, fmt.Errorf("index: query vector of %d values for an index of %d dimensions", len(q), dim)
	}
	q = append([]float32(nil), q...)
	if norm {
		kernels.L2Normalize(q, dim)
	}
	return ix.searchVectors(ctx, q, len(q)/dim, o.K, o)
}

// scored is a slot and its distance (negated similarity).
type scored = cand

func (ix *Index) searchVectors(ctx context.Context, q []float32, nq, k int, o SearchOptions) ([]Hit, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	st := ix.st
	if st == nil {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ef := o.EfSearch
	if ef == 0 {
		ef = st.man.HNSW.EfSearch
	}
	var res []scored
	switch {
	case st.multi && o.Exact:
		res = st.maxSimTop(q, nq, st.liveSlots(), k)
	case st.multi:
		res = st.maxSimTop(q, nq, st.colbertCandidates(q, nq, max(ef, k)), k)
	case o.Exact:
		res = st.exactTop(q, k)
	default:
		res = st.graphTop(q, k, max(ef, k))
	}
	hits := make([]Hit, len(res))
	for i, r := range res {
		meta, err := decodeMeta(st.meta[r.id])
		if err != nil {
			return nil, fmt.Errorf("index: document %q: metadata: %v", st.ids[r.id], err)
		}
		score := -r.d
		if !st.multi {
			score = st.metric.score(r.d)
		}
		hits[i] = Hit{ID: st.ids[r.id], Score: score, Text: st.texts[r.id], Metadata: meta}
	}
	return hits, nil
}

func (st *state) liveSlots() []uint32 {
	out := make([]uint32, 0, st.slots()-st.nDel)
	for i := range st.slots() {
		if !st.del.has(i) {
			out = append(out, uint32(i))
		}
	}
	return out
}

// graphTop searches the graph for k live documents, widening the beam when
// tombstones crowd the results.
func (st *state) graphTop(q []float32, k, ef int) []scored {
	live := st.slots() - st.nDel
	skip := st.deletedNode
	if st.nDel == 0 {
		skip = nil
	}
	for {
		res := st.g.search(q, ef, skip)
		if len(res) >= k || len(res) >= live {
			return res[:min(k, len(res))]
		}
		if ef >= st.g.len() {
			// The graph cannot reach enough live nodes (a rare node whose
			// in-links were all pruned, or documents not linked yet).
			return st.exactTop(q, k)
		}
		ef = min(ef*4, st.g.len())
	}
}

// exactTop scores every live document, rows split over the worker pool.
// A row-by-row kernels.Dot beats gemm here: for a single query row gemm
// packs the whole matrix first (measured 10× slower at 5000×384).
func (st *state) exactTop(q []float32, k int) []scored {
	n := st.slots()
	d := make([]float32, n)
	if st.metric == metricDot {
		parallel.For(n, 512, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				d[i] = -kernels.Dot(q, st.vecs[i*st.dim:(i+1)*st.dim])
			}
		})
	} else {
		parallel.For(n, 256, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				d[i] = st.metric.dist(q, st.vecs[i*st.dim:(i+1)*st.dim])
			}
		})
	}
	return topK(k, n, func(i int) (float32, bool) { return d[i], !st.del.has(i) })
}

// topK keeps the k smallest distances among n items (ties: lower index
// first), best first.
func topK(k, n int, at func(i int) (float32, bool)) []scored {
	h := heap{}
	for i := range n {
		d, ok := at(i)
		if !ok {
			continue
		}
		c := cand{d, uint32(i)}
		if h.len() < k {
			h.push(c)
		} else if c.less(h.top()) {
			h.pop()
			h.push(c)
		}
	}
	out := make([]scored, h.len())
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = h.pop()
	}
	return out
}

// colbertCandidates is ColBERT's first stage: the documents owning each
// query vector's ef nearest token vectors in the graph.
func (st *state) colbertCandidates(q []float32, nq, ef int) []uint32 {
	skip := st.deletedNode
	if st.nDel == 0 {
		skip = nil
	}
	found := make([][]cand, nq)
	parallel.Run(nq, func(i int) {
		found[i] = st.g.search(q[i*st.dim:(i+1)*st.dim], ef, skip)
	})
	seen := map[uint32]bool{}
	var docs []uint32
	for _, f := range found {
		for _, c := range f {
			if d := st.tokDoc[c.id]; !seen[d] {
				seen[d] = true
				docs = append(docs, d)
			}
		}
	}
	sort.Slice(docs, func(a, b int) bool { return docs[a] < docs[b] })
	return docs
}

// maxSimTop scores the given documents by exact MaxSim, Σ_i max_j ⟨q_i,
// d_j⟩, and keeps the best k. Candidate and exhaustive search share this
// code, so both give a document bit-identical scores.
func (st *state) maxSimTop(q []float32, nq int, docs []uint32, k int) []scored {
	d := make([]float32, len(docs))
	parallel.For(len(docs), 8, func(lo, hi int) {
		var buf []float32
		for i := lo; i < hi; i++ {
			d[i] = -st.maxSim(q, nq, docs[i], &buf)
		}
	})
	res := topK(k, len(docs), func(i int) (float32, bool) { return d[i], true })
	for i := range res {
		res[i].id = docs[res[i].id]
	}
	// Re-sort so that ties resolve by slot, not by position in docs.
	sortCands(res)
	return res
}

// maxSim scores one document; *scratch is reused between calls.
func (st *state) maxSim(q []float32, nq int, slot uint32, scratch *[]float32) float32 {
	a, b := int(st.tokOff[slot]), int(st.tokOff[slot+1])
	nt := b - a
	if nt == 0 {
		return 0
	}
	if cap(*scratch) < nq*nt {
		*scratch = make([]float32, nq*nt)
	}
	buf := (*scratch)[:nq*nt]
	gemm.GemmSerial(false, true, nq, nt, st.dim, 1, q, st.dim, st.vecs[a*st.dim:b*st.dim], st.dim, 0, buf, nt)
	var s float32
	for i := range nq {
		s += kernels.Max(buf[i*nt : (i+1)*nt])
	}
	return s
}
