package eval

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"bioencoder/internal/testutil"
)

// recordScorer gives true pairs (b starting with a's id) 1 and others 0,
// and keeps what it was asked.
type recordScorer struct{ a, b []string }

func (r *recordScorer) ScorePairs(_ context.Context, a, b []string) ([]float64, error) {
	r.a, r.b = a, b
	out := make([]float64, len(a))
	for i := range a {
		if strings.TrimPrefix(a[i], "q") == strings.TrimPrefix(b[i], "d") {
			out[i] = 1
		}
	}
	return out, nil
}

func TestPairSimilarity(t *testing.T) {
	var pairs []Pair
	for i := 0; i < 20; i++ {
		pairs = append(pairs, Pair{ID: fmt.Sprint(i), A: fmt.Sprintf("q%d", i), B: fmt.Sprintf("d%d", i)})
	}
	s := &recordScorer{}
	r, err := PairSimilarity(context.Background(), s, "toy", pairs, 42)
	if err != nil {
		t.Fatal(err)
	}
	if r.Pairs != 20 || float64(r.Pearson) != 100 || float64(r.Spearman) != 100 {
		t.Errorf("perfect scorer: %+v", r)
	}
	p, _ := Derangement(20, 42)
	for i := range pairs {
		if s.a[i] != pairs[i].A || s.b[i] != pairs[i].B || s.a[20+i] != pairs[i].A || s.b[20+i] != pairs[p[i]].B {
			t.Fatalf("pair %d: positives (%s,%s) negatives (%s,%s)", i, s.a[i], s.b[i], s.a[20+i], s.b[20+i])
		}
	}
	if _, err := PairSimilarity(context.Background(), s, "one", pairs[:1], 42); err == nil {
		t.Error("one pair accepted")
	}
	rep, err := RunSimilarity(context.Background(), "toy", TFIDFScorer{}, []PairSet{{"x", pairs}, {"y", pairs[:5]}}, 42, nil)
	if err != nil {
		t.Fatal(err)
	}
	// "q3" and "d3" share no word: every tf-idf score is 0, so no correlation.
	if !math.IsNaN(float64(rep.Datasets[0].Pearson)) || !math.IsNaN(float64(rep.AvgPearson)) {
		t.Errorf("constant scores: %+v", rep)
	}
	if b, _ := rep.Datasets[0].Pearson.MarshalJSON(); string(b) != "null" {
		t.Errorf("NaN as JSON: %s", b)
	}
}

// leakCheck fails if a training text shows up for prediction, and
// otherwise predicts like Majority.
type leakCheck struct {
	seen     map[string]int
	trainSet map[string]bool
}

func (l *leakCheck) Fit(ctx context.Context, texts []string, labels []int, k int) (Predictor, error) {
	l.trainSet = map[string]bool{}
	for _, t := range texts {
		l.trainSet[t] = true
	}
	p, err := Majority{}.Fit(ctx, texts, labels, k)
	return &leakPredictor{l, p}, err
}

type leakPredictor struct {
	l *leakCheck
	p Predictor
}

func (p *leakPredictor) PredictProba(ctx context.Context, texts []string) ([][]float64, error) {
	for _, t := range texts {
		if p.l.trainSet[t] {
			return nil, fmt.Errorf("text %q is in the training folds", t)
		}
		p.l.seen[t]++
	}
	return p.p.PredictProba(ctx, texts)
}

