package serve

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"bioencoder"
	"bioencoder/config"
	"bioencoder/nn"
	"bioencoder/tensor"
	"bioencoder/tokenizer"
)

// entry is one served model: the library model, what the server needs to
// know about it, and its batcher.
type entry struct {
	name    string
	m       *bioencoder.Model
	tok     *tokenizer.Tokenizer
	kind    bioencoder.Kind
	st      config.SentenceTransformers
	pooling string
	maxLen  int
	vocab   int
	created time.Time
	b       *batcher

	// ColBERT lengths (PyLate defaults when the config has none).
	queryLen, docLen int

	runners sync.Pool
}

func newEntry(name string, m *bioencoder.Model) (*entry, error) {
	e := &entry{name: name, m: m, tok: m.Tokenizer(), kind: m.Kind(), maxLen: m.MaxLength(),
		vocab: m.Config().VocabSize, created: time.Now()}
	st, err := config.LoadSentenceTransformers(m.Dir())
	if err != nil {
		return nil, err
	}
	e.st = st
	e.pooling = poolingName(m.Dir())
	if e.kind == bioencoder.ColBERT {
		e.queryLen, e.docLen = st.QueryLength, st.DocumentLength
		if e.queryLen == 0 {
			e.queryLen = 32
		}
		if e.docLen == 0 {
			e.docLen = 180
		}
		e.queryLen = min(e.queryLen, m.Config().MaxPositions)
		e.docLen = min(e.docLen, m.Config().MaxPositions)
	}
	return e, nil
}

// poolingName describes the Pooling module for /info ("mean" for a bare
// encoder, as the library pools it).
func poolingName(dir string) string {
	mods, err := config.LoadModules(dir)
	if err != nil {
		return "mean"
	}
	for _, md := range mods {
		if md.Type != config.ModPooling {
			continue
		}
		p, err := config.LoadPooling(filepath.Join(dir, md.Path))
		if err != nil {
			return "unknown"
		}
		var names []string
		for _, x := range []struct {
			on   bool
			name string
		}{{p.CLS, "cls"}, {p.Max, "max"}, {p.Mean, "mean"}, {p.MeanSqrtLen, "mean_sqrt_len"},
			{p.WeightedMean, "weightedmean"}, {p.LastToken, "last_token"}} {
			if x.on {
				names = append(names, x.name)
			}
		}
		return strings.Join(names, "+")
	}
	return "mean"
}

func (e *entry) embeds() bool {
	return e.kind == bioencoder.Encoder || e.kind == bioencoder.SentenceTransformer
}

func (e *entry) numLabels() int { return e.m.Config().NumLabels() }

func (e *entry) label(i int) string {
	if l := e.m.Config().ID2Label; i < len(l) {
		return l[i]
	}
	return fmt.Sprintf("LABEL_%d", i)
}

// prompt resolves a request's prompt_name: absent means the model's
// default prompt (as sentence-transformers' encode does); a name the model
// does not have is a 422.
func (e *entry) prompt(name *string) (string, string, error) {
	n := e.st.DefaultPromptName
	if name != nil {
		n = *name
	}
	if n == "" {
		return "", "", nil
	}
	p, ok := e.st.Prompts[n]
	if !ok {
		have := make([]string, 0, len(e.st.Prompts))
		for k := range e.st.Prompts {
			have = append(have, k)
		}
		sort.Strings(have)
		return "", "", errInvalid("prompt_name", "prompt_name %q is not one of the model's prompts %v", n, have)
	}
	return n, p, nil
}

// truncation is what a request asked for about texts over the model's
// limit.
type truncation struct {
	on, left bool
}

func (s *Server) truncation(truncate *bool, dir direction) truncation {
	t := truncation{on: s.cfg.AutoTruncate, left: dir.left}
	if truncate != nil {
		t.on = *truncate
	}
	return t
}

func errTooLong(i, n, limit int) error {
	return errorf(http.StatusRequestEntityTooLarge, Validation, "context_length_exceeded", "inputs",
		"input %d: `inputs` must have less than %d tokens. Given: %d", i, limit+1, n)
}

