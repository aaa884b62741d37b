package train

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"unsafe"

	"bioencoder/model"
	"bioencoder/nn"
	"bioencoder/tensor"
	"bioencoder/tokenizer"
)

// Sequences are masked-LM training sequences: token ids without the [CLS]
// and [SEP] framing, all held in one int32 array that is memory-mapped from
// a cache file, so corpora larger than memory train without loading them.
type Sequences struct {
	tokens []int32
	spans  [][2]int64 // start, length
	unmap  func() error
}

// Len is the number of sequences.
func (s *Sequences) Len() int { return len(s.spans) }

// Tokens returns the number of content tokens.
func (s *Sequences) Tokens() int64 { return int64(len(s.tokens)) }

// Seq returns sequence i (a view; do not modify).
func (s *Sequences) Seq(i int) []int32 {
	sp := s.spans[i]
	return s.tokens[sp[0] : sp[0]+sp[1]]
}

// Close releases the mapping.
func (s *Sequences) Close() error {
	if s.unmap != nil {
		return s.unmap()
	}
	return nil
}

// Documents yields the texts of a corpus in order.
type Documents func(yield func(text string) bool) error

// BuildSequences tokenizes documents (without special tokens) and cuts them
// into sequences of at most maxLen-2 tokens, to be framed as [CLS] … [SEP].
// With pack set, documents are concatenated, separated by [SEP], and cut
// into full-length chunks (the last partial chunk is kept); otherwise each
// document becomes one sequence, truncated. The token array is written to
// cachePath and memory-mapped.
func BuildSequences(docs Documents, tok *tokenizer.Tokenizer, maxLen int, pack bool, cachePath string) (*Sequences, error) {
	if maxLen < 3 {
		return nil, fmt.Errorf("train: max length %d leaves no room between [CLS] and [SEP]", maxLen)
	}
	sep, ok := tok.SEPID()
	if !ok && pack {
		return nil, fmt.Errorf("train: packing needs a [SEP] token")
	}
	if err := os.MkdirAll(filepath.Dir(cachePath), 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(cachePath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	w := newInt32Writer(f)
	body := maxLen - 2
	var spans [][2]int64
	var pos, chunkStart int64
	batch := make([]tokenizer.Input, 0, 256)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		encs, err := tok.EncodeBatch(batch, tokenizer.Options{})
		if err != nil {
			return err
		}
		for _, e := range encs {
			ids := e.IDs
			if !pack {
				if len(ids) == 0 {
					continue
				}
				ids = ids[:min(len(ids), body)]
				w.write(ids)
				spans = append(spans, [2]int64{pos, int64(len(ids))})
				pos += int64(len(ids))
				continue
			}
			if pos > chunkStart {
				ids = append([]int{sep}, ids...)
			}
			for len(ids) > 0 {
				room := int(chunkStart + int64(body) - pos)
				n := min(room, len(ids))
				w.write(ids[:n])
				pos += int64(n)
				ids = ids[n:]
				if pos-chunkStart == int64(body) {
					spans = append(spans, [2]int64{chunkStart, int64(body)})
					chunkStart = pos
				}
			}
		}
		batch = batch[:0]
		return nil
	}
	var ferr error
	err = docs(func(text string) bool {
		if strings.TrimSpace(text) == "" {
			return true
		}
		batch = append(batch, tokenizer.Input{Text: text})
		if len(batch) == cap(batch) {
			ferr = flush()
		}
		return ferr == nil
	})
	if err == nil {
		err = ferr
	}
	if err == nil {
		err = flush()
	}
	if err != nil {
		return nil, err
	}
	if pack && pos > chunkStart {
		spans = append(spans, [2]int64{chunkStart, pos - chunkStart})
	}
	if err := w.flush(); err != nil {
		return nil, err
	}
	if len(spans) == 0 {
		return nil, fmt.Errorf("train: the corpus has no text")
	}
	s := &Sequences{spans: spans}
	if err := s.mapFile(f, pos); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Sequences) mapFile(f *os.File, n int64) error {
	if n == 0 {
		return nil
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(n*4), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("train: mapping %s: %w", f.Name(), err)
	}
	s.tokens = unsafe.Slice((*int32)(unsafe.Pointer(&data[0])), n)
	s.unmap = func() error { return syscall.Munmap(data) }
	return nil
}

type int32Writer struct {
	f   *os.File
	buf []byte
}

func newInt32Writer(f *os.File) *int32Writer { return &int32Writer{f: f, buf: make([]byte, 0, 1<<20)} }

func (w *int32Writer) write(ids []int) {
	for _, id := range ids {
		w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(int32(id)))
	}
	if len(w.buf) >= 1<<20-4096 {
		w.flush()
	}
}

