// Package modernbert is ModernBERT (Warner et al., 2024) as Hugging Face
// transformers runs it in float32 (eager/sdpa semantics), with its heads.
//
//	h0 = LayerNorm(tok[ids])                              no position or type embeddings
//	per layer i (pre-norm):
//	   h += Wo·Attention(RoPE(Wqkv·attn_norm_i(h)))      attn_norm_0 is the identity
//	        global layers (i % global_attn_every_n_layers == 0): every key, rope θ = global theta
//	        local layers: keys with |i-j| <= local_attention/2, rope θ = local theta
//	   h += Wo·(act(u₁) ⊙ u₂),  [u₁ | u₂] = Wi·mlp_norm_i(h)   (GeGLU)
//	last_hidden_state = final_norm(h)
//	head(x) = LayerNorm(act(Wd·x))
//	heads: masked LM  head(h)·Eᵀ + b    (E tied to tok_embeddings)
//	       sequence   Wc·head(pool(h))  pool = first token ("cls") or masked mean ("mean")
//	       token      Wc·head(h)
package modernbert

import (
	"fmt"
	"math"
	"math/rand/v2"

	"bioencoder/config"
	"bioencoder/model/modelio"
	"bioencoder/nn"
)

// Model is a ModernBERT encoder with the head its task needs.
type Model struct {
	cfg    *config.Model
	task   config.Task
	ps     *nn.Params
	prefix string // "model." in head models, "" in a bare ModernBertModel

	tok        *nn.Param
	embNorm    *nn.LayerNorm
	layers     []layer
	finalNorm  *nn.LayerNorm
	headDense  *nn.Linear
	headNorm   *nn.LayerNorm
	decoder    *nn.Linear // tied to tok unless the config unties it
	classifier *nn.Linear
}

type layer struct {
	attnNorm *nn.LayerNorm // nil on layer 0
	qkv      *nn.Linear    // Wqkv: [3H, H]
	attnOut  *nn.Linear
	mlpNorm  *nn.LayerNorm
	wi       *nn.Linear // [2I, H]: input | gate
	wo       *nn.Linear
	window   int // 0 for global layers, else local_attention/2
	rope     *nn.Rope
}

// Options choose the head.
type Options struct {
	Task config.Task
}

// New declares every parameter under its Hugging Face name and allocates
// them, zeroed. Call Load or Init next.
func New(cfg *config.Model, opt Options) *Model {
	m := &Model{cfg: cfg, task: opt.Task, ps: nn.NewParams()}
	if m.task != config.Base {
		m.prefix = "model."
	}
	ps, p := m.ps, m.prefix
	H, I, eps := cfg.HiddenSize, cfg.IntermediateSize, float32(cfg.NormEps)
	norm := func(name string) *nn.LayerNorm {
		ln := &nn.LayerNorm{W: ps.Add(name+".weight", H), Eps: eps}
		if cfg.NormBias {
			ln.B = ps.Add(name+".bias", H)
		}
		return ln
	}
	type decl struct{ w, b *nn.Param }
	dense := func(name string, out, in int, bias bool) decl {
		d := decl{w: ps.Add(name+".weight", out, in)}
		if bias {
			d.b = ps.Add(name+".bias", out)
		}
		return d
	}

	m.tok = ps.Add(p+"embeddings.tok_embeddings.weight", cfg.VocabSize, H)
	m.embNorm = norm(p + "embeddings.norm")
	type layerDecl struct {
		an, mn          *nn.LayerNorm
		qkv, ao, wi, wo decl
	}
	decls := make([]layerDecl, cfg.NumLayers)
	for i := range decls {
		l := fmt.Sprintf("%slayers.%d.", p, i)
		d := &decls[i]
		if i > 0 {
			d.an = norm(l + "attn_norm")
		}
		d.qkv = dense(l+"attn.Wqkv", 3*H, H, cfg.AttentionBias)
		d.ao = dense(l+"attn.Wo", H, H, cfg.AttentionBias)
		d.mn = norm(l + "mlp_norm")
		d.wi = dense(l+"mlp.Wi", 2*I, H, cfg.MLPBias)
		d.wo = dense(l+"mlp.Wo", H, I, cfg.MLPBias)
	}
	m.finalNorm = norm(p + "final_norm")
	var head, dec, cls decl
	var decBias *nn.Param
	if m.task != config.Base {
		head = dense("head.dense", H, H, cfg.ClassifierBias)
		m.headNorm = norm("head.norm")
	}
	switch m.task {
	case config.MaskedLM:
		if !cfg.TieWordEmbeddings {
			dec.w = ps.Add("decoder.weight", cfg.VocabSize, H)
		}
		if cfg.DecoderBias {
			decBias = ps.Add("decoder.bias", cfg.VocabSize)
		}
	case config.SequenceClassification, config.TokenClassification:
		cls = dense("classifier", max(cfg.NumLabels(), 1), H, true)
	}
	ps.Alloc()

	lin := func(d decl) *nn.Linear { return nn.NewLinear(ps, d.w, d.b) }
	ropes := map[float64]*nn.Rope{}
	m.layers = make([]layer, cfg.NumLayers)
	for i, d := range decls {
		theta := cfg.RopeTheta(i)
		if ropes[theta] == nil {
			ropes[theta] = nn.NewRope(theta, cfg.HeadDim())
		}
		l := layer{attnNorm: d.an, qkv: lin(d.qkv), attnOut: lin(d.ao), mlpNorm: d.mn, wi: lin(d.wi), wo: lin(d.wo), rope: ropes[theta]}
		if !cfg.IsGlobalLayer(i) {
			l.window = cfg.LocalAttention / 2
		}
		m.layers[i] = l
	}
	if head.w != nil {
		m.headDense = lin(head)
	}
	if m.task == config.MaskedLM {
		w := dec.w
		if w == nil {
			w = m.tok
		}
		m.decoder = nn.NewLinear(ps, w, decBias)
	}
	if cls.w != nil {
		m.classifier = lin(cls)
	}
	return m
}

