package main

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"bioencoder/gemm"
	"bioencoder/kernels"
	"bioencoder/parallel"
)

var benchGemmFlags struct {
	m, k, n int
	runs    int
	minTime time.Duration
	peak    bool
}

// benchGemmCmd times y = x·Wᵀ with a pre-packed weight, the product every
// linear layer of an encoder runs.
var benchGemmCmd = &cobra.Command{
	Use:   "gemm",
	Short: "Measure matrix-multiply speed (GFLOPS) of y = x·Wᵀ with a pre-packed weight",
	Long: `Times y[m,n] = x[m,k]·Wᵀ (W is [n,k], packed once) on the active kernel path and the pool's
threads. Each run repeats the product for at least --min-time; the median of --runs runs is reported,
with the efficiency against the FMA peak measured right after. The machine is shared: run it a few
times and compare medians.`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, args []string) error {
		f := benchGemmFlags
		if f.m < 1 || f.k < 1 || f.n < 1 {
			return fmt.Errorf("bench gemm: --m, --k and --n must be positive (got %d, %d, %d)", f.m, f.k, f.n)
		}
		const maxElems = 1 << 28 // 1 GiB of float32 per operand is more than any encoder layer
		if int64(f.m)*int64(f.k) > maxElems || int64(f.n)*int64(f.k) > maxElems || int64(f.m)*int64(f.n) > maxElems {
			return fmt.Errorf("bench gemm: %dx%dx%d is too large (at most %d elements per matrix)", f.m, f.k, f.n, maxElems)
		}
		if f.runs < 1 {
			return fmt.Errorf("bench gemm: --runs must be at least 1 (got %d)", f.runs)
		}
		out := cmd.OutOrStdout()
		r := rand.New(rand.NewPCG(1, 2))
		fill := func(n int) []float32 {
			s := make([]float32, n)
			for i := range s {
				s[i] = 2*r.Float32() - 1
			}
			return s
		}
		x, w, y := fill(f.m*f.k), fill(f.n*f.k), make([]float32, f.m*f.n)
		p := gemm.Pack(w, f.n, f.k)
		path, threads := kernels.Active(), parallel.Workers()
		flop := 2 * float64(f.m) * float64(f.k) * float64(f.n)
		fmt.Fprintf(out, "gemm y[%d,%d] = x[%d,%d]·Wᵀ, W [%d,%d] pre-packed; path %s, threads %d\n",
			f.m, f.n, f.m, f.k, f.n, f.k, path, threads)

		// Warm up: first-touch page faults, packing buffers, CPU clocks.
		for t0 := time.Now(); time.Since(t0) < f.minTime/2; {
			gemm.Linear(y, x, f.m, p, gemm.Epilogue{})
		}
		per := make([]time.Duration, f.runs)
		for i := range per {
			reps := 0
			t0 := time.Now()
			for reps == 0 || time.Since(t0) < f.minTime {
				gemm.Linear(y, x, f.m, p, gemm.Epilogue{})
				reps++
			}
			per[i] = time.Since(t0) / time.Duration(reps)
			fmt.Fprintf(out, "run %d: %v per product, %.1f GFLOPS (%d reps)\n", i+1, per[i], flop/per[i].Seconds()/1e9, reps)
		}
		slices.Sort(per)
		med := per[len(per)/2]
		if len(per)%2 == 0 {
			med = (per[len(per)/2-1] + per[len(per)/2]) / 2
		}
		gflops := flop / med.Seconds() / 1e9
		fmt.Fprintf(out, "median %v per product (min %v, max %v)\n", med, per[0], per[len(per)-1])
		eff := ""
		if f.peak {
			if peak := gemm.PeakGFLOPS(200 * time.Millisecond); peak > 0 {
				fmt.Fprintf(out, "FMA peak of %s on %d threads (measured now): %.1f GFLOPS\n", path, threads, peak)
				eff = fmt.Sprintf(" (%.0f%% of peak)", 100*gflops/peak)
			}
		}
		fmt.Fprintf(out, "gemm %dx%dx%d %s threads=%d: %.1f GFLOPS%s\n", f.m, f.k, f.n, path, threads, gflops, eff)
		return nil
	},
}

func init() {
	fl := benchGemmCmd.Flags()
	fl.IntVar(&benchGemmFlags.m, "m", 1024, "rows of x (tokens)")
	fl.IntVar(&benchGemmFlags.k, "k", 384, "input features (columns of x and W)")
	fl.IntVar(&benchGemmFlags.n, "n", 1536, "output features (rows of W)")
	fl.IntVar(&benchGemmFlags.runs, "runs", 7, "timed runs; the median is reported")
	fl.DurationVar(&benchGemmFlags.minTime, "min-time", 200*time.Millisecond, "minimum duration of one run")
	fl.BoolVar(&benchGemmFlags.peak, "peak", true, "also measure the FMA peak and report the efficiency")
	benchCmd.AddCommand(benchGemmCmd)
}
