package kernels

import "math"

// Conversions between float32 and the 16-bit formats of checkpoint files.
// Widening is exact. Narrowing rounds to nearest, ties to even. The SIMD paths
// convert whole vectors (VPMOVZXWD+shift for bfloat16, VCVTPH2PS/VCVTPS2PH
// for IEEE half, which every AVX2 CPU has as F16C) and the scalar code below
// does the remainder; the two agree bit for bit (tested exhaustively for the
// widening directions).

func checkHalf(fn string, n16, n32 int) {
	if n16 != n32 {
		lenPanic(fn, "uint16 slice", n16, "float32 slice", n32)
	}
}

// vecPart is how many leading elements the SIMD path converts.
func vecPart(p Path, n int) int {
	switch p {
	case AVX512:
		return n &^ 15
	case AVX2:
		return n &^ 7
	}
	return 0
}

// BF16ToF32 widens bfloat16 values (raw bits) to float32: bits << 16.
func BF16ToF32(dst []float32, src []uint16) {
	checkHalf("BF16ToF32", len(src), len(dst))
	p := active
	k := vecPart(p, len(src))
	if k > 0 {
		if p == AVX512 {
			bf16ToF32AVX512(&dst[0], &src[0], k)
		} else {
			bf16ToF32AVX2(&dst[0], &src[0], k)
		}
	}
	for i := k; i < len(src); i++ {
		dst[i] = math.Float32frombits(uint32(src[i]) << 16)
	}
}

// F16ToF32 widens IEEE 754 binary16 values (raw bits) to float32, exactly,
// subnormals included. A signalling NaN comes out quiet (payload kept), as
// VCVTPH2PS does.
func F16ToF32(dst []float32, src []uint16) {
	checkHalf("F16ToF32", len(src), len(dst))
	p := active
	k := vecPart(p, len(src))
	if k > 0 {
		if p == AVX512 {
			f16ToF32AVX512(&dst[0], &src[0], k)
		} else {
			f16ToF32AVX2(&dst[0], &src[0], k)
		}
	}
	for i := k; i < len(src); i++ {
		dst[i] = f16ToF32(src[i])
	}
}

// F32ToBF16 narrows float32 to bfloat16 bits, rounding to nearest even;
// every NaN becomes 0x7fc0 (as PyTorch's c10::BFloat16).
func F32ToBF16(dst []uint16, src []float32) {
	checkHalf("F32ToBF16", len(dst), len(src))
	p := active
	k := vecPart(p, len(src))
	if k > 0 {
		if p == AVX512 {
			f32ToBF16AVX512(&dst[0], &src[0], k)
		} else {
			f32ToBF16AVX2(&dst[0], &src[0], k)
		}
	}
	for i := k; i < len(src); i++ {
		dst[i] = f32ToBF16(src[i])
	}
}

// F32ToF16 narrows float32 to IEEE binary16 bits, rounding to nearest even
// (overflow gives ±Inf, tiny values give subnormals or ±0); NaNs stay NaN
// (quiet, top payload bits kept), as VCVTPS2PH.
func F32ToF16(dst []uint16, src []float32) {
	checkHalf("F32ToF16", len(dst), len(src))
	p := active
	k := vecPart(p, len(src))
	if k > 0 {
		if p == AVX512 {
			f32ToF16AVX512(&dst[0], &src[0], k)
		} else {
			f32ToF16AVX2(&dst[0], &src[0], k)
		}
	}
	for i := k; i < len(src); i++ {
		dst[i] = f32ToF16(src[i])
	}
}

func f32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return 0x7fc0
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

func f16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f && mant != 0:
		return math.Float32frombits(sign | 0x7fc00000 | mant<<13)
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000)
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0:
		e := uint32(113)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
}

func f32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00 | uint16(mant>>13)
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		if e < -10 {
			return sign
		}
		m := mant | 0x800000
		shift := uint(14 - e)
		h := m >> shift
		rem, half := m&(1<<shift-1), uint32(1)<<(shift-1)
		if rem > half || (rem == half && h&1 == 1) {
			h++
		}
		return sign | uint16(h)
	}
	h := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++
	}
	return sign | uint16(h)
}
