#include "textflag.h"

// func addPS(dst, a, b *[16]float32)
TEXT ·addPS(SB), NOSPLIT, $0-24
	MOVQ    dst+0(FP), DI
	MOVQ    a+8(FP), SI
	MOVQ    b+16(FP), BX
	VMOVUPS (SI), Z0
	VADDPS  (BX), Z0, Z1
	VMOVUPS Z1, (DI)
	VZEROUPPER
	RET

// func fmaBcst(y, x *[16]float32, s *float32)
TEXT ·fmaBcst(SB), NOSPLIT, $0-24
	MOVQ             y+0(FP), DI
	MOVQ             x+8(FP), SI
	MOVQ             s+16(FP), BX
	VMOVUPS          (DI), Z2
	VMOVUPS          (SI), Z1
	VFMADD231PS.BCST (BX), Z1, Z2 // Z2 += Z1 * {s, s, ..., s}
	VMOVUPS          Z2, (DI)
	VZEROUPPER
	RET

// func maskedLoad(dst, src *[16]float32, mask uint16)
TEXT ·maskedLoad(SB), NOSPLIT, $0-18
	MOVQ      dst+0(FP), DI
	MOVQ      src+8(FP), SI
	MOVWLZX   mask+16(FP), CX
	KMOVW     CX, K1
	VMOVUPS.Z (SI), K1, Z0 // lanes off in K1 become 0
	VMOVUPS   Z0, (DI)
	VZEROUPPER
	RET

// func maskedStore(dst, src *[16]float32, mask uint16)
TEXT ·maskedStore(SB), NOSPLIT, $0-18
	MOVQ    dst+0(FP), DI
	MOVQ    src+8(FP), SI
	MOVWLZX mask+16(FP), CX
	KMOVW   CX, K1
	VMOVUPS (SI), Z0
	VMOVUPS Z0, K1, (DI) // lanes off in K1 are not written
	VZEROUPPER
	RET

// func cmpGtD(a, b *[16]int32) uint16
TEXT ·cmpGtD(SB), NOSPLIT, $0-18
	MOVQ      a+0(FP), SI
	MOVQ      b+8(FP), BX
	VMOVDQU32 (SI), Z0
	VPCMPGTD  (BX), Z0, K1 // K1[i] = a[i] > b[i]
	KMOVW     K1, AX
	MOVW      AX, ret+16(FP)
	VZEROUPPER
	RET

// func mulloQ(dst, a, b *[8]int64)
TEXT ·mulloQ(SB), NOSPLIT, $0-24
	MOVQ      dst+0(FP), DI
	MOVQ      a+8(FP), SI
	MOVQ      b+16(FP), BX
	VMOVDQU64 (SI), Z0
	VPMULLQ   (BX), Z0, Z1
	VMOVDQU64 Z1, (DI)
	VZEROUPPER
	RET

// func addB(dst, a, b *[64]uint8)
TEXT ·addB(SB), NOSPLIT, $0-24
	MOVQ     dst+0(FP), DI
	MOVQ     a+8(FP), SI
	MOVQ     b+16(FP), BX
	VMOVDQU8 (SI), Z0
	VPADDB   (BX), Z0, Z1
	VMOVDQU8 Z1, (DI)
	VZEROUPPER
	RET

// func addVL(dst, a, b *[8]float32)
TEXT ·addVL(SB), NOSPLIT, $0-24
	MOVQ    dst+0(FP), DI
	MOVQ    a+8(FP), SI
	MOVQ    b+16(FP), BX
	VMOVUPS (SI), Y16
	VMOVUPS (BX), Y17
	VADDPS  Y17, Y16, Y18
	VMOVUPS Y18, (DI)
	VZEROUPPER
	RET

// func dot(a, b []float32) float32
TEXT ·dot(SB), NOSPLIT, $0-52
	MOVQ  a_base+0(FP), SI
	MOVQ  a_len+8(FP), CX
	MOVQ  b_base+24(FP), DI
	VPXORD Z0, Z0, Z0

