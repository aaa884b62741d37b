package bioencoder

import (
	"context"
	"fmt"

	"bioencoder/config"
	"bioencoder/gemm"
	"bioencoder/kernels"
	"bioencoder/nn"
	"bioencoder/tokenizer"
)

// colbertSpec is a PyLate ColBERT model's encoding settings.
type colbertSpec struct {
	queryLen, docLen       int
	queryPrefix, docPrefix int    // ids of "[Q] " / "[D] " (inserted, never tokenized)
	queryText, docText     string // the prefixes as configured
	maskID                 int    // pads queries (query expansion)
	skip                   map[int]bool
	expand, attendExpand   bool
}

func (m *Model) setupColBERT() error {
	st := m.st
	c := &colbertSpec{queryLen: st.QueryLength, docLen: st.DocumentLength, expand: st.DoQueryExpansion,
		attendExpand: st.AttendToExpansionTokens, skip: map[int]bool{}}
	if c.queryLen == 0 {
		c.queryLen = 32
	}
	if c.docLen == 0 {
		c.docLen = 180
	}
	c.queryLen, c.docLen = min(c.queryLen, m.cfg.MaxPositions), min(c.docLen, m.cfg.MaxPositions)
	qp, dp := st.QueryPrefix, st.DocumentPrefix
	if qp == "" {
		qp = "[Q] "
	}
	if dp == "" {
		dp = "[D] "
	}
	var ok bool
	c.queryText, c.docText = qp, dp
	if c.queryPrefix, ok = m.tok.TokenToID(qp); !ok {
		return fmt.Errorf("bioencoder: %s: query prefix %q is not a token of the tokenizer", m.dir, qp)
	}
	if c.docPrefix, ok = m.tok.TokenToID(dp); !ok {
		return fmt.Errorf("bioencoder: %s: document prefix %q is not a token of the tokenizer", m.dir, dp)
	}
	if c.maskID, ok = m.tok.MaskID(); !ok {
		return fmt.Errorf("bioencoder: %s: ColBERT query expansion needs a mask token", m.dir)
	}
	words := st.SkiplistWords
	if words == nil {
		words = []string{"!", "\"", "#", "$", "%", "&", "'", "(", ")", "*", "+", ",", "-", ".", "/", ":", ";", "<", "=",
			">", "?", "@", "[", "\\", "]", "^", "_", "`", "{", "|", "}", "~"}
	}
	unk, hasUnk := m.tok.UNKID()
	for _, w := range words {
		// transformers' convert_tokens_to_ids maps an unknown token to [UNK].
		if id, ok := m.tok.TokenToID(w); ok {
			c.skip[id] = true
		} else if hasUnk {
			c.skip[unk] = true
		}
	}
	if len(m.dense) == 0 {
		return fmt.Errorf("bioencoder: %s: ColBERT folder has no Dense module", m.dir)
	}
	m.colbert = c
	return nil
}

// colbertInput builds one ColBERT input: the prefix id inserted after the
// first token; queries padded with [MASK] to the query length.
type colbertInput struct {
	ids, types []int
	key        []bool // attention mask
	keep       []bool // rows whose vectors are returned
}

func (m *Model) colbertInputs(texts []string, query bool) ([]colbertInput, error) {
	c := m.colbert
	limit, prefix := c.docLen, c.docPrefix
	if query {
		limit, prefix = c.queryLen, c.queryPrefix
	}
	in := make([]tokenizer.Input, len(texts))
	for i, t := range texts {
		in[i] = tokenizer.Input{Text: m.prepare(t)}
	}
	encs, err := m.encode(in, limit-1) // the prefix id takes one position
	if err != nil {
		return nil, err
	}
	out := make([]colbertInput, len(encs))
	for i, e := range encs {
		n := len(e.IDs)
		x := colbertInput{}
		for j := 0; j < n; j++ {
			x.ids = append(x.ids, e.IDs[j])
			x.types = append(x.types, e.TypeIDs[j])
			x.key = append(x.key, true)
			if j == 0 {
				x.ids, x.types, x.key = append(x.ids, prefix), append(x.types, 0), append(x.key, true)
			}
		}
		if query {
			for len(x.ids) < limit {
				x.ids, x.types, x.key = append(x.ids, c.maskID), append(x.types, 0), append(x.key, c.attendExpand)
			}
		}
		x.keep = make([]bool, len(x.ids))
		for j, id := range x.ids {
			switch {
			case query:
				x.keep[j] = c.expand || x.key[j]
			default:
				x.keep[j] = x.key[j] && !c.skip[id]
			}
		}
		out[i] = x
	}
	return out, nil
}

