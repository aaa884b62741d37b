// Kernel bodies shared by the AVX2 and AVX-512 paths; see simd_amd64.s for
// the names (V*, VL, VB, SETTAIL, MLOAD, ...) this file is written against.
// Go operand order is reversed from Intel's: "VSUBPS a, b, d" is d = b - a,
// "VFMADD213PS c, b, d" is d = b*d + c, "VFMADD231PS c, b, d" is d = b*c + d.
// For VMAXPS/VMINPS the first Go operand is the one returned when either is
// NaN, so "VMAXPS x, LO, x" clamps x and keeps a NaN x.

// EXPV(x, t1, t2, t3): x = e^x. V13/V14 must hold expLo/expHi (EXPSETUP).
// n = round(x·log2e) via the 1.5·2^23 trick (its bits also give n as an
// integer), r = x - n·ln2 in two FMA steps, p = poly(r), and 2^n applied as
// 2^(n>>1)·2^(n-(n>>1)) so n in [-150, 128] never leaves the normal exponent
// range: large negative inputs round to 0 (through denormals) and large
// positive ones overflow to +Inf.
#define EXPSETUP VBROADCASTSS C_EXP_LO, V13; VBROADCASTSS C_EXP_HI, V14

#define EXPV(x, t1, t2, t3) \
	VMAXPS x, V13, x \
	VMINPS x, V14, x \
	EXPCORE(x, t1, t2, t3)

// EXPM: same, clamping with memory operands (a NaN input gives 0); for inputs
// whose NaN is carried by another term.
#define EXPM(x, t1, t2, t3) \
	VMAXPS C_EXP_LO, x, x \
	VMINPS C_EXP_HI, x, x \
	EXPCORE(x, t1, t2, t3)

#define EXPCORE(x, t1, t2, t3) \
	VMOVUPS C_MAGIC, t1 \
	VFMADD231PS C_LOG2E, x, t1 \
	VSUBPS C_MAGIC, t1, t2 \
	VFNMADD231PS C_LN2HI, t2, x \
	VFNMADD231PS C_LN2LO, t2, x \
	VMOVUPS C_E6, t2 \
	VFMADD213PS C_E5, x, t2 \
	VFMADD213PS C_E4, x, t2 \
	VFMADD213PS C_E3, x, t2 \
	VFMADD213PS C_E2, x, t2 \
	VFMADD213PS C_E1, x, t2 \
	VFMADD213PS C_E0, x, t2 \
	VPSUBD C_MAGIC, t1, t1 \
	VPSRAD $1, t1, t3 \
	VPSUBD t3, t1, t1 \
	VPADDD C_BIAS127, t3, t3 \
	VPSLLD $23, t3, t3 \
	VPADDD C_BIAS127, t1, t1 \
	VPSLLD $23, t1, t1 \
	VMULPS t3, t2, t2 \
	VMULPS t1, t2, x

// GELUV(x): x = 0.5·x·(1+erf(x/√2)), temps V1..V5; V9..V12 hold -clamp,
// +clamp, 1, -1 (GELUSETUP). erf(x/√2) = xc·P(xc²)/Q(xc²) clamped to [-1,1];
// the 0.5·x factor uses max(x, -clamp) so GELU(-Inf) = -0, not NaN.
#define GELUSETUP \
	VBROADCASTSS C_NGCLAMP, V9 \
	VBROADCASTSS C_GCLAMP, V10 \
	VBROADCASTSS C_ONE, V11 \
	VBROADCASTSS C_NEGONE, V12

#define ERFHALF(xc, u, p, q) \
	VMULPS xc, xc, u \
	VMOVUPS C_GP6, p \
	VFMADD213PS C_GP5, u, p \
	VFMADD213PS C_GP4, u, p \
	VFMADD213PS C_GP3, u, p \
	VFMADD213PS C_GP2, u, p \
	VFMADD213PS C_GP1, u, p \
	VFMADD213PS C_GP0, u, p \
	VMOVUPS C_GQ5, q \
	VFMADD213PS C_GQ4, u, q \
	VFMADD213PS C_GQ3, u, q \
	VFMADD213PS C_GQ2, u, q \
	VFMADD213PS C_GQ1, u, q \
	VFMADD213PS C_ONE, u, q \
	VMULPS xc, p, p \
	VDIVPS q, p, p \
	VMINPS p, V11, p \
	VMAXPS p, V12, p

#define GELUV(x) GELUV2(x, V1, V2, V3, V4)

// GELUV2(x, h, u, p, q): the same with explicit temps (two copies can run
// interleaved); x is clobbered (it holds the clamped input), the result is
// in p.
#define GELUV2(x, h, u, p, q) \
	VMAXPS x, V9, h \
	VMINPS h, V10, x \
	VMULPS C_HALF, h, h \
	ERFHALF(x, u, p, q) \
	VFMADD213PS h, h, p

// TANHV(x): x = tanh(x), temps V1..V3; V9..V12 hold -clamp, +clamp, 1, -1.
#define TANHSETUP \
	VBROADCASTSS C_NTCLAMP, V9 \
	VBROADCASTSS C_TCLAMP, V10 \
	VBROADCASTSS C_ONE, V11 \
	VBROADCASTSS C_NEGONE, V12

