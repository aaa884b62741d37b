// Package bioencoder runs Hugging Face encoder folders - BERT, BERT-Hash and
// ModernBERT; sentence-transformers, CrossEncoder and PyLate ColBERT
// layouts; plain fill-mask and classification checkpoints - on the CPU, with
// the same results as PyTorch in float32.
//
// Load a folder once and call it from any number of goroutines:
//
//	m, err := bioencoder.Load("path/to/model")
//	vecs, err := m.Embed(ctx, []string{"aspirin inhibits platelet aggregation"})
//
// Every method takes a batch and a context; work is split into batches of at
// most MaxBatchTokens tokens, laid end to end without padding.
package bioencoder

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"bioencoder/config"
	"bioencoder/kernels"
	"bioencoder/model"
	"bioencoder/nn"
	"bioencoder/tensor"
	"bioencoder/tokenizer"
	"bioencoder/weights"
)

// Kind is what a model folder was published as.
type Kind int

const (
	Encoder             Kind = iota // a bare Hugging Face encoder (embeddings by mean pooling)
	SentenceTransformer             // modules.json: Transformer, Pooling, Dense, Normalize
	CrossEncoder                    // a sequence classifier scoring text pairs
	ColBERT                         // a PyLate ColBERT folder: token vectors and MaxSim
	MaskedLM                        // ...ForMaskedLM: fill-mask
	Classifier                      // ...ForSequenceClassification
	TokenClassifier                 // ...ForTokenClassification: NER
)

func (k Kind) String() string {
	return [...]string{"encoder", "sentence-transformer", "cross-encoder", "colbert", "masked-lm",
		"classifier", "token-classifier"}[k]
}

// Model is a loaded model folder. It is safe for concurrent use.
type Model struct {
	dir   string
	hfDir string // folder of config.json, weights and tokenizer
	kind  Kind
	cfg   *config.Model
	net   model.Model
	tok   *tokenizer.Tokenizer

	// sentence-transformers pipeline (also used for bare encoders).
	st        config.SentenceTransformers
	maxLen    int  // max tokens per text, special tokens included
	lowercase bool // Transformer do_lower_case
	pooling   *config.Pooling
	dense     []*denseLayer
	normalize bool

	colbert *colbertSpec
	ceAct   kernels.Act

	noTruncate bool // WithTruncation(false): over-long texts are an error

	// MaxBatchTokens bounds the tokens in one forward pass.
	MaxBatchTokens int

	runners sync.Pool
}

// Option adjusts Load.
type Option func(*loadOptions)

type loadOptions struct {
	maxLen     int
	kind       *Kind
	noTruncate bool
}

// WithMaxLength overrides how many tokens per text the model reads.
func WithMaxLength(n int) Option { return func(o *loadOptions) { o.maxLen = n } }

// WithTruncation(false) makes a text longer than the model's limit an
// error (naming the text and its token count) instead of truncating it
// longest-first, which is the default.
func WithTruncation(on bool) Option { return func(o *loadOptions) { o.noTruncate = !on } }

// AsKind treats the folder as the given kind (e.g. a masked-LM checkpoint as
// an Encoder for embeddings).
func AsKind(k Kind) Option { return func(o *loadOptions) { o.kind = &k } }

