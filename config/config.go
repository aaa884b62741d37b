// Package config reads and writes the JSON files that describe a Hugging
// Face encoder folder: config.json for BERT, BERT-Hash and ModernBERT, and
// the sentence-transformers / CrossEncoder / PyLate module files.
//
// Parsing keeps the raw JSON object so a checkpoint written back carries every
// field it was loaded with, overlaid with the fields bioencoder knows.
package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"bioencoder/kernels"
)

// Arch is the encoder family.
type Arch int

const (
	BERT       Arch = iota // BertModel and heads
	BERTHash               // NeuML BERT-Hash: a [vocab, projections] table projected to hidden size, then BERT
	ModernBERT             // ModernBertModel and heads
)

func (a Arch) String() string {
	switch a {
	case BERT:
		return "bert"
	case BERTHash:
		return "bert_hash"
	case ModernBERT:
		return "modernbert"
	}
	return fmt.Sprintf("Arch(%d)", int(a))
}

// Task is the head named by config.json's architectures list.
type Task int

const (
	Base                   Task = iota // bare encoder (BertModel, ModernBertModel)
	MaskedLM                           // ...ForMaskedLM
	SequenceClassification             // ...ForSequenceClassification
	TokenClassification                // ...ForTokenClassification
	PreTraining                        // BertForPreTraining (MLM + next-sentence head)
)

func (t Task) String() string {
	switch t {
	case Base:
		return "base"
	case MaskedLM:
		return "masked-lm"
	case SequenceClassification:
		return "sequence-classification"
	case TokenClassification:
		return "token-classification"
	case PreTraining:
		return "pretraining"
	}
	return fmt.Sprintf("Task(%d)", int(t))
}

// Model is a parsed config.json.
type Model struct {
	Arch          Arch
	Task          Task
	Architectures []string
	ModelType     string

	VocabSize        int
	HiddenSize       int
	NumLayers        int
	NumHeads         int
	IntermediateSize int
	MaxPositions     int
	HiddenAct        kernels.Act
	HiddenActName    string
	PadTokenID       int

	// BERT and BERT-Hash.
	TypeVocabSize         int
	LayerNormEps          float64
	PositionEmbeddingType string
	Projections           int // BERT-Hash hash width; 0 for plain BERT

	// ModernBERT.
	NormEps           float64
	NormBias          bool
	AttentionBias     bool
	MLPBias           bool
	DecoderBias       bool
	ClassifierBias    bool
	ClassifierAct     kernels.Act
	ClassifierPooling string // "cls" or "mean"
	GlobalEvery       int
	LocalAttention    int // total window; a local query sees keys with |i-j| <= LocalAttention/2
	GlobalRopeTheta   float64
	LocalRopeTheta    float64
	LayerTypes        []string // "full_attention" / "sliding_attention" per layer (v5 style), else derived
	TieWordEmbeddings bool
	CLSTokenID        int
	SEPTokenID        int

	// Labels and losses.
	ID2Label    []string
	ProblemType string

	// Training-only settings.
	HiddenDropout     float64
	AttentionDropout  float64
	ClassifierDropout float64 // resolved: classifier_dropout, else hidden_dropout_prob (BERT)
	EmbeddingDropout  float64
	MLPDropout        float64
	InitializerRange  float64
	InitCutoffFactor  float64

	// CrossEncoder activation stored by sentence-transformers ("" if none).
	CrossEncoderActivation string

	// Raw holds every field of the file, for writing back.
	Raw map[string]json.RawMessage
	// Path is where the config was read from ("" if built in memory).
	Path string
}

// HeadDim is hidden_size / num_attention_heads.
func (m *Model) HeadDim() int { return m.HiddenSize / m.NumHeads }

// NumLabels is len(id2label) (0 when the config names no labels).
func (m *Model) NumLabels() int { return len(m.ID2Label) }

// IsGlobalLayer reports whether ModernBERT layer i attends globally. The
// attention window follows the modulo rule, as transformers does even when
// layer_types is present (the two agree for every released model).
func (m *Model) IsGlobalLayer(i int) bool {
	if m.GlobalEvery <= 0 {
		return true
	}
	return i%m.GlobalEvery == 0
}

