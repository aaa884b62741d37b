package tokenizer

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
)

// pattern finds the non-overlapping matches of a Split pre-tokenizer or a
// Replace normalizer, left to right, as [start, end) byte ranges.
type pattern interface {
	find(text []byte, dst [][2]int32) [][2]int32
}

// literalPattern is a plain string (Rust escapes it into a regex).
type literalPattern struct{ s []byte }

func (p literalPattern) find(text []byte, dst [][2]int32) [][2]int32 {
	if len(p.s) == 0 {
		return dst
	}
	for i := 0; i <= len(text)-len(p.s); {
		j := bytes.Index(text[i:], p.s)
		if j < 0 {
			break
		}
		dst = append(dst, [2]int32{int32(i + j), int32(i + j + len(p.s))})
		i += j + len(p.s)
	}
	return dst
}

// regexPattern is a Go regexp translated from the Oniguruma syntax.
type regexPattern struct{ re *regexp.Regexp }

func (p regexPattern) find(text []byte, dst [][2]int32) [][2]int32 {
	for _, m := range p.re.FindAllIndex(text, -1) {
		dst = append(dst, [2]int32{int32(m[0]), int32(m[1])})
	}
	return dst
}

// gpt2Pattern is the GPT-2 split regex, written as a scanner (it needs a
// lookahead Go's regexp does not have).
type gpt2Pattern struct{}

func (gpt2Pattern) find(text []byte, dst [][2]int32) [][2]int32 {
	for i := 0; i < len(text); {
		e := gpt2Next(text, i)
		dst = append(dst, [2]int32{int32(i), int32(e)})
		i = e
	}
	return dst
}

// The byte-level (GPT-2) split pattern as it appears in tokenizer.json files.
const gpt2Regex = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`

// gpt2Next returns the end of the match of
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// that starts at i (< len(b)); the alternatives are tried in order, as
// Oniguruma does. Some alternative always matches.
func gpt2Next(b []byte, i int) int {
	n := len(b)
	c := b[i]
	if c == '\'' && i+1 < n {
		switch b[i+1] {
		case 's', 't', 'm', 'd':
			return i + 2
		case 'r', 'v':
			if i+2 < n && b[i+2] == 'e' {
				return i + 3
			}
		case 'l':
			if i+2 < n && b[i+2] == 'l' {
				return i + 3
			}
		}
	}
	j := i
	if c == ' ' {
		j = i + 1
	}
	if j < n {
		r, k := decodeRune(b[j:])
		switch {
		case isLetter(r):
			j += k
			for j < n {
				r, k = decodeRune(b[j:])
				if !isLetter(r) {
					break
				}
				j += k
			}
			return j
		case isNumber(r):
			j += k
			for j < n {
				r, k = decodeRune(b[j:])
				if !isNumber(r) {
					break
				}
				j += k
			}
			return j
		case !isSpace(r):
			j += k
			for j < n {
				r, k = decodeRune(b[j:])
				if isSpace(r) || isLetter(r) || isNumber(r) {
					break
				}
				j += k
			}
			return j
		}
	}
	// A whitespace run: \s+(?!\S) then \s+.
	e, last, count := i, i, 0
	for e < n {
		r, k := decodeRune(b[e:])
		if !isSpace(r) {
			break
		}
		last = e
		e += k
		count++
	}
	if e == n || count < 2 {
		return e
	}
	return last
}

// translateRegex turns an Oniguruma (Ruby syntax) pattern, as found in
// tokenizer.json files, into Go regexp syntax. The Unicode classes \s \w
// \d \h are spelled out (Go's are ASCII-only); lookaround, atomic groups
// and possessive quantifiers have no Go equivalent and are errors.
func translateRegex(p string) (string, error) {
	const (
		space = `\t\n\v\f\r \x{85}\p{Z}`
		word  = `\p{L}\p{M}\p{Nd}\p{Pc}`
		digit = `\p{Nd}`
		hex   = `0-9a-fA-F`
	)
	var out strings.Builder
	inClass := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			i++
			d := p[i]
			class := ""
			negated := false
			switch d {
			case 's':
				class = space
			case 'S':
				class, negated = space, true
			case 'w':
				class = word
			case 'W':
				class, negated = word, true
			case 'd':
				class = digit
			case 'D':
				class, negated = digit, true
			case 'h':
				class = hex
			case 'H':
				class, negated = hex, true
			}
			if class == "" {
				out.WriteByte('\\')
				out.WriteByte(d)
				continue
			}
			switch {
			case inClass && negated:
				return "", fmt.Errorf("regex %q: \\%c inside a character class is not supported", p, d)
			case inClass:
				out.WriteString(class)
			case negated:
				out.WriteString("[^" + class + "]")
			default:
				out.WriteString("[" + class + "]")
			}
		case c == '[' && !inClass:
			inClass = true
			out.WriteByte(c)
			if i+1 < len(p) && p[i+1] == '^' {
				out.WriteByte('^')
				i++
			}
			if i+1 < len(p) && p[i+1] == ']' {
				out.WriteString(`\]`)
				i++
			}
		case c == ']' && inClass:
			inClass = false
			out.WriteByte(c)
		case c == '(' && !inClass && i+2 < len(p) && p[i+1] == '?' &&
			(p[i+2] == '=' || p[i+2] == '!' || p[i+2] == '<' || p[i+2] == '>'):
			if p[i+2] == '<' && i+3 < len(p) && p[i+3] != '=' && p[i+3] != '!' {
				out.WriteByte(c) // named group (?<name>...)
				out.WriteString("?P")
				i++
				continue
			}
			return "", fmt.Errorf("regex %q: lookaround and atomic groups are not supported", p)
		case (c == '+' || c == '*' || c == '?' || c == '}') && !inClass && i+1 < len(p) && p[i+1] == '+':
			return "", fmt.Errorf("regex %q: possessive quantifiers are not supported", p)
		default:
			out.WriteByte(c)
		}
	}
	return out.String(), nil
}

// compilePattern builds a pattern from a tokenizer.json {"String": ...} or
// {"Regex": ...} value.
func compilePattern(str *string, re *string) (pattern, error) {
	switch {
	case str != nil:
		return literalPattern{[]byte(*str)}, nil
	case re != nil:
		if *re == gpt2Regex {
			return gpt2Pattern{}, nil
		}
		g, err := translateRegex(*re)
		if err != nil {
			return nil, err
		}
		rx, err := regexp.Compile(g)
		if err != nil {
			return nil, fmt.Errorf("regex %q: %v", *re, err)
		}
		return regexPattern{rx}, nil
	}
	return nil, fmt.Errorf("pattern needs a String or a Regex")
}
