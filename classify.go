package bioencoder

import (
	"context"
	"fmt"
	"math"
	"sort"

	"bioencoder/config"
	"bioencoder/kernels"
	"bioencoder/tokenizer"
)

// setupCrossEncoder picks the score activation: the one sentence-transformers
// stored in config.json, else Sigmoid for one label and Identity otherwise.
func (m *Model) setupCrossEncoder() error {
	name := m.cfg.CrossEncoderActivation
	if name == "" {
		m.ceAct = kernels.Identity
		if m.cfg.NumLabels() == 1 {
			m.ceAct = kernels.Sigmoid
		}
		return nil
	}
	a, err := kernels.ParseAct(name)
	if err != nil {
		return fmt.Errorf("bioencoder: %s: cross-encoder activation: %v", m.dir, err)
	}
	m.ceAct = a
	return nil
}

// Pair is a (query, document) or (text, text) pair.
type Pair struct{ A, B string }

// Logits runs a sequence classifier on texts (B empty) or pairs and returns
// the raw logits, one row per input.
func (m *Model) Logits(ctx context.Context, pairs []Pair) ([][]float32, error) {
	if m.cfg.Task != config.SequenceClassification && m.kind != CrossEncoder {
		return nil, fmt.Errorf("bioencoder: %s has no sequence-classification head", m.dir)
	}
	encs, err := m.pairEncodings(pairs)
	if err != nil {
		return nil, err
	}
	out := make([][]float32, len(pairs))
	err = m.forEachBatch(ctx, lengths(encs), func(r *runner, lo, hi int) error {
		b := m.batchOf(encs[lo:hi])
		h, err := m.net.Encode(r.g, b, nil)
		if err != nil {
			return err
		}
		l, err := m.net.SequenceLogits(r.g, b, h)
		if err != nil {
			return err
		}
		for i := lo; i < hi; i++ {
			out[i] = append([]float32(nil), l.Data[(i-lo)*l.Cols:(i-lo+1)*l.Cols]...)
		}
		return nil
	})
	return out, err
}

// pairEncodings tokenizes pairs (or single texts when B is empty) as a
// CrossEncoder does: no stripping, longest-first truncation at the model's
// maximum length.
func (m *Model) pairEncodings(pairs []Pair) ([]*tokenizer.Encoding, error) {
	in := make([]tokenizer.Input, len(pairs))
	for i, p := range pairs {
		in[i] = tokenizer.Input{Text: p.A, Pair: p.B, HasPair: p.B != ""}
	}
	return m.encode(in, m.maxLen)
}

// Predict scores pairs as sentence-transformers' CrossEncoder.predict does:
// the activation applied to the logits; one value per pair when the model
// has one label.
func (m *Model) Predict(ctx context.Context, pairs []Pair) ([][]float32, error) {
	logits, err := m.Logits(ctx, pairs)
	if err != nil {
		return nil, err
	}
	for _, l := range logits {
		kernels.Activate(m.ceAct, l)
	}
	return logits, nil
}

// Rerank scores every document against the query (a one-label cross-encoder).
func (m *Model) Rerank(ctx context.Context, query string, docs []string) ([]float32, error) {
	pairs := make([]Pair, len(docs))
	for i, d := range docs {
		pairs[i] = Pair{query, d}
	}
	scores, err := m.Predict(ctx, pairs)
	if err != nil {
		return nil, err
	}
	out := make([]float32, len(scores))
	for i, s := range scores {
		if len(s) != 1 {
			return nil, fmt.Errorf("bioencoder: %s has %d labels; rerank needs a one-label cross-encoder", m.dir, len(s))
		}
		out[i] = s[0]
	}
	return out, nil
}

// LabelScore is one class and its probability.
type LabelScore struct {
	Label string  `json:"label"`
	Score float32 `json:"score"`
}

// Classify returns every label with its probability, best first, as the
// text-classification pipeline does with top_k=None: softmax over the
// logits, or a sigmoid per label for one label or multi-label problems.
func (m *Model) Classify(ctx context.Context, texts []string) ([][]LabelScore, error) {
	pairs := make([]Pair, len(texts))
	for i, t := range texts {
		pairs[i] = Pair{A: t}
	}
	logits, err := m.Logits(ctx, pairs)
	if err != nil {
		return nil, err
	}
	out := make([][]LabelScore, len(logits))
	for i, l := range logits {
		if len(l) == 1 || m.cfg.ProblemType == "multi_label_classification" {
			kernels.Activate(kernels.Sigmoid, l)
		} else {
			softmax64(l)
		}
		ls := make([]LabelScore, len(l))
		for j, s := range l {
			ls[j] = LabelScore{Label: m.label(j), Score: s}
		}
		sort.SliceStable(ls, func(a, b int) bool { return ls[a].Score > ls[b].Score })
		out[i] = ls
	}
	return out, nil
}

func (m *Model) label(i int) string {
	if i < len(m.cfg.ID2Label) {
		return m.cfg.ID2Label[i]
	}
	return fmt.Sprintf("LABEL_%d", i)
}

// softmax64 is a small, exact softmax for per-text label vectors.
func softmax64(x []float32) {
	mx := x[0]
	for _, v := range x {
		mx = max(mx, v)
	}
	var s float64
	for _, v := range x {
		s += math.Exp(float64(v - mx))
	}
	for i, v := range x {
		x[i] = float32(math.Exp(float64(v-mx)) / s)
	}
}

// TokenizePairs returns the ids Predict feeds the model for each pair.
func (m *Model) TokenizePairs(pairs []Pair) ([][]int, error) {
	encs, err := m.pairEncodings(pairs)
	if err != nil {
		return nil, err
	}
	out := make([][]int, len(encs))
	for i, e := range encs {
		out[i] = e.IDs
	}
	return out, nil
}
