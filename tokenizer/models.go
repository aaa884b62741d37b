package tokenizer

import (
	"fmt"
	"sort"
	"unicode/utf8"
)

// token is one model output; s and e are byte offsets into the piece.
type token struct {
	id   int32
	s, e int32
	str  string
}

// model turns one pre-tokenized piece into tokens (Model::tokenize). A
// Unigram model would implement the same interface.
type model interface {
	// tokenize appends the tokens of text (a pre-tokenized piece). mapped
	// is only ever true for models that report handlesMapped.
	tokenize(s *scratch, text []byte, mapped bool, out []token) ([]token, error)
	handlesMapped() bool
	tokenToID(tok string) (int, bool)
	idToToken(id int) (string, bool)
	vocabSize() int // the model's own vocabulary (without added tokens)
}

// vocabTable is a token -> id map with the reverse table.
type vocabTable struct {
	ids  map[string]int32
	toks []string // id -> token ("" where unused)
	size int      // number of distinct tokens
}

// maxVocabID bounds ids read from a file so that a corrupt id cannot make
// the reverse table huge.
func maxVocabID(n int) int { return 16*n + 1<<16 }

func newVocabTable(m map[string]int, where string) (vocabTable, error) {
	v := vocabTable{ids: make(map[string]int32, len(m)), size: len(m)}
	maxID := -1
	for tok, id := range m {
		if id < 0 || id > maxVocabID(len(m)) {
			return v, fmt.Errorf("%s: token %q has id %d, out of range", where, tok, id)
		}
		maxID = max(maxID, id)
	}
	v.toks = make([]string, maxID+1)
	// Several tokens may share an id; the reverse map then keeps one of
	// them, as a Rust HashMap built from the same pairs would.
	keys := make([]string, 0, len(m))
	for tok := range m {
		keys = append(keys, tok)
	}
	sort.Strings(keys)
	for _, tok := range keys {
		id := m[tok]
		v.ids[tok] = int32(id)
		v.toks[id] = tok
	}
	return v, nil
}

func (v *vocabTable) tokenToID(tok string) (int, bool) {
	id, ok := v.ids[tok]
	return int(id), ok
}

func (v *vocabTable) idToToken(id int) (string, bool) {
	if id < 0 || id >= len(v.toks) {
		return "", false
	}
	t := v.toks[id]
	if t == "" {
		if j, ok := v.ids[""]; !ok || int(j) != id {
			return "", false
		}
	}
	return t, true
}

func (v *vocabTable) vocabSize() int { return v.size }

// trie finds the longest vocabulary entry that is a prefix of a text.
type trie struct {
	root  [256]int32 // node index + 1, 0 = none
	nodes []trieNode
	eb    []byte  // edge labels, sorted per node
	et    []int32 // edge targets
}

type trieNode struct {
	first, n int32 // edges eb/et[first:first+n]
	val      int32 // token id ending here, or -1
}

func buildTrie(keys []string, vals []int32) *trie {
	type bnode struct {
		kids map[byte]int32
		val  int32
	}
	b := []bnode{{val: -1}}
	for i, k := range keys {
		cur := int32(0)
		for j := 0; j < len(k); j++ {
			if b[cur].kids == nil {
				b[cur].kids = map[byte]int32{}
			}
			nx, ok := b[cur].kids[k[j]]
			if !ok {
				nx = int32(len(b))
				b = append(b, bnode{val: -1})
				b[cur].kids[k[j]] = nx
			}
			cur = nx
		}
		if b[cur].val < 0 {
			b[cur].val = vals[i]
		}
	}
	t := &trie{nodes: make([]trieNode, len(b))}
	for i := range b {
		t.nodes[i].val = b[i].val
		t.nodes[i].first = int32(len(t.eb))
		lab := make([]int, 0, len(b[i].kids))
		for c := range b[i].kids {
			lab = append(lab, int(c))
		}
		sort.Ints(lab)
		for _, c := range lab {
			t.eb = append(t.eb, byte(c))
			t.et = append(t.et, b[i].kids[byte(c)])
		}
		t.nodes[i].n = int32(len(lab))
	}
	for c, nx := range b[0].kids {
		t.root[c] = nx + 1
	}
	return t
}

