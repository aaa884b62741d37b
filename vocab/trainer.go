package vocab

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"bioencoder/parallel"
)

// Trainer counts words and learns a vocabulary from them.
//
//	t, err := vocab.NewTrainer(vocab.DefaultOptions())
//	err = t.Feed(texts) // any number of times
//	v, err := t.Train()
//	err = v.Save(dir)
//
// Feed first counts the raw text cut at ASCII spaces, tabs and line breaks,
// and runs the normalizer and pre-tokenizer once per distinct piece (when
// training starts, or when too many distinct pieces pile up). That gives
// the same words as running them on whole texts: those characters become
// word boundaries whatever the settings (clean_text turns them into spaces,
// the pre-tokenizer splits there), and no normalization step looks across a
// space (NFD reorders only combining marks, which never precede a space;
// lowercasing, Chinese-character padding and control-character removal
// are per character). Most pieces repeat, so this is far cheaper.
type Trainer struct {
	opts  Options
	split *wordSplitter

	mu     sync.Mutex
	raw    map[string]int64 // pieces of raw text not yet split into words
	counts map[string]int64 // words
	docs   int64
	words  int64
}

// NewTrainer checks the options and prepares the word splitter.
func NewTrainer(o Options) (*Trainer, error) {
	o.SpecialTokens = append([]string(nil), o.SpecialTokens...)
	o.InitialAlphabet = append([]rune(nil), o.InitialAlphabet...)
	if err := o.validate(); err != nil {
		return nil, err
	}
	s, err := newWordSplitter(&o)
	if err != nil {
		return nil, err
	}
	return &Trainer{opts: o, split: s, raw: map[string]int64{}, counts: map[string]int64{}}, nil
}

const (
	// feedGrain is the smallest number of texts one worker takes.
	feedGrain = 16
	// maxRawPieces: past this many distinct raw pieces, they are turned
	// into word counts, which bounds the memory the piece counts take.
	maxRawPieces = 1 << 21
	// splitGrain is the smallest number of pieces one worker splits.
	splitGrain = 256
)

// isCut reports the bytes raw text is cut at before normalization.
func isCut(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }

// Feed counts the words of texts (in parallel). It may be called any
// number of times, from one goroutine at a time or several.
func (t *Trainer) Feed(texts []string) error {
	parallel.For(len(texts), feedGrain, func(lo, hi int) {
		local := make(map[string]int64)
		for _, text := range texts[lo:hi] {
			for i := 0; i < len(text); {
				for i < len(text) && isCut(text[i]) {
					i++
				}
				j := i
				for j < len(text) && !isCut(text[j]) {
					j++
				}
				if j > i {
					p := text[i:j]
					if _, ok := local[p]; ok {
						local[p]++
					} else {
						// A copy, so the map does not keep the text alive.
						local[strings.Clone(p)] = 1
					}
				}
				i = j
			}
		}
		t.mu.Lock()
		for p, c := range local {
			t.raw[p] += c
		}
		t.docs += int64(hi - lo)
		t.mu.Unlock()
	})
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.raw) > maxRawPieces {
		return t.splitRaw()
	}
	return nil
}

