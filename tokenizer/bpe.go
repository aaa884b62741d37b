package tokenizer

import (
	"fmt"
	"unicode/utf8"
)

// bpe is the BPE model: a piece starts as one symbol per character (the
// continuing-subword prefix on all but the first, the end-of-word suffix on
// the last), then the adjacent pair with the lowest merge rank is merged,
// leftmost first, until no pair has a rank (Word::merge_all in the Rust
// crate, including how unknown characters and byte fallback are handled).
type bpe struct {
	vocabTable
	merges       map[uint64]uint64 // a<<32|b -> rank<<32|new id
	unk          string            // "" when there is none
	hasUnk       bool
	prefix       string
	suffix       string
	fuseUnk      bool
	byteFallback bool
	ignoreMerges bool
	// byteIDs[b] is the id of the byte-level character of byte b (-1 when
	// absent), for pieces that come from the ByteLevel pre-tokenizer.
	byteIDs [256]int32
	// fallbackIDs[b] is the id of "<0xHH>" (-1 when absent).
	fallbackIDs [256]int32
}

func (m *bpe) handlesMapped() bool { return true }

// bpeCacheMax bounds the per-worker cache of merged pieces; pieces of
// bpeCacheMaxLen bytes or more are not cached (as in the Rust crate).
const (
	bpeCacheMax    = 1 << 16
	bpeCacheMaxLen = 256
)

// sym is one symbol of a word being merged (a doubly linked list).
type sym struct {
	id         int32
	prev, next int32
	len        int32 // bytes of the piece it covers; 0 once merged away
}

// mergeItem is a candidate merge in the heap.
type mergeItem struct {
	rank  uint32
	pos   int32
	newID int32
}

func (a mergeItem) less(b mergeItem) bool {
	if a.rank != b.rank {
		return a.rank < b.rank
	}
	return a.pos < b.pos
}

type mergeHeap []mergeItem

