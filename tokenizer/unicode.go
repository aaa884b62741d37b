package tokenizer

import (
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/rangetable"
)

// Character classes, each matching what the Rust `tokenizers` crate uses at
// the corresponding place. Two Unicode editions are involved:
//
//   - Rust's std (char::is_whitespace, is_numeric, to_lowercase), the regex
//     crate (\w, \s) and Oniguruma (\p{L}, \p{N}) follow current Unicode;
//     Go's tables (15.0) stand in for them.
//   - The unicode_categories crate (BERT's is_control, is_punctuation and
//     Mn for accent stripping) was generated from Unicode 8.0: a character
//     assigned later is in none of its categories. Those classes are the Go
//     category intersected with the code points assigned in Unicode 8.0.

// bitset is a set of code points.
type bitset []uint64

func (b bitset) has(r rune) bool {
	if r < 0 || int(r>>6) >= len(b) {
		return false
	}
	return b[r>>6]&(1<<(uint(r)&63)) != 0
}

func (b bitset) add(r rune) { b[r>>6] |= 1 << (uint(r) & 63) }

// set8 builds the code points of the tables that were assigned in Unicode 8.0.
func set8(tables ...*unicode.RangeTable) bitset {
	assigned := rangetable.Assigned("8.0.0")
	b := make(bitset, (unicode.MaxRune+64)/64)
	for _, t := range tables {
		for _, r16 := range t.R16 {
			for r := rune(r16.Lo); r <= rune(r16.Hi); r += rune(r16.Stride) {
				if unicode.Is(assigned, r) {
					b.add(r)
				}
			}
		}
		for _, r32 := range t.R32 {
			for r := rune(r32.Lo); r <= rune(r32.Hi); r += rune(r32.Stride) {
				if unicode.Is(assigned, r) {
					b.add(r)
				}
			}
		}
	}
	return b
}

// set8like is the set of code points assigned in the given Unicode version.
func set8like(version string) bitset {
	assigned := rangetable.Assigned(version)
	b := make(bitset, (unicode.MaxRune+64)/64)
	for _, r16 := range assigned.R16 {
		for r := rune(r16.Lo); r <= rune(r16.Hi); r += rune(r16.Stride) {
			b.add(r)
		}
	}
	for _, r32 := range assigned.R32 {
		for r := rune(r32.Lo); r <= rune(r32.Hi); r += rune(r32.Stride) {
			b.add(r)
		}
	}
	return b
}

var (
	uc8Once    sync.Once
	uc8Other   bitset // Cc, Cf, Co (unicode_categories' is_other)
	uc8Punct   bitset // P*
	uc8Nonspac bitset // Mn
)

func initUC8() {
	uc8Once.Do(func() {
		uc8Other = set8(unicode.Cc, unicode.Cf, unicode.Co)
		uc8Punct = set8(unicode.P)
		uc8Nonspac = set8(unicode.Mn)
		// Characters whose category changed after Unicode 8.0 (found by
		// comparing every code point with the Rust tokenizers).
		uc8Punct.add(0x166D)                                        // CANADIAN SYLLABICS CHI SIGN: Po then, So now
		uc8Punct.add(0x111C9)                                       // SHARADA SANDHI MARK: Po then, Mn now
		uc8Nonspac.add(0x1734)                                      // HANUNOO SIGN PAMUDPOD: Mn then, Mc now
		for _, r := range []rune{0x1885, 0x1886, 0xA9BD, 0x111C9} { // not Mn then
			uc8Nonspac[r>>6] &^= 1 << (uint(r) & 63)
		}
	})
}

// isOther8 is unicode_categories' is_other (Cc, Cf, Co; Unicode 8.0).
func isOther8(r rune) bool {
	if r < 0x80 {
		return r < 0x20 || r == 0x7f
	}
	initUC8()
	return uc8Other.has(r)
}

// isPunct8 is unicode_categories' is_punctuation (P*; Unicode 8.0).
func isPunct8(r rune) bool {
	initUC8()
	return uc8Punct.has(r)
}

// isMn8 is unicode_categories' is_mark_nonspacing (Mn; Unicode 8.0).
func isMn8(r rune) bool {
	if r < 0x300 {
		return false
	}
	initUC8()
	return uc8Nonspac.has(r)
}