// RopeTheta is the rotary base of ModernBERT layer i: chosen by layer_types
// when the config has it, else by the modulo rule.
func (m *Model) RopeTheta(i int) float64 {
	global := m.IsGlobalLayer(i)
	if i < len(m.LayerTypes) {
		global = m.LayerTypes[i] != "sliding_attention"
	}
	if global {
		return m.GlobalRopeTheta
	}
	return m.LocalRopeTheta
}

// Load reads a config.json file, or the config.json inside a folder.
func Load(path string) (*Model, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "config.json")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	m, err := Parse(data, path)
	if err != nil {
		return nil, err
	}
	m.Path = path
	return m, nil
}

// field reads one JSON field into dst; absent or null fields leave dst alone.
type reader struct {
	raw  map[string]json.RawMessage
	name string
	err  error
}

func (r *reader) get(key string, dst any) bool {
	v, ok := r.raw[key]
	if !ok || r.err != nil || string(bytes.TrimSpace(v)) == "null" {
		return false
	}
	if err := json.Unmarshal(v, dst); err != nil {
		r.err = fmt.Errorf("config: %s: field %q: %v", r.name, key, err)
		return false
	}
	return true
}

// num reads an integer field that may be written as 3 or 3.0.
func (r *reader) int(key string, dst *int) bool {
	var f float64
	if !r.get(key, &f) {
		return false
	}
	if f != math.Trunc(f) || math.Abs(f) > 1<<40 {
		r.err = fmt.Errorf("config: %s: field %q: %v is not an integer", r.name, key, f)
		return false
	}
	*dst = int(f)
	return true
}

