// Package model builds encoders from Hugging Face configs and checkpoints
// and runs them to named outputs. The architectures themselves live in
// model/bert and model/modernbert, one readable file each.
package model

import (
	"fmt"

	"bioencoder/config"
	"bioencoder/model/bert"
	"bioencoder/model/modelio"
	"bioencoder/model/modernbert"
	"bioencoder/nn"
	"bioencoder/weights"
)

// Model is what every architecture provides.
type Model interface {
	Config() *config.Model
	Params() *nn.Params
	Task() config.Task
	// Encode returns the last hidden state [tokens, H]; states, if not nil,
	// receives copies of the embedding output and every layer's output.
	Encode(g *nn.Graph, b *nn.Batch, states *[][]float32) (*nn.Var, error)
	// Pooler: BERT's tanh pooler, ModernBERT's cls/mean pooling.
	Pooler(g *nn.Graph, b *nn.Batch, h *nn.Var) (*nn.Var, error)
	// MaskedLM gives vocabulary logits for rows of h (all when rows is nil).
	MaskedLM(g *nn.Graph, h *nn.Var, rows []int) (*nn.Var, error)
	SequenceLogits(g *nn.Graph, b *nn.Batch, h *nn.Var) (*nn.Var, error)
	TokenLogits(g *nn.Graph, h *nn.Var) (*nn.Var, error)
	Load(src modelio.Source) error
	Init(seed uint64)
}

// Options adjust what New builds.
type Options struct {
	// Task overrides the head the config names (e.g. config.Base to embed
	// with a masked-LM checkpoint). Negative means: the config's task.
	Task config.Task
	// Pooler keeps BERT's pooler on a bare encoder.
	Pooler bool
}

// DefaultOptions uses the config's own task.
var DefaultOptions = Options{Task: -1}

// New builds a zero-initialised model for a config.
func New(cfg *config.Model, opt Options) (Model, error) {
	task := opt.Task
	if task < 0 {
		task = cfg.Task
	}
	if (task == config.SequenceClassification || task == config.TokenClassification) && cfg.NumLabels() == 0 {
		return nil, fmt.Errorf("model: %s needs labels (id2label or num_labels in config.json)", task)
	}
	switch cfg.Arch {
	case config.BERT, config.BERTHash:
		return bert.New(cfg, bert.Options{Task: task, Pooler: opt.Pooler}), nil
	case config.ModernBERT:
		if task == config.PreTraining {
			return nil, fmt.Errorf("model: ModernBERT has no pretraining (NSP) head")
		}
		return modernbert.New(cfg, modernbert.Options{Task: task}), nil
	}
	return nil, fmt.Errorf("model: unknown architecture %v", cfg.Arch)
}

// FromSource builds a model and loads its weights. For a bare BERT encoder
// the pooler is kept when the checkpoint has one.
func FromSource(cfg *config.Model, src modelio.Source, opt Options) (Model, error) {
	if cfg.Arch != config.ModernBERT && !opt.Pooler {
		opt.Pooler = src.Has("bert.pooler.dense.weight") || src.Has("pooler.dense.weight")
	}
	m, err := New(cfg, opt)
	if err != nil {
		return nil, err
	}
	if err := m.Load(src); err != nil {
		return nil, err
	}
	return m, nil
}

// Open loads a plain Hugging Face folder (config.json + weights).
func Open(dir string, opt Options) (Model, error) {
	cfg, err := config.Load(dir)
	if err != nil {
		return nil, err
	}
	store, err := weights.Open(dir)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	return FromSource(cfg, Source(store, cfg), opt)
}

// Source adapts a weight store to a model: lookups resolve the
// architecture's base-model prefix ("bert" / "model") in either direction.
func Source(store *weights.Store, cfg *config.Model) modelio.Source {
	if cfg != nil {
		switch cfg.Arch {
		case config.BERT, config.BERTHash:
			store.SetBasePrefix("bert")
		case config.ModernBERT:
			store.SetBasePrefix("model")
		}
	}
	return store.Scope("")
}
