package eval

import (
	"context"
	"fmt"
	"io"
	"sort"

	"bioencoder"
	"bioencoder/config"
	"bioencoder/nn"
	"bioencoder/tensor"
	"bioencoder/tokenizer"
)

// scoreChunk bounds how many texts or pairs go to the model per call, so
// that progress is visible and cancellation is prompt.
const scoreChunk = 256

// ModelScorer returns the Scorer the pair protocol uses for a model, by
// its kind: MaxSim / |q| for ColBERT; the cross-encoder score (after its
// activation) for a cross-encoder or a one-label sequence classifier;
// otherwise the cosine of the model's sentence embeddings (a bare encoder
// or masked-LM checkpoint is mean-pooled, as sentence-transformers does).
func ModelScorer(m *bioencoder.Model, log io.Writer) (Scorer, error) {
	switch m.Kind() {
	case bioencoder.ColBERT:
		return &ColBERTScorer{M: m, Log: log}, nil
	case bioencoder.CrossEncoder:
		return &CrossEncoderScorer{M: m, Log: log}, nil
	case bioencoder.Classifier:
		if m.Config().NumLabels() == 1 {
			return &CrossEncoderScorer{M: m, Log: log}, nil
		}
		return nil, fmt.Errorf("eval: %s is a %d-label classifier; similarity needs an embedding, ColBERT or cross-encoder model", m.Dir(), m.Config().NumLabels())
	case bioencoder.TokenClassifier:
		return nil, fmt.Errorf("eval: %s is a token classifier; similarity needs an embedding, ColBERT or cross-encoder model", m.Dir())
	}
	return &EmbedScorer{M: m, Log: log}, nil
}

// EmbedScorer scores a pair by the cosine of the two texts' m.Embed
// vectors; every distinct text is embedded once.
type EmbedScorer struct {
	M   *bioencoder.Model
	Log io.Writer
}

// ScorePairs implements Scorer.
func (s *EmbedScorer) ScorePairs(ctx context.Context, a, b []string) ([]float64, error) {
	if len(a) != len(b) {
		return nil, fmt.Errorf("eval: %d left and %d right texts", len(a), len(b))
	}
	uniq, ia, ib := dedupe(a, b)
	vecs := make([][]float32, 0, len(uniq))
	for lo := 0; lo < len(uniq); lo += scoreChunk {
		hi := min(len(uniq), lo+scoreChunk)
		v, err := s.M.Embed(ctx, uniq[lo:hi])
		if err != nil {
			return nil, err
		}
		vecs = append(vecs, v...)
		logf(s.Log, "  embedded %d/%d texts", hi, len(uniq))
	}
	out := make([]float64, len(a))
	for i := range a {
		out[i] = float64(bioencoder.Cosine(vecs[ia[i]], vecs[ib[i]]))
	}
	return out, nil
}

// ColBERTScorer scores a pair by MaxSim(a as query, b as document) divided
// by the number of query vectors, which puts it in [-1, 1].
type ColBERTScorer struct {
	M   *bioencoder.Model
	Log io.Writer
}

func (s *ColBERTScorer) encode(ctx context.Context, texts []string, query bool) ([][][]float32, error) {
	out := make([][][]float32, 0, len(texts))
	for lo := 0; lo < len(texts); lo += scoreChunk {
		hi := min(len(texts), lo+scoreChunk)
		v, err := s.M.EncodeColBERT(ctx, texts[lo:hi], query)
		if err != nil {
			return nil, err
		}
		out = append(out, v...)
		logf(s.Log, "  encoded %d/%d %s", hi, len(texts), map[bool]string{true: "queries", false: "documents"}[query])
	}
	return out, nil
}

// ScorePairs implements Scorer.
func (s *ColBERTScorer) ScorePairs(ctx context.Context, a, b []string) ([]float64, error) {
	if len(a) != len(b) {
		return nil, fmt.Errorf("eval: %d left and %d right texts", len(a), len(b))
	}
	qs, ia, _ := dedupe(a, nil)
	ds, ib, _ := dedupe(b, nil)
	qv, err := s.encode(ctx, qs, true)
	if err != nil {
		return nil, err
	}
	dv, err := s.encode(ctx, ds, false)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(a))
	for i := range a {
		q := qv[ia[i]]
		if len(q) == 0 {
			return nil, fmt.Errorf("eval: colbert: query %d has no vectors", i)
		}
		out[i] = float64(bioencoder.MaxSim(q, dv[ib[i]])) / float64(len(q))
	}
	return out, nil
}

