package eval

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Masker is a masked language model seen through text.
type Masker interface {
	// MaskToken is the string that stands for one masked token in a text.
	MaskToken() string
	// TokenSpans returns the byte ranges [start, end) of the tokens the
	// model makes of text (without special tokens).
	TokenSpans(text string) ([][2]int, error)
	// FillMask returns, for each text holding one MaskToken, the k most
	// likely strings for that token, best first (fewer, or none, when the
	// mask did not fit in the model's input).
	FillMask(ctx context.Context, texts []string, k int) ([][]string, error)
}

// FillMaskOptions configure the fill-mask protocol.
type FillMaskOptions struct {
	K      int    // top-k; 0 means 5
	Window int    // words of context around the masked word; 0 means 48
	Seed   uint64 // RNG seed (default in the CLI: 42)
	Limit  int    // at most this many samples; 0 means one per abstract
}

func (o FillMaskOptions) defaults() FillMaskOptions {
	if o.K <= 0 {
		o.K = 5
	}
	if o.Window <= 0 {
		o.Window = 48
	}
	return o
}

// FillMaskSample is one masked text.
type FillMaskSample struct {
	ID     int    `json:"id"`
	Text   string `json:"text"` // with Word replaced by the mask token
	Word   string `json:"word"`
	Window string `json:"-"` // the unmasked window
}

// wordCand is an alphabetic word inside field f at bytes [lo, hi).
type wordCand struct{ f, lo, hi int }

// alphaWords lists the maximal runs of letters of at least 4 runes in a
// field that touch no digit (so "<dig>", "cd4" and "il-2"'s "il" never
// qualify, while "3-indole" gives "indole").
func alphaWords(field string, f int, out []wordCand) []wordCand {
	start := -1
	flush := func(end int) {
		if start >= 0 && utf8.RuneCountInString(field[start:end]) >= 4 {
			before, _ := utf8.DecodeLastRuneInString(field[:start])
			after, _ := utf8.DecodeRuneInString(field[end:])
			if !unicode.IsDigit(before) && !unicode.IsDigit(after) {
				out = append(out, wordCand{f, start, end})
			}
		}
		start = -1
	}
	for i, r := range field {
		if unicode.IsLetter(r) {
			if start < 0 {
				start = i
			}
			continue
		}
		flush(i)
	}
	flush(len(field))
	return out
}

// FillMaskSamples picks one masked word per held-out abstract (ascending
// id), deterministically:
//
//  1. the abstract's sections (ParseSections, back-matter dropped) are
//     joined and split on white space into words;
//  2. the candidates are the alphabetic runs of >= 4 letters that touch
//     no digit (alphaWords), in text order;
//  3. a single numpy.random.RandomState(seed) stream (RNG) shuffles each
//     abstract's candidate list in turn;
//  4. in shuffled order, the first candidate that is exactly one token for
//     the model, when read in its window, is masked. The window is
//     opts.Window words centred on the word (cut at the text's ends),
//     joined with single spaces; "exactly one token" means TokenSpans of
//     the window has a token spanning exactly the word's bytes, once white
//     space at the span's ends is trimmed (byte-level BPE tokens such as
//     "Ġword" carry their leading space in their offsets).
//
// Abstracts without such a word give no sample. At most opts.Limit samples.
func FillMaskSamples(m Masker, abs []Abstract, opts FillMaskOptions) ([]FillMaskSample, error) {
	opts = opts.defaults()
	rng := NewRNG(opts.Seed)
	mask := m.MaskToken()
	var out []FillMaskSample
	var cands []wordCand
	for _, a := range abs {
		if opts.Limit > 0 && len(out) >= opts.Limit {
			break
		}
		var parts []string
		for _, s := range ParseSections(a.Text) {
			parts = append(parts, s.Text)
		}
		fields := strings.Fields(strings.Join(parts, " "))
		cands = cands[:0]
		for f, w := range fields {
			cands = alphaWords(w, f, cands)
		}
		rng.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
		for _, c := range cands {
			lo := max(0, c.f-opts.Window/2)
			hi := min(len(fields), lo+opts.Window)
			lo = max(0, min(lo, hi-opts.Window))
			prefix := strings.Join(fields[lo:c.f], " ")
			if c.f > lo {
				prefix += " "
			}
			window := prefix + strings.Join(fields[c.f:hi], " ")
			wlo, whi := len(prefix)+c.lo, len(prefix)+c.hi
			spans, err := m.TokenSpans(window)
			if err != nil {
				return nil, fmt.Errorf("eval: fill-mask: abstract %d: %w", a.ID, err)
			}
			single := false
			for _, s := range spans {
				if s = trimSpan(window, s); s[0] == wlo && s[1] == whi {
					single = true
					break
				}
			}
			if !single {
				continue
			}
			out = append(out, FillMaskSample{ID: a.ID, Word: window[wlo:whi], Window: window,
				Text: window[:wlo] + mask + window[whi:]})
			break
		}
	}
	return out, nil
}

