package gemm

import (
	"sync/atomic"
	"time"

	"bioencoder/kernels"
	"bioencoder/parallel"
)

// PeakGFLOPS measures the fp32 multiply-add throughput of the active kernel
// path on every pool worker at once: each runs a loop of independent vector
// FMAs through the same window of length d. It is the ceiling that GEMM
// efficiency is quoted against. It returns 0 for the portable path, which
// has no such loop.
func PeakGFLOPS(d time.Duration) float64 {
	loop, flopPerIter := peakLoop(kernels.Active())
	if loop == nil {
		return 0
	}
	const chunk = 1 << 12 // iterations between clock reads (~10 µs)
	// The window opens after a warm-up long enough for every helper to wake
	// up and for the clock to settle; work outside it is not counted, so a
	// worker that never ran concurrently adds nothing.
	begin := time.Now().Add(20 * time.Millisecond)
	end := begin.Add(d)
	var chunks atomic.Int64
	parallel.Run(parallel.Workers(), func(int) {
		for time.Now().Before(begin) {
			loop(chunk)
		}
		n := int64(0)
		for time.Now().Before(end) {
			loop(chunk)
			n++
		}
		chunks.Add(n)
	})
	return float64(chunks.Load()) * chunk * flopPerIter / d.Seconds() / 1e9
}
