package tensor

// Workspace lends float32 buffers for one pass of a model. A pass calls Get
// for every activation it needs and Reset when done; the next pass gets the
// same memory back. After the first pass of a given shape the workspace holds
// one slab big enough for the whole pass, so steady-state passes allocate
// nothing and touch no fresh pages (first-touch page faults cost ~10 us per
// 4 KiB page on the machines we target).
//
// A Workspace is not safe for concurrent use; give each goroutine its own.
type Workspace struct {
	slab  []float32   // the main slab, handed out front to back
	used  int         // elements of slab handed out in this pass
	extra [][]float32 // overflow buffers of this pass, folded into slab by Reset
	peak  int         // most elements one pass has needed
}

// align rounds element counts up to 16 floats (64 bytes) so every buffer
// starts on a cache line and vector loads never straddle two buffers' lines.
func align(n int) int { return (n + 15) &^ 15 }

// Get returns a zeroed buffer of n floats, valid until Reset.
func (w *Workspace) Get(n int) []float32 {
	b := w.GetDirty(n)
	clear(b)
	return b
}

// GetDirty is Get without zeroing, for buffers that are fully overwritten.
func (w *Workspace) GetDirty(n int) []float32 {
	a := align(n)
	if w.used+a <= len(w.slab) {
		b := w.slab[w.used : w.used+n : w.used+n]
		w.used += a
		return b
	}
	b := make([]float32, a)
	w.extra = append(w.extra, b)
	return b[:n:n]
}

// Tensor returns a zeroed tensor from the workspace.
func (w *Workspace) Tensor(shape ...int) *Tensor {
	return &Tensor{Shape: append([]int(nil), shape...), Data: w.Get(Numel(shape))}
}

// Reset ends a pass: every buffer handed out becomes invalid. If the pass
// overflowed the slab, the slab grows to the pass's total so the next pass fits.
func (w *Workspace) Reset() {
	total := w.used
	for _, e := range w.extra {
		total += len(e)
	}
	if total > w.peak {
		w.peak = total
	}
	if len(w.extra) > 0 {
		w.slab = make([]float32, w.peak)
		w.extra = nil
	}
	w.used = 0
}

// Reserve makes sure the slab holds at least n floats.
func (w *Workspace) Reserve(n int) {
	if n > len(w.slab) && w.used == 0 && len(w.extra) == 0 {
		w.slab = make([]float32, align(n))
		w.peak = max(w.peak, len(w.slab))
	}
}

// Size is the slab size in floats.
func (w *Workspace) Size() int { return len(w.slab) }
