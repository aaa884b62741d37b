//go:build amd64

package selfcheck

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/cpu"
)

// needAVX512 skips on hosts without AVX-512 F/DQ/BW/VL, which is every dev
// machine: run the test binary through tools/avx512emu/run.sh instead.
func needAVX512(t *testing.T) {
	t.Helper()
	x := cpu.X86
	if !(x.HasAVX512F && x.HasAVX512DQ && x.HasAVX512BW && x.HasAVX512VL) {
		t.Skip("CPU (or OS) lacks AVX-512 F/DQ/BW/VL; run under tools/avx512emu/run.sh")
	}
}

func TestCPUFeatures(t *testing.T) {
	x := cpu.X86
	t.Logf("AVX2=%t FMA=%t AVX512F=%t AVX512DQ=%t AVX512BW=%t AVX512VL=%t AVX512CD=%t",
		x.HasAVX2, x.HasFMA, x.HasAVX512F, x.HasAVX512DQ, x.HasAVX512BW, x.HasAVX512VL, x.HasAVX512CD)
	needAVX512(t)
}

// Inputs are small integers and halves so every result below is exact in
// float32 and must match the scalar Go bit for bit, whatever the order of
// operations.
func lanes(f func(i int) float32) (v [16]float32) {
	for i := range v {
		v[i] = f(i)
	}
	return v
}

func TestAddPS(t *testing.T) {
	needAVX512(t)
	a := lanes(func(i int) float32 { return float32(i)*1.5 - 7 })
	b := lanes(func(i int) float32 { return float32(i*i) - 100 })
	var got [16]float32
	addPS(&got, &a, &b)
	for i := range got {
		if want := a[i] + b[i]; got[i] != want {
			t.Errorf("lane %d: got %v, want %v", i, got[i], want)
		}
	}
}

func TestFMABroadcast(t *testing.T) {
	needAVX512(t)
	for _, s := range []float32{0, 1, -0.75, 3.5} {
		y := lanes(func(i int) float32 { return float32(i) - 4 })
		x := lanes(func(i int) float32 { return float32(i)*0.5 - 3 })
		want := y
		for i := range want {
			want[i] += x[i] * s
		}
		fmaBcst(&y, &x, &s)
		if y != want {
			t.Errorf("s=%v: got %v, want %v", s, y, want)
		}
	}
}

var masks = []uint16{0, 1, 0x8000, 0x00ff, 0xff00, 0xaaaa, 0x5555, 0x1234, 0xffff}

func TestMaskedLoad(t *testing.T) {
	needAVX512(t)
	src := lanes(func(i int) float32 { return float32(i + 1) })
	for _, m := range masks {
		got := lanes(func(int) float32 { return -99 }) // every lane must be overwritten
		maskedLoad(&got, &src, m)
		for i := range got {
			want := float32(0)
			if m&(1<<i) != 0 {
				want = src[i]
			}
			if got[i] != want {
				t.Errorf("mask %#04x lane %d: got %v, want %v", m, i, got[i], want)
			}
		}
	}
}

func TestMaskedStore(t *testing.T) {
	needAVX512(t)
	src := lanes(func(i int) float32 { return float32(i + 1) })
	for _, m := range masks {
		got := lanes(func(int) float32 { return -99 })
		maskedStore(&got, &src, m)
		for i := range got {
			want := float32(-99)
			if m&(1<<i) != 0 {
				want = src[i]
			}
			if got[i] != want {
				t.Errorf("mask %#04x lane %d: got %v, want %v", m, i, got[i], want)
			}
		}
	}
}

func TestCompareToMask(t *testing.T) {
	needAVX512(t)
	r := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		var a, b [16]int32
		var want uint16
		for i := range a {
			a[i], b[i] = int32(r.Uint32()), int32(r.Uint32())
			if i%5 == 0 {
				b[i] = a[i] // equal is not greater
			}
			if a[i] > b[i] {
				want |= 1 << i
			}
		}
		if got := cmpGtD(&a, &b); got != want {
			t.Fatalf("a=%v b=%v: got %016b, want %016b", a, b, got, want)
		}
	}
}

