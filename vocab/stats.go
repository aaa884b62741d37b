package vocab

import (
	"sort"
	"strings"
	"unicode/utf8"

	"bioencoder/tokenizer"
)

// Fertility measures how finely a tokenizer cuts a corpus.
type Fertility struct {
	Docs       int64
	Words      int64 // pre-tokenized words
	Tokens     int64 // tokens, no special tokens added
	SplitWords int64 // words cut into more than one token
	Unknown    int64 // unknown-token ids
}

// TokensPerWord is Tokens / Words.
func (f Fertility) TokensPerWord() float64 {
	if f.Words == 0 {
		return 0
	}
	return float64(f.Tokens) / float64(f.Words)
}

// measureBatch is how many texts are encoded together.
const measureBatch = 256

// Measure encodes every document (without special tokens) and counts words,
// tokens, words cut in several tokens and unknown tokens.
func Measure(tok *tokenizer.Tokenizer, docs Documents) (Fertility, error) {
	var f Fertility
	unk, hasUnk := tok.UNKID()
	batch := make([]tokenizer.Input, 0, measureBatch)
	var encErr error
	flush := func() {
		encs, err := tok.EncodeBatch(batch, tokenizer.Options{})
		batch = batch[:0]
		if err != nil {
			encErr = err
			return
		}
		for _, e := range encs {
			f.Docs++
			f.Tokens += int64(len(e.IDs))
			run := 0
			for i, id := range e.IDs {
				if hasUnk && id == unk {
					f.Unknown++
				}
				if i == 0 || e.WordIDs[i] != e.WordIDs[i-1] {
					f.Words++
					run = 1
				} else {
					run++
					if run == 2 {
						f.SplitWords++
					}
				}
			}
		}
	}
	err := docs(func(text string) bool {
		batch = append(batch, tokenizer.Input{Text: text})
		if len(batch) == measureBatch {
			flush()
		}
		return encErr == nil
	})
	if err == nil && encErr == nil && len(batch) > 0 {
		flush()
	}
	if err == nil {
		err = encErr
	}
	return f, err
}

// Longest returns the n longest tokens, measured in characters without the
// continuing-subword prefix; ties keep vocabulary order.
func Longest(tokens []string, prefix string, n int) []string {
	type entry struct {
		tok string
		len int
		id  int
	}
	es := make([]entry, len(tokens))
	for i, t := range tokens {
		es[i] = entry{t, utf8.RuneCountInString(strings.TrimPrefix(t, prefix)), i}
	}
	sort.SliceStable(es, func(i, j int) bool { return es[i].len > es[j].len })
	out := make([]string, 0, n)
	for _, e := range es[:min(n, len(es))] {
		out = append(out, e.tok)
	}
	return out
}
