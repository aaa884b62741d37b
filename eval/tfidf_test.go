package eval

import (
	"context"
	"math"
	"reflect"
	"testing"

	"bioencoder/parallel"
)

func TestWords(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		// TfidfVectorizer().build_analyzer()(s), scikit-learn 1.2.1
		{"Hello, wörld! a b2 x_y 12 É", []string{"hello", "wörld", "b2", "x_y", "12"}},
		{"<< EGFR >> [[ gefitinib ]]", []string{"egfr", "gefitinib"}},
		{"", nil},
		// Python's full lower-casing (İ -> i + U+0307, not a word rune;
		// final sigma), then \w: letters and numbers (No, Nl too).
		{"İstanbul ΣΑΣ ²³ ⅣⅤ", []string{"stanbul", "σας", "²³", "ⅳⅴ"}},
		{"x-ray 3-indole", []string{"ray", "indole"}},
	} {
		if got := Words(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Words(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestTFIDF(t *testing.T) {
	v, err := FitTFIDF([]string{"the cat sat", "The dog"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"cat", "dog", "sat", "the"}; !reflect.DeepEqual(v.Terms, want) {
		t.Fatalf("terms %v, want %v", v.Terms, want)
	}
	// n = 2; df(the) = 2, others 1: idf = ln(3/2)+1 and ln(3/3)+1 = 1.
	rare := math.Log(1.5) + 1
	for i, want := range []float64{rare, rare, rare, 1} {
		if !near(v.IDF[i], want, 1e-15) {
			t.Errorf("idf %s = %v, want %v", v.Terms[i], v.IDF[i], want)
		}
	}
	x := v.Transform([]string{"the cat sat", "The dog", "unknown words", "cat cat"})
	n1 := math.Sqrt(2*rare*rare + 1)
	n2 := math.Sqrt(rare*rare + 1)
	idx, val := x.Row(0)
	if !reflect.DeepEqual(idx, []int32{0, 2, 3}) || !near(val[0], rare/n1, 1e-15) || !near(val[2], 1/n1, 1e-15) {
		t.Errorf("row 0: %v %v", idx, val)
	}
	if idx, _ := x.Row(2); len(idx) != 0 {
		t.Errorf("out-of-vocabulary row: %v", idx)
	}
	if idx, val := x.Row(3); !reflect.DeepEqual(idx, []int32{0}) || !near(val[0], 1, 1e-15) {
		t.Errorf("row 3: %v %v", idx, val)
	}
	s, err := TFIDFScorer{}.ScorePairs(context.Background(), []string{"the cat sat", "the cat sat"}, []string{"The dog", "the cat sat"})
	if err != nil {
		t.Fatal(err)
	}
	// Fitted on the two distinct texts: cosine = (1/n1)(1/n2) through "the".
	if want := 1 / (n1 * n2); !near(s[0], want, 1e-15) || !near(s[1], 1, 1e-15) {
		t.Errorf("scores %v, want [%v 1]", s, want)
	}
	if _, err := FitTFIDF([]string{"a b", "!"}); err == nil {
		t.Error("documents without a word accepted")
	}
	tr := x.Transpose().Transpose()
	if !reflect.DeepEqual(tr.Ptr, x.Ptr) || !reflect.DeepEqual(tr.Idx, x.Idx) || !reflect.DeepEqual(tr.Val, x.Val) {
		t.Error("transpose twice is not the identity")
	}
}

func dense(rows [][]float64) *CSR {
	m := &CSR{Rows: len(rows), Cols: len(rows[0]), Ptr: []int{0}}
	for _, r := range rows {
		for j, v := range r {
			if v != 0 {
				m.Idx = append(m.Idx, int32(j))
				m.Val = append(m.Val, v)
			}
		}
		m.Ptr = append(m.Ptr, len(m.Idx))
	}
	return m
}

func TestLogRegOptimum(t *testing.T) {
	x := dense([][]float64{{1, 0, 0.5}, {0.8, 0.2, 0}, {0, 1, 0.3}, {0.1, 0.9, 0}, {0, 0, 1}, {0.2, 0.1, 0.9}, {0.5, 0.5, 0}, {0, 0.3, 0.7}})
	y := []int{0, 0, 1, 1, 2, 2, 0, 2}
	q := dense([][]float64{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {0.3, 0.3, 0.3}})
	// The exact optimum of sklearn's objective Σ CE + ||W||²/(2C) (intercept
	// free), from scipy.optimize.minimize(L-BFGS-B, gtol=1e-14, ftol=1e-16),
	// probabilities of q. (LogisticRegression(C=C, tol=1e-12) itself stops
	// at scipy's default ftol with max|grad| ≈ 2e-5 and agrees to ~1e-5.)
	want := map[float64][][]float64{
		1: {{0.7040750334, 0.1239337929, 0.1719911738}, {0.2790521545, 0.4969556614, 0.2239921841},
			{0.1966370153, 0.1371921161, 0.6661708686}, {0.4030138278, 0.2427990169, 0.3541871553}},
		0.5: {{0.5791296983, 0.1753705009, 0.2454998007}, {0.3245370883, 0.3934027505, 0.2820601612},
			{0.2619083426, 0.1815691281, 0.5565225292}, {0.3907018375, 0.2476848252, 0.3616133373}},
	}
	for _, workers := range []int{1, 2} {
		parallel.SetWorkers(workers)
		for c, w := range want {
			m, err := LogReg{C: c, Tol: 1e-10}.Fit(context.Background(), x, y, 3)
			if err != nil {
				t.Fatal(err)
			}
			if !m.Converged {
				t.Errorf("C=%v: not converged after %d iterations", c, m.Iters)
			}
			p, _ := m.Proba(q)
			for i := range w {
				for k := range w[i] {
					if !near(p[i][k], w[i][k], 2e-9) {
						t.Errorf("C=%v workers=%d p[%d][%d] = %.10f, want %.10f", c, workers, i, k, p[i][k], w[i][k])
					}
				}
			}
		}
	}
	parallel.SetWorkers(0)
}

func TestLogRegInterceptOnlyAndAbsentClass(t *testing.T) {
	// No informative feature: the optimum is softmax(b) = class shares.
	x := dense([][]float64{{0}, {0}, {0}, {0}})
	m, err := LogReg{}.Fit(context.Background(), x, []int{0, 0, 0, 2}, 4)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := m.Proba(dense([][]float64{{0}}))
	if want := []float64{0.75, 0, 0.25, 0}; !near(p[0][0], want[0], 1e-6) || p[0][1] != 0 || !near(p[0][2], want[2], 1e-6) || p[0][3] != 0 {
		t.Errorf("proba %v, want %v", p[0], want)
	}
	one, err := LogReg{}.Fit(context.Background(), x, []int{1, 1, 1, 1}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := one.Proba(x); p[0][1] != 1 || p[0][0] != 0 {
		t.Errorf("one class: %v", p[0])
	}
	if _, err := (LogReg{}).Fit(context.Background(), x, []int{0, 5, 0, 0}, 2); err == nil {
		t.Error("label outside numLabels accepted")
	}
}

func TestLogRegGradient(t *testing.T) {
	x := dense([][]float64{{1, 0, 0.5}, {0.8, 0.2, 0}, {0, 1, 0.3}, {0.1, 0.9, 0}})
	p := &lrProblem{x: x, xt: x.Transpose(), y: []int{0, 1, 2, 1}, k: 3, lambda: 2}
	n := (x.Cols + 1) * 3
	theta := make([]float64, n)
	for i := range theta {
		theta[i] = math.Sin(float64(i+1)) * 0.7
	}
	g := make([]float64, n)
	p.eval(theta, g)
	scratch := make([]float64, n)
	for i := range theta {
		const h = 1e-6
		old := theta[i]
		theta[i] = old + h
		fp := p.eval(theta, scratch)
		theta[i] = old - h
		fm := p.eval(theta, scratch)
		theta[i] = old
		if num := (fp - fm) / (2 * h); !near(num, g[i], 1e-7) {
			t.Errorf("d/dθ%d: analytic %v, numeric %v", i, g[i], num)
		}
	}
}

func TestMajority(t *testing.T) {
	pr, err := Majority{}.Fit(context.Background(), nil, []int{1, 1, 0, 1}, 3)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := pr.PredictProba(context.Background(), []string{"a", "b"})
	if want := []float64{0.25, 0.75, 0}; !reflect.DeepEqual(p[0], want) || !reflect.DeepEqual(p[1], want) {
		t.Errorf("proba %v, want %v", p, want)
	}
}
