// Package mining builds training pairs for embeddings, ColBERT and reranker
// models from a corpus of abstracts: section pairs of structured abstracts,
// "similar abstract" pairs found with BM25, and BM25 hard negatives.
//
// Everything is deterministic: BM25 ties are broken by document order,
// parallel work writes to fixed slots, and any sampling draws from a
// generator seeded with (seed, item index), so results do not depend on the
// number of threads.
package mining

import (
	"math"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Okapi BM25 defaults (Lucene's and Elasticsearch's).
const (
	DefaultK1 = 1.2
	DefaultB  = 0.75
)

// Tokenize splits text into lower-case words made of letters, digits and
// combining marks (so that a decomposed accent stays inside its word);
// every other character separates words.
func Tokenize(text string) []string {
	return appendTokens(nil, text)
}

func appendTokens(dst []string, text string) []string {
	start, upper := -1, false
	flush := func(end int) {
		w := text[start:end]
		if upper {
			w = strings.ToLower(w)
		}
		dst = append(dst, w)
		start, upper = -1, false
	}
	for i, r := range text {
		if isWordRune(r) {
			if start < 0 {
				start = i
			}
			if r >= utf8.RuneSelf || ('A' <= r && r <= 'Z') {
				// Non-ASCII letters may change case too; let ToLower decide.
				upper = upper || unicode.ToLower(r) != r
			}
			continue
		}
		if start >= 0 {
			flush(i)
		}
	}
	if start >= 0 {
		flush(len(text))
	}
	return dst
}

func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}

// posting is a document holding a term with the term's precomputed
// contribution to the document's score (its impact): a query is then just
// a sum of impacts.
type posting struct {
	doc    int32
	impact float32
}

// Index is an inverted index of documents scored with Okapi BM25:
//
//	score(q, d) = Σ_{t ∈ q} idf(t) · tf·(k1+1) / (tf + k1·(1 − b + b·|d|/avgdl))
//	idf(t)      = ln(1 + (N − df + 0.5) / (df + 0.5))
//
// where tf is the count of term t in d, |d| the number of tokens of d,
// avgdl their mean over the N documents and df the number of documents
// holding t. The idf is Lucene's, which stays positive for terms in more
// than half of the documents (the original ln((N−df+0.5)/(df+0.5)) goes
// negative there). Each distinct query term counts once.
type Index struct {
	k1, b  float64
	terms  map[string]int32
	post   [][]posting // per term, in ascending document order
	idf    []float64
	norm   []float64 // per document: k1·(1 − b + b·|d|/avgdl)
	avgLen float64
}

// NewIndex indexes docs (document i is docs[i]) with parameters k1 and b.
func NewIndex(docs []string, k1, b float64) *Index {
	ix := &Index{k1: k1, b: b, terms: map[string]int32{}, norm: make([]float64, len(docs))}
	lens := make([]int, len(docs))
	tf := map[int32]int32{}
	var toks []string
	var order []int32
	total := 0
	for d, text := range docs {
		toks = appendTokens(toks[:0], text)
		clear(tf)
		order = order[:0]
		for _, w := range toks {
			id, ok := ix.terms[w]
			if !ok {
				id = int32(len(ix.post))
				ix.terms[w] = id
				ix.post = append(ix.post, nil)
			}
			if tf[id] == 0 {
				order = append(order, id)
			}
			tf[id]++
		}
		for _, id := range order {
			// The impact is filled in once idf and lengths are known.
			ix.post[id] = append(ix.post[id], posting{doc: int32(d), impact: float32(tf[id])})
		}
		lens[d] = len(toks)
		total += len(toks)
	}
	if len(docs) > 0 {
		ix.avgLen = float64(total) / float64(len(docs))
	}
	for d, l := range lens {
		rel := 1.0
		if ix.avgLen > 0 {
			rel = float64(l) / ix.avgLen
		}
		ix.norm[d] = k1 * (1 - b + b*rel)
	}
	n := float64(len(docs))
	ix.idf = make([]float64, len(ix.post))
	for t, p := range ix.post {
		df := float64(len(p))
		idf := math.Log(1 + (n-df+0.5)/(df+0.5))
		ix.idf[t] = idf
		for j := range p {
			tf := float64(p[j].impact)
			p[j].impact = float32(idf * tf * (k1 + 1) / (tf + ix.norm[p[j].doc]))
		}
	}
	return ix
}