// Load reads a model folder.
func Load(dir string, opts ...Option) (*Model, error) {
	var o loadOptions
	for _, f := range opts {
		f(&o)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("bioencoder: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("bioencoder: %s is not a model folder", dir)
	}
	m := &Model{dir: dir, hfDir: dir, MaxBatchTokens: 16384, noTruncate: o.noTruncate}
	mods, err := config.LoadModules(dir)
	if err != nil {
		return nil, err
	}
	hfDir := dir // where config.json, weights and tokenizer live
	if len(mods) > 0 {
		if mods[0].Type != config.ModTransformer {
			return nil, fmt.Errorf("bioencoder: %s: first module is %s, want %s", filepath.Join(dir, "modules.json"), mods[0].Type, config.ModTransformer)
		}
		hfDir = filepath.Join(dir, mods[0].Path)
		m.hfDir = hfDir
	}
	if m.cfg, err = config.Load(hfDir); err != nil {
		return nil, err
	}
	if m.st, err = config.LoadSentenceTransformers(dir); err != nil {
		return nil, err
	}
	m.tok, err = tokenizer.Load(hfDir)
	if err != nil {
		return nil, fmt.Errorf("bioencoder: %s: no usable tokenizer: %w", hfDir, err)
	}

	m.kind = m.detectKind(mods)
	if o.kind != nil {
		m.kind = *o.kind
	}
	opt := model.DefaultOptions
	switch m.kind {
	case Encoder, SentenceTransformer, ColBERT:
		opt.Task = config.Base
	case CrossEncoder:
		opt.Task = config.SequenceClassification
	}
	store, err := weights.Open(hfDir)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	if m.net, err = model.FromSource(m.cfg, model.Source(store, m.cfg), opt); err != nil {
		return nil, err
	}
	if err := m.setupPipeline(dir, hfDir, mods, o); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Model) detectKind(mods []config.Module) Kind {
	for _, md := range mods {
		if md.Type == config.ModPyLateDense || m.st.SimilarityFnName == "MaxSim" {
			return ColBERT
		}
	}
	if len(mods) > 0 {
		return SentenceTransformer
	}
	switch m.cfg.Task {
	case config.MaskedLM, config.PreTraining:
		return MaskedLM
	case config.SequenceClassification:
		if m.cfg.CrossEncoderActivation != "" {
			return CrossEncoder
		}
		return Classifier
	case config.TokenClassification:
		return TokenClassifier
	}
	return Encoder
}

// Kind reports what the folder was published as.
func (m *Model) Kind() Kind { return m.kind }

// Config is the model's config.json.
func (m *Model) Config() *config.Model { return m.cfg }

// Tokenizer is the model's tokenizer.
func (m *Model) Tokenizer() *tokenizer.Tokenizer { return m.tok }

// Net is the underlying network (for training and tools).
func (m *Model) Net() model.Model { return m.net }

// Dir is the folder the model was loaded from.
func (m *Model) Dir() string { return m.dir }

// MaxLength is how many tokens per text (special tokens included) the model reads.
func (m *Model) MaxLength() int { return m.maxLen }

// runner is one goroutine's graph and workspace, reused across calls.
type runner struct {
	ws tensor.Workspace
	g  *nn.Graph
}

func (m *Model) getRunner() *runner {
	if r, ok := m.runners.Get().(*runner); ok {
		return r
	}
	r := &runner{}
	r.g = nn.NewGraph(&r.ws, false)
	return r
}

func (m *Model) putRunner(r *runner) {
	r.g.Reset()
	m.runners.Put(r)
}

// ErrEmpty is returned for an empty batch.
var ErrEmpty = errors.New("bioencoder: empty batch")

// forEachBatch splits n items of the given token lengths into consecutive
// batches of at most MaxBatchTokens tokens and calls fn for each, checking
// ctx between batches.
func (m *Model) forEachBatch(ctx context.Context, lens []int, fn func(r *runner, lo, hi int) error) error {
	if len(lens) == 0 {
		return ErrEmpty
	}
	r := m.getRunner()
	defer m.putRunner(r)
	for lo := 0; lo < len(lens); {
		if err := ctx.Err(); err != nil {
			return err
		}
		hi, tokens := lo, 0
		for hi < len(lens) && (hi == lo || tokens+lens[hi] <= m.MaxBatchTokens) {
			tokens += lens[hi]
			hi++
		}
		err := fn(r, lo, hi)
		r.g.Reset()
		if err != nil {
			return err
		}
		lo = hi
	}
	return nil
}

// encode tokenizes inputs with special tokens, at most limit tokens each:
// truncated longest-first, or, with WithTruncation(false), an error naming
// the first input over the limit.
func (m *Model) encode(in []tokenizer.Input, limit int) ([]*tokenizer.Encoding, error) {
	if len(in) == 0 {
		return nil, ErrEmpty
	}
	o := tokenizer.Options{AddSpecialTokens: true, MaxLength: limit, Truncation: tokenizer.LongestFirst}
	if !m.noTruncate {
		return m.tok.EncodeBatch(in, o)
	}
	o.MaxLength = 0
	encs, err := m.tok.EncodeBatch(in, o)
	if err != nil {
		return nil, err
	}
	for i, e := range encs {
		if limit > 0 && len(e.IDs) > limit {
			return nil, fmt.Errorf("bioencoder: text %d has %d tokens, more than the %d the model reads (truncation is off)", i, len(e.IDs), limit)
		}
	}
	return encs, nil
}

// batchOf lays encodings end to end. Token type ids are kept for BERT.
func (m *Model) batchOf(encs []*tokenizer.Encoding) *nn.Batch {
	b := &nn.Batch{Starts: make([]int, 1, len(encs)+1)}
	useTypes := m.cfg.Arch != config.ModernBERT
	for _, e := range encs {
		for i, id := range e.IDs {
			b.IDs = append(b.IDs, id)
			b.Pos = append(b.Pos, i)
			if useTypes {
				b.TypeIDs = append(b.TypeIDs, e.TypeIDs[i])
			}
		}
		b.Starts = append(b.Starts, len(b.IDs))
	}
	return b
}
