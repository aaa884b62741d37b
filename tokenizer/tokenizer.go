// Package tokenizer is an exact re-implementation of Hugging Face's Rust
// `tokenizers` for the tokenizer.json files of encoder models: BERT-family
// WordPiece and ModernBERT-family byte-level BPE (plus the other common
// components), with offsets, truncation, padding and decoding.
//
// The pipeline is driven by the file, in the order of the Rust crate:
// added tokens matched in the raw text, normalizer, added tokens matched in
// the normalized text, pre-tokenizer, model, truncation, post-processor
// (special tokens, type ids), padding. Offsets are tracked through every
// normalization step, so Encoding.Offsets equal Python's
// return_offsets_mapping.
//
// Older BERT folders without tokenizer.json (vocab.txt + tokenizer_config.json
// + special_tokens_map.json) are turned into the pipeline transformers'
// BertConverter builds.
//
// Not supported: Unigram models, Precompiled/Nmt normalizers, the
// UnicodeScripts and FixedLength pre-tokenizers, BPE dropout (encoding is
// deterministic) and regexes that need lookaround (other than the GPT-2
// pattern, which is built in). Loading a file that uses them fails with an
// error naming the component.
package tokenizer

import (
	"sort"
	"sync"
)

// Tokenizer encodes and decodes text. It is safe for concurrent use.
type Tokenizer struct {
	norm  normalizer
	pre   preTokenizer
	model model
	post  postProcessor
	dec   decoder
	added addedVocab

	// Padding defaults from the file's "padding" block, if any.
	filePad *padParams

	cfg       Config
	vocabSize int

	mu   sync.Mutex
	free []*scratch
}

type padParams struct {
	id, typeID int
	token      string
}

// Config is what sentence-transformers and transformers read from
// tokenizer_config.json (and special_tokens_map.json) when a folder has
// them. Fields are zero when absent.
type Config struct {
	// ModelMaxLength is model_max_length; 0 when absent or when it is the
	// "unlimited" sentinel (int(1e30)) transformers writes.
	ModelMaxLength int
	// DoLowerCase is do_lower_case (BERT); HasDoLowerCase tells whether the
	// file set it.
	DoLowerCase    bool
	HasDoLowerCase bool
	// ModelInputNames is model_input_names (e.g. ModernBERT has no
	// token_type_ids).
	ModelInputNames []string
	// PaddingSide and TruncationSide are "right" or "left" ("" if unset).
	PaddingSide    string
	TruncationSide string
	// CleanUpTokenizationSpaces is clean_up_tokenization_spaces.
	CleanUpTokenizationSpaces bool
	// Special token strings by role.
	PadToken, UnkToken, ClsToken, SepToken, MaskToken, BosToken, EosToken string
	// TokenizerClass is tokenizer_class.
	TokenizerClass string
}

// Config returns the tokenizer_config.json settings (zero when loaded from a
// lone tokenizer.json).
func (t *Tokenizer) Config() Config { return t.cfg }

// ModelMaxLength is Config().ModelMaxLength.
func (t *Tokenizer) ModelMaxLength() int { return t.cfg.ModelMaxLength }

// DoLowerCase is Config().DoLowerCase.
func (t *Tokenizer) DoLowerCase() bool { return t.cfg.DoLowerCase }

// TokenToID returns the id of a token (added tokens first, then the model
// vocabulary).
func (t *Tokenizer) TokenToID(tok string) (int, bool) {
	if id, ok := t.added.byContent[tok]; ok {
		return int(id), true
	}
	return t.model.tokenToID(tok)
}

// IDToToken returns the token of an id.
func (t *Tokenizer) IDToToken(id int) (string, bool) {
	if id >= 0 && id <= 1<<31-1 {
		if at := t.added.byID[int32(id)]; at != nil {
			if n, ok := t.added.normForm[int32(id)]; ok {
				return n, true
			}
			return at.Content, true
		}
	}
	return t.model.idToToken(id)
}

