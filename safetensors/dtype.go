package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"
)

// DType is a safetensors element type, spelled as in the file header ("F32", "BF16", ...).
type DType string

// The element types a header may name. Sub-byte types (F4, F6_*) are not
// accepted: their byte size is not a whole number per element.
const (
	BOOL        DType = "BOOL"
	U8          DType = "U8"
	I8          DType = "I8"
	F8_E5M2     DType = "F8_E5M2"
	F8_E4M3     DType = "F8_E4M3"
	F8_E8M0     DType = "F8_E8M0"
	F8_E4M3FNUZ DType = "F8_E4M3FNUZ"
	F8_E5M2FNUZ DType = "F8_E5M2FNUZ"
	I16         DType = "I16"
	U16         DType = "U16"
	F16         DType = "F16"
	BF16        DType = "BF16"
	I32         DType = "I32"
	U32         DType = "U32"
	F32         DType = "F32"
	C64         DType = "C64"
	F64         DType = "F64"
	I64         DType = "I64"
	U64         DType = "U64"
)

type dtypeInfo struct {
	size int
	// rank follows the declaration order of the official Rust Dtype enum,
	// which its writer sorts on (descending) before the name; matching it
	// makes our files byte-identical to the official writer's.
	rank  int
	float bool
}

var dtypes = map[DType]dtypeInfo{
	BOOL:        {1, 0, false},
	U8:          {1, 4, false},
	I8:          {1, 5, false},
	F8_E5M2:     {1, 6, true},
	F8_E4M3:     {1, 7, true},
	F8_E8M0:     {1, 8, true},
	F8_E4M3FNUZ: {1, 9, true},
	F8_E5M2FNUZ: {1, 10, true},
	I16:         {2, 11, false},
	U16:         {2, 12, false},
	F16:         {2, 13, true},
	BF16:        {2, 14, true},
	I32:         {4, 15, false},
	U32:         {4, 16, false},
	F32:         {4, 17, true},
	C64:         {8, 18, false},
	F64:         {8, 19, true},
	I64:         {8, 20, false},
	U64:         {8, 21, false},
}

// Known reports whether d is an element type this package can read.
func (d DType) Known() bool { _, ok := dtypes[d]; return ok }

// Size is the number of bytes of one element (0 for an unknown type).
func (d DType) Size() int { return dtypes[d].size }

// IsFloat reports whether d is a real floating-point type (F64, F32, F16,
// BF16 and the F8 kinds). Model parameters are counted by this.
func (d DType) IsFloat() bool { return dtypes[d].float }

// Decodable reports whether Float32 can widen d (F64, F32, F16, BF16).
func (d DType) Decodable() bool {
	switch d {
	case F64, F32, F16, BF16:
		return true
	}
	return false
}

// IsInt reports whether DecodeInt64 accepts d.
func (d DType) IsInt() bool {
	switch d {
	case BOOL, U8, I8, I16, U16, I32, U32, I64, U64:
		return true
	}
	return false
}

// F16ToF32 widens an IEEE 754 half-precision value exactly.
func F16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // inf or nan; the payload moves to the top of the wider mantissa
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0:
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	case mant == 0:
		return math.Float32frombits(sign)
	}
	// Subnormal half (mant·2⁻²⁴) is a normal float32: shift the leading one
	// into the implicit bit and lower the exponent to match.
	e := uint32(127 - 15 + 1)
	for mant&0x400 == 0 {
		mant <<= 1
		e--
	}
	return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
}

// F32ToF16 rounds a float32 to the nearest half (ties to even), overflowing
// to ±inf and keeping NaN a (quiet) NaN, as a float32→float16 cast does.
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant == 0 {
			return sign | 0x7c00
		}
		return sign | 0x7e00 | uint16(mant>>13)
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		// Result is a half subnormal (or zero): value = (mant|1<<23)·2^(exp-150),
		// in units of 2⁻²⁴ that is (mant|1<<23) >> (14-e).
		if e < -10 {
			return sign // below half the smallest subnormal
		}
		m := mant | 0x800000
		shift := uint32(14 - e)
		h := m >> shift
		rem := m & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && h&1 == 1) {
			h++ // may carry into the exponent field: that is the right answer
		}
		return sign | uint16(h)
	}
	h := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++ // a carry out of the mantissa bumps the exponent, up to inf
	}
	return sign | uint16(h)
}

// BF16ToF32 widens a bfloat16 exactly: its bits are the top half of a float32.
func BF16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// F32ToBF16 rounds a float32 to the nearest bfloat16 (ties to even), keeping
// NaN quiet, like PyTorch's float32→bfloat16 cast.
func F32ToBF16(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 {
		return uint16(u>>16) | 0x40
	}
	return uint16((u + 0x7fff + (u>>16)&1) >> 16)
}

// DecodeFloat32 widens little-endian elements of type dt from src into dst
// (len(dst) elements; src must hold exactly that many). F64 is rounded to
// the nearest float32.
func DecodeFloat32(dt DType, src []byte, dst []float32) error {
	if !dt.Decodable() {
		return fmt.Errorf("dtype %s is not a floating-point type this reader widens to float32", dt)
	}
	if len(src) != len(dst)*dt.Size() {
		return fmt.Errorf("%d bytes for %d %s elements", len(src), len(dst), dt)
	}
	switch dt {
	case F32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	case F64:
		for i := range dst {
			dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:])))
		}
	case F16:
		for i := range dst {
			dst[i] = F16ToF32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	case BF16:
		for i := range dst {
			dst[i] = BF16ToF32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	}
	return nil
}

// DecodeInt64 widens little-endian integer (or BOOL) elements into dst. A U64
// value above math.MaxInt64 is an error.
func DecodeInt64(dt DType, src []byte, dst []int64) error {
	if !dt.IsInt() {
		return fmt.Errorf("dtype %s is not an integer type", dt)
	}
	if len(src) != len(dst)*dt.Size() {
		return fmt.Errorf("%d bytes for %d %s elements", len(src), len(dst), dt)
	}
	le := binary.LittleEndian
	switch dt {
	case BOOL, U8:
		for i := range dst {
			dst[i] = int64(src[i])
		}
	case I8:
		for i := range dst {
			dst[i] = int64(int8(src[i]))
		}
	case I16:
		for i := range dst {
			dst[i] = int64(int16(le.Uint16(src[2*i:])))
		}
	case U16:
		for i := range dst {
			dst[i] = int64(le.Uint16(src[2*i:]))
		}
	case I32:
		for i := range dst {
			dst[i] = int64(int32(le.Uint32(src[4*i:])))
		}
	case U32:
		for i := range dst {
			dst[i] = int64(le.Uint32(src[4*i:]))
		}
	case I64:
		for i := range dst {
			dst[i] = int64(le.Uint64(src[8*i:]))
		}
	case U64:
		for i := range dst {
			v := le.Uint64(src[8*i:])
			if v > math.MaxInt64 {
				return fmt.Errorf("U64 element %d = %d does not fit in int64", i, v)
			}
			dst[i] = int64(v)
		}
	}
	return nil
}
