// Package bert is BERT (Devlin et al., 2019) as Hugging Face transformers
// runs it, with its heads, and NeuML's BERT-Hash variant, whose token
// embedding is a small [vocab, projections] table projected to the hidden
// size. Everything after the token embedding is plain BERT.
//
//	e  = LayerNorm(word[ids] + type[tt] + pos[p])        word = Proj(table[ids]) for BERT-Hash
//	per layer (post-norm):
//	   a  = LayerNorm(Wo·Attention(Wq x, Wk x, Wv x) + x)
//	   x' = LayerNorm(W2·act(W1·a) + a)
//	pooler = tanh(Wp·h[CLS])
//	heads: masked LM  LayerNorm(act(Wt·h))·Eᵀ + b   (E tied to the word embeddings)
//	       sequence   Wc·pooler
//	       token      Wc·h
package bert

import (
	"fmt"
	"math/rand/v2"

	"bioencoder/config"
	"bioencoder/kernels"
	"bioencoder/model/modelio"
	"bioencoder/nn"
)

// Model is a BERT or BERT-Hash encoder with the head its task needs.
type Model struct {
	cfg    *config.Model
	task   config.Task
	ps     *nn.Params
	prefix string // "bert." in head models, "" in a bare BertModel

	word       *nn.Param  // [V, H]; BERT-Hash: the [V, projections] table
	proj       *nn.Linear // BERT-Hash projection projections -> H; nil for BERT
	pos, typ   *nn.Param
	embNorm    *nn.LayerNorm
	layers     []layer
	pooler     *nn.Linear // nil when the checkpoint has none
	mlmDense   *nn.Linear
	mlmNorm    *nn.LayerNorm
	mlmBias    *nn.Param
	decoder    *nn.Param  // untied decoder weight, or nil when tied to word
	decoderLin *nn.Linear // the tied decoder, built on first use
	classifier *nn.Linear
}

type layer struct {
	qkv      *nn.Linear // query, key and value fused: [3H, H]
	attnOut  *nn.Linear
	attnNorm *nn.LayerNorm
	inter    *nn.Linear
	out      *nn.Linear
	outNorm  *nn.LayerNorm
}

// Options choose the parts of the model beyond the encoder.
type Options struct {
	Task   config.Task // which head; the config's by default
	Pooler bool        // keep a pooler (always for sequence classification)
}

