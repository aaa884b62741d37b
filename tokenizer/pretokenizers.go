package tokenizer

import "unicode/utf8"

// preTokenizer splits the pieces still without tokens into smaller pieces
// (PreTokenizedString::split in the Rust crate).
type preTokenizer interface {
	preTokenize(s *scratch)
}

// splitEach replaces every piece without a token by the pieces fn appends
// for it; empty pieces are dropped. Pieces that still carry the byte-level
// mapping are materialized first, since the next step reads their text.
func (s *scratch) splitEach(fn func(sp *split, out []split) []split) {
	out := s.spTmp[:0]
	for i := range s.sp {
		sp := &s.sp[i]
		if sp.id >= 0 {
			out = append(out, *sp)
			continue
		}
		s.ar.materialize(sp)
		n := len(out)
		out = fn(sp, out)
		// Drop empty pieces.
		w := n
		for j := n; j < len(out); j++ {
			if !out[j].empty() {
				out[w] = out[j]
				w++
			}
		}
		out = out[:w]
	}
	s.sp, s.spTmp = out, s.sp
}

type preSequence []preTokenizer

func (p preSequence) preTokenize(s *scratch) {
	for _, q := range p {
		q.preTokenize(s)
	}
}

// bertPre is BertPreTokenizer: whitespace removed, punctuation isolated.
type bertPre struct{}

var asciiClass = func() (t [128]uint8) {
	for c := 0; c < 128; c++ {
		switch {
		case isSpace(rune(c)):
			t[c] = 1
		case isASCIIPunct(rune(c)):
			t[c] = 2
		}
	}
	return
}()

func (bertPre) preTokenize(s *scratch) {
	s.splitEach(func(sp *split, out []split) []split {
		b := s.ar.b[sp.lo:sp.hi]
		start := -1
		for i := 0; i < len(b); {
			var cls uint8
			k := 1
			if c := b[i]; c < utf8.RuneSelf {
				cls = asciiClass[c]
			} else {
				var r rune
				r, k = decodeRune(b[i:])
				if isSpace(r) {
					cls = 1
				} else if isPunct8(r) {
					cls = 2
				}
			}
			if cls == 0 {
				if start < 0 {
					start = i
				}
				i += k
				continue
			}
			if start >= 0 {
				out = append(out, s.ar.sub(sp, int32(start), int32(i)))
				start = -1
			}
			if cls == 2 {
				out = append(out, s.ar.sub(sp, int32(i), int32(i+k)))
			}
			i += k
		}
		if start >= 0 {
			out = append(out, s.ar.sub(sp, int32(start), int32(len(b))))
		}
		return out
	})
}

// whitespacePre is the Whitespace pre-tokenizer: the matches of
// \w+|[^\w\s]+ are kept, the rest dropped.
type whitespacePre struct{}

func (whitespacePre) preTokenize(s *scratch) {
	s.splitEach(func(sp *split, out []split) []split {
		b := s.ar.b[sp.lo:sp.hi]
		for i := 0; i < len(b); {
			r, k := decodeRune(b[i:])
			if isSpace(r) && !isWordChar(r) {
				i += k
				continue
			}
			word := isWordChar(r)
			j := i + k
			for j < len(b) {
				r2, k2 := decodeRune(b[j:])
				if w := isWordChar(r2); w != word || (!w && isSpace(r2)) {
					break
				}
				j += k2
			}
			out = append(out, s.ar.sub(sp, int32(i), int32(j)))
			i = j
		}
		return out
	})
}

// whitespaceSplitPre splits on whitespace (removed).
type whitespaceSplitPre struct{}

func (whitespaceSplitPre) preTokenize(s *scratch) {
	s.splitEach(func(sp *split, out []split) []split {
		return s.splitByRune(sp, out, isSpace, behRemoved)
	})
}

// Split delimiter behaviours (SplitDelimiterBehavior).
type behavior uint8

