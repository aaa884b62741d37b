package vocab

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"bioencoder/internal/atomicfile"
	"bioencoder/tokenizer"
)

// The files a BERT tokenizer folder holds, as transformers'
// BertTokenizerFast.save_pretrained writes them.
const (
	FileTokenizer     = "tokenizer.json"
	FileVocab         = "vocab.txt"
	FileConfig        = "tokenizer_config.json"
	FileSpecialTokens = "special_tokens_map.json"
)

// maxInputCharsPerWord is WordPiece's limit (longer words become [UNK]).
const maxInputCharsPerWord = 100

// Save writes tokenizer.json, vocab.txt, tokenizer_config.json and
// special_tokens_map.json into dir (created if needed). Each file is
// replaced atomically.
func (v *Vocab) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("vocab: %w", err)
	}
	tj, err := v.TokenizerJSON()
	if err != nil {
		return err
	}
	cfg, err := v.configJSON()
	if err != nil {
		return err
	}
	stm, err := v.specialTokensMapJSON()
	if err != nil {
		return err
	}
	files := []struct {
		name string
		data []byte
	}{
		{FileVocab, v.vocabTxt()},
		{FileTokenizer, tj},
		{FileConfig, cfg},
		{FileSpecialTokens, stm},
	}
	for _, f := range files {
		if err := atomicfile.WriteFile(filepath.Join(dir, f.name), f.data); err != nil {
			return fmt.Errorf("vocab: %w", err)
		}
	}
	return nil
}

