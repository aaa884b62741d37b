// Command asmgen writes gemm's amd64 micro-kernels (kernels_amd64.s).
//
// The AVX2 and AVX-512 kernels come from one template so they stay
// structurally identical: only the vector width, the register tile and the
// register numbering differ. The AVX-512 code cannot run on the Zen 3 dev
// machines, so sharing the template with the AVX2 code (which the tests run)
// is the main guard against bugs in it.
//
// Run from the gemm directory: go generate (or go run ./internal/asmgen).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/format"
	"log"
	"os"
)

// isa describes one instruction set's register tile.
type isa struct {
	name   string // symbol suffix: AVX2, AVX512
	reg    string // vector register prefix: Y or Z
	vbytes int    // bytes per vector register
	mr     int    // rows of the full tile (the packed-A stride)
	nacc   int    // accumulator registers available
	bRegs  [2]int // the two B vectors of one k step
	brRegs []int  // registers for broadcast A values, used in rotation
}

// nr is the tile width in floats: two vectors.
func (s isa) nr() int { return 2 * s.vbytes / 4 }

var isas = []isa{
	{name: "AVX2", reg: "Y", vbytes: 32, mr: 6, nacc: 12, bRegs: [2]int{12, 13}, brRegs: []int{14, 15}},
	{name: "AVX512", reg: "Z", vbytes: 64, mr: 12, nacc: 24, bRegs: [2]int{24, 25}, brRegs: []int{26, 27, 28, 29}},
}

// unroll is the k-loop unroll factor; every split count divides it.
const unroll = 4

type gen struct{ b bytes.Buffer }

func (g *gen) f(format string, args ...any) { fmt.Fprintf(&g.b, format+"\n", args...) }

// splits is how many independent accumulator sets a kernel of mr rows keeps.
// An FMA has a latency of 4 cycles and two pipes issue one each per cycle, so
// at least 8 independent accumulation chains are needed to keep them busy.
// With few rows the kernel therefore rotates consecutive k steps through
// separate sets and sums them at the end.
func splits(s isa, mr int) int {
	n := 1
	for 2*mr*n < 8 && 2*mr*n*2 <= s.nacc {
		n *= 2
	}
	return n
}

func (g *gen) kernel(s isa, mr int) {
	v := func(i int) string { return fmt.Sprintf("%s%d", s.reg, i) }
	nsets := splits(s, mr)
	acc := func(set, row, half int) string { return v(set*mr*2 + row*2 + half) }
	nr := s.nr()
	g.f("")
	g.f("// func kern%sx%d(kc int, a, b, c *float32, ldc int, bias *float32, flags int)", s.name, mr)
	g.f("// %d rows x %d columns, %d accumulator set(s).", mr, nr, nsets)
	g.f("TEXT ·kern%sx%d(SB), NOSPLIT, $0-56", s.name, mr)
	g.f("\tMOVQ kc+0(FP), CX")
	g.f("\tMOVQ a+8(FP), SI")
	g.f("\tMOVQ b+16(FP), DI")
	g.f("\tMOVQ c+24(FP), DX")
	g.f("\tMOVQ ldc+32(FP), R8")
	g.f("\tSHLQ $2, R8")
	g.f("\tMOVQ bias+40(FP), R9")
	g.f("\tMOVQ flags+48(FP), R10")
	// Touch the C tile early so its lines arrive while the k loop runs.
	g.f("\tMOVQ DX, R11")
	for r := 0; r < mr; r++ {
		g.f("\tPREFETCHT0 (R11)")
		g.f("\tPREFETCHT0 %d(R11)", 2*s.vbytes-1)
		if r < mr-1 {
			g.f("\tADDQ R8, R11")
		}
	}
	for set := 0; set < nsets; set++ {
		for r := 0; r < mr; r++ {
			for h := 0; h < 2; h++ {
				a := acc(set, r, h)
				g.f("\tVXORPS %s, %s, %s", a, a, a)
			}
		}
	}
	step := func(set, u int) {
		aoff, boff := u*s.mr*4, u*nr*4
		g.f("\tVMOVUPS %d(DI), %s", boff, v(s.bRegs[0]))
		g.f("\tVMOVUPS %d(DI), %s", boff+s.vbytes, v(s.bRegs[1]))
		for r := 0; r < mr; r++ {
			br := v(s.brRegs[r%len(s.brRegs)])
			g.f("\tVBROADCASTSS %d(SI), %s", aoff+4*r, br)
			g.f("\tVFMADD231PS %s, %s, %s", v(s.bRegs[0]), br, acc(set, r, 0))
			g.f("\tVFMADD231PS %s, %s, %s", v(s.bRegs[1]), br, acc(set, r, 1))
		}
	}
	g.f("\tMOVQ CX, BX")
	g.f("\tSHRQ $%d, BX", log2(unroll))
	g.f("\tJZ tail")
	g.f("loop:")
	for u := 0; u < unroll; u++ {
		step(u%nsets, u)
	}
	g.f("\tADDQ $%d, SI", unroll*s.mr*4)
	g.f("\tADDQ $%d, DI", unroll*nr*4)
	g.f("\tDECQ BX")
	g.f("\tJNZ loop")
	g.f("tail:")
	g.f("\tANDQ $%d, CX", unroll-1)
	g.f("\tJZ reduce")
	g.f("loop1:")
	step(0, 0)
	g.f("\tADDQ $%d, SI", s.mr*4)
	g.f("\tADDQ $%d, DI", nr*4)
	g.f("\tDECQ CX")
	g.f("\tJNZ loop1")
	g.f("reduce:")
	for set := 1; set < nsets; set++ {
		for r := 0; r < mr; r++ {
			for h := 0; h < 2; h++ {
				g.f("\tVADDPS %s, %s, %s", acc(set, r, h), acc(0, r, h), acc(0, r, h))
			}
		}
	}
	g.f("\tTESTQ R9, R9")
	g.f("\tJZ nobias")
	g.f("\tVMOVUPS (R9), %s", v(s.bRegs[0]))
	g.f("\tVMOVUPS %d(R9), %s", s.vbytes, v(s.bRegs[1]))
	for r := 0; r < mr; r++ {
		for h := 0; h < 2; h++ {
			g.f("\tVADDPS %s, %s, %s", v(s.bRegs[h]), acc(0, r, h), acc(0, r, h))
		}
	}
	g.f("nobias:")
	g.f("\tTESTQ $1, R10")
	g.f("\tJZ store")
	g.f("\tMOVQ DX, R11")
	for r := 0; r < mr; r++ {
		g.f("\tVADDPS (R11), %s, %s", acc(0, r, 0), acc(0, r, 0))
		g.f("\tVADDPS %d(R11), %s, %s", s.vbytes, acc(0, r, 1), acc(0, r, 1))
		if r < mr-1 {
			g.f("\tADDQ R8, R11")
		}
	}
	g.f("store:")
	for r := 0; r < mr; r++ {
		g.f("\tVMOVUPS %s, (DX)", acc(0, r, 0))
		g.f("\tVMOVUPS %s, %d(DX)", acc(0, r, 1), s.vbytes)
		if r < mr-1 {
			g.f("\tADDQ R8, DX")
		}
	}
	g.f("\tVZEROUPPER")
	g.f("\tRET")
}

