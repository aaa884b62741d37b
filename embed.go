package bioencoder

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/language"

	"bioencoder/config"
	"bioencoder/kernels"
	"bioencoder/model"
	"bioencoder/model/modelio"
	"bioencoder/nn"
	"bioencoder/tokenizer"
	"bioencoder/weights"
)

// denseLayer is a sentence-transformers (or PyLate) Dense module.
type denseLayer struct {
	ps       *nn.Params
	lin      *nn.Linear
	residual *nn.Linear // PyLate use_residual with differing widths
	act      kernels.Act
	useRes   bool
}

func loadDense(dir string) (*denseLayer, error) {
	cfg, err := config.LoadDense(dir)
	if err != nil {
		return nil, err
	}
	store, err := weights.Open(dir)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	src := model.Source(store, nil)
	ps := nn.NewParams()
	w := ps.Add("linear.weight", cfg.OutFeatures, cfg.InFeatures)
	var b, rw *nn.Param
	if cfg.Bias {
		b = ps.Add("linear.bias", cfg.OutFeatures)
	}
	if cfg.UseResidual && cfg.InFeatures != cfg.OutFeatures {
		rw = ps.Add("residual.weight", cfg.OutFeatures, cfg.InFeatures)
	}
	ps.Alloc()
	for _, p := range ps.List {
		if err := modelio.Fill(src, p.Name, p); err != nil {
			return nil, err
		}
	}
	ps.Touch()
	d := &denseLayer{ps: ps, lin: nn.NewLinear(ps, w, b), act: cfg.Activation, useRes: cfg.UseResidual}
	if rw != nil {
		d.residual = nn.NewLinear(ps, rw, nil)
	}
	return d, nil
}

func (d *denseLayer) forward(g *nn.Graph, x *nn.Var) *nn.Var {
	y := g.Linear(x, d.lin, nn.Ep{Act: d.act})
	switch {
	case d.residual != nil:
		y = g.Add(y, g.Linear(x, d.residual, nn.Ep{}))
	case d.useRes:
		y = g.Add(y, x)
	}
	return y
}

// setupPipeline reads the modules after the Transformer and the settings
// of the tokenizer call.
func (m *Model) setupPipeline(dir, hfDir string, mods []config.Module, o loadOptions) error {
	tr, err := config.LoadTransformer(hfDir)
	if err != nil {
		return err
	}
	m.lowercase = tr.DoLowerCase
	limit := m.cfg.MaxPositions // nothing reads past the position table (or ModernBERT's context)
	switch {
	case o.maxLen > 0:
		m.maxLen = min(o.maxLen, limit)
	case tr.MaxSeqLength > 0 && len(mods) > 0:
		m.maxLen = min(tr.MaxSeqLength, limit)
	default:
		m.maxLen = limit
		if n := m.tok.ModelMaxLength(); n > 0 {
			m.maxLen = min(n, limit)
		}
	}
	for _, md := range mods[min(1, len(mods)):] {
		path := filepath.Join(dir, md.Path)
		switch md.Type {
		case config.ModPooling:
			p, err := config.LoadPooling(path)
			if err != nil {
				return err
			}
			m.pooling = &p
		case config.ModDense, config.ModPyLateDense:
			d, err := loadDense(path)
			if err != nil {
				return err
			}
			m.dense = append(m.dense, d)
		case config.ModNormalize:
			m.normalize = true
		default:
			return fmt.Errorf("bioencoder: %s: module type %s is not supported", filepath.Join(dir, "modules.json"), md.Type)
		}
	}
	if m.pooling == nil && m.kind != ColBERT {
		// What sentence-transformers builds for a plain Hugging Face model.
		m.pooling = &config.Pooling{Dim: m.cfg.HiddenSize, Mean: true, IncludePrompt: true}
	}
	switch m.kind {
	case ColBERT:
		return m.setupColBERT()
	case CrossEncoder, Classifier:
		return m.setupCrossEncoder()
	}
	return nil
}

