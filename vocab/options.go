// Package vocab learns a BERT WordPiece vocabulary from a corpus, with the
// semantics of Hugging Face tokenizers' WordPieceTrainer as
// BertWordPieceTokenizer.train drives it, and writes a model folder that
// both bioencoder/tokenizer and the official tokenizers load (tokenizer.json,
// vocab.txt, tokenizer_config.json, special_tokens_map.json).
//
// The algorithm (tokenizers' BpeTrainer with continuing_subword_prefix "##",
// which WordPieceTrainer wraps):
//
//  1. Words are counted after the BertNormalizer and the BertPreTokenizer.
//  2. The vocabulary starts with the special tokens (ids 0..n-1, in the
//     order given), then the alphabet: every character of the words, or the
//     LimitAlphabet most frequent ones (counted over word occurrences), in
//     code point order. Characters outside the alphabet are dropped from the
//     words.
//  3. Each word becomes its characters, all but the first carrying the
//     "##" prefix; the prefixed characters become tokens too.
//  4. Repeatedly, the adjacent pair of symbols with the highest count over
//     all word occurrences is merged into a new token (the prefix of the
//     right part is dropped), until the vocabulary has VocabSize tokens or
//     the best pair occurs fewer than MinFrequency times. Ties go to the pair
//     with the smaller (left id, right id).
//
// Where the Rust trainer depends on hash-map iteration order this package
// fixes an order, so the output is a function of the corpus and the
// options alone: the "##" character tokens are numbered in code point order
// (Rust numbers them in the order it happens to meet words, so two Rust runs
// can differ), and when LimitAlphabet cuts between characters of equal
// count, the higher code points are dropped first.
package vocab

import (
	"fmt"
	"strings"
)

// Options configure training. Start from DefaultOptions: the zero value is
// not a useful configuration.
type Options struct {
	// VocabSize is the target size, special tokens included. Training stops
	// once it is reached; the result is larger when the special tokens and
	// the alphabet alone exceed it (as in tokenizers).
	VocabSize int
	// MinFrequency: pairs occurring fewer times are never merged.
	MinFrequency int64
	// LimitAlphabet keeps at most this many characters (the most frequent);
	// <= 0 keeps them all.
	LimitAlphabet int
	// InitialAlphabet characters are always in the alphabet, even when they
	// do not occur (they count as infinitely frequent for LimitAlphabet).
	InitialAlphabet []rune
	// SpecialTokens get ids 0..n-1 in this order and are written as added
	// tokens (special, not normalized).
	SpecialTokens []string
	// Role names of special tokens. UnkToken must be among SpecialTokens.
	// The post-processor ([CLS] A [SEP]) is written when both ClsToken and
	// SepToken are.
	UnkToken, ClsToken, SepToken, PadToken, MaskToken string

	// BertNormalizer settings.
	CleanText          bool
	HandleChineseChars bool
	Lowercase          bool
	// StripAccents nil follows Lowercase (as "strip_accents": null does).
	StripAccents *bool

	// Prefix marks continuing subwords ("##").
	Prefix string
	// ModelMaxLength is written to tokenizer_config.json (omitted when 0).
	ModelMaxLength int

	// subwordOrder, when set, numbers the prefixed character tokens in this
	// order instead of code point order (tests replay a Rust run with it).
	subwordOrder []string
}

// DefaultSpecialTokens are BERT's, in BertWordPieceTokenizer.train order.
var DefaultSpecialTokens = []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}

// DefaultOptions are BertWordPieceTokenizer.train's defaults (vocab 30000,
// min_frequency 2, limit_alphabet 1000, the five BERT special tokens,
// uncased) with model_max_length 512.
func DefaultOptions() Options {
	return Options{
		VocabSize:          30000,
		MinFrequency:       2,
		LimitAlphabet:      1000,
		SpecialTokens:      append([]string(nil), DefaultSpecialTokens...),
		UnkToken:           "[UNK]",
		ClsToken:           "[CLS]",
		SepToken:           "[SEP]",
		PadToken:           "[PAD]",
		MaskToken:          "[MASK]",
		CleanText:          true,
		HandleChineseChars: true,
		Lowercase:          true,
		Prefix:             "##",
		ModelMaxLength:     512,
	}
}

// stripAccents resolves StripAccents.
func (o *Options) stripAccents() bool {
	if o.StripAccents != nil {
		return *o.StripAccents
	}
	return o.Lowercase
}

func (o *Options) hasSpecial(tok string) bool {
	if tok == "" {
		return false
	}
	for _, s := range o.SpecialTokens {
		if s == tok {
			return true
		}
	}
	return false
}

// validate checks the options.
func (o *Options) validate() error {
	if o.VocabSize < 1 {
		return fmt.Errorf("vocab: vocab size %d must be positive", o.VocabSize)
	}
	if o.MinFrequency < 0 {
		return fmt.Errorf("vocab: min frequency %d must not be negative", o.MinFrequency)
	}
	if o.Prefix == "" {
		return fmt.Errorf("vocab: the continuing-subword prefix must not be empty")
	}
	seen := map[string]bool{}
	for _, s := range o.SpecialTokens {
		if s == "" {
			return fmt.Errorf("vocab: empty special token")
		}
		if strings.ContainsAny(s, "\r\n") {
			return fmt.Errorf("vocab: special token %q contains a line break (vocab.txt holds one token per line)", s)
		}
		if seen[s] {
			return fmt.Errorf("vocab: special token %q given twice", s)
		}
		seen[s] = true
	}
	if !o.hasSpecial(o.UnkToken) {
		return fmt.Errorf("vocab: the unknown token %q must be one of the special tokens %q (WordPiece needs it)", o.UnkToken, o.SpecialTokens)
	}
	return nil
}
