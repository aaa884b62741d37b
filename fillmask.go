package bioencoder

import (
	"context"
	"fmt"
	"math"
	"sort"

	"bioencoder/config"
	"bioencoder/tokenizer"
)

// MaskPrediction is one candidate for one mask token, as transformers'
// fill-mask pipeline reports it.
type MaskPrediction struct {
	Score    float32 `json:"score"`     // softmax probability over the vocabulary
	Token    int     `json:"token"`     // the candidate's id
	TokenStr string  `json:"token_str"` // the candidate decoded alone
	// Sequence is the text decoded with the candidate in place of the mask
	// (padding dropped). Special tokens are skipped when the text has one
	// mask; with several masks they are kept, as the pipeline does, so the
	// other masks stay visible.
	Sequence string `json:"sequence"`
	// Mask numbers the text's masks from 0, left to right.
	Mask int `json:"mask"`
}

// FillMask predicts, for every mask token of every text, the topK most
// likely vocabulary tokens. The result for a text lists the predictions of
// its first mask (best first), then those of its second mask, and so on.
// Texts are encoded as the pipeline does (special tokens, no stripping) and
// truncated to the model's limit unless WithTruncation(false); a text
// without a mask token is an error. The model needs a masked-LM head.
func (m *Model) FillMask(ctx context.Context, texts []string, topK int) ([][]MaskPrediction, error) {
	if t := m.net.Task(); t != config.MaskedLM && t != config.PreTraining {
		return nil, fmt.Errorf("bioencoder: %s has no masked-LM head (it is a %s model); fill-mask needs a ...ForMaskedLM checkpoint", m.dir, m.kind)
	}
	if topK < 1 {
		return nil, fmt.Errorf("bioencoder: fill-mask top-k must be positive, got %d", topK)
	}
	maskID, ok := m.tok.MaskID()
	if !ok {
		return nil, fmt.Errorf("bioencoder: %s: the tokenizer has no mask token", m.dir)
	}
	maskStr, _ := m.tok.IDToToken(maskID)
	in := make([]tokenizer.Input, len(texts))
	for i, t := range texts {
		in[i] = tokenizer.Input{Text: t}
	}
	encs, err := m.encode(in, m.maxLen)
	if err != nil {
		return nil, err
	}
	masks := make([][]int, len(encs)) // token positions of the masks, per text
	for i, e := range encs {
		for j, id := range e.IDs {
			if id == maskID {
				masks[i] = append(masks[i], j)
			}
		}
		if len(masks[i]) == 0 {
			where := ""
			if len(e.IDs) >= m.maxLen {
				where = fmt.Sprintf(" in the first %d tokens (the model's limit)", m.maxLen)
			}
			return nil, fmt.Errorf("bioencoder: text %d has no mask token %s%s", i, maskStr, where)
		}
	}
	padID, hasPad := m.tok.PadID()
	out := make([][]MaskPrediction, len(encs))
	err = m.forEachBatch(ctx, lengths(encs), func(r *runner, lo, hi int) error {
		b := m.batchOf(encs[lo:hi])
		var rows []int
		for i := lo; i < hi; i++ {
			s, _ := b.Seq(i - lo)
			for _, p := range masks[i] {
				rows = append(rows, s+p)
			}
		}
		h, err := m.net.Encode(r.g, b, nil)
		if err != nil {
			return err
		}
		lg, err := m.net.MaskedLM(r.g, h, rows)
		if err != nil {
			return err
		}
		row := 0
		for i := lo; i < hi; i++ {
			ids := encs[i].IDs
			single := len(masks[i]) == 1
			for k, p := range masks[i] {
				logits := lg.Data[row*lg.Cols : (row+1)*lg.Cols]
				row++
				for _, c := range topCandidates(logits, topK) {
					seq := make([]int, 0, len(ids))
					for j, id := range ids {
						if j == p {
							id = c.id
						}
						if hasPad && id == padID {
							continue
						}
						seq = append(seq, id)
					}
					out[i] = append(out[i], MaskPrediction{
						Score:    c.p,
						Token:    c.id,
						TokenStr: m.tok.Decode([]int{c.id}, false),
						Sequence: m.tok.Decode(seq, single),
						Mask:     k,
					})
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

type candidate struct {
	id int
	p  float32
}

// topCandidates returns the k tokens of highest probability (lower id first
// on ties) with their softmax probabilities, computed in float64.
func topCandidates(logits []float32, k int) []candidate {
	k = min(k, len(logits))
	idx := make([]int, 0, k+1)
	for i, v := range logits {
		if len(idx) == k && v <= logits[idx[k-1]] {
			continue
		}
		at := sort.Search(len(idx), func(j int) bool { return logits[idx[j]] < v })
		idx = append(idx, 0)
		copy(idx[at+1:], idx[at:])
		idx[at] = i
		if len(idx) > k {
			idx = idx[:k]
		}
	}
	mx := float64(logits[idx[0]])
	var sum float64
	for _, v := range logits {
		sum += math.Exp(float64(v) - mx)
	}
	out := make([]candidate, len(idx))
	for j, i := range idx {
		out[j] = candidate{id: i, p: float32(math.Exp(float64(logits[i])-mx) / sum)}
	}
	return out
}