// pyStrip is Python's str.strip(): Unicode White_Space plus the ASCII
// separators U+001C..U+001F that Python also counts as whitespace.
func pyStrip(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f) })
}

// prepare applies the Transformer module's text rules: strip, then lowercase
// (full Unicode mapping, like Python's str.lower) if do_lower_case.
func (m *Model) prepare(text string) string {
	text = pyStrip(text)
	if m.lowercase {
		text = cases.Lower(language.Und).String(text)
	}
	return text
}

// EmbedOptions choose a prompt. Prompt is prepended verbatim; PromptName
// names one of the model's prompts (config_sentence_transformers.json).
type EmbedOptions struct {
	Prompt     string
	PromptName string
}

// Embed returns one sentence embedding per text, with the model's default
// prompt (if any).
func (m *Model) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	return m.EmbedWith(ctx, texts, EmbedOptions{PromptName: m.st.DefaultPromptName})
}

// EmbedQuery embeds with the model's "query" prompt, if it has one.
func (m *Model) EmbedQuery(ctx context.Context, texts []string) ([][]float32, error) {
	return m.EmbedWith(ctx, texts, EmbedOptions{PromptName: m.firstPrompt("query")})
}

// EmbedDocument embeds with the model's document prompt ("document",
// "passage" or "corpus"), if it has one.
func (m *Model) EmbedDocument(ctx context.Context, texts []string) ([][]float32, error) {
	return m.EmbedWith(ctx, texts, EmbedOptions{PromptName: m.firstPrompt("document", "passage", "corpus")})
}

func (m *Model) firstPrompt(names ...string) string {
	for _, n := range names {
		if _, ok := m.st.Prompts[n]; ok {
			return n
		}
	}
	return m.st.DefaultPromptName
}

// EmbedWith embeds texts with an explicit prompt choice.
func (m *Model) EmbedWith(ctx context.Context, texts []string, o EmbedOptions) ([][]float32, error) {
	if m.kind == ColBERT {
		return nil, fmt.Errorf("bioencoder: %s is a ColBERT model: use EncodeColBERT or Score", m.dir)
	}
	if m.pooling == nil {
		return nil, fmt.Errorf("bioencoder: %s has no pooling module", m.dir)
	}
	prompt := o.Prompt
	if prompt == "" && o.PromptName != "" {
		p, ok := m.st.Prompts[o.PromptName]
		if !ok {
			return nil, fmt.Errorf("bioencoder: %s has no prompt named %q", m.dir, o.PromptName)
		}
		prompt = p
	}
	encs, err := m.tokenize(texts, prompt)
	if err != nil {
		return nil, err
	}
	skip := 0
	if prompt != "" && !m.pooling.IncludePrompt {
		skip = m.promptLength(prompt)
	}
	out := make([][]float32, len(texts))
	err = m.forEachBatch(ctx, lengths(encs), func(r *runner, lo, hi int) error {
		b := m.batchOf(encs[lo:hi])
		h, err := m.net.Encode(r.g, b, nil)
		if err != nil {
			return err
		}
		v := m.Sentence(r.g, b, h, skip)
		for i := lo; i < hi; i++ {
			out[i] = append([]float32(nil), v.Data[(i-lo)*v.Cols:(i-lo+1)*v.Cols]...)
		}
		return nil
	})
	return out, err
}

// tokenize applies the Transformer module's rules and the model's maximum
// length (longest-first truncation, special tokens included).
func (m *Model) tokenize(texts []string, prompt string) ([]*tokenizer.Encoding, error) {
	in := make([]tokenizer.Input, len(texts))
	for i, t := range texts {
		in[i] = tokenizer.Input{Text: m.prepare(prompt + t)}
	}
	return m.encode(in, m.maxLen)
}

// promptLength is how many leading tokens a prompt occupies: its own
// encoding with special tokens, minus a trailing special token.
func (m *Model) promptLength(prompt string) int {
	e, err := m.tok.Encode(m.prepare(prompt), tokenizer.Options{AddSpecialTokens: true})
	if err != nil || len(e.IDs) == 0 {
		return 0
	}
	n := len(e.IDs)
	if e.SpecialTokensMask[n-1] == 1 {
		n--
	}
	return n
}