// VocabSize counts the distinct tokens of the model vocabulary and the
// added tokens, like len(tokenizer) in transformers.
func (t *Tokenizer) VocabSize() int { return t.vocabSize }

// SpecialIDs returns the ids of the added tokens marked special, ascending.
func (t *Tokenizer) SpecialIDs() []int {
	var ids []int
	for c := range t.added.special {
		if id, ok := t.added.byContent[c]; ok {
			ids = append(ids, int(id))
		}
	}
	sort.Ints(ids)
	return ids
}

// IsSpecial reports whether id is an added token marked special.
func (t *Tokenizer) IsSpecial(id int) bool {
	tok, ok := t.IDToToken(id)
	return ok && t.added.special[tok]
}

// NumSpecialTokens is how many tokens the post-processor adds to one text
// (pair false) or to a pair.
func (t *Tokenizer) NumSpecialTokens(pair bool) int {
	if t.post == nil {
		return 0
	}
	return t.post.added(pair)
}

// roleID finds the id of a special token: the configured string first, then
// the conventional names.
func (t *Tokenizer) roleID(configured string, names ...string) (int, bool) {
	if configured != "" {
		if id, ok := t.TokenToID(configured); ok {
			return id, true
		}
	}
	for _, n := range names {
		if id, ok := t.TokenToID(n); ok {
			return id, true
		}
	}
	return 0, false
}

// PadID is the padding id: the file's padding block, else pad_token of
// tokenizer_config.json / special_tokens_map.json, else [PAD], <pad>,
// <|pad|>, <|padding|>.
func (t *Tokenizer) PadID() (int, bool) {
	if t.filePad != nil {
		return t.filePad.id, true
	}
	return t.roleID(t.cfg.PadToken, "[PAD]", "<pad>", "<|pad|>", "<|padding|>")
}

// MaskID is the mask token id ([MASK], <mask>).
func (t *Tokenizer) MaskID() (int, bool) {
	return t.roleID(t.cfg.MaskToken, "[MASK]", "<mask>", "<|mask|>")
}

// CLSID is the classification token id ([CLS], <s>, <cls>).
func (t *Tokenizer) CLSID() (int, bool) {
	return t.roleID(t.cfg.ClsToken, "[CLS]", "<s>", "<cls>")
}

// SEPID is the separator token id ([SEP], </s>, <sep>).
func (t *Tokenizer) SEPID() (int, bool) {
	return t.roleID(t.cfg.SepToken, "[SEP]", "</s>", "<sep>")
}

// UNKID is the unknown token id ([UNK], <unk>).
func (t *Tokenizer) UNKID() (int, bool) {
	return t.roleID(t.cfg.UnkToken, "[UNK]", "<unk>", "<|unk|>")
}

// padInfo is what padding writes: id, type id and token.
func (t *Tokenizer) padInfo() (int, int, string) {
	if t.filePad != nil {
		return t.filePad.id, t.filePad.typeID, t.filePad.token
	}
	id, _ := t.PadID()
	tok, _ := t.IDToToken(id)
	return id, 0, tok
}

// Decode turns ids back into text; unknown ids are skipped, and with
// skipSpecial so are the special added tokens.
func (t *Tokenizer) Decode(ids []int, skipSpecial bool) string {
	toks := make([]string, 0, len(ids))
	for _, id := range ids {
		tok, ok := t.IDToToken(id)
		if !ok {
			continue
		}
		if skipSpecial && t.added.special[tok] {
			continue
		}
		toks = append(toks, tok)
	}
	if t.dec == nil {
		return joinSpace(toks)
	}
	out := t.dec.decodeChain(toks)
	n := 0
	for _, s := range out {
		n += len(s)
	}
	b := make([]byte, 0, n)
	for _, s := range out {
		b = append(b, s...)
	}
	return string(b)
}

func joinSpace(toks []string) string {
	n := 0
	for _, s := range toks {
		n += len(s) + 1
	}
	b := make([]byte, 0, n)
	for i, s := range toks {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, s...)
	}
	return string(b)
}