// splitRaw turns the raw piece counts into word counts. t.mu is held.
func (t *Trainer) splitRaw() error {
	if len(t.raw) == 0 {
		return nil
	}
	pieces := make([]string, 0, len(t.raw))
	for p := range t.raw {
		pieces = append(pieces, p)
	}
	var (
		mu    sync.Mutex
		first error
	)
	parallel.For(len(pieces), splitGrain, func(lo, hi int) {
		local := make(map[string]int64)
		var n int64
		var buf []byte
		var err error
		for _, p := range pieces[lo:hi] {
			c := t.raw[p]
			buf, err = t.split.words(p, buf, func(w []byte) {
				local[string(w)] += c
				n += c
			})
			if err != nil {
				break
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			if first == nil {
				first = err
			}
			return
		}
		for w, c := range local {
			t.counts[w] += c
		}
		t.words += n
	})
	if first != nil {
		return first
	}
	t.raw = map[string]int64{} // a new map: clear would keep the old one's memory
	return nil
}

// AddWord counts an already normalized, pre-tokenized word count times.
func (t *Trainer) AddWord(word string, count int64) {
	if word == "" || count <= 0 {
		return
	}
	t.mu.Lock()
	t.counts[word] += count
	t.words += count
	t.mu.Unlock()
}

// Stats describe the counted corpus and the training run.
type Stats struct {
	Docs        int64 // texts fed
	Words       int64 // word occurrences
	UniqueWords int
	Alphabet    int // characters kept in the alphabet
	Merges      int // merge operations performed
	// Stop tells why merging ended: "vocab size", "min frequency" or
	// "no more pairs".
	Stop string
}

// Vocab is a trained vocabulary.
type Vocab struct {
	// Tokens in id order: the special tokens, the alphabet, the prefixed
	// characters, then one token per new merge.
	Tokens  []string
	Options Options
	Stats   Stats
}

// Train learns the vocabulary from the words counted so far.
func (t *Trainer) Train() (*Vocab, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.splitRaw(); err != nil {
		return nil, err
	}
	if len(t.counts) == 0 {
		return nil, errors.New("vocab: no words to train on (empty corpus?)")
	}
	v, err := learn(t.counts, &t.opts)
	if err != nil {
		return nil, err
	}
	v.Options = t.opts
	v.Stats.Docs, v.Stats.Words, v.Stats.UniqueWords = t.docs, t.words, len(t.counts)
	return v, nil
}

// Documents is a re-readable stream of texts (the shape of corpus.Texts and
// train.Documents).
type Documents func(yield func(text string) bool) error

// feedBatch is how many texts are gathered before they are counted in
// parallel; feedBatchBytes bounds the memory they take.
const (
	feedBatch      = 4096
	feedBatchBytes = 32 << 20
)

// TrainDocuments streams docs through a new trainer and trains. progress,
// if not nil, is called after every counted batch with the number of texts
// so far.
func TrainDocuments(docs Documents, o Options, progress func(docs int64)) (*Vocab, error) {
	t, err := NewTrainer(o)
	if err != nil {
		return nil, err
	}
	batch := make([]string, 0, feedBatch)
	size := 0
	var ferr error
	flush := func() {
		ferr = t.Feed(batch)
		batch, size = batch[:0], 0
		if progress != nil && ferr == nil {
			t.mu.Lock()
			n := t.docs
			t.mu.Unlock()
			progress(n)
		}
	}
	err = docs(func(text string) bool {
		batch = append(batch, text)
		size += len(text)
		if len(batch) == feedBatch || size >= feedBatchBytes {
			flush()
		}
		return ferr == nil
	})
	if err == nil {
		err = ferr
	}
	if err == nil && len(batch) > 0 {
		flush()
		err = ferr
	}
	if err != nil {
		return nil, err
	}
	return t.Train()
}

// learn runs the BPE trainer of tokenizers (with the continuing-subword
// prefix) on word counts.
func learn(counts map[string]int64, o *Options) (*Vocab, error) {
	// Words in a fixed order, so that nothing depends on map iteration.
	words := make([]string, 0, len(counts))
	for w := range counts {
		words = append(words, w)
	}
	sort.Strings(words)

	vb := &vocabBuilder{ids: make(map[string]int32, o.VocabSize)}
	// 1. Special tokens.
	for _, s := range o.SpecialTokens {
		vb.add(s)
	}
	// 2. Alphabet: per character, the number of word occurrences holding it
	// (once per position), saturating like usize arithmetic would not need
	// to in practice.
	freq := map[rune]uint64{}
	for _, w := range words {
		c := uint64(counts[w])
		for _, r := range w {
			freq[r] = satAdd(freq[r], c)
		}
	}
	for _, r := range o.InitialAlphabet {
		freq[r] = ^uint64(0)
	}
	type charFreq struct {
		r rune
		n uint64
	}
	alpha := make([]charFreq, 0, len(freq))
	for r, n := range freq {
		alpha = append(alpha, charFreq{r, n})
	}
	if o.LimitAlphabet > 0 && len(alpha) > o.LimitAlphabet {
		// Drop the least frequent; on equal counts the higher code point.
		sort.Slice(alpha, func(i, j int) bool {
			if alpha[i].n != alpha[j].n {
				return alpha[i].n < alpha[j].n
			}
			return alpha[i].r > alpha[j].r
		})
		alpha = alpha[len(alpha)-o.LimitAlphabet:]
	}
	sort.Slice(alpha, func(i, j int) bool { return alpha[i].r < alpha[j].r })
	for _, c := range alpha {
		vb.add(string(c.r))
	}
	stats := Stats{Alphabet: len(alpha)}

	// 3. Prefixed characters: every alphabet character seen after the first
	// position of a word. Numbered in code point order (or a replayed
	// order), not in the order words happen to be met.
	cont := map[rune]bool{}
	for _, w := range words {
		for i, r := range w {
			if i > 0 && vb.has(string(r)) {
				cont[r] = true
			}
		}
	}
	for _, s := range o.subwordOrder {
		if !strings.HasPrefix(s, o.Prefix) {
			continue
		}
		rs := []rune(s[len(o.Prefix):])
		if len(rs) == 1 && cont[rs[0]] {
			vb.add(s)
			delete(cont, rs[0])
		}
	}
	rest := make([]rune, 0, len(cont))
	for r := range cont {
		rest = append(rest, r)
	}
	sort.Slice(rest, func(i, j int) bool { return rest[i] < rest[j] })
	for _, r := range rest {
		vb.add(o.Prefix + string(r))
	}

	// Words as symbol ids, all in one array; merging only shortens them.
	m := &merger{counts: make([]int64, len(words)), span: make([][2]int32, len(words))}
	var syms []int32
	var cbuf []byte
	for i, w := range words {
		m.counts[i] = counts[w]
		start := len(syms)
		first := true
		for _, r := range w {
			cbuf = cbuf[:0]
			if !first {
				cbuf = append(cbuf, o.Prefix...)
			}
			isFirst := first
			first = false
			if !vb.has(string(r)) {
				continue // outside the (limited) alphabet: dropped
			}
			if isFirst {
				syms = append(syms, vb.ids[string(r)])
				continue
			}
			cbuf = append(cbuf, string(r)...)
			id, ok := vb.ids[string(cbuf)]
			if !ok {
				return nil, fmt.Errorf("vocab: internal error: %q has no id", cbuf)
			}
			syms = append(syms, id)
		}
		if len(syms)-start > 1<<31-1 {
			return nil, fmt.Errorf("vocab: word of %d characters is too long", len(syms)-start)
		}
		m.span[i] = [2]int32{int32(start), int32(len(syms) - start)}
		if len(syms) > 1<<31-1 {
			return nil, errors.New("vocab: more than 2^31 characters in the distinct words")
		}
	}
	m.syms = syms

	// 4. Merges.
	stats.Merges, stats.Stop = m.run(vb, o)
	return &Vocab{Tokens: vb.toks, Stats: stats}, nil
}

func satAdd(a, b uint64) uint64 {
	if s := a + b; s >= a {
		return s
	}
	return ^uint64(0)
}

// vocabBuilder numbers tokens in creation order.
type vocabBuilder struct {
	ids  map[string]int32
	toks []string
}

func (v *vocabBuilder) has(s string) bool { _, ok := v.ids[s]; return ok }

// add returns the id of s, creating it when new.
func (v *vocabBuilder) add(s string) int32 {
	if id, ok := v.ids[s]; ok {
		return id
	}
	id := int32(len(v.toks))
	v.toks = append(v.toks, s)
	v.ids[s] = id
	return id
}