// CrossEncoderScorer scores a pair by m.Predict (one label).
type CrossEncoderScorer struct {
	M   *bioencoder.Model
	Log io.Writer
}

// ScorePairs implements Scorer.
func (s *CrossEncoderScorer) ScorePairs(ctx context.Context, a, b []string) ([]float64, error) {
	if len(a) != len(b) {
		return nil, fmt.Errorf("eval: %d left and %d right texts", len(a), len(b))
	}
	out := make([]float64, 0, len(a))
	pairs := make([]bioencoder.Pair, 0, scoreChunk)
	for lo := 0; lo < len(a); lo += scoreChunk {
		hi := min(len(a), lo+scoreChunk)
		pairs = pairs[:0]
		for i := lo; i < hi; i++ {
			pairs = append(pairs, bioencoder.Pair{A: a[i], B: b[i]})
		}
		sc, err := s.M.Predict(ctx, pairs)
		if err != nil {
			return nil, err
		}
		for _, v := range sc {
			if len(v) != 1 {
				return nil, fmt.Errorf("eval: %s gives %d scores per pair; the pair protocol needs a one-label cross-encoder", s.M.Dir(), len(v))
			}
			out = append(out, float64(v[0]))
		}
		logf(s.Log, "  scored %d/%d pairs", hi, len(a))
	}
	return out, nil
}

// ModelMasker runs a masked-LM model folder (Kind MaskedLM) as a Masker.
type ModelMasker struct {
	m      *bioencoder.Model
	tok    *tokenizer.Tokenizer
	maskID int
	mask   string
}

// NewModelMasker wraps a masked-LM model.
func NewModelMasker(m *bioencoder.Model) (*ModelMasker, error) {
	if m.Kind() != bioencoder.MaskedLM {
		return nil, fmt.Errorf("eval: fill-mask needs a masked-LM model; %s is a %s", m.Dir(), m.Kind())
	}
	tok := m.Tokenizer()
	id, ok := tok.MaskID()
	if !ok {
		return nil, fmt.Errorf("eval: %s: the tokenizer has no mask token", m.Dir())
	}
	s, ok := tok.IDToToken(id)
	if !ok {
		return nil, fmt.Errorf("eval: %s: mask id %d has no token", m.Dir(), id)
	}
	return &ModelMasker{m: m, tok: tok, maskID: id, mask: s}, nil
}

// MaskToken implements Masker.
func (mm *ModelMasker) MaskToken() string { return mm.mask }

// TokenSpans implements Masker.
func (mm *ModelMasker) TokenSpans(text string) ([][2]int, error) {
	e, err := mm.tok.Encode(text, tokenizer.Options{})
	if err != nil {
		return nil, err
	}
	out := make([][2]int, 0, len(e.IDs))
	for i, o := range e.ByteOffsets {
		if e.SpecialTokensMask != nil && e.SpecialTokensMask[i] == 1 {
			continue
		}
		out = append(out, o)
	}
	return out, nil
}

// FillMask implements Masker: the texts are encoded with special tokens
// and truncated to the model's maximum length; the vocabulary logits at
// the first mask position are ranked and the k best tokens decoded.
func (mm *ModelMasker) FillMask(ctx context.Context, texts []string, k int) ([][]string, error) {
	in := make([]tokenizer.Input, len(texts))
	for i, t := range texts {
		in[i] = tokenizer.Input{Text: t}
	}
	out := make([][]string, len(texts))
	if len(in) == 0 {
		return out, nil
	}
	encs, err := mm.tok.EncodeBatch(in, tokenizer.Options{AddSpecialTokens: true, MaxLength: mm.m.MaxLength(), Truncation: tokenizer.LongestFirst})
	if err != nil {
		return nil, err
	}
	ids := make([][]int, len(encs))
	for i, e := range encs {
		ids[i] = e.IDs
	}
	top, err := mm.TopKIDs(ctx, ids, k)
	if err != nil {
		return nil, err
	}
	for i, t := range top {
		for _, id := range t {
			out[i] = append(out[i], mm.tok.Decode([]int{id}, false))
		}
	}
	return out, nil
}

