package serve

import (
	"context"
	"math"
	"net/http"
	"sort"
	"strconv"
	"time"

	"bioencoder"
	"bioencoder/config"
	"bioencoder/parallel"
	"bioencoder/tokenizer"
)

// embedInputs embeds a batch of texts and/or token-id sequences, in order,
// and returns the vectors and the tokens they took.
func (s *Server) embedInputs(ctx context.Context, e *entry, items []input, promptName *string, tr truncation) ([][]float32, int, []*job, error) {
	name, prompt, err := e.prompt(promptName)
	if err != nil {
		return nil, 0, nil, err
	}
	var txts []string
	var ids [][]int
	var txtAt, idAt []int
	for i, it := range items {
		if it.isIDs {
			ids, idAt = append(ids, it.ids), append(idAt, i)
		} else {
			txts, txtAt = append(txts, it.text), append(txtAt, i)
		}
	}
	if len(ids) > 0 && promptName != nil && *promptName != "" {
		return nil, 0, nil, errInvalid("prompt_name", "prompt_name cannot be used with token-id inputs")
	}
	// Validate everything before running anything.
	var counts []int
	if len(txts) > 0 {
		if txts, counts, err = e.fitTexts(txts, prompt, e.maxLen, tr); err != nil {
			return nil, 0, nil, err
		}
	}
	if len(ids) > 0 {
		if ids, err = e.fitIDs(ids, tr); err != nil {
			return nil, 0, nil, err
		}
	}
	out := make([][]float32, len(items))
	tokens := 0
	var jobs []*job
	if len(txts) > 0 {
		n := sum(counts)
		vecs, j, err := e.embedTexts(ctx, name, txts, n)
		if err != nil {
			return nil, 0, nil, err
		}
		for k, v := range vecs {
			out[txtAt[k]] = v
		}
		tokens += n
		jobs = append(jobs, j)
	}
	if len(ids) > 0 {
		n := 0
		for _, x := range ids {
			n += len(x)
		}
		vecs, j, err := e.embedIDs(ctx, ids, n)
		if err != nil {
			return nil, 0, nil, err
		}
		for k, v := range vecs {
			out[idAt[k]] = v
		}
		tokens += n
		jobs = append(jobs, j)
	}
	return out, tokens, jobs, nil
}

// shorten applies "dimensions": keep the first d components, then
// L2-normalise again (when the vectors were normalised), as OpenAI does for
// models trained for it (Matryoshka). It is the client's business whether
// the model was.
func shorten(vecs [][]float32, dims *int, dim int, normalized bool) error {
	if dims == nil {
		return nil
	}
	if *dims < 1 || *dims > dim {
		return errInvalid("dimensions", "dimensions must be between 1 and %d (the model's size), got %d", dim, *dims)
	}
	for i, v := range vecs {
		vecs[i] = v[:*dims]
		if normalized {
			l2normalize(vecs[i])
		}
	}
	return nil
}

type embedRequest struct {
	Inputs              inputs    `json:"inputs"`
	Normalize           *bool     `json:"normalize"`
	Truncate            *bool     `json:"truncate"`
	TruncationDirection direction `json:"truncation_direction"`
	PromptName          *string   `json:"prompt_name"`
	Dimensions          *int      `json:"dimensions"`
}

func missing(field string) error {
	return errInvalid(field, "missing field `%s`", field)
}

func (s *Server) handleEmbed(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	var req embedRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	e, err := s.pick(r, "")
	if err != nil {
		return err
	}
	if !e.embeds() {
		return errWrongKind(e.name, kindName(e.kind), "/embed needs an embedding model")
	}
	if !req.Inputs.set {
		return missing("inputs")
	}
	if err := s.checkBatch(len(req.Inputs.items), "inputs"); err != nil {
		return err
	}
	vecs, tokens, jobs, err := s.embedInputs(r.Context(), e, req.Inputs.items, req.PromptName, s.truncation(req.Truncate, req.TruncationDirection))
	if err != nil {
		return err
	}
	normalize := req.Normalize == nil || *req.Normalize
	if normalize {
		for _, v := range vecs {
			l2normalize(v)
		}
	}
	if err := shorten(vecs, req.Dimensions, e.m.Dim(), normalize); err != nil {
		return err
	}
	setTimingHeaders(w, start, tokens, jobs...)
	writeJSON(w, http.StatusOK, vecs)
	return nil
}