// EncodeColBERT returns, per text, the L2-normalised token vectors a ColBERT
// model keeps: every query position (with [MASK] expansion), or the
// document tokens that are not punctuation.
func (m *Model) EncodeColBERT(ctx context.Context, texts []string, query bool) ([][][]float32, error) {
	if m.colbert == nil {
		return nil, fmt.Errorf("bioencoder: %s is not a ColBERT model", m.dir)
	}
	inputs, err := m.colbertInputs(texts, query)
	if err != nil {
		return nil, err
	}
	lens := make([]int, len(inputs))
	for i, x := range inputs {
		lens[i] = len(x.ids)
	}
	out := make([][][]float32, len(inputs))
	err = m.forEachBatch(ctx, lens, func(r *runner, lo, hi int) error {
		b := &nn.Batch{Starts: []int{0}, Key: []bool{}}
		for _, x := range inputs[lo:hi] {
			b.IDs = append(b.IDs, x.ids...)
			b.TypeIDs = append(b.TypeIDs, x.types...)
			b.Key = append(b.Key, x.key...)
			for j := range x.ids {
				b.Pos = append(b.Pos, j)
			}
			b.Starts = append(b.Starts, len(b.IDs))
		}
		if m.cfg.Arch == config.ModernBERT {
			b.TypeIDs = nil
		}
		h, err := m.net.Encode(r.g, b, nil)
		if err != nil {
			return err
		}
		v := m.colbertVectors(r.g, h)
		for i := lo; i < hi; i++ {
			x := inputs[i]
			s, _ := b.Seq(i - lo)
			for j, k := range x.keep {
				if k {
					out[i] = append(out[i], append([]float32(nil), v.Data[(s+j)*v.Cols:(s+j+1)*v.Cols]...))
				}
			}
		}
		return nil
	})
	return out, err
}

// colbertVectors projects every token vector through the Dense modules and
// L2-normalises it.
func (m *Model) colbertVectors(g *nn.Graph, h *nn.Var) *nn.Var {
	for _, d := range m.dense {
		h = d.forward(g, h)
	}
	return g.L2Normalize(h)
}

// MaxSim is ColBERT's late-interaction score Σ_i max_j ⟨q_i, d_j⟩.
func MaxSim(q, d [][]float32) float32 {
	if len(q) == 0 || len(d) == 0 {
		return 0
	}
	dim := len(q[0])
	qm := flatten(q, dim)
	dm := flatten(d, dim)
	sims := make([]float32, len(q)*len(d))
	gemm.Gemm(false, true, len(q), len(d), dim, 1, qm, dim, dm, dim, 0, sims, len(d))
	var total float32
	for i := range q {
		total += kernels.Max(sims[i*len(d) : (i+1)*len(d)])
	}
	return total
}

func flatten(rows [][]float32, dim int) []float32 {
	out := make([]float32, 0, len(rows)*dim)
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}

// Score returns the MaxSim matrix [queries][documents] of a ColBERT model.
func (m *Model) Score(ctx context.Context, queries, docs []string) ([][]float32, error) {
	qv, err := m.EncodeColBERT(ctx, queries, true)
	if err != nil {
		return nil, err
	}
	dv, err := m.EncodeColBERT(ctx, docs, false)
	if err != nil {
		return nil, err
	}
	out := make([][]float32, len(qv))
	for i := range qv {
		out[i] = make([]float32, len(dv))
		for j := range dv {
			out[i][j] = MaxSim(qv[i], dv[j])
		}
	}
	return out, nil
}