// TopKIDs runs the model on token id sequences (single texts, special
// tokens included, token type 0) and returns, for each, the ids of the k
// largest logits at its first mask position, best first (nil when the
// sequence has no mask).
func (mm *ModelMasker) TopKIDs(ctx context.Context, seqs [][]int, k int) ([][]int, error) {
	out := make([][]int, len(seqs))
	useTypes := mm.m.Config().Arch != config.ModernBERT
	var ws tensor.Workspace
	g := nn.NewGraph(&ws, false)
	net := mm.m.Net()
	const batch = 16
	for lo := 0; lo < len(seqs); lo += batch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hi := min(len(seqs), lo+batch)
		b := &nn.Batch{Starts: []int{0}}
		var rows, owners []int
		for i := lo; i < hi; i++ {
			if len(seqs[i]) == 0 {
				continue
			}
			for j, id := range seqs[i] {
				if id == mm.maskID {
					rows = append(rows, len(b.IDs)+j)
					owners = append(owners, i)
					break
				}
			}
			b.IDs = append(b.IDs, seqs[i]...)
			for j := range seqs[i] {
				b.Pos = append(b.Pos, j)
				if useTypes {
					b.TypeIDs = append(b.TypeIDs, 0)
				}
			}
			b.Starts = append(b.Starts, len(b.IDs))
		}
		if len(rows) == 0 {
			continue
		}
		h, err := net.Encode(g, b, nil)
		if err != nil {
			return nil, err
		}
		lg, err := net.MaskedLM(g, h, rows)
		if err != nil {
			return nil, err
		}
		for r, i := range owners {
			out[i] = topK(lg.Data[r*lg.Cols:(r+1)*lg.Cols], k)
		}
		g.Reset()
	}
	return out, nil
}

// topK returns the indices of the k largest values, largest first (lower
// index first on ties).
func topK(x []float32, k int) []int {
	k = min(k, len(x))
	idx := make([]int, 0, k+1)
	for i, v := range x {
		if len(idx) == k && v <= x[idx[k-1]] {
			continue
		}
		p := sort.Search(len(idx), func(j int) bool { return x[idx[j]] < v })
		idx = append(idx, 0)
		copy(idx[p+1:], idx[p:])
		idx[p] = i
		if len(idx) > k {
			idx = idx[:k]
		}
	}
	return idx
}

// FineTuneOptions are handed to the training engine's constructors. Zero
// values mean the engine's defaults.
type FineTuneOptions struct {
	Seed      uint64
	Log       io.Writer
	Epochs    float64
	LR        float64
	BatchSize int
	MaxLength int
}

// NewModelFineTuner and NewModelTokenFineTuner build FineTuners that
// fine-tune one of our pretrained encoders (a fresh copy per Fit). The
// training engine sets them (from an init function of its package); until
// then, protocols that need them return ErrNoFineTuning.
var (
	NewModelFineTuner      func(m *bioencoder.Model, o FineTuneOptions) (FineTuner, error)
	NewModelTokenFineTuner func(m *bioencoder.Model, o FineTuneOptions) (TokenFineTuner, error)
)

// ModelFineTuner returns the registered sequence-classification fine-tuner
// for m, or ErrNoFineTuning.
func ModelFineTuner(m *bioencoder.Model, o FineTuneOptions) (FineTuner, error) {
	if NewModelFineTuner == nil {
		return nil, ErrNoFineTuning
	}
	return NewModelFineTuner(m, o)
}

// ModelTokenFineTuner returns the registered token-classification
// fine-tuner for m, or ErrNoFineTuning.
func ModelTokenFineTuner(m *bioencoder.Model, o FineTuneOptions) (TokenFineTuner, error) {
	if NewModelTokenFineTuner == nil {
		return nil, ErrNoFineTuning
	}
	return NewModelTokenFineTuner(m, o)
}