// Len is the number of documents.
func (ix *Index) Len() int { return len(ix.norm) }

// Terms is the number of distinct terms.
func (ix *Index) Terms() int { return len(ix.post) }

// AvgLen is the mean document length in tokens.
func (ix *Index) AvgLen() float64 { return ix.avgLen }

// IDF returns the idf of a term (0 for a term no document holds).
func (ix *Index) IDF(term string) float64 {
	if id, ok := ix.terms[term]; ok {
		return ix.idf[id]
	}
	return 0
}

// Hit is one search result.
type Hit struct {
	Doc   int
	Score float64
}

// Searcher runs queries against an index with reusable buffers. It is not
// safe for concurrent use; make one per goroutine.
type Searcher struct {
	ix      *Index
	acc     []float64
	touched []int32
	mark    []uint32 // per term: the query number that last used it
	query   uint32
	toks    []string
}

// NewSearcher returns a searcher over ix.
func (ix *Index) NewSearcher() *Searcher {
	return &Searcher{ix: ix, acc: make([]float64, ix.Len()), mark: make([]uint32, ix.Terms())}
}

// Search returns the k best-scoring documents for query, best first; equal
// scores keep document order. Documents sharing no term with the query are
// never returned. After Search, Score reports the score of any document.
func (s *Searcher) Search(query string, k int) []Hit {
	s.score(query)
	return s.top(k)
}

// Score is the score of doc for the last query searched.
func (s *Searcher) Score(doc int) float64 { return s.acc[doc] }

func (s *Searcher) score(query string) {
	for _, d := range s.touched {
		s.acc[d] = 0
	}
	s.touched = s.touched[:0]
	s.query++
	if s.query == 0 { // wrapped: forget every mark
		clear(s.mark)
		s.query = 1
	}
	s.toks = appendTokens(s.toks[:0], query)
	ix := s.ix
	for _, w := range s.toks {
		id, ok := ix.terms[w]
		if !ok || s.mark[id] == s.query {
			continue
		}
		s.mark[id] = s.query
		for _, p := range ix.post[id] {
			if s.acc[p.doc] == 0 {
				s.touched = append(s.touched, p.doc)
			}
			s.acc[p.doc] += float64(p.impact)
		}
	}
}

// better orders hits: higher score first, then lower document index.
func better(a, b Hit) bool {
	return a.Score > b.Score || (a.Score == b.Score && a.Doc < b.Doc)
}

// top selects the k best touched documents with a bounded min-heap (the
// worst kept hit at the root), then sorts them.
func (s *Searcher) top(k int) []Hit {
	if k <= 0 {
		return nil
	}
	h := make([]Hit, 0, min(k, len(s.touched)))
	down := func(i int) {
		for {
			l := 2*i + 1
			if l >= len(h) {
				return
			}
			w := l
			if r := l + 1; r < len(h) && better(h[l], h[r]) {
				w = r
			}
			if !better(h[i], h[w]) {
				return
			}
			h[i], h[w] = h[w], h[i]
			i = w
		}
	}
	for _, d := range s.touched {
		x := Hit{Doc: int(d), Score: s.acc[d]}
		if x.Score <= 0 {
			continue
		}
		if len(h) < k {
			h = append(h, x)
			for i := len(h) - 1; i > 0; {
				p := (i - 1) / 2
				if !better(h[p], h[i]) {
					break
				}
				h[p], h[i] = h[i], h[p]
				i = p
			}
			continue
		}
		if better(x, h[0]) {
			h[0] = x
			down(0)
		}
	}
	slices.SortFunc(h, func(a, b Hit) int {
		if better(a, b) {
			return -1
		}
		if better(b, a) {
			return 1
		}
		return 0
	})
	return h
}

// Search is a one-off query (see Searcher.Search).
func (ix *Index) Search(query string, k int) []Hit {
	return ix.NewSearcher().Search(query, k)
}