func (m *Model) Config() *config.Model { return m.cfg }
func (m *Model) Params() *nn.Params    { return m.ps }
func (m *Model) Task() config.Task     { return m.task }

// Encode runs the embeddings and every layer and returns the last hidden
// state after the final norm [tokens, H]. If states is not nil, the
// embedding output and each layer's output (before the final norm, as
// transformers reports them) are appended as copies.
func (m *Model) Encode(g *nn.Graph, b *nn.Batch, states *[][]float32) (*nn.Var, error) {
	c := m.cfg
	if err := b.Validate(c.VocabSize, 0, c.MaxPositions); err != nil {
		return nil, err
	}
	var embDrop, attnDrop, mlpDrop float32
	if g.Training() {
		embDrop, attnDrop, mlpDrop = float32(c.EmbeddingDropout), float32(c.AttentionDropout), float32(c.MLPDropout)
	}
	mark := g.Mark()
	x := g.Dropout(g.LayerNorm(g.Embedding(m.tok, b.IDs, c.PadTokenID), m.embNorm), embDrop)
	x = g.Release(mark, x)
	modelio.Keep(states, x)

	for _, l := range m.layers {
		h := x
		if l.attnNorm != nil {
			h = g.LayerNorm(x, l.attnNorm)
		}
		qkv := g.RopeQK(g.Linear(h, l.qkv, nn.Ep{}), b, l.rope, c.NumHeads)
		ctx := g.Attention(qkv, b, nn.Attention{Heads: c.NumHeads, Window: l.window, Dropout: attnDrop})
		x = g.Linear(ctx, l.attnOut, nn.Ep{Dropout: attnDrop, Residual: x})

		u := g.Linear(g.LayerNorm(x, l.mlpNorm), l.wi, nn.Ep{}) // [input | gate]
		y := g.Dropout(g.GeGLU(u, c.HiddenAct), mlpDrop)
		x = g.Linear(y, l.wo, nn.Ep{Residual: x})
		x = g.Release(mark, x)
		modelio.Keep(states, x)
	}
	return g.LayerNorm(x, m.finalNorm), nil
}

// head is LayerNorm(act(Wd·x)), shared by every task head.
func (m *Model) head(g *nn.Graph, x *nn.Var) *nn.Var {
	return g.LayerNorm(g.Linear(x, m.headDense, nn.Ep{Act: m.cfg.ClassifierAct}), m.headNorm)
}

