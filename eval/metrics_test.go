package eval

import (
	"math"
	"reflect"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestRNGMatchesNumPy(t *testing.T) {
	// numpy.random.RandomState(seed).randint(0, 2**32, dtype=np.uint64)
	// draws one raw MT19937 output per value.
	if got := NewRNG(5489).Uint32(); got != 3499211612 {
		t.Errorf("seed 5489: first output %d, want 3499211612 (reference MT19937)", got)
	}
	r := NewRNG(42)
	for i, want := range []uint32{1608637542, 3421126067, 4083286876} {
		if got := r.Uint32(); got != want {
			t.Errorf("seed 42 output %d: %d, want %d", i, got, want)
		}
	}
	// rs = RandomState(42); a = arange(20); rs.shuffle(a)
	a := make([]int, 20)
	for i := range a {
		a[i] = i
	}
	NewRNG(42).Shuffle(len(a), func(i, j int) { a[i], a[j] = a[j], a[i] })
	want := []int{0, 17, 15, 1, 8, 5, 11, 3, 18, 16, 13, 2, 9, 19, 4, 12, 7, 10, 14, 6}
	if !reflect.DeepEqual(a, want) {
		t.Errorf("shuffle: %v, want %v", a, want)
	}
}

func TestDerangement(t *testing.T) {
	// Python: the loop in Derangement's doc comment.
	for _, c := range []struct {
		n    int
		seed uint64
		want []int
	}{
		{10, 42, []int{8, 2, 5, 7, 3, 1, 9, 0, 4, 6}},
		{7, 1, []int{2, 3, 4, 1, 6, 0, 5}},
		{2, 9, []int{1, 0}},
	} {
		got, err := Derangement(c.n, c.seed)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("Derangement(%d, %d) = %v, want %v", c.n, c.seed, got, c.want)
		}
	}
	for seed := uint64(0); seed < 50; seed++ {
		n := 2 + int(seed)%30
		p, err := Derangement(n, seed)
		if err != nil {
			t.Fatal(err)
		}
		seen := make([]bool, n)
		for i, v := range p {
			if v == i || v < 0 || v >= n || seen[v] {
				t.Fatalf("seed %d: %v is not a derangement", seed, p)
			}
			seen[v] = true
		}
	}
	for _, n := range []int{0, 1} {
		if _, err := Derangement(n, 42); err == nil {
			t.Errorf("Derangement(%d) did not fail", n)
		}
	}
}

func TestPearson(t *testing.T) {
	// x̄ = 2.5, ȳ = 3.75; Σdxdy = 3.5, Σdx² = 5, Σdy² = 4.75.
	r, err := Pearson([]float64{1, 2, 3, 4}, []float64{2, 4, 5, 4})
	if err != nil {
		t.Fatal(err)
	}
	if want := 3.5 / math.Sqrt(5*4.75); !near(r, want, 1e-15) {
		t.Errorf("pearson %v, want %v", r, want)
	}
	if r, _ := Pearson([]float64{1, 2, 3}, []float64{-2, -4, -6}); !near(r, -1, 1e-15) {
		t.Errorf("perfect negative: %v", r)
	}
	if r, _ := Pearson([]float64{1, 1, 1}, []float64{1, 2, 3}); !math.IsNaN(r) {
		t.Errorf("constant x: %v, want NaN", r)
	}
	if _, err := Pearson([]float64{1, 2}, []float64{1}); err == nil {
		t.Error("length mismatch accepted")
	}
	if _, err := Pearson([]float64{1}, []float64{1}); err == nil {
		t.Error("one value accepted")
	}
}

