package gemm

import "unsafe"

// Packed layouts (BLIS):
//
//   - A block (mc×kc of op(A)): micro-panels of mr rows, one after another;
//     micro-panel i holds, for each p < kc, the mr values op(A)[i·mr+r][p].
//     Rows past the matrix edge are zero.
//   - B block (kc×nc of op(B)): micro-panels of nr columns; micro-panel j
//     holds, for each p < kc, the nr values op(B)[p][j·nr+c]. Columns past the
//     edge are zero. A B micro-panel spanning the whole depth k (as Pack
//     stores weights) contains every shallower block as a contiguous run, so
//     the kc-block at depth p0 of panel j starts at j·k·nr + p0·nr.

// alignedFloats returns n zeroed floats starting on a 64-byte boundary, so
// packed panels never split a vector load across two cache lines.
func alignedFloats(n int) []float32 {
	s := make([]float32, n+16)
	off := int((64 - uintptr(unsafe.Pointer(&s[0]))%64) % 64 / 4)
	return s[off : off+n : off+n]
}

// arena holds one task's packing buffers. Arenas are recycled through a
// fixed free list rather than sync.Pool: a buffer dropped at GC would come
// back as fresh pages, and first-touch page faults are expensive on the
// target VMs.
type arena struct {
	a, b []float32
	tmp  [maxMR * maxNR]float32 // scratch tile for edge tiles
}

var arenas = make(chan *arena, 64)

func getArena() *arena {
	select {
	case x := <-arenas:
		return x
	default:
		return new(arena)
	}
}

func putArena(x *arena) {
	select {
	case arenas <- x:
	default:
	}
}

func grow(buf *[]float32, n int) []float32 {
	if cap(*buf) < n {
		*buf = alignedFloats(n)
	}
	return (*buf)[:n]
}

// packA packs rows [i0, i0+rows) and depth [p0, p0+kc) of op(A), scaled by
// alpha, into dst as micro-panels of mr rows (see the layout above).
// op(A)[i][p] is a[i·lda+p], or a[p·lda+i] when trans.
func packA(dst, a []float32, lda int, trans bool, alpha float32, i0, rows, p0, kc, mr int) {
	if trans {
		copyPanels(dst, a, lda, p0, i0, kc, mr, rows)
	} else {
		for ib := 0; ib < rows; ib += mr {
			interleave(dst[ib*kc:ib*kc+mr*kc], a, lda, i0+ib, p0, kc, mr, min(mr, rows-ib))
		}
	}
	if alpha != 1 {
		// A separate pass keeps the copy loops simple; it touches only the
		// packed block, which is in L1/L2.
		d := dst[:ceilDiv(rows, mr)*mr*kc]
		for i := range d {
			d[i] *= alpha
		}
	}
}

// packB packs columns [j0, j0+cols) and depth [p0, p0+kc) of op(B) into dst
// as micro-panels of nr columns of depth kc. op(B)[p][j] is b[p·ldb+j], or
// b[j·ldb+p] when trans.
func packB(dst, b []float32, ldb int, trans bool, j0, cols, p0, kc, nr int) {
	if !trans {
		copyPanels(dst, b, ldb, p0, j0, kc, nr, cols)
		return
	}
	for jb := 0; jb < cols; jb += nr {
		interleave(dst[jb*kc:jb*kc+nr*kc], b, ldb, j0+jb, p0, kc, nr, min(nr, cols-jb))
	}
}

// copyPanels packs panels whose k-steps are contiguous in memory: rows
// [r0, r0+n) (the k-steps) and columns [c0, c0+cols) of a row-major matrix
// x (leading dimension ld) become ceil(cols/w) micro-panels of n×w floats,
// d[(j/w)·w·n + p·w + j%w] = x[r0+p][c0+j], zero-filled past cols.
//
// It sweeps x row by row, so every cache line and page of x is visited once.
func copyPanels(d, x []float32, ld, r0, c0, n, w, cols int) {
	full := cols / w * w
	for p := 0; p < n; p++ {
		row := x[(r0+p)*ld+c0:][:cols]
		for j := 0; j < full; j += w {
			src := row[j : j+w]
			dst := d[j*n+p*w:][:len(src)]
			// [4]float32 and [2]float32 copies compile to single moves;
			// longer array copies become runtime.memmove calls, which cost
			// more than the copy at these sizes.
			switch {
			case w%4 == 0:
				for i := 0; i+4 <= len(src); i += 4 {
					*(*[4]float32)(dst[i:]) = *(*[4]float32)(src[i:])
				}
			case w%2 == 0:
				for i := 0; i+2 <= len(src); i += 2 {
					*(*[2]float32)(dst[i:]) = *(*[2]float32)(src[i:])
				}
			default:
				copy(dst, src)
			}
		}
		if full < cols {
			dst := d[full*n+p*w:][:w]
			copy(dst, row[full:])
			clear(dst[cols-full:])
		}
	}
}

// interleave packs rows [r0, r0+live) of a row-major matrix x (leading
// dimension ld), columns [c0, c0+n), k-major: d[p·w+r] = x[r0+r][c0+p], with
// rows live..w-1 zero. This packs panels whose k-steps are strided in
// memory (Linear's activations, transposed weights).
func interleave(d, x []float32, ld, r0, c0, n, w, live int) {
	d = d[:n*w]
	if live == w && w == 6 {
		interleave6(d, x, ld, r0, c0, n)
		return
	}
	r := 0
	for ; r+4 <= live; r += 4 {
		x0 := x[(r0+r)*ld+c0:][:n]
		x1 := x[(r0+r+1)*ld+c0:][:len(x0)]
		x2 := x[(r0+r+2)*ld+c0:][:len(x0)]
		x3 := x[(r0+r+3)*ld+c0:][:len(x0)]
		for p := range x0 {
			q := (*[4]float32)(d[p*w+r:])
			q[0], q[1], q[2], q[3] = x0[p], x1[p], x2[p], x3[p]
		}
	}
	for ; r < live; r++ {
		xr := x[(r0+r)*ld+c0:][:n]
		for p, v := range xr {
			d[p*w+r] = v
		}
	}
	for ; r < w; r++ {
		for p := 0; p < n; p++ {
			d[p*w+r] = 0
		}
	}
}

// interleave6 is interleave for a full 6-row panel, the AVX2 tile height.
func interleave6(d, x []float32, ld, r0, c0, n int) {
	x0 := x[r0*ld+c0:][:n]
	x1 := x[(r0+1)*ld+c0:][:len(x0)]
	x2 := x[(r0+2)*ld+c0:][:len(x0)]
	x3 := x[(r0+3)*ld+c0:][:len(x0)]
	x4 := x[(r0+4)*ld+c0:][:len(x0)]
	x5 := x[(r0+5)*ld+c0:][:len(x0)]
	d = d[:6*len(x0)]
	for p := range x0 {
		q := d[6*p : 6*p+6 : 6*p+6]
		q[0] = x0[p]
		q[1] = x1[p]
		q[2] = x2[p]
		q[3] = x3[p]
		q[4] = x4[p]
		q[5] = x5[p]
	}
}