// New declares every parameter (named as the Hugging Face state dict names
// them) and allocates them, zeroed. Call Load or Init next.
func New(cfg *config.Model, opt Options) *Model {
	m := &Model{cfg: cfg, task: opt.Task, ps: nn.NewParams()}
	if m.task != config.Base {
		m.prefix = "bert."
	}
	ps, p := m.ps, m.prefix
	H, I, eps := cfg.HiddenSize, cfg.IntermediateSize, float32(cfg.LayerNormEps)
	norm := func(name string) *nn.LayerNorm {
		return &nn.LayerNorm{W: ps.Add(name+".weight", H), B: ps.Add(name+".bias", H), Eps: eps}
	}
	type linearDecl struct{ w, b *nn.Param }
	dense := func(name string, out, in int) linearDecl {
		return linearDecl{ps.Add(name+".weight", out, in), ps.Add(name+".bias", out)}
	}

	// Declarations first (order = memory layout), linears wired after Alloc.
	var projW *nn.Param
	if cfg.Arch == config.BERTHash {
		m.word = ps.Add(p+"embeddings.word_embeddings.weight", cfg.VocabSize, cfg.Projections)
		projW = ps.Add(p+"embeddings.projection.weight", H, cfg.Projections)
	} else {
		m.word = ps.Add(p+"embeddings.word_embeddings.weight", cfg.VocabSize, H)
	}
	m.pos = ps.Add(p+"embeddings.position_embeddings.weight", cfg.MaxPositions, H)
	m.typ = ps.Add(p+"embeddings.token_type_embeddings.weight", max(cfg.TypeVocabSize, 1), H)
	m.embNorm = norm(p + "embeddings.LayerNorm")
	type layerDecl struct {
		q, k, v, ao, in, out linearDecl
		an, on               *nn.LayerNorm
	}
	decls := make([]layerDecl, cfg.NumLayers)
	for i := range decls {
		l := fmt.Sprintf("%sencoder.layer.%d.", p, i)
		d := &decls[i]
		// Weights of query, key, value are declared back to back, then their
		// biases, so each trio is one contiguous [3H, H] / [3H] block.
		qw := ps.Add(l+"attention.self.query.weight", H, H)
		kw := ps.Add(l+"attention.self.key.weight", H, H)
		vw := ps.Add(l+"attention.self.value.weight", H, H)
		d.q = linearDecl{qw, ps.Add(l+"attention.self.query.bias", H)}
		d.k = linearDecl{kw, ps.Add(l+"attention.self.key.bias", H)}
		d.v = linearDecl{vw, ps.Add(l+"attention.self.value.bias", H)}
		d.ao = dense(l+"attention.output.dense", H, H)
		d.an = norm(l + "attention.output.LayerNorm")
		d.in = dense(l+"intermediate.dense", I, H)
		d.out = dense(l+"output.dense", H, I)
		d.on = norm(l + "output.LayerNorm")
	}
	var pool, mlmT, cls linearDecl
	if opt.Pooler || m.task == config.SequenceClassification {
		pool = dense(p+"pooler.dense", H, H)
	}
	if m.task == config.MaskedLM || m.task == config.PreTraining {
		mlmT = dense("cls.predictions.transform.dense", H, H)
		m.mlmNorm = norm("cls.predictions.transform.LayerNorm")
		m.mlmBias = ps.Add("cls.predictions.bias", cfg.VocabSize)
		if !cfg.TieWordEmbeddings {
			m.decoder = ps.Add("cls.predictions.decoder.weight", cfg.VocabSize, H)
		}
	}
	if m.task == config.SequenceClassification || m.task == config.TokenClassification {
		cls = dense("classifier", max(cfg.NumLabels(), 1), H)
	}
	ps.Alloc()

	if projW != nil {
		m.proj = nn.NewLinear(ps, projW, nil)
	}
	m.layers = make([]layer, cfg.NumLayers)
	for i, d := range decls {
		m.layers[i] = layer{
			qkv:      nn.NewLinear(ps, ps.Fuse(d.q.w, d.k.w, d.v.w), ps.Fuse(d.q.b, d.k.b, d.v.b)),
			attnOut:  nn.NewLinear(ps, d.ao.w, d.ao.b),
			attnNorm: d.an,
			inter:    nn.NewLinear(ps, d.in.w, d.in.b),
			out:      nn.NewLinear(ps, d.out.w, d.out.b),
			outNorm:  d.on,
		}
	}
	if pool.w != nil {
		m.pooler = nn.NewLinear(ps, pool.w, pool.b)
	}
	if mlmT.w != nil {
		m.mlmDense = nn.NewLinear(ps, mlmT.w, mlmT.b)
	}
	if cls.w != nil {
		m.classifier = nn.NewLinear(ps, cls.w, cls.b)
	}
	return m
}

func (m *Model) Config() *config.Model { return m.cfg }
func (m *Model) Params() *nn.Params    { return m.ps }
func (m *Model) Task() config.Task     { return m.task }