func (w *int32Writer) flush() error {
	_, err := w.f.Write(w.buf)
	w.buf = w.buf[:0]
	return err
}

// Masker applies Hugging Face's DataCollatorForLanguageModeling rules: each
// non-special token is selected with probability p (whole words at once
// with WholeWord); a selected token becomes [MASK] 80% of the time, a
// uniformly random id from the tokenizer's vocabulary 10%, and stays 10%.
// Unselected positions get label -100.
type Masker struct {
	MaskID    int
	Vocab     int // random replacements come from [0, Vocab)
	Special   map[int]bool
	WholeWord bool
	cont      []bool // cont[id]: the token continues the previous word
}

// NewMasker reads the mask token, special tokens and word structure from a
// tokenizer. vocabLimit caps random replacements at the model's vocabulary.
func NewMasker(tok *tokenizer.Tokenizer, vocabLimit int, wholeWord bool) (*Masker, error) {
	mask, ok := tok.MaskID()
	if !ok {
		return nil, fmt.Errorf("train: the tokenizer has no mask token")
	}
	m := &Masker{MaskID: mask, Vocab: min(tok.VocabSize(), vocabLimit), Special: map[int]bool{}, WholeWord: wholeWord}
	for _, id := range tok.SpecialIDs() {
		m.Special[id] = true
	}
	if wholeWord {
		// WordPiece marks continuations with "##"; byte-level BPE marks word
		// starts with "Ġ" (a leading space).
		n := tok.VocabSize()
		m.cont = make([]bool, n)
		wordPiece := false
		for id := 0; id < n && !wordPiece; id++ {
			t, _ := tok.IDToToken(id)
			wordPiece = strings.HasPrefix(t, "##")
		}
		for id := 0; id < n; id++ {
			t, _ := tok.IDToToken(id)
			if wordPiece {
				m.cont[id] = strings.HasPrefix(t, "##")
			} else {
				m.cont[id] = !strings.HasPrefix(t, "Ġ") && !m.Special[id]
			}
		}
	}
	return m, nil
}

// Mask corrupts ids in place with selection probability p and returns the
// labels.
func (m *Masker) Mask(ids []int, p float64, rng *rand.Rand) []int {
	labels := make([]int, len(ids))
	selected := make([]bool, len(ids))
	for i := 0; i < len(ids); {
		j := i + 1 // word end
		if m.WholeWord {
			for j < len(ids) && ids[j] < len(m.cont) && m.cont[ids[j]] && !m.Special[ids[j]] {
				j++
			}
		}
		if !m.Special[ids[i]] && rng.Float64() < p {
			for k := i; k < j; k++ {
				selected[k] = !m.Special[ids[k]]
			}
		}
		i = j
	}
	for i, id := range ids {
		if !selected[i] {
			labels[i] = nn.IgnoreIndex
			continue
		}
		labels[i] = id
		switch r := rng.Float64(); {
		case r < 0.8:
			ids[i] = m.MaskID
		case r < 0.9:
			ids[i] = rng.IntN(m.Vocab)
		}
	}
	return labels
}

// MLM is masked-language-model training.
type MLM struct {
	Model  model.Model
	TokDir string // tokenizer files saved with checkpoints
	Data   *Sequences
	Held   *Sequences // held-out sequences for Evaluate (optional)
	Prob   Stepped    // masking probability over steps (e.g. 0.3 then 0.15)
	Mask   *Masker
	Seed   uint64
	CLS    int
	SEP    int
}