func lengths(encs []*tokenizer.Encoding) []int {
	l := make([]int, len(encs))
	for i, e := range encs {
		l[i] = len(e.IDs)
	}
	return l
}

// Sentence runs the modules after the Transformer on token vectors h:
// pooling (modes concatenated in sentence-transformers' order), Dense
// layers, Normalize. The first skip tokens of each sequence (a prompt) are
// left out of pooling. It is a graph op chain, so training uses it too.
func (m *Model) Sentence(g *nn.Graph, b *nn.Batch, h *nn.Var, skip int) *nn.Var {
	var mask []bool
	if skip > 0 || b.Key != nil {
		mask = make([]bool, b.Len())
		for t := range mask {
			mask[t] = b.IsKey(t) && b.Pos[t] >= skip
		}
	}
	p := m.pooling
	var parts []*nn.Var
	for _, mode := range []struct {
		on bool
		m  nn.PoolMode
	}{{p.CLS, nn.PoolCLS}, {p.Max, nn.PoolMax}, {p.Mean, nn.PoolMean}, {p.MeanSqrtLen, nn.PoolMeanSqrtLen},
		{p.WeightedMean, nn.PoolWeightedMean}, {p.LastToken, nn.PoolLastToken}} {
		if mode.on {
			parts = append(parts, g.Pool(h, b, mode.m, mask))
		}
	}
	v := g.Concat(parts...)
	for _, d := range m.dense {
		v = d.forward(g, v)
	}
	if m.normalize {
		v = g.L2Normalize(v)
	}
	return v
}

// Dim is the width of the vectors Embed returns.
func (m *Model) Dim() int {
	if len(m.dense) > 0 {
		return m.dense[len(m.dense)-1].lin.Out()
	}
	if m.pooling != nil {
		return m.cfg.HiddenSize * m.pooling.Modes()
	}
	return m.cfg.HiddenSize
}

// SimilarityName is the model's similarity function: cosine, dot,
// euclidean, manhattan (sentence-transformers) or MaxSim (ColBERT).
func (m *Model) SimilarityName() string { return m.st.SimilarityFnName }

// Similarity scores two embeddings with the model's similarity function
// (euclidean and manhattan are negated distances, so higher is closer).
func (m *Model) Similarity(a, b []float32) (float32, error) {
	if len(a) != len(b) {
		return 0, fmt.Errorf("bioencoder: similarity of vectors of %d and %d dimensions", len(a), len(b))
	}
	switch strings.ToLower(m.st.SimilarityFnName) {
	case "", "cosine":
		return Cosine(a, b), nil
	case "dot", "dot_product":
		return kernels.Dot(a, b), nil
	case "euclidean":
		var s float64
		for i := range a {
			d := float64(a[i] - b[i])
			s += d * d
		}
		return -float32(math.Sqrt(s)), nil
	case "manhattan":
		var s float64
		for i := range a {
			s += math.Abs(float64(a[i] - b[i]))
		}
		return -float32(s), nil
	}
	return 0, fmt.Errorf("bioencoder: unknown similarity function %q", m.st.SimilarityFnName)
}

// Cosine is the cosine similarity, with norms clamped at 1e-12 as PyTorch does.
func Cosine(a, b []float32) float32 {
	na := math.Max(math.Sqrt(float64(kernels.Dot(a, a))), 1e-12)
	nb := math.Max(math.Sqrt(float64(kernels.Dot(b, b))), 1e-12)
	return float32(float64(kernels.Dot(a, b)) / (na * nb))
}

// TokenizeTexts returns the ids Embed feeds the model for each text.
func (m *Model) TokenizeTexts(texts []string) ([][]int, error) {
	encs, err := m.tokenize(texts, "")
	if err != nil {
		return nil, err
	}
	out := make([][]int, len(encs))
	for i, e := range encs {
		out[i] = e.IDs
	}
	return out, nil
}
