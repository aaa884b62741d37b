package serve

import (
	"bioencoder/index"
	"context"
	"net/http"
	"slices"
	"time"
	"unicode/utf8"

	"bioencoder"
	"bioencoder/tokenizer"
)

// Index is the semantic index behind /search and /index/*. Errors it
// wraps with InvalidInput are answered 422; others 424.
type Index interface {
	Add(ctx context.Context, docs []Doc) error
	Delete(ctx context.Context, ids []string) error
	Search(ctx context.Context, query string, k int) ([]Hit, error)
}

// Doc and Hit are the index package's: *index.Index serves as Index.
type (
	Doc = index.Doc
	Hit = index.Hit
)

type fillMaskRequest struct {
	Inputs              texts     `json:"inputs"`
	TopK                *int      `json:"top_k"`
	Truncate            *bool     `json:"truncate"`
	TruncationDirection direction `json:"truncation_direction"`
}

const maxTopK = 1000

// handleFillMask is the fill-mask pipeline: for each text, the top_k
// candidates of its first mask, then of its second, and so on.
func (s *Server) handleFillMask(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	var req fillMaskRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	e, err := s.pick(r, "")
	if err != nil {
		return err
	}
	if e.kind != bioencoder.MaskedLM {
		return errWrongKind(e.name, kindName(e.kind), "/fill_mask needs a masked-LM model")
	}
	if !req.Inputs.set {
		return missing("inputs")
	}
	if err := s.checkBatch(len(req.Inputs.list), "inputs"); err != nil {
		return err
	}
	topK := 5
	if req.TopK != nil {
		topK = *req.TopK
	}
	if topK < 1 || topK > maxTopK {
		return errInvalid("top_k", "top_k must be between 1 and %d, got %d", maxTopK, topK)
	}
	txts, counts, err := e.fitTexts(req.Inputs.list, "", e.maxLen, s.truncation(req.Truncate, req.TruncationDirection))
	if err != nil {
		return err
	}
	// A text whose mask is missing, or cut off, is the client's mistake:
	// find it here rather than fail the merged batch.
	maskID, ok := e.tok.MaskID()
	if !ok {
		return errWrongKind(e.name, kindName(e.kind), "its tokenizer has no mask token")
	}
	mask, _ := e.tok.IDToToken(maskID)
	batch := make([]tokenizer.Input, len(txts))
	for i, t := range txts {
		batch[i] = tokenizer.Input{Text: t}
	}
	encs, err := e.tok.EncodeBatch(batch, tokenizer.Options{AddSpecialTokens: true, MaxLength: e.maxLen, Truncation: tokenizer.LongestFirst})
	if err != nil {
		return errorf(http.StatusUnprocessableEntity, Tokenizer, "tokenizer_error", "inputs", "%v", err)
	}
	for i, enc := range encs {
		if !slices.Contains(enc.IDs, maskID) {
			return errInvalid("inputs", "input %d has no mask token %s (within the model's %d tokens)", i, mask, e.maxLen)
		}
	}
	tokens := sum(counts)
	out, j, err := e.fillMask(r.Context(), txts, topK, tokens)
	if err != nil {
		return err
	}
	setTimingHeaders(w, start, tokens, j)
	if req.Inputs.single {
		writeJSON(w, http.StatusOK, out[0])
	} else {
		writeJSON(w, http.StatusOK, out)
	}
	return nil
}

type nerRequest struct {
	Inputs              texts     `json:"inputs"`
	AggregationStrategy *string   `json:"aggregation_strategy"`
	Truncate            *bool     `json:"truncate"`
	TruncationDirection direction `json:"truncation_direction"`
}

// handleNER is the token-classification pipeline. aggregation_strategy is
// none, simple (the default, as the Inference API), first, average or max.
// Offsets are code points of the text as sent, also after a left cut.
func (s *Server) handleNER(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	var req nerRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	e, err := s.pick(r, "")
	if err != nil {
		return err
	}
	if e.kind != bioencoder.TokenClassifier {
		return errWrongKind(e.name, kindName(e.kind), "/ner needs a token-classification model")
	}
	if !req.Inputs.set {
		return missing("inputs")
	}
	if err := s.checkBatch(len(req.Inputs.list), "inputs"); err != nil {
		return err
	}
	agg := bioencoder.AggregateSimple
	if req.AggregationStrategy != nil {
		if agg, err = bioencoder.ParseAggregation(*req.AggregationStrategy); err != nil {
			return errInvalid("aggregation_strategy", "aggregation_strategy must be none, simple, first, average or max, got %q", *req.AggregationStrategy)
		}
	}
	orig := req.Inputs.list
	txts, counts, err := e.fitTexts(orig, "", e.maxLen, s.truncation(req.Truncate, req.TruncationDirection))
	if err != nil {
		return err
	}
	tokens := sum(counts)
	out, j, err := e.entities(r.Context(), txts, agg, tokens)
	if err != nil {
		return err
	}
	for i := range out {
		if shift := utf8.RuneCountInString(orig[i]) - utf8.RuneCountInString(txts[i]); shift > 0 {
			for k := range out[i] {
				out[i][k].Start += shift
				out[i][k].End += shift
			}
		}
	}
	setTimingHeaders(w, start, tokens, j)
	if req.Inputs.single {
		writeJSON(w, http.StatusOK, out[0])
	} else {
		writeJSON(w, http.StatusOK, out)
	}
	return nil
}