func (t *MLM) Examples() int            { return t.Data.Len() }
func (t *MLM) Params() []*nn.Params     { return []*nn.Params{t.Model.Params()} }
func (t *MLM) Save(dir string) error    { return model.Save(dir, t.Model, t.TokDir) }
func (t *MLM) Restore(dir string) error { return model.LoadParams(t.Model, dir) }

// batch frames sequences as [CLS] … [SEP] and masks them; the masking of
// sequence e at step s depends only on (seed, s, e).
func (t *MLM) batch(data *Sequences, examples []int, p float64, seed uint64) (*nn.Batch, []int) {
	b := &nn.Batch{Starts: []int{0}}
	var labels []int
	for _, e := range examples {
		seq := data.Seq(e)
		ids := make([]int, 0, len(seq)+2)
		ids = append(ids, t.CLS)
		for _, v := range seq {
			ids = append(ids, int(v))
		}
		ids = append(ids, t.SEP)
		rng := rand.New(rand.NewPCG(seed, uint64(e)))
		labels = append(labels, t.Mask.Mask(ids, p, rng)...)
		for i, id := range ids {
			b.IDs = append(b.IDs, id)
			b.Pos = append(b.Pos, i)
		}
		b.Starts = append(b.Starts, len(b.IDs))
	}
	return b, labels
}

// Loss masks the examples afresh for this step (dynamic masking) and
// returns the masked-LM loss.
func (t *MLM) Loss(g *nn.Graph, examples []int, step int) (float64, int, error) {
	b, labels := t.batch(t.Data, examples, t.Prob.At(step), mix64(t.Seed, uint64(step)+1))
	loss, err := MLMLoss(g, t.Model, b, labels)
	return loss, b.Len(), err
}

// Evaluate masks the held-out sequences with a fixed seed at 15% and
// reports masked-token top-1 accuracy and loss.
func (t *MLM) Evaluate(ctx context.Context) (map[string]float64, error) {
	if t.Held == nil || t.Held.Len() == 0 {
		return nil, nil
	}
	var ws tensor.Workspace
	g := nn.NewGraph(&ws, false)
	correct, total := 0, 0
	lossSum := 0.0
	const chunk = 32
	for lo := 0; lo < t.Held.Len(); lo += chunk {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ex := make([]int, 0, chunk)
		for i := lo; i < min(lo+chunk, t.Held.Len()); i++ {
			ex = append(ex, i)
		}
		b, labels := t.batch(t.Held, ex, 0.15, 12345)
		h, err := t.Model.Encode(g, b, nil)
		if err != nil {
			return nil, err
		}
		var rows, lbl []int
		for i, l := range labels {
			if l != nn.IgnoreIndex {
				rows, lbl = append(rows, i), append(lbl, l)
			}
		}
		if len(rows) > 0 {
			logits, err := t.Model.MaskedLM(g, h, rows)
			if err != nil {
				return nil, err
			}
			l, err := g.CrossEntropy(logits, lbl)
			if err != nil {
				return nil, err
			}
			lossSum += l * float64(len(rows))
			for r := range rows {
				row := logits.Data[r*logits.Cols : (r+1)*logits.Cols]
				best := 0
				for j, v := range row {
					if v > row[best] {
						best = j
					}
				}
				if best == lbl[r] {
					correct++
				}
			}
			total += len(rows)
		}
		g.Reset()
	}
	if total == 0 {
		return nil, nil
	}
	return map[string]float64{"masked_accuracy": float64(correct) / float64(total), "masked_loss": lossSum / float64(total),
		"masked_tokens": float64(total)}, nil
}

// Split keeps the last held sequences apart (for evaluation): it returns
// views of the first Len-held and of the last held sequences.
func (s *Sequences) Split(held int) (train, heldOut *Sequences) {
	held = max(0, min(held, s.Len()-1))
	n := s.Len() - held
	return &Sequences{tokens: s.tokens, spans: s.spans[:n]}, &Sequences{tokens: s.tokens, spans: s.spans[n:]}
}