// Parse reads config.json bytes; name is used in error messages.
func Parse(data []byte, name string) (*Model, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("config: %s: not a JSON object: %v", name, err)
	}
	if raw == nil {
		return nil, fmt.Errorf("config: %s: not a JSON object", name)
	}
	r := &reader{raw: raw, name: name}
	m := &Model{Raw: raw, PadTokenID: 0, TypeVocabSize: 2, LayerNormEps: 1e-12, PositionEmbeddingType: "absolute",
		HiddenDropout: 0.1, AttentionDropout: 0.1, InitializerRange: 0.02, InitCutoffFactor: 2}
	r.get("architectures", &m.Architectures)
	r.get("model_type", &m.ModelType)
	if r.err != nil {
		return nil, r.err
	}
	arch, err := archOf(m, raw)
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", name, err)
	}
	m.Arch = arch
	m.Task = taskOf(m.Architectures)

	r.int("vocab_size", &m.VocabSize)
	r.int("hidden_size", &m.HiddenSize)
	r.int("num_hidden_layers", &m.NumLayers)
	r.int("num_attention_heads", &m.NumHeads)
	r.int("intermediate_size", &m.IntermediateSize)
	r.int("max_position_embeddings", &m.MaxPositions)
	r.int("pad_token_id", &m.PadTokenID)
	r.get("initializer_range", &m.InitializerRange)
	r.get("problem_type", &m.ProblemType)

	switch m.Arch {
	case BERT, BERTHash:
		m.HiddenActName = "gelu"
		r.get("hidden_act", &m.HiddenActName)
		r.int("type_vocab_size", &m.TypeVocabSize)
		r.get("layer_norm_eps", &m.LayerNormEps)
		r.get("position_embedding_type", &m.PositionEmbeddingType)
		r.int("projections", &m.Projections)
		m.TieWordEmbeddings = true
		r.get("tie_word_embeddings", &m.TieWordEmbeddings)
		r.get("hidden_dropout_prob", &m.HiddenDropout)
		r.get("attention_probs_dropout_prob", &m.AttentionDropout)
		m.ClassifierDropout = m.HiddenDropout
		r.get("classifier_dropout", &m.ClassifierDropout)
		if m.MaxPositions == 0 {
			m.MaxPositions = 512
		}
	case ModernBERT:
		// Class defaults of transformers' ModernBertConfig.
		m.HiddenActName, m.NormEps, m.DecoderBias, m.TieWordEmbeddings = "gelu", 1e-5, true, true
		m.ClassifierPooling, m.GlobalEvery, m.LocalAttention = "cls", 3, 128
		m.GlobalRopeTheta, m.PadTokenID, m.CLSTokenID, m.SEPTokenID = 160000, 50283, 50281, 50282
		m.HiddenDropout, m.AttentionDropout = 0, 0
		clsAct := "gelu"
		r.get("hidden_activation", &m.HiddenActName)
		r.get("norm_eps", &m.NormEps)
		r.get("norm_bias", &m.NormBias)
		r.get("attention_bias", &m.AttentionBias)
		r.get("mlp_bias", &m.MLPBias)
		r.get("decoder_bias", &m.DecoderBias)
		r.get("classifier_bias", &m.ClassifierBias)
		r.get("classifier_activation", &clsAct)
		r.get("classifier_pooling", &m.ClassifierPooling)
		r.int("global_attn_every_n_layers", &m.GlobalEvery)
		r.int("local_attention", &m.LocalAttention)
		r.get("global_rope_theta", &m.GlobalRopeTheta)
		m.LocalRopeTheta = -1
		r.get("local_rope_theta", &m.LocalRopeTheta)
		r.get("tie_word_embeddings", &m.TieWordEmbeddings)
		r.int("pad_token_id", &m.PadTokenID) // the class default above must not hide the file's value
		r.int("cls_token_id", &m.CLSTokenID)
		r.int("sep_token_id", &m.SEPTokenID)
		r.get("attention_dropout", &m.AttentionDropout)
		r.get("embedding_dropout", &m.EmbeddingDropout)
		r.get("mlp_dropout", &m.MLPDropout)
		r.get("classifier_dropout", &m.ClassifierDropout)
		r.get("initializer_cutoff_factor", &m.InitCutoffFactor)
		r.get("layer_types", &m.LayerTypes)
		var rope map[string]struct {
			Theta *float64 `json:"rope_theta"`
		}
		if r.get("rope_parameters", &rope) {
			if p, ok := rope["full_attention"]; ok && p.Theta != nil {
				m.GlobalRopeTheta = *p.Theta
			}
			if p, ok := rope["sliding_attention"]; ok && p.Theta != nil {
				m.LocalRopeTheta = *p.Theta
			}
		}
		if m.LocalRopeTheta < 0 {
			m.LocalRopeTheta = m.GlobalRopeTheta
		}
		if r.err == nil {
			a, err := kernels.ParseAct(clsAct)
			if err != nil {
				return nil, fmt.Errorf("config: %s: field \"classifier_activation\": %v", name, err)
			}
			m.ClassifierAct = a
		}
		if m.MaxPositions == 0 {
			m.MaxPositions = 8192
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	act, err := kernels.ParseAct(m.HiddenActName)
	if err != nil {
		return nil, fmt.Errorf("config: %s: hidden activation: %v", name, err)
	}
	m.HiddenAct = act

	if err := parseLabels(m, r); err != nil {
		return nil, err
	}
	var st struct {
		ActivationFn string `json:"activation_fn"`
	}
	if r.get("sentence_transformers", &st) {
		m.CrossEncoderActivation = st.ActivationFn
	}
	r.get("sbert_ce_default_activation_function", &m.CrossEncoderActivation)
	if r.err != nil {
		return nil, r.err
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("config: %s: %w", name, err)
	}
	return m, nil
}

// archOf decides the family from model_type, falling back to architectures.
func archOf(m *Model, raw map[string]json.RawMessage) (Arch, error) {
	mt := strings.ToLower(m.ModelType)
	_, hasProj := raw["projections"]
	switch {
	case mt == "modernbert":
		return ModernBERT, nil
	case strings.Contains(mt, "hash") || (mt == "bert" && hasProj):
		return BERTHash, nil
	case mt == "bert":
		return BERT, nil
	case mt == "":
		for _, a := range m.Architectures {
			switch {
			case strings.HasPrefix(a, "ModernBert"):
				return ModernBERT, nil
			case strings.HasPrefix(a, "BertHash"):
				return BERTHash, nil
			case strings.HasPrefix(a, "Bert"):
				return BERT, nil
			}
		}
		return 0, fmt.Errorf("no model_type and no known architectures %v (bioencoder runs bert, bert_hash, modernbert)", m.Architectures)
	}
	return 0, fmt.Errorf("unknown architecture: model_type %q (bioencoder runs bert, bert_hash, modernbert)", m.ModelType)
}

func taskOf(archs []string) Task {
	for _, a := range archs {
		switch {
		case strings.HasSuffix(a, "ForMaskedLM"):
			return MaskedLM
		case strings.HasSuffix(a, "ForSequenceClassification"):
			return SequenceClassification
		case strings.HasSuffix(a, "ForTokenClassification"):
			return TokenClassification
		case strings.HasSuffix(a, "ForPreTraining"):
			return PreTraining
		}
	}
	return Base
}

func parseLabels(m *Model, r *reader) error {
	var id2label map[string]string
	var numLabels int
	hasNum := r.int("num_labels", &numLabels)
	if r.get("id2label", &id2label) {
		n := len(id2label)
		m.ID2Label = make([]string, n)
		for k, v := range id2label {
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= n {
				return fmt.Errorf("config: %s: field \"id2label\": key %q is not an id in 0..%d", r.name, k, n-1)
			}
			m.ID2Label[i] = v
		}
	} else if hasNum {
		if numLabels < 0 || numLabels > 1<<20 {
			return fmt.Errorf("config: %s: field \"num_labels\": %d out of range", r.name, numLabels)
		}
		m.ID2Label = DefaultLabels(numLabels)
	}
	return r.err
}

// DefaultLabels are transformers' names for n unnamed labels.
func DefaultLabels(n int) []string {
	l := make([]string, n)
	for i := range l {
		l[i] = "LABEL_" + strconv.Itoa(i)
	}
	return l
}

// Validate checks that the numbers describe a model bioencoder can build.
func (m *Model) Validate() error {
	pos := []struct {
		field string
		v     int
	}{
		{"vocab_size", m.VocabSize}, {"hidden_size", m.HiddenSize}, {"num_hidden_layers", m.NumLayers},
		{"num_attention_heads", m.NumHeads}, {"intermediate_size", m.IntermediateSize},
		{"max_position_embeddings", m.MaxPositions},
	}
	for _, p := range pos {
		if p.v <= 0 {
			return fmt.Errorf("field %q must be positive, got %d", p.field, p.v)
		}
		if p.v > 1<<24 {
			return fmt.Errorf("field %q = %d is implausibly large", p.field, p.v)
		}
	}
	if m.HiddenSize%m.NumHeads != 0 {
		return fmt.Errorf("hidden_size %d is not a multiple of num_attention_heads %d", m.HiddenSize, m.NumHeads)
	}
	switch m.Arch {
	case BERT, BERTHash:
		if m.PositionEmbeddingType != "absolute" {
			return fmt.Errorf("position_embedding_type %q is not supported (only \"absolute\")", m.PositionEmbeddingType)
		}
		if m.TypeVocabSize < 0 || m.TypeVocabSize > 1<<16 {
			return fmt.Errorf("field \"type_vocab_size\" = %d out of range", m.TypeVocabSize)
		}
		if m.Arch == BERTHash && (m.Projections <= 0 || m.Projections > 1<<16) {
			return fmt.Errorf("bert_hash needs a positive \"projections\", got %d", m.Projections)
		}
	case ModernBERT:
		if m.HeadDim()%2 != 0 {
			return fmt.Errorf("head dim %d must be even for rotary embeddings", m.HeadDim())
		}
		if m.LocalAttention < 0 {
			return fmt.Errorf("field \"local_attention\" must not be negative")
		}
		if m.ClassifierPooling != "cls" && m.ClassifierPooling != "mean" {
			return fmt.Errorf("classifier_pooling %q is not \"cls\" or \"mean\"", m.ClassifierPooling)
		}
		if len(m.LayerTypes) != 0 && len(m.LayerTypes) != m.NumLayers {
			return fmt.Errorf("layer_types has %d entries for %d layers", len(m.LayerTypes), m.NumLayers)
		}
		if m.GlobalRopeTheta <= 0 || m.LocalRopeTheta <= 0 {
			return fmt.Errorf("rope theta must be positive")
		}
	}
	return nil
}

// Marshal writes the config as transformers does (sorted keys, indent 2),
// starting from the raw fields it was read with and overwriting the ones the
// struct holds, so a model trained here loads in transformers unchanged.
func (m *Model) Marshal() ([]byte, error) {
	out := map[string]any{}
	for k, v := range m.Raw {
		out[k] = v
	}
	set := func(k string, v any) { out[k] = v }
	set("architectures", m.Architectures)
	set("model_type", m.ModelType)
	set("vocab_size", m.VocabSize)
	set("hidden_size", m.HiddenSize)
	set("num_hidden_layers", m.NumLayers)
	set("num_attention_heads", m.NumHeads)
	set("intermediate_size", m.IntermediateSize)
	set("max_position_embeddings", m.MaxPositions)
	set("pad_token_id", m.PadTokenID)
	set("initializer_range", m.InitializerRange)
	switch m.Arch {
	case BERT, BERTHash:
		set("hidden_act", m.HiddenActName)
		set("type_vocab_size", m.TypeVocabSize)
		set("layer_norm_eps", m.LayerNormEps)
		set("position_embedding_type", m.PositionEmbeddingType)
		set("hidden_dropout_prob", m.HiddenDropout)
		set("attention_probs_dropout_prob", m.AttentionDropout)
		if m.Arch == BERTHash {
			set("projections", m.Projections)
		}
	case ModernBERT:
		set("hidden_activation", m.HiddenActName)
		set("norm_eps", m.NormEps)
		set("norm_bias", m.NormBias)
		set("attention_bias", m.AttentionBias)
		set("mlp_bias", m.MLPBias)
		set("decoder_bias", m.DecoderBias)
		set("classifier_bias", m.ClassifierBias)
		set("classifier_activation", m.ClassifierAct.String())
		set("classifier_pooling", m.ClassifierPooling)
		set("global_attn_every_n_layers", m.GlobalEvery)
		set("local_attention", m.LocalAttention)
		set("tie_word_embeddings", m.TieWordEmbeddings)
		set("cls_token_id", m.CLSTokenID)
		set("sep_token_id", m.SEPTokenID)
		if _, v5 := m.Raw["rope_parameters"]; v5 {
			set("rope_parameters", map[string]any{
				"full_attention":    map[string]any{"rope_type": "default", "rope_theta": m.GlobalRopeTheta},
				"sliding_attention": map[string]any{"rope_type": "default", "rope_theta": m.LocalRopeTheta},
			})
		} else {
			set("global_rope_theta", m.GlobalRopeTheta)
			set("local_rope_theta", m.LocalRopeTheta)
		}
	}
	if len(m.ID2Label) > 0 {
		id2 := map[string]string{}
		l2i := map[string]int{}
		for i, l := range m.ID2Label {
			id2[strconv.Itoa(i)] = l
			l2i[l] = i
		}
		set("id2label", id2)
		set("label2id", l2i)
	}
	if m.ProblemType != "" {
		set("problem_type", m.ProblemType)
	}
	if _, ok := out["torch_dtype"]; !ok {
		if _, ok := out["dtype"]; !ok {
			set("torch_dtype", "float32")
		}
	}
	return MarshalJSON(out)
}

// MarshalJSON formats a value as Hugging Face tools write JSON: sorted keys,
// two-space indent, non-ASCII kept, trailing newline.
func MarshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// SortedKeys returns the keys of a map in order (for stable output).
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
