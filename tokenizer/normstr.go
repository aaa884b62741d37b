package tokenizer

import "unicode/utf8"

// The Rust tokenizers keep, for every piece of text, a NormalizedString: the
// normalized text plus, for each of its bytes, the range of the original
// text it came from. Offsets of tokens are read off those alignments. Here
// all pieces of one encode call live in one arena (bytes and alignments side
// by side) and a split is a range of it, so pre-tokenization never copies and
// nothing is allocated once the arena has grown.
//
// Alignments are absolute byte offsets into the original input (Rust keeps
// them relative to each slice and adds the slice's shift back; the result is
// the same). All bytes of one normalized character share one alignment.

type arena struct {
	b      []byte
	lo, hi []int32
}

func (a *arena) reset() {
	a.b = a.b[:0]
	a.lo = a.lo[:0]
	a.hi = a.hi[:0]
}

// appendOriginal copies s into the arena with identity alignments (one
// range per character; an invalid byte is a character of its own).
func (a *arena) appendOriginal(s string) (lo, hi int32) {
	lo = int32(len(a.b))
	a.b = append(a.b, s...)
	a.lo = grow32(a.lo, len(s))
	a.hi = grow32(a.hi, len(s))
	base := int(lo)
	for i := 0; i < len(s); {
		n := 1
		if s[i] >= utf8.RuneSelf {
			_, n = utf8.DecodeRuneInString(s[i:])
		}
		for k := 0; k < n; k++ {
			a.lo[base+i+k] = int32(i)
			a.hi[base+i+k] = int32(i + n)
		}
		i += n
	}
	return lo, int32(len(a.b))
}

func grow32(s []int32, n int) []int32 {
	if cap(s)-len(s) >= n {
		return s[:len(s)+n]
	}
	t := make([]int32, len(s)+n, 2*cap(s)+n)
	copy(t, s)
	return t
}

// Split flags.
const (
	// flagMapped: the bytes are to be read through the GPT-2 byte-to-unicode
	// map (the ByteLevel pre-tokenizer ran; see materialize).
	flagMapped = 1 << iota
)

// split is one piece of a pre-tokenized string.
type split struct {
	lo, hi int32 // normalized text: arena bytes [lo, hi)
	shift  int32 // original offset of the piece (Rust's original_shift)
	id     int32 // added-token id, or -1 when the model still has to run
	flags  uint8
	tokLo  int32 // the piece's tokens: scratch.toks[tokLo:tokHi]
	tokHi  int32
}

func (s *split) empty() bool { return s.hi <= s.lo }

// sub returns the slice [a, b) (relative) of sp, as NormalizedString.slice
// does: the new piece's shift is the original start of its first byte.
func (a *arena) sub(sp *split, s, e int32) split {
	ns := *sp
	ns.lo = sp.lo + s
	ns.hi = sp.lo + e
	if e > s {
		ns.shift = a.lo[ns.lo]
	} else {
		ns.shift = sp.shift + s
	}
	return ns
}

// xform rewrites a split the way NormalizedString::transform does: the
// caller emits every character of the new text with a change count (0:
// replaces the next original character, 1: inserted, -n: replaces the next
// character and removes n more) and the alignments follow. The new text is
// appended to the arena and becomes the split's range.
type xform struct {
	a     *arena
	src   []byte // the text being replaced (a view of the arena)
	srcLo int    // arena index of src[0]
	pos   int    // bytes of src consumed
	shift int32
	outLo int
}

func (a *arena) begin(sp *split) xform {
	return xform{a: a, src: a.b[sp.lo:sp.hi], srcLo: int(sp.lo), shift: sp.shift, outLo: len(a.b)}
}

// skip consumes n characters of the source without emitting anything (the
// initial_offset of transform, or the removed match of replace).
func (x *xform) skip(n int) {
	for ; n > 0 && x.pos < len(x.src); n-- {
		_, k := decodeRune(x.src[x.pos:])
		x.pos += k
	}
}