func TestRanksAndSpearman(t *testing.T) {
	if got, want := Ranks([]float64{10, 20, 20, 5}), []float64{2, 3.5, 3.5, 1}; !reflect.DeepEqual(got, want) {
		t.Errorf("ranks %v, want %v", got, want)
	}
	if got, want := Ranks([]float64{3, 3, 3}), []float64{2, 2, 2}; !reflect.DeepEqual(got, want) {
		t.Errorf("ranks %v, want %v", got, want)
	}
	// ranks y = 1 2 3.5 5 3.5: Σdxdy = 8, Σdx² = 10, Σdy² = 9.5.
	r, err := Spearman([]float64{1, 2, 3, 4, 5}, []float64{5, 6, 7, 8, 7})
	if err != nil {
		t.Fatal(err)
	}
	if want := 8 / math.Sqrt(95); !near(r, want, 1e-15) {
		t.Errorf("spearman %v, want %v", r, want)
	}
	// Perfectly separated scores against N ones and N zeros reach the
	// ceiling N·√3/√(4N²-1) (point-biserial of ranks 1..2N): 0.8660 for
	// N = 1000, the figure EVALUATION.md quotes as the balanced ceiling.
	n := 1000
	s, l := make([]float64, 2*n), make([]float64, 2*n)
	for i := range s {
		s[i] = float64(i)
		if i >= n {
			l[i] = 1
		}
	}
	r, _ = Spearman(s, l)
	if want := float64(n) * math.Sqrt(3) / math.Sqrt(float64(4*n*n-1)); !near(r, want, 1e-12) {
		t.Errorf("ceiling %v, want %v", r, want)
	}
}

func TestAccuracyCrossEntropy(t *testing.T) {
	acc, err := Accuracy([]int{0, 1, 2, 1}, []int{0, 1, 1, 1})
	if err != nil || acc != 0.75 {
		t.Errorf("accuracy %v %v", acc, err)
	}
	if _, err := Accuracy(nil, nil); err == nil {
		t.Error("empty accuracy accepted")
	}
	ce, err := CrossEntropy([][]float64{{0.5, 0.5}, {0.25, 0.75}}, []int{0, 1})
	if err != nil {
		t.Fatal(err)
	}
	if want := (math.Log(2) + math.Log(4.0/3)) / 2; !near(ce, want, 1e-15) {
		t.Errorf("cross-entropy %v, want %v", ce, want)
	}
	ce, _ = CrossEntropy([][]float64{{1, 0}}, []int{1})
	if want := -math.Log(ProbEps); !near(ce, want, 1e-12) {
		t.Errorf("clipped cross-entropy %v, want %v", ce, want)
	}
	if _, err := CrossEntropy([][]float64{{1, 0}}, []int{2}); err == nil {
		t.Error("label outside the row accepted")
	}
	if got := Argmax([]float64{0.2, 0.4, 0.4}); got != 1 {
		t.Errorf("argmax tie: %d, want 1", got)
	}
}

func TestStratifiedKFoldMatchesScikitLearn(t *testing.T) {
	y := []int{2, 0, 0, 1, 2, 2, 0, 1, 1, 2, 0, 2, 1, 0, 2, 2, 1, 0}
	// f[test] = i for i, (_, test) in enumerate(StratifiedKFold(k,
	// shuffle=True, random_state=seed).split(zeros(len(y)), y)); sklearn 1.2.1.
	for _, c := range []struct {
		k    int
		seed uint64
		want []int
	}{
		{3, 7, []int{0, 2, 2, 1, 2, 0, 1, 2, 1, 2, 1, 1, 2, 0, 0, 1, 0, 0}},
		{5, 42, []int{0, 2, 0, 3, 0, 3, 1, 1, 0, 1, 2, 2, 4, 4, 1, 4, 2, 3}},
	} {
		got, err := StratifiedKFold(y, c.k, c.seed)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("k=%d seed=%d: %v\nwant %v", c.k, c.seed, got, c.want)
		}
		// Every fold holds floor or ceil of each class's share.
		for cls := 0; cls < 3; cls++ {
			count, per := 0, make([]int, c.k)
			for i, l := range y {
				if l == cls {
					count++
					per[got[i]]++
				}
			}
			for f, n := range per {
				if n < count/c.k || n > (count+c.k-1)/c.k {
					t.Errorf("k=%d class %d fold %d has %d of %d", c.k, cls, f, n, count)
				}
			}
		}
	}
	if _, err := StratifiedKFold([]int{0, 1, 0, 1}, 3, 1); err == nil {
		t.Error("classes all smaller than k accepted")
	}
	if _, err := StratifiedKFold([]int{0, 1}, 1, 1); err == nil {
		t.Error("k=1 accepted")
	}
}

