package tokenizer

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"bioencoder/parallel"
)

// Encoding is the result of encoding one text or one pair of texts.
type Encoding struct {
	IDs               []int
	Tokens            []string
	TypeIDs           []int
	AttentionMask     []int
	SpecialTokensMask []int
	// Offsets are [start, end) in Unicode code points of the input the
	// token came from (the first or the second text of a pair), as Python's
	// return_offsets_mapping gives them; (0, 0) for added special tokens and
	// padding. An invalid UTF-8 byte counts as one code point.
	Offsets [][2]int
	// ByteOffsets are the same ranges in bytes.
	ByteOffsets [][2]int
	// WordIDs is the index of the pre-tokenized word a token comes from
	// within its sequence, -1 for special tokens and padding.
	WordIDs []int
	// SequenceIDs is 0 or 1 for tokens of the first or second text, -1 for
	// special tokens and padding.
	SequenceIDs []int
}

// Len is the number of tokens.
func (e *Encoding) Len() int { return len(e.IDs) }

// Padding selects how encodings are padded.
type Padding int

const (
	// NoPadding leaves encodings as they are.
	NoPadding Padding = iota
	// PadLongest pads every encoding of a batch to the longest one.
	PadLongest
	// PadMaxLength pads to Options.MaxLength.
	PadMaxLength
)

// Options control one encode call. The zero value encodes without special
// tokens, truncation or padding; DefaultOptions adds the special tokens, as
// transformers does by default.
type Options struct {
	AddSpecialTokens bool
	// MaxLength truncates to at most this many tokens, the special tokens
	// counted in; 0 means no truncation.
	MaxLength    int
	Truncation   Strategy // LongestFirst (default), OnlyFirst, OnlySecond
	TruncateLeft bool     // drop tokens from the start instead of the end
	Padding      Padding
	PadLeft      bool
}

// DefaultOptions adds special tokens and does not truncate or pad.
func DefaultOptions() Options { return Options{AddSpecialTokens: true} }

// Input is one element of a batch.
type Input struct {
	Text    string
	Pair    string
	HasPair bool
}

// scratch holds everything one encode call needs; tokenizers keep a free
// list of them so that steady-state encoding does not allocate beyond the
// returned Encoding.
type scratch struct {
	ar       arena
	sp       []split
	spTmp    []split
	toks     []token
	matches  [][2]int32
	pieces   []piece
	pieces2  []piece
	added    []addedMatch
	ncps     []ncp
	ncps2    []ncp
	runes    []rune
	syms     []sym
	heap     []mergeItem
	pairs    []uint32
	keyBuf   []byte
	charMap  []int32
	a, b     enc
	out      enc
	bpeCache map[string][]uint32
	// bpeCacheMapped caches pieces seen through the byte-level map.
	bpeCacheMapped map[string][]uint32
}

func newScratch() *scratch {
	return &scratch{bpeCache: map[string][]uint32{}, bpeCacheMapped: map[string][]uint32{}}
}

// maxKeptArena: scratches that grew past this (a huge input) are dropped
// instead of being kept for reuse.
const maxKeptArena = 8 << 20

func (t *Tokenizer) getScratch() *scratch {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n := len(t.free); n > 0 {
		s := t.free[n-1]
		t.free = t.free[:n-1]
		return s
	}
	return newScratch()
}

func (t *Tokenizer) putScratch(s *scratch) {
	if cap(s.ar.b) > maxKeptArena || cap(s.toks) > maxKeptArena/8 {
		// Keep the BPE caches, drop the big buffers.
		s = &scratch{bpeCache: s.bpeCache, bpeCacheMapped: s.bpeCacheMapped}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.free) < 64 {
		t.free = append(t.free, s)
	}
}

// normalizeStandalone runs the normalizer on a string outside of encoding
// (for the normalized form of added tokens).
func (t *Tokenizer) normalizeStandalone(str string) string {
	if t.norm == nil {
		return str
	}
	s := newScratch()
	lo, hi := s.ar.appendOriginal(str)
	sp := split{lo: lo, hi: hi, id: -1}
	t.norm.normalize(s, &sp)
	return string(s.ar.b[sp.lo:sp.hi])
}

