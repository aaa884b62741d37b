package mining

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"bioencoder/parallel"
)

// Pair is a training pair: an anchor text and its positive, each taken
// from a document field. Negatives, when mined, are the positive's field
// of other documents.
type Pair struct {
	Anchor, Positive string
	AnchorDoc        int   // index into the documents; -1 for a pair from elsewhere
	PositiveDoc      int   // the same as AnchorDoc for section pairs; -1 for a pair from elsewhere
	PositiveField    Field // what a negative of this pair is made of
	// BM25 pairs: the positive document's score for the anchor, and that
	// score over the anchor document's own score.
	Score, Rel float64
}

// DefaultSectionPairs are the section pairs of a structured abstract taken
// by default.
const DefaultSectionPairs = "BACKGROUND:CONCLUSIONS,BACKGROUND:RESULTS,RESULTS:CONCLUSIONS"

// ParseSectionPairs parses "A:B,C:D,..." (fields, see ParseField) into
// (anchor, positive) field pairs.
func ParseSectionPairs(s string) ([][2]Field, error) {
	var out [][2]Field
	for _, p := range strings.Split(s, ",") {
		// "lead:N" holds a colon too: glue a number back onto a preceding
		// "lead", as in "BACKGROUND|lead:2:CONCLUSIONS".
		var parts []string
		for _, x := range strings.Split(strings.TrimSpace(p), ":") {
			if n := len(parts); n > 0 && isNumber(x) && strings.HasSuffix(strings.ToLower(strings.TrimSpace(parts[n-1])), "lead") {
				parts[n-1] += ":" + x
				continue
			}
			parts = append(parts, x)
		}
		if len(parts) != 2 {
			return nil, fmt.Errorf("mining: section pair %q: want ANCHOR:POSITIVE, e.g. BACKGROUND:CONCLUSIONS", p)
		}
		a, b := parts[0], parts[1]
		fa, err := ParseField(a)
		if err != nil {
			return nil, err
		}
		fb, err := ParseField(b)
		if err != nil {
			return nil, err
		}
		out = append(out, [2]Field{fa, fb})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("mining: no section pairs in %q", s)
	}
	return out, nil
}

func isNumber(s string) bool {
	s = strings.TrimSpace(s)
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// SectionPairs makes (anchor, positive) pairs from the sections of each
// document: for every document in order and every field pair in order, a
// pair when both fields are present and differ.
func SectionPairs(docs []Doc, specs [][2]Field) []Pair {
	var out []Pair
	for i := range docs {
		for _, s := range specs {
			a, b := s[0].Of(&docs[i]), s[1].Of(&docs[i])
			if a == "" || b == "" || a == b {
				continue
			}
			out = append(out, Pair{Anchor: a, Positive: b, AnchorDoc: i, PositiveDoc: i, PositiveField: s[1]})
		}
	}
	return out
}

// Miner searches a BM25 index over one field of the documents.
type Miner struct {
	Docs  []Doc
	Index *Index
	Field Field // the indexed field
}

// NewMiner indexes field of every document with BM25 (k1, b).
func NewMiner(docs []Doc, field Field, k1, b float64) *Miner {
	texts := make([]string, len(docs))
	for i := range docs {
		texts[i] = field.Of(&docs[i])
	}
	return &Miner{Docs: docs, Index: NewIndex(texts, k1, b), Field: field}
}

// SimilarOptions configure SimilarPairs.
type SimilarOptions struct {
	// Query is the anchor: the field of each document searched with
	// (default "BACKGROUND|lead").
	Query Field
	// Target is the positive's field, taken from the matched document
	// (default: Query).
	Target Field
	// MinRel is the least score of the best other document relative to
	// the anchor document's own score for the same query (default 0.3).
	// The ratio makes the rule independent of query length: the anchor
	// document is the ideal match for its own text.
	MinRel float64
	// MinScore is an absolute floor on the BM25 score (default 0).
	MinScore float64
}

func (o *SimilarOptions) defaults() {
	if o.Query.IsZero() {
		o.Query = MustField("BACKGROUND|lead")
	}
	if o.Target.IsZero() {
		o.Target = o.Query
	}
	if o.MinRel == 0 {
		o.MinRel = 0.3
	}
}

// SimilarPairs pairs each document with the other document that BM25 ranks
// best for its Query field, when that document's score is at least
// MinScore and at least MinRel times the anchor document's own score. The
// pair is (anchor's Query field, match's Target field). A pair is kept
// once: when two documents match each other, the pair of the first one in
// document order stays. Documents whose Query or matched Target field is
// empty are skipped.
func (m *Miner) SimilarPairs(o SimilarOptions) []Pair {
	o.defaults()
	n := len(m.Docs)
	found := make([]Pair, n)
	ok := make([]bool, n)
	parallel.For(n, grain(n), func(lo, hi int) {
		s := m.Index.NewSearcher()
		for i := lo; i < hi; i++ {
			q := o.Query.Of(&m.Docs[i])
			if q == "" {
				continue
			}
			hits := s.Search(q, 2)
			self := s.Score(i)
			for _, h := range hits {
				if h.Doc == i {
					continue
				}
				if self <= 0 || h.Score < o.MinScore || h.Score < o.MinRel*self {
					break
				}
				t := o.Target.Of(&m.Docs[h.Doc])
				if t == "" || t == q {
					break
				}
				found[i] = Pair{Anchor: q, Positive: t, AnchorDoc: i, PositiveDoc: h.Doc, PositiveField: o.Target,
					Score: h.Score, Rel: h.Score / self}
				ok[i] = true
				break
			}
		}
	})
	var out []Pair
	seen := map[[2]int]bool{}
	for i := range found {
		if !ok[i] {
			continue
		}
		p := found[i]
		key := [2]int{min(p.AnchorDoc, p.PositiveDoc), max(p.AnchorDoc, p.PositiveDoc)}
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, p)
	}
	return out
}