// longest returns the length and value of the longest key that prefixes
// text (0, -1 when none).
func (t *trie) longest(text []byte) (int, int32) {
	if len(text) == 0 {
		return 0, -1
	}
	cur := t.root[text[0]] - 1
	if cur < 0 {
		return 0, -1
	}
	bestLen, bestVal := 0, int32(-1)
	i := 1
	for {
		nd := &t.nodes[cur]
		if nd.val >= 0 {
			bestLen, bestVal = i, nd.val
		}
		if i == len(text) || nd.n == 0 {
			break
		}
		c := text[i]
		lab := t.eb[nd.first : nd.first+nd.n]
		next := int32(-1)
		if len(lab) <= 8 {
			for j, l := range lab {
				if l == c {
					next = t.et[int(nd.first)+j]
					break
				}
				if l > c {
					break
				}
			}
		} else {
			lo, hi := 0, len(lab)
			for lo < hi {
				m := (lo + hi) / 2
				if lab[m] < c {
					lo = m + 1
				} else {
					hi = m
				}
			}
			if lo < len(lab) && lab[lo] == c {
				next = t.et[int(nd.first)+lo]
			}
		}
		if next < 0 {
			break
		}
		cur = next
		i++
	}
	return bestLen, bestVal
}

// wordPiece is the WordPiece model: greedy longest match, continuation
// pieces looked up with the prefix, a word with an unmatchable position (or
// too many characters) becomes the unknown token.
type wordPiece struct {
	vocabTable
	unk      string
	prefix   string
	maxChars int
	keys     []string // trie values index keys and keyIDs
	keyIDs   []int32
	first    *trie // every vocabulary entry
	cont     *trie // entries starting with prefix, prefix removed
}

func newWordPiece(v vocabTable, unk, prefix string, maxChars int) *wordPiece {
	m := &wordPiece{vocabTable: v, unk: unk, prefix: prefix, maxChars: maxChars}
	for k := range v.ids {
		m.keys = append(m.keys, k)
	}
	sort.Strings(m.keys)
	var cks []string
	var vs, cvs []int32
	for i, k := range m.keys {
		m.keyIDs = append(m.keyIDs, v.ids[k])
		vs = append(vs, int32(i))
		if len(k) > len(prefix) && k[:len(prefix)] == prefix {
			cks = append(cks, k[len(prefix):])
			cvs = append(cvs, int32(i))
		}
	}
	m.first = buildTrie(m.keys, vs)
	m.cont = buildTrie(cks, cvs)
	return m
}

func (m *wordPiece) handlesMapped() bool { return false }

func (m *wordPiece) unkToken(n int, out []token) ([]token, error) {
	id, ok := m.ids[m.unk]
	if !ok {
		return out, fmt.Errorf("wordpiece: unknown token %q is not in the vocabulary", m.unk)
	}
	return append(out, token{id: id, s: 0, e: int32(n), str: m.unk}), nil
}

func (m *wordPiece) tokenize(_ *scratch, text []byte, _ bool, out []token) ([]token, error) {
	if len(text) > m.maxChars && utf8.RuneCount(text) > m.maxChars {
		return m.unkToken(len(text), out)
	}
	n0 := len(out)
	for start := 0; start < len(text); {
		tr := m.first
		if start > 0 {
			tr = m.cont
		}
		n, k := tr.longest(text[start:])
		if n == 0 {
			return m.unkToken(len(text), out[:n0])
		}
		out = append(out, token{id: m.keyIDs[k], s: int32(start), e: int32(start + n), str: m.keys[k]})
		start += n
	}
	return out, nil
}

// wordLevel maps each piece to one token.
type wordLevel struct {
	vocabTable
	unk string
}

func (m *wordLevel) handlesMapped() bool { return false }

func (m *wordLevel) tokenize(_ *scratch, text []byte, _ bool, out []token) ([]token, error) {
	if id, ok := m.ids[string(text)]; ok {
		return append(out, token{id: id, e: int32(len(text)), str: m.toks[id]}), nil
	}
	id, ok := m.ids[m.unk]
	if !ok {
		return out, fmt.Errorf("wordlevel: unknown token %q is not in the vocabulary", m.unk)
	}
	return append(out, token{id: id, e: int32(len(text)), str: m.toks[id]}), nil
}