// addTo writes dst[i] += src[i] for i < n, 8 or 16 floats at a time.
func (g *gen) addTo(s isa) {
	v := func(i int) string { return fmt.Sprintf("%s%d", s.reg, i) }
	w := s.vbytes / 4
	g.f("")
	g.f("// func addTo%s(dst, src *float32, n int)", s.name)
	g.f("TEXT ·addTo%s(SB), NOSPLIT, $0-24", s.name)
	g.f("\tMOVQ dst+0(FP), DI")
	g.f("\tMOVQ src+8(FP), SI")
	g.f("\tMOVQ n+16(FP), CX")
	g.f("\tMOVQ CX, BX")
	g.f("\tSHRQ $%d, BX", log2(4*w))
	g.f("\tJZ one")
	g.f("four:")
	for i := 0; i < 4; i++ {
		g.f("\tVMOVUPS %d(DI), %s", i*s.vbytes, v(i))
		g.f("\tVADDPS %d(SI), %s, %s", i*s.vbytes, v(i), v(i))
		g.f("\tVMOVUPS %s, %d(DI)", v(i), i*s.vbytes)
	}
	g.f("\tADDQ $%d, DI", 4*s.vbytes)
	g.f("\tADDQ $%d, SI", 4*s.vbytes)
	g.f("\tDECQ BX")
	g.f("\tJNZ four")
	g.f("one:")
	g.f("\tANDQ $%d, CX", 4*w-1)
	g.f("\tJZ done")
	g.f("scalar:")
	g.f("\tVMOVSS (DI), X0")
	g.f("\tVADDSS (SI), X0, X0")
	g.f("\tVMOVSS X0, (DI)")
	g.f("\tADDQ $4, DI")
	g.f("\tADDQ $4, SI")
	g.f("\tDECQ CX")
	g.f("\tJNZ scalar")
	g.f("done:")
	g.f("\tVZEROUPPER")
	g.f("\tRET")
}

func log2(n int) int {
	l := 0
	for n > 1 {
		n >>= 1
		l++
	}
	return l
}

func main() {
	out := flag.String("out", "kernels_amd64.s", "assembly file to write")
	goOut := flag.String("goout", "kernels_amd64_gen.go", "Go declarations file to write")
	flag.Parse()

	var g gen
	g.f("// Code generated by internal/asmgen; DO NOT EDIT.")
	g.f("")
	g.f("#include \"textflag.h\"")
	for _, s := range isas {
		for mr := s.mr; mr >= 1; mr-- {
			g.kernel(s, mr)
		}
		g.addTo(s)
	}
	if err := os.WriteFile(*out, g.b.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}

	var d bytes.Buffer
	fmt.Fprintf(&d, "// Code generated by internal/asmgen; DO NOT EDIT.\n\npackage gemm\n\n")
	for _, s := range isas {
		for mr := 1; mr <= s.mr; mr++ {
			fmt.Fprintf(&d, "//go:noescape\nfunc kern%sx%d(kc int, a, b, c *float32, ldc int, bias *float32, flags int)\n\n", s.name, mr)
		}
		fmt.Fprintf(&d, "//go:noescape\nfunc addTo%s(dst, src *float32, n int)\n\n", s.name)
		fmt.Fprintf(&d, "// kerns%s[r] computes r rows of a %dx%d tile.\nvar kerns%s = [...]microKernel{nil", s.name, s.mr, s.nr(), s.name)
		for mr := 1; mr <= s.mr; mr++ {
			fmt.Fprintf(&d, ", kern%sx%d", s.name, mr)
		}
		fmt.Fprintf(&d, "}\n\n")
	}
	src, err := format.Source(d.Bytes())
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*goOut, src, 0o644); err != nil {
		log.Fatal(err)
	}
}