// encodeSeq runs added-token extraction, normalization, pre-tokenization and
// the model on one text (encode_single_sequence) into e.
func (t *Tokenizer) encodeSeq(s *scratch, text string, e *enc, seqID int8, typeID int32, capTokens int, fromEnd bool) error {
	e.reset()
	s.ar.reset()
	s.toks = s.toks[:0]
	lo, hi := s.ar.appendOriginal(text)
	s.sp = append(s.sp[:0], split{lo: lo, hi: hi, id: -1})

	// 1. Added tokens matched in the raw text.
	if t.added.raw.hasAny {
		s.splitEach(func(sp *split, out []split) []split { return s.splitAdded(sp, &t.added.raw, out) })
	}
	// 2. Normalizer, then the added tokens matched in normalized text.
	if t.norm != nil || t.added.norm.hasAny {
		s.splitEach(func(sp *split, out []split) []split {
			if t.norm != nil {
				t.norm.normalize(s, sp)
			}
			if t.added.norm.hasAny {
				return s.splitAdded(sp, &t.added.norm, out)
			}
			return append(out, s.ar.sub(sp, 0, sp.hi-sp.lo))
		})
	}
	// 3. Pre-tokenizer.
	if t.pre != nil {
		t.pre.preTokenize(s)
	}
	// 4. Model. With truncation, tokenizers 0.23 stops once the pieces
	// tokenized so far hold capTokens tokens (from the end when truncating
	// on the left); the pieces after that are dropped. Only the final length
	// of the sequence depends on it, but that decides which of two long
	// sequences counts as the longer one, so it is reproduced.
	n := len(s.sp)
	first, last := 0, n // pieces [first, last) are tokenized
	count := 0
	for k := 0; k < n; k++ {
		w := k
		if fromEnd {
			w = n - 1 - k
		}
		sp := &s.sp[w]
		sp.tokLo = int32(len(s.toks))
		if sp.id >= 0 {
			// Added tokens count, but only pieces that go through the model
			// check the limit.
			count++
			sp.tokHi = sp.tokLo
			continue
		} else {
			mapped := sp.flags&flagMapped != 0
			if mapped && !t.model.handlesMapped() {
				s.ar.materialize(sp)
				mapped = false
			}
			var err error
			s.toks, err = t.model.tokenize(s, s.ar.b[sp.lo:sp.hi], mapped, s.toks)
			if err != nil {
				return err
			}
			count += len(s.toks) - int(sp.tokLo)
		}
		sp.tokHi = int32(len(s.toks))
		if capTokens > 0 && count >= capTokens {
			if fromEnd {
				first = w
			} else {
				last = w + 1
			}
			break
		}
	}
	// 5. The tokens with their original offsets, in text order.
	for w := first; w < last; w++ {
		sp := &s.sp[w]
		if sp.id >= 0 {
			str := string(s.ar.b[sp.lo:sp.hi])
			if at := t.added.byID[sp.id]; at != nil && at.Content == str {
				str = at.Content
			}
			e.push(sp.id, str, s.ar.lo[sp.lo], s.ar.hi[sp.hi-1], int32(w-first), typeID, seqID)
			continue
		}
		for _, tk := range s.toks[sp.tokLo:sp.tokHi] {
			var bs, be int32
			if tk.s >= tk.e {
				// An empty range is returned unconverted by the Rust crate.
				bs, be = sp.shift+tk.s, sp.shift+tk.e
			} else {
				bs, be = s.ar.lo[sp.lo+tk.s], s.ar.hi[sp.lo+tk.e-1]
			}
			// Word ids count from the first piece kept.
			e.push(tk.id, tk.str, bs, be, int32(w-first), typeID, seqID)
		}
	}
	t.charOffsets(s, text, e)
	return nil
}

func (e *enc) push(id int32, tok string, bs, be, word, typeID int32, seqID int8) {
	e.ids = append(e.ids, id)
	e.toks = append(e.toks, tok)
	e.types = append(e.types, typeID)
	e.boffs = append(e.boffs, [2]int32{bs, be})
	e.words = append(e.words, word)
	e.special = append(e.special, 0)
	e.seq = append(e.seq, seqID)
}

