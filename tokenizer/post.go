package tokenizer

import (
	"fmt"
	"unicode/utf8"
)

// enc is an encoding under construction (one sequence, or the result of
// post-processing). Offsets are kept both in characters and in bytes.
type enc struct {
	ids     []int32
	toks    []string
	types   []int32
	offs    [][2]int32 // characters
	boffs   [][2]int32 // bytes
	words   []int32
	special []uint8
	seq     []int8
}

func (e *enc) reset() {
	e.ids, e.toks, e.types = e.ids[:0], e.toks[:0], e.types[:0]
	e.offs, e.boffs, e.words = e.offs[:0], e.boffs[:0], e.words[:0]
	e.special, e.seq = e.special[:0], e.seq[:0]
}

func (e *enc) len() int { return len(e.ids) }

// appendSpecial adds a token inserted by a post-processor.
func (e *enc) appendSpecial(id int32, tok string, typeID int32) {
	e.ids = append(e.ids, id)
	e.toks = append(e.toks, tok)
	e.types = append(e.types, typeID)
	e.offs = append(e.offs, [2]int32{})
	e.boffs = append(e.boffs, [2]int32{})
	e.words = append(e.words, -1)
	e.special = append(e.special, 1)
	e.seq = append(e.seq, -1)
}

// appendSeq adds all tokens of a sequence; typeID < 0 keeps its type ids.
func (e *enc) appendSeq(o *enc, typeID int32) {
	e.ids = append(e.ids, o.ids...)
	e.toks = append(e.toks, o.toks...)
	if typeID < 0 {
		e.types = append(e.types, o.types...)
	} else {
		for range o.ids {
			e.types = append(e.types, typeID)
		}
	}
	e.offs = append(e.offs, o.offs...)
	e.boffs = append(e.boffs, o.boffs...)
	e.words = append(e.words, o.words...)
	e.special = append(e.special, o.special...)
	e.seq = append(e.seq, o.seq...)
}

// truncate keeps n tokens, the first ones or (left) the last ones.
func (e *enc) truncate(n int, left bool) {
	if n >= e.len() {
		return
	}
	if left {
		d := e.len() - n
		e.ids = append(e.ids[:0], e.ids[d:]...)
		e.toks = append(e.toks[:0], e.toks[d:]...)
		e.types = append(e.types[:0], e.types[d:]...)
		e.offs = append(e.offs[:0], e.offs[d:]...)
		e.boffs = append(e.boffs[:0], e.boffs[d:]...)
		e.words = append(e.words[:0], e.words[d:]...)
		e.special = append(e.special[:0], e.special[d:]...)
		e.seq = append(e.seq[:0], e.seq[d:]...)
		return
	}
	e.ids, e.toks, e.types = e.ids[:n], e.toks[:n], e.types[:n]
	e.offs, e.boffs, e.words = e.offs[:n], e.boffs[:n], e.words[:n]
	e.special, e.seq = e.special[:n], e.seq[:n]
}

// trimOffsets is the ByteLevel post-processor's process_offsets: offsets
// shrink past leading and trailing spaces of the token (the Ġ character or
// real whitespace), counted in characters and applied to both offset kinds.
func (e *enc) trimOffsets(addPrefixSpace bool) {
	for i, tok := range e.toks {
		lead, trail := 0, 0
		for _, r := range tok {
			if r != 'Ġ' && !isSpace(r) {
				break
			}
			lead++
		}
		for j := len(tok); j > 0; {
			r, k := utf8.DecodeLastRuneInString(tok[:j])
			if r != 'Ġ' && !isSpace(r) {
				break
			}
			trail++
			j -= k
		}
		if lead == 0 && trail == 0 {
			continue
		}
		for _, o := range []*[2]int32{&e.offs[i], &e.boffs[i]} {
			l := lead
			if l > 0 {
				if (i == 0 || o[0] == 0) && addPrefixSpace && l == 1 {
					l = 0
				}
				o[0] = min(o[0]+int32(l), o[1])
			}
			if trail > 0 && o[1] >= int32(trail) {
				o[1] = max(o[1]-int32(trail), o[0])
			}
		}
	}
}

// postProcessor adds special tokens and sets type ids (PostProcessor).
type postProcessor interface {
	// process writes the final encoding of a (and b, when not nil) to out.
	process(a, b *enc, addSpecial bool, out *enc)
	added(pair bool) int
}

// defaultProcess concatenates the sequences as they are.
func defaultProcess(a, b *enc, out *enc) {
	out.appendSeq(a, -1)
	if b != nil {
		out.appendSeq(b, -1)
	}
}

type specialTok struct {
	id  int32
	tok string
}

// templatePiece is $A / $B (seq 0 / 1) or a special token.
type templatePiece struct {
	seq     int // 0, 1 or -1 for a special token
	special []specialTok
	typeID  int32
}

type templateProc struct {
	single, pair []templatePiece
}

func (p *templateProc) added(pair bool) int {
	t := p.single
	if pair {
		t = p.pair
	}
	n := 0
	for _, q := range t {
		if q.seq < 0 {
			n += len(q.special)
		}
	}
	return n
}