// Encode runs the embeddings and every layer and returns the last hidden
// state [tokens, H]. If states is not nil, the embedding output and each
// layer's output are appended to it as copies (Hugging Face hidden_states).
func (m *Model) Encode(g *nn.Graph, b *nn.Batch, states *[][]float32) (*nn.Var, error) {
	c := m.cfg
	if err := b.Validate(c.VocabSize, c.TypeVocabSize, c.MaxPositions); err != nil {
		return nil, err
	}
	drop := float32(0)
	if g.Training() {
		drop = float32(c.HiddenDropout)
	}
	mark := g.Mark()
	x := g.Add(m.wordEmbeddings(g, b), g.Embedding(m.typ, typeIDs(b), -1))
	x = g.Add(x, g.Embedding(m.pos, b.Pos, -1))
	x = g.Dropout(g.LayerNorm(x, m.embNorm), drop)
	x = g.Release(mark, x)
	modelio.Keep(states, x)

	attn := nn.Attention{Heads: c.NumHeads}
	if g.Training() {
		attn.Dropout = float32(c.AttentionDropout)
	}
	for _, l := range m.layers {
		qkv := g.Linear(x, l.qkv, nn.Ep{}) // Q | K | V
		ctx := g.Attention(qkv, b, attn)   // softmax(QKᵀ/√d + mask)·V
		a := g.LayerNorm(g.Linear(ctx, l.attnOut, nn.Ep{Dropout: drop, Residual: x}), l.attnNorm)
		f := g.Linear(a, l.inter, nn.Ep{Act: c.HiddenAct}) // act(W1·a + b1)
		x = g.LayerNorm(g.Linear(f, l.out, nn.Ep{Dropout: drop, Residual: a}), l.outNorm)
		x = g.Release(mark, x)
		modelio.Keep(states, x)
	}
	return x, nil
}

// wordEmbeddings looks up token vectors: a plain table for BERT, the hash
// table projected to H for BERT-Hash. The padding row gets no gradient.
func (m *Model) wordEmbeddings(g *nn.Graph, b *nn.Batch) *nn.Var {
	w := g.Embedding(m.word, b.IDs, m.cfg.PadTokenID)
	if m.proj != nil {
		w = g.Linear(w, m.proj, nn.Ep{})
	}
	return w
}

func typeIDs(b *nn.Batch) []int {
	if b.TypeIDs != nil {
		return b.TypeIDs
	}
	return make([]int, b.Len())
}

// Pooler is tanh(Wp·h[first token] + bp) for every sequence.
func (m *Model) Pooler(g *nn.Graph, b *nn.Batch, h *nn.Var) (*nn.Var, error) {
	if m.pooler == nil {
		return nil, fmt.Errorf("bert: this checkpoint has no pooler")
	}
	return g.Linear(g.Gather(h, b.Starts[:b.NumSeqs()]), m.pooler, nn.Ep{Act: kernels.Tanh}), nil
}

// MaskedLM returns vocabulary logits for the given token rows of h (all rows
// when rows is nil). Training passes only the labelled rows: the loss and
// its gradients are the same and most of the decoder's work is skipped.
func (m *Model) MaskedLM(g *nn.Graph, h *nn.Var, rows []int) (*nn.Var, error) {
	if m.mlmDense == nil {
		return nil, fmt.Errorf("bert: model has no masked-LM head (task %s)", m.task)
	}
	if rows != nil {
		h = g.Gather(h, rows)
	}
	t := g.LayerNorm(g.Linear(h, m.mlmDense, nn.Ep{Act: m.cfg.HiddenAct}), m.mlmNorm)
	switch {
	case m.decoder != nil:
		return g.Linear(t, nn.NewLinear(m.ps, m.decoder, m.mlmBias), nn.Ep{}), nil
	case m.proj != nil:
		// BERT-Hash: the tied matrix is the projected table, E = table·Projᵀ.
		table := g.Linear(g.Param(m.word), m.proj, nn.Ep{})
		return g.MatMulT(t, table, m.mlmBias), nil
	}
	return g.Linear(t, m.tiedDecoder(), nn.Ep{}), nil
}

// tiedDecoder is the decoder Linear over the word embeddings (built once so
// its packed weights are cached).
func (m *Model) tiedDecoder() *nn.Linear {
	if m.decoderLin == nil {
		m.decoderLin = nn.NewLinear(m.ps, m.word, m.mlmBias)
	}
	return m.decoderLin
}

// SequenceLogits is the classifier over the pooler output, one row per sequence.
func (m *Model) SequenceLogits(g *nn.Graph, b *nn.Batch, h *nn.Var) (*nn.Var, error) {
	if m.classifier == nil || m.task != config.SequenceClassification {
		return nil, fmt.Errorf("bert: model has no sequence-classification head (task %s)", m.task)
	}
	pooled, err := m.Pooler(g, b, h)
	if err != nil {
		return nil, err
	}
	return g.Linear(g.Dropout(pooled, m.classifierDropout(g)), m.classifier, nn.Ep{}), nil
}

