package tokenizer

// normalizer rewrites one split in place (see NormalizedString in the Rust
// crate: every operation keeps the alignments to the original text).
type normalizer interface {
	normalize(s *scratch, sp *split)
}

type normSequence []normalizer

func (n normSequence) normalize(s *scratch, sp *split) {
	for _, m := range n {
		m.normalize(s, sp)
	}
}

type unicodeNorm struct{ form normForm }

func (n unicodeNorm) normalize(s *scratch, sp *split) { s.unicodeNormalize(sp, n.form) }

// bertNorm is BertNormalizer.
type bertNorm struct {
	cleanText, chinese, stripAccents, lowercase bool
}

func (n bertNorm) normalize(s *scratch, sp *split) {
	a := &s.ar
	if isASCII(a.b[sp.lo:sp.hi]) {
		n.asciiPath(a, sp)
		return
	}
	if !n.fused(s, sp) {
		n.stepwise(s, sp)
	}
}

// asciiPath: for ASCII every step maps one byte to at most one byte.
func (n bertNorm) asciiPath(a *arena, sp *split) {
	w := sp.lo
	for i := sp.lo; i < sp.hi; i++ {
		c := a.b[i]
		if n.cleanText {
			if c == 0x7f || (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
				continue
			}
			if c < 0x20 {
				c = ' '
			}
		}
		if n.lowercase && c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		a.b[w] = c
		a.lo[w] = a.lo[i]
		a.hi[w] = a.hi[i]
		w++
	}
	sp.hi = w
}

// stepwise runs the four steps one after the other, exactly as written in
// the Rust normalizer.
func (n bertNorm) stepwise(s *scratch, sp *split) {
	a := &s.ar
	if n.cleanText {
		a.filter(sp, func(r rune) bool { return !(r == 0 || r == 0xFFFD || isBertControl(r)) })
		x := a.begin(sp)
		for x.pos < len(x.src) {
			r, _ := decodeRune(x.src[x.pos:])
			if isSpace(r) {
				x.emit(' ', 0)
			} else {
				x.copyChar()
			}
		}
		x.finish(sp)
	}
	if n.chinese {
		x := a.begin(sp)
		for x.pos < len(x.src) {
			r, _ := decodeRune(x.src[x.pos:])
			if isChineseChar(r) {
				x.emit(' ', 0)
				x.emit(r, 1)
				x.emit(' ', 1)
			} else {
				x.copyChar()
			}
		}
		x.finish(sp)
	}
	if n.stripAccents {
		s.unicodeNormalize(sp, formNFD)
		a.filter(sp, func(r rune) bool { return !isMn8(r) })
	}
	if n.lowercase {
		lowercase(s, sp)
	}
}

// fused does all steps in one pass over the characters. Every step maps
// one character to characters aligned with it, so this equals stepwise
// unless the canonical reordering of NFD would move a character that
// survives accent stripping; fused reports false then and leaves sp as it
// was.
func (n bertNorm) fused(s *scratch, sp *split) bool {
	a := &s.ar
	mark := len(a.b)
	x := a.begin(sp)
	var pieces, low []rune
	for x.pos < len(x.src) {
		r, k := decodeRune(x.src[x.pos:])
		lo, hi := a.lo[x.srcLo+x.pos], a.hi[x.srcLo+x.pos]
		x.pos += k
		if n.cleanText {
			if r == 0 || r == 0xFFFD || isBertControl(r) {
				continue
			}
			if isSpace(r) {
				r = ' '
			}
		}
		chinese := n.chinese && isChineseChar(r)
		if chinese {
			x.put(' ', lo, hi)
		}
		pieces = append(pieces[:0], r)
		if n.stripAccents && r >= 0xC0 {
			pieces = decompose(pieces[:0], r, false)
			w := 0
			for _, p := range pieces {
				if isMn8(p) {
					continue
				}
				if cccOf(p) != 0 {
					// A surviving non-starter could be reordered.
					a.b, a.lo, a.hi = a.b[:mark], a.lo[:mark], a.hi[:mark]
					return false
				}
				pieces[w] = p
				w++
			}
			pieces = pieces[:w]
		}
		for _, p := range pieces {
			if n.lowercase {
				low = toLowerFull(low[:0], p)
				for _, l := range low {
					x.put(l, lo, hi)
				}
			} else {
				x.put(p, lo, hi)
			}
		}
		if chinese {
			x.put(' ', lo, hi)
		}
	}
	x.finish(sp)
	return true
}