loop:
	CMPQ        CX, $16
	JLT         tail
	VMOVUPS     (SI), Z1
	VFMADD231PS (DI), Z1, Z0
	ADDQ        $64, SI
	ADDQ        $64, DI
	SUBQ        $16, CX
	JMP         loop

tail:
	// 0 < CX < 16 elements left: load them under a mask; the masked-off
	// lanes past the end of the slices are not touched (no fault).
	TESTQ       CX, CX
	JZ          reduce
	MOVL        $1, AX
	SHLL        CX, AX
	DECL        AX
	KMOVW       AX, K1
	VMOVUPS.Z   (SI), K1, Z1
	VMOVUPS.Z   (DI), K1, Z2
	VFMADD231PS Z2, Z1, Z0

reduce:
	VEXTRACTF32X8 $1, Z0, Y1
	VADDPS        Y1, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VADDPS        X1, X0, X0
	VHADDPS       X0, X0, X0
	VHADDPS       X0, X0, X0
	VZEROUPPER
	MOVSS         X0, ret+48(FP)
	RET

// func spinKeep(z *[16][16]float32, k *[6]uint16, seed float32, iters int)
TEXT ·spinKeep(SB), NOSPLIT, $0-32
	MOVQ         z+0(FP), DI
	MOVQ         k+8(FP), SI
	VBROADCASTSS seed+16(FP), Z16
	VADDPS       Z16, Z16, Z17
	VADDPS       Z16, Z17, Z18
	VADDPS       Z16, Z18, Z19
	VADDPS       Z16, Z19, Z20
	VADDPS       Z16, Z20, Z21
	VADDPS       Z16, Z21, Z22
	VADDPS       Z16, Z22, Z23
	VADDPS       Z16, Z23, Z24
	VADDPS       Z16, Z24, Z25
	VADDPS       Z16, Z25, Z26
	VADDPS       Z16, Z26, Z27
	VADDPS       Z16, Z27, Z28
	VADDPS       Z16, Z28, Z29
	VADDPS       Z16, Z29, Z30
	VADDPS       Z16, Z30, Z31
	MOVL         $0x0f0f, AX
	KMOVW        AX, K2
	MOVL         $0xf0f0, AX
	KMOVW        AX, K3
	MOVL         $0x3333, AX
	KMOVW        AX, K4
	MOVL         $0xcccc, AX
	KMOVW        AX, K5
	MOVL         $0x5555, AX
	KMOVW        AX, K6
	MOVL         $0xaaaa, AX
	KMOVW        AX, K7
	MOVQ         iters+24(FP), CX
	TESTQ        CX, CX
	JLE          done

spin:
	DECQ CX
	JNZ  spin

done:
	VMOVUPS Z16, 0(DI)
	VMOVUPS Z17, 64(DI)
	VMOVUPS Z18, 128(DI)
	VMOVUPS Z19, 192(DI)
	VMOVUPS Z20, 256(DI)
	VMOVUPS Z21, 320(DI)
	VMOVUPS Z22, 384(DI)
	VMOVUPS Z23, 448(DI)
	VMOVUPS Z24, 512(DI)
	VMOVUPS Z25, 576(DI)
	VMOVUPS Z26, 640(DI)
	VMOVUPS Z27, 704(DI)
	VMOVUPS Z28, 768(DI)
	VMOVUPS Z29, 832(DI)
	VMOVUPS Z30, 896(DI)
	VMOVUPS Z31, 960(DI)
	KMOVW   K2, AX
	MOVW    AX, 0(SI)
	KMOVW   K3, AX
	MOVW    AX, 2(SI)
	KMOVW   K4, AX
	MOVW    AX, 4(SI)
	KMOVW   K5, AX
	MOVW    AX, 6(SI)
	KMOVW   K6, AX
	MOVW    AX, 8(SI)
	KMOVW   K7, AX
	MOVW    AX, 10(SI)
	VZEROUPPER
	RET
