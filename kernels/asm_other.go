//go:build !amd64

package kernels

// Stand-ins so the dispatch code compiles off amd64; Supported reports only
// the Generic path there, so none of these is ever called.

func expAVX2(dst, src *float32, n int)      { panic("kernels: no SIMD path on this architecture") }
func sigmoidAVX2(dst, src *float32, n int)  { panic("kernels: no SIMD path on this architecture") }
func tanhAVX2(dst, src *float32, n int)     { panic("kernels: no SIMD path on this architecture") }
func geluAVX2(dst, src *float32, n int)     { panic("kernels: no SIMD path on this architecture") }
func geluTanhAVX2(dst, src *float32, n int) { panic("kernels: no SIMD path on this architecture") }
func siluAVX2(dst, src *float32, n int, alpha float32) {
	panic("kernels: no SIMD path on this architecture")
}
func reluAVX2(dst, src *float32, n int)      { panic("kernels: no SIMD path on this architecture") }
func geluGradAVX2(dx, x, dy *float32, n int) { panic("kernels: no SIMD path on this architecture") }
func addAVX2(dst, a, b *float32, n int)      { panic("kernels: no SIMD path on this architecture") }
func scaleAVX2(x *float32, n int, s float32) { panic("kernels: no SIMD path on this architecture") }
func axpyAVX2(y, x *float32, n int, alpha float32) {
	panic("kernels: no SIMD path on this architecture")
}
func dotAVX2(a, b *float32, n int) float32 { panic("kernels: no SIMD path on this architecture") }
func sumAVX2(x *float32, n int) float32    { panic("kernels: no SIMD path on this architecture") }
func maxAVX2(x *float32, n int) float32    { panic("kernels: no SIMD path on this architecture") }
func sumSqDevAVX2(x *float32, n int, mean float32) float32 {
	panic("kernels: no SIMD path on this architecture")
}
func lnApplyAVX2(dst, src, gamma, beta *float32, n int, mean, rstd float32) {
	panic("kernels: no SIMD path on this architecture")
}
func lnApplyNoBetaAVX2(dst, src, gamma *float32, n int, mean, rstd float32) {
	panic("kernels: no SIMD path on this architecture")
}
func expSumAVX2(x *float32, n int, scale, shift float32) float32 {
	panic("kernels: no SIMD path on this architecture")
}
func mulSubAVX2(dx, y, dy *float32, n int, d float32) {
	panic("kernels: no SIMD path on this architecture")
}
func lnBwdReduceAVX2(x, dy, gamma, dgamma *float32, n int, mean, rstd float32) (sg, sgx float32) {
	panic("kernels: no SIMD path on this architecture")
}
func lnBwdApplyAVX2(dx, x, dy, gamma *float32, n int, mean, rstd, a, b float32) {
	panic("kernels: no SIMD path on this architecture")
}
func bf16ToF32AVX2(dst *float32, src *uint16, n int) {
	panic("kernels: no SIMD path on this architecture")
}
func f16ToF32AVX2(dst *float32, src *uint16, n int) {
	panic("kernels: no SIMD path on this architecture")
}
func f32ToBF16AVX2(dst *uint16, src *float32, n int) {
	panic("kernels: no SIMD path on this architecture")
}
func f32ToF16AVX2(dst *uint16, src *float32, n int) {
	panic("kernels: no SIMD path on this architecture")
}
func expAVX512(dst, src *float32, n int)      { panic("kernels: no SIMD path on this architecture") }
func sigmoidAVX512(dst, src *float32, n int)  { panic("kernels: no SIMD path on this architecture") }
func tanhAVX512(dst, src *float32, n int)     { panic("kernels: no SIMD path on this architecture") }
func geluAVX512(dst, src *float32, n int)     { panic("kernels: no SIMD path on this architecture") }
func geluTanhAVX512(dst, src *float32, n int) { panic("kernels: no SIMD path on this architecture") }
func siluAVX512(dst, src *float32, n int, alpha float32) {
	panic("kernels: no SIMD path on this architecture")
}
func reluAVX512(dst, src *float32, n int)      { panic("kernels: no SIMD path on this architecture") }
func geluGradAVX512(dx, x, dy *float32, n int) { panic("kernels: no SIMD path on this architecture") }
func addAVX512(dst, a, b *float32, n int)      { panic("kernels: no SIMD path on this architecture") }
func scaleAVX512(x *float32, n int, s float32) { panic("kernels: no SIMD path on this architecture") }
func axpyAVX512(y, x *float32, n int, alpha float32) {
	panic("kernels: no SIMD path on this architecture")
}
func dotAVX512(a, b *float32, n int) float32 { panic("kernels: no SIMD path on this architecture") }
func sumAVX512(x *float32, n int) float32    { panic("kernels: no SIMD path on this architecture") }
func maxAVX512(x *float32, n int) float32    { panic("kernels: no SIMD path on this architecture") }
func sumSqDevAVX512(x *float32, n int, mean float32) float32 {
	panic("kernels: no SIMD path on this architecture")
}
func lnApplyAVX512(dst, src, gamma, beta *float32, n int, mean, rstd float32) {
	panic("kernels: no SIMD path on this architecture")
}
func lnApplyNoBetaAVX512(dst, src, gamma *float32, n int, mean, rstd float32) {
	panic("kernels: no SIMD path on this architecture")
}
func expSumAVX512(x *float32, n int, scale, shift float32) float32 {
	panic("kernels: no SIMD path on this architecture")
}
func mulSubAVX512(dx, y, dy *float32, n int, d float32) {
	panic("kernels: no SIMD path on this architecture")
}
func lnBwdReduceAVX512(x, dy, gamma, dgamma *float32, n int, mean, rstd float32) (sg, sgx float32) {
	panic("kernels: no SIMD path on this architecture")
}
func lnBwdApplyAVX512(dx, x, dy, gamma *float32, n int, mean, rstd, a, b float32) {
	panic("kernels: no SIMD path on this architecture")
}
func bf16ToF32AVX512(dst *float32, src *uint16, n int) {
	panic("kernels: no SIMD path on this architecture")
}
func f16ToF32AVX512(dst *float32, src *uint16, n int) {
	panic("kernels: no SIMD path on this architecture")
}
func f32ToBF16AVX512(dst *uint16, src *float32, n int) {
	panic("kernels: no SIMD path on this architecture")
}
func f32ToF16AVX512(dst *uint16, src *float32, n int) {
	panic("kernels: no SIMD path on this architecture")
}