#define TANHV(x) \
	VMAXPS x, V9, x \
	VMINPS x, V10, x \
	VMULPS x, x, V1 \
	VMOVUPS C_TP5, V2 \
	VFMADD213PS C_TP4, V1, V2 \
	VFMADD213PS C_TP3, V1, V2 \
	VFMADD213PS C_TP2, V1, V2 \
	VFMADD213PS C_TP1, V1, V2 \
	VFMADD213PS C_TP0, V1, V2 \
	VMOVUPS C_TQ4, V3 \
	VFMADD213PS C_TQ3, V1, V3 \
	VFMADD213PS C_TQ2, V1, V3 \
	VFMADD213PS C_TQ1, V1, V3 \
	VFMADD213PS C_ONE, V1, V3 \
	VMULPS x, V2, V2 \
	VDIVPS V3, V2, x \
	VMINPS x, V11, x \
	VMAXPS x, V12, x

// SIGMOIDV(x): x = 1/(1+e^-x), temps V1..V3.
#define SIGMOIDV(x) \
	VXORPS C_SIGN, x, x \
	EXPV(x, V1, V2, V3) \
	VADDPS C_ONE, x, x \
	VMOVUPS C_ONE, V1 \
	VDIVPS x, V1, x

// SILUV(x): x = x/(1+e^(-αx)); V12 holds -α, V11 holds -1e30 (x is raised
// to it first so SiLU(-Inf) = -0 rather than NaN). Temps V1..V4.
#define SILUV(x) \
	VMAXPS x, V11, x \
	VMULPS V12, x, V4 \
	EXPV(V4, V1, V2, V3) \
	VADDPS C_ONE, V4, V4 \
	VDIVPS V4, x, x

// GELUTANHV(x): x = x·sigmoid(x·(a+b·x²)); V12 holds -1e4 (x is raised to it
// first, so -Inf gives -0). Temps V1..V5.
#define GELUTANHV(x) \
	VMAXPS x, V12, x \
	VMULPS x, x, V1 \
	VMOVUPS C_NGTB, V2 \
	VFMADD213PS C_NGTA, V1, V2 \
	VMULPS x, V2, V2 \
	EXPV(V2, V3, V4, V5) \
	VADDPS C_ONE, V2, V2 \
	VDIVPS V2, x, x

// UNARY(setup, body) expands to a loop over dst/src: whole vectors, then a
// masked tail. Arguments: dst+0(FP), src+8(FP), n+16(FP).
#define UNARY_ENTRY \
	MOVQ dst+0(FP), DI \
	MOVQ src+8(FP), SI \
	MOVQ n+16(FP), CX

// func expAVX2(dst, src *float32, n int)
TEXT FN_exp(SB), NOSPLIT, $0-24
	UNARY_ENTRY
	EXPSETUP
exp_loop2:
	CMPQ CX, $VL2
	JLT  exp_loop1
	VMOVUPS (SI), V0
	VMOVUPS VB(SI), V4
	EXPV(V0, V1, V2, V3)
	EXPV(V4, V5, V6, V7)
	VMOVUPS V0, (DI)
	VMOVUPS V4, VB(DI)
	ADDQ $VB2, SI
	ADDQ $VB2, DI
	SUBQ $VL2, CX
	JMP  exp_loop2
exp_loop1:
	CMPQ CX, $VL
	JLT  exp_tail
	VMOVUPS (SI), V0
	EXPV(V0, V1, V2, V3)
	VMOVUPS V0, (DI)
	ADDQ $VB, SI
	ADDQ $VB, DI
	SUBQ $VL, CX
	JMP  exp_loop1
exp_tail:
	TESTQ CX, CX
	JEQ   exp_done
	SETTAIL(CX)
	MLOAD(SI, V0)
	EXPV(V0, V1, V2, V3)
	MSTORE(V0, DI)
exp_done:
	VZEROUPPER
	RET

// func sigmoidAVX2(dst, src *float32, n int)
TEXT FN_sigmoid(SB), NOSPLIT, $0-24
	UNARY_ENTRY
	EXPSETUP
sig_loop:
	CMPQ CX, $VL
	JLT  sig_tail
	VMOVUPS (SI), V0
	SIGMOIDV(V0)
	VMOVUPS V0, (DI)
	ADDQ $VB, SI
	ADDQ $VB, DI
	SUBQ $VL, CX
	JMP  sig_loop
sig_tail:
	TESTQ CX, CX
	JEQ   sig_done
	SETTAIL(CX)
	MLOAD(SI, V0)
	SIGMOIDV(V0)
	MSTORE(V0, DI)
sig_done:
	VZEROUPPER
	RET

// func tanhAVX2(dst, src *float32, n int)
TEXT FN_tanh(SB), NOSPLIT, $0-24
	UNARY_ENTRY
	TANHSETUP
tanh_loop:
	CMPQ CX, $VL
	JLT  tanh_tail
	VMOVUPS (SI), V0
	TANHV(V0)
	VMOVUPS V0, (DI)
	ADDQ $VB, SI
	ADDQ $VB, DI
	SUBQ $VL, CX
	JMP  tanh_loop
tanh_tail:
	TESTQ CX, CX
	JEQ   tanh_done
	SETTAIL(CX)
	MLOAD(SI, V0)
	TANHV(V0)
	MSTORE(V0, DI)