func TestMulloQ(t *testing.T) {
	needAVX512(t)
	a := [8]int64{0, 1, -1, 3, 1 << 40, -7 << 33, 0x7fffffffffffffff, -0x123456789}
	b := [8]int64{5, -1, -1, 1 << 62, 1 << 30, 12345, 3, 0x987654321}
	var got, want [8]int64
	mulloQ(&got, &a, &b)
	for i := range want {
		want[i] = a[i] * b[i] // wraps like VPMULLQ
	}
	if got != want {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestAddBytes(t *testing.T) {
	needAVX512(t)
	var a, b, got, want [64]uint8
	for i := range a {
		a[i], b[i] = uint8(i*7), uint8(200+i)
		want[i] = a[i] + b[i] // wraps like VPADDB
	}
	addB(&got, &a, &b)
	if got != want {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestAddVL(t *testing.T) {
	needAVX512(t)
	a := [8]float32{1, 2, 3, 4, -5, -6, 7.5, 8}
	b := [8]float32{10, 20, 30, 40, 50, 60, 70, -80.25}
	var got, want [8]float32
	addVL(&got, &a, &b)
	for i := range want {
		want[i] = a[i] + b[i]
	}
	if got != want {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestDot(t *testing.T) {
	needAVX512(t)
	for _, n := range []int{0, 1, 2, 7, 15, 16, 17, 31, 32, 33, 47, 64, 100, 1000} {
		a := make([]float32, n)
		b := make([]float32, n)
		var want float32
		for i := range a {
			a[i] = float32(i%9) - 4
			b[i] = float32(i%5) - 2
			want += a[i] * b[i]
		}
		if got := dot(a, b); got != want {
			t.Errorf("n=%d: got %v, want %v", n, got, want)
		}
		// The masked tail must not read past the slice: end the slices
		// exactly where the next element would be poison.
		if n > 0 {
			pa := append(append([]float32{}, a...), 1e30, 1e30)
			pb := append(append([]float32{}, b...), 1e30, 1e30)
			if got := dot(pa[:n], pb[:n]); got != want {
				t.Errorf("n=%d with poison after the end: got %v, want %v", n, got, want)
			}
		}
	}
}

// TestRegistersSurviveSwitches keeps values in ZMM16-31 and K2-K7 across a
// long spin on more threads than CPUs (the emulator has one). The kernel
// time-slices the threads, saving and restoring each one's AVX-512 state
// with XSAVE/XRSTOR; a broken XSAVE setup shows up as changed registers.
func TestRegistersSurviveSwitches(t *testing.T) {
	needAVX512(t)
	iters := 20_000_000
	if testing.Short() {
		iters = 2_000_000
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(max(2, runtime.NumCPU())))
	const workers = 4
	before := involuntarySwitches()
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seed := float32(w + 1)
			var z [16][16]float32
			var k [6]uint16
			spinKeep(&z, &k, seed, iters)
			for r := range z {
				for l, v := range z[r] {
					if want := seed * float32(r+1); v != want {
						errs[w] = fmt.Errorf("worker %d: Z%d lane %d = %v, want %v", w, 16+r, l, v, want)
						return
					}
				}
			}
			if want := [6]uint16{0x0f0f, 0xf0f0, 0x3333, 0xcccc, 0x5555, 0xaaaa}; k != want {
				errs[w] = fmt.Errorf("worker %d: K2..K7 = %04x, want %04x", w, k, want)
			}
		}()
	}
	wg.Wait()
	if before >= 0 {
		t.Logf("involuntary context switches during the spin: %d", involuntarySwitches()-before)
	}
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// involuntarySwitches sums nonvoluntary_ctxt_switches over this process's
// threads, or returns -1 where /proc does not tell.
func involuntarySwitches() int {
	files, _ := filepath.Glob("/proc/self/task/*/status")
	if len(files) == 0 {
		return -1
	}
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "nonvoluntary_ctxt_switches:"); ok {
				c, _ := strconv.Atoi(strings.TrimSpace(v))
				n += c
			}
		}
	}
	return n
}
