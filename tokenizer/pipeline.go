package tokenizer

// Helpers the Hugging Face pipelines (fill-mask, token classification) need
// from a fast tokenizer beyond encoding and decoding ids.

// ContinuingSubwordPrefix is the model's continuing-subword prefix ("##" for
// WordPiece; usually "" for byte-level BPE and always "" for WordLevel).
// The token-classification pipeline treats a tokenizer with a non-empty
// prefix as word aware.
func (t *Tokenizer) ContinuingSubwordPrefix() string {
	switch m := t.model.(type) {
	case *wordPiece:
		return m.prefix
	case *bpe:
		return m.prefix
	}
	return ""
}

// ConvertTokensToString joins token strings through the decoder, as
// transformers' convert_tokens_to_string does for a fast tokenizer (a plain
// space join when the file has no decoder). Tokens need not be in the
// vocabulary.
func (t *Tokenizer) ConvertTokensToString(toks []string) string {
	if t.dec == nil {
		return joinSpace(toks)
	}
	out := t.dec.decodeChain(append([]string(nil), toks...))
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