// lowercase is NormalizedString::lowercase.
func lowercase(s *scratch, sp *split) {
	a := &s.ar
	if isASCII(a.b[sp.lo:sp.hi]) {
		for i := sp.lo; i < sp.hi; i++ {
			if c := a.b[i]; c >= 'A' && c <= 'Z' {
				a.b[i] = c + 'a' - 'A'
			}
		}
		return
	}
	x := a.begin(sp)
	var low []rune
	for x.pos < len(x.src) {
		r, _ := decodeRune(x.src[x.pos:])
		low = toLowerFull(low[:0], r)
		for i, l := range low {
			if i == 0 {
				x.emit(l, 0)
			} else {
				x.emit(l, 1)
			}
		}
	}
	x.finish(sp)
}

type lowercaseNorm struct{}

func (lowercaseNorm) normalize(s *scratch, sp *split) { lowercase(s, sp) }

// stripAccentsNorm removes Mn characters (it does not decompose first).
type stripAccentsNorm struct{}

func (stripAccentsNorm) normalize(s *scratch, sp *split) {
	s.ar.filter(sp, func(r rune) bool { return !isMn8(r) })
}

// stripNorm removes leading and/or trailing whitespace.
type stripNorm struct{ left, right bool }

func (n stripNorm) normalize(s *scratch, sp *split) {
	a := &s.ar
	if n.left {
		for sp.lo < sp.hi {
			r, k := decodeRune(a.b[sp.lo:sp.hi])
			if !isSpace(r) {
				break
			}
			sp.lo += int32(k)
		}
	}
	if n.right {
		for sp.hi > sp.lo {
			r, k := decodeLastRune(a.b[sp.lo:sp.hi])
			if !isSpace(r) {
				break
			}
			sp.hi -= int32(k)
		}
	}
}

// replaceNorm replaces every match of a pattern by a string.
type replaceNorm struct {
	pat     pattern
	content []rune
}

func (n replaceNorm) normalize(s *scratch, sp *split) {
	a := &s.ar
	s.matches = n.pat.find(a.b[sp.lo:sp.hi], s.matches[:0])
	if len(s.matches) == 0 {
		return
	}
	x := a.begin(sp)
	for _, m := range s.matches {
		for x.pos < int(m[0]) {
			x.copyChar()
		}
		x.skip(runeCount(x.src[m[0]:m[1]]))
		for _, c := range n.content {
			x.emit(c, 1)
		}
	}
	x.copyRest()
	x.finish(sp)
}

// prependNorm puts a string in front of a non-empty text.
type prependNorm struct{ s []rune }

func (n prependNorm) normalize(s *scratch, sp *split) {
	if sp.empty() || len(n.s) == 0 {
		return
	}
	x := s.ar.begin(sp)
	first, _ := decodeRune(x.src)
	for i, c := range n.s {
		if i == 0 {
			x.emit(c, 0)
		} else {
			x.emit(c, 1)
		}
	}
	x.emit(first, 1)
	x.copyRest()
	x.finish(sp)
}

// byteLevelNorm is the ByteLevel normalizer: every byte becomes its GPT-2
// character.
type byteLevelNorm struct{}

func (byteLevelNorm) normalize(s *scratch, sp *split) {
	sp.flags |= flagMapped
	s.ar.materialize(sp)
}

func runeCount(b []byte) int {
	n := 0
	for i := 0; i < len(b); {
		_, k := decodeRune(b[i:])
		i += k
		n++
	}
	return n
}