// trimSpan narrows a byte span of text to exclude white space at its ends.
func trimSpan(text string, s [2]int) [2]int {
	if s[0] < 0 || s[1] > len(text) || s[0] > s[1] {
		return s
	}
	for s[0] < s[1] && isSpaceByte(text[s[0]]) {
		s[0]++
	}
	for s[1] > s[0] && isSpaceByte(text[s[1]-1]) {
		s[1]--
	}
	return s
}

func isSpaceByte(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

// FillMaskResult is the fill-mask protocol's outcome.
type FillMaskResult struct {
	Model   string  `json:"model"`
	N       int     `json:"n"`
	K       int     `json:"k"`
	Top1    float64 `json:"top1"`
	TopK    float64 `json:"topk"`
	Seconds float64 `json:"seconds"`
}

// CandidateMatches reports whether a predicted string is the masked word:
// equal after trimming white space, ignoring case (the abstracts are lower
// case; cased models may capitalise).
func CandidateMatches(cand, word string) bool {
	return strings.EqualFold(strings.TrimSpace(cand), word)
}

// RunFillMask runs EVALUATION.md C.5 on the held-out abstracts: top-1 and
// top-k accuracy of recovering the masked words of FillMaskSamples.
func RunFillMask(ctx context.Context, model string, m Masker, abs []Abstract, opts FillMaskOptions, log io.Writer) (FillMaskResult, error) {
	t0 := time.Now()
	opts = opts.defaults()
	samples, err := FillMaskSamples(m, abs, opts)
	if err != nil {
		return FillMaskResult{}, err
	}
	if len(samples) == 0 {
		return FillMaskResult{}, fmt.Errorf("eval: fill-mask: none of %d abstracts has a single-token word to mask", len(abs))
	}
	texts := make([]string, len(samples))
	for i, s := range samples {
		texts[i] = s.Text
	}
	r := FillMaskResult{Model: model, N: len(samples), K: opts.K}
	const chunk = 64
	var top1, topk int
	for lo := 0; lo < len(texts); lo += chunk {
		hi := min(len(texts), lo+chunk)
		cands, err := m.FillMask(ctx, texts[lo:hi], opts.K)
		if err != nil {
			return r, fmt.Errorf("eval: fill-mask: %w", err)
		}
		if len(cands) != hi-lo {
			return r, fmt.Errorf("eval: fill-mask: masker returned %d lists for %d texts", len(cands), hi-lo)
		}
		for i, cs := range cands {
			w := samples[lo+i].Word
			for j, c := range cs[:min(len(cs), opts.K)] {
				if CandidateMatches(c, w) {
					if j == 0 {
						top1++
					}
					topk++
					break
				}
			}
		}
		logf(log, "%s: fill-mask: %d/%d", model, hi, len(texts))
	}
	r.Top1 = float64(top1) / float64(r.N)
	r.TopK = float64(topk) / float64(r.N)
	r.Seconds = time.Since(t0).Seconds()
	return r, nil
}