type embedAllRequest struct {
	Inputs              inputs    `json:"inputs"`
	Truncate            *bool     `json:"truncate"`
	TruncationDirection direction `json:"truncation_direction"`
	PromptName          *string   `json:"prompt_name"`
}

// handleEmbedAll returns the encoder's last hidden state for every token
// (special tokens included), as TEI's /embed_all.
func (s *Server) handleEmbedAll(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	var req embedAllRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	e, err := s.pick(r, "")
	if err != nil {
		return err
	}
	if !req.Inputs.set {
		return missing("inputs")
	}
	items := req.Inputs.items
	if err := s.checkBatch(len(items), "inputs"); err != nil {
		return err
	}
	_, prompt, err := e.prompt(req.PromptName)
	if err != nil {
		return err
	}
	tr := s.truncation(req.Truncate, req.TruncationDirection)
	seqs := make([][]int, len(items))
	var txts []string
	var txtAt []int
	for i, it := range items {
		if it.isIDs {
			fit, err := e.fitIDs([][]int{it.ids}, tr)
			if err != nil {
				return err
			}
			seqs[i] = fit[0]
		} else {
			txts, txtAt = append(txts, it.text), append(txtAt, i)
		}
	}
	if len(txts) > 0 {
		cut, _, err := e.fitTexts(txts, prompt, e.maxLen, tr)
		if err != nil {
			return err
		}
		for i := range cut {
			cut[i] = prompt + cut[i]
		}
		ids, err := e.m.TokenizeTexts(cut)
		if err != nil {
			return errorf(http.StatusUnprocessableEntity, Tokenizer, "tokenizer_error", "inputs", "%v", err)
		}
		for k, x := range ids {
			seqs[txtAt[k]] = x
		}
	}
	tokens := 0
	for _, x := range seqs {
		tokens += len(x)
	}
	out, j, err := e.tokenVectors(r.Context(), seqs, tokens)
	if err != nil {
		return err
	}
	setTimingHeaders(w, start, tokens, j)
	writeJSON(w, http.StatusOK, out)
	return nil
}

type rerankRequest struct {
	Query               *string   `json:"query"`
	Texts               *[]string `json:"texts"`
	Truncate            *bool     `json:"truncate"`
	TruncationDirection direction `json:"truncation_direction"`
	RawScores           bool      `json:"raw_scores"`
	ReturnText          bool      `json:"return_text"`
}

type rank struct {
	Index int     `json:"index"`
	Text  *string `json:"text,omitempty"`
	Score float32 `json:"score"`
}

func (s *Server) handleRerank(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	var req rerankRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	e, err := s.pick(r, "")
	if err != nil {
		return err
	}
	if req.Query == nil {
		return missing("query")
	}
	if req.Texts == nil {
		return missing("texts")
	}
	texts := *req.Texts
	if err := s.checkBatch(len(texts), "texts"); err != nil {
		return err
	}
	if !(e.kind == bioencoder.CrossEncoder || e.kind == bioencoder.Classifier) || e.numLabels() != 1 {
		return errWrongKind(e.name, kindName(e.kind), "model is not a re-ranker model (/rerank needs a one-label cross-encoder)")
	}
	pairs := make([]bioencoder.Pair, len(texts))
	for i, t := range texts {
		pairs[i] = bioencoder.Pair{A: *req.Query, B: t}
	}
	counts, err := e.fitPairs(pairs, s.truncation(req.Truncate, req.TruncationDirection))
	if err != nil {
		return err
	}
	tokens := sum(counts)
	var scores [][]float32
	var j *job
	if req.RawScores {
		scores, j, err = e.logits(r.Context(), pairs, tokens)
	} else {
		scores, j, err = e.predict(r.Context(), pairs, tokens)
	}
	if err != nil {
		return err
	}
	ranks := make([]rank, len(texts))
	for i, sc := range scores {
		if math.IsNaN(float64(sc[0])) {
			return errorf(http.StatusFailedDependency, Backend, "nan", "", "score is NaN")
		}
		ranks[i] = rank{Index: i, Score: sc[0]}
		if req.ReturnText {
			ranks[i].Text = &texts[i]
		}
	}
	sort.SliceStable(ranks, func(a, b int) bool { return ranks[a].Score > ranks[b].Score })
	setTimingHeaders(w, start, tokens, j)
	writeJSON(w, http.StatusOK, ranks)
	return nil
}