// NegativeOptions configure HardNegatives.
type NegativeOptions struct {
	N int // negatives per pair
	// Skip leaves out the first Skip ranks of the search (after the anchor
	// and positive documents are removed): the very top of a BM25 ranking
	// often holds documents that are as relevant as the positive (false
	// negatives), so hard-negative mining commonly starts a few ranks down.
	// Default 3; set it to -1 for 0.
	Skip int
	// Pool is how many ranks after Skip the negatives are drawn from: N of
	// them at random (seeded) when Pool > N, else the next N ranks.
	Pool int
	// MaxRel drops a candidate scoring at least MaxRel times the positive
	// document's score for the anchor (a positive-aware false-negative
	// filter, as in NV-Retriever; default 0.95; > 1 disables it). Pairs
	// whose positive is not a corpus document (PositiveDoc -1) skip it.
	MaxRel float64
	Seed   uint64
}

// HardNegatives finds N negatives for every pair: the PositiveField of
// other documents that BM25 ranks high for the anchor text, skipping the
// anchor's and the positive's documents, the first Skip ranks, candidates
// scoring too close to the positive (MaxRel) and candidates whose text is
// empty or equal to the positive. negs[i] has N texts, or is nil when
// fewer than N candidates qualified (such pairs should be dropped: every
// training row needs the same number of columns).
func (m *Miner) HardNegatives(pairs []Pair, o NegativeOptions) (negs [][]string) {
	if o.N <= 0 {
		return make([][]string, len(pairs))
	}
	switch {
	case o.Skip == 0:
		o.Skip = 3
	case o.Skip < 0:
		o.Skip = 0
	}
	o.Pool = max(o.Pool, o.N)
	if o.MaxRel == 0 {
		o.MaxRel = 0.95
	}
	negs = make([][]string, len(pairs))
	parallel.For(len(pairs), grain(len(pairs)), func(lo, hi int) {
		s := m.Index.NewSearcher()
		for i := lo; i < hi; i++ {
			p := &pairs[i]
			// Ask for enough hits to survive the exclusions; search again
			// deeper in the rare case they were not enough.
			want := o.Skip + o.Pool
			var cands []string
			for k := want + 8; ; k *= 4 {
				hits := s.Search(p.Anchor, k)
				cands = m.candidates(s, hits, p, o)
				if len(cands) >= want || len(hits) < k {
					break
				}
			}
			if len(cands) <= o.Skip {
				continue
			}
			cands = cands[o.Skip:min(len(cands), want)]
			if len(cands) < o.N {
				continue
			}
			if len(cands) > o.N {
				rng := rand.New(rand.NewPCG(o.Seed, uint64(i)))
				pick := rng.Perm(len(cands))[:o.N]
				slices.Sort(pick) // keep rank order
				sel := make([]string, o.N)
				for j, k := range pick {
					sel[j] = cands[k]
				}
				cands = sel
			}
			negs[i] = append([]string(nil), cands...)
		}
	})
	return negs
}

// candidates filters hits for a pair (see HardNegatives).
func (m *Miner) candidates(s *Searcher, hits []Hit, p *Pair, o NegativeOptions) []string {
	posScore := 0.0 // unknown for a positive from outside the corpus: no MaxRel filter
	if p.PositiveDoc >= 0 {
		posScore = s.Score(p.PositiveDoc)
	}
	var out []string
	for _, h := range hits {
		if h.Doc == p.AnchorDoc || h.Doc == p.PositiveDoc {
			continue
		}
		if posScore > 0 && h.Score >= o.MaxRel*posScore {
			continue
		}
		t := p.PositiveField.Of(&m.Docs[h.Doc])
		if t == "" || t == p.Positive || t == p.Anchor {
			continue
		}
		out = append(out, t)
	}
	return out
}

// grain sizes parallel chunks so that each worker gets several (for
// balance) while a chunk's searcher buffers are reused across many queries.
func grain(n int) int {
	return max(16, n/(parallel.Workers()*8))
}

// Sample returns n of items chosen at random with seed, in their
// original order (all of them when n <= 0 or n >= len(pairs)).
func Sample[T any](items []T, n int, seed uint64) []T {
	if n <= 0 || n >= len(items) {
		return items
	}
	rng := rand.New(rand.NewPCG(seed, 0x5a3b1e))
	pick := rng.Perm(len(items))[:n]
	slices.Sort(pick)
	out := make([]T, n)
	for i, k := range pick {
		out[i] = items[k]
	}
	return out
}
