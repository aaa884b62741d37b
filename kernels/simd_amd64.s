// SIMD kernels for AVX2+FMA and AVX-512. The kernel bodies live once, in
// simd_amd64.h, written against the register and macro names defined below;
// the file is included twice, once per instruction set, so both paths run the
// same instruction sequence on 8 or 16 lanes. Only tails (masked loads and
// stores), horizontal reductions and narrowing differ, and those are the
// macros defined here.
//
// Registers: V0..V14 are data registers. On AVX2, Y15 holds the tail mask;
// on AVX-512 the tail mask is K1 and K2 is scratch. R11, R12 are macro
// scratch. Constants live in consts_amd64.h, 64 bytes (16 copies) each, so
// the same memory operand serves a 256-bit or a 512-bit instruction.

#include "textflag.h"
#include "consts_amd64.h"

// ---------------------------------------------------------------- AVX2+FMA

#define VL 8
#define VB 32
#define VL2 16
#define VB2 64
#define VB3 96
#define VL4 32
#define VB4 128
#define HB 16
#define HB2 32

#define V0 Y0
#define V1 Y1
#define V2 Y2
#define V3 Y3
#define V4 Y4
#define V5 Y5
#define V6 Y6
#define V7 Y7
#define V8 Y8
#define V9 Y9
#define V10 Y10
#define V11 Y11
#define V12 Y12
#define V13 Y13
#define V14 Y14
#define H0 X0
#define H1 X1
#define H2 X2
#define H3 X3
#define H4 X4
#define H5 X5

// SETTAIL(cnt): lanes [0, cnt) active, 0 < cnt < VL. The mask is eight
// all-ones dwords followed by eight zero dwords, loaded from offset 8-cnt.
#define SETTAIL(cnt) \
	MOVQ $8, R11 \
	SUBQ cnt, R11 \
	LEAQ tailmask<>(SB), R12 \
	VMOVDQU (R12)(R11*4), Y15

#define MLOAD(base, dst) VMASKMOVPS (base), Y15, dst
#define MLOADFILL(base, dst, tmp) VMASKMOVPS (base), Y15, tmp; VBLENDVPS Y15, tmp, dst, dst
#define MSTORE(src, base) VMASKMOVPS src, Y15, (base)
#define MASKZERO(v) VANDPS Y15, v, v

// HSUM0 / HMAX0: reduce V0 to its lane 0 (X0), using V1.
#define HSUM0 \
	VEXTRACTF128 $1, Y0, X1 \
	VADDPS X1, X0, X0 \
	VMOVHLPS X0, X1, X1 \
	VADDPS X1, X0, X0 \
	VMOVSHDUP X0, X1 \
	VADDSS X1, X0, X0

#define HMAX0 \
	VEXTRACTF128 $1, Y0, X1 \
	VMAXPS X1, X0, X0 \
	VMOVHLPS X0, X1, X1 \
	VMAXPS X1, X0, X0 \
	VMOVSHDUP X0, X1 \
	VMAXSS X1, X0, X0

// NARROW(v, h, htmp): the low 16 bits of each dword of v into h, in order.
#define NARROW(v, h, htmp) VEXTRACTI128 $1, v, htmp; VPACKUSDW htmp, h, h

// NANFIX(x, bits, tmp): bits = 0x7fc0 in lanes where x is NaN.
#define NANFIX(x, bits, tmp) VCMPPS $3, x, x, tmp; VBLENDVPS tmp, C_QNANBF, bits, bits

#define FN_exp ·expAVX2
#define FN_sigmoid ·sigmoidAVX2
#define FN_tanh ·tanhAVX2
#define FN_gelu ·geluAVX2
#define FN_geluTanh ·geluTanhAVX2
#define FN_silu ·siluAVX2
#define FN_relu ·reluAVX2
#define FN_geluGrad ·geluGradAVX2
#define FN_add ·addAVX2
#define FN_scale ·scaleAVX2
#define FN_axpy ·axpyAVX2
#define FN_dot ·dotAVX2
#define FN_sum ·sumAVX2
#define FN_max ·maxAVX2
#define FN_sumSqDev ·sumSqDevAVX2
#define FN_lnApply ·lnApplyAVX2
#define FN_lnApplyNoBeta ·lnApplyNoBetaAVX2
#define FN_expSum ·expSumAVX2
#define FN_mulSub ·mulSubAVX2
#define FN_lnBwdReduce ·lnBwdReduceAVX2
#define FN_lnBwdApply ·lnBwdApplyAVX2
#define FN_bf16ToF32 ·bf16ToF32AVX2
#define FN_f16ToF32 ·f16ToF32AVX2
#define FN_f32ToBF16 ·f32ToBF16AVX2
#define FN_f32ToF16 ·f32ToF16AVX2

#include "simd_amd64.h"

