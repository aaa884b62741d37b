package eval

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// WordFeatureTagger is the NER baseline (called "tfidf" in tables because
// it is the bag-of-features counterpart of the TF-IDF baselines): every
// word is classified on its own by multinomial logistic regression
// (LogReg, C=1 unless set) over binary features:
//
//   - the lower-cased word, its prefixes and suffixes of 2-3 and 2-4 runes,
//     its shape (upper -> X, lower -> x, digit -> d, other runes kept, runs
//     collapsed: "BRCA1" -> "Xd"), and flags: capitalised, all capitals,
//     has a digit, has a hyphen, no letter or digit;
//   - the lower-cased words at offsets -2, -1, +1, +2 (sentence edges
//     padded), the 3-rune suffix and the shape at offsets -1 and +1.
//
// Features are the ones seen in training. Tags are the per-word argmax,
// then an I-X that does not continue an X entity is rewritten to B-X so
// that the output is valid IOB2. The dev set is not used.
type WordFeatureTagger struct{ LogReg LogReg }

// FitTokens implements TokenFineTuner.
func (t WordFeatureTagger) FitTokens(ctx context.Context, train, _ []Sentence) (Tagger, error) {
	tagID := map[string]int{}
	for _, s := range train {
		if len(s.Words) != len(s.Tags) {
			return nil, fmt.Errorf("eval: ner baseline: sentence of %d words and %d tags", len(s.Words), len(s.Tags))
		}
		for _, tg := range s.Tags {
			tagID[tg] = 0
		}
	}
	if len(tagID) == 0 {
		return nil, fmt.Errorf("eval: ner baseline: no training words")
	}
	tags := make([]string, 0, len(tagID))
	for tg := range tagID {
		tags = append(tags, tg)
	}
	sort.Strings(tags)
	for i, tg := range tags {
		tagID[tg] = i
	}
	m := &featureTagger{tags: tags, dict: map[string]int32{}}
	var y []int
	rows := make([][]string, 0)
	for _, s := range train {
		for i := range s.Words {
			rows = append(rows, wordFeatures(s.Words, i))
			y = append(y, tagID[s.Tags[i]])
		}
	}
	for _, fs := range rows {
		for _, f := range fs {
			if _, ok := m.dict[f]; !ok {
				m.dict[f] = int32(len(m.dict))
			}
		}
	}
	x := m.matrix(rows)
	lr, err := t.LogReg.Fit(ctx, x, y, len(tags))
	if err != nil {
		return nil, err
	}
	m.lr = lr
	return m, nil
}

type featureTagger struct {
	tags []string
	dict map[string]int32
	lr   *LRModel
}

// matrix one-hot encodes feature lists (unknown features dropped).
func (m *featureTagger) matrix(rows [][]string) *CSR {
	x := &CSR{Rows: len(rows), Cols: len(m.dict), Ptr: make([]int, 1, len(rows)+1)}
	var cols []int32
	for _, fs := range rows {
		cols = cols[:0]
		for _, f := range fs {
			if j, ok := m.dict[f]; ok {
				cols = append(cols, j)
			}
		}
		sort.Slice(cols, func(a, b int) bool { return cols[a] < cols[b] })
		for k, j := range cols {
			if k > 0 && cols[k-1] == j {
				continue
			}
			x.Idx = append(x.Idx, j)
			x.Val = append(x.Val, 1)
		}
		x.Ptr = append(x.Ptr, len(x.Idx))
	}
	return x
}

func (m *featureTagger) Tag(ctx context.Context, sents [][]string) ([][]string, error) {
	var rows [][]string
	for _, s := range sents {
		for i := range s {
			rows = append(rows, wordFeatures(s, i))
		}
	}
	out := make([][]string, len(sents))
	if len(rows) == 0 {
		for i := range out {
			out[i] = []string{}
		}
		return out, nil
	}
	p, err := m.lr.Proba(m.matrix(rows))
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k := 0
	for si, s := range sents {
		tags := make([]string, len(s))
		for i := range s {
			tags[i] = m.tags[Argmax(p[k])]
			k++
		}
		out[si] = RepairIOB2(tags)
	}
	return out, nil
}

// RepairIOB2 rewrites every I-X that does not continue an entity of type X
// into B-X (in place) and returns tags.
func RepairIOB2(tags []string) []string {
	prev := "O"
	for i, t := range tags {
		if strings.HasPrefix(t, "I-") {
			typ := t[2:]
			if prev == "O" || prev[2:] != typ {
				tags[i] = "B-" + typ
			}
		}
		prev = tags[i]
		if prev != "O" && (len(prev) < 3 || prev[1] != '-') {
			prev = "O"
		}
	}
	return tags
}

func wordShape(w string) string {
	var b strings.Builder
	var last rune = -1
	for _, r := range w {
		var c rune
		switch {
		case unicode.IsUpper(r):
			c = 'X'
		case unicode.IsLower(r):
			c = 'x'
		case unicode.IsDigit(r):
			c = 'd'
		default:
			c = r
		}
		if c != last {
			b.WriteRune(c)
			last = c
		}
	}
	return b.String()
}

func runePrefix(s string, n int) (string, bool) {
	i := 0
	for k := range s {
		if i == n {
			return s[:k], true
		}
		i++
	}
	return s, i == n
}

func runeSuffix(s string, n int) (string, bool) {
	c := utf8.RuneCountInString(s)
	if c < n {
		return "", false
	}
	i := 0
	for k := range s {
		if i == c-n {
			return s[k:], true
		}
		i++
	}
	return s, true
}

func wordFeatures(words []string, i int) []string {
	w := words[i]
	lw := lower.String(w)
	fs := make([]string, 0, 24)
	fs = append(fs, "w="+lw, "sh="+wordShape(w))
	for n := 2; n <= 3; n++ {
		if p, ok := runePrefix(lw, n); ok {
			fs = append(fs, fmt.Sprintf("p%d=%s", n, p))
		}
	}
	for n := 2; n <= 4; n++ {
		if s, ok := runeSuffix(lw, n); ok {
			fs = append(fs, fmt.Sprintf("s%d=%s", n, s))
		}
	}
	letters, uppers, digits := 0, 0, 0
	for _, r := range w {
		switch {
		case unicode.IsLetter(r):
			letters++
			if unicode.IsUpper(r) {
				uppers++
			}
		case unicode.IsDigit(r):
			digits++
		}
	}
	if r, _ := utf8.DecodeRuneInString(w); unicode.IsUpper(r) {
		fs = append(fs, "cap")
	}
	if letters >= 2 && uppers == letters {
		fs = append(fs, "allcap")
	}
	if digits > 0 {
		fs = append(fs, "digit")
	}
	if strings.Contains(w, "-") {
		fs = append(fs, "hyphen")
	}
	if letters+digits == 0 {
		fs = append(fs, "punct")
	}
	ctx := func(off int) (string, string) {
		j := i + off
		switch {
		case j < 0:
			return "<s>", ""
		case j >= len(words):
			return "</s>", ""
		}
		return lower.String(words[j]), words[j]
	}
	for _, off := range []int{-2, -1, 1, 2} {
		lw, raw := ctx(off)
		fs = append(fs, fmt.Sprintf("w%+d=%s", off, lw))
		if off == -1 || off == 1 {
			if s, ok := runeSuffix(lw, 3); ok && raw != "" {
				fs = append(fs, fmt.Sprintf("s3%+d=%s", off, s))
			}
			if raw != "" {
				fs = append(fs, fmt.Sprintf("sh%+d=%s", off, wordShape(raw)))
			}
		}
	}
	return fs
}
