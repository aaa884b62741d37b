package bioencoder

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"bioencoder/config"
	"bioencoder/internal/atomicfile"
	"bioencoder/kernels"
	"bioencoder/model"
	"bioencoder/nn"
	"bioencoder/safetensors"
)

// The methods in this file expose the model's pipeline on a caller's graph,
// so package train can train every kind of model with the same code that
// runs it.

// Params returns every parameter set a trainer updates: the encoder's and
// those of Dense modules.
func (m *Model) Params() []*nn.Params {
	sets := []*nn.Params{m.net.Params()}
	for _, d := range m.dense {
		sets = append(sets, d.ps)
	}
	return sets
}

// SentenceGraph embeds texts on g: the Transformer module's tokenization,
// the encoder and the modules after it. It returns the [len(texts), Dim]
// node and the number of tokens.
func (m *Model) SentenceGraph(g *nn.Graph, texts []string) (*nn.Var, int, error) {
	if m.pooling == nil {
		return nil, 0, fmt.Errorf("bioencoder: %s has no pooling module", m.dir)
	}
	encs, err := m.tokenize(texts, "")
	if err != nil {
		return nil, 0, err
	}
	b := m.batchOf(encs)
	h, err := m.net.Encode(g, b, nil)
	if err != nil {
		return nil, 0, err
	}
	return m.Sentence(g, b, h, 0), b.Len(), nil
}

// PairLogitsGraph runs a sequence classifier on pairs (or texts, B empty) on g.
func (m *Model) PairLogitsGraph(g *nn.Graph, pairs []Pair) (*nn.Var, int, error) {
	encs, err := m.pairEncodings(pairs)
	if err != nil {
		return nil, 0, err
	}
	b := m.batchOf(encs)
	h, err := m.net.Encode(g, b, nil)
	if err != nil {
		return nil, 0, err
	}
	l, err := m.net.SequenceLogits(g, b, h)
	return l, b.Len(), err
}

// MakeSentenceTransformer turns the model into a sentence-transformers
// model: pooling ("mean", "cls" or "max"), an optional Dense layer to
// denseOut dimensions (Identity activation, fresh weights from seed), and
// L2 normalisation. The encoder keeps its weights.
func (m *Model) MakeSentenceTransformer(pool string, denseOut int, normalize bool, seed uint64) error {
	if m.net.Task() != config.Base {
		net, err := m.bareEncoder()
		if err != nil {
			return err
		}
		m.net = net
	}
	H := m.cfg.HiddenSize
	p := &config.Pooling{Dim: H, IncludePrompt: true}
	switch pool {
	case "mean", "":
		p.Mean = true
	case "cls":
		p.CLS = true
	case "max":
		p.Max = true
	default:
		return fmt.Errorf("bioencoder: unknown pooling %q (mean, cls, max)", pool)
	}
	m.pooling, m.normalize, m.dense = p, normalize, nil
	if denseOut > 0 {
		m.dense = []*denseLayer{newDense(H, denseOut, false, kernels.Identity, seed)}
	}
	m.kind = SentenceTransformer
	if m.st.SimilarityFnName == "" || m.st.SimilarityFnName == "MaxSim" {
		m.st.SimilarityFnName = "cosine"
	}
	return nil
}

// bareEncoder rebuilds the network without its head, keeping the encoder weights.
func (m *Model) bareEncoder() (model.Model, error) {
	net, err := model.New(m.cfg, model.Options{Task: config.Base})
	if err != nil {
		return nil, err
	}
	src := net.Params()
	old := m.net.Params()
	for _, p := range src.List {
		q := old.Get(p.Name)
		if q == nil {
			// Head models prefix encoder names ("bert.", "model.").
			for _, pre := range []string{"bert.", "model."} {
				if q = old.Get(pre + p.Name); q != nil {
					break
				}
			}
		}
		if q == nil {
			if p.Name == "pooler.dense.weight" || p.Name == "pooler.dense.bias" {
				continue
			}
			return nil, fmt.Errorf("bioencoder: encoder parameter %s missing", p.Name)
		}
		copy(p.W, q.W)
	}
	src.Touch()
	return net, nil
}

func newDense(in, out int, bias bool, act kernels.Act, seed uint64) *denseLayer {
	ps := nn.NewParams()
	w := ps.Add("linear.weight", out, in)
	var b *nn.Param
	if bias {
		b = ps.Add("linear.bias", out)
	}
	ps.Alloc()
	// torch nn.Linear's default init: U(-1/√in, 1/√in).
	rng := rand.New(rand.NewPCG(seed, 0xde45e))
	lim := 1 / math.Sqrt(float64(in))
	for i := range w.W {
		w.W[i] = float32((rng.Float64()*2 - 1) * lim)
	}
	ps.Touch()
	return &denseLayer{ps: ps, lin: nn.NewLinear(ps, w, b), act: act}
}

// Save writes the model in its kind's published layout: a Hugging Face
// folder, plus the sentence-transformers or PyLate module files.
func (m *Model) Save(dir string) error {
	if err := model.Save(dir, m.net, m.hfDir); err != nil {
		return err
	}
	switch m.kind {
	case SentenceTransformer, ColBERT:
		return m.saveModules(dir)
	case CrossEncoder:
		return m.saveCrossEncoderConfig(dir)
	}
	return nil
}

func writeJSON(path string, v any) error {
	b, err := config.MarshalJSON(v)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, b)
}