type predictRequest struct {
	Inputs              pairInputs `json:"inputs"`
	Truncate            *bool      `json:"truncate"`
	TruncationDirection direction  `json:"truncation_direction"`
	RawScores           bool       `json:"raw_scores"`
}

type prediction struct {
	Score float32 `json:"score"`
	Label string  `json:"label"`
}

// handlePredict classifies texts or pairs. A cross-encoder's scores go
// through its activation (Predict); a classifier's through a softmax, or a
// sigmoid per label for one label or multi-label problems (as Classify);
// raw_scores returns the logits.
func (s *Server) handlePredict(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	var req predictRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	e, err := s.pick(r, "")
	if err != nil {
		return err
	}
	if !req.Inputs.set {
		return missing("inputs")
	}
	if err := s.checkBatch(len(req.Inputs.items), "inputs"); err != nil {
		return err
	}
	if e.kind != bioencoder.CrossEncoder && e.kind != bioencoder.Classifier {
		return errWrongKind(e.name, kindName(e.kind), "/predict needs a sequence classifier or cross-encoder")
	}
	pairs := make([]bioencoder.Pair, len(req.Inputs.items))
	for i, p := range req.Inputs.items {
		pairs[i] = bioencoder.Pair{A: p[0], B: p[1]}
		if req.Inputs.hasB[i] && p[1] == "" {
			// The library reads an empty second text as "no pair".
			return errInvalid("inputs", "input %d: the second text of a pair is empty", i)
		}
	}
	counts, err := e.fitPairs(pairs, s.truncation(req.Truncate, req.TruncationDirection))
	if err != nil {
		return err
	}
	tokens := sum(counts)
	var scores [][]float32
	var j *job
	if req.RawScores || e.kind == bioencoder.Classifier {
		scores, j, err = e.logits(r.Context(), pairs, tokens)
	} else {
		scores, j, err = e.predict(r.Context(), pairs, tokens)
	}
	if err != nil {
		return err
	}
	out := make([][]prediction, len(scores))
	for i, sc := range scores {
		if e.kind == bioencoder.Classifier && !req.RawScores {
			classProbs(sc, e.m.Config())
		}
		ps := make([]prediction, len(sc))
		for k, v := range sc {
			if math.IsNaN(float64(v)) {
				return errorf(http.StatusFailedDependency, Backend, "nan", "", "score is NaN")
			}
			ps[k] = prediction{Score: v, Label: e.label(k)}
		}
		sort.SliceStable(ps, func(a, b int) bool { return ps[a].Score > ps[b].Score })
		out[i] = ps
	}
	setTimingHeaders(w, start, tokens, j)
	if req.Inputs.single {
		writeJSON(w, http.StatusOK, out[0])
	} else {
		writeJSON(w, http.StatusOK, out)
	}
	return nil
}

// classProbs turns a classifier's logits into probabilities as the
// text-classification pipeline (and bioencoder.Classify) does.
func classProbs(l []float32, cfg *config.Model) {
	if len(l) == 1 || cfg.ProblemType == "multi_label_classification" {
		for i, v := range l {
			l[i] = float32(1 / (1 + math.Exp(-float64(v))))
		}
		return
	}
	mx := l[0]
	for _, v := range l {
		mx = max(mx, v)
	}
	var sum float64
	for _, v := range l {
		sum += math.Exp(float64(v - mx))
	}
	for i, v := range l {
		l[i] = float32(math.Exp(float64(v-mx)) / sum)
	}
}

type similarityRequest struct {
	Inputs *struct {
		SourceSentence *string   `json:"source_sentence"`
		Sentences      *[]string `json:"sentences"`
	} `json:"inputs"`
	Parameters *struct {
		Truncate            *bool     `json:"truncate"`
		TruncationDirection direction `json:"truncation_direction"`
		PromptName          *string   `json:"prompt_name"`
	} `json:"parameters"`
}

