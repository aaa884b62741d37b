package tensor

// Workspace lends float32 buffers for one pass of a model, stack fashion.
// A pass calls Get for every activation it needs and Reset when done; the
// next pass gets the same memory back. After the first pass of a given shape
// the workspace holds one slab big enough for the whole pass, so steady-state
// passes allocate nothing and touch no fresh pages (first-touch page faults
// cost ~10 us per 4 KiB page on the machines we target).
//
// Mark and Release let inference recycle a layer's scratch: everything handed
// out after a mark is freed, except one buffer that is moved down to the mark.
//
// A Workspace is not safe for concurrent use; give each goroutine its own.
type Workspace struct {
	chunks [][]float32 // chunk 0 is the main slab; more appear only while a pass outgrows it
	cur    int         // chunk being handed out
	off    int         // elements of chunks[cur] handed out
	peak   int         // largest footprint a pass has reached
}

// Mark is a position in the workspace stack.
type Mark struct{ chunk, off int }

// align rounds element counts up to 16 floats (64 bytes) so every buffer
// starts on a cache line and vector loads never straddle two buffers' lines.
func align(n int) int { return (n + 15) &^ 15 }

// Get returns a zeroed buffer of n floats, valid until Reset (or a Release
// to a mark taken before it).
func (w *Workspace) Get(n int) []float32 {
	b := w.GetDirty(n)
	clear(b)
	return b
}

// GetDirty is Get without zeroing, for buffers that are fully overwritten.
func (w *Workspace) GetDirty(n int) []float32 {
	a := align(n)
	for {
		if w.cur < len(w.chunks) && w.off+a <= len(w.chunks[w.cur]) {
			b := w.chunks[w.cur][w.off : w.off+n : w.off+n]
			w.off += a
			w.notePeak()
			return b
		}
		if w.cur+1 < len(w.chunks) {
			w.cur, w.off = w.cur+1, 0
			continue
		}
		size := a
		if len(w.chunks) > 0 {
			size = max(a, len(w.chunks[len(w.chunks)-1]))
		}
		w.chunks = append(w.chunks, make([]float32, size))
		if len(w.chunks) > 1 || w.off > 0 {
			w.cur, w.off = len(w.chunks)-1, 0
		}
	}
}

func (w *Workspace) notePeak() {
	fp := w.off
	for i := 0; i < w.cur; i++ {
		fp += len(w.chunks[i])
	}
	w.peak = max(w.peak, fp)
}

// Tensor returns a zeroed tensor from the workspace.
func (w *Workspace) Tensor(shape ...int) *Tensor {
	return &Tensor{Shape: append([]int(nil), shape...), Data: w.Get(Numel(shape))}
}

// Mark records the current stack position.
func (w *Workspace) Mark() Mark { return Mark{w.cur, w.off} }

// Release frees every buffer handed out since m. If keep is not nil (it
// must have been handed out after m), its contents are moved to the mark and
// the moved buffer is returned.
func (w *Workspace) Release(m Mark, keep []float32) []float32 {
	w.cur, w.off = m.chunk, m.off
	if keep == nil {
		return nil
	}
	dst := w.GetDirty(len(keep))
	copy(dst, keep) // memmove: dst never lies above keep's start in the same chunk
	return dst
}

// Reset ends a pass: every buffer handed out becomes invalid. If the pass
// needed more than the main slab, the slab grows to the pass's footprint so
// the next pass fits in one piece.
func (w *Workspace) Reset() {
	if len(w.chunks) > 1 {
		w.chunks = [][]float32{make([]float32, w.peak)}
	}
	w.cur, w.off = 0, 0
}

// Reserve makes the main slab hold at least n floats (between passes).
func (w *Workspace) Reserve(n int) {
	if w.cur == 0 && w.off == 0 && (len(w.chunks) == 0 || len(w.chunks[0]) < n) {
		w.chunks = [][]float32{make([]float32, align(n))}
		w.peak = max(w.peak, align(n))
	}
}

// Size is the memory held, in floats.
func (w *Workspace) Size() int {
	n := 0
	for _, c := range w.chunks {
		n += len(c)
	}
	return n
}
