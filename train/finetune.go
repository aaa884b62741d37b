package train

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"sort"

	"bioencoder"
	"bioencoder/eval"
	"bioencoder/nn"
	"bioencoder/tensor"
)

// Fine-tuning for the evaluation protocols: a fresh head on the pretrained
// encoder for every Fit, trained with the engine, selected on dev data when
// the protocol has some.

func init() {
	eval.NewModelFineTuner = func(m *bioencoder.Model, o eval.FineTuneOptions) (eval.FineTuner, error) {
		return &SeqFineTuner{Base: m.Dir(), Opt: fineTuneDefaults(o)}, nil
	}
	eval.NewModelTokenFineTuner = func(m *bioencoder.Model, o eval.FineTuneOptions) (eval.TokenFineTuner, error) {
		return &TokenFineTuner{Base: m.Dir(), Opt: fineTuneDefaults(o)}, nil
	}
}

func fineTuneDefaults(o eval.FineTuneOptions) eval.FineTuneOptions {
	if o.Epochs == 0 {
		o.Epochs = 3
	}
	if o.LR == 0 {
		o.LR = 1e-4
	}
	if o.BatchSize == 0 {
		o.BatchSize = 16
	}
	if o.MaxLength == 0 {
		o.MaxLength = 256
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return o
}

// runFineTune trains task in a temporary folder and leaves the trained
// weights in memory. With dev, the weights of the epoch that scores best on
// dev are kept.
func runFineTune(ctx context.Context, task Task, examples int, o eval.FineTuneOptions, dev func() (float64, error)) error {
	out, err := os.MkdirTemp("", "bioenc-finetune-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(out)
	perEpoch := max(1, int(math.Ceil(float64(examples)/float64(o.BatchSize))))
	opts := Options{Out: out, Seed: o.Seed, Epochs: o.Epochs, BatchSize: o.BatchSize, LR: o.LR, Schedule: "linear",
		Warmup: 0.1, WeightDecay: 0.01, MaxGradNorm: 1, LogEvery: max(1, perEpoch/4), Progress: o.Log}
	var sel *devSelect
	if dev != nil {
		sel = &devSelect{Task: task, score: dev, best: math.Inf(-1)}
		opts.EvalEvery = perEpoch
		task = sel
	}
	if _, err := Run(ctx, task, opts); err != nil {
		return err
	}
	if sel != nil {
		sel.restore()
	}
	return nil
}

// devSelect scores the model on dev data at each evaluation and keeps a copy
// of the best weights.
type devSelect struct {
	Task
	score func() (float64, error)
	best  float64
	saved [][]float32
}

func (d *devSelect) Evaluate(ctx context.Context) (map[string]float64, error) {
	s, err := d.score()
	if err != nil {
		return nil, err
	}
	if s > d.best {
		d.best = s
		d.saved = d.saved[:0]
		for _, ps := range d.Params() {
			d.saved = append(d.saved, append([]float32(nil), ps.W...))
		}
	}
	return map[string]float64{"dev": s, "best_dev": d.best}, nil
}

func (d *devSelect) restore() {
	if d.saved == nil {
		return
	}
	for i, ps := range d.Params() {
		copy(ps.W, d.saved[i])
		ps.Touch()
	}
}

// SeqFineTuner fine-tunes a sequence classifier on the encoder in Base.
type SeqFineTuner struct {
	Base string
	Opt  eval.FineTuneOptions
}

func (f *SeqFineTuner) newModel(numLabels int) (*bioencoder.Model, error) {
	names := make([]string, numLabels)
	for i := range names {
		names[i] = fmt.Sprintf("LABEL_%d", i)
	}
	return bioencoder.NewHead(f.Base, bioencoder.Classifier, names, f.Opt.Seed+1, bioencoder.WithMaxLength(f.Opt.MaxLength))
}

func pairsOf(texts []string) []bioencoder.Pair {
	p := make([]bioencoder.Pair, len(texts))
	for i, t := range texts {
		p[i] = bioencoder.Pair{A: t}
	}
	return p
}

// Fit trains on all the data for the configured epochs.
func (f *SeqFineTuner) Fit(ctx context.Context, texts []string, labels []int, numLabels int) (eval.Predictor, error) {
	m, err := f.newModel(numLabels)
	if err != nil {
		return nil, err
	}
	if err := runFineTune(ctx, NewClassifier(m, pairsOf(texts), labels), len(texts), f.Opt, nil); err != nil {
		return nil, err
	}
	return probs{m}, nil
}

// FitDev trains on train and keeps the epoch with the best dev accuracy.
func (f *SeqFineTuner) FitDev(ctx context.Context, train, dev eval.ClassData) (eval.Predictor, error) {
	m, err := f.newModel(len(train.Names))
	if err != nil {
		return nil, err
	}
	p := probs{m}
	score := func() (float64, error) {
		pr, err := p.PredictProba(ctx, dev.Texts)
		if err != nil {
			return 0, err
		}
		correct := 0
		for i, row := range pr {
			if argmax64(row) == dev.Labels[i] {
				correct++
			}
		}
		return float64(correct) / float64(len(pr)), nil
	}
	if err := runFineTune(ctx, NewClassifier(m, pairsOf(train.Texts), train.Labels), len(train.Texts), f.Opt, score); err != nil {
		return nil, err
	}
	return p, nil
}

type probs struct{ m *bioencoder.Model }

// PredictProba is the softmax of the classifier's logits.
func (p probs) PredictProba(ctx context.Context, texts []string) ([][]float64, error) {
	logits, err := p.m.Logits(ctx, pairsOf(texts))
	if err != nil {
		return nil, err
	}
	out := make([][]float64, len(logits))
	for i, l := range logits {
		mx := math.Inf(-1)
		for _, v := range l {
			mx = math.Max(mx, float64(v))
		}
		s := 0.0
		row := make([]float64, len(l))
		for j, v := range l {
			row[j] = math.Exp(float64(v) - mx)
			s += row[j]
		}
		for j := range row {
			row[j] /= s
		}
		out[i] = row
	}
	return out, nil
}

func argmax64(x []float64) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// TokenFineTuner fine-tunes a token classifier (NER) on the encoder in Base.
type TokenFineTuner struct {
	Base string
	Opt  eval.FineTuneOptions
}

// FitTokens trains on train and keeps the epoch with the best dev entity F1.
func (f *TokenFineTuner) FitTokens(ctx context.Context, train, dev []eval.Sentence) (eval.Tagger, error) {
	set := map[string]bool{"O": true}
	for _, s := range train {
		for _, t := range s.Tags {
			set[t] = true
		}
	}
	var tags []string
	for t := range set {
		if t != "O" {
			tags = append(tags, t)
		}
	}
	sort.Strings(tags)
	tags = append([]string{"O"}, tags...)
	index := map[string]int{}
	for i, t := range tags {
		index[t] = i
	}
	m, err := bioencoder.NewHead(f.Base, bioencoder.TokenClassifier, tags, f.Opt.Seed+1, bioencoder.WithMaxLength(f.Opt.MaxLength))
	if err != nil {
		return nil, err
	}
	words := make([][]string, len(train))
	labels := make([][]int, len(train))
	for i, s := range train {
		words[i] = s.Words
		for _, t := range s.Tags {
			labels[i] = append(labels[i], index[t])
		}
	}
	tg := &wordTagger{m: m, tags: tags}
	var score func() (float64, error)
	if len(dev) > 0 {
		score = func() (float64, error) {
			gold, sents := make([][]string, len(dev)), make([][]string, len(dev))
			for i, s := range dev {
				gold[i], sents[i] = s.Tags, s.Words
			}
			pred, err := tg.Tag(ctx, sents)
			if err != nil {
				return 0, err
			}
			prf, err := eval.EntityPRF(gold, pred, eval.IOB2)
			return prf.F1, err
		}
	}
	if err := runFineTune(ctx, NewTagger(m, words, labels), len(train), f.Opt, score); err != nil {
		return nil, err
	}
	return tg, nil
}

type wordTagger struct {
	m    *bioencoder.Model
	tags []string
}

// Tag predicts each word's tag at its first sub-token; words cut off by
// truncation are tagged O.
func (w *wordTagger) Tag(ctx context.Context, sents [][]string) ([][]string, error) {
	var ws tensor.Workspace
	g := nn.NewGraph(&ws, false)
	out := make([][]string, len(sents))
	const chunk = 32
	for lo := 0; lo < len(sents); lo += chunk {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hi := min(lo+chunk, len(sents))
		logits, first, _, err := w.m.WordLogitsGraph(g, sents[lo:hi])
		if err != nil {
			return nil, err
		}
		for i := range first {
			tags := make([]string, len(first[i]))
			for j, row := range first[i] {
				tags[j] = "O"
				if row >= 0 {
					r := logits.Data[row*logits.Cols : (row+1)*logits.Cols]
					best := 0
					for k, v := range r {
						if v > r[best] {
							best = k
						}
					}
					tags[j] = w.tags[best]
				}
			}
			out[lo+i] = tags
		}
		g.Reset()
	}
	return out, nil
}
