// Package kernels holds bioencoder's float32 element-wise kernels and the
// choice of instruction set that every hot loop in the project follows.
//
// Three paths exist: a portable Go path, AVX2+FMA and AVX-512. The best one
// the CPU supports is chosen at start-up; BIOENC_KERNEL=generic|avx2|avx512
// forces one (an unsupported choice falls back to the best available and is
// reported by Describe). Tests switch paths with SetPath so every path is
// exercised on machines that have it.
package kernels

import (
	"fmt"
	"os"
	"runtime"
	"strings"

	"golang.org/x/sys/cpu"
)

// Path is an instruction-set choice for the hot kernels.
type Path int

const (
	Generic Path = iota // portable Go
	AVX2                // AVX2 + FMA, 256-bit
	AVX512              // AVX-512 F/DQ/BW/VL, 512-bit
)

func (p Path) String() string {
	switch p {
	case Generic:
		return "generic"
	case AVX2:
		return "avx2"
	case AVX512:
		return "avx512"
	}
	return fmt.Sprintf("Path(%d)", int(p))
}

// ParsePath reads a path name as BIOENC_KERNEL spells it.
func ParsePath(s string) (Path, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "generic", "go", "portable":
		return Generic, nil
	case "avx2":
		return AVX2, nil
	case "avx512", "avx-512":
		return AVX512, nil
	}
	return Generic, fmt.Errorf("kernels: unknown kernel path %q (want generic, avx2 or avx512)", s)
}

// Supported reports whether this CPU (and OS) can run path p.
func Supported(p Path) bool {
	if runtime.GOARCH != "amd64" {
		return p == Generic
	}
	switch p {
	case Generic:
		return true
	case AVX2:
		return cpu.X86.HasAVX2 && cpu.X86.HasFMA
	case AVX512:
		return cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL &&
			cpu.X86.HasAVX2 && cpu.X86.HasFMA
	}
	return false
}

// Available lists the paths this machine can run, slowest first.
func Available() []Path {
	var ps []Path
	for _, p := range []Path{Generic, AVX2, AVX512} {
		if Supported(p) {
			ps = append(ps, p)
		}
	}
	return ps
}

// Best is the fastest supported path.
func Best() Path {
	ps := Available()
	return ps[len(ps)-1]
}

var (
	active     Path
	envRequest string // BIOENC_KERNEL as given, for Describe
	envErr     error
)

func init() {
	active = Best()
	if s := os.Getenv("BIOENC_KERNEL"); s != "" {
		envRequest = s
		p, err := ParsePath(s)
		switch {
		case err != nil:
			envErr = err
		case !Supported(p):
			envErr = fmt.Errorf("kernels: BIOENC_KERNEL=%s is not supported by this CPU; using %s", s, active)
		default:
			active = p
		}
	}
}

// Active is the path the kernels use now.
func Active() Path { return active }

// SetPath switches every kernel to path p. It is meant for start-up and
// tests; do not call it while kernels run on other goroutines.
func SetPath(p Path) error {
	if !Supported(p) {
		return fmt.Errorf("kernels: path %s is not supported by this CPU", p)
	}
	active = p
	return nil
}

// Describe is a one-paragraph account of the CPU features and the chosen path,
// for `bioenc env` and for benchmark headers.
func Describe() string {
	var b strings.Builder
	feats := []struct {
		name string
		ok   bool
	}{
		{"avx2", cpu.X86.HasAVX2}, {"fma", cpu.X86.HasFMA}, {"f16c", x86HasF16C()},
		{"avx512f", cpu.X86.HasAVX512F}, {"avx512dq", cpu.X86.HasAVX512DQ}, {"avx512bw", cpu.X86.HasAVX512BW},
		{"avx512vl", cpu.X86.HasAVX512VL}, {"avx512_vnni", cpu.X86.HasAVX512VNNI}, {"avx512_bf16", cpu.X86.HasAVX512BF16},
	}
	fmt.Fprintf(&b, "arch: %s\ncpu features:", runtime.GOARCH)
	for _, f := range feats {
		if f.ok {
			fmt.Fprintf(&b, " %s", f.name)
		}
	}
	var av []string
	for _, p := range Available() {
		av = append(av, p.String())
	}
	fmt.Fprintf(&b, "\nkernel paths available: %s\nkernel path in use: %s", strings.Join(av, ", "), active)
	if envRequest != "" {
		fmt.Fprintf(&b, " (BIOENC_KERNEL=%s)", envRequest)
	}
	if envErr != nil {
		fmt.Fprintf(&b, "\nwarning: %v", envErr)
	}
	return b.String()
}

// x86HasF16C: x/sys/cpu does not export F16C; it is implied on every AVX2 CPU
// we target, and only reported here.
func x86HasF16C() bool { return cpu.X86.HasAVX2 }