tanh_done:
	VZEROUPPER
	RET

// func geluAVX2(dst, src *float32, n int)
TEXT FN_gelu(SB), NOSPLIT, $0-24
	UNARY_ENTRY
	GELUSETUP
gelu_loop2:
	CMPQ CX, $VL2
	JLT  gelu_loop1
	VMOVUPS (SI), V0
	VMOVUPS VB(SI), V5
	GELUV2(V0, V1, V2, V3, V4)
	GELUV2(V5, V6, V7, V8, V13)
	VMOVUPS V3, (DI)
	VMOVUPS V8, VB(DI)
	ADDQ $VB2, SI
	ADDQ $VB2, DI
	SUBQ $VL2, CX
	JMP  gelu_loop2
gelu_loop1:
	CMPQ CX, $VL
	JLT  gelu_tail
	VMOVUPS (SI), V0
	GELUV(V0)
	VMOVUPS V3, (DI)
	ADDQ $VB, SI
	ADDQ $VB, DI
	SUBQ $VL, CX
	JMP  gelu_loop1
gelu_tail:
	TESTQ CX, CX
	JEQ   gelu_done
	SETTAIL(CX)
	MLOAD(SI, V0)
	GELUV(V0)
	MSTORE(V3, DI)
gelu_done:
	VZEROUPPER
	RET

// func geluTanhAVX2(dst, src *float32, n int)
TEXT FN_geluTanh(SB), NOSPLIT, $0-24
	UNARY_ENTRY
	EXPSETUP
	VBROADCASTSS C_NEGBIG, V12
gt_loop:
	CMPQ CX, $VL
	JLT  gt_tail
	VMOVUPS (SI), V0
	GELUTANHV(V0)
	VMOVUPS V0, (DI)
	ADDQ $VB, SI
	ADDQ $VB, DI
	SUBQ $VL, CX
	JMP  gt_loop
gt_tail:
	TESTQ CX, CX
	JEQ   gt_done
	SETTAIL(CX)
	MLOAD(SI, V0)
	GELUTANHV(V0)
	MSTORE(V0, DI)
gt_done:
	VZEROUPPER
	RET

// func siluAVX2(dst, src *float32, n int, alpha float32)
TEXT FN_silu(SB), NOSPLIT, $0-28
	UNARY_ENTRY
	EXPSETUP
	VBROADCASTSS alpha+24(FP), V12
	VXORPS C_SIGN, V12, V12
	VBROADCASTSS C_NEGHUGE, V11
silu_loop:
	CMPQ CX, $VL
	JLT  silu_tail
	VMOVUPS (SI), V0
	SILUV(V0)
	VMOVUPS V0, (DI)
	ADDQ $VB, SI
	ADDQ $VB, DI
	SUBQ $VL, CX
	JMP  silu_loop
silu_tail:
	TESTQ CX, CX
	JEQ   silu_done
	SETTAIL(CX)
	MLOAD(SI, V0)
	SILUV(V0)
	MSTORE(V0, DI)
silu_done:
	VZEROUPPER
	RET

// func reluAVX2(dst, src *float32, n int)
TEXT FN_relu(SB), NOSPLIT, $0-24
	UNARY_ENTRY
	VXORPS V8, V8, V8
relu_loop4:
	CMPQ CX, $VL4
	JLT  relu_loop1
	VMOVUPS (SI), V0
	VMOVUPS VB(SI), V1
	VMOVUPS VB2(SI), V2
	VMOVUPS VB3(SI), V3
	VMAXPS V0, V8, V0
	VMAXPS V1, V8, V1
	VMAXPS V2, V8, V2
	VMAXPS V3, V8, V3
	VMOVUPS V0, (DI)
	VMOVUPS V1, VB(DI)
	VMOVUPS V2, VB2(DI)
	VMOVUPS V3, VB3(DI)
	ADDQ $VB4, SI
	ADDQ $VB4, DI
	SUBQ $VL4, CX
	JMP  relu_loop4
relu_loop1:
	CMPQ CX, $VL
	JLT  relu_tail
	VMOVUPS (SI), V0
	VMAXPS V0, V8, V0
	VMOVUPS V0, (DI)
	ADDQ $VB, SI
	ADDQ $VB, DI
	SUBQ $VL, CX
	JMP  relu_loop1
relu_tail:
	TESTQ CX, CX
	JEQ   relu_done
	SETTAIL(CX)
	MLOAD(SI, V0)
	VMAXPS V0, V8, V0
	MSTORE(V0, DI)
relu_done:
	VZEROUPPER
	RET

// GELUGRADV(x, dy): x = dy·(Φ(x) + x·φ(x)), temps V1..V7; GELUSETUP and
// EXPSETUP state. Φ uses the erf rational; the x·φ(x) term clamps x to ±20
// (where it is 0 in float32) and carries no NaN: the Φ term does.
#define GELUGRADV(x, dy) \
	VMAXPS x, V9, V1 \
	VMINPS V1, V10, V2 \
	ERFHALF(V2, V3, V4, V5) \
	VMULPS C_HALF, V4, V4 \
	VADDPS C_HALF, V4, V4 \
	VMAXPS C_NGRADCLAMP, x, V1 \
	VMINPS C_GRADCLAMP, V1, V1 \
	VMULPS V1, V1, V2 \
	VMULPS C_NEGHALF, V2, V2 \
	EXPM(V2, V3, V5, V6) \
	VMULPS V1, V2, V2 \
	VFMADD231PS C_INVSQRT2PI, V2, V4 \
	VMULPS dy, V4, x