#undef VL
#undef VB
#undef VL2
#undef VB2
#undef VB3
#undef VL4
#undef VB4
#undef HB
#undef HB2
#undef V0
#undef V1
#undef V2
#undef V3
#undef V4
#undef V5
#undef V6
#undef V7
#undef V8
#undef V9
#undef V10
#undef V11
#undef V12
#undef V13
#undef V14
#undef H0
#undef H1
#undef H2
#undef H3
#undef H4
#undef H5
#undef SETTAIL
#undef MLOAD
#undef MLOADFILL
#undef MSTORE
#undef MASKZERO
#undef HSUM0
#undef HMAX0
#undef NARROW
#undef NANFIX
#undef FN_exp
#undef FN_sigmoid
#undef FN_tanh
#undef FN_gelu
#undef FN_geluTanh
#undef FN_silu
#undef FN_relu
#undef FN_geluGrad
#undef FN_add
#undef FN_scale
#undef FN_axpy
#undef FN_dot
#undef FN_sum
#undef FN_max
#undef FN_sumSqDev
#undef FN_lnApply
#undef FN_lnApplyNoBeta
#undef FN_expSum
#undef FN_mulSub
#undef FN_lnBwdReduce
#undef FN_lnBwdApply
#undef FN_bf16ToF32
#undef FN_f16ToF32
#undef FN_f32ToBF16
#undef FN_f32ToF16

// ---------------------------------------------------------------- AVX-512

#define VL 16
#define VB 64
#define VL2 32
#define VB2 128
#define VB3 192
#define VL4 64
#define VB4 256
#define HB 32
#define HB2 64

#define V0 Z0
#define V1 Z1
#define V2 Z2
#define V3 Z3
#define V4 Z4
#define V5 Z5
#define V6 Z6
#define V7 Z7
#define V8 Z8
#define V9 Z9
#define V10 Z10
#define V11 Z11
#define V12 Z12
#define V13 Z13
#define V14 Z14
#define H0 Y0
#define H1 Y1
#define H2 Y2
#define H3 Y3
#define H4 Y4
#define H5 Y5

// SETTAIL(cnt): K1 = (1<<cnt)-1, 0 < cnt < 16.
#define SETTAIL(cnt) \
	MOVL $-1, R11 \
	BZHIL cnt, R11, R11 \
	KMOVW R11, K1

#define MLOAD(base, dst) VMOVUPS.Z (base), K1, dst
#define MLOADFILL(base, dst, tmp) VMOVUPS (base), K1, dst
#define MSTORE(src, base) VMOVUPS src, K1, (base)
#define MASKZERO(v) VMOVAPS.Z v, K1, v

#define HSUM0 \
	VEXTRACTF32X8 $1, Z0, Y1 \
	VADDPS Y1, Y0, Y0 \
	VEXTRACTF128 $1, Y0, X1 \
	VADDPS X1, X0, X0 \
	VMOVHLPS X0, X1, X1 \
	VADDPS X1, X0, X0 \
	VMOVSHDUP X0, X1 \
	VADDSS X1, X0, X0

#define HMAX0 \
	VEXTRACTF32X8 $1, Z0, Y1 \
	VMAXPS Y1, Y0, Y0 \
	VEXTRACTF128 $1, Y0, X1 \
	VMAXPS X1, X0, X0 \
	VMOVHLPS X0, X1, X1 \
	VMAXPS X1, X0, X0 \
	VMOVSHDUP X0, X1 \
	VMAXSS X1, X0, X0

#define NARROW(v, h, htmp) VPMOVDW v, h

#define NANFIX(x, bits, tmp) VCMPPS $3, x, x, K2; VMOVDQU32 C_QNANBF, K2, bits

#define FN_exp ·expAVX512
#define FN_sigmoid ·sigmoidAVX512
#define FN_tanh ·tanhAVX512
#define FN_gelu ·geluAVX512
#define FN_geluTanh ·geluTanhAVX512
#define FN_silu ·siluAVX512
#define FN_relu ·reluAVX512
#define FN_geluGrad ·geluGradAVX512
#define FN_add ·addAVX512
#define FN_scale ·scaleAVX512
#define FN_axpy ·axpyAVX512
#define FN_dot ·dotAVX512
#define FN_sum ·sumAVX512
#define FN_max ·maxAVX512
#define FN_sumSqDev ·sumSqDevAVX512
#define FN_lnApply ·lnApplyAVX512
#define FN_lnApplyNoBeta ·lnApplyNoBetaAVX512
#define FN_expSum ·expSumAVX512
#define FN_mulSub ·mulSubAVX512
#define FN_lnBwdReduce ·lnBwdReduceAVX512
#define FN_lnBwdApply ·lnBwdApplyAVX512
#define FN_bf16ToF32 ·bf16ToF32AVX512
#define FN_f16ToF32 ·f16ToF32AVX512
#define FN_f32ToBF16 ·f32ToBF16AVX512
#define FN_f32ToF16 ·f32ToF16AVX512

#include "simd_amd64.h"
