package train

import (
	"fmt"

	"bioencoder"
	"bioencoder/nn"
)

// modelTask holds what every task over a *bioencoder.Model shares.
type modelTask struct{ Model *bioencoder.Model }

func (t modelTask) Params() []*nn.Params     { return t.Model.Params() }
func (t modelTask) Save(dir string) error    { return t.Model.Save(dir) }
func (t modelTask) Restore(dir string) error { return t.Model.Restore(dir) }

// ColBERT trains a PyLate ColBERT model on rows (query, document…):
//
//	"contrastive": PyLate's Contrastive loss - cross-entropy over the MaxSim
//	               scores of every query against every document column of
//	               the micro-batch, the query's own first document being
//	               the target (temperature 1);
//	"kl":          PyLate's Distillation loss - each query's MaxSim scores
//	               against its own documents are min-max normalised, then
//	               KL(softmax(teacher) ‖ softmax(student)), batch mean.
type ColBERT struct {
	modelTask
	Objective string
	Data      []EmbedExample // Texts[0] the query, Texts[1:] documents; Scores for "kl"
}

// NewColBERT returns a ColBERT task.
func NewColBERT(m *bioencoder.Model, objective string, data []EmbedExample) *ColBERT {
	return &ColBERT{modelTask{m}, objective, data}
}

func (t *ColBERT) Examples() int { return len(t.Data) }

func (t *ColBERT) Loss(g *nn.Graph, examples []int, step int) (float64, int, error) {
	B := len(examples)
	cols := len(t.Data[examples[0]].Texts) - 1
	queries := make([]string, B)
	var docs []string // column-major for contrastive, row-major for kl
	for i, e := range examples {
		if len(t.Data[e].Texts) != cols+1 {
			return 0, 0, fmt.Errorf("train: colbert example %d has %d texts, expected %d", e, len(t.Data[e].Texts), cols+1)
		}
		queries[i] = t.Data[e].Texts[0]
	}
	if t.Objective == "kl" {
		for _, e := range examples {
			docs = append(docs, t.Data[e].Texts[1:]...)
		}
	} else {
		for c := 1; c <= cols; c++ {
			for _, e := range examples {
				docs = append(docs, t.Data[e].Texts[c])
			}
		}
	}
	q, qs, nq, err := t.Model.ColBERTGraph(g, queries, true)
	if err != nil {
		return 0, 0, err
	}
	d, ds, nd, err := t.Model.ColBERTGraph(g, docs, false)
	if err != nil {
		return 0, 0, err
	}
	switch t.Objective {
	case "contrastive", "":
		scores := g.MaxSim(q, qs, d, ds, nil) // [B, B·cols]
		labels := make([]int, B)
		for i := range labels {
			labels[i] = i
		}
		loss, err := g.CrossEntropy(scores, labels)
		return loss, nq + nd, err
	case "kl":
		own := make([][]int, B)
		var teacher []float32
		for i, e := range examples {
			for k := 0; k < cols; k++ {
				own[i] = append(own[i], i*cols+k)
			}
			if len(t.Data[e].Scores) != cols {
				return 0, 0, fmt.Errorf("train: colbert example %d has %d teacher scores for %d documents", e, len(t.Data[e].Scores), cols)
			}
			teacher = append(teacher, t.Data[e].Scores...)
		}
		scores := g.MinMaxRows(g.MaxSim(q, qs, d, ds, own))
		loss, err := g.KLDiv(scores, teacher, 1)
		return loss, nq + nd, err
	}
	return 0, 0, fmt.Errorf("train: unknown colbert objective %q (contrastive, kl)", t.Objective)
}

// RerankExample is (query, documents…) with labels: relevance in [0, 1]
// per document for "bce", teacher scores for "kl".
type RerankExample struct {
	Query  string
	Docs   []string
	Labels []float32
}

// Reranker trains a cross-encoder:
//
//	"bce": sentence-transformers' BinaryCrossEntropyLoss on the logit of
//	       each (query, document) pair;
//	"kl":  listwise distillation - KL(softmax(teacher/T) ‖ softmax(logits/T))
//	       over each query's documents, × T² (T = Temperature, default 1).
type Reranker struct {
	modelTask
	Objective   string
	Temperature float64
	Data        []RerankExample
}

