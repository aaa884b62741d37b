package eval

import (
	"context"
	"fmt"
	"math"
	"sort"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/language"
)

// CSR is a sparse matrix in compressed-row form.
type CSR struct {
	Rows, Cols int
	Ptr        []int // len Rows+1
	Idx        []int32
	Val        []float64
}

// Row returns the column indices and values of row i.
func (m *CSR) Row(i int) ([]int32, []float64) {
	return m.Idx[m.Ptr[i]:m.Ptr[i+1]], m.Val[m.Ptr[i]:m.Ptr[i+1]]
}

// Transpose returns the matrix in compressed-row form of its transpose
// (i.e. the columns of m), rows in ascending order within each column.
func (m *CSR) Transpose() *CSR {
	t := &CSR{Rows: m.Cols, Cols: m.Rows, Ptr: make([]int, m.Cols+1), Idx: make([]int32, len(m.Idx)), Val: make([]float64, len(m.Val))}
	for _, j := range m.Idx {
		t.Ptr[j+1]++
	}
	for j := 0; j < m.Cols; j++ {
		t.Ptr[j+1] += t.Ptr[j]
	}
	next := append([]int(nil), t.Ptr[:m.Cols]...)
	for i := 0; i < m.Rows; i++ {
		idx, val := m.Row(i)
		for k, j := range idx {
			p := next[j]
			t.Idx[p] = int32(i)
			t.Val[p] = val[k]
			next[j]++
		}
	}
	return t
}

var lower = cases.Lower(language.Und)

// isWordRune is Python's re \w for str patterns: letters (Lu Ll Lt Lm Lo),
// numbers (Nd Nl No) and the underscore.
func isWordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r)
}

// Words splits text as scikit-learn's default analyzer does: lower-case
// (Python's full str.lower mapping), then every match of the token pattern
// (?u)\b\w\w+\b, i.e. every maximal run of two or more word characters.
func Words(text string) []string {
	text = lower.String(text)
	var out []string
	start, n := -1, 0
	for i, r := range text {
		if isWordRune(r) {
			if start < 0 {
				start, n = i, 0
			}
			n++
			continue
		}
		if start >= 0 && n >= 2 {
			out = append(out, text[start:i])
		}
		start = -1
	}
	if start >= 0 && n >= 2 {
		out = append(out, text[start:])
	}
	return out
}

// TFIDF is a fitted TF-IDF vectoriser with scikit-learn's TfidfVectorizer
// defaults: the Words analyzer, unigrams, min_df=1, max_df=1.0, raw term
// counts (sublinear_tf=False), smooth idf = ln((1+n)/(1+df)) + 1, rows
// L2-normalised. The vocabulary is sorted as scikit-learn sorts it (by
// code point).
type TFIDF struct {
	Vocab map[string]int32
	Terms []string
	IDF   []float64
}

// FitTFIDF learns the vocabulary and idf of docs.
func FitTFIDF(docs []string) (*TFIDF, error) {
	if len(docs) == 0 {
		return nil, fmt.Errorf("eval: tf-idf of no documents")
	}
	df := map[string]int{}
	for _, d := range docs {
		seen := map[string]bool{}
		for _, w := range Words(d) {
			if !seen[w] {
				seen[w] = true
				df[w]++
			}
		}
	}
	if len(df) == 0 {
		return nil, fmt.Errorf("eval: tf-idf: the %d documents hold no word of two or more characters", len(docs))
	}
	v := &TFIDF{Vocab: make(map[string]int32, len(df)), Terms: make([]string, 0, len(df))}
	for w := range df {
		v.Terms = append(v.Terms, w)
	}
	sort.Strings(v.Terms) // byte order of UTF-8 = code point order
	v.IDF = make([]float64, len(v.Terms))
	n := float64(len(docs))
	for i, w := range v.Terms {
		v.Vocab[w] = int32(i)
		v.IDF[i] = math.Log((1+n)/(1+float64(df[w]))) + 1
	}
	return v, nil
}

// Transform returns the L2-normalised tf-idf rows of docs; words outside
// the vocabulary are ignored and a document without known words is a zero
// row.
func (v *TFIDF) Transform(docs []string) *CSR {
	m := &CSR{Rows: len(docs), Cols: len(v.Terms), Ptr: make([]int, 1, len(docs)+1)}
	counts := map[int32]float64{}
	var cols []int32
	for _, d := range docs {
		clear(counts)
		for _, w := range Words(d) {
			if j, ok := v.Vocab[w]; ok {
				counts[j]++
			}
		}
		cols = cols[:0]
		for j := range counts {
			cols = append(cols, j)
		}
		sort.Slice(cols, func(a, b int) bool { return cols[a] < cols[b] })
		var ss float64
		start := len(m.Val)
		for _, j := range cols {
			x := counts[j] * v.IDF[j]
			m.Idx = append(m.Idx, j)
			m.Val = append(m.Val, x)
			ss += x * x
		}
		if ss > 0 {
			inv := 1 / math.Sqrt(ss)
			for k := start; k < len(m.Val); k++ {
				m.Val[k] *= inv
			}
		}
		m.Ptr = append(m.Ptr, len(m.Val))
	}
	return m
}

// sparseDot is the dot product of two sorted sparse rows.
func sparseDot(ai []int32, av []float64, bi []int32, bv []float64) float64 {
	var s float64
	for i, j := 0, 0; i < len(ai) && j < len(bi); {
		switch {
		case ai[i] < bi[j]:
			i++
		case ai[i] > bi[j]:
			j++
		default:
			s += av[i] * bv[j]
			i++
			j++
		}
	}
	return s
}

// TFIDFScorer scores pairs by the cosine of their tf-idf vectors. The
// vectoriser is fitted on the distinct texts of each ScorePairs call (for
// the pair protocol: every a_i and b_i once), so document frequencies come
// from the evaluation set itself; no labels are used.
type TFIDFScorer struct{}

// ScorePairs implements Scorer.
func (TFIDFScorer) ScorePairs(ctx context.Context, a, b []string) ([]float64, error) {
	if len(a) != len(b) {
		return nil, fmt.Errorf("eval: tf-idf: %d left and %d right texts", len(a), len(b))
	}
	uniq, ia, ib := dedupe(a, b)
	v, err := FitTFIDF(uniq)
	if err != nil {
		return nil, err
	}
	x := v.Transform(uniq)
	out := make([]float64, len(a))
	for i := range a {
		ai, av := x.Row(ia[i])
		bi, bv := x.Row(ib[i])
		out[i] = sparseDot(ai, av, bi, bv) // rows are unit length (or zero)
	}
	return out, ctx.Err()
}

// dedupe lists the distinct texts of a and b (first appearance order) and
// the index of each a[i] and b[i] in that list.
func dedupe(a, b []string) (uniq []string, ia, ib []int) {
	pos := map[string]int{}
	at := func(s string) int {
		if i, ok := pos[s]; ok {
			return i
		}
		pos[s] = len(uniq)
		uniq = append(uniq, s)
		return len(uniq) - 1
	}
	ia, ib = make([]int, len(a)), make([]int, len(b))
	for i := range a {
		ia[i] = at(a[i])
	}
	for i := range b {
		ib[i] = at(b[i])
	}
	return uniq, ia, ib
}