func (h *mergeHeap) push(x mergeItem) {
	*h = append(*h, x)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !s[i].less(s[p]) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *mergeHeap) pop() mergeItem {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && s[r].less(s[l]) {
			m = r
		}
		if !s[m].less(s[i]) {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

func (m *bpe) tokenize(s *scratch, text []byte, mapped bool, out []token) ([]token, error) {
	if len(text) == 0 {
		return out, nil
	}
	cache := s.bpeCache
	if mapped {
		cache = s.bpeCacheMapped
	}
	if m.ignoreMerges {
		key := text
		if mapped {
			key = appendMapped(s.keyBuf[:0], text)
			s.keyBuf = key
		}
		if id, ok := m.ids[string(key)]; ok {
			return append(out, token{id: id, e: int32(len(text)), str: m.toks[id]}), nil
		}
	}
	if v, ok := cache[string(text)]; ok {
		return m.emit(v, out), nil
	}
	syms, err := m.word(s, text, mapped)
	if err != nil {
		return out, err
	}
	syms = m.mergeAll(s, syms)
	// Record the result as (id, len) pairs.
	v := s.pairs[:0]
	for _, y := range syms {
		if y.len != 0 {
			v = append(v, uint32(y.id), uint32(y.len))
		}
	}
	s.pairs = v
	if len(text) < bpeCacheMaxLen {
		if len(cache) >= bpeCacheMax {
			clear(cache)
		}
		cache[string(text)] = append([]uint32(nil), v...)
	}
	return m.emit(v, out), nil
}

func (m *bpe) emit(v []uint32, out []token) []token {
	pos := int32(0)
	for i := 0; i+1 < len(v); i += 2 {
		id, n := int32(v[i]), int32(v[i+1])
		out = append(out, token{id: id, s: pos, e: pos + n, str: m.toks[id]})
		pos += n
	}
	return out
}

// appendMapped appends the byte-level text of raw bytes.
func appendMapped(dst, raw []byte) []byte {
	for _, b := range raw {
		dst = utf8.AppendRune(dst, byteToRune[b])
	}
	return dst
}

// word builds the initial symbols (BPE::merge_word before merge_all).
func (m *bpe) word(s *scratch, text []byte, mapped bool) ([]sym, error) {
	syms := s.syms[:0]
	add := func(id int32, n int) {
		syms = append(syms, sym{id: id, prev: int32(len(syms) - 1), next: int32(len(syms) + 1), len: int32(n)})
	}
	unkID, unkLen := int32(-1), 0
	hasPending := false
	// The characters: one per byte for a byte-level piece.
	for i := 0; i < len(text); {
		var k int
		if mapped {
			k = 1
		} else {
			_, k = decodeRune(text[i:])
		}
		first, last := i == 0, i+k == len(text)
		var id int32 = -1
		found := false
		var key []byte
		if mapped && !(m.prefix != "" && !first) && !(m.suffix != "" && last) {
			id = m.byteIDs[text[i]]
			found = id >= 0
		} else {
			key = s.keyBuf[:0]
			if !first {
				key = append(key, m.prefix...)
			}
			if mapped {
				key = utf8.AppendRune(key, byteToRune[text[i]])
			} else {
				key = append(key, text[i:i+k]...)
			}
			if last {
				key = append(key, m.suffix...)
			}
			s.keyBuf = key
			id, found = m.ids[string(key)]
		}
		if found {
			if hasPending {
				add(unkID, unkLen)
				hasPending = false
			}
			add(id, k)
			i += k
			continue
		}
		if m.byteFallback {
			if key == nil {
				key = s.keyBuf[:0]
				if mapped {
					key = utf8.AppendRune(key, byteToRune[text[i]])
				} else {
					key = append(key, text[i:i+k]...)
				}
				s.keyBuf = key
			}
			ok := true
			for _, b := range key {
				if m.fallbackIDs[b] < 0 {
					ok = false
					break
				}
			}
			if ok {
				for _, b := range key {
					add(m.fallbackIDs[b], 1)
				}
				i += k
				continue
			}
		}
		if m.hasUnk {
			uid, ok := m.ids[m.unk]
			if !ok {
				return nil, fmt.Errorf("bpe: unknown token %q is not in the vocabulary", m.unk)
			}
			switch {
			case hasPending && m.fuseUnk:
				unkLen += k
			case hasPending:
				add(unkID, unkLen)
				unkID, unkLen = uid, k
			default:
				unkID, unkLen, hasPending = uid, k, true
			}
		}
		i += k
	}
	if hasPending {
		add(unkID, unkLen)
	}
	if n := len(syms); n > 0 {
		syms[n-1].next = -1
	}
	s.syms = syms
	return syms, nil
}

// mergeAll applies the merges (Word::merge_all without dropout).
func (m *bpe) mergeAll(s *scratch, syms []sym) []sym {
	if len(syms) < 2 || len(m.merges) == 0 {
		return syms
	}
	h := mergeHeap(s.heap[:0])
	for i := 0; i+1 < len(syms); i++ {
		if v, ok := m.merges[uint64(uint32(syms[i].id))<<32|uint64(uint32(syms[i+1].id))]; ok {
			h.push(mergeItem{rank: uint32(v >> 32), pos: int32(i), newID: int32(uint32(v))})
		}
	}
	for len(h) > 0 {
		top := h.pop()
		cur := &syms[top.pos]
		if cur.len == 0 || cur.next < 0 {
			continue
		}
		nextPos := cur.next
		right := syms[nextPos]
		v, ok := m.merges[uint64(uint32(cur.id))<<32|uint64(uint32(right.id))]
		if !ok || int32(uint32(v)) != top.newID {
			continue // stale entry
		}
		cur.id = top.newID
		cur.len += right.len
		cur.next = right.next
		syms[nextPos].len = 0
		if right.next >= 0 && int(right.next) < len(syms) {
			syms[right.next].prev = top.pos
		}
		if cur.prev >= 0 {
			p := syms[cur.prev]
			if v, ok := m.merges[uint64(uint32(p.id))<<32|uint64(uint32(cur.id))]; ok {
				h.push(mergeItem{rank: uint32(v >> 32), pos: cur.prev, newID: int32(uint32(v))})
			}
		}
		if cur.next >= 0 && int(cur.next) < len(syms) {
			nx := syms[cur.next]
			if v, ok := m.merges[uint64(uint32(cur.id))<<32|uint64(uint32(nx.id))]; ok {
				h.push(mergeItem{rank: uint32(v >> 32), pos: top.pos, newID: int32(uint32(v))})
			}
		}
	}
	s.heap = h
	return syms
}

// byteToRune is the GPT-2 bytes_to_unicode map; runeToByte its inverse.
var byteToRune, runeToByte = func() (fwd [256]rune, inv map[rune]byte) {
	inv = make(map[rune]byte, 256)
	n := rune(0)
	for b := 0; b < 256; b++ {
		if (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff) {
			fwd[b] = rune(b)
		} else {
			fwd[b] = 256 + n
			n++
		}
		inv[fwd[b]] = byte(b)
	}
	return
}()
