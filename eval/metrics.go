package eval

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Pearson is the Pearson correlation of x and y (NaN when either is
// constant, as SciPy gives).
func Pearson(x, y []float64) (float64, error) {
	if len(x) != len(y) {
		return 0, fmt.Errorf("eval: pearson of %d and %d values", len(x), len(y))
	}
	if len(x) < 2 {
		return 0, fmt.Errorf("eval: pearson needs at least 2 values, got %d", len(x))
	}
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx /= float64(len(x))
	my /= float64(len(y))
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return math.NaN(), nil
	}
	r := sxy / math.Sqrt(sxx*syy)
	return max(-1, min(1, r)), nil
}

// Ranks gives 1-based ranks with ties sharing their average rank
// (scipy.stats.rankdata's "average" method).
func Ranks(x []float64) []float64 {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return x[idx[a]] < x[idx[b]] })
	r := make([]float64, len(x))
	for lo := 0; lo < len(idx); {
		hi := lo + 1
		for hi < len(idx) && x[idx[hi]] == x[idx[lo]] {
			hi++
		}
		avg := float64(lo+hi+1) / 2 // mean of ranks lo+1..hi
		for _, i := range idx[lo:hi] {
			r[i] = avg
		}
		lo = hi
	}
	return r
}

// Spearman is the Pearson correlation of the average ranks.
func Spearman(x, y []float64) (float64, error) {
	if len(x) != len(y) {
		return 0, fmt.Errorf("eval: spearman of %d and %d values", len(x), len(y))
	}
	for i := range x {
		if math.IsNaN(x[i]) || math.IsNaN(y[i]) {
			return math.NaN(), nil
		}
	}
	return Pearson(Ranks(x), Ranks(y))
}

// Argmax is the index of the largest value (the first on ties).
func Argmax(p []float64) int {
	best := 0
	for i, v := range p {
		if v > p[best] {
			best = i
		}
	}
	return best
}

// Accuracy is the share of predictions equal to the labels.
func Accuracy(pred, labels []int) (float64, error) {
	if len(pred) != len(labels) || len(pred) == 0 {
		return 0, fmt.Errorf("eval: accuracy of %d predictions for %d labels", len(pred), len(labels))
	}
	ok := 0
	for i := range pred {
		if pred[i] == labels[i] {
			ok++
		}
	}
	return float64(ok) / float64(len(pred)), nil
}

// ProbEps bounds probabilities away from 0 in CrossEntropy, as
// scikit-learn's log_loss did (eps=1e-15), so one confident miss costs
// at most -ln(1e-15) ≈ 34.5 instead of infinity.
const ProbEps = 1e-15

// CrossEntropy is the mean of -ln p[i][labels[i]], with p clipped to
// [ProbEps, 1-ProbEps]. Rows are used as given (not renormalised).
func CrossEntropy(p [][]float64, labels []int) (float64, error) {
	if len(p) != len(labels) || len(p) == 0 {
		return 0, fmt.Errorf("eval: cross-entropy of %d rows for %d labels", len(p), len(labels))
	}
	var s float64
	for i, row := range p {
		y := labels[i]
		if y < 0 || y >= len(row) {
			return 0, fmt.Errorf("eval: cross-entropy: label %d of row %d outside %d classes", y, i, len(row))
		}
		v := row[y]
		if math.IsNaN(v) {
			return 0, fmt.Errorf("eval: cross-entropy: row %d has a NaN probability", i)
		}
		s -= math.Log(min(max(v, ProbEps), 1-ProbEps))
	}
	return s / float64(len(p)), nil
}

// StratifiedKFold assigns every sample a test fold in [0, k) exactly as
// scikit-learn's StratifiedKFold(n_splits=k, shuffle=True,
// random_state=seed)._make_test_folds does (scikit-learn 1.2):
//
//   - classes are numbered by order of first appearance in labels;
//   - the labels, sorted by that number, are dealt round-robin to the k
//     folds, which fixes how many samples of each class every fold gets
//     (sizes differ by at most one per class);
//   - for each class in turn, the list of its fold numbers (fold 0 repeated
//     its count, then fold 1, ...) is shuffled with one
//     numpy.random.RandomState(seed) shared by all classes, and handed to
//     that class's samples in data order.
//
// It fails when every class has fewer than k samples; classes smaller than
// k simply miss some folds (scikit-learn warns).
func StratifiedKFold(labels []int, k int, seed uint64) ([]int, error) {
	if k < 2 {
		return nil, fmt.Errorf("eval: stratified k-fold needs k >= 2, got %d", k)
	}
	if len(labels) < k {
		return nil, fmt.Errorf("eval: stratified %d-fold of %d samples", k, len(labels))
	}
	order := map[int]int{} // label -> class number by first appearance
	enc := make([]int, len(labels))
	var counts []int
	for i, y := range labels {
		c, ok := order[y]
		if !ok {
			c = len(counts)
			order[y] = c
			counts = append(counts, 0)
		}
		enc[i] = c
		counts[c]++
	}
	if slicesMax(counts) < k {
		return nil, fmt.Errorf("eval: stratified %d-fold: every class has fewer than %d samples", k, k)
	}
	// alloc[f][c]: samples of class c in fold f, from dealing the sorted
	// class numbers round-robin.
	alloc := make([][]int, k)
	for f := range alloc {
		alloc[f] = make([]int, len(counts))
	}
	pos := 0
	for c, n := range counts {
		for j := 0; j < n; j++ {
			alloc[pos%k][c]++
			pos++
		}
	}
	rng := NewRNG(seed)
	folds := make([]int, len(labels))
	for c := range counts {
		list := make([]int, 0, counts[c])
		for f := 0; f < k; f++ {
			for j := 0; j < alloc[f][c]; j++ {
				list = append(list, f)
			}
		}
		rng.Shuffle(len(list), func(i, j int) { list[i], list[j] = list[j], list[i] })
		j := 0
		for i, e := range enc {
			if e == c {
				folds[i] = list[j]
				j++
			}
		}
	}
	return folds, nil
}