// TokenLogits is the classifier applied to every token.
func (m *Model) TokenLogits(g *nn.Graph, h *nn.Var) (*nn.Var, error) {
	if m.classifier == nil || m.task != config.TokenClassification {
		return nil, fmt.Errorf("bert: model has no token-classification head (task %s)", m.task)
	}
	return g.Linear(g.Dropout(h, m.classifierDropout(g)), m.classifier, nn.Ep{}), nil
}

func (m *Model) classifierDropout(g *nn.Graph) float32 {
	if !g.Training() {
		return 0
	}
	return float32(m.cfg.ClassifierDropout)
}

// Load fills the parameters from a checkpoint. Names are looked up as
// declared; the weights source resolves the "bert." prefix either way and
// legacy gamma/beta names. Tied or aliased tensors that a checkpoint may
// omit are handled here.
func (m *Model) Load(src modelio.Source) error {
	for _, p := range m.ps.List {
		name := p.Name
		if m.proj != nil && (p == m.word || p == m.proj.W) {
			continue // BERT-Hash tables are found by shape below
		}
		if p == m.mlmBias && !src.Has(name) && src.Has("cls.predictions.decoder.bias") {
			name = "cls.predictions.decoder.bias"
		}
		if err := modelio.Fill(src, name, p); err != nil {
			return err
		}
	}
	if m.proj != nil {
		if err := m.loadHash(src); err != nil {
			return err
		}
	}
	m.ps.Touch()
	return nil
}

// loadHash finds BERT-Hash's token table [V, projections] and projection
// [H, projections] (nn.Linear layout) or [projections, H] (a raw matrix,
// transposed here) among the embeddings tensors by their shapes, since the
// published modeling code was not available to fix their names.
func (m *Model) loadHash(src modelio.Source) error {
	c := m.cfg
	V, P, H := c.VocabSize, c.Projections, c.HiddenSize
	var tableName, projName string
	projT := false
	for _, name := range src.Names() {
		if !modelio.InScope(name, m.prefix+"embeddings.", "embeddings.") {
			continue
		}
		shape, _ := src.Shape(name)
		switch {
		case len(shape) == 2 && shape[0] == V && shape[1] == P:
			tableName = name
		case len(shape) == 2 && shape[0] == H && shape[1] == P:
			projName = name
		case len(shape) == 2 && shape[0] == P && shape[1] == H && projName == "":
			projName, projT = name, true
		}
	}
	if tableName == "" || projName == "" {
		return fmt.Errorf("bert_hash: no [%d, %d] token table and [%d, %d] projection under embeddings.", V, P, H, P)
	}
	if err := modelio.FillAs(src, tableName, m.word); err != nil {
		return err
	}
	shape := []int{H, P}
	if projT {
		shape = []int{P, H}
	}
	w, err := src.Tensor(projName, shape...)
	if err != nil {
		return err
	}
	if projT {
		for i := 0; i < P; i++ {
			for j := 0; j < H; j++ {
				m.proj.W.W[j*P+i] = w[i*H+j]
			}
		}
	} else {
		copy(m.proj.W.W, w)
	}
	return nil
}

// Init sets fresh weights as transformers' BertPreTrainedModel does:
// N(0, initializer_range) for matrices and embeddings, zero biases, unit
// LayerNorm scales, and a zero padding row.
func (m *Model) Init(seed uint64) {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	std := m.cfg.InitializerRange
	for _, p := range m.ps.List {
		switch {
		case modelio.IsNormWeight(p.Name):
			fillConst(p.W, 1)
		case len(p.Shape) == 1:
			fillConst(p.W, 0)
		default:
			for i := range p.W {
				p.W[i] = float32(rng.NormFloat64() * std)
			}
		}
	}
	if pad := m.cfg.PadTokenID; pad >= 0 && pad < m.cfg.VocabSize {
		w := m.word.Shape[1]
		clear(m.word.W[pad*w : (pad+1)*w])
	}
	m.ps.Touch()
}

func fillConst(x []float32, v float32) {
	for i := range x {
		x[i] = v
	}
}