// func geluGradAVX2(dx, x, dy *float32, n int)
TEXT FN_geluGrad(SB), NOSPLIT, $0-32
	MOVQ dx+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ dy+16(FP), DX
	MOVQ n+24(FP), CX
	GELUSETUP
ggrad_loop:
	CMPQ CX, $VL
	JLT  ggrad_tail
	VMOVUPS (SI), V0
	VMOVUPS (DX), V7
	GELUGRADV(V0, V7)
	VMOVUPS V0, (DI)
	ADDQ $VB, SI
	ADDQ $VB, DX
	ADDQ $VB, DI
	SUBQ $VL, CX
	JMP  ggrad_loop
ggrad_tail:
	TESTQ CX, CX
	JEQ   ggrad_done
	SETTAIL(CX)
	MLOAD(SI, V0)
	MLOAD(DX, V7)
	GELUGRADV(V0, V7)
	MSTORE(V0, DI)
ggrad_done:
	VZEROUPPER
	RET

// func addAVX2(dst, a, b *float32, n int)
TEXT FN_add(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
add_loop4:
	CMPQ CX, $VL4
	JLT  add_loop1
	VMOVUPS (SI), V0
	VMOVUPS VB(SI), V1
	VMOVUPS VB2(SI), V2
	VMOVUPS VB3(SI), V3
	VADDPS (DX), V0, V0
	VADDPS VB(DX), V1, V1
	VADDPS VB2(DX), V2, V2
	VADDPS VB3(DX), V3, V3
	VMOVUPS V0, (DI)
	VMOVUPS V1, VB(DI)
	VMOVUPS V2, VB2(DI)
	VMOVUPS V3, VB3(DI)
	ADDQ $VB4, SI
	ADDQ $VB4, DX
	ADDQ $VB4, DI
	SUBQ $VL4, CX
	JMP  add_loop4
add_loop1:
	CMPQ CX, $VL
	JLT  add_tail
	VMOVUPS (SI), V0
	VADDPS (DX), V0, V0
	VMOVUPS V0, (DI)
	ADDQ $VB, SI
	ADDQ $VB, DX
	ADDQ $VB, DI
	SUBQ $VL, CX
	JMP  add_loop1
add_tail:
	TESTQ CX, CX
	JEQ   add_done
	SETTAIL(CX)
	MLOAD(SI, V0)
	MLOAD(DX, V1)
	VADDPS V1, V0, V0
	MSTORE(V0, DI)
add_done:
	VZEROUPPER
	RET

// func scaleAVX2(x *float32, n int, s float32)
TEXT FN_scale(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), CX
	VBROADCASTSS s+16(FP), V8
scale_loop4:
	CMPQ CX, $VL4
	JLT  scale_loop1
	VMULPS (DI), V8, V0
	VMULPS VB(DI), V8, V1
	VMULPS VB2(DI), V8, V2
	VMULPS VB3(DI), V8, V3
	VMOVUPS V0, (DI)
	VMOVUPS V1, VB(DI)
	VMOVUPS V2, VB2(DI)
	VMOVUPS V3, VB3(DI)
	ADDQ $VB4, DI
	SUBQ $VL4, CX
	JMP  scale_loop4
scale_loop1:
	CMPQ CX, $VL
	JLT  scale_tail
	VMULPS (DI), V8, V0
	VMOVUPS V0, (DI)
	ADDQ $VB, DI
	SUBQ $VL, CX
	JMP  scale_loop1
scale_tail:
	TESTQ CX, CX
	JEQ   scale_done
	SETTAIL(CX)
	MLOAD(DI, V0)
	VMULPS V0, V8, V0
	MSTORE(V0, DI)
scale_done:
	VZEROUPPER
	RET

// func axpyAVX2(y, x *float32, n int, alpha float32)
TEXT FN_axpy(SB), NOSPLIT, $0-28
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS alpha+24(FP), V8
axpy_loop4:
	CMPQ CX, $VL4
	JLT  axpy_loop1
	VMOVUPS (DI), V0
	VMOVUPS VB(DI), V1
	VMOVUPS VB2(DI), V2
	VMOVUPS VB3(DI), V3
	VFMADD231PS (SI), V8, V0
	VFMADD231PS VB(SI), V8, V1
	VFMADD231PS VB2(SI), V8, V2
	VFMADD231PS VB3(SI), V8, V3
	VMOVUPS V0, (DI)
	VMOVUPS V1, VB(DI)
	VMOVUPS V2, VB2(DI)
	VMOVUPS V3, VB3(DI)
	ADDQ $VB4, SI
	ADDQ $VB4, DI
	SUBQ $VL4, CX
	JMP  axpy_loop4
axpy_loop1:
	CMPQ CX, $VL
	JLT  axpy_tail
	VMOVUPS (DI), V0
	VFMADD231PS (SI), V8, V0
	VMOVUPS V0, (DI)
	ADDQ $VB, SI
	ADDQ $VB, DI
	SUBQ $VL, CX
	JMP  axpy_loop1
axpy_tail:
	TESTQ CX, CX
	JEQ   axpy_done
	SETTAIL(CX)
	MLOAD(DI, V0)
	MLOAD(SI, V1)
	VFMADD231PS V1, V8, V0
	MSTORE(V0, DI)
axpy_done:
	VZEROUPPER
	RET

// func dotAVX2(a, b *float32, n int) float32
TEXT FN_dot(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DX
	MOVQ n+16(FP), CX
	VXORPS V0, V0, V0
	VXORPS V1, V1, V1
	VXORPS V2, V2, V2
	VXORPS V3, V3, V3
dot_loop4:
	CMPQ CX, $VL4
	JLT  dot_loop1
	VMOVUPS (SI), V4
	VMOVUPS VB(SI), V5
	VMOVUPS VB2(SI), V6
	VMOVUPS VB3(SI), V7
	VFMADD231PS (DX), V4, V0
	VFMADD231PS VB(DX), V5, V1
	VFMADD231PS VB2(DX), V6, V2
	VFMADD231PS VB3(DX), V7, V3
	ADDQ $VB4, SI
	ADDQ $VB4, DX
	SUBQ $VL4, CX
	JMP  dot_loop4
dot_loop1:
	CMPQ CX, $VL
	JLT  dot_tail
	VMOVUPS (SI), V4
	VFMADD231PS (DX), V4, V0
	ADDQ $VB, SI
	ADDQ $VB, DX
	SUBQ $VL, CX
	JMP  dot_loop1
dot_tail:
	TESTQ CX, CX
	JEQ   dot_done
	SETTAIL(CX)
	MLOAD(SI, V4)
	MLOAD(DX, V5)
	VFMADD231PS V5, V4, V1
dot_done:
	VADDPS V1, V0, V0
	VADDPS V3, V2, V2
	VADDPS V2, V0, V0
	HSUM0
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func sumAVX2(x *float32, n int) float32
TEXT FN_sum(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VXORPS V0, V0, V0
	VXORPS V1, V1, V1
	VXORPS V2, V2, V2
	VXORPS V3, V3, V3
sum_loop4:
	CMPQ CX, $VL4
	JLT  sum_loop1
	VADDPS (SI), V0, V0
	VADDPS VB(SI), V1, V1
	VADDPS VB2(SI), V2, V2
	VADDPS VB3(SI), V3, V3
	ADDQ $VB4, SI
	SUBQ $VL4, CX
	JMP  sum_loop4
sum_loop1:
	CMPQ CX, $VL
	JLT  sum_tail
	VADDPS (SI), V0, V0
	ADDQ $VB, SI
	SUBQ $VL, CX
	JMP  sum_loop1
sum_tail:
	TESTQ CX, CX
	JEQ   sum_done
	SETTAIL(CX)
	MLOAD(SI, V4)
	VADDPS V4, V1, V1
sum_done:
	VADDPS V1, V0, V0
	VADDPS V3, V2, V2
	VADDPS V2, V0, V0
	HSUM0
	VMOVSS X0, ret+16(FP)
	VZEROUPPER
	RET

// func maxAVX2(x *float32, n int) float32
// NaN elements are skipped: the accumulator is the operand VMAXPS returns
// when either is NaN, and it starts at -Inf.
TEXT FN_max(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS C_NEGINF, V0
	VMOVAPS V0, V1
	VMOVAPS V0, V2
	VMOVAPS V0, V3
max_loop4:
	CMPQ CX, $VL4
	JLT  max_loop1
	VMOVUPS (SI), V4
	VMOVUPS VB(SI), V5
	VMOVUPS VB2(SI), V6
	VMOVUPS VB3(SI), V7
	VMAXPS V0, V4, V0
	VMAXPS V1, V5, V1
	VMAXPS V2, V6, V2
	VMAXPS V3, V7, V3
	ADDQ $VB4, SI
	SUBQ $VL4, CX
	JMP  max_loop4
max_loop1:
	CMPQ CX, $VL
	JLT  max_tail
	VMOVUPS (SI), V4
	VMAXPS V0, V4, V0
	ADDQ $VB, SI
	SUBQ $VL, CX
	JMP  max_loop1
max_tail:
	TESTQ CX, CX
	JEQ   max_done
	SETTAIL(CX)
	VBROADCASTSS C_NEGINF, V4
	MLOADFILL(SI, V4, V5)
	VMAXPS V1, V4, V1
max_done:
	VMAXPS V1, V0, V0
	VMAXPS V3, V2, V2
	VMAXPS V2, V0, V0
	HMAX0
	VMOVSS X0, ret+16(FP)
	VZEROUPPER
	RET

// func sumSqDevAVX2(x *float32, n int, mean float32) float32: Σ(x-mean)².
TEXT FN_sumSqDev(SB), NOSPLIT, $0-28
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS mean+16(FP), V8
	VXORPS V0, V0, V0
	VXORPS V1, V1, V1
	VXORPS V2, V2, V2
	VXORPS V3, V3, V3
ssd_loop4:
	CMPQ CX, $VL4
	JLT  ssd_loop1
	VMOVUPS (SI), V4
	VMOVUPS VB(SI), V5
	VMOVUPS VB2(SI), V6
	VMOVUPS VB3(SI), V7
	VSUBPS V8, V4, V4
	VSUBPS V8, V5, V5
	VSUBPS V8, V6, V6
	VSUBPS V8, V7, V7
	VFMADD231PS V4, V4, V0
	VFMADD231PS V5, V5, V1
	VFMADD231PS V6, V6, V2
	VFMADD231PS V7, V7, V3
	ADDQ $VB4, SI
	SUBQ $VL4, CX
	JMP  ssd_loop4
ssd_loop1:
	CMPQ CX, $VL
	JLT  ssd_tail
	VMOVUPS (SI), V4
	VSUBPS V8, V4, V4
	VFMADD231PS V4, V4, V0
	ADDQ $VB, SI
	SUBQ $VL, CX
	JMP  ssd_loop1
ssd_tail:
	TESTQ CX, CX
	JEQ   ssd_done
	SETTAIL(CX)
	MLOAD(SI, V4)
	VSUBPS V8, V4, V4
	MASKZERO(V4)
	VFMADD231PS V4, V4, V1
ssd_done:
	VADDPS V1, V0, V0
	VADDPS V3, V2, V2
	VADDPS V2, V0, V0
	HSUM0
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func lnApplyAVX2(dst, src, gamma, beta *float32, n int, mean, rstd float32)
// dst = (src-mean)·rstd·gamma + beta
TEXT FN_lnApply(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ gamma+16(FP), DX
	MOVQ beta+24(FP), BX
	MOVQ n+32(FP), CX
	VBROADCASTSS mean+40(FP), V8
	VBROADCASTSS rstd+44(FP), V9
lna_loop2:
	CMPQ CX, $VL2
	JLT  lna_loop1
	VMOVUPS (SI), V0
	VMOVUPS VB(SI), V1
	VSUBPS V8, V0, V0
	VSUBPS V8, V1, V1
	VMULPS V9, V0, V0
	VMULPS V9, V1, V1
	VMOVUPS (DX), V2
	VMOVUPS VB(DX), V3
	VFMADD213PS (BX), V2, V0
	VFMADD213PS VB(BX), V3, V1
	VMOVUPS V0, (DI)
	VMOVUPS V1, VB(DI)
	ADDQ $VB2, SI
	ADDQ $VB2, DX
	ADDQ $VB2, BX
	ADDQ $VB2, DI
	SUBQ $VL2, CX
	JMP  lna_loop2
lna_loop1:
	CMPQ CX, $VL
	JLT  lna_tail
	VMOVUPS (SI), V0
	VSUBPS V8, V0, V0
	VMULPS V9, V0, V0
	VMOVUPS (DX), V2
	VFMADD213PS (BX), V2, V0
	VMOVUPS V0, (DI)
	ADDQ $VB, SI
	ADDQ $VB, DX
	ADDQ $VB, BX
	ADDQ $VB, DI
	SUBQ $VL, CX
	JMP  lna_loop1
lna_tail:
	TESTQ CX, CX
	JEQ   lna_done
	SETTAIL(CX)
	MLOAD(SI, V0)
	MLOAD(DX, V2)
	MLOAD(BX, V3)
	VSUBPS V8, V0, V0
	VMULPS V9, V0, V0
	VFMADD213PS V3, V2, V0
	MSTORE(V0, DI)
lna_done:
	VZEROUPPER
	RET

// func lnApplyNoBetaAVX2(dst, src, gamma *float32, n int, mean, rstd float32)
TEXT FN_lnApplyNoBeta(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ gamma+16(FP), DX
	MOVQ n+24(FP), CX
	VBROADCASTSS mean+32(FP), V8
	VBROADCASTSS rstd+36(FP), V9
lnb_loop2:
	CMPQ CX, $VL2
	JLT  lnb_loop1
	VMOVUPS (SI), V0
	VMOVUPS VB(SI), V1
	VSUBPS V8, V0, V0
	VSUBPS V8, V1, V1
	VMULPS V9, V0, V0
	VMULPS V9, V1, V1
	VMULPS (DX), V0, V0
	VMULPS VB(DX), V1, V1
	VMOVUPS V0, (DI)
	VMOVUPS V1, VB(DI)
	ADDQ $VB2, SI
	ADDQ $VB2, DX
	ADDQ $VB2, DI
	SUBQ $VL2, CX
	JMP  lnb_loop2
lnb_loop1:
	CMPQ CX, $VL
	JLT  lnb_tail
	VMOVUPS (SI), V0
	VSUBPS V8, V0, V0
	VMULPS V9, V0, V0
	VMULPS (DX), V0, V0
	VMOVUPS V0, (DI)
	ADDQ $VB, SI
	ADDQ $VB, DX
	ADDQ $VB, DI
	SUBQ $VL, CX
	JMP  lnb_loop1
lnb_tail:
	TESTQ CX, CX
	JEQ   lnb_done
	SETTAIL(CX)
	MLOAD(SI, V0)
	MLOAD(DX, V2)
	VSUBPS V8, V0, V0
	VMULPS V9, V0, V0
	VMULPS V2, V0, V0
	MSTORE(V0, DI)
lnb_done:
	VZEROUPPER
	RET

// func expSumAVX2(x *float32, n int, scale, shift float32) float32
// x = exp(x·scale - shift) in place; returns the sum. NaN inputs stay NaN.
TEXT FN_expSum(SB), NOSPLIT, $0-28
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), CX
	VBROADCASTSS scale+16(FP), V10
	VBROADCASTSS shift+20(FP), V11
	EXPSETUP
	VXORPS V8, V8, V8
	VXORPS V9, V9, V9
es_loop2:
	CMPQ CX, $VL2
	JLT  es_loop1
	VMOVUPS (DI), V0
	VMOVUPS VB(DI), V4
	VFMSUB213PS V11, V10, V0
	VFMSUB213PS V11, V10, V4
	EXPV(V0, V1, V2, V3)
	EXPV(V4, V5, V6, V7)
	VMOVUPS V0, (DI)
	VMOVUPS V4, VB(DI)
	VADDPS V0, V8, V8
	VADDPS V4, V9, V9
	ADDQ $VB2, DI
	SUBQ $VL2, CX
	JMP  es_loop2
es_loop1:
	CMPQ CX, $VL
	JLT  es_tail
	VMOVUPS (DI), V0
	VFMSUB213PS V11, V10, V0
	EXPV(V0, V1, V2, V3)
	VMOVUPS V0, (DI)
	VADDPS V0, V8, V8
	ADDQ $VB, DI
	SUBQ $VL, CX
	JMP  es_loop1
es_tail:
	TESTQ CX, CX
	JEQ   es_done
	SETTAIL(CX)
	MLOAD(DI, V0)
	VFMSUB213PS V11, V10, V0
	EXPV(V0, V1, V2, V3)
	MSTORE(V0, DI)
	MASKZERO(V0)
	VADDPS V0, V9, V9
es_done:
	VADDPS V9, V8, V0
	HSUM0
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func mulSubAVX2(dx, y, dy *float32, n int, d float32): dx = y·(dy-d)
TEXT FN_mulSub(SB), NOSPLIT, $0-36
	MOVQ dx+0(FP), DI
	MOVQ y+8(FP), SI
	MOVQ dy+16(FP), DX
	MOVQ n+24(FP), CX
	VBROADCASTSS d+32(FP), V8
ms_loop2:
	CMPQ CX, $VL2
	JLT  ms_loop1
	VMOVUPS (DX), V0
	VMOVUPS VB(DX), V1
	VSUBPS V8, V0, V0
	VSUBPS V8, V1, V1
	VMULPS (SI), V0, V0
	VMULPS VB(SI), V1, V1
	VMOVUPS V0, (DI)
	VMOVUPS V1, VB(DI)
	ADDQ $VB2, SI
	ADDQ $VB2, DX
	ADDQ $VB2, DI
	SUBQ $VL2, CX
	JMP  ms_loop2
ms_loop1:
	CMPQ CX, $VL
	JLT  ms_tail
	VMOVUPS (DX), V0
	VSUBPS V8, V0, V0
	VMULPS (SI), V0, V0
	VMOVUPS V0, (DI)
	ADDQ $VB, SI
	ADDQ $VB, DX
	ADDQ $VB, DI
	SUBQ $VL, CX
	JMP  ms_loop1
ms_tail:
	TESTQ CX, CX
	JEQ   ms_done
	SETTAIL(CX)
	MLOAD(DX, V0)
	MLOAD(SI, V1)
	VSUBPS V8, V0, V0
	VMULPS V1, V0, V0
	MSTORE(V0, DI)
ms_done:
	VZEROUPPER
	RET

// func lnBwdReduceAVX2(x, dy, gamma, dgamma *float32, n int, mean, rstd float32) (sg, sgx float32)
// With xhat = (x-mean)·rstd and g = dy·gamma: sg = Σg, sgx = Σg·xhat, and
// dgamma += dy·xhat.
TEXT FN_lnBwdReduce(SB), NOSPLIT, $0-56
	MOVQ x+0(FP), SI
	MOVQ dy+8(FP), DX
	MOVQ gamma+16(FP), BX
	MOVQ dgamma+24(FP), DI
	MOVQ n+32(FP), CX
	VBROADCASTSS mean+40(FP), V8
	VBROADCASTSS rstd+44(FP), V9
	VXORPS V10, V10, V10
	VXORPS V11, V11, V11
lbr_loop:
	CMPQ CX, $VL
	JLT  lbr_tail
	VMOVUPS (SI), V0
	VSUBPS V8, V0, V0
	VMULPS V9, V0, V0
	VMOVUPS (DX), V1
	VMULPS (BX), V1, V2
	VADDPS V2, V10, V10
	VFMADD231PS V2, V0, V11
	VMOVUPS (DI), V3
	VFMADD231PS V1, V0, V3
	VMOVUPS V3, (DI)
	ADDQ $VB, SI
	ADDQ $VB, DX
	ADDQ $VB, BX
	ADDQ $VB, DI
	SUBQ $VL, CX
	JMP  lbr_loop
lbr_tail:
	TESTQ CX, CX
	JEQ   lbr_done
	SETTAIL(CX)
	MLOAD(SI, V0)
	VSUBPS V8, V0, V0
	VMULPS V9, V0, V0
	MASKZERO(V0)
	MLOAD(DX, V1)
	MLOAD(BX, V4)
	VMULPS V4, V1, V2
	VADDPS V2, V10, V10
	VFMADD231PS V2, V0, V11
	MLOAD(DI, V3)
	VFMADD231PS V1, V0, V3
	MSTORE(V3, DI)
lbr_done:
	VMOVAPS V10, V0
	HSUM0
	VMOVSS X0, sg+48(FP)
	VMOVAPS V11, V0
	HSUM0
	VMOVSS X0, sgx+52(FP)
	VZEROUPPER
	RET

// func lnBwdApplyAVX2(dx, x, dy, gamma *float32, n int, mean, rstd, a, b float32)
// dx = rstd·(dy·gamma - a - xhat·b), xhat = (x-mean)·rstd.
TEXT FN_lnBwdApply(SB), NOSPLIT, $0-56
	MOVQ dx+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ dy+16(FP), DX
	MOVQ gamma+24(FP), BX
	MOVQ n+32(FP), CX
	VBROADCASTSS mean+40(FP), V8
	VBROADCASTSS rstd+44(FP), V9
	VBROADCASTSS a+48(FP), V10
	VBROADCASTSS b+52(FP), V11
lba_loop:
	CMPQ CX, $VL
	JLT  lba_tail
	VMOVUPS (SI), V0
	VSUBPS V8, V0, V0
	VMULPS V9, V0, V0
	VMOVUPS (DX), V1
	VMULPS (BX), V1, V1
	VSUBPS V10, V1, V1
	VFNMADD231PS V11, V0, V1
	VMULPS V9, V1, V1
	VMOVUPS V1, (DI)
	ADDQ $VB, SI
	ADDQ $VB, DX
	ADDQ $VB, BX
	ADDQ $VB, DI
	SUBQ $VL, CX
	JMP  lba_loop
lba_tail:
	TESTQ CX, CX
	JEQ   lba_done
	SETTAIL(CX)
	MLOAD(SI, V0)
	VSUBPS V8, V0, V0
	VMULPS V9, V0, V0
	MLOAD(DX, V1)
	MLOAD(BX, V2)
	VMULPS V2, V1, V1
	VSUBPS V10, V1, V1
	VFNMADD231PS V11, V0, V1
	VMULPS V9, V1, V1
	MSTORE(V1, DI)
lba_done:
	VZEROUPPER
	RET

// Conversions: n must be a multiple of VL (the caller converts the rest).

// func bf16ToF32AVX2(dst *float32, src *uint16, n int)
TEXT FN_bf16ToF32(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
bfw_loop:
	CMPQ CX, $VL
	JLT  bfw_done
	VPMOVZXWD (SI), V0
	VPSLLD $16, V0, V0
	VMOVUPS V0, (DI)
	ADDQ $HB, SI
	ADDQ $VB, DI
	SUBQ $VL, CX
	JMP  bfw_loop
bfw_done:
	VZEROUPPER
	RET

// func f16ToF32AVX2(dst *float32, src *uint16, n int)
TEXT FN_f16ToF32(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
hw_loop:
	CMPQ CX, $VL
	JLT  hw_done
	VCVTPH2PS (SI), V0
	VMOVUPS V0, (DI)
	ADDQ $HB, SI
	ADDQ $VB, DI
	SUBQ $VL, CX
	JMP  hw_loop
hw_done:
	VZEROUPPER
	RET

// func f32ToBF16AVX2(dst *uint16, src *float32, n int)
// Round to nearest even on the bits: (u + 0x7fff + ((u>>16)&1)) >> 16; NaN
// becomes 0x7fc0 as in PyTorch.
TEXT FN_f32ToBF16(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
bfn_loop:
	CMPQ CX, $VL
	JLT  bfn_done
	VMOVUPS (SI), V0
	VPSRLD $16, V0, V1
	VPSLLD $31, V1, V1
	VPSRLD $31, V1, V1
	VPADDD C_I7FFF, V1, V1
	VPADDD V0, V1, V1
	VPSRLD $16, V1, V1
	NANFIX(V0, V1, V2)
	NARROW(V1, H1, H2)
	VMOVDQU H1, (DI)
	ADDQ $VB, SI
	ADDQ $HB, DI
	SUBQ $VL, CX
	JMP  bfn_loop
bfn_done:
	VZEROUPPER
	RET

// func f32ToF16AVX2(dst *uint16, src *float32, n int)
TEXT FN_f32ToF16(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
hn_loop:
	CMPQ CX, $VL
	JLT  hn_done
	VMOVUPS (SI), V0
	VCVTPS2PH $0, V0, (DI)
	ADDQ $VB, SI
	ADDQ $HB, DI
	SUBQ $VL, CX
	JMP  hn_loop
hn_done:
	VZEROUPPER
	RET

// The file is included once per instruction set; drop its macros.
#undef EXPSETUP
#undef EXPV
#undef EXPM
#undef EXPCORE
#undef GELUSETUP
#undef ERFHALF
#undef GELUV
#undef GELUV2
#undef TANHSETUP
#undef TANHV
#undef SIGMOIDV
#undef SILUV
#undef GELUTANHV
#undef UNARY_ENTRY
#undef GELUGRADV
