//go:build amd64

package selfcheck

// Implemented in avx512_amd64.s. Every function needs AVX-512 F; the names
// say which extra subset (DQ, BW, VL) an instruction belongs to.

// addPS sets dst = a + b with VADDPS on ZMM registers.
//
//go:noescape
func addPS(dst, a, b *[16]float32)

// fmaBcst sets y = x*s + y with VFMADD231PS and an embedded broadcast of s.
//
//go:noescape
func fmaBcst(y, x *[16]float32, s *float32)

// maskedLoad loads src under mask with zeroing (VMOVUPS.Z) and stores all
// 16 lanes to dst.
//
//go:noescape
func maskedLoad(dst, src *[16]float32, mask uint16)

// maskedStore stores src to dst under mask (merge: other lanes of dst keep
// their values).
//
//go:noescape
func maskedStore(dst, src *[16]float32, mask uint16)

// cmpGtD returns the mask of lanes where a > b (VPCMPGTD into K1, KMOVW).
//
//go:noescape
func cmpGtD(a, b *[16]int32) uint16

// mulloQ sets dst = a * b (low 64 bits) with VPMULLQ (AVX-512 DQ).
//
//go:noescape
func mulloQ(dst, a, b *[8]int64)

// addB sets dst = a + b bytewise with VPADDB on ZMM (AVX-512 BW).
//
//go:noescape
func addB(dst, a, b *[64]uint8)

// addVL sets dst = a + b with a 256-bit EVEX VADDPS on Y16-Y18 (AVX-512 VL).
//
//go:noescape
func addVL(dst, a, b *[8]float32)

// dot returns the dot product of a and b (equal lengths): a 16-lane
// VFMADD231PS loop, a masked tail and a horizontal sum (VEXTRACTF32X8 is DQ).
//
//go:noescape
func dot(a, b []float32) float32

// spinKeep fills Z16..Z31 with seed*1 .. seed*16 and K2..K7 with fixed
// patterns, spins iters times, then stores the registers. The values must
// survive interrupts and signals, i.e. the kernel's XSAVE/XRSTOR of the
// AVX-512 state.
//
//go:noescape
func spinKeep(z *[16][16]float32, k *[6]uint16, seed float32, iters int)