const (
	behRemoved behavior = iota
	behIsolated
	behMergedWithPrevious
	behMergedWithNext
	behContiguous
)

func parseBehavior(s string) (behavior, bool) {
	switch s {
	case "Removed", "removed":
		return behRemoved, true
	case "Isolated", "isolated":
		return behIsolated, true
	case "MergedWithPrevious", "merged_with_previous":
		return behMergedWithPrevious, true
	case "MergedWithNext", "merged_with_next":
		return behMergedWithNext, true
	case "Contiguous", "contiguous":
		return behContiguous, true
	}
	return 0, false
}

// piece is one entry of Pattern::find_matches: a range and whether it is a
// match.
type piece struct {
	s, e  int32
	match bool
}

// splitByRune splits where pred holds (each such character is a match of
// its own).
func (s *scratch) splitByRune(sp *split, out []split, pred func(rune) bool, beh behavior) []split {
	b := s.ar.b[sp.lo:sp.hi]
	ps := s.pieces[:0]
	last := 0
	for i := 0; i < len(b); {
		r, k := decodeRune(b[i:])
		if pred(r) {
			if last < i {
				ps = append(ps, piece{int32(last), int32(i), false})
			}
			ps = append(ps, piece{int32(i), int32(i + k), true})
			last = i + k
		}
		i += k
	}
	if last < len(b) {
		ps = append(ps, piece{int32(last), int32(len(b)), false})
	}
	s.pieces = ps
	return s.applyBehavior(sp, out, ps, beh, false)
}

// splitByPattern splits on the matches of p.
func (s *scratch) splitByPattern(sp *split, out []split, p pattern, beh behavior, invert bool) []split {
	b := s.ar.b[sp.lo:sp.hi]
	s.matches = p.find(b, s.matches[:0])
	ps := s.pieces[:0]
	if len(b) == 0 {
		ps = append(ps, piece{0, 0, false})
	}
	prev := int32(0)
	for _, m := range s.matches {
		if prev != m[0] {
			ps = append(ps, piece{prev, m[0], false})
		}
		ps = append(ps, piece{m[0], m[1], true})
		prev = m[1]
	}
	if int(prev) != len(b) {
		ps = append(ps, piece{prev, int32(len(b)), false})
	}
	s.pieces = ps
	return s.applyBehavior(sp, out, ps, beh, invert)
}

// applyBehavior is the second half of NormalizedString::split.
func (s *scratch) applyBehavior(sp *split, out []split, ps []piece, beh behavior, invert bool) []split {
	if invert {
		for i := range ps {
			ps[i].match = !ps[i].match
		}
	}
	switch beh {
	case behIsolated:
		for _, p := range ps {
			out = append(out, s.ar.sub(sp, p.s, p.e))
		}
	case behRemoved:
		for _, p := range ps {
			if !p.match {
				out = append(out, s.ar.sub(sp, p.s, p.e))
			}
		}
	case behContiguous:
		acc := s.pieces2[:0]
		prev := false
		for _, p := range ps {
			if p.match == prev && len(acc) > 0 {
				acc[len(acc)-1].e = p.e
			} else {
				acc = append(acc, p)
			}
			prev = p.match
		}
		for _, p := range acc {
			out = append(out, s.ar.sub(sp, p.s, p.e))
		}
		s.pieces2 = acc
	case behMergedWithPrevious:
		acc := s.pieces2[:0]
		prev := false
		for _, p := range ps {
			if p.match && !prev && len(acc) > 0 {
				acc[len(acc)-1].e = p.e
			} else {
				acc = append(acc, p)
			}
			prev = p.match
		}
		for _, p := range acc {
			out = append(out, s.ar.sub(sp, p.s, p.e))
		}
		s.pieces2 = acc
	case behMergedWithNext:
		acc := s.pieces2[:0]
		prev := false
		for i := len(ps) - 1; i >= 0; i-- {
			p := ps[i]
			if p.match && !prev && len(acc) > 0 {
				acc[len(acc)-1].s = p.s
			} else {
				acc = append(acc, p)
			}
			prev = p.match
		}
		for i := len(acc) - 1; i >= 0; i-- {
			out = append(out, s.ar.sub(sp, acc[i].s, acc[i].e))
		}
		s.pieces2 = acc
	}
	return out
}

