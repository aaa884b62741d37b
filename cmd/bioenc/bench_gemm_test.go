package main

import (
	"bytes"
	"strings"
	"testing"
)

// runBenchGemm runs `bioenc bench gemm` with args and returns its output.
func runBenchGemm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"bench", "gemm"}, args...))
	defer root.SetArgs(nil)
	err := root.Execute()
	return out.String(), err
}

func TestBenchGemm(t *testing.T) {
	out, err := runBenchGemm(t, "--m", "7", "--k", "33", "--n", "40", "--runs", "2", "--min-time", "1ms", "--peak=false")
	if err != nil {
		t.Fatalf("bench gemm: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "gemm 7x33x40 ") || !strings.HasSuffix(last, " GFLOPS") {
		t.Errorf("last line %q, want \"gemm 7x33x40 <path> threads=<t>: <x> GFLOPS\"", last)
	}
	for _, bad := range [][]string{{"--m", "0"}, {"--k", "-3"}, {"--runs", "0"}, {"--m", "100000", "--k", "100000"}} {
		args := append(append([]string{}, bad...), "--min-time", "1ms", "--peak=false")
		if _, err := runBenchGemm(t, args...); err == nil {
			t.Errorf("bench gemm %v: no error", bad)
		}
		// Flags keep their values between Execute calls: restore the defaults.
		benchGemmFlags.m, benchGemmFlags.k, benchGemmFlags.n, benchGemmFlags.runs = 1024, 384, 1536, 7
	}
}
