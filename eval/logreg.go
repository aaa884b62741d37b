package eval

import (
	"context"
	"fmt"
	"math"

	"bioencoder/parallel"
)

// LogReg fits multinomial logistic regression with an L2 penalty on the
// weights (not the intercepts), the model of scikit-learn's
// LogisticRegression(penalty="l2", C=C, multi_class="multinomial"): it
// minimises
//
//	Σ_i -ln softmax(W x_i + b)[y_i] + ||W||² / (2C)
//
// (divided by n, which leaves the minimiser alone) with L-BFGS (memory 10,
// backtracking Armijo line search) from zero until the largest gradient
// entry of the mean objective is at most Tol. The objective is strictly
// convex in W, so the solution is unique and does not depend on the
// solver; sums run in a fixed order, so results do not depend on the
// number of threads either. Classes absent from the training labels are
// left out of the fit and get probability 0.
type LogReg struct {
	C       float64 // inverse penalty strength; 0 means 1
	MaxIter int     // 0 means 2000
	Tol     float64 // 0 means 1e-6
}

// LRModel is a fitted LogReg.
type LRModel struct {
	NumLabels int
	Classes   []int // class id of each fitted row
	D         int
	Theta     []float64 // feature-major: Theta[j*K+k], then the K intercepts
	Iters     int
	Converged bool
	Objective float64
}

func (o LogReg) defaults() LogReg {
	if o.C == 0 {
		o.C = 1
	}
	if o.MaxIter == 0 {
		o.MaxIter = 2000
	}
	if o.Tol == 0 {
		o.Tol = 1e-6
	}
	return o
}

// Fit trains on the rows of x with labels y in [0, numLabels).
func (o LogReg) Fit(ctx context.Context, x *CSR, y []int, numLabels int) (*LRModel, error) {
	o = o.defaults()
	if x.Rows != len(y) || len(y) == 0 {
		return nil, fmt.Errorf("eval: logistic regression on %d rows with %d labels", x.Rows, len(y))
	}
	if o.C <= 0 {
		return nil, fmt.Errorf("eval: logistic regression needs C > 0, got %g", o.C)
	}
	compact := make([]int, numLabels)
	for i := range compact {
		compact[i] = -1
	}
	m := &LRModel{NumLabels: numLabels, D: x.Cols}
	for _, c := range y {
		if c < 0 || c >= numLabels {
			return nil, fmt.Errorf("eval: logistic regression: label %d outside [0, %d)", c, numLabels)
		}
		compact[c] = 0
	}
	for c := range compact {
		if compact[c] == 0 {
			compact[c] = len(m.Classes)
			m.Classes = append(m.Classes, c)
		}
	}
	yc := make([]int, len(y))
	for i, c := range y {
		yc[i] = compact[c]
	}
	K := len(m.Classes)
	if K == 1 {
		// One class: nothing to learn; it always gets probability 1.
		m.Theta = make([]float64, (x.Cols+1)*1)
		m.Converged = true
		return m, nil
	}
	p := &lrProblem{x: x, xt: x.Transpose(), y: yc, k: K, lambda: 1 / o.C}
	theta, st, err := lbfgs(ctx, p.eval, (x.Cols+1)*K, o.MaxIter, o.Tol)
	if err != nil {
		return nil, err
	}
	m.Theta, m.Iters, m.Converged, m.Objective = theta, st.iters, st.converged, st.f
	return m, nil
}

// Proba returns one row of numLabels probabilities per row of x.
func (m *LRModel) Proba(x *CSR) ([][]float64, error) {
	if x.Cols != m.D {
		return nil, fmt.Errorf("eval: logistic regression fitted on %d features, given %d", m.D, x.Cols)
	}
	K := len(m.Classes)
	out := make([][]float64, x.Rows)
	parallel.For(x.Rows, 64, func(lo, hi int) {
		z := make([]float64, K)
		for i := lo; i < hi; i++ {
			logits(m.Theta, x, i, K, z)
			softmaxInPlace(z)
			row := make([]float64, m.NumLabels)
			for k, c := range m.Classes {
				row[c] = z[k]
			}
			out[i] = row
		}
	})
	return out, nil
}

