package bioencoder

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"bioencoder/config"
	"bioencoder/internal/atomicfile"
	"bioencoder/kernels"
	"bioencoder/model"
	"bioencoder/nn"
	"bioencoder/safetensors"
	"bioencoder/tokenizer"
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
		st["query_prefix"], st["document_prefix"] = c.queryText, c.docText
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

// ColBERTGraph encodes texts as ColBERT queries or documents on g and
// returns the kept token vectors (L2-normalised, [Σkept, D]) with each
// text's row range: text i owns rows [segs[i], segs[i+1]).
func (m *Model) ColBERTGraph(g *nn.Graph, texts []string, query bool) (vecs *nn.Var, segs []int, tokens int, err error) {
	if m.colbert == nil {
		return nil, nil, 0, fmt.Errorf("bioencoder: %s is not a ColBERT model", m.dir)
	}
	inputs, err := m.colbertInputs(texts, query)
	if err != nil {
		return nil, nil, 0, err
	}
	b := &nn.Batch{Starts: []int{0}, Key: []bool{}}
	var rows []int
	segs = []int{0}
	for _, x := range inputs {
		base := len(b.IDs)
		b.IDs = append(b.IDs, x.ids...)
		b.TypeIDs = append(b.TypeIDs, x.types...)
		b.Key = append(b.Key, x.key...)
		for j, k := range x.keep {
			b.Pos = append(b.Pos, j)
			if k {
				rows = append(rows, base+j)
			}
		}
		b.Starts = append(b.Starts, len(b.IDs))
		segs = append(segs, len(rows))
	}
	if m.cfg.Arch == config.ModernBERT {
		b.TypeIDs = nil
	}
	h, err := m.net.Encode(g, b, nil)
	if err != nil {
		return nil, nil, 0, err
	}
	return g.Gather(m.colbertVectors(g, h), rows), segs, b.Len(), nil
}

// WordLogitsGraph runs a token classifier on pre-split words (as NER data
// comes) on g. The words of a sentence are joined by single spaces and
// tokenized; first[i][w] is the row of the first sub-token of word w of
// sentence i, or -1 when truncation cut the word off.
func (m *Model) WordLogitsGraph(g *nn.Graph, sentences [][]string) (logits *nn.Var, first [][]int, tokens int, err error) {
	in := make([]tokenizer.Input, len(sentences))
	spans := make([][][2]int, len(sentences))
	for i, words := range sentences {
		var sb strings.Builder
		pos := 0
		for w, word := range words {
			if w > 0 {
				sb.WriteByte(' ')
				pos++
			}
			n := utf8.RuneCountInString(word)
			spans[i] = append(spans[i], [2]int{pos, pos + n})
			sb.WriteString(word)
			pos += n
		}
		in[i] = tokenizer.Input{Text: sb.String()}
	}
	if len(in) == 0 {
		return nil, nil, 0, ErrEmpty
	}
	encs, err := m.tok.EncodeBatch(in, tokenizer.Options{AddSpecialTokens: true, MaxLength: m.maxLen, Truncation: tokenizer.LongestFirst})
	if err != nil {
		return nil, nil, 0, err
	}
	b := m.batchOf(encs)
	first = make([][]int, len(sentences))
	for i, e := range encs {
		first[i] = make([]int, len(sentences[i]))
		for w := range first[i] {
			first[i][w] = -1
		}
		w := 0
		for t, off := range e.Offsets {
			if e.SpecialTokensMask[t] == 1 || off[1] <= off[0] {
				continue
			}
			for w < len(spans[i]) && spans[i][w][1] <= off[0] {
				w++
			}
			if w < len(spans[i]) && first[i][w] < 0 && off[0] >= spans[i][w][0] {
				first[i][w] = b.Starts[i] + t
			}
		}
	}
	h, err := m.net.Encode(g, b, nil)
	if err != nil {
		return nil, nil, 0, err
	}
	logits, err = m.net.TokenLogits(g, h)
	return logits, first, b.Len(), err
}