// isSpace is Rust's char::is_whitespace (the White_Space property), which
// is also \s in the regex crate and in Oniguruma.
func isSpace(r rune) bool {
	if r < 0x80 {
		return r == ' ' || (r >= '\t' && r <= '\r')
	}
	return unicode.IsSpace(r)
}

// isASCIIPunct is Rust's char::is_ascii_punctuation.
func isASCIIPunct(r rune) bool {
	return (r >= 0x21 && r <= 0x2f) || (r >= 0x3a && r <= 0x40) || (r >= 0x5b && r <= 0x60) || (r >= 0x7b && r <= 0x7e)
}

// isBertPunct is the punctuation test of BertPreTokenizer and of the
// Punctuation pre-tokenizer.
func isBertPunct(r rune) bool {
	if r < 0x80 {
		return isASCIIPunct(r)
	}
	return isPunct8(r)
}

// isBertControl is BertNormalizer's is_control: \t \n \r count as
// whitespace, everything else in Cc/Cf/Co is dropped.
func isBertControl(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	return isOther8(r)
}

// isChineseChar is BertNormalizer's CJK test (the Rust ranges, including
// 0x2B920 where the Python slow tokenizer says 0x2B820).
func isChineseChar(r rune) bool {
	switch {
	case r >= 0x4E00 && r <= 0x9FFF,
		r >= 0x3400 && r <= 0x4DBF,
		r >= 0x20000 && r <= 0x2A6DF,
		r >= 0x2A700 && r <= 0x2B73F,
		r >= 0x2B740 && r <= 0x2B81F,
		r >= 0x2B920 && r <= 0x2CEAF,
		r >= 0xF900 && r <= 0xFAFF,
		r >= 0x2F800 && r <= 0x2FA1F:
		return true
	}
	return false
}

// isNumeric is Rust's char::is_numeric (Nd, Nl, No).
func isNumeric(r rune) bool {
	if r < 0x80 {
		return r >= '0' && r <= '9'
	}
	return unicode.IsNumber(r)
}

// isWordChar is \w of the Rust regex crate: Alphabetic, M, Nd, Pc and
// Join_Control.
func isWordChar(r rune) bool {
	if r < 0x80 {
		return r == '_' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
	}
	return unicode.IsLetter(r) || unicode.Is(unicode.Nl, r) || unicode.Is(unicode.Other_Alphabetic, r) ||
		unicode.IsMark(r) || unicode.Is(unicode.Nd, r) || unicode.Is(unicode.Pc, r) || unicode.Is(unicode.Join_Control, r)
}

// isLetter and isNumber are Oniguruma's \p{L} and \p{N}.
func isLetter(r rune) bool {
	if r < 0x80 {
		return (r|0x20) >= 'a' && (r|0x20) <= 'z'
	}
	return unicode.IsLetter(r)
}

func isNumber(r rune) bool {
	if r < 0x80 {
		return r >= '0' && r <= '9'
	}
	return unicode.IsNumber(r)
}

// toLowerFull appends Rust's char::to_lowercase(r), which uses the full
// (unconditional) mapping: only U+0130 maps to more than one character.
func toLowerFull(dst []rune, r rune) []rune {
	if r < 0x80 {
		if r >= 'A' && r <= 'Z' {
			r += 'a' - 'A'
		}
		return append(dst, r)
	}
	if r == 0x130 {
		return append(dst, 'i', 0x307)
	}
	return append(dst, unicode.ToLower(r))
}

// decodeRune decodes one character; an invalid byte counts as one
// character of width 1 (it reads as U+FFFD).
func decodeRune(b []byte) (rune, int) {
	if len(b) > 0 && b[0] < utf8.RuneSelf {
		return rune(b[0]), 1
	}
	return utf8.DecodeRune(b)
}

func decodeRuneInString(s string) (rune, int) {
	if len(s) > 0 && s[0] < utf8.RuneSelf {
		return rune(s[0]), 1
	}
	return utf8.DecodeRuneInString(s)
}

// decodeLastRune is the counterpart of decodeRune from the end.
func decodeLastRune(b []byte) (rune, int) {
	if n := len(b); n > 0 && b[n-1] < utf8.RuneSelf {
		return rune(b[n-1]), 1
	}
	return utf8.DecodeLastRune(b)
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