// logits writes W x_i + b into z.
func logits(theta []float64, x *CSR, i, K int, z []float64) {
	b := theta[x.Cols*K:]
	copy(z, b[:K])
	idx, val := x.Row(i)
	for t, j := range idx {
		w := theta[int(j)*K : int(j)*K+K]
		v := val[t]
		for k := range z {
			z[k] += v * w[k]
		}
	}
}

// softmaxInPlace turns z into probabilities and returns ln Σ exp(z).
func softmaxInPlace(z []float64) float64 {
	mx := math.Inf(-1)
	for _, v := range z {
		mx = max(mx, v)
	}
	var s float64
	for k, v := range z {
		z[k] = math.Exp(v - mx)
		s += z[k]
	}
	for k := range z {
		z[k] /= s
	}
	return mx + math.Log(s)
}

type lrProblem struct {
	x, xt  *CSR
	y      []int
	k      int
	lambda float64 // 1/C
	resid  []float64
	loss   []float64
}

// eval returns the mean objective and writes its gradient into g.
func (p *lrProblem) eval(theta, g []float64) float64 {
	n, K, D := p.x.Rows, p.k, p.x.Cols
	if p.resid == nil {
		p.resid = make([]float64, n*K)
		p.loss = make([]float64, n)
	}
	parallel.For(n, 256, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			z := p.resid[i*K : i*K+K]
			logits(theta, p.x, i, K, z)
			zy := z[p.y[i]]
			lse := softmaxInPlace(z)
			p.loss[i] = lse - zy
			z[p.y[i]] -= 1
		}
	})
	var f float64
	for _, l := range p.loss {
		f += l
	}
	inv := 1 / float64(n)
	// Gradient per feature from the columns of x, each summed in row order.
	parallel.For(D, 512, func(lo, hi int) {
		for j := lo; j < hi; j++ {
			gj := g[j*K : j*K+K]
			wj := theta[j*K : j*K+K]
			for k := range gj {
				gj[k] = p.lambda * wj[k]
			}
			rows, val := p.xt.Row(j)
			for t, i := range rows {
				r := p.resid[int(i)*K : int(i)*K+K]
				v := val[t]
				for k := range gj {
					gj[k] += v * r[k]
				}
			}
			for k := range gj {
				gj[k] *= inv
			}
		}
	})
	gb := g[D*K:]
	clear(gb)
	for i := 0; i < n; i++ {
		r := p.resid[i*K : i*K+K]
		for k := range gb {
			gb[k] += r[k]
		}
	}
	var ww float64
	for _, w := range theta[:D*K] {
		ww += w * w
	}
	for k := range gb {
		gb[k] *= inv
	}
	return (f + 0.5*p.lambda*ww) * inv
}