// NewHead builds a model of the given kind (Classifier, TokenClassifier or
// CrossEncoder) on top of the encoder in base (any folder Load reads: a
// masked-LM checkpoint, a sentence-transformers folder...). The encoder
// keeps its weights; the head is freshly initialised from seed as
// transformers initialises it. labels name the classes (a cross-encoder has
// one output).
func NewHead(base string, kind Kind, labels []string, seed uint64, opts ...Option) (*Model, error) {
	m, err := Load(base, append(opts, AsKind(Encoder))...)
	if err != nil {
		return nil, err
	}
	cfg := *m.cfg
	var task config.Task
	switch kind {
	case Classifier:
		task = config.SequenceClassification
	case TokenClassifier:
		task = config.TokenClassification
	case CrossEncoder:
		task, labels = config.SequenceClassification, []string{"LABEL_0"}
		cfg.CrossEncoderActivation = "torch.nn.modules.activation.Sigmoid"
	default:
		return nil, fmt.Errorf("bioencoder: NewHead makes classifiers, token classifiers and cross-encoders, not %v", kind)
	}
	if len(labels) == 0 {
		return nil, fmt.Errorf("bioencoder: a %v needs labels", kind)
	}
	cfg.ID2Label = labels
	cfg.Task = task
	net, err := model.New(&cfg, model.Options{Task: task})
	if err != nil {
		return nil, err
	}
	net.Init(seed)
	if err := copyEncoder(net, m.net); err != nil {
		return nil, err
	}
	m.cfg, m.net, m.kind = &cfg, net, kind
	m.pooling, m.dense, m.normalize, m.colbert = nil, nil, false, nil
	m.st = config.SentenceTransformers{SimilarityFnName: "cosine"}
	if err := m.setupCrossEncoder(); err != nil {
		return nil, err
	}
	return m, nil
}

// copyEncoder copies every encoder parameter of src into dst, matching
// names with or without the base-model prefix.
func copyEncoder(dst, src model.Model) error {
	bare := func(name string) string {
		for _, pre := range []string{"bert.", "model."} {
			if s, ok := strings.CutPrefix(name, pre); ok {
				return s
			}
		}
		return name
	}
	from := map[string]*nn.Param{}
	for _, p := range src.Params().List {
		from[bare(p.Name)] = p
	}
	for _, p := range dst.Params().List {
		q, ok := from[bare(p.Name)]
		if !ok || len(q.W) != len(p.W) {
			continue // head parameters keep their fresh values
		}
		copy(p.W, q.W)
	}
	dst.Params().Touch()
	return nil
}

// MakeColBERT turns the model into a PyLate ColBERT model, as PyLate does
// for a plain encoder: the prefixes "[Q] " and "[D] " become added tokens
// (the next two ids), the word-embedding table grows to hold them (new rows
// start at the mean of the existing ones), and a bias-free Dense layer with
// fresh weights projects every token vector to dim. The modified tokenizer
// files are written into workDir, which becomes the tokenizer the model
// saves with.
func (m *Model) MakeColBERT(dim, queryLen, docLen int, seed uint64, workDir string) error {
	if m.kind == ColBERT {
		return fmt.Errorf("bioencoder: %s is already a ColBERT model", m.dir)
	}
	if m.net.Task() != config.Base {
		net, err := m.bareEncoder()
		if err != nil {
			return err
		}
		m.net = net
	}
	const qp, dp = "[Q] ", "[D] "
	if err := os.MkdirAll(workDir, 0o755); err != nil {
		return err
	}
	qid, did := m.tok.VocabSize(), m.tok.VocabSize()+1
	if err := addPrefixTokens(m.hfDir, workDir, map[string]int{qp: qid, dp: did}); err != nil {
		return err
	}
	tok, err := tokenizer.Load(workDir)
	if err != nil {
		return fmt.Errorf("bioencoder: reloading the tokenizer with the ColBERT prefixes: %w", err)
	}
	if id, ok := tok.TokenToID(qp); !ok || id != qid {
		return fmt.Errorf("bioencoder: the tokenizer did not take %q as id %d", qp, qid)
	}
	if did+1 > m.cfg.VocabSize {
		if err := m.growVocab(did + 1); err != nil {
			return err
		}
	}
	m.tok, m.hfDir = tok, workDir
	m.st = config.SentenceTransformers{SimilarityFnName: "MaxSim", QueryPrefix: qp, DocumentPrefix: dp,
		QueryLength: queryLen, DocumentLength: docLen, DoQueryExpansion: true}
	m.pooling, m.normalize = nil, false
	m.dense = []*denseLayer{newDense(m.cfg.HiddenSize, dim, false, kernels.Identity, seed)}
	m.kind = ColBERT
	return m.setupColBERT()
}

