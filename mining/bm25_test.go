package mining

import (
	"math"
	"math/rand/v2"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func TestTokenize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{" -- ,. ", nil},
		{"Hello, World!", []string{"hello", "world"}},
		{"indole-3-acetic acid  <dig> mg", []string{"indole", "3", "acetic", "acid", "dig", "mg"}},
		{"Δmate and ÉCOLE", []string{"δmate", "and", "école"}},
		{"il-6/stat3", []string{"il", "6", "stat3"}},
		{"x", []string{"x"}},
	} {
		if got := Tokenize(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Tokenize(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-6*max(1, math.Abs(b)) }

// The three documents have lengths 2, 3, 4 (mean 3), so with k1 = 1.2 and
// b = 0.75 the length norms k1·(1−b+b·|d|/avgdl) are 0.9, 1.2, 1.5;
// df(a) = df(b) = 2, df(c) = df(d) = df(e) = 1 of N = 3:
// idf(a) = ln(1 + 1.5/2.5) = ln 1.6, idf(c) = ln(1 + 2.5/1.5) = ln(8/3).
func TestBM25HandComputed(t *testing.T) {
	ix := NewIndex([]string{"a b", "A c c", "b b d e"}, 1.2, 0.75)
	if ix.Len() != 3 || ix.Terms() != 5 || ix.AvgLen() != 3 {
		t.Fatalf("index: %d docs, %d terms, avg %v", ix.Len(), ix.Terms(), ix.AvgLen())
	}
	if !near(ix.IDF("a"), math.Log(1.6)) || !near(ix.IDF("c"), math.Log(8.0/3)) || ix.IDF("zzz") != 0 {
		t.Fatalf("idf a=%v c=%v", ix.IDF("a"), ix.IDF("c"))
	}
	idfA, idfC, idfD := math.Log(1.6), math.Log(8.0/3), math.Log(8.0/3)
	for _, c := range []struct {
		query string
		want  []Hit
	}{
		// d1: a (tf 1) + c (tf 2): 0.47000·2.2/2.2 + 0.98083·2·2.2/3.2 = 1.81864; d0: 0.47000·2.2/1.9 = 0.54421.
		{"a c", []Hit{{1, idfA*2.2/2.2 + idfC*2*2.2/3.2}, {0, idfA * 2.2 / 1.9}}},
		// A repeated term counts once, case and punctuation do not matter.
		{"A, a! c? C", []Hit{{1, 1.8186438521368593}, {0, 0.5442147286003255}}},
		// d2: b (tf 2) + d (tf 1) = 1.45399; d0: b (tf 1) = 0.54421.
		{"b d", []Hit{{2, idfA*2*2.2/3.5 + idfD*2.2/2.5}, {0, 0.5442147286003255}}},
		{"nothing here", nil},
	} {
		got := ix.Search(c.query, 10)
		if len(got) != len(c.want) {
			t.Fatalf("%q: %v, want %v", c.query, got, c.want)
		}
		for i := range got {
			if got[i].Doc != c.want[i].Doc || !near(got[i].Score, c.want[i].Score) {
				t.Errorf("%q: hit %d = %+v, want %+v", c.query, i, got[i], c.want[i])
			}
		}
	}
	// Literal values, hand-computed.
	if h := ix.Search("a c", 1); len(h) != 1 || !near(h[0].Score, 1.8186438521368593) {
		t.Errorf("top-1 of \"a c\" = %v", h)
	}
}

func TestBM25LengthNormalisation(t *testing.T) {
	docs := []string{"gene", "gene x x x x x x x"}
	// b = 0: no length normalisation, both documents score the same and
	// the first wins the tie; b = 1: the short document wins clearly.
	h := NewIndex(docs, 1.2, 0).Search("gene", 2)
	if len(h) != 2 || h[0].Doc != 0 || h[0].Score != h[1].Score {
		t.Errorf("b=0: %v", h)
	}
	h = NewIndex(docs, 1.2, 1).Search("gene", 2)
	if len(h) != 2 || h[0].Doc != 0 || !(h[0].Score > h[1].Score) {
		t.Errorf("b=1: %v", h)
	}
}

func TestSearcherScoreAndTies(t *testing.T) {
	ix := NewIndex([]string{"x y", "x y", "x", "z"}, DefaultK1, DefaultB)
	s := ix.NewSearcher()
	h := s.Search("y", 1)
	if len(h) != 1 || h[0].Doc != 0 {
		t.Fatalf("tie not broken by document order: %v", h)
	}
	if s.Score(1) != h[0].Score || s.Score(2) != 0 || s.Score(3) != 0 {
		t.Errorf("scores after search: %v %v %v", s.Score(1), s.Score(2), s.Score(3))
	}
	// A second query on the same searcher starts from zero.
	s.Search("z", 5)
	if s.Score(0) != 0 || s.Score(3) <= 0 {
		t.Errorf("stale scores: %v %v", s.Score(0), s.Score(3))
	}
	if s.Search("y", 0) != nil {
		t.Error("k=0 returned hits")
	}
}

// Search must agree with scoring every document by the formula.
func TestBM25MatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	vocab := strings.Fields("alpha beta gamma delta eps zeta eta theta iota kappa lambda mu nu xi omicron pi rho")
	var docs []string
	for d := 0; d < 200; d++ {
		var w []string
		for i := 0; i < 1+rng.IntN(30); i++ {
			w = append(w, vocab[rng.IntN(len(vocab))])
		}
		docs = append(docs, strings.Join(w, " "))
	}
	k1, b := 1.5, 0.75
	ix := NewIndex(docs, k1, b)
	toks := make([][]string, len(docs))
	total := 0
	df := map[string]int{}
	for i, d := range docs {
		toks[i] = Tokenize(d)
		total += len(toks[i])
		seen := map[string]bool{}
		for _, w := range toks[i] {
			if !seen[w] {
				df[w]++
				seen[w] = true
			}
		}
	}
	avg := float64(total) / float64(len(docs))
	s := ix.NewSearcher()
	for q := 0; q < 30; q++ {
		query := vocab[rng.IntN(len(vocab))] + " " + vocab[rng.IntN(len(vocab))]
		var want []Hit
		for i := range docs {
			tf := map[string]int{}
			for _, w := range toks[i] {
				tf[w]++
			}
			score := 0.0
			done := map[string]bool{}
			for _, w := range Tokenize(query) {
				if done[w] || tf[w] == 0 {
					continue
				}
				done[w] = true
				idf := math.Log(1 + (200-float64(df[w])+0.5)/(float64(df[w])+0.5))
				f := float64(tf[w])
				score += idf * f * (k1 + 1) / (f + k1*(1-b+b*float64(len(toks[i]))/avg))
			}
			if score > 0 {
				want = append(want, Hit{i, score})
			}
		}
		sort.SliceStable(want, func(i, j int) bool { return want[i].Score > want[j].Score })
		got := s.Search(query, 7)
		if len(got) != min(7, len(want)) {
			t.Fatalf("%q: %d hits, want %d", query, len(got), min(7, len(want)))
		}
		for i := range got {
			// Scores equal up to float32 impacts; documents may swap only on near-ties.
			if !near(got[i].Score, want[i].Score) {
				t.Fatalf("%q: hit %d = %+v, want %+v", query, i, got[i], want[i])
			}
		}
	}
}

func FuzzTokenize(f *testing.F) {
	f.Add("Hello, World! 3-acetic <dig>")
	f.Add("ΔΣ école İstanbul")
	f.Fuzz(func(t *testing.T, s string) {
		for _, w := range Tokenize(s) {
			if w == "" {
				t.Fatalf("empty token from %q", s)
			}
			for _, r := range w {
				if !isWordRune(r) {
					t.Fatalf("token %q of %q holds %q", w, s, r)
				}
			}
		}
		NewIndex([]string{s, "x"}, DefaultK1, DefaultB).Search(s, 3)
	})
}
