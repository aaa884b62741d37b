package train

import (
	"fmt"

	"bioencoder"
	"bioencoder/nn"
)

// EmbedExample is one training row for an embeddings model: text columns
// (anchor, positive, negatives… / query, candidates… / texts to distil),
// with teacher scores for the candidates (KL) or a teacher embedding (MSE).
type EmbedExample struct {
	Texts  []string
	Scores []float32 // KL: teacher scores of Texts[1:]
	Target []float32 // MSE: teacher embedding, used for every column
}

// Embeddings trains a sentence-transformers model with one of
// sentence-transformers' losses:
//
//	"mnrl": MultipleNegativesRankingLoss - cross-entropy over
//	        Scale·cos(anchor_i, candidate_j) with every other row's positive
//	        and every hard negative as negatives;
//	"mse":  MSELoss - mean squared error to teacher embeddings (the
//	        student must have the teacher's width: add a Dense layer);
//	"kl":   DistillKLDivLoss - KL divergence between softmax(teacher/T) and
//	        softmax(student/T), student scores = dot(query, candidate), × T².
type Embeddings struct {
	Model       *bioencoder.Model
	Objective   string  // "mnrl", "mse" or "kl"
	Scale       float32 // mnrl, default 20
	Temperature float64 // kl, default 1
	Data        []EmbedExample
}

func (t *Embeddings) Examples() int            { return len(t.Data) }
func (t *Embeddings) Params() []*nn.Params     { return t.Model.Params() }
func (t *Embeddings) Save(dir string) error    { return t.Model.Save(dir) }
func (t *Embeddings) Restore(dir string) error { return t.Model.Restore(dir) }

// Loss embeds each text column of the micro-batch separately (as
// sentence-transformers does) and applies the loss.
func (t *Embeddings) Loss(g *nn.Graph, examples []int, step int) (float64, int, error) {
	cols := len(t.Data[examples[0]].Texts)
	emb := make([]*nn.Var, cols)
	tokens := 0
	for j := 0; j < cols; j++ {
		texts := make([]string, len(examples))
		for i, e := range examples {
			if len(t.Data[e].Texts) != cols {
				return 0, 0, fmt.Errorf("train: example %d has %d text columns, example %d has %d", e, len(t.Data[e].Texts), examples[0], cols)
			}
			texts[i] = t.Data[e].Texts[j]
		}
		v, n, err := t.Model.SentenceGraph(g, texts)
		if err != nil {
			return 0, 0, err
		}
		emb[j], tokens = v, tokens+n
	}
	loss, err := EmbeddingLoss(g, t.Objective, emb, t.targets(examples, cols), t.Scale, t.Temperature)
	return loss, tokens, err
}

// targets gathers teacher scores (KL) or embeddings (MSE, repeated per column).
func (t *Embeddings) targets(examples []int, cols int) []float32 {
	var out []float32
	switch t.Objective {
	case "kl":
		for _, e := range examples {
			out = append(out, t.Data[e].Scores...)
		}
	case "mse":
		for j := 0; j < cols; j++ {
			for _, e := range examples {
				out = append(out, t.Data[e].Target...)
			}
		}
	}
	return out
}

// EmbeddingLoss applies a sentence-transformers loss to the embeddings of
// the text columns (emb[j] is [B, D]); target holds teacher scores [B, cols-1]
// for "kl" or teacher embeddings for every row of every column for "mse".
func EmbeddingLoss(g *nn.Graph, loss string, emb []*nn.Var, target []float32, scale float32, temperature float64) (float64, error) {
	B := emb[0].Rows
	switch loss {
	case "mnrl":
		if len(emb) < 2 {
			return 0, fmt.Errorf("train: mnrl needs (anchor, positive[, negatives…]) columns")
		}
		if scale == 0 {
			scale = 20
		}
		scores := g.Scale(g.MatMulT(g.L2Normalize(emb[0]), g.L2Normalize(g.Stack(emb[1:]...)), nil), scale)
		labels := make([]int, B)
		for i := range labels {
			labels[i] = i
		}
		return g.CrossEntropy(scores, labels)
	case "mse":
		student := g.Stack(emb...)
		if len(target) != len(student.Data) {
			return 0, fmt.Errorf("train: mse: teacher embeddings have %d values for %d student values (dimensions differ? add a Dense projection)", len(target), len(student.Data))
		}
		return g.MSE(student, target)
	case "kl":
		if len(emb) < 2 {
			return 0, fmt.Errorf("train: kl needs (query, candidate…) columns")
		}
		if temperature == 0 {
			temperature = 1
		}
		parts := make([]*nn.Var, len(emb)-1)
		for k := range parts {
			parts[k] = g.RowDot(emb[0], emb[k+1])
		}
		return g.KLDiv(g.Concat(parts...), target, temperature)
	}
	return 0, fmt.Errorf("train: unknown embedding loss %q (mnrl, mse, kl)", loss)
}