// punctuationPre splits on punctuation.
type punctuationPre struct{ beh behavior }

func (p punctuationPre) preTokenize(s *scratch) {
	s.splitEach(func(sp *split, out []split) []split {
		return s.splitByRune(sp, out, isBertPunct, p.beh)
	})
}

// digitsPre splits on digits (char::is_numeric).
type digitsPre struct{ individual bool }

func (p digitsPre) preTokenize(s *scratch) {
	beh := behContiguous
	if p.individual {
		beh = behIsolated
	}
	s.splitEach(func(sp *split, out []split) []split {
		return s.splitByRune(sp, out, isNumeric, beh)
	})
}

// charDelimiterPre splits on one character (removed).
type charDelimiterPre struct{ r rune }

func (p charDelimiterPre) preTokenize(s *scratch) {
	s.splitEach(func(sp *split, out []split) []split {
		return s.splitByRune(sp, out, func(r rune) bool { return r == p.r }, behRemoved)
	})
}

// splitPre is the Split pre-tokenizer.
type splitPre struct {
	pat    pattern
	beh    behavior
	invert bool
}

func (p splitPre) preTokenize(s *scratch) {
	s.splitEach(func(sp *split, out []split) []split {
		return s.splitByPattern(sp, out, p.pat, p.beh, p.invert)
	})
}

// Metaspace prepend schemes.
const (
	prependAlways = iota
	prependFirst
	prependNever
)

// metaspacePre replaces spaces by the replacement character, optionally
// prepends one, and splits before each replacement character.
type metaspacePre struct {
	repl    rune
	scheme  int
	split   bool
	replPat literalPattern
}

func (p metaspacePre) preTokenize(s *scratch) {
	s.splitEach(func(sp *split, out []split) []split {
		replaceNorm{pat: literalPattern{[]byte{' '}}, content: []rune{p.repl}}.normalize(s, sp)
		b := s.ar.b[sp.lo:sp.hi]
		starts := false
		if r, _ := decodeRune(b); len(b) > 0 && r == p.repl {
			starts = true
		}
		switch p.scheme {
		case prependAlways:
			if !starts {
				prependNorm{[]rune{p.repl}}.normalize(s, sp)
			}
		case prependFirst:
			if !starts && sp.shift == 0 {
				prependNorm{[]rune{p.repl}}.normalize(s, sp)
			}
		}
		if !p.split {
			return append(out, *sp)
		}
		return s.splitByPattern(sp, out, p.replPat, behMergedWithNext, false)
	})
}

// byteLevelPre is the ByteLevel pre-tokenizer: optional prefix space, the
// GPT-2 split, then every byte read as a character of the byte-to-unicode
// map. The last step is deferred (flagMapped) so that the BPE model can
// work on the raw bytes.
type byteLevelPre struct {
	addPrefixSpace bool
	useRegex       bool
}

func (p byteLevelPre) preTokenize(s *scratch) {
	s.splitEach(func(sp *split, out []split) []split {
		if p.addPrefixSpace && (sp.empty() || s.ar.b[sp.lo] != ' ') {
			prependNorm{[]rune{' '}}.normalize(s, sp)
		}
		n := len(out)
		if p.useRegex {
			b := s.ar.b[sp.lo:sp.hi]
			for i := 0; i < len(b); {
				e := gpt2Next(b, i)
				out = append(out, s.ar.sub(sp, int32(i), int32(e)))
				i = e
			}
		} else {
			out = append(out, *sp)
		}
		for j := n; j < len(out); j++ {
			out[j].flags |= flagMapped
		}
		return out
	})
}