func (m *Model) saveModules(dir string) error {
	mods := []config.Module{{Idx: 0, Name: "0", Path: "", Type: config.ModTransformer}}
	if m.pooling != nil {
		mods = append(mods, config.Module{Idx: len(mods), Name: fmt.Sprint(len(mods)), Path: fmt.Sprintf("%d_Pooling", len(mods)), Type: config.ModPooling})
		if err := os.MkdirAll(filepath.Join(dir, mods[len(mods)-1].Path), 0o755); err != nil {
			return err
		}
		if err := writeJSON(filepath.Join(dir, mods[len(mods)-1].Path, "config.json"), m.pooling); err != nil {
			return err
		}
	}
	for _, d := range m.dense {
		typ := config.ModDense
		if m.kind == ColBERT {
			typ = config.ModPyLateDense
		}
		md := config.Module{Idx: len(mods), Name: fmt.Sprint(len(mods)), Path: fmt.Sprintf("%d_Dense", len(mods)), Type: typ}
		mods = append(mods, md)
		if err := d.save(filepath.Join(dir, md.Path), m.kind == ColBERT); err != nil {
			return err
		}
	}
	if m.normalize {
		mods = append(mods, config.Module{Idx: len(mods), Name: fmt.Sprint(len(mods)), Path: fmt.Sprintf("%d_Normalize", len(mods)), Type: config.ModNormalize})
	}
	if err := writeJSON(filepath.Join(dir, "modules.json"), mods); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(dir, "sentence_bert_config.json"), config.Transformer{MaxSeqLength: m.maxLen, DoLowerCase: m.lowercase}); err != nil {
		return err
	}
	st := map[string]any{
		"__version__":         map[string]string{"bioencoder": "0.1.0"},
		"prompts":             nonNil(m.st.Prompts),
		"default_prompt_name": nullIfEmpty(m.st.DefaultPromptName),
		"similarity_fn_name":  m.st.SimilarityFnName,
		"model_type":          "SentenceTransformer",
	}
	if m.kind == ColBERT {
		c := m.colbert
		qp, _ := m.tok.IDToToken(c.queryPrefix)
		dp, _ := m.tok.IDToToken(c.docPrefix)
		st["query_prefix"], st["document_prefix"] = qp, dp
		st["query_length"], st["document_length"] = c.queryLen, c.docLen
		st["attend_to_expansion_tokens"], st["do_query_expansion"] = c.attendExpand, c.expand
		st["skiplist_words"] = m.st.SkiplistWords
		st["similarity_fn_name"] = "MaxSim"
	}
	return writeJSON(filepath.Join(dir, "config_sentence_transformers.json"), st)
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (d *denseLayer) save(dir string, pylate bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	act := "torch.nn.modules.linear.Identity"
	switch d.act {
	case kernels.Tanh:
		act = "torch.nn.modules.activation.Tanh"
	case kernels.Identity:
	default:
		return fmt.Errorf("bioencoder: saving a Dense module with activation %v is not supported", d.act)
	}
	cfg := map[string]any{"in_features": d.lin.In(), "out_features": d.lin.Out(), "bias": d.lin.B != nil, "activation_function": act}
	if pylate {
		cfg["use_residual"] = d.useRes
	}
	if err := writeJSON(filepath.Join(dir, "config.json"), cfg); err != nil {
		return err
	}
	tensors := map[string]safetensors.Tensor{}
	for _, p := range d.ps.List {
		t, err := safetensors.FromFloat32(safetensors.F32, p.Shape, p.W)
		if err != nil {
			return err
		}
		tensors[p.Name] = t
	}
	return safetensors.Write(filepath.Join(dir, "model.safetensors"), tensors, map[string]string{"format": "pt"})
}

// saveCrossEncoderConfig records the score activation in config.json the
// way sentence-transformers does.
func (m *Model) saveCrossEncoderConfig(dir string) error {
	path := filepath.Join(dir, "config.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	act := "torch.nn.modules.activation.Sigmoid"
	if m.ceAct == kernels.Identity {
		act = "torch.nn.modules.linear.Identity"
	}
	raw["sentence_transformers"] = map[string]any{"activation_fn": act, "version": "bioencoder"}
	return writeJSON(path, raw)
}

// Restore reloads every parameter from a folder written by Save (the same
// kind and shapes), e.g. a checkpoint being resumed.
func (m *Model) Restore(dir string) error {
	if err := model.LoadParams(m.net, dir); err != nil {
		return err
	}
	mods, err := config.LoadModules(dir)
	if err != nil {
		return err
	}
	i := 0
	for _, md := range mods {
		if md.Type != config.ModDense && md.Type != config.ModPyLateDense {
			continue
		}
		if i >= len(m.dense) {
			return fmt.Errorf("bioencoder: %s has more Dense modules than the model", dir)
		}
		f, err := safetensors.Open(filepath.Join(dir, md.Path, "model.safetensors"))
		if err != nil {
			return err
		}
		for _, p := range m.dense[i].ps.List {
			v, err := f.Float32(p.Name)
			if err == nil && len(v) != len(p.W) {
				err = fmt.Errorf("bioencoder: %s: %s has %d values, want %d", f.Path(), p.Name, len(v), len(p.W))
			}
			if err != nil {
				f.Close()
				return err
			}
			copy(p.W, v)
		}
		f.Close()
		m.dense[i].ps.Touch()
		i++
	}
	return nil
}
