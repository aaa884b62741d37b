package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"bioencoder/kernels"
)

// Module is one entry of a sentence-transformers modules.json.
type Module struct {
	Idx  int    `json:"idx"`
	Name string `json:"name"`
	Path string `json:"path"`
	Type string `json:"type"`
}

// Module types bioencoder understands.
const (
	ModTransformer = "sentence_transformers.models.Transformer"
	ModPooling     = "sentence_transformers.models.Pooling"
	ModDense       = "sentence_transformers.models.Dense"
	ModNormalize   = "sentence_transformers.models.Normalize"
	ModPyLateDense = "pylate.models.Dense.Dense"
)

// readJSON decodes path into v; a missing file returns fs.ErrNotExist unwrapped-able.
func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("config: %s: %v", path, err)
	}
	return nil
}

// LoadModules reads dir/modules.json, ordered by idx. A folder without one
// returns (nil, nil): it is a plain Hugging Face model.
func LoadModules(dir string) ([]Module, error) {
	var mods []Module
	err := readJSON(filepath.Join(dir, "modules.json"), &mods)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	sort.SliceStable(mods, func(i, j int) bool { return mods[i].Idx < mods[j].Idx })
	for _, m := range mods {
		if m.Path != "" && !filepath.IsLocal(m.Path) {
			return nil, fmt.Errorf("config: %s: module %q has path %q outside the folder", filepath.Join(dir, "modules.json"), m.Name, m.Path)
		}
	}
	return mods, nil
}

// Transformer is sentence_bert_config.json.
type Transformer struct {
	MaxSeqLength int  `json:"max_seq_length"` // 0 = absent
	DoLowerCase  bool `json:"do_lower_case"`
}

// LoadTransformer reads dir/sentence_bert_config.json (zero value if absent).
func LoadTransformer(dir string) (Transformer, error) {
	var t Transformer
	err := readJSON(filepath.Join(dir, "sentence_bert_config.json"), &t)
	if errors.Is(err, fs.ErrNotExist) {
		return Transformer{}, nil
	}
	if err == nil && t.MaxSeqLength < 0 {
		err = fmt.Errorf("config: %s: max_seq_length %d is negative", filepath.Join(dir, "sentence_bert_config.json"), t.MaxSeqLength)
	}
	return t, err
}

// Pooling is 1_Pooling/config.json. Enabled modes are concatenated in the
// order cls, max, mean, mean_sqrt_len, weightedmean, lasttoken.
type Pooling struct {
	Dim           int  `json:"word_embedding_dimension"`
	CLS           bool `json:"pooling_mode_cls_token"`
	Max           bool `json:"pooling_mode_max_tokens"`
	Mean          bool `json:"pooling_mode_mean_tokens"`
	MeanSqrtLen   bool `json:"pooling_mode_mean_sqrt_len_tokens"`
	WeightedMean  bool `json:"pooling_mode_weightedmean_tokens"`
	LastToken     bool `json:"pooling_mode_lasttoken"`
	IncludePrompt bool `json:"include_prompt"`
}

// Modes counts the enabled pooling modes.
func (p Pooling) Modes() int {
	n := 0
	for _, b := range []bool{p.CLS, p.Max, p.Mean, p.MeanSqrtLen, p.WeightedMean, p.LastToken} {
		if b {
			n++
		}
	}
	return n
}

// LoadPooling reads a Pooling module folder's config.json.
func LoadPooling(dir string) (Pooling, error) {
	p := Pooling{IncludePrompt: true}
	path := filepath.Join(dir, "config.json")
	if err := readJSON(path, &p); err != nil {
		return p, fmt.Errorf("config: pooling: %w", err)
	}
	if p.Modes() == 0 {
		return p, fmt.Errorf("config: %s: no pooling mode enabled", path)
	}
	return p, nil
}

// Dense is a sentence-transformers or PyLate Dense module's config.json.
type Dense struct {
	InFeatures     int         `json:"in_features"`
	OutFeatures    int         `json:"out_features"`
	Bias           bool        `json:"bias"`
	ActivationName string      `json:"activation_function"`
	UseResidual    bool        `json:"use_residual"`
	Activation     kernels.Act `json:"-"`
}

// LoadDense reads a Dense module folder's config.json. The class default
// activation of sentence-transformers' Dense is Tanh.
func LoadDense(dir string) (Dense, error) {
	d := Dense{Bias: true, ActivationName: "torch.nn.modules.activation.Tanh"}
	path := filepath.Join(dir, "config.json")
	if err := readJSON(path, &d); err != nil {
		return d, fmt.Errorf("config: dense: %w", err)
	}
	a, err := kernels.ParseAct(d.ActivationName)
	if err != nil {
		return d, fmt.Errorf("config: %s: activation_function: %v", path, err)
	}
	d.Activation = a
	if d.InFeatures <= 0 || d.OutFeatures <= 0 || d.InFeatures > 1<<20 || d.OutFeatures > 1<<20 {
		return d, fmt.Errorf("config: %s: bad in_features/out_features %d/%d", path, d.InFeatures, d.OutFeatures)
	}
	return d, nil
}

// SentenceTransformers is config_sentence_transformers.json, including the
// fields PyLate adds for ColBERT models.
type SentenceTransformers struct {
	ModelType         string            `json:"model_type"`
	Prompts           map[string]string `json:"prompts"`
	DefaultPromptName string            `json:"default_prompt_name"`
	SimilarityFnName  string            `json:"similarity_fn_name"`

	QueryPrefix             string   `json:"query_prefix"`
	DocumentPrefix          string   `json:"document_prefix"`
	QueryLength             int      `json:"query_length"`
	DocumentLength          int      `json:"document_length"`
	AttendToExpansionTokens bool     `json:"attend_to_expansion_tokens"`
	DoQueryExpansion        bool     `json:"do_query_expansion"`
	SkiplistWords           []string `json:"skiplist_words"`
}

// LoadSentenceTransformers reads dir/config_sentence_transformers.json; a
// missing file gives the defaults (cosine similarity, no prompts).
func LoadSentenceTransformers(dir string) (SentenceTransformers, error) {
	s := SentenceTransformers{DoQueryExpansion: true}
	err := readJSON(filepath.Join(dir, "config_sentence_transformers.json"), &s)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return s, err
	}
	if s.SimilarityFnName == "" {
		s.SimilarityFnName = "cosine"
	}
	return s, nil
}
