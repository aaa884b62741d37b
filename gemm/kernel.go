package gemm

import (
	"unsafe"

	"bioencoder/kernels"
)

// microKernel computes one register tile of C from a packed micro-panel of A
// (kc steps of mr floats, the kernel set's full mr even when fewer rows are
// live) and one of B (kc steps of nr floats):
//
//	C[r][j] = (flags&flagAccumulate ? C[r][j] : 0) + Σ_p A[p][r]·B[p][j] + bias[j]
//
// for the kernel's row count r and all nr columns j. ldc is C's row stride in
// floats; bias is nr floats or nil. The caller guarantees the whole tile is
// writable; partial tiles go through a scratch tile (see tileEdge).
type microKernel func(kc int, a, b, c *float32, ldc int, bias *float32, flags int)

const flagAccumulate = 1

// Largest tile of any kernel set, for scratch tiles on the stack.
const (
	maxMR = 12
	maxNR = 32
)

// kernelSet is one instruction set's micro-kernels and the block sizes that
// suit them.
type kernelSet struct {
	path   kernels.Path
	mr, nr int
	// kc is the largest depth of a packed block. A B micro-panel (kc×nr) must
	// stay in L1 while the A micro-panels stream past it from L2.
	kc int
	// mc is the largest number of rows of a packed A block (a multiple of
	// mr); the block (mc×kc) lives in L2.
	mc int
	// nc is the largest number of columns of a B block Gemm packs at once
	// (a multiple of nr); the block (kc×nc) lives in L2/L3.
	nc    int
	kerns []microKernel // kerns[r] computes r rows, 1 <= r <= mr
	addTo func(dst, src []float32)
}

var kernelSets [3]*kernelSet // indexed by kernels.Path

func activeSet() *kernelSet {
	if ks := kernelSets[kernels.Active()]; ks != nil {
		return ks
	}
	return kernelSets[kernels.Generic]
}

// Portable kernel: a 4×4 tile of scalar accumulators, which is about what
// the Go compiler keeps in registers without spilling.
const (
	genericMR = 4
	genericNR = 4
)

func init() {
	ks := &kernelSet{
		path: kernels.Generic, mr: genericMR, nr: genericNR,
		kc: 256, mc: 64, nc: 512,
		kerns: make([]microKernel, genericMR+1),
		addTo: addToGeneric,
	}
	for r := 1; r <= genericMR; r++ {
		ks.kerns[r] = func(kc int, a, b, c *float32, ldc int, bias *float32, flags int) {
			kernGeneric(r, kc, a, b, c, ldc, bias, flags)
		}
	}
	kernelSets[kernels.Generic] = ks
}

func kernGeneric(rows, kc int, a, b, c *float32, ldc int, bias *float32, flags int) {
	A := unsafe.Slice(a, kc*genericMR)
	B := unsafe.Slice(b, kc*genericNR)
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	var c20, c21, c22, c23, c30, c31, c32, c33 float32
	for p := 0; p < kc; p++ {
		ap := A[p*genericMR : p*genericMR+4 : p*genericMR+4]
		bp := B[p*genericNR : p*genericNR+4 : p*genericNR+4]
		b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
		a0 := ap[0]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		a1 := ap[1]
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		a2 := ap[2]
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		a3 := ap[3]
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	acc := [genericMR][genericNR]float32{
		{c00, c01, c02, c03}, {c10, c11, c12, c13}, {c20, c21, c22, c23}, {c30, c31, c32, c33},
	}
	C := unsafe.Slice(c, (rows-1)*ldc+genericNR)
	var bv []float32
	if bias != nil {
		bv = unsafe.Slice(bias, genericNR)
	}
	for r := 0; r < rows; r++ {
		row := C[r*ldc : r*ldc+genericNR]
		for j := range row {
			v := acc[r][j]
			if bv != nil {
				v += bv[j]
			}
			if flags&flagAccumulate != 0 {
				v += row[j]
			}
			row[j] = v
		}
	}
}

func addToGeneric(dst, src []float32) {
	src = src[:len(dst)]
	for i := range dst {
		dst[i] += src[i]
	}
}