// NewReranker returns a cross-encoder training task.
func NewReranker(m *bioencoder.Model, objective string, data []RerankExample) *Reranker {
	return &Reranker{modelTask: modelTask{m}, Objective: objective, Data: data}
}

func (t *Reranker) Examples() int { return len(t.Data) }

func (t *Reranker) Loss(g *nn.Graph, examples []int, step int) (float64, int, error) {
	var pairs []bioencoder.Pair
	var labels []float32
	K := len(t.Data[examples[0]].Docs)
	for _, e := range examples {
		x := t.Data[e]
		if len(x.Labels) != len(x.Docs) {
			return 0, 0, fmt.Errorf("train: rerank example %d has %d labels for %d documents", e, len(x.Labels), len(x.Docs))
		}
		if t.Objective == "kl" && len(x.Docs) != K {
			return 0, 0, fmt.Errorf("train: listwise examples need the same number of documents (%d vs %d)", len(x.Docs), K)
		}
		for k, d := range x.Docs {
			pairs = append(pairs, bioencoder.Pair{A: x.Query, B: d})
			labels = append(labels, x.Labels[k])
		}
	}
	logits, tokens, err := t.Model.PairLogitsGraph(g, pairs)
	if err != nil {
		return 0, 0, err
	}
	if logits.Cols != 1 {
		return 0, 0, fmt.Errorf("train: a reranker has one output, this model has %d", logits.Cols)
	}
	switch t.Objective {
	case "bce", "":
		loss, err := g.BCEWithLogits(logits, labels)
		return loss, tokens, err
	case "kl":
		T := t.Temperature
		if T == 0 {
			T = 1
		}
		loss, err := g.KLDiv(g.Reshape(logits, len(examples), K), labels, T)
		return loss, tokens, err
	}
	return 0, 0, fmt.Errorf("train: unknown reranker objective %q (bce, kl)", t.Objective)
}

// Classifier trains sequence classification (texts, or text pairs when
// Pairs is set) with cross-entropy.
type Classifier struct {
	modelTask
	Texts  []bioencoder.Pair // B empty for single texts
	Labels []int
}

// NewClassifier returns a sequence-classification task.
func NewClassifier(m *bioencoder.Model, texts []bioencoder.Pair, labels []int) *Classifier {
	return &Classifier{modelTask{m}, texts, labels}
}

func (t *Classifier) Examples() int { return len(t.Texts) }

func (t *Classifier) Loss(g *nn.Graph, examples []int, step int) (float64, int, error) {
	pairs := make([]bioencoder.Pair, len(examples))
	labels := make([]int, len(examples))
	for i, e := range examples {
		pairs[i], labels[i] = t.Texts[e], t.Labels[e]
	}
	logits, tokens, err := t.Model.PairLogitsGraph(g, pairs)
	if err != nil {
		return 0, 0, err
	}
	loss, err := g.CrossEntropy(logits, labels)
	return loss, tokens, err
}

// Tagger trains token classification on pre-split words (NER): the first
// sub-token of each word carries the word's label, the others are ignored.
type Tagger struct {
	modelTask
	Words  [][]string
	Labels [][]int // per word
}

// NewTagger returns a token-classification task.
func NewTagger(m *bioencoder.Model, words [][]string, labels [][]int) *Tagger {
	return &Tagger{modelTask{m}, words, labels}
}

func (t *Tagger) Examples() int { return len(t.Words) }

func (t *Tagger) Loss(g *nn.Graph, examples []int, step int) (float64, int, error) {
	sents := make([][]string, len(examples))
	for i, e := range examples {
		sents[i] = t.Words[e]
	}
	logits, first, tokens, err := t.Model.WordLogitsGraph(g, sents)
	if err != nil {
		return 0, 0, err
	}
	labels := make([]int, logits.Rows)
	for i := range labels {
		labels[i] = nn.IgnoreIndex
	}
	for i, e := range examples {
		for w, row := range first[i] {
			if row >= 0 {
				labels[row] = t.Labels[e][w]
			}
		}
	}
	loss, err := g.CrossEntropy(logits, labels)
	return loss, tokens, err
}