func (x *xform) emit(c rune, change int) {
	var lo, hi int32
	if change > 0 {
		if x.pos < 1 {
			lo, hi = x.shift, x.shift
		} else {
			lo, hi = x.a.lo[x.srcLo+x.pos-1], x.a.hi[x.srcLo+x.pos-1]
		}
	} else {
		if x.pos < len(x.src) {
			lo, hi = x.a.lo[x.srcLo+x.pos], x.a.hi[x.srcLo+x.pos]
			_, k := decodeRune(x.src[x.pos:])
			x.pos += k
		} else if x.pos > 0 {
			// Rust would index out of range here; keep going with the
			// last alignment instead of failing.
			lo, hi = x.a.lo[x.srcLo+x.pos-1], x.a.hi[x.srcLo+x.pos-1]
		} else {
			lo, hi = x.shift, x.shift
		}
		if change < 0 {
			x.skip(-change)
		}
	}
	x.put(c, lo, hi)
}

// put appends c with an explicit alignment.
func (x *xform) put(c rune, lo, hi int32) {
	a := x.a
	n := len(a.b)
	if c < utf8.RuneSelf && c >= 0 {
		a.b = append(a.b, byte(c))
	} else {
		a.b = utf8.AppendRune(a.b, c)
	}
	k := len(a.b) - n
	a.lo = grow32(a.lo, k)
	a.hi = grow32(a.hi, k)
	for i := n; i < n+k; i++ {
		a.lo[i] = lo
		a.hi[i] = hi
	}
}

// copyRest copies the unconsumed rest of the source unchanged (each
// character replacing itself; invalid bytes stay as they are).
func (x *xform) copyRest() {
	for x.pos < len(x.src) {
		_, k := decodeRune(x.src[x.pos:])
		x.putBytes(x.src[x.pos:x.pos+k], x.a.lo[x.srcLo+x.pos], x.a.hi[x.srcLo+x.pos])
		x.pos += k
	}
}

// copyChar copies the next source character unchanged.
func (x *xform) copyChar() {
	_, k := decodeRune(x.src[x.pos:])
	x.putBytes(x.src[x.pos:x.pos+k], x.a.lo[x.srcLo+x.pos], x.a.hi[x.srcLo+x.pos])
	x.pos += k
}

func (x *xform) putBytes(b []byte, lo, hi int32) {
	a := x.a
	n := len(a.b)
	a.b = append(a.b, b...)
	a.lo = grow32(a.lo, len(b))
	a.hi = grow32(a.hi, len(b))
	for i := n; i < len(a.b); i++ {
		a.lo[i] = lo
		a.hi[i] = hi
	}
}

func (x *xform) finish(sp *split) {
	sp.lo = int32(x.outLo)
	sp.hi = int32(len(x.a.b))
}

// compact keeps the characters of sp for which keep is true, in place.
// This is NormalizedString::filter: kept characters keep their alignments.
func (a *arena) filter(sp *split, keep func(rune) bool) {
	w := sp.lo
	for i := sp.lo; i < sp.hi; {
		c, k := decodeRune(a.b[i:sp.hi])
		if keep(c) {
			if w != i {
				copy(a.b[w:], a.b[i:i+int32(k)])
				copy(a.lo[w:], a.lo[i:i+int32(k)])
				copy(a.hi[w:], a.hi[i:i+int32(k)])
			}
			w += int32(k)
		}
		i += int32(k)
	}
	sp.hi = w
}

// materialize replaces a byte-mapped split by its mapped text: each byte
// becomes the character of the GPT-2 byte-to-unicode map, aligned with the
// character it came from (the second transform of the ByteLevel
// pre-tokenizer).
func (a *arena) materialize(sp *split) {
	if sp.flags&flagMapped == 0 {
		return
	}
	x := a.begin(sp)
	for i := 0; i < len(x.src); {
		_, k := decodeRune(x.src[i:])
		for j := 0; j < k; j++ {
			ch := 1
			if j == 0 {
				ch = 0
			}
			x.emit(byteToRune[x.src[i+j]], ch)
		}
		i += k
	}
	x.finish(sp)
	sp.flags &^= flagMapped
}
