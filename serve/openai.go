package serve

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"net/http"
	"time"
)

type openAIRequest struct {
	Input          inputs  `json:"input"`
	Model          string  `json:"model"`
	EncodingFormat *string `json:"encoding_format"`
	Dimensions     *int    `json:"dimensions"`
	User           string  `json:"user"`
}

type openAIEmbedding struct {
	Object    string `json:"object"`
	Index     int    `json:"index"`
	Embedding any    `json:"embedding"` // []float32, or a base64 string
}

type openAIUsage struct {
	PromptTokens int `json:"prompt_tokens"`
	TotalTokens  int `json:"total_tokens"`
}

type openAIResponse struct {
	Object string            `json:"object"`
	Data   []openAIEmbedding `json:"data"`
	Model  string            `json:"model"`
	Usage  openAIUsage       `json:"usage"`
}

// handleOpenAIEmbeddings is OpenAI's POST /v1/embeddings. Vectors are
// L2-normalised (as OpenAI's are); "dimensions" keeps the first d
// components and normalises again; "base64" is the little-endian float32
// bytes. Token arrays are fed to the model as they are (no special tokens
// added), as TEI does.
func (s *Server) handleOpenAIEmbeddings(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	var req openAIRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	e, err := s.pick(r, req.Model)
	if err != nil {
		return err
	}
	if !e.embeds() {
		return errWrongKind(e.name, kindName(e.kind), "/v1/embeddings needs an embedding model")
	}
	if !req.Input.set {
		return missing("input")
	}
	if err := s.checkBatch(len(req.Input.items), "input"); err != nil {
		return err
	}
	b64 := false
	if f := req.EncodingFormat; f != nil {
		switch *f {
		case "float":
		case "base64":
			b64 = true
		default:
			return errInvalid("encoding_format", "encoding_format must be \"float\" or \"base64\", got %q", *f)
		}
	}
	if d := req.Dimensions; d != nil && (*d < 1 || *d > e.m.Dim()) {
		return errInvalid("dimensions", "dimensions must be between 1 and %d (the model's size), got %d", e.m.Dim(), *d)
	}
	vecs, tokens, jobs, err := s.embedInputs(r.Context(), e, req.Input.items, nil, truncation{on: s.cfg.AutoTruncate})
	if err != nil {
		return err
	}
	for _, v := range vecs {
		l2normalize(v)
	}
	if err := shorten(vecs, req.Dimensions, e.m.Dim(), true); err != nil {
		return err
	}
	resp := openAIResponse{Object: "list", Data: make([]openAIEmbedding, len(vecs)), Model: e.name,
		Usage: openAIUsage{PromptTokens: tokens, TotalTokens: tokens}}
	for i, v := range vecs {
		resp.Data[i] = openAIEmbedding{Object: "embedding", Index: i, Embedding: v}
		if b64 {
			resp.Data[i].Embedding = float32Base64(v)
		}
	}
	setTimingHeaders(w, start, tokens, jobs...)
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func float32Base64(v []float32) string {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return base64.StdEncoding.EncodeToString(b)
}

type openAIModel struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

func (s *Server) handleOpenAIModels(w http.ResponseWriter, r *http.Request) error {
	out := struct {
		Object string        `json:"object"`
		Data   []openAIModel `json:"data"`
	}{Object: "list"}
	for _, e := range s.models {
		out.Data = append(out.Data, openAIModel{ID: e.name, Object: "model", Created: e.created.Unix(), OwnedBy: "bioencoder"})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
