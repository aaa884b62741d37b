package eval

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// Scorer scores text pairs: higher means more similar. The pair protocol
// calls it once per dataset with all 2N pairs.
type Scorer interface {
	ScorePairs(ctx context.Context, a, b []string) ([]float64, error)
}

// FineTuner trains a classifier on labelled texts (labels in
// [0, numLabels)). For our encoders it fine-tunes a fresh copy of the
// pretrained model on every call.
type FineTuner interface {
	Fit(ctx context.Context, texts []string, labels []int, numLabels int) (Predictor, error)
}

// DevFineTuner is a FineTuner that can also use a development set, for
// early stopping or hyper-parameter choice. Protocols with a dev split
// (ChemProt) call FitDev when the FineTuner has it.
type DevFineTuner interface {
	FineTuner
	FitDev(ctx context.Context, train, dev ClassData) (Predictor, error)
}

// Predictor gives one row of class probabilities per text.
type Predictor interface {
	PredictProba(ctx context.Context, texts []string) ([][]float64, error)
}

// Tagger tags tokenised sentences: one tag per word. For sub-word models
// a word's tag is the prediction at its first sub-token.
type Tagger interface {
	Tag(ctx context.Context, sents [][]string) ([][]string, error)
}

// TokenFineTuner trains a Tagger on tagged sentences; dev is there for
// model selection (early stopping, hyper-parameters) and may be ignored.
type TokenFineTuner interface {
	FitTokens(ctx context.Context, train, dev []Sentence) (Tagger, error)
}

// Num is a float64 that encodes NaN and infinities as JSON null.
type Num float64

// MarshalJSON implements json.Marshaler.
func (n Num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return fmt.Appendf(nil, "%.10g", f), nil
}

// logf writes a progress line when w is not nil.
func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}

// SimilarityResult is the pair protocol's outcome on one dataset.
type SimilarityResult struct {
	Dataset  string  `json:"dataset"`
	Pairs    int     `json:"pairs"` // true pairs N (2N scored)
	Pearson  Num     `json:"pearson_x100"`
	Spearman Num     `json:"spearman_x100"`
	Seconds  float64 `json:"seconds"`
}

// PairSimilarity runs the pair protocol (EVALUATION.md C.1): the N true
// pairs (a_i, b_i) labelled 1 and the N pairs (a_i, b_p(i)) labelled 0,
// where p = Derangement(N, seed); it returns Pearson and Spearman x 100
// between the scores and the labels.
func PairSimilarity(ctx context.Context, s Scorer, name string, pairs []Pair, seed uint64) (SimilarityResult, error) {
	t0 := time.Now()
	n := len(pairs)
	p, err := Derangement(n, seed)
	if err != nil {
		return SimilarityResult{}, fmt.Errorf("%s: %w", name, err)
	}
	a := make([]string, 2*n)
	b := make([]string, 2*n)
	labels := make([]float64, 2*n)
	for i, pr := range pairs {
		a[i], b[i], labels[i] = pr.A, pr.B, 1
		a[n+i], b[n+i] = pr.A, pairs[p[i]].B
	}
	scores, err := s.ScorePairs(ctx, a, b)
	if err != nil {
		return SimilarityResult{}, fmt.Errorf("%s: %w", name, err)
	}
	if len(scores) != 2*n {
		return SimilarityResult{}, fmt.Errorf("%s: scorer returned %d scores for %d pairs", name, len(scores), 2*n)
	}
	pr, err := Pearson(scores, labels)
	if err != nil {
		return SimilarityResult{}, fmt.Errorf("%s: %w", name, err)
	}
	sp, err := Spearman(scores, labels)
	if err != nil {
		return SimilarityResult{}, fmt.Errorf("%s: %w", name, err)
	}
	return SimilarityResult{Dataset: name, Pairs: n, Pearson: Num(100 * pr), Spearman: Num(100 * sp),
		Seconds: time.Since(t0).Seconds()}, nil
}

// Similarity dataset names, in table order.
const (
	PubMedQA       = "PubMed QA"
	PubMedSections = "PubMed Sections"
	PubMedSummary  = "PubMed Summary"
)

// PairSet is a named similarity dataset.
type PairSet struct {
	Name  string
	Pairs []Pair
}

// LoadSimilaritySets reads the three similarity sets from the shared
// folder, each cut to its first limit pairs when limit > 0.
func LoadSimilaritySets(limit int) ([]PairSet, error) {
	qa, err := LoadPubMedQA()
	if err != nil {
		return nil, err
	}
	sec, _, err := LoadPubMedSections()
	if err != nil {
		return nil, err
	}
	sum, err := LoadPubMedSummary()
	if err != nil {
		return nil, err
	}
	sets := []PairSet{{PubMedQA, qa}, {PubMedSections, sec}, {PubMedSummary, sum}}
	for i := range sets {
		if limit > 0 && limit < len(sets[i].Pairs) {
			sets[i].Pairs = sets[i].Pairs[:limit]
		}
	}
	return sets, nil
}