func (p *templateProc) process(a, b *enc, addSpecial bool, out *enc) {
	t := p.single
	if b != nil {
		t = p.pair
	}
	for _, q := range t {
		switch {
		case q.seq == 0:
			out.appendSeq(a, q.typeID)
		case q.seq == 1 && b != nil:
			out.appendSeq(b, q.typeID)
		case q.seq < 0 && addSpecial:
			for _, s := range q.special {
				out.appendSpecial(s.id, s.tok, q.typeID)
			}
		}
	}
}

// bertProc is BertProcessing: [CLS] A [SEP] (B [SEP]).
type bertProc struct{ cls, sep specialTok }

func (p *bertProc) added(pair bool) int {
	if pair {
		return 3
	}
	return 2
}

func (p *bertProc) process(a, b *enc, addSpecial bool, out *enc) {
	if !addSpecial {
		defaultProcess(a, b, out)
		return
	}
	out.appendSpecial(p.cls.id, p.cls.tok, 0)
	out.appendSeq(a, -1)
	out.appendSpecial(p.sep.id, p.sep.tok, 0)
	if b != nil {
		out.appendSeq(b, -1)
		out.appendSpecial(p.sep.id, p.sep.tok, 1)
	}
}

// robertaProc is RobertaProcessing: <s> A </s> (</s> B </s>), type ids 0.
type robertaProc struct {
	cls, sep       specialTok
	trimOffsets    bool
	addPrefixSpace bool
}

func (p *robertaProc) added(pair bool) int {
	if pair {
		return 4
	}
	return 2
}

func (p *robertaProc) process(a, b *enc, addSpecial bool, out *enc) {
	if p.trimOffsets {
		a.trimOffsets(p.addPrefixSpace)
		if b != nil {
			b.trimOffsets(p.addPrefixSpace)
		}
	}
	if !addSpecial {
		out.appendSeq(a, 0)
		if b != nil {
			out.appendSeq(b, 0)
		}
		return
	}
	out.appendSpecial(p.cls.id, p.cls.tok, 0)
	out.appendSeq(a, 0)
	out.appendSpecial(p.sep.id, p.sep.tok, 0)
	if b != nil {
		out.appendSpecial(p.sep.id, p.sep.tok, 0)
		out.appendSeq(b, 0)
		out.appendSpecial(p.sep.id, p.sep.tok, 0)
	}
}

// byteLevelProc is the ByteLevel post-processor (offset trimming only).
type byteLevelProc struct {
	trimOffsets    bool
	addPrefixSpace bool
}

func (p *byteLevelProc) added(bool) int { return 0 }

func (p *byteLevelProc) process(a, b *enc, _ bool, out *enc) {
	if p.trimOffsets {
		a.trimOffsets(p.addPrefixSpace)
		if b != nil {
			b.trimOffsets(p.addPrefixSpace)
		}
	}
	defaultProcess(a, b, out)
}

// seqProc is a Sequence of post-processors: offset trimmers first, then at
// most one processor that builds the final encoding.
type seqProc struct {
	trims []*byteLevelProc
	last  postProcessor // may be nil
}

func (p *seqProc) added(pair bool) int {
	if p.last == nil {
		return 0
	}
	return p.last.added(pair)
}

func (p *seqProc) process(a, b *enc, addSpecial bool, out *enc) {
	for _, t := range p.trims {
		if t.trimOffsets {
			a.trimOffsets(t.addPrefixSpace)
			if b != nil {
				b.trimOffsets(t.addPrefixSpace)
			}
		}
	}
	if p.last == nil {
		defaultProcess(a, b, out)
		return
	}
	p.last.process(a, b, addSpecial, out)
}

// Strategy is a truncation strategy.
type Strategy int

const (
	// LongestFirst removes tokens from the longer sequence first.
	LongestFirst Strategy = iota
	// OnlyFirst truncates only the first sequence.
	OnlyFirst
	// OnlySecond truncates only the second sequence.
	OnlySecond
)

// truncateEncodings is truncate_encodings (stride 0).
func truncateEncodings(a, b *enc, maxLen int, st Strategy, left bool) error {
	if maxLen == 0 {
		a.truncate(0, left)
		if b != nil {
			b.truncate(0, left)
		}
		return nil
	}
	total := a.len()
	if b != nil {
		total += b.len()
	}
	if total <= maxLen {
		return nil
	}
	toRemove := total - maxLen
	switch st {
	case LongestFirst:
		if b == nil {
			a.truncate(total-toRemove, left)
			return nil
		}
		n1, n2 := a.len(), b.len()
		swap := false
		if n1 > n2 {
			swap = true
			n1, n2 = n2, n1
		}
		if n1 > maxLen {
			n2 = n1
		} else {
			n2 = max(n1, maxLen-n1)
		}
		if n1+n2 > maxLen {
			n1 = maxLen / 2
			n2 = n1 + maxLen%2
		}
		if swap {
			n1, n2 = n2, n1
		}
		a.truncate(n1, left)
		b.truncate(n2, left)
	case OnlyFirst, OnlySecond:
		t := a
		if st == OnlySecond {
			if b == nil {
				return fmt.Errorf("truncation only_second needs a second sequence")
			}
			t = b
		}
		if t.len() <= toRemove {
			return fmt.Errorf("truncation: sequence of %d tokens is too short to remove %d", t.len(), toRemove)
		}
		t.truncate(t.len()-toRemove, left)
	default:
		return fmt.Errorf("unknown truncation strategy %d", st)
	}
	return nil
}