// growVocab widens the word-embedding table to n rows; new rows are the
// mean of the old ones.
func (m *Model) growVocab(n int) error {
	cfg := *m.cfg
	old := cfg.VocabSize
	cfg.VocabSize = n
	net, err := model.New(&cfg, model.Options{Task: m.net.Task()})
	if err != nil {
		return err
	}
	src := m.net.Params()
	for _, p := range net.Params().List {
		q := src.Get(p.Name)
		if q == nil {
			continue // e.g. a pooler the old network did not keep
		}
		if len(q.W) == len(p.W) {
			copy(p.W, q.W)
			continue
		}
		if len(p.Shape) == 2 && p.Shape[0] == n && q.Shape[0] == old && p.Shape[1] == q.Shape[1] {
			w := p.Shape[1]
			copy(p.W, q.W)
			mean := make([]float64, w)
			for r := 0; r < old; r++ {
				for j := 0; j < w; j++ {
					mean[j] += float64(q.W[r*w+j])
				}
			}
			for r := old; r < n; r++ {
				for j := 0; j < w; j++ {
					p.W[r*w+j] = float32(mean[j] / float64(old))
				}
			}
			continue
		}
		return fmt.Errorf("bioencoder: cannot resize %s from %v to %v", p.Name, q.Shape, p.Shape)
	}
	net.Params().Touch()
	m.cfg, m.net = &cfg, net
	return nil
}

// addPrefixTokens copies the tokenizer files of src into dst with extra
// added tokens (normalized, not special, as PyLate registers its prefixes)
// in tokenizer.json, tokenizer_config.json and added_tokens.json.
func addPrefixTokens(src, dst string, tokens map[string]int) error {
	raw, err := os.ReadFile(filepath.Join(src, "tokenizer.json"))
	if err != nil {
		return fmt.Errorf("bioencoder: ColBERT needs a tokenizer.json: %w", err)
	}
	var tj map[string]any
	if err := json.Unmarshal(raw, &tj); err != nil {
		return fmt.Errorf("bioencoder: %s: %v", filepath.Join(src, "tokenizer.json"), err)
	}
	added, _ := tj["added_tokens"].([]any)
	names := make([]string, 0, len(tokens))
	for t := range tokens {
		names = append(names, t)
	}
	sort.Slice(names, func(i, j int) bool { return tokens[names[i]] < tokens[names[j]] })
	entry := func(t string) map[string]any {
		return map[string]any{"content": t, "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": false}
	}
	for _, t := range names {
		e := entry(t)
		e["id"] = tokens[t]
		added = append(added, e)
	}
	tj["added_tokens"] = added
	if err := writeJSON(filepath.Join(dst, "tokenizer.json"), tj); err != nil {
		return err
	}
	for _, f := range []string{"vocab.txt", "special_tokens_map.json"} {
		if b, err := os.ReadFile(filepath.Join(src, f)); err == nil {
			if err := atomicfile.WriteFile(filepath.Join(dst, f), b); err != nil {
				return err
			}
		}
	}
	tc := map[string]any{}
	if b, err := os.ReadFile(filepath.Join(src, "tokenizer_config.json")); err == nil {
		if err := json.Unmarshal(b, &tc); err != nil {
			return fmt.Errorf("bioencoder: %s: %v", filepath.Join(src, "tokenizer_config.json"), err)
		}
	}
	dec, _ := tc["added_tokens_decoder"].(map[string]any)
	if dec == nil {
		dec = map[string]any{}
	}
	at := map[string]int{}
	for _, t := range names {
		dec[fmt.Sprint(tokens[t])] = entry(t)
		at[t] = tokens[t]
	}
	tc["added_tokens_decoder"] = dec
	if err := writeJSON(filepath.Join(dst, "tokenizer_config.json"), tc); err != nil {
		return err
	}
	return writeJSON(filepath.Join(dst, "added_tokens.json"), at)
}