func TestEntities(t *testing.T) {
	tags := []string{"B-D", "I-D", "O", "I-D", "I-D", "B-C", "I-D", "B-D", "B-D", "I-D"}
	strict, err := Entities(tags, IOB2)
	if err != nil {
		t.Fatal(err)
	}
	wantStrict := []Entity{{"D", 0, 2}, {"C", 5, 6}, {"D", 7, 8}, {"D", 8, 10}}
	if !reflect.DeepEqual(strict, wantStrict) {
		t.Errorf("IOB2: %v, want %v", strict, wantStrict)
	}
	lenient, _ := Entities(tags, IOB)
	wantLenient := []Entity{{"D", 0, 2}, {"D", 3, 5}, {"C", 5, 6}, {"D", 6, 7}, {"D", 7, 8}, {"D", 8, 10}}
	if !reflect.DeepEqual(lenient, wantLenient) {
		t.Errorf("IOB: %v, want %v", lenient, wantLenient)
	}
	for _, bad := range []string{"X", "B", "B-", "b-D", "E-D"} {
		if _, err := Entities([]string{"O", bad}, IOB2); err == nil {
			t.Errorf("tag %q accepted", bad)
		}
	}
}

func TestEntityPRF(t *testing.T) {
	gold := [][]string{
		{"B-D", "I-D", "O", "B-D"},
		{"O", "B-D", "I-D", "I-D"},
		{"B-D", "O"},
	}
	pred := [][]string{
		{"B-D", "I-D", "O", "O"}, // 1 of 2 found
		{"O", "B-D", "I-D", "O"}, // wrong end: no match
		{"B-C", "O"},             // wrong type: no match
	}
	r, err := EntityPRF(gold, pred, IOB2)
	if err != nil {
		t.Fatal(err)
	}
	// gold 4, predicted 3, correct 1.
	want := PRF{Precision: 1.0 / 3, Recall: 0.25, TP: 1, Pred: 3, Gold: 4}
	want.F1 = 2 * want.Precision * want.Recall / (want.Precision + want.Recall)
	if !near(r.Precision, want.Precision, 1e-15) || !near(r.Recall, want.Recall, 1e-15) || !near(r.F1, want.F1, 1e-15) ||
		r.TP != 1 || r.Pred != 3 || r.Gold != 4 {
		t.Errorf("got %+v, want %+v", r, want)
	}
	if _, err := EntityPRF(gold, pred[:2], IOB2); err == nil {
		t.Error("sentence count mismatch accepted")
	}
	if _, err := EntityPRF([][]string{{"O"}}, [][]string{{"O", "O"}}, IOB2); err == nil {
		t.Error("tag count mismatch accepted")
	}
	none, _ := EntityPRF([][]string{{"O"}}, [][]string{{"O"}}, IOB2)
	if none.F1 != 0 || none.Precision != 0 || none.Recall != 0 {
		t.Errorf("no entities: %+v", none)
	}
}

func TestMicroF1Excluding(t *testing.T) {
	names := []string{"false", "A", "B"}
	labels := []int{0, 1, 2, 1, 0}
	pred := []int{1, 1, 0, 2, 0}
	// Predicted non-false: rows 0, 1, 3 (3); correct among them: row 1 (1);
	// gold non-false: rows 1, 2, 3 (3).
	r, err := MicroF1Excluding(pred, labels, names, "false")
	if err != nil {
		t.Fatal(err)
	}
	if r.TP != 1 || r.Pred != 3 || r.Gold != 3 || !near(r.F1, 1.0/3, 1e-15) {
		t.Errorf("got %+v", r)
	}
	// No negative class: equals accuracy.
	acc, _ := Accuracy(pred, labels)
	r, _ = MicroF1Excluding(pred, labels, []string{"X", "A", "B"}, "false")
	if !near(r.F1, acc, 1e-15) || !near(r.Precision, acc, 1e-15) {
		t.Errorf("without a negative class: %+v, accuracy %v", r, acc)
	}
	if _, err := MicroF1Excluding([]int{3}, []int{0}, names, "false"); err == nil {
		t.Error("class outside names accepted")
	}
}
