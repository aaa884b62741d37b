package kernels

// Declarations of the assembly kernels in simd_amd64.s (bodies in
// simd_amd64.h). Pointers are to the first element; n is the element count;
// the caller checks lengths. Conversion kernels take n a multiple of the
// vector width (8 or 16).

//go:noescape
func expAVX2(dst, src *float32, n int)

//go:noescape
func sigmoidAVX2(dst, src *float32, n int)

//go:noescape
func tanhAVX2(dst, src *float32, n int)

//go:noescape
func geluAVX2(dst, src *float32, n int)

//go:noescape
func geluTanhAVX2(dst, src *float32, n int)

//go:noescape
func siluAVX2(dst, src *float32, n int, alpha float32)

//go:noescape
func reluAVX2(dst, src *float32, n int)

//go:noescape
func geluGradAVX2(dx, x, dy *float32, n int)

//go:noescape
func addAVX2(dst, a, b *float32, n int)

//go:noescape
func scaleAVX2(x *float32, n int, s float32)

//go:noescape
func axpyAVX2(y, x *float32, n int, alpha float32)

//go:noescape
func dotAVX2(a, b *float32, n int) float32

//go:noescape
func sumAVX2(x *float32, n int) float32

//go:noescape
func maxAVX2(x *float32, n int) float32

//go:noescape
func sumSqDevAVX2(x *float32, n int, mean float32) float32

//go:noescape
func lnApplyAVX2(dst, src, gamma, beta *float32, n int, mean, rstd float32)

//go:noescape
func lnApplyNoBetaAVX2(dst, src, gamma *float32, n int, mean, rstd float32)

//go:noescape
func expSumAVX2(x *float32, n int, scale, shift float32) float32

//go:noescape
func mulSubAVX2(dx, y, dy *float32, n int, d float32)

//go:noescape
func lnBwdReduceAVX2(x, dy, gamma, dgamma *float32, n int, mean, rstd float32) (sg, sgx float32)

//go:noescape
func lnBwdApplyAVX2(dx, x, dy, gamma *float32, n int, mean, rstd, a, b float32)

//go:noescape
func bf16ToF32AVX2(dst *float32, src *uint16, n int)

//go:noescape
func f16ToF32AVX2(dst *float32, src *uint16, n int)

//go:noescape
func f32ToBF16AVX2(dst *uint16, src *float32, n int)

//go:noescape
func f32ToF16AVX2(dst *uint16, src *float32, n int)

//go:noescape
func expAVX512(dst, src *float32, n int)

//go:noescape
func sigmoidAVX512(dst, src *float32, n int)

//go:noescape
func tanhAVX512(dst, src *float32, n int)

//go:noescape
func geluAVX512(dst, src *float32, n int)

//go:noescape
func geluTanhAVX512(dst, src *float32, n int)

//go:noescape
func siluAVX512(dst, src *float32, n int, alpha float32)

//go:noescape
func reluAVX512(dst, src *float32, n int)

//go:noescape
func geluGradAVX512(dx, x, dy *float32, n int)

//go:noescape
func addAVX512(dst, a, b *float32, n int)

//go:noescape
func scaleAVX512(x *float32, n int, s float32)

//go:noescape
func axpyAVX512(y, x *float32, n int, alpha float32)

//go:noescape
func dotAVX512(a, b *float32, n int) float32

//go:noescape
func sumAVX512(x *float32, n int) float32

//go:noescape
func maxAVX512(x *float32, n int) float32

//go:noescape
func sumSqDevAVX512(x *float32, n int, mean float32) float32

//go:noescape
func lnApplyAVX512(dst, src, gamma, beta *float32, n int, mean, rstd float32)

//go:noescape
func lnApplyNoBetaAVX512(dst, src, gamma *float32, n int, mean, rstd float32)

//go:noescape
func expSumAVX512(x *float32, n int, scale, shift float32) float32

//go:noescape
func mulSubAVX512(dx, y, dy *float32, n int, d float32)

//go:noescape
func lnBwdReduceAVX512(x, dy, gamma, dgamma *float32, n int, mean, rstd float32) (sg, sgx float32)

//go:noescape
func lnBwdApplyAVX512(dx, x, dy, gamma *float32, n int, mean, rstd, a, b float32)

//go:noescape
func bf16ToF32AVX512(dst *float32, src *uint16, n int)

//go:noescape
func f16ToF32AVX512(dst *float32, src *uint16, n int)

//go:noescape
func f32ToBF16AVX512(dst *uint16, src *float32, n int)

//go:noescape
func f32ToF16AVX512(dst *uint16, src *float32, n int)