// MaskedLM returns vocabulary logits for the given token rows of h (all rows
// when rows is nil).
func (m *Model) MaskedLM(g *nn.Graph, h *nn.Var, rows []int) (*nn.Var, error) {
	if m.decoder == nil {
		return nil, fmt.Errorf("modernbert: model has no masked-LM head (task %s)", m.task)
	}
	if rows != nil {
		h = g.Gather(h, rows)
	}
	return g.Linear(m.head(g, h), m.decoder, nn.Ep{}), nil
}

// Pool is the sequence vector the classifier reads: the first token
// ("cls") or the mean over attended tokens ("mean").
func (m *Model) Pool(g *nn.Graph, b *nn.Batch, h *nn.Var) *nn.Var {
	if m.cfg.ClassifierPooling == "mean" {
		return g.MeanPool(h, b, b.Key)
	}
	return g.Gather(h, b.Starts[:b.NumSeqs()])
}

// Pooler returns the pooled sequence vectors (ModernBERT has no tanh pooler).
func (m *Model) Pooler(g *nn.Graph, b *nn.Batch, h *nn.Var) (*nn.Var, error) {
	return m.Pool(g, b, h), nil
}

// SequenceLogits is the classifier over the pooled, head-transformed vector.
func (m *Model) SequenceLogits(g *nn.Graph, b *nn.Batch, h *nn.Var) (*nn.Var, error) {
	if m.classifier == nil || m.task != config.SequenceClassification {
		return nil, fmt.Errorf("modernbert: model has no sequence-classification head (task %s)", m.task)
	}
	return g.Linear(g.Dropout(m.head(g, m.Pool(g, b, h)), m.classifierDropout(g)), m.classifier, nn.Ep{}), nil
}

// TokenLogits is the classifier over every head-transformed token.
func (m *Model) TokenLogits(g *nn.Graph, h *nn.Var) (*nn.Var, error) {
	if m.classifier == nil || m.task != config.TokenClassification {
		return nil, fmt.Errorf("modernbert: model has no token-classification head (task %s)", m.task)
	}
	return g.Linear(g.Dropout(m.head(g, h), m.classifierDropout(g)), m.classifier, nn.Ep{}), nil
}

func (m *Model) classifierDropout(g *nn.Graph) float32 {
	if !g.Training() {
		return 0
	}
	return float32(m.cfg.ClassifierDropout)
}

// Load fills the parameters from a checkpoint; the source resolves the
// "model." prefix either way.
func (m *Model) Load(src modelio.Source) error {
	for _, p := range m.ps.List {
		if err := modelio.Fill(src, p.Name, p); err != nil {
			return err
		}
	}
	m.ps.Touch()
	return nil
}

// Init sets fresh weights as transformers' ModernBertPreTrainedModel does:
// truncated normals (cut at ±initializer_cutoff_factor·σ) with σ =
// initializer_range for embeddings, Wqkv and Wi, σ/√(2·layers) for the output
// projections, the head and the decoder, H^-1/2 for the classifier; zero
// biases; unit norm scales.
func (m *Model) Init(seed uint64) {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	c := m.cfg
	std := c.InitializerRange
	out := std / math.Sqrt(2*float64(c.NumLayers))
	trunc := func(p *nn.Param, sigma float64) {
		cut := c.InitCutoffFactor * sigma
		for i := range p.W {
			for {
				v := rng.NormFloat64() * sigma
				if v >= -cut && v <= cut {
					p.W[i] = float32(v)
					break
				}
			}
		}
	}
	for _, p := range m.ps.List {
		switch {
		case modelio.IsNormWeight(p.Name):
			fillConst(p.W, 1)
		case len(p.Shape) == 1:
			fillConst(p.W, 0)
		}
	}
	trunc(m.tok, std)
	for _, l := range m.layers {
		trunc(l.qkv.W, std)
		trunc(l.wi.W, std)
		trunc(l.attnOut.W, out)
		trunc(l.wo.W, out)
	}
	if m.headDense != nil {
		trunc(m.headDense.W, out)
	}
	if m.decoder != nil && m.decoder.W != m.tok {
		trunc(m.decoder.W, out)
	}
	if m.classifier != nil {
		trunc(m.classifier.W, 1/math.Sqrt(float64(c.HiddenSize)))
	}
	m.ps.Touch()
}

func fillConst(x []float32, v float32) {
	for i := range x {
		x[i] = v
	}
}