// fitTexts counts the tokens each text (after prefix) will have with
// special tokens and applies the request's truncation: it rejects texts
// over limit when truncation is off, and cuts texts from the left when
// asked (the library truncates on the right). It returns the texts to run
// and their token counts.
func (e *entry) fitTexts(in []string, prefix string, limit int, tr truncation) ([]string, []int, error) {
	batch := make([]tokenizer.Input, len(in))
	for i, t := range in {
		batch[i] = tokenizer.Input{Text: prefix + t}
	}
	encs, err := e.tok.EncodeBatch(batch, tokenizer.Options{AddSpecialTokens: true})
	if err != nil {
		return nil, nil, errorf(http.StatusUnprocessableEntity, Tokenizer, "tokenizer_error", "inputs", "%v", err)
	}
	out, copied := in, false
	counts := make([]int, len(in))
	for i, enc := range encs {
		n := len(enc.IDs)
		counts[i] = min(n, limit)
		if n <= limit {
			continue
		}
		if !tr.on {
			return nil, nil, errTooLong(i, n, limit)
		}
		if tr.left {
			if !copied {
				out, copied = append([]string(nil), in...), true
			}
			out[i] = cutLeft(in[i], len(prefix), enc, limit)
		}
	}
	return out, counts, nil
}

// cutLeft drops the start of text so that prefix+text keeps its last
// tokens within limit. It cuts at the start of a word, so that the kept
// part tokenizes as it did inside the whole text; the library's own
// (right) truncation is the backstop.
func cutLeft(text string, prefixLen int, enc *tokenizer.Encoding, limit int) string {
	var content []int
	for t, sp := range enc.SpecialTokensMask {
		if sp == 0 {
			content = append(content, t)
		}
	}
	budget := limit - (len(enc.IDs) - len(content))
	if budget <= 0 || budget >= len(content) {
		return text
	}
	k := len(content) - budget
	for k < len(content) && k > 0 && enc.WordIDs[content[k]] == enc.WordIDs[content[k-1]] {
		k++
	}
	if k == len(content) {
		return ""
	}
	at := enc.ByteOffsets[content[k]][0] - prefixLen
	return text[min(max(at, 0), len(text)):]
}

// fitPairs counts the tokens of each pair; left truncation of pairs is
// not supported.
func (e *entry) fitPairs(pairs []bioencoder.Pair, tr truncation) ([]int, error) {
	batch := make([]tokenizer.Input, len(pairs))
	for i, p := range pairs {
		batch[i] = tokenizer.Input{Text: p.A, Pair: p.B, HasPair: p.B != ""}
	}
	encs, err := e.tok.EncodeBatch(batch, tokenizer.Options{AddSpecialTokens: true})
	if err != nil {
		return nil, errorf(http.StatusUnprocessableEntity, Tokenizer, "tokenizer_error", "inputs", "%v", err)
	}
	counts := make([]int, len(pairs))
	for i, enc := range encs {
		n := len(enc.IDs)
		counts[i] = min(n, e.maxLen)
		if n <= e.maxLen {
			continue
		}
		if !tr.on {
			return nil, errTooLong(i, n, e.maxLen)
		}
		if tr.left {
			return nil, errInvalid("truncation_direction", "input %d: truncation_direction Left is not supported for text pairs", i)
		}
	}
	return counts, nil
}

// fitIDs validates token-id inputs and truncates them to the model's limit.
func (e *entry) fitIDs(seqs [][]int, tr truncation) ([][]int, error) {
	out := make([][]int, len(seqs))
	for i, ids := range seqs {
		if len(ids) == 0 {
			return nil, errInvalid("inputs", "input %d: empty token array", i)
		}
		for _, id := range ids {
			if id >= e.vocab {
				return nil, errInvalid("inputs", "input %d: token id %d is outside the vocabulary (size %d)", i, id, e.vocab)
			}
		}
		if len(ids) > e.maxLen {
			if !tr.on {
				return nil, errTooLong(i, len(ids), e.maxLen)
			}
			if tr.left {
				ids = ids[len(ids)-e.maxLen:]
			} else {
				ids = ids[:e.maxLen]
			}
		}
		out[i] = ids
	}
	return out, nil
}

func sum(x []int) int {
	s := 0
	for _, v := range x {
		s += v
	}
	return s
}

// Operations. Each is one batcher key; jobs of a key run as one library
// call.

func (e *entry) embedTexts(ctx context.Context, promptName string, in []string, tokens int) ([][]float32, *job, error) {
	return submitOp(ctx, e.b, "embed\x00"+promptName, in, tokens, func(ctx context.Context, all []string) ([][]float32, error) {
		return e.m.EmbedWith(ctx, all, bioencoder.EmbedOptions{PromptName: promptName})
	})
}

// embedIDs embeds token sequences given as ids: the encoder, then the
// sentence-transformers modules.
func (e *entry) embedIDs(ctx context.Context, in [][]int, tokens int) ([][]float32, *job, error) {
	return submitOp(ctx, e.b, "embed_ids", in, tokens, func(ctx context.Context, all [][]int) ([][]float32, error) {
		out := make([][]float32, 0, len(all))
		err := e.forward(ctx, all, func(g *nn.Graph, b *nn.Batch, h *nn.Var) {
			v := e.m.Sentence(g, b, h, 0)
			for s := 0; s < b.NumSeqs(); s++ {
				out = append(out, append([]float32(nil), v.Data[s*v.Cols:(s+1)*v.Cols]...))
			}
		})
		return out, err
	})
}

