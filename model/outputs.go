package model

import (
	"fmt"

	"bioencoder/config"
	"bioencoder/nn"
	"bioencoder/tensor"
)

// Outputs are a forward pass's tensors under the names transformers uses
// (and ../shared/golden stores): last_hidden_state [B,S,H], hidden_states.N,
// pooler_output [B,H] (BERT), pooled [B,H] (ModernBERT classifiers), logits.
// Token-level tensors are laid out padded as the input was, [B, S, ...].
type Outputs map[string]*tensor.Tensor

// Forward runs m on a padded batch (input_ids, attention_mask, optional
// token_type_ids) and returns every output its architecture defines. Like
// Hugging Face's eager path it computes outputs at padded positions too
// (padding is never attended to); only real positions are meaningful.
func Forward(m Model, g *nn.Graph, ids, mask, types [][]int) (Outputs, error) {
	b, err := nn.FromPadded(ids, mask, types, true)
	if err != nil {
		return nil, err
	}
	B, S := b.PadRows, b.PadCols
	var states [][]float32
	h, err := m.Encode(g, b, &states)
	if err != nil {
		return nil, err
	}
	H := h.Cols
	out := Outputs{"last_hidden_state": tensor.From(b.Scatter(h.Data, H), B, S, H)}
	for i, s := range states {
		out[fmt.Sprintf("hidden_states.%d", i)] = tensor.From(b.Scatter(s, H), B, S, H)
	}
	cfg := m.Config()
	if p, err := m.Pooler(g, b, h); err == nil {
		name := "pooler_output"
		if cfg.Arch == config.ModernBERT {
			name = "pooled"
		}
		out[name] = tensor.From(append([]float32(nil), p.Data...), B, p.Cols)
	}
	switch m.Task() {
	case config.MaskedLM, config.PreTraining:
		l, err := m.MaskedLM(g, h, nil)
		if err != nil {
			return nil, err
		}
		out["logits"] = tensor.From(b.Scatter(l.Data, l.Cols), B, S, l.Cols)
	case config.SequenceClassification:
		l, err := m.SequenceLogits(g, b, h)
		if err != nil {
			return nil, err
		}
		out["logits"] = tensor.From(append([]float32(nil), l.Data...), B, l.Cols)
	case config.TokenClassification:
		l, err := m.TokenLogits(g, h)
		if err != nil {
			return nil, err
		}
		out["logits"] = tensor.From(b.Scatter(l.Data, l.Cols), B, S, l.Cols)
	}
	return out, nil
}