func (v *Vocab) vocabTxt() []byte {
	var b bytes.Buffer
	for _, t := range v.Tokens {
		b.WriteString(t)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// Tokenizer builds a bioencoder tokenizer from the vocabulary (the
// tokenizer.json pipeline).
func (v *Vocab) Tokenizer() (*tokenizer.Tokenizer, error) {
	data, err := v.TokenizerJSON()
	if err != nil {
		return nil, err
	}
	return tokenizer.FromJSON(data)
}

// id returns the id of a token.
func (v *Vocab) id(tok string) (int, bool) {
	if tok == "" {
		return 0, false
	}
	for i, t := range v.Tokens {
		if t == tok {
			return i, true
		}
	}
	return 0, false
}

// ---- tokenizer.json ----

type addedTokenJSON struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

type normalizerJSON struct {
	Type               string `json:"type"`
	CleanText          bool   `json:"clean_text"`
	HandleChineseChars bool   `json:"handle_chinese_chars"`
	StripAccents       *bool  `json:"strip_accents"`
	Lowercase          bool   `json:"lowercase"`
}

type typeOnly struct {
	Type string `json:"type"`
}

type templatePiece struct {
	SpecialToken *templateRef `json:"SpecialToken,omitempty"`
	Sequence     *templateRef `json:"Sequence,omitempty"`
}

type templateRef struct {
	ID     string `json:"id"`
	TypeID int    `json:"type_id"`
}

type templateSpecial struct {
	ID     string   `json:"id"`
	IDs    []int    `json:"ids"`
	Tokens []string `json:"tokens"`
}

type postProcessorJSON struct {
	Type          string                     `json:"type"`
	Single        []templatePiece            `json:"single"`
	Pair          []templatePiece            `json:"pair"`
	SpecialTokens map[string]templateSpecial `json:"special_tokens"`
}

type decoderJSON struct {
	Type    string `json:"type"`
	Prefix  string `json:"prefix"`
	Cleanup bool   `json:"cleanup"`
}

type modelJSON struct {
	Type                    string       `json:"type"`
	UnkToken                string       `json:"unk_token"`
	ContinuingSubwordPrefix string       `json:"continuing_subword_prefix"`
	MaxInputCharsPerWord    int          `json:"max_input_chars_per_word"`
	Vocab                   orderedVocab `json:"vocab"`
}

type fileJSON struct {
	Version       string             `json:"version"`
	Truncation    *struct{}          `json:"truncation"`
	Padding       *struct{}          `json:"padding"`
	AddedTokens   []addedTokenJSON   `json:"added_tokens"`
	Normalizer    normalizerJSON     `json:"normalizer"`
	PreTokenizer  typeOnly           `json:"pre_tokenizer"`
	PostProcessor *postProcessorJSON `json:"post_processor"`
	Decoder       decoderJSON        `json:"decoder"`
	Model         modelJSON          `json:"model"`
}

// orderedVocab writes {"token": id, ...} in id order, as tokenizers does.
type orderedVocab []string

func (v orderedVocab) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, t := range v {
		if i > 0 {
			b.WriteByte(',')
		}
		if err := writeJSONString(&b, t); err != nil {
			return nil, err
		}
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(i))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func writeJSONString(b *bytes.Buffer, s string) error {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return err
	}
	b.Truncate(b.Len() - 1) // Encode's newline
	return nil
}

// marshal is json.MarshalIndent without HTML escaping.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// TokenizerJSON renders tokenizer.json: BertNormalizer, BertPreTokenizer,
// TemplateProcessing ([CLS] A [SEP] / [CLS] A [SEP] B [SEP], when both are
// special tokens), the WordPiece decoder and model, and the special tokens
// as added tokens (special, not normalized).
func (v *Vocab) TokenizerJSON() ([]byte, error) {
	o := &v.Options
	f := fileJSON{
		Version: "1.0",
		Normalizer: normalizerJSON{
			Type: "BertNormalizer", CleanText: o.CleanText, HandleChineseChars: o.HandleChineseChars,
			StripAccents: o.StripAccents, Lowercase: o.Lowercase,
		},
		PreTokenizer: typeOnly{"BertPreTokenizer"},
		Decoder:      decoderJSON{Type: "WordPiece", Prefix: o.Prefix, Cleanup: true},
		Model: modelJSON{
			Type: "WordPiece", UnkToken: o.UnkToken, ContinuingSubwordPrefix: o.Prefix,
			MaxInputCharsPerWord: maxInputCharsPerWord, Vocab: orderedVocab(v.Tokens),
		},
		AddedTokens: []addedTokenJSON{},
	}
	for _, s := range o.SpecialTokens {
		id, ok := v.id(s)
		if !ok {
			return nil, fmt.Errorf("vocab: special token %q missing from the vocabulary", s)
		}
		f.AddedTokens = append(f.AddedTokens, addedTokenJSON{ID: id, Content: s, Special: true})
	}
	if pp, err := v.postProcessor(); err != nil {
		return nil, err
	} else {
		f.PostProcessor = pp
	}
	return marshal(f)
}

func (v *Vocab) postProcessor() (*postProcessorJSON, error) {
	o := &v.Options
	if !o.hasSpecial(o.ClsToken) || !o.hasSpecial(o.SepToken) {
		return nil, nil
	}
	cls, _ := v.id(o.ClsToken)
	sep, _ := v.id(o.SepToken)
	sp := func(tok string, typeID int) templatePiece {
		return templatePiece{SpecialToken: &templateRef{ID: tok, TypeID: typeID}}
	}
	seq := func(id string, typeID int) templatePiece {
		return templatePiece{Sequence: &templateRef{ID: id, TypeID: typeID}}
	}
	return &postProcessorJSON{
		Type:   "TemplateProcessing",
		Single: []templatePiece{sp(o.ClsToken, 0), seq("A", 0), sp(o.SepToken, 0)},
		Pair:   []templatePiece{sp(o.ClsToken, 0), seq("A", 0), sp(o.SepToken, 0), seq("B", 1), sp(o.SepToken, 1)},
		SpecialTokens: map[string]templateSpecial{
			o.ClsToken: {ID: o.ClsToken, IDs: []int{cls}, Tokens: []string{o.ClsToken}},
			o.SepToken: {ID: o.SepToken, IDs: []int{sep}, Tokens: []string{o.SepToken}},
		},
	}, nil
}

// ---- tokenizer_config.json and special_tokens_map.json ----

// roles lists the special-token roles that are set and present.
func (v *Vocab) roles() [][2]string {
	o := &v.Options
	var out [][2]string
	for _, r := range [][2]string{
		{"cls_token", o.ClsToken}, {"mask_token", o.MaskToken}, {"pad_token", o.PadToken},
		{"sep_token", o.SepToken}, {"unk_token", o.UnkToken},
	} {
		if o.hasSpecial(r[1]) {
			out = append(out, r)
		}
	}
	return out
}

// additional lists the special tokens that have no role.
func (v *Vocab) additional() []string {
	o := &v.Options
	var out []string
	for _, s := range o.SpecialTokens {
		if s != o.ClsToken && s != o.MaskToken && s != o.PadToken && s != o.SepToken && s != o.UnkToken {
			out = append(out, s)
		}
	}
	return out
}

func (v *Vocab) specialTokensMapJSON() ([]byte, error) {
	m := map[string]any{}
	for _, r := range v.roles() {
		m[r[0]] = r[1]
	}
	if add := v.additional(); len(add) > 0 {
		m["additional_special_tokens"] = add
	}
	return marshal(m)
}

func (v *Vocab) configJSON() ([]byte, error) {
	o := &v.Options
	type decoded struct {
		Content    string `json:"content"`
		LStrip     bool   `json:"lstrip"`
		Normalized bool   `json:"normalized"`
		RStrip     bool   `json:"rstrip"`
		SingleWord bool   `json:"single_word"`
		Special    bool   `json:"special"`
	}
	dec := map[string]decoded{}
	for _, s := range o.SpecialTokens {
		id, ok := v.id(s)
		if !ok {
			return nil, fmt.Errorf("vocab: special token %q missing from the vocabulary", s)
		}
		dec[strconv.Itoa(id)] = decoded{Content: s, Special: true}
	}
	var strip any
	if o.StripAccents != nil {
		strip = *o.StripAccents
	}
	m := map[string]any{
		"added_tokens_decoder":         dec,
		"clean_up_tokenization_spaces": true,
		"do_basic_tokenize":            true,
		"do_lower_case":                o.Lowercase,
		"never_split":                  nil,
		"strip_accents":                strip,
		"tokenize_chinese_chars":       o.HandleChineseChars,
		"tokenizer_class":              "BertTokenizer",
	}
	if o.ModelMaxLength > 0 {
		m["model_max_length"] = o.ModelMaxLength
	}
	for _, r := range v.roles() {
		m[r[0]] = r[1]
	}
	if add := v.additional(); len(add) > 0 {
		m["additional_special_tokens"] = add
	}
	return marshal(m)
}

// String summarises the vocabulary.
func (v *Vocab) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d tokens (%d special, %d alphabet, %d merges; stopped on %s)",
		len(v.Tokens), len(v.Options.SpecialTokens), v.Stats.Alphabet, v.Stats.Merges, v.Stats.Stop)
	return b.String()
}
