// Package train trains bioencoder models: the losses of every task, AdamW,
// learning-rate schedules, the masked-LM data path, vocabulary learning,
// checkpoints that Hugging Face loads unchanged, and resumable runs.
//
// The forward and backward passes are the nn engine's (see package nn for
// the design): a model file is written once and trained as it is run.
package train

import (
	"fmt"

	"bioencoder/model"
	"bioencoder/nn"
)

// MLMLoss is the masked-LM cross-entropy over the tokens of b whose label
// is not nn.IgnoreIndex (labels has one entry per token of b). Only the
// labelled rows go through the decoder: the loss and gradients are the same
// as decoding every row, for a fraction of the work.
func MLMLoss(g *nn.Graph, m model.Model, b *nn.Batch, labels []int) (float64, error) {
	if len(labels) != b.Len() {
		return 0, fmt.Errorf("train: %d labels for %d tokens", len(labels), b.Len())
	}
	var rows, lbl []int
	for t, l := range labels {
		if l != nn.IgnoreIndex {
			rows = append(rows, t)
			lbl = append(lbl, l)
		}
	}
	h, err := m.Encode(g, b, nil)
	if err != nil {
		return 0, err
	}
	if len(rows) == 0 {
		return 0, nil
	}
	logits, err := m.MaskedLM(g, h, rows)
	if err != nil {
		return 0, err
	}
	return g.CrossEntropy(logits, lbl)
}

// SequenceLoss is the classification loss over sequences: cross-entropy
// for integer labels (one per sequence of b).
func SequenceLoss(g *nn.Graph, m model.Model, b *nn.Batch, labels []int) (float64, error) {
	if len(labels) != b.NumSeqs() {
		return 0, fmt.Errorf("train: %d labels for %d sequences", len(labels), b.NumSeqs())
	}
	h, err := m.Encode(g, b, nil)
	if err != nil {
		return 0, err
	}
	logits, err := m.SequenceLogits(g, b, h)
	if err != nil {
		return 0, err
	}
	return g.CrossEntropy(logits, labels)
}

// TokenLoss is the token-classification cross-entropy (labels per token,
// nn.IgnoreIndex where a token takes no part).
func TokenLoss(g *nn.Graph, m model.Model, b *nn.Batch, labels []int) (float64, error) {
	if len(labels) != b.Len() {
		return 0, fmt.Errorf("train: %d labels for %d tokens", len(labels), b.Len())
	}
	h, err := m.Encode(g, b, nil)
	if err != nil {
		return 0, err
	}
	logits, err := m.TokenLogits(g, h)
	if err != nil {
		return 0, err
	}
	return g.CrossEntropy(logits, labels)
}