// tokenVectors returns the encoder's last hidden state for every token.
func (e *entry) tokenVectors(ctx context.Context, in [][]int, tokens int) ([][][]float32, *job, error) {
	return submitOp(ctx, e.b, "tokens", in, tokens, func(ctx context.Context, all [][]int) ([][][]float32, error) {
		out := make([][][]float32, 0, len(all))
		err := e.forward(ctx, all, func(g *nn.Graph, b *nn.Batch, h *nn.Var) {
			for s := 0; s < b.NumSeqs(); s++ {
				lo, hi := b.Seq(s)
				rows := make([][]float32, hi-lo)
				for t := lo; t < hi; t++ {
					rows[t-lo] = append([]float32(nil), h.Data[t*h.Cols:(t+1)*h.Cols]...)
				}
				out = append(out, rows)
			}
		})
		return out, err
	})
}

func (e *entry) logits(ctx context.Context, in []bioencoder.Pair, tokens int) ([][]float32, *job, error) {
	return submitOp(ctx, e.b, "logits", in, tokens, e.m.Logits)
}

func (e *entry) predict(ctx context.Context, in []bioencoder.Pair, tokens int) ([][]float32, *job, error) {
	return submitOp(ctx, e.b, "predict", in, tokens, e.m.Predict)
}

func (e *entry) colbert(ctx context.Context, in []string, query bool, tokens int) ([][][]float32, *job, error) {
	key := "colbert_doc"
	if query {
		key = "colbert_query"
	}
	return submitOp(ctx, e.b, key, in, tokens, func(ctx context.Context, all []string) ([][][]float32, error) {
		return e.m.EncodeColBERT(ctx, all, query)
	})
}

func (e *entry) fillMask(ctx context.Context, in []string, topK, tokens int) ([][]bioencoder.MaskPrediction, *job, error) {
	return submitOp(ctx, e.b, fmt.Sprintf("fill_mask\x00%d", topK), in, tokens,
		func(ctx context.Context, all []string) ([][]bioencoder.MaskPrediction, error) {
			return e.m.FillMask(ctx, all, topK)
		})
}

func (e *entry) entities(ctx context.Context, in []string, agg bioencoder.Aggregation, tokens int) ([][]bioencoder.Entity, *job, error) {
	return submitOp(ctx, e.b, "ner\x00"+agg.String(), in, tokens,
		func(ctx context.Context, all []string) ([][]bioencoder.Entity, error) {
			return e.m.Entities(ctx, all, agg)
		})
}

// runner is a graph and workspace for the server's own forward passes
// (token ids in, hidden states out), reused across calls.
type runner struct {
	ws tensor.Workspace
	g  *nn.Graph
}

// forward runs the encoder over token sequences in consecutive batches of
// at most the model's MaxBatchTokens, calling each with the batch and its
// last hidden state [tokens, hidden].
func (e *entry) forward(ctx context.Context, seqs [][]int, each func(g *nn.Graph, b *nn.Batch, h *nn.Var)) error {
	r, _ := e.runners.Get().(*runner)
	if r == nil {
		r = &runner{}
		r.g = nn.NewGraph(&r.ws, false)
	}
	defer func() {
		r.g.Reset()
		e.runners.Put(r)
	}()
	types := e.m.Config().Arch != config.ModernBERT
	net := e.m.Net()
	for lo := 0; lo < len(seqs); {
		if err := ctx.Err(); err != nil {
			return err
		}
		hi, n := lo, 0
		for hi < len(seqs) && (hi == lo || n+len(seqs[hi]) <= e.m.MaxBatchTokens) {
			n += len(seqs[hi])
			hi++
		}
		b := &nn.Batch{Starts: make([]int, 1, hi-lo+1), IDs: make([]int, 0, n), Pos: make([]int, 0, n)}
		if types {
			b.TypeIDs = make([]int, n)
		}
		for _, ids := range seqs[lo:hi] {
			b.IDs = append(b.IDs, ids...)
			for p := range ids {
				b.Pos = append(b.Pos, p)
			}
			b.Starts = append(b.Starts, len(b.IDs))
		}
		h, err := net.Encode(r.g, b, nil)
		if err != nil {
			return err
		}
		each(r.g, b, h)
		r.g.Reset()
		lo = hi
	}
	return nil
}

// l2normalize divides v by its norm (clamped at 1e-12, as PyTorch's
// F.normalize).
func l2normalize(v []float32) {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	n := max(math.Sqrt(s), 1e-12)
	for i := range v {
		v[i] = float32(float64(v[i]) / n)
	}
}