// SimilarityReport is one model's row of the similarity table.
type SimilarityReport struct {
	Model       string             `json:"model"`
	Datasets    []SimilarityResult `json:"datasets"`
	AvgPearson  Num                `json:"average_pearson_x100"`
	AvgSpearman Num                `json:"average_spearman_x100"`
}

// RunSimilarity runs the pair protocol on every set.
func RunSimilarity(ctx context.Context, model string, s Scorer, sets []PairSet, seed uint64, log io.Writer) (SimilarityReport, error) {
	r := SimilarityReport{Model: model}
	var sp, ss float64
	for _, set := range sets {
		res, err := PairSimilarity(ctx, s, set.Name, set.Pairs, seed)
		if err != nil {
			return r, err
		}
		logf(log, "%s: %s: %d pairs: pearson %.2f spearman %.2f (%.1fs)", model, set.Name, res.Pairs,
			float64(res.Pearson), float64(res.Spearman), res.Seconds)
		r.Datasets = append(r.Datasets, res)
		sp += float64(res.Pearson)
		ss += float64(res.Spearman)
	}
	if len(sets) > 0 {
		r.AvgPearson, r.AvgSpearman = Num(sp/float64(len(sets))), Num(ss/float64(len(sets)))
	}
	return r, nil
}

// ClassificationResult is a classification protocol's outcome.
type ClassificationResult struct {
	Model    string  `json:"model"`
	N        int     `json:"n"`
	Folds    int     `json:"folds,omitempty"`
	Accuracy float64 `json:"accuracy"`
	Loss     Num     `json:"loss"`
	Seconds  float64 `json:"seconds"`
}

// CrossValidate runs the Medical Abstracts protocol (EVALUATION.md C.2):
// StratifiedKFold(k, seed) folds; for each fold the FineTuner is fitted on
// the other folds and predicts this one; accuracy (argmax, first on ties)
// and mean cross-entropy are taken over all out-of-fold predictions.
func CrossValidate(ctx context.Context, model string, ft FineTuner, d ClassData, k int, seed uint64, log io.Writer) (ClassificationResult, error) {
	t0 := time.Now()
	K := len(d.Names)
	folds, err := StratifiedKFold(d.Labels, k, seed)
	if err != nil {
		return ClassificationResult{}, err
	}
	proba := make([][]float64, len(d.Texts))
	for f := 0; f < k; f++ {
		var trX, teX []string
		var trY, teI []int
		for i, fi := range folds {
			if fi == f {
				teX = append(teX, d.Texts[i])
				teI = append(teI, i)
			} else {
				trX = append(trX, d.Texts[i])
				trY = append(trY, d.Labels[i])
			}
		}
		if len(teX) == 0 {
			continue
		}
		tf := time.Now()
		pr, err := ft.Fit(ctx, trX, trY, K)
		if err != nil {
			return ClassificationResult{}, fmt.Errorf("%s: fold %d: %w", model, f, err)
		}
		p, err := pr.PredictProba(ctx, teX)
		if err != nil {
			return ClassificationResult{}, fmt.Errorf("%s: fold %d: %w", model, f, err)
		}
		if err := checkProba(p, len(teX), K); err != nil {
			return ClassificationResult{}, fmt.Errorf("%s: fold %d: %w", model, f, err)
		}
		for j, i := range teI {
			proba[i] = p[j]
		}
		logf(log, "%s: fold %d/%d: train %d, test %d (%.1fs)", model, f+1, k, len(trX), len(teX), time.Since(tf).Seconds())
	}
	acc, loss, err := accLoss(proba, d.Labels)
	if err != nil {
		return ClassificationResult{}, err
	}
	return ClassificationResult{Model: model, N: len(d.Texts), Folds: k, Accuracy: acc, Loss: Num(loss),
		Seconds: time.Since(t0).Seconds()}, nil
}

func checkProba(p [][]float64, n, k int) error {
	if len(p) != n {
		return fmt.Errorf("predictor returned %d rows for %d texts", len(p), n)
	}
	for i, row := range p {
		if len(row) != k {
			return fmt.Errorf("predictor returned %d probabilities for %d classes (row %d)", len(row), k, i)
		}
	}
	return nil
}

func predictions(p [][]float64) []int {
	out := make([]int, len(p))
	for i, row := range p {
		out[i] = Argmax(row)
	}
	return out
}

func accLoss(p [][]float64, labels []int) (float64, float64, error) {
	acc, err := Accuracy(predictions(p), labels)
	if err != nil {
		return 0, 0, err
	}
	loss, err := CrossEntropy(p, labels)
	return acc, loss, err
}

// ChemProtResult is the ChemProt protocol's outcome.
type ChemProtResult struct {
	Model       string  `json:"model"`
	DevAccuracy float64 `json:"dev_accuracy"`
	DevMicroF1  float64 `json:"dev_micro_f1"`
	Accuracy    float64 `json:"test_accuracy"`
	MicroF1     float64 `json:"test_micro_f1"`
	Micro       PRF     `json:"test_micro"`
	Test        int     `json:"test_n"`
	Seconds     float64 `json:"seconds"`
}