type colbertRequest struct {
	Inputs    texts     `json:"inputs"`
	IsQuery   bool      `json:"is_query"`
	Queries   *[]string `json:"queries"`
	Documents *[]string `json:"documents"`
}

// handleColBERT returns a ColBERT model's token vectors for inputs (query
// or document side), or, given queries and documents, the MaxSim score of
// every query against every document. Texts are always truncated to the
// model's query/document length, as PyLate does.
func (s *Server) handleColBERT(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	var req colbertRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	e, err := s.pick(r, "")
	if err != nil {
		return err
	}
	if e.kind != bioencoder.ColBERT {
		return errWrongKind(e.name, kindName(e.kind), "/colbert needs a ColBERT model")
	}
	ctx := r.Context()
	if req.Queries != nil || req.Documents != nil {
		if req.Inputs.set {
			return errInvalid("inputs", "send either inputs, or queries and documents")
		}
		if req.Queries == nil {
			return missing("queries")
		}
		if req.Documents == nil {
			return missing("documents")
		}
		if err := s.checkBatch(len(*req.Queries), "queries"); err != nil {
			return err
		}
		if err := s.checkBatch(len(*req.Documents), "documents"); err != nil {
			return err
		}
		qt, err := e.colbertTokens(*req.Queries, true)
		if err != nil {
			return err
		}
		dt, err := e.colbertTokens(*req.Documents, false)
		if err != nil {
			return err
		}
		qv, j1, err := e.colbert(ctx, *req.Queries, true, qt)
		if err != nil {
			return err
		}
		dv, j2, err := e.colbert(ctx, *req.Documents, false, dt)
		if err != nil {
			return err
		}
		scores := make([][]float32, len(qv))
		for i := range qv {
			scores[i] = make([]float32, len(dv))
			for k := range dv {
				scores[i][k] = bioencoder.MaxSim(qv[i], dv[k])
			}
		}
		setTimingHeaders(w, start, qt+dt, j1, j2)
		writeJSON(w, http.StatusOK, scores)
		return nil
	}
	if !req.Inputs.set {
		return missing("inputs")
	}
	if err := s.checkBatch(len(req.Inputs.list), "inputs"); err != nil {
		return err
	}
	tokens, err := e.colbertTokens(req.Inputs.list, req.IsQuery)
	if err != nil {
		return err
	}
	out, j, err := e.colbert(ctx, req.Inputs.list, req.IsQuery, tokens)
	if err != nil {
		return err
	}
	setTimingHeaders(w, start, tokens, j)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// colbertTokens is what ColBERT inputs cost: queries are padded to the
// query length; documents take their tokens plus the marker, up to the
// document length.
func (e *entry) colbertTokens(txts []string, query bool) (int, error) {
	if query {
		return len(txts) * e.queryLen, nil
	}
	_, counts, err := e.fitTexts(txts, "", e.docLen-1, truncation{on: true})
	if err != nil {
		return 0, err
	}
	return sum(counts) + len(txts), nil
}

func (s *Server) index() (Index, error) {
	if s.cfg.Index == nil {
		return nil, errorf(http.StatusNotFound, Validation, "no_index", "", "no index is configured on this server")
	}
	return s.cfg.Index, nil
}

type searchRequest struct {
	Query *string `json:"query"`
	K     *int    `json:"k"`
	TopK  *int    `json:"top_k"`
}

func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request) error {
	var req searchRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	idx, err := s.index()
	if err != nil {
		return err
	}
	if req.Query == nil {
		return missing("query")
	}
	k := 10
	if req.TopK != nil {
		k = *req.TopK
	}
	if req.K != nil {
		k = *req.K
	}
	if k < 1 || k > maxTopK {
		return errInvalid("k", "k must be between 1 and %d, got %d", maxTopK, k)
	}
	hits, err := idx.Search(r.Context(), *req.Query, k)
	if err != nil {
		return err
	}
	if hits == nil {
		hits = []Hit{}
	}
	writeJSON(w, http.StatusOK, hits)
	return nil
}

type indexAddRequest struct {
	Documents *[]Doc `json:"documents"`
}

type indexResponse struct {
	Status string `json:"status"`
	Count  int    `json:"count"`
}

func (s *Server) handleIndexAdd(w http.ResponseWriter, r *http.Request) error {
	var req indexAddRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	idx, err := s.index()
	if err != nil {
		return err
	}
	if req.Documents == nil {
		return missing("documents")
	}
	docs := *req.Documents
	if err := s.checkBatch(len(docs), "documents"); err != nil {
		return err
	}
	for i, d := range docs {
		if d.ID == "" {
			return errInvalid("documents", "document %d has no id", i)
		}
	}
	if err := idx.Add(r.Context(), docs); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, indexResponse{Status: "ok", Count: len(docs)})
	return nil
}

type indexDeleteRequest struct {
	IDs *[]string `json:"ids"`
}

func (s *Server) handleIndexDelete(w http.ResponseWriter, r *http.Request) error {
	var req indexDeleteRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	idx, err := s.index()
	if err != nil {
		return err
	}
	if req.IDs == nil {
		return missing("ids")
	}
	if err := s.checkBatch(len(*req.IDs), "ids"); err != nil {
		return err
	}
	if err := idx.Delete(r.Context(), *req.IDs); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, indexResponse{Status: "ok", Count: len(*req.IDs)})
	return nil
}
