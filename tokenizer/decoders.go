package tokenizer

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// decoder turns tokens back into text (Decoder::decode_chain; the final
// string is the concatenation of what the chain returns).
type decoder interface {
	decodeChain(toks []string) []string
}

type decSequence []decoder

func (d decSequence) decodeChain(toks []string) []string {
	for _, x := range d {
		toks = x.decodeChain(toks)
	}
	return toks
}

// wordPieceDec joins "##" pieces to the previous token and puts a space
// before the others; cleanup removes spaces before punctuation and around
// some English contractions.
type wordPieceDec struct {
	prefix  string
	cleanup bool
}

func (d wordPieceDec) decodeChain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		if i != 0 {
			if strings.HasPrefix(t, d.prefix) {
				t = strings.Replace(t, d.prefix, "", 1)
			} else {
				t = " " + t
			}
		}
		if d.cleanup {
			t = cleanupSpaces(t)
		}
		out[i] = t
	}
	return out
}

var cleanupReplacer = []struct{ from, to string }{
	{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
	{" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
}

// cleanupSpaces applies the replacements one after the other, as the Rust
// crate chains str::replace.
func cleanupSpaces(s string) string {
	for _, r := range cleanupReplacer {
		if strings.Contains(s, r.from) {
			s = strings.ReplaceAll(s, r.from, r.to)
		}
	}
	return s
}

// byteLevelDec maps byte-level characters back to bytes; a token with a
// character outside the map is taken as it is. Invalid UTF-8 in the result
// becomes U+FFFD (String::from_utf8_lossy).
type byteLevelDec struct{}

func (byteLevelDec) decodeChain(toks []string) []string {
	var b []byte
	for _, t := range toks {
		n := len(b)
		ok := true
		for _, r := range t {
			c, in := runeToByte[r]
			if !in {
				ok = false
				break
			}
			b = append(b, c)
		}
		if !ok {
			b = append(b[:n], t...)
		}
	}
	return []string{lossyUTF8(b)}
}

// lossyUTF8 is String::from_utf8_lossy: each maximal invalid sequence
// becomes one U+FFFD.
func lossyUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	for i := 0; i < len(b); {
		r, k := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && k <= 1 {
			sb.WriteRune(utf8.RuneError)
			i += invalidSeqLen(b[i:])
			continue
		}
		sb.Write(b[i : i+k])
		i += k
	}
	return sb.String()
}

// invalidSeqLen is the length of the maximal prefix of an ill-formed
// sequence (Unicode's "substitution of maximal subparts", which Rust uses).
func invalidSeqLen(b []byte) int {
	c := b[0]
	var need int
	lo, hi := byte(0x80), byte(0xBF)
	switch {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		need = 2
	case c == 0xED:
		need, hi = 2, 0x9F
	case c == 0xF0:
		need, lo = 3, 0x90
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	case c == 0xF4:
		need, hi = 3, 0x8F
	default:
		return 1
	}
	i := 1
	for ; i <= need && i < len(b); i++ {
		if b[i] < lo || b[i] > hi {
			return i
		}
		lo, hi = 0x80, 0xBF
	}
	return i
}

// metaspaceDec turns the replacement character back into spaces; in the
// first token it is dropped unless the prepend scheme is "never".
type metaspaceDec struct {
	repl      rune
	dropFirst bool
}

func (d metaspaceDec) decodeChain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		var sb strings.Builder
		for _, r := range t {
			if r == d.repl {
				if i == 0 && d.dropFirst {
					continue
				}
				sb.WriteByte(' ')
				continue
			}
			sb.WriteRune(r)
		}
		out[i] = sb.String()
	}
	return out
}

// bpeDec replaces the end-of-word suffix by a space (nothing after the last
// token).
type bpeDec struct{ suffix string }

func (d bpeDec) decodeChain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		rep := " "
		if i == len(toks)-1 {
			rep = ""
		}
		out[i] = strings.ReplaceAll(t, d.suffix, rep)
	}
	return out
}

// replaceDec replaces a literal string in every token.
type replaceDec struct{ from, to string }

func (d replaceDec) decodeChain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		if d.from == "" {
			out[i] = t
			continue
		}
		out[i] = strings.ReplaceAll(t, d.from, d.to)
	}
	return out
}

// stripDec removes up to start leading and stop trailing content
// characters of every token.
type stripDec struct {
	content     rune
	start, stop int
}

func (d stripDec) decodeChain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		rs := []rune(t)
		a := 0
		for a < d.start && a < len(rs) && rs[a] == d.content {
			a++
		}
		b := len(rs)
		for n := 0; n < d.stop && b > a && rs[b-1] == d.content; n++ {
			b--
		}
		out[i] = string(rs[a:b])
	}
	return out
}

// fuseDec joins all tokens into one.
type fuseDec struct{}

func (fuseDec) decodeChain(toks []string) []string { return []string{strings.Join(toks, "")} }

// byteFallbackDec turns runs of "<0xHH>" tokens into the text of their
// bytes (U+FFFD for each byte when they are not valid UTF-8).
type byteFallbackDec struct{}

func parseByteToken(t string) (byte, bool) {
	if len(t) != 6 || !strings.HasPrefix(t, "<0x") || t[5] != '>' {
		return 0, false
	}
	v, err := strconv.ParseUint(t[3:5], 16, 8)
	return byte(v), err == nil
}

func (byteFallbackDec) decodeChain(toks []string) []string {
	var out []string
	var pend []byte
	flush := func() {
		if len(pend) == 0 {
			return
		}
		if utf8.Valid(pend) {
			out = append(out, string(pend))
		} else {
			for range pend {
				out = append(out, "\uFFFD")
			}
		}
		pend = pend[:0]
	}
	for _, t := range toks {
		if b, ok := parseByteToken(t); ok {
			pend = append(pend, b)
			continue
		}
		flush()
		out = append(out, t)
	}
	flush()
	return out
}

// ctcDec collapses repeated tokens, removes the pad token and (with
// cleanup) turns the word delimiter into spaces; empty results are dropped.
type ctcDec struct {
	pad, delim string
	cleanup    bool
}

func (d ctcDec) decodeChain(toks []string) []string {
	var out []string
	for i, t := range toks {
		if i > 0 && toks[i-1] == t {
			continue
		}
		if d.pad != "" {
			t = strings.ReplaceAll(t, d.pad, "")
		}
		if d.cleanup {
			t = cleanupSpaces(t)
			if d.delim != "" {
				t = strings.ReplaceAll(t, d.delim, " ")
			}
		}
		if t != "" {
			out = append(out, t)
		}
	}
	return out
}
