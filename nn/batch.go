package nn

import "fmt"

// Batch is a ragged batch of token sequences laid end to end, with no
// padding. Sequence s holds tokens [Starts[s], Starts[s+1]).
type Batch struct {
	IDs     []int  // token ids
	TypeIDs []int  // token type (segment) ids; nil means all 0
	Pos     []int  // position of each token (its index in the original padded row)
	Key     []bool // nil: every token may be attended to; false: the token gets an output but no one attends to it
	Starts  []int  // len = sequences + 1

	// Padded layout the batch came from, for scattering outputs back.
	PadRows, PadCols int
	Src              []int // Src[t] = row*PadCols + col of token t in the padded layout
}

// Len is the number of tokens.
func (b *Batch) Len() int { return len(b.IDs) }

// NumSeqs is the number of sequences.
func (b *Batch) NumSeqs() int { return len(b.Starts) - 1 }

// Seq returns the token range of sequence s.
func (b *Batch) Seq(s int) (lo, hi int) { return b.Starts[s], b.Starts[s+1] }

// IsKey reports whether token t can be attended to.
func (b *Batch) IsKey(t int) bool { return b.Key == nil || b.Key[t] }

// FromPadded builds a batch from right- or otherwise-padded rows as
// transformers takes them. Tokens with mask 0 are dropped, unless keepAll is
// set: then every position gets an output (as Hugging Face's eager path
// computes outputs at padding) but masked tokens are never attended to.
// types may be nil.
func FromPadded(ids, mask, types [][]int, keepAll bool) (*Batch, error) {
	if len(ids) == 0 {
		return nil, fmt.Errorf("nn: empty batch")
	}
	cols := len(ids[0])
	b := &Batch{PadRows: len(ids), PadCols: cols, Starts: []int{0}}
	hasMasked := false
	for r, row := range ids {
		if len(row) != cols {
			return nil, fmt.Errorf("nn: row %d has %d tokens, row 0 has %d", r, len(row), cols)
		}
		if mask != nil && len(mask[r]) != cols {
			return nil, fmt.Errorf("nn: attention_mask row %d has %d entries, want %d", r, len(mask[r]), cols)
		}
		if types != nil && len(types[r]) != cols {
			return nil, fmt.Errorf("nn: token_type_ids row %d has %d entries, want %d", r, len(types[r]), cols)
		}
		for c, id := range row {
			m := mask == nil || mask[r][c] != 0
			if !m {
				hasMasked = true
				if !keepAll {
					continue
				}
			}
			b.IDs = append(b.IDs, id)
			b.Pos = append(b.Pos, c)
			b.Src = append(b.Src, r*cols+c)
			b.Key = append(b.Key, m)
			if types != nil {
				b.TypeIDs = append(b.TypeIDs, types[r][c])
			}
		}
		b.Starts = append(b.Starts, len(b.IDs))
	}
	if !hasMasked {
		b.Key = nil
	}
	return b, nil
}

// Scatter writes token rows of v ([Len, cols]) into a zeroed padded
// [PadRows, PadCols, cols] array.
func (b *Batch) Scatter(v []float32, cols int) []float32 {
	out := make([]float32, b.PadRows*b.PadCols*cols)
	for t, s := range b.Src {
		copy(out[s*cols:(s+1)*cols], v[t*cols:(t+1)*cols])
	}
	return out
}

// Validate checks ids against a vocabulary size and type ids against the
// number of token types, and positions against the position table, so bad
// input is an error and never an out-of-range read.
func (b *Batch) Validate(vocab, types, maxPos int) error {
	for t, id := range b.IDs {
		if id < 0 || id >= vocab {
			return fmt.Errorf("token id %d at position %d is outside the vocabulary (size %d)", id, b.Pos[t], vocab)
		}
	}
	for t, ty := range b.TypeIDs {
		if ty < 0 || (types > 0 && ty >= types) || (types == 0 && ty != 0) {
			return fmt.Errorf("token type id %d at position %d is outside 0..%d", ty, b.Pos[t], max(types-1, 0))
		}
	}
	for s := 0; s < b.NumSeqs(); s++ {
		lo, hi := b.Seq(s)
		for t := lo; t < hi; t++ {
			if b.Pos[t] < 0 || (maxPos > 0 && b.Pos[t] >= maxPos) {
				return fmt.Errorf("sequence %d has %d positions, the model takes at most %d", s, b.Pos[hi-1]+1, maxPos)
			}
		}
	}
	return nil
}