// handleSimilarity scores each sentence against the source sentence with
// the model's similarity function (cosine for most models, as TEI).
func (s *Server) handleSimilarity(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	var req similarityRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	e, err := s.pick(r, "")
	if err != nil {
		return err
	}
	if !e.embeds() {
		return errWrongKind(e.name, kindName(e.kind), "/similarity needs an embedding model")
	}
	if req.Inputs == nil {
		return missing("inputs")
	}
	if req.Inputs.SourceSentence == nil {
		return missing("inputs.source_sentence")
	}
	if req.Inputs.Sentences == nil {
		return missing("inputs.sentences")
	}
	sents := *req.Inputs.Sentences
	if len(sents) == 0 {
		return errEmpty("inputs.sentences")
	}
	if err := s.checkBatch(len(sents)+1, "inputs.sentences"); err != nil {
		return err
	}
	items := make([]input, 0, len(sents)+1)
	items = append(items, input{text: *req.Inputs.SourceSentence})
	for _, t := range sents {
		items = append(items, input{text: t})
	}
	var truncate *bool
	var dir direction
	var promptName *string
	if p := req.Parameters; p != nil {
		truncate, dir, promptName = p.Truncate, p.TruncationDirection, p.PromptName
	}
	vecs, tokens, jobs, err := s.embedInputs(r.Context(), e, items, promptName, s.truncation(truncate, dir))
	if err != nil {
		return err
	}
	out := make([]float32, len(sents))
	for i := range sents {
		if out[i], err = e.m.Similarity(vecs[0], vecs[i+1]); err != nil {
			return err
		}
	}
	setTimingHeaders(w, start, tokens, jobs...)
	writeJSON(w, http.StatusOK, out)
	return nil
}

type tokenizeRequest struct {
	Inputs           texts   `json:"inputs"`
	AddSpecialTokens *bool   `json:"add_special_tokens"`
	PromptName       *string `json:"prompt_name"`
}

type simpleToken struct {
	ID      int    `json:"id"`
	Text    string `json:"text"`
	Special bool   `json:"special"`
	Start   *int   `json:"start"`
	Stop    *int   `json:"stop"`
}

