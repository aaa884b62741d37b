package gemm

import "bioencoder/kernels"

//go:generate go run ./internal/asmgen -out kernels_amd64.s -goout kernels_amd64_gen.go

// Block sizes. AVX2, tuned on Zen 3 (32 KiB L1d, 512 KiB L2): a B
// micro-panel of 384×16 floats is 24 KiB, an A block of 72×384 is 108 KiB;
// kc 256/384 and mc 72/144 were within 2% of each other, and kc = 384 keeps
// BERT's k = 384 products in one depth block. AVX-512 for Zen 5 (48 KiB L1d,
// 1 MiB L2), not tuned on hardware: 256×32 floats is 32 KiB, 192×256 is
// 192 KiB.
func init() {
	kernelSets[kernels.AVX2] = &kernelSet{
		path: kernels.AVX2, mr: 6, nr: 16, kc: 384, mc: 72, nc: 1536,
		kerns: kernsAVX2[:],
		addTo: func(dst, src []float32) {
			if len(dst) > 0 {
				addToAVX2(&dst[0], &src[:len(dst)][0], len(dst))
			}
		},
	}
	kernelSets[kernels.AVX512] = &kernelSet{
		path: kernels.AVX512, mr: 12, nr: 32, kc: 256, mc: 192, nc: 1536,
		kerns: kernsAVX512[:],
		addTo: func(dst, src []float32) {
			if len(dst) > 0 {
				addToAVX512(&dst[0], &src[:len(dst)][0], len(dst))
			}
		},
	}
}
