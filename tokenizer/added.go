package tokenizer

// AddedToken is an entry of the tokenizer.json "added_tokens" list.
type AddedToken struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

// addedVocab is the AddedVocabulary of the Rust crate: tokens matched in
// the text before the model runs, the non-normalized ones in the raw text,
// the normalized ones after the normalizer.
type addedVocab struct {
	byContent map[string]int32      // content -> id
	byID      map[int32]*AddedToken // id -> token (its ID field is the assigned id)
	special   map[string]bool       // contents of special tokens
	// normForm holds, for normalized tokens whose normalized content
	// differs, that form: tokenizers 0.23 returns it for an id (decoding,
	// id_to_token) so that the decoder sees what the model saw.
	normForm map[int32]string
	order    []*AddedToken // special tokens first, then the others, as added
	raw      matcher       // non-normalized tokens
	norm     matcher       // normalized tokens, matched on their normalized form
}

// matcher finds added tokens, leftmost-longest (the aho-corasick
// MatchKind::LeftmostLongest the Rust crate uses).
type matcher struct {
	t      *trie
	ids    []int32 // pattern index -> token id
	toks   []*AddedToken
	first  [256]bool
	hasAny bool
}

func newMatcher(patterns []string, toks []*AddedToken) matcher {
	m := matcher{toks: toks}
	var ps []string
	var vals []int32
	for i, p := range patterns {
		if p == "" {
			continue
		}
		ps = append(ps, p)
		vals = append(vals, int32(i))
		m.first[p[0]] = true
		m.hasAny = true
	}
	m.t = buildTrie(ps, vals)
	for _, t := range toks {
		m.ids = append(m.ids, int32(t.ID))
	}
	return m
}

// addedMatch is one match: [s, e) and the token.
type addedMatch struct {
	s, e int
	tok  *AddedToken
}

// find returns the leftmost-longest non-overlapping matches in text.
func (m *matcher) find(text []byte, dst []addedMatch) []addedMatch {
	if !m.hasAny {
		return dst
	}
	for i := 0; i < len(text); {
		if !m.first[text[i]] {
			i++
			continue
		}
		n, k := m.t.longest(text[i:])
		if n == 0 {
			i++
			continue
		}
		dst = append(dst, addedMatch{i, i + n, m.toks[k]})
		i += n
	}
	return dst
}

// splitAdded is AddedVocabulary::find_matches followed by the slicing of
// split_with_indices: it replaces sp by the pieces around the added tokens
// found in it (single_word, lstrip and rstrip applied) and the tokens.
func (s *scratch) splitAdded(sp *split, m *matcher, out []split) []split {
	b := s.ar.b[sp.lo:sp.hi]
	if len(b) == 0 {
		return out
	}
	s.added = m.find(b, s.added[:0])
	if len(s.added) == 0 {
		// Still a slice: its shift becomes the original start of its first
		// character (it matters after a normalizer dropped leading text).
		return append(out, s.ar.sub(sp, 0, int32(len(b))))
	}
	startOffset := 0
	for _, mt := range s.added {
		start, stop := mt.s, mt.e
		t := mt.tok
		if t.SingleWord {
			startSpace := start == 0 || !endsWithWord(b[:start])
			stopSpace := stop == len(b) || !startsWithWord(b[stop:])
			if !startSpace || !stopSpace {
				continue
			}
		}
		if t.LStrip {
			ns := start
			for ns > 0 {
				r, k := decodeLastRune(b[:ns])
				if !isSpace(r) {
					break
				}
				ns -= k
			}
			start = max(ns, startOffset)
		}
		if t.RStrip {
			for stop < len(b) {
				r, k := decodeRune(b[stop:])
				if !isSpace(r) {
					break
				}
				stop += k
			}
		}
		if startOffset < start {
			out = append(out, s.ar.sub(sp, int32(startOffset), int32(start)))
		}
		tp := s.ar.sub(sp, int32(start), int32(stop))
		tp.id = int32(t.ID)
		out = append(out, tp)
		startOffset = stop
	}
	if startOffset != len(b) {
		out = append(out, s.ar.sub(sp, int32(startOffset), int32(len(b))))
	}
	return out
}

func endsWithWord(b []byte) bool {
	r, k := decodeLastRune(b)
	return k > 0 && isWordChar(r)
}

func startsWithWord(b []byte) bool {
	r, k := decodeRune(b)
	return k > 0 && isWordChar(r)
}