// ChemProtNegative is the label excluded from ChemProt's micro-F1. The
// SciBERT split shipped here has no such label (its 13 labels are all
// relations), so there micro-F1 equals accuracy.
const ChemProtNegative = "false"

// ChemProt runs EVALUATION.md C.4: fit on train (FitDev with the dev split
// when the FineTuner selects on it), report dev and test accuracy and
// micro-F1 over the classes other than ChemProtNegative.
func ChemProt(ctx context.Context, model string, ft FineTuner, d ChemProtData, log io.Writer) (ChemProtResult, error) {
	t0 := time.Now()
	K := len(d.Train.Names)
	var pr Predictor
	var err error
	if dft, ok := ft.(DevFineTuner); ok {
		pr, err = dft.FitDev(ctx, d.Train, d.Dev)
	} else {
		pr, err = ft.Fit(ctx, d.Train.Texts, d.Train.Labels, K)
	}
	if err != nil {
		return ChemProtResult{}, fmt.Errorf("%s: chemprot: %w", model, err)
	}
	r := ChemProtResult{Model: model, Test: len(d.Test.Texts)}
	score := func(set ClassData) (float64, PRF, error) {
		p, err := pr.PredictProba(ctx, set.Texts)
		if err != nil {
			return 0, PRF{}, err
		}
		if err := checkProba(p, len(set.Texts), K); err != nil {
			return 0, PRF{}, err
		}
		pred := predictions(p)
		acc, err := Accuracy(pred, set.Labels)
		if err != nil {
			return 0, PRF{}, err
		}
		micro, err := MicroF1Excluding(pred, set.Labels, set.Names, ChemProtNegative)
		return acc, micro, err
	}
	var dev PRF
	if r.DevAccuracy, dev, err = score(d.Dev); err != nil {
		return r, fmt.Errorf("%s: chemprot dev: %w", model, err)
	}
	r.DevMicroF1 = dev.F1
	if r.Accuracy, r.Micro, err = score(d.Test); err != nil {
		return r, fmt.Errorf("%s: chemprot test: %w", model, err)
	}
	r.MicroF1 = r.Micro.F1
	r.Seconds = time.Since(t0).Seconds()
	logf(log, "%s: chemprot: dev acc %.4f, test acc %.4f micro-F1 %.4f (%.1fs)", model, r.DevAccuracy, r.Accuracy, r.MicroF1, r.Seconds)
	return r, nil
}

// NERResult is the NER protocol's outcome: strict entity-level scores
// (exact span and type, IOB2 decoding), plus the lenient IOB reading of the
// same test predictions for reference.
type NERResult struct {
	Model       string  `json:"model"`
	Dev         PRF     `json:"dev"`
	Test        PRF     `json:"test"`
	TestLenient PRF     `json:"test_lenient_iob"`
	Seconds     float64 `json:"seconds"`
}

// NER runs EVALUATION.md C.3: fit on train (dev passed for selection), tag
// dev and test, score entities.
func NER(ctx context.Context, model string, ft TokenFineTuner, d NERData, log io.Writer) (NERResult, error) {
	t0 := time.Now()
	tg, err := ft.FitTokens(ctx, d.Train, d.Devel)
	if err != nil {
		return NERResult{}, fmt.Errorf("%s: ner: %w", model, err)
	}
	tagSet := func(s []Sentence) ([][]string, [][]string, error) {
		words := make([][]string, len(s))
		gold := make([][]string, len(s))
		for i, x := range s {
			words[i], gold[i] = x.Words, x.Tags
		}
		pred, err := tg.Tag(ctx, words)
		if err != nil {
			return nil, nil, err
		}
		if len(pred) != len(s) {
			return nil, nil, fmt.Errorf("tagger returned %d sentences for %d", len(pred), len(s))
		}
		return gold, pred, nil
	}
	r := NERResult{Model: model}
	gold, pred, err := tagSet(d.Devel)
	if err != nil {
		return r, fmt.Errorf("%s: ner dev: %w", model, err)
	}
	if r.Dev, err = EntityPRF(gold, pred, IOB2); err != nil {
		return r, fmt.Errorf("%s: ner dev: %w", model, err)
	}
	if gold, pred, err = tagSet(d.Test); err != nil {
		return r, fmt.Errorf("%s: ner test: %w", model, err)
	}
	if r.Test, err = EntityPRF(gold, pred, IOB2); err != nil {
		return r, fmt.Errorf("%s: ner test: %w", model, err)
	}
	if r.TestLenient, err = EntityPRF(gold, pred, IOB); err != nil {
		return r, fmt.Errorf("%s: ner test: %w", model, err)
	}
	r.Seconds = time.Since(t0).Seconds()
	logf(log, "%s: ner: dev F1 %.4f, test P %.4f R %.4f F1 %.4f (%.1fs)", model, r.Dev.F1, r.Test.Precision, r.Test.Recall, r.Test.F1, r.Seconds)
	return r, nil
}

// ErrNoFineTuning is returned when a protocol needs to fine-tune one of our
// models and no training engine has registered a constructor.
var ErrNoFineTuning = errors.New("fine-tuning not available yet")
