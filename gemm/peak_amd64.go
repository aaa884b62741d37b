package gemm

import "bioencoder/kernels"

//go:noescape
func fmaPeakAVX2(n int)

//go:noescape
func fmaPeakAVX512(n int)

// peakLoop returns the FMA loop of path p and its FLOP per iteration.
func peakLoop(p kernels.Path) (func(n int), float64) {
	switch p {
	case kernels.AVX2:
		return fmaPeakAVX2, 192
	case kernels.AVX512:
		return fmaPeakAVX512, 384
	}
	return nil, 0
}