func TestCrossValidateMajority(t *testing.T) {
	d := ClassData{Names: []string{"a", "b"}}
	for i := 0; i < 15; i++ {
		d.Texts = append(d.Texts, fmt.Sprint("t", i))
		d.Labels = append(d.Labels, map[bool]int{true: 1, false: 0}[i%3 == 0])
	}
	lc := &leakCheck{seen: map[string]int{}}
	r, err := CrossValidate(context.Background(), "majority", lc, d, 5, 42, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range d.Texts {
		if lc.seen[x] != 1 {
			t.Errorf("text %s predicted %d times", x, lc.seen[x])
		}
	}
	// 10 a, 5 b; every fold has 2 a + 1 b, so every training prior is
	// (2/3, 1/3): accuracy 10/15, loss = -(10 ln 2/3 + 5 ln 1/3)/15.
	wantLoss := -(10*math.Log(2.0/3) + 5*math.Log(1.0/3)) / 15
	if !near(r.Accuracy, 10.0/15, 1e-15) || !near(float64(r.Loss), wantLoss, 1e-12) || r.N != 15 || r.Folds != 5 {
		t.Errorf("got %+v, want accuracy %v loss %v", r, 10.0/15, wantLoss)
	}
}

type fixedTagger struct{ out [][]string }

func (f fixedTagger) FitTokens(context.Context, []Sentence, []Sentence) (Tagger, error) {
	return f, nil
}
func (f fixedTagger) Tag(context.Context, [][]string) ([][]string, error) { return f.out, nil }

func TestNERProtocol(t *testing.T) {
	sents := []Sentence{
		{[]string{"a", "b", "c"}, []string{"B-D", "I-D", "O"}},
		{[]string{"d", "e"}, []string{"O", "B-D"}},
	}
	pred := [][]string{{"B-D", "I-D", "O"}, {"I-D", "O"}} // one hit; a stray I-D
	r, err := NER(context.Background(), "fixed", fixedTagger{pred}, NERData{Train: sents, Devel: sents, Test: sents}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Test.TP != 1 || r.Test.Gold != 2 || r.Test.Pred != 1 || r.TestLenient.Pred != 2 || !near(r.Test.F1, 2.0/3, 1e-15) {
		t.Errorf("got %+v", r)
	}
	if _, err := NER(context.Background(), "short", fixedTagger{pred[:1:1]}, NERData{Train: sents, Devel: sents, Test: sents}, nil); err == nil {
		t.Error("tagger returning fewer sentences accepted")
	}
}

func TestChemProtProtocol(t *testing.T) {
	mk := func(labels ...string) (s []LabelledText) {
		for i, l := range labels {
			s = append(s, LabelledText{fmt.Sprint(l, i), l})
		}
		return s
	}
	d := NewChemProtData(mk("B", "B", "A"), mk("B", "A"), mk("A", "B", "B", "B"))
	r, err := ChemProt(context.Background(), "majority", Majority{}, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.DevAccuracy != 0.5 || r.Accuracy != 0.75 || r.MicroF1 != 0.75 || r.Test != 4 {
		t.Errorf("got %+v", r)
	}
}

// wordMasker tokenises into letter runs and single other runes and
// "predicts" from a table of answers.
type wordMasker struct{ answers map[string]string }

func (wordMasker) MaskToken() string { return "<mask>" }

func (wordMasker) TokenSpans(text string) ([][2]int, error) {
	var out [][2]int
	start := -1
	for i, r := range text + " " {
		letter := r >= 'a' && r <= 'z'
		if start >= 0 && !letter {
			out = append(out, [2]int{start, i})
			start = -1
		}
		if letter && start < 0 {
			start = i
		}
		if !letter && r != ' ' && i < len(text) {
			out = append(out, [2]int{i, i + len(string(r))})
		}
	}
	return out, nil
}

func (w wordMasker) FillMask(_ context.Context, texts []string, k int) ([][]string, error) {
	out := make([][]string, len(texts))
	for i, t := range texts {
		out[i] = []string{"wrong", " " + strings.ToUpper(w.answers[t]) + " "}[:min(k, 2)]
	}
	return out, nil
}

func TestFillMask(t *testing.T) {
	abs := []Abstract{
		{1, "BACKGROUND\nalpha beta gamma delta.\n\nCONCLUSIONS\nepsilon zeta <dig> cd4 il-2 3-indole."},
		{2, "BACKGROUND\nab cd <dig> x1 y2.\n\nCONCLUSIONS\nno.\n\nkeywords\nlongwordinbackmatter"},
		{3, "BACKGROUND\nlonger words everywhere here\n\nRESULTS\nsomething"},
	}
	opts := FillMaskOptions{Window: 4, Seed: 42}
	wm := wordMasker{answers: map[string]string{}}
	s, err := FillMaskSamples(wm, abs, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 2 || s[0].ID != 1 || s[1].ID != 3 {
		t.Fatalf("samples %+v: want one for abstracts 1 and 3", s)
	}
	allowed := map[string]bool{"alpha": true, "beta": true, "gamma": true, "delta": true, "epsilon": true, "zeta": true,
		"indole": true, "longer": true, "words": true, "everywhere": true, "here": true, "something": true}
	for _, x := range s {
		if !allowed[x.Word] || strings.Count(x.Text, "<mask>") != 1 || strings.Replace(x.Text, "<mask>", x.Word, 1) != x.Window ||
			len(strings.Fields(x.Window)) > 4 {
			t.Errorf("bad sample %+v", x)
		}
		wm.answers[x.Text] = x.Word
	}
	again, _ := FillMaskSamples(wm, abs, opts)
	if fmt.Sprint(again) != fmt.Sprint(s) {
		t.Error("samples are not deterministic")
	}
	r, err := RunFillMask(context.Background(), "fake", wm, abs, FillMaskOptions{K: 2, Window: 4, Seed: 42}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.N != 2 || r.Top1 != 0 || r.TopK != 1 {
		t.Errorf("got %+v: want top-1 0 and top-2 1", r)
	}
	r, _ = RunFillMask(context.Background(), "fake", wm, abs, FillMaskOptions{K: 1, Window: 4, Seed: 42}, nil)
	if r.TopK != 0 {
		t.Errorf("top-1 run: %+v", r)
	}
	if got := trimSpan(" ab ", [2]int{0, 3}); got != [2]int{1, 3} {
		t.Errorf("trimSpan: %v", got)
	}
}

func TestTopK(t *testing.T) {
	x := []float32{0.1, 0.5, -1, 0.5, 2, 0.3}
	if got := fmt.Sprint(topK(x, 3)); got != "[4 1 3]" {
		t.Errorf("topK = %s, want [4 1 3]", got)
	}
	if got := fmt.Sprint(topK(x[:2], 5)); got != "[1 0]" {
		t.Errorf("topK beyond length = %s", got)
	}
}

func TestBaselinesOnSharedData(t *testing.T) {
	testutil.SharedOrSkip(t, "data", FilePubMedQA)
	ctx := context.Background()
	sets, err := LoadSimilaritySets(50)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := RunSimilarity(ctx, "tfidf", TFIDFScorer{}, sets, 42, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range rep.Datasets {
		// True pairs share far more vocabulary than deranged ones.
		if d.Pairs != 50 || d.Pearson < 50 || d.Spearman < 50 {
			t.Errorf("%s: %+v", d.Dataset, d)
		}
	}
	med, err := LoadMedicalAbstracts()
	if err != nil {
		t.Fatal(err)
	}
	med = med.Head(200)
	maj, err := CrossValidate(ctx, "majority", Majority{}, med, 5, 42, nil)
	if err != nil {
		t.Fatal(err)
	}
	lr, err := CrossValidate(ctx, "tfidf", TFIDFLogReg{}, med, 5, 42, nil)
	if err != nil {
		t.Fatal(err)
	}
	if lr.Accuracy <= maj.Accuracy || lr.Loss >= maj.Loss {
		t.Errorf("tf-idf %+v is not better than majority %+v", lr, maj)
	}
}
