package tokenizer

import (
	"slices"
	"sync"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Unicode normalization with alignments.
//
// golang.org/x/text gives the normalized text; the Rust tokenizers also need
// to know which original character every output character stands for. They
// get it from the unicode-normalization-alignments crate, whose decomposer
// tags every produced character with a change count (0 for the first
// character of a decomposition, 1 for the others, carried through the
// canonical reordering) and whose composer gives a composite the count
// first + second - 1. Those counts then drive NormalizedString::transform.
// This file reproduces that walk exactly, with x/text supplying the data
// (decompositions, combining classes, primary composites).

type normForm uint8

const (
	formNFD normForm = iota
	formNFKD
	formNFC
	formNFKC
)

func (f normForm) x() norm.Form {
	switch f {
	case formNFKD:
		return norm.NFKD
	case formNFC:
		return norm.NFC
	case formNFKC:
		return norm.NFKC
	}
	return norm.NFD
}

func (f normForm) compat() bool   { return f == formNFKD || f == formNFKC }
func (f normForm) composes() bool { return f == formNFC || f == formNFKC }

// ncp is one character of the decomposed stream.
type ncp struct {
	r      rune
	change int32
	ccc    uint8
}

const (
	hangulSBase  = 0xAC00
	hangulLBase  = 0x1100
	hangulVBase  = 0x1161
	hangulTBase  = 0x11A7
	hangulLCount = 19
	hangulVCount = 21
	hangulTCount = 28
	hangulNCount = hangulVCount * hangulTCount
	hangulSCount = hangulLCount * hangulNCount
)

// The alignments crate carries Unicode 9.0 normalization data: characters
// assigned later have no decomposition, combining class 0 and compose with
// nothing.
var (
	u9Once sync.Once
	u9Set  bitset
)

func inUnicode9(r rune) bool {
	if r < 0x3400 {
		// Everything this low that matters for normalization was assigned
		// long before 9.0, but there are later additions in the 0x0800 and
		// 0x1AB0-0x1DFF blocks; only skip the table for the oldest ranges.
		if r < 0x0860 {
			return true
		}
	}
	u9Once.Do(func() { u9Set = set8like("9.0.0") })
	return u9Set.has(r)
}

func cccOf(r rune) uint8 {
	if r < 0x300 || !inUnicode9(r) {
		return 0
	}
	var buf [utf8.UTFMax]byte
	n := utf8.EncodeRune(buf[:], r)
	return norm.NFD.Properties(buf[:n]).CCC()
}

// decompose appends the full decomposition of r.
func decompose(dst []rune, r rune, compat bool) []rune {
	if r >= hangulSBase && r < hangulSBase+hangulSCount {
		s := r - hangulSBase
		dst = append(dst, hangulLBase+s/hangulNCount, hangulVBase+(s%hangulNCount)/hangulTCount)
		if t := s % hangulTCount; t != 0 {
			dst = append(dst, hangulTBase+t)
		}
		return dst
	}
	if r < 0xA0 || !inUnicode9(r) {
		return append(dst, r)
	}
	var buf [utf8.UTFMax]byte
	n := utf8.EncodeRune(buf[:], r)
	f := norm.NFD
	if compat {
		f = norm.NFKD
	}
	d := f.Properties(buf[:n]).Decomposition()
	if d == nil {
		return append(dst, r)
	}
	for len(d) > 0 {
		c, k := utf8.DecodeRune(d)
		dst = append(dst, c)
		d = d[k:]
	}
	return dst
}

var composeCache sync.Map // uint64(a)<<32|b -> rune (-1: none)

// compose returns the primary composite of a and b, if any.
func compose(a, b rune) (rune, bool) {
	// Hangul LV and LVT.
	if a >= hangulLBase && a < hangulLBase+hangulLCount && b >= hangulVBase && b < hangulVBase+hangulVCount {
		return hangulSBase + ((a-hangulLBase)*hangulVCount+(b-hangulVBase))*hangulTCount, true
	}
	if a >= hangulSBase && a < hangulSBase+hangulSCount && (a-hangulSBase)%hangulTCount == 0 &&
		b > hangulTBase && b < hangulTBase+hangulTCount {
		return a + (b - hangulTBase), true
	}
	key := uint64(uint32(a))<<32 | uint64(uint32(b))
	if v, ok := composeCache.Load(key); ok {
		r := v.(rune)
		return r, r >= 0
	}
	var buf [2 * utf8.UTFMax]byte
	n := utf8.EncodeRune(buf[:], a)
	n += utf8.EncodeRune(buf[n:], b)
	out := norm.NFC.Bytes(buf[:n])
	r := rune(-1)
	if c, k := utf8.DecodeRune(out); k == len(out) && c != utf8.RuneError &&
		inUnicode9(a) && inUnicode9(b) && inUnicode9(c) {
		r = c
	}
	composeCache.Store(key, r)
	return r, r >= 0
}

// unicodeNormalize applies f to sp with the Rust alignments.
func (s *scratch) unicodeNormalize(sp *split, f normForm) {
	a := &s.ar
	text := a.b[sp.lo:sp.hi]
	if isASCII(text) || (utf8.Valid(text) && f.x().IsNormal(text)) {
		// Every character maps to itself with change 0: nothing moves.
		return
	}
	// Decompose, tagging each produced character with its change count.
	buf := s.ncps[:0]
	tmp := s.runes[:0]
	pending := 0 // start of the run of non-starters still to be sorted
	for i := 0; i < len(text); {
		r, k := decodeRune(text[i:])
		i += k
		tmp = decompose(tmp[:0], r, f.compat())
		for j, d := range tmp {
			c := cccOf(d)
			if c == 0 {
				sortByCCC(buf[pending:])
				pending = len(buf)
			}
			ch := int32(1)
			if j == 0 {
				ch = 0
			}
			buf = append(buf, ncp{d, ch, c})
		}
	}
	sortByCCC(buf[pending:])
	s.runes = tmp

	x := a.begin(sp)
	if !f.composes() {
		for _, c := range buf {
			x.emit(c.r, int(c.change))
		}
	} else {
		s.ncps2 = recompose(buf, s.ncps2[:0], &x)
	}
	s.ncps = buf
	x.finish(sp)
}

// sortByCCC is the canonical reordering of a run (stable by class).
func sortByCCC(run []ncp) {
	if len(run) < 2 {
		return
	}
	slices.SortStableFunc(run, func(p, q ncp) int { return int(p.ccc) - int(q.ccc) })
}

// recompose is the canonical composition of the decomposed stream, as the
// crate's Recompositions iterator walks it, emitting to x. pend is scratch.
func recompose(in []ncp, pend []ncp, x *xform) []ncp {
	var (
		composee    ncp
		hasComposee bool
		lastCCC     int = -1 // -1: none
	)
	flush := func() {
		for _, p := range pend {
			x.emit(p.r, int(p.change))
		}
		pend = pend[:0]
	}
	for _, ch := range in {
		if !hasComposee {
			if ch.ccc != 0 {
				x.emit(ch.r, int(ch.change))
				continue
			}
			composee, hasComposee = ch, true
			continue
		}
		if lastCCC < 0 {
			if r, ok := compose(composee.r, ch.r); ok {
				composee.r = r
				composee.change = composee.change + ch.change - 1
				continue
			}
			if ch.ccc == 0 {
				x.emit(composee.r, int(composee.change))
				composee = ch
				continue
			}
			pend = append(pend, ch)
			lastCCC = int(ch.ccc)
			continue
		}
		if lastCCC >= int(ch.ccc) {
			// ch is blocked from the composee.
			if ch.ccc == 0 {
				x.emit(composee.r, int(composee.change))
				flush()
				composee = ch
				lastCCC = -1
				continue
			}
			pend = append(pend, ch)
			lastCCC = int(ch.ccc)
			continue
		}
		if r, ok := compose(composee.r, ch.r); ok {
			composee.r = r
			composee.change = composee.change + ch.change - 1
			continue
		}
		pend = append(pend, ch)
		lastCCC = int(ch.ccc)
	}
	// At the end the crate yields the composee, then drains the buffer.
	if hasComposee {
		x.emit(composee.r, int(composee.change))
	}
	flush()
	return pend
}