type lbfgsStats struct {
	iters     int
	converged bool
	f         float64
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func maxAbs(a []float64) float64 {
	var m float64
	for _, v := range a {
		m = max(m, math.Abs(v))
	}
	return m
}

// lbfgs minimises a smooth function from zero. fg returns f(x) and writes
// ∇f(x) into its second argument.
func lbfgs(ctx context.Context, fg func(x, g []float64) float64, n, maxIter int, tol float64) ([]float64, lbfgsStats, error) {
	const mem = 10
	x := make([]float64, n)
	g := make([]float64, n)
	xn := make([]float64, n)
	gn := make([]float64, n)
	d := make([]float64, n)
	var ss, ys [][]float64
	var rho []float64
	alpha := make([]float64, mem)
	f := fg(x, g)
	st := lbfgsStats{f: f}
	for st.iters = 0; st.iters < maxIter; st.iters++ {
		if err := ctx.Err(); err != nil {
			return nil, st, err
		}
		if maxAbs(g) <= tol {
			st.converged = true
			break
		}
		// Two-loop recursion: d = -H g.
		for i := range d {
			d[i] = -g[i]
		}
		for i := len(ss) - 1; i >= 0; i-- {
			alpha[i] = rho[i] * dot(ss[i], d)
			for j := range d {
				d[j] -= alpha[i] * ys[i][j]
			}
		}
		if len(ss) > 0 {
			last := len(ss) - 1
			gamma := dot(ss[last], ys[last]) / dot(ys[last], ys[last])
			for j := range d {
				d[j] *= gamma
			}
		}
		for i := range ss {
			beta := rho[i] * dot(ys[i], d)
			for j := range d {
				d[j] += (alpha[i] - beta) * ss[i][j]
			}
		}
		gd := dot(g, d)
		if gd >= 0 { // not a descent direction: restart from steepest descent
			ss, ys, rho = ss[:0], ys[:0], rho[:0]
			for i := range d {
				d[i] = -g[i]
			}
			gd = -dot(g, g)
		}
		step := 1.0
		if len(ss) == 0 {
			step = min(1, 1/math.Sqrt(-gd))
		}
		var fn float64
		ok := false
		for ls := 0; ls < 60; ls++ {
			for i := range xn {
				xn[i] = x[i] + step*d[i]
			}
			fn = fg(xn, gn)
			if fn <= f+1e-4*step*gd {
				ok = true
				break
			}
			step *= 0.5
		}
		if !ok { // no decrease representable any more: as good as it gets
			st.converged = maxAbs(g) <= 100*tol
			break
		}
		var s, y []float64
		if len(ss) == mem {
			s, y = ss[0], ys[0]
			ss, ys, rho = ss[1:], ys[1:], rho[1:]
		} else {
			s, y = make([]float64, n), make([]float64, n)
		}
		for i := range s {
			s[i] = xn[i] - x[i]
			y[i] = gn[i] - g[i]
		}
		if sy := dot(s, y); sy > 1e-12*dot(y, y) {
			ss, ys, rho = append(ss, s), append(ys, y), append(rho, 1/sy)
		}
		x, xn = xn, x
		g, gn = gn, g
		f = fn
		st.f = f
	}
	return x, st, nil
}

// TFIDFLogReg is the TF-IDF + logistic regression baseline as a FineTuner:
// a TFIDF vectoriser fitted on the training texts, then LogReg.
type TFIDFLogReg struct{ LogReg LogReg }

// Fit implements FineTuner.
func (t TFIDFLogReg) Fit(ctx context.Context, texts []string, labels []int, numLabels int) (Predictor, error) {
	v, err := FitTFIDF(texts)
	if err != nil {
		return nil, err
	}
	m, err := t.LogReg.Fit(ctx, v.Transform(texts), labels, numLabels)
	if err != nil {
		return nil, err
	}
	return &tfidfPredictor{v: v, m: m}, nil
}

type tfidfPredictor struct {
	v *TFIDF
	m *LRModel
}

func (p *tfidfPredictor) PredictProba(ctx context.Context, texts []string) ([][]float64, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return p.m.Proba(p.v.Transform(texts))
}

// Majority predicts the class frequencies of the training labels for every
// text: its accuracy is the majority class share and its loss the
// cross-entropy of the class prior.
type Majority struct{}

// Fit implements FineTuner.
func (Majority) Fit(_ context.Context, _ []string, labels []int, numLabels int) (Predictor, error) {
	if len(labels) == 0 {
		return nil, fmt.Errorf("eval: majority baseline: no labels")
	}
	prior := make([]float64, numLabels)
	for _, y := range labels {
		if y < 0 || y >= numLabels {
			return nil, fmt.Errorf("eval: majority baseline: label %d outside [0, %d)", y, numLabels)
		}
		prior[y]++
	}
	for i := range prior {
		prior[i] /= float64(len(labels))
	}
	return priorPredictor(prior), nil
}

type priorPredictor []float64

func (p priorPredictor) PredictProba(_ context.Context, texts []string) ([][]float64, error) {
	out := make([][]float64, len(texts))
	for i := range out {
		out[i] = append([]float64(nil), p...)
	}
	return out, nil
}