func slicesMax(x []int) int {
	m := 0
	for _, v := range x {
		m = max(m, v)
	}
	return m
}

// Entity is a typed span of words [Start, End).
type Entity struct {
	Type       string
	Start, End int
}

// Scheme selects how tag sequences are decoded into entities.
type Scheme int

const (
	// IOB2 (strict): an entity is B-X followed by any number of I-X; an
	// I-X that does not continue an entity of type X starts nothing. This
	// is seqeval's mode="strict" with scheme IOB2, and the protocol's.
	IOB2 Scheme = iota
	// IOB is conlleval's lenient reading, which also decodes IOB1: an I-X
	// after O or after an entity of another type starts a new entity.
	IOB
)

func (s Scheme) String() string {
	if s == IOB {
		return "IOB"
	}
	return "IOB2"
}

// splitTag parses "B-X", "I-X" and "O"; any other tag is an error.
func splitTag(tag string) (prefix byte, typ string, err error) {
	if tag == "O" {
		return 'O', "", nil
	}
	if len(tag) >= 3 && (tag[0] == 'B' || tag[0] == 'I') && tag[1] == '-' {
		return tag[0], tag[2:], nil
	}
	return 0, "", fmt.Errorf("eval: tag %q is not O, B-TYPE or I-TYPE", tag)
}

// Entities decodes a tag sequence into entities.
func Entities(tags []string, scheme Scheme) ([]Entity, error) {
	var out []Entity
	open := -1 // index in out of the entity that the next I-X may extend
	for i, tag := range tags {
		p, typ, err := splitTag(tag)
		if err != nil {
			return nil, fmt.Errorf("%w (position %d)", err, i)
		}
		switch {
		case p == 'O':
			open = -1
		case p == 'B':
			out = append(out, Entity{Type: typ, Start: i, End: i + 1})
			open = len(out) - 1
		case open >= 0 && out[open].Type == typ: // I-X continuing X
			out[open].End = i + 1
		case scheme == IOB:
			out = append(out, Entity{Type: typ, Start: i, End: i + 1})
			open = len(out) - 1
		default: // stray I-X under strict IOB2
			open = -1
		}
	}
	return out, nil
}

// PRF is precision, recall and F1 with the counts behind them.
type PRF struct {
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	TP        int     `json:"tp"`
	Pred      int     `json:"predicted"`
	Gold      int     `json:"gold"`
}

func makePRF(tp, pred, gold int) PRF {
	r := PRF{TP: tp, Pred: pred, Gold: gold}
	if pred > 0 {
		r.Precision = float64(tp) / float64(pred)
	}
	if gold > 0 {
		r.Recall = float64(tp) / float64(gold)
	}
	if r.Precision+r.Recall > 0 {
		r.F1 = 2 * r.Precision * r.Recall / (r.Precision + r.Recall)
	}
	return r
}

// EntityPRF scores predicted against gold tag sequences at the entity
// level: an entity counts only when its span and type match exactly.
func EntityPRF(gold, pred [][]string, scheme Scheme) (PRF, error) {
	if len(gold) != len(pred) {
		return PRF{}, fmt.Errorf("eval: %d gold and %d predicted sentences", len(gold), len(pred))
	}
	var tp, np, ng int
	for s := range gold {
		if len(gold[s]) != len(pred[s]) {
			return PRF{}, fmt.Errorf("eval: sentence %d: %d gold and %d predicted tags", s, len(gold[s]), len(pred[s]))
		}
		ge, err := Entities(gold[s], scheme)
		if err != nil {
			return PRF{}, fmt.Errorf("eval: gold sentence %d: %w", s, err)
		}
		pe, err := Entities(pred[s], scheme)
		if err != nil {
			return PRF{}, fmt.Errorf("eval: predicted sentence %d: %w", s, err)
		}
		set := make(map[Entity]bool, len(ge))
		for _, e := range ge {
			set[e] = true
		}
		for _, e := range pe {
			if set[e] {
				tp++
				delete(set, e) // a gold entity matches once
			}
		}
		np += len(pe)
		ng += len(ge)
	}
	return makePRF(tp, np, ng), nil
}

// MicroF1Excluding is the micro-averaged precision/recall/F1 over the
// classes not in negative (ChemProt's "false"): true positives are correct
// predictions of a non-negative class, predicted positives are predictions
// of a non-negative class, gold positives are samples of a non-negative
// class. Without any negative class it equals accuracy.
func MicroF1Excluding(pred, labels []int, names []string, negative ...string) (PRF, error) {
	if len(pred) != len(labels) {
		return PRF{}, fmt.Errorf("eval: micro-F1 of %d predictions for %d labels", len(pred), len(labels))
	}
	neg := make([]bool, len(names))
	for i, n := range names {
		for _, x := range negative {
			if strings.EqualFold(n, x) {
				neg[i] = true
			}
		}
	}
	isNeg := func(c int) (bool, error) {
		if c < 0 || c >= len(names) {
			return false, fmt.Errorf("eval: class %d outside %d names", c, len(names))
		}
		return neg[c], nil
	}
	var tp, np, ng int
	for i := range pred {
		pn, err := isNeg(pred[i])
		if err != nil {
			return PRF{}, err
		}
		gn, err := isNeg(labels[i])
		if err != nil {
			return PRF{}, err
		}
		if !pn {
			np++
			if pred[i] == labels[i] {
				tp++
			}
		}
		if !gn {
			ng++
		}
	}
	return makePRF(tp, np, ng), nil
}