// handleTokenize returns TEI's tokens: start and stop are byte offsets in
// the (prompt-prefixed) input, null for special tokens.
func (s *Server) handleTokenize(w http.ResponseWriter, r *http.Request) error {
	var req tokenizeRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	e, err := s.pick(r, "")
	if err != nil {
		return err
	}
	if !req.Inputs.set {
		return missing("inputs")
	}
	if err := s.checkBatch(len(req.Inputs.list), "inputs"); err != nil {
		return err
	}
	_, prompt, err := e.prompt(req.PromptName)
	if err != nil {
		return err
	}
	add := req.AddSpecialTokens == nil || *req.AddSpecialTokens
	batch := make([]tokenizer.Input, len(req.Inputs.list))
	for i, t := range req.Inputs.list {
		batch[i] = tokenizer.Input{Text: prompt + t}
	}
	encs, err := e.tok.EncodeBatch(batch, tokenizer.Options{AddSpecialTokens: add})
	if err != nil {
		return errorf(http.StatusUnprocessableEntity, Tokenizer, "tokenizer_error", "inputs", "%v", err)
	}
	out := make([][]simpleToken, len(encs))
	for i, enc := range encs {
		text := batch[i].Text
		toks := make([]simpleToken, len(enc.IDs))
		for t, id := range enc.IDs {
			if enc.SpecialTokensMask[t] == 1 {
				toks[t] = simpleToken{ID: id, Text: enc.Tokens[t], Special: true}
				continue
			}
			lo, hi := enc.ByteOffsets[t][0], enc.ByteOffsets[t][1]
			lo, hi = min(max(lo, 0), len(text)), min(max(hi, 0), len(text))
			lo = min(lo, hi)
			toks[t] = simpleToken{ID: id, Text: text[lo:hi], Start: &lo, Stop: &hi}
		}
		out[i] = toks
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type decodeRequest struct {
	IDs               idLists `json:"ids"`
	SkipSpecialTokens *bool   `json:"skip_special_tokens"`
}

func (s *Server) handleDecode(w http.ResponseWriter, r *http.Request) error {
	var req decodeRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	e, err := s.pick(r, "")
	if err != nil {
		return err
	}
	if !req.IDs.set {
		return missing("ids")
	}
	if err := s.checkBatch(len(req.IDs.lists), "ids"); err != nil {
		return err
	}
	skip := req.SkipSpecialTokens == nil || *req.SkipSpecialTokens
	out := make([]string, len(req.IDs.lists))
	for i, ids := range req.IDs.lists {
		out[i] = e.tok.Decode(ids, skip)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type infoResponse struct {
	ModelID               string         `json:"model_id"`
	ModelSHA              *string        `json:"model_sha"`
	ModelDtype            string         `json:"model_dtype"`
	ModelType             map[string]any `json:"model_type"`
	MaxConcurrentRequests int            `json:"max_concurrent_requests"`
	MaxInputLength        int            `json:"max_input_length"`
	MaxBatchTokens        int            `json:"max_batch_tokens"`
	MaxBatchRequests      *int           `json:"max_batch_requests"`
	MaxClientBatchSize    int            `json:"max_client_batch_size"`
	AutoTruncate          bool           `json:"auto_truncate"`
	TokenizationWorkers   int            `json:"tokenization_workers"`
	Version               string         `json:"version"`
	SHA                   *string        `json:"sha"`
	DockerLabel           *string        `json:"docker_label"`

	// Not in TEI.
	Kind       string   `json:"kind"`
	Dim        int      `json:"dim,omitempty"` // embedding models only
	Similarity string   `json:"similarity,omitempty"`
	Prompts    []string `json:"prompts,omitempty"`
	Models     []string `json:"models"`
}

func labelMaps(e *entry) map[string]any {
	id2label := map[string]string{}
	label2id := map[string]int{}
	for i := 0; i < e.numLabels(); i++ {
		id2label[strconv.Itoa(i)] = e.label(i)
		label2id[e.label(i)] = i
	}
	return map[string]any{"id2label": id2label, "label2id": label2id}
}

// modelType is TEI's model_type ({"embedding": {"pooling"}},
// {"classifier": {...}}, {"reranker": {...}}), extended with our kinds.
func modelType(e *entry) map[string]any {
	switch e.kind {
	case bioencoder.Encoder, bioencoder.SentenceTransformer:
		return map[string]any{"embedding": map[string]any{"pooling": e.pooling}}
	case bioencoder.CrossEncoder:
		return map[string]any{"reranker": labelMaps(e)}
	case bioencoder.Classifier:
		if e.numLabels() == 1 {
			return map[string]any{"reranker": labelMaps(e)}
		}
		return map[string]any{"classifier": labelMaps(e)}
	case bioencoder.ColBERT:
		return map[string]any{"colbert": map[string]any{"query_length": e.queryLen, "document_length": e.docLen}}
	case bioencoder.MaskedLM:
		mask := ""
		if id, ok := e.tok.MaskID(); ok {
			mask, _ = e.tok.IDToToken(id)
		}
		return map[string]any{"fill_mask": map[string]any{"mask_token": mask}}
	case bioencoder.TokenClassifier:
		return map[string]any{"token_classifier": labelMaps(e)}
	}
	return map[string]any{kindName(e.kind): map[string]any{}}
}

func (s *Server) handleInfo(w http.ResponseWriter, r *http.Request) error {
	e, err := s.pick(r, "")
	if err != nil {
		return err
	}
	info := infoResponse{
		ModelID:               e.name,
		ModelDtype:            "float32",
		ModelType:             modelType(e),
		MaxConcurrentRequests: s.cfg.MaxQueue,
		MaxInputLength:        e.maxLen,
		MaxBatchTokens:        s.cfg.MaxBatchTokens,
		MaxClientBatchSize:    s.cfg.MaxClientBatchSize,
		AutoTruncate:          s.cfg.AutoTruncate,
		TokenizationWorkers:   parallel.Workers(),
		Version:               Version,
		Kind:                  kindName(e.kind),
		Similarity:            e.m.SimilarityName(),
	}
	if s.cfg.MaxBatchRequests > 0 {
		n := s.cfg.MaxBatchRequests
		info.MaxBatchRequests = &n
	}
	if e.embeds() {
		info.Dim = e.m.Dim()
	}
	for p := range e.st.Prompts {
		info.Prompts = append(info.Prompts, p)
	}
	sort.Strings(info.Prompts)
	for _, m := range s.models {
		info.Models = append(info.Models, m.name)
	}
	writeJSON(w, http.StatusOK, info)
	return nil
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) error {
	if s.closing.Load() {
		return errorf(http.StatusServiceUnavailable, Unhealthy, "unhealthy", "", "unhealthy")
	}
	w.WriteHeader(http.StatusOK)
	return nil
}
