package vocab

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"bioencoder/tokenizer"
)

// The words a trainer counts are the normalized, pre-tokenized pieces of
// the text. bioencoder/tokenizer does not export its normalizer and
// pre-tokenizer, so this adapter runs them through a tokenizer built for
// the purpose: the BertNormalizer and BertPreTokenizer of the output file,
// and a BPE model whose vocabulary is only the 256 byte-fallback tokens
// "<0x00>".."<0xFF>" (id = byte value) with no merges. Every character of a
// word then comes out as its UTF-8 bytes, and the encoding's word ids group
// them back into words, so each word is recovered byte for byte with exactly
// the normalization and splitting that encoding applies. (When the
// tokenizer package exports a pre-tokenize function, wordSplitter can call
// it instead.)

// normalizerJSON is the BertNormalizer block of tokenizer.json.
func (o *Options) normalizerJSON() map[string]any {
	var strip any // null: follows lowercase, as in BERT files
	if o.StripAccents != nil {
		strip = *o.StripAccents
	}
	return map[string]any{
		"type":                 "BertNormalizer",
		"clean_text":           o.CleanText,
		"handle_chinese_chars": o.HandleChineseChars,
		"strip_accents":        strip,
		"lowercase":            o.Lowercase,
	}
}

// wordSplitter turns text into the words training counts.
type wordSplitter struct {
	tok *tokenizer.Tokenizer
}

func newWordSplitter(o *Options) (*wordSplitter, error) {
	v := make(map[string]int, 256)
	for b := 0; b < 256; b++ {
		v[fmt.Sprintf("<0x%02X>", b)] = b
	}
	file := map[string]any{
		"version":        "1.0",
		"truncation":     nil,
		"padding":        nil,
		"added_tokens":   []any{},
		"normalizer":     o.normalizerJSON(),
		"pre_tokenizer":  map[string]any{"type": "BertPreTokenizer"},
		"post_processor": nil,
		"decoder":        nil,
		"model": map[string]any{
			"type":                      "BPE",
			"dropout":                   nil,
			"unk_token":                 nil,
			"continuing_subword_prefix": nil,
			"end_of_word_suffix":        nil,
			"fuse_unk":                  false,
			"byte_fallback":             true,
			"ignore_merges":             false,
			"vocab":                     v,
			"merges":                    []any{},
		},
	}
	data, err := json.Marshal(file)
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.FromJSON(data)
	if err != nil {
		return nil, fmt.Errorf("vocab: building the word splitter: %w", err)
	}
	return &wordSplitter{tok: tok}, nil
}

// words calls fn with every word of text, in order. The byte slice is only
// valid during the call. buf is scratch space, returned for reuse.
func (s *wordSplitter) words(text string, buf []byte, fn func(word []byte)) ([]byte, error) {
	// The corpus may hold invalid UTF-8 (plain text files are not checked);
	// the Rust trainer only sees valid strings. U+FFFD is what a lossy
	// decode gives, and clean_text deletes it.
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, "\uFFFD")
	}
	enc, err := s.tok.Encode(text, tokenizer.Options{})
	if err != nil {
		return buf, err
	}
	buf = buf[:0]
	cur := -1
	for i, id := range enc.IDs {
		if id < 0 || id > 255 {
			return buf, fmt.Errorf("vocab: word splitter produced token id %d", id)
		}
		if w := enc.WordIDs[i]; w != cur {
			if len(buf) > 0 {
				fn(buf)
			}
			buf, cur = buf[:0], w
		}
		buf = append(buf, byte(id))
	}
	if len(buf) > 0 {
		fn(buf)
	}
	return buf, nil
}