// charOffsets fills e.offs from e.boffs the way BytesToCharOffsetConverter
// does: a byte position maps to the character containing it; an end at the
// end of the text maps to the number of characters; a start past the end
// leaves the byte offsets as they are.
func (t *Tokenizer) charOffsets(s *scratch, text string, e *enc) {
	e.offs = append(e.offs[:0], e.boffs...)
	ascii := true
	for i := 0; i < len(text); i++ {
		if text[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return
	}
	m := s.charMap[:0]
	n := int32(0)
	for i := 0; i < len(text); {
		_, k := decodeRuneInString(text[i:])
		for j := 0; j < k; j++ {
			m = append(m, n)
		}
		n++
		i += k
	}
	s.charMap = m
	L := int32(len(text))
	for i, o := range e.offs {
		st, en := o[0], o[1]
		if st < 0 || st >= L {
			continue
		}
		cs := m[st]
		var ce int32
		switch {
		case en >= 0 && en < L:
			ce = m[en]
		case en-1 >= 0 && en-1 < L:
			ce = m[en-1] + 1
		default:
			ce = cs + 1
		}
		e.offs[i] = [2]int32{cs, ce}
	}
}

// ErrMaxLength is returned when MaxLength cannot even hold the special
// tokens.
var ErrMaxLength = errors.New("tokenizer: max length is smaller than the number of special tokens")

func (t *Tokenizer) encodeWith(s *scratch, a string, b string, hasPair bool, o Options) (*enc, error) {
	capA, capB := 0, 0
	if o.MaxLength > 0 {
		capA, capB = o.MaxLength, o.MaxLength
		if hasPair && o.Truncation == OnlyFirst {
			capB = 0
		}
		if o.Truncation == OnlySecond {
			capA = 0
		}
	}
	if err := t.encodeSeq(s, a, &s.a, 0, 0, capA, o.TruncateLeft); err != nil {
		return nil, err
	}
	var bp *enc
	if hasPair {
		if err := t.encodeSeq(s, b, &s.b, 1, 1, capB, o.TruncateLeft); err != nil {
			return nil, err
		}
		bp = &s.b
	}
	if o.MaxLength > 0 {
		limit := o.MaxLength
		if o.AddSpecialTokens {
			n := t.NumSpecialTokens(hasPair)
			if n > limit {
				return nil, fmt.Errorf("%w (%d < %d)", ErrMaxLength, limit, n)
			}
			limit -= n
		}
		if err := truncateEncodings(&s.a, bp, limit, o.Truncation, o.TruncateLeft); err != nil {
			return nil, err
		}
	} else if o.MaxLength < 0 {
		return nil, fmt.Errorf("tokenizer: negative max length %d", o.MaxLength)
	}
	s.out.reset()
	if t.post != nil {
		t.post.process(&s.a, bp, o.AddSpecialTokens, &s.out)
	} else {
		defaultProcess(&s.a, bp, &s.out)
	}
	return &s.out, nil
}

// Encode encodes one text.
func (t *Tokenizer) Encode(text string, o Options) (*Encoding, error) {
	return t.encodeOne(text, "", false, o)
}

// EncodePair encodes a pair of texts (question and passage, query and
// document...).
func (t *Tokenizer) EncodePair(a, b string, o Options) (*Encoding, error) {
	return t.encodeOne(a, b, true, o)
}

func (t *Tokenizer) encodeOne(a, b string, hasPair bool, o Options) (*Encoding, error) {
	padTo := 0
	if o.Padding == PadMaxLength {
		if o.MaxLength <= 0 {
			return nil, errors.New("tokenizer: PadMaxLength needs MaxLength")
		}
		padTo = o.MaxLength
	}
	if padTo > 0 {
		if _, ok := t.PadID(); !ok {
			return nil, errors.New("tokenizer: padding requested but the tokenizer has no pad token")
		}
	}
	s := t.getScratch()
	defer t.putScratch(s)
	e, err := t.encodeWith(s, a, b, hasPair, o)
	if err != nil {
		return nil, err
	}
	return t.finish(e, padTo, o.PadLeft), nil
}

// EncodeBatch encodes the inputs in parallel; with padding, all encodings
// are padded to the same length (PadLongest: the longest of the batch).
func (t *Tokenizer) EncodeBatch(inputs []Input, o Options) ([]*Encoding, error) {
	if o.Padding == PadMaxLength && o.MaxLength <= 0 {
		return nil, errors.New("tokenizer: PadMaxLength needs MaxLength")
	}
	if o.Padding != NoPadding {
		if _, ok := t.PadID(); !ok {
			return nil, errors.New("tokenizer: padding requested but the tokenizer has no pad token")
		}
	}
	out := make([]*Encoding, len(inputs))
	errs := make([]error, len(inputs))
	grain := 1
	if len(inputs) > 64 {
		grain = 8
	}
	parallel.For(len(inputs), grain, func(lo, hi int) {
		s := t.getScratch()
		defer t.putScratch(s)
		for i := lo; i < hi; i++ {
			in := inputs[i]
			e, err := t.encodeWith(s, in.Text, in.Pair, in.HasPair, o)
			if err != nil {
				errs[i] = fmt.Errorf("input %d: %w", i, err)
				continue
			}
			out[i] = t.finish(e, 0, false)
		}
	})
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	padTo := 0
	switch o.Padding {
	case PadLongest:
		for _, e := range out {
			padTo = max(padTo, e.Len())
		}
	case PadMaxLength:
		padTo = o.MaxLength
	}
	if padTo > 0 {
		for i, e := range out {
			if e.Len() < padTo {
				out[i] = t.pad(e, padTo, o.PadLeft)
			}
		}
	}
	return out, nil
}

// finish copies an encoding out of the scratch, padded to padTo.
func (t *Tokenizer) finish(e *enc, padTo int, left bool) *Encoding {
	n := e.len()
	total := max(n, padTo)
	ints := make([]int, 6*total)
	offs := make([][2]int, 2*total)
	r := &Encoding{
		IDs:               ints[0*total : 1*total : 1*total],
		TypeIDs:           ints[1*total : 2*total : 2*total],
		AttentionMask:     ints[2*total : 3*total : 3*total],
		SpecialTokensMask: ints[3*total : 4*total : 4*total],
		WordIDs:           ints[4*total : 5*total : 5*total],
		SequenceIDs:       ints[5*total : 6*total : 6*total],
		Offsets:           offs[:total:total],
		ByteOffsets:       offs[total : 2*total : 2*total],
		Tokens:            make([]string, total),
	}
	p := 0 // first position of the real tokens
	if left {
		p = total - n
	}
	for i := 0; i < n; i++ {
		j := p + i
		r.IDs[j] = int(e.ids[i])
		r.Tokens[j] = e.toks[i]
		r.TypeIDs[j] = int(e.types[i])
		r.AttentionMask[j] = 1
		r.SpecialTokensMask[j] = int(e.special[i])
		r.WordIDs[j] = int(e.words[i])
		r.SequenceIDs[j] = int(e.seq[i])
		r.Offsets[j] = [2]int{int(e.offs[i][0]), int(e.offs[i][1])}
		r.ByteOffsets[j] = [2]int{int(e.boffs[i][0]), int(e.boffs[i][1])}
	}
	if total > n {
		id, typeID, tok := t.padInfo()
		for k := 0; k < total-n; k++ {
			j := n + k
			if left {
				j = k
			}
			r.IDs[j] = id
			r.Tokens[j] = tok
			r.TypeIDs[j] = typeID
			r.SpecialTokensMask[j] = 1
			r.WordIDs[j] = -1
			r.SequenceIDs[j] = -1
		}
	}
	return r
}

// pad returns e padded to n tokens.
func (t *Tokenizer) pad(e *Encoding, n int, left bool) *Encoding {
	var tmp enc
	for i := range e.IDs {
		if e.AttentionMask[i] == 0 {
			continue // already padding
		}
		tmp.ids = append(tmp.ids, int32(e.IDs[i]))
		tmp.toks = append(tmp.toks, e.Tokens[i])
		tmp.types = append(tmp.types, int32(e.TypeIDs[i]))
		tmp.offs = append(tmp.offs, [2]int32{int32(e.Offsets[i][0]), int32(e.Offsets[i][1])})
		tmp.boffs = append(tmp.boffs, [2]int32{int32(e.ByteOffsets[i][0]), int32(e.ByteOffsets[i][1])})
		tmp.words = append(tmp.words, int32(e.WordIDs[i]))
		tmp.special = append(tmp.special, uint8(e.SpecialTokensMask[i]))
		tmp.seq = append(tmp.seq, int8(e.SequenceIDs[i]))
	}
	return t.finish(&tmp, n, left)
}
