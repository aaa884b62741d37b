package kernels

import (
	"math"
	"math/rand/v2"
	"os"
	"testing"
)

func TestConstHeaderInSync(t *testing.T) {
	want := constHeader()
	if os.Getenv("BIOENC_UPDATE_CONSTS") == "1" {
		if err := os.WriteFile("consts_amd64.h", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("consts_amd64.h")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatal("consts_amd64.h is stale: run BIOENC_UPDATE_CONSTS=1 go test ./kernels -run ConstHeader")
	}
}

func relClose(got float32, want, tol float64) bool {
	return math.Abs(float64(got)-want) <= tol*math.Max(1, math.Abs(want))
}

func TestLinearOps(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 6))
		for _, n := range testLengths {
			a, b := randSlice(r, n, -3, 3), randSlice(r, n, -3, 3)

			dst, check := guarded(n)
			Add(dst, a, b)
			check(t)
			for i := range a {
				if dst[i] != a[i]+b[i] {
					t.Fatalf("Add n=%d i=%d: %g != %g", n, i, dst[i], a[i]+b[i])
				}
			}
			copy(dst, a)
			AddTo(dst, b)
			check(t)
			for i := range a {
				if dst[i] != a[i]+b[i] {
					t.Fatalf("AddTo n=%d i=%d", n, i)
				}
			}
			copy(dst, a)
			Scale(dst, 1.5)
			check(t)
			for i := range a {
				if dst[i] != a[i]*1.5 {
					t.Fatalf("Scale n=%d i=%d", n, i)
				}
			}
			copy(dst, a)
			Axpy(dst, -0.75, b)
			check(t)
			for i := range a {
				// One FMA (SIMD) or a multiply and an add (portable): 1 ulp apart at most.
				if want := float64(a[i]) + -0.75*float64(b[i]); !relClose(dst[i], want, 2.4e-7) {
					t.Fatalf("Axpy n=%d i=%d: %g want %g", n, i, dst[i], want)
				}
			}

			var dot, sum, asum, dsum float64
			mx := math.Inf(-1)
			for i := range a {
				dot += float64(a[i]) * float64(b[i])
				dsum += math.Abs(float64(a[i]) * float64(b[i]))
				sum += float64(a[i])
				asum += math.Abs(float64(a[i]))
				mx = math.Max(mx, float64(a[i]))
			}
			// float32 accumulation: error bounded by ~n/lanes·eps·Σ|terms|.
			tol := func(s float64) float64 { return 1e-6*s + 1e-30 }
			if got := Dot(a, b); math.Abs(float64(got)-dot) > tol(dsum) {
				t.Fatalf("Dot n=%d: %g want %g", n, got, dot)
			}
			if got := Sum(a); math.Abs(float64(got)-sum) > tol(asum) {
				t.Fatalf("Sum n=%d: %g want %g", n, got, sum)
			}
			if got := Max(a); float64(got) != mx {
				t.Fatalf("Max n=%d: %g want %g", n, got, mx)
			}
			if n > 2 {
				// NaNs are skipped wherever they sit (tail or body).
				a[n-1], a[0] = nan32(), nan32()
				want := float32(math.Inf(-1))
				for _, v := range a[1 : n-1] {
					want = max(want, v)
				}
				if got := Max(a); got != want {
					t.Fatalf("Max with NaN n=%d: %g want %g", n, got, want)
				}
			}
		}
	})
}

func TestAddBias(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 8))
		for _, cols := range []int{1, 7, 17, 64, 100} {
			x := randSlice(r, 3*cols, -1, 1)
			orig := append([]float32(nil), x...)
			bias := randSlice(r, cols, -1, 1)
			AddBias(x, cols, bias)
			for i := range x {
				if x[i] != orig[i]+bias[i%cols] {
					t.Fatalf("cols=%d i=%d", cols, i)
				}
			}
		}
	})
}

func refSoftmax(x []float32, scale float64) []float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, float64(v)*scale)
	}
	out := make([]float64, len(x))
	var s float64
	for i, v := range x {
		out[i] = math.Exp(float64(v)*scale - m)
		s += out[i]
	}
	for i := range out {
		out[i] /= s
	}
	return out
}

// Softmax: measured max |err| vs float64 ≤ 1.2e-7 on rows of N(0,3) scores,
// generic and avx2.
func TestSoftmax(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(9, 10))
		var worst float64
		for _, n := range testLengths[1:] {
			for _, scale := range []float32{1, 0.125, -0.5} {
				x, check := guarded(n)
				for i := range x {
					x[i] = float32(r.NormFloat64() * 3)
				}
				masked := n > 3 && scale > 0
				if masked {
					x[1] = -3.4028235e38 // finfo.min mask
					x[n-1] = inf32(-1)
				}
				want := refSoftmax(x, float64(scale))
				if scale == 1 {
					Softmax(x)
				} else {
					SoftmaxScaled(x, scale)
				}
				check(t)
				var s float64
				for i := range x {
					e := math.Abs(float64(x[i]) - want[i])
					worst = math.Max(worst, e)
					if e > 3e-7*math.Max(want[i], 1e-3) && e > 2e-7 {
						t.Fatalf("n=%d scale=%g i=%d: %g want %g", n, scale, i, x[i], want[i])
					}
					s += float64(x[i])
				}
				if masked && (x[1] != 0 || x[n-1] != 0) {
					t.Fatalf("n=%d: masked entries got weight %g, %g", n, x[1], x[n-1])
				}
				if math.Abs(s-1) > 1e-6 {
					t.Fatalf("n=%d: row sums to %g", n, s)
				}
			}
		}
		t.Logf("max abs error %.3g", worst)

		// A fully masked row is uniform (as PyTorch); a NaN poisons the row.
		x := []float32{-3.4028235e38, -3.4028235e38, -3.4028235e38, -3.4028235e38, -3.4028235e38}
		Softmax(x)
		for _, v := range x {
			if v != 0.2 {
				t.Fatalf("fully masked row: %v", x)
			}
		}
		x = []float32{1, 2, nan32(), 3, 4, 5, 6, 7, 8, 9}
		Softmax(x)
		for _, v := range x {
			if v == v {
				t.Fatalf("row with NaN: %v", x)
			}
		}
		x = []float32{0, 1000, -1000}
		SoftmaxScaled(x, 0.5)
		if x[0] != 0 || x[1] != 1 || x[2] != 0 {
			t.Fatalf("extreme row: %v", x)
		}
	})
}

func refLayerNorm(x []float32, gamma, beta []float32, eps float64) ([]float64, float64) {
	n := float64(len(x))
	var s float64
	for _, v := range x {
		s += float64(v)
	}
	mean := s / n
	var ss float64
	for _, v := range x {
		ss += (float64(v) - mean) * (float64(v) - mean)
	}
	rstd := 1 / math.Sqrt(ss/n+eps)
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = (float64(v)-mean)*rstd*float64(gamma[i]) + float64(beta[i])
	}
	return out, math.Abs(mean) * rstd
}

// LayerNorm: measured max |err| vs float64 on O(1) outputs: generic 6e-8;
// avx2 4e-7 for |mean|/std <= 5 and 3.3e-6 at |mean|/std = 50 (the float32
// mean is off by up to ulp(50)/2 = 1.9e-6 there, as in PyTorch's float32
// kernel).
func TestLayerNorm(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(11, 12))
		var worst, worstTypical float64
		for _, cols := range []int{1, 2, 3, 7, 8, 15, 16, 17, 31, 33, 64, 65, 100, 384, 768, 1000} {
			for _, shift := range []float64{0, 5, 50} {
				for _, withBeta := range []bool{true, false} {
					rows := 3
					src := make([]float32, rows*cols)
					for i := range src {
						src[i] = float32(shift + r.NormFloat64())
					}
					gamma := randSlice(r, cols, 0.5, 1.5)
					beta := randSlice(r, cols, -1, 1)
					zero := make([]float32, cols)
					dst, check := guarded(rows * cols)
					eps := float32(1e-12)
					if withBeta {
						LayerNorm(dst, src, cols, gamma, beta, eps)
					} else {
						LayerNorm(dst, src, cols, gamma, nil, eps)
					}
					check(t)
					for row := 0; row < rows; row++ {
						b := zero
						if withBeta {
							b = beta
						}
						want, cond := refLayerNorm(src[row*cols:(row+1)*cols], gamma, b, float64(eps))
						for i, w := range want {
							e := math.Abs(float64(dst[row*cols+i]) - w)
							worst = math.Max(worst, e)
							if shift == 0 && cols >= 64 {
								worstTypical = math.Max(worstTypical, e)
							}
							// The float32 mean is off by up to ulp(mean)/2, which
							// shifts the output by that times rstd·gamma.
							if e > 1e-6+2e-7*cond {
								t.Fatalf("cols=%d shift=%g beta=%v row=%d i=%d: %g want %g", cols, shift, withBeta, row, i, dst[row*cols+i], w)
							}
						}
					}
					// In place gives the same bits.
					inplace := append([]float32(nil), src...)
					if withBeta {
						LayerNorm(inplace, inplace, cols, gamma, beta, eps)
					} else {
						LayerNorm(inplace, inplace, cols, gamma, nil, eps)
					}
					for i := range inplace {
						if inplace[i] != dst[i] {
							t.Fatalf("in-place LayerNorm differs at %d", i)
						}
					}
				}
			}
		}
		t.Logf("max abs error %.3g (%.3g for zero-mean rows of >= 64)", worst, worstTypical)
	})
}

func TestL2Normalize(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(13, 14))
		for _, cols := range []int{1, 5, 8, 17, 384, 768} {
			x := randSlice(r, 2*cols, -2, 2)
			for i := 0; i < cols; i++ {
				x[cols+i] = 0 // a zero row stays zero
			}
			orig := append([]float32(nil), x...)
			L2Normalize(x, cols)
			var ss float64
			for _, v := range orig[:cols] {
				ss += float64(v) * float64(v)
			}
			norm := math.Sqrt(ss)
			for i := 0; i < cols; i++ {
				if want := float64(orig[i]) / norm; !relClose(x[i], want, 5e-7) {
					t.Fatalf("cols=%d i=%d: %g want %g", cols, i, x[i], want)
				}
				if x[cols+i] != 0 {
					t.Fatalf("zero row became %g", x[cols+i])
				}
			}
		}
	})
}

func TestHalfWidenExhaustive(t *testing.T) {
	src := make([]uint16, 1<<16+5) // +5: a tail for the scalar remainder
	for i := range src {
		src[i] = uint16(i)
	}
	forEachPath(t, func(t *testing.T) {
		dst := make([]float32, len(src))
		F16ToF32(dst, src)
		for i, h := range src {
			want := refF16(h)
			got := dst[i]
			if math.Float32bits(got) != math.Float32bits(want) {
				t.Fatalf("F16ToF32(%#04x) = %#08x, want %#08x", h, math.Float32bits(got), math.Float32bits(want))
			}
		}
		BF16ToF32(dst, src)
		for i, h := range src {
			if math.Float32bits(dst[i]) != uint32(h)<<16 {
				t.Fatalf("BF16ToF32(%#04x) = %#08x", h, math.Float32bits(dst[i]))
			}
		}
	})
}

// refF16 decodes binary16 with float64 arithmetic (independent of f16ToF32);
// NaNs come out quiet with the payload kept.
func refF16(h uint16) float32 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	e := int(h>>10) & 0x1f
	m := float64(h & 0x3ff)
	switch e {
	case 0:
		return float32(sign * m * math.Ldexp(1, -24))
	case 0x1f:
		if m == 0 {
			return float32(math.Inf(int(sign)))
		}
		return math.Float32frombits(uint32(h&0x8000)<<16 | 0x7fc00000 | uint32(h&0x3ff)<<13)
	}
	return float32(sign * (1 + m/1024) * math.Ldexp(1, e-15))
}

func TestHalfNarrow(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	var src []float32
	// Every finite half value, the midpoints to its neighbours (ties), and
	// points just off the midpoints.
	for h := 0; h < 0x7c00; h++ {
		a := float64(refF16(uint16(h)))
		b := float64(refF16(uint16(h + 1)))
		mid := (a + b) / 2
		for _, v := range []float64{a, mid, math.Nextafter(mid, 0), math.Nextafter(mid, 1e9)} {
			src = append(src, float32(v), -float32(v))
		}
	}
	for _, v := range []float32{inf32(1), inf32(-1), nan32(), 65504, 65519.99, 65520, 1e10, 1e-10, 5.9604645e-08, 2.9802322e-08, 2.9802326e-08,
		math.Float32frombits(0x7f800001), math.Float32frombits(0xffc01234), math.Float32frombits(0x7fffffff)} {
		src = append(src, v)
	}
	for i := 0; i < 100000; i++ {
		src = append(src, math.Float32frombits(r.Uint32()))
	}
	forEachPath(t, func(t *testing.T) {
		h := make([]uint16, len(src))
		F32ToF16(h, src)
		for i, v := range src {
			if want := refToF16(v); h[i] != want {
				t.Fatalf("F32ToF16(%g = %#08x) = %#04x, want %#04x", v, math.Float32bits(v), h[i], want)
			}
		}
		F32ToBF16(h, src)
		for i, v := range src {
			if want := refToBF16(v); h[i] != want {
				t.Fatalf("F32ToBF16(%g = %#08x) = %#04x, want %#04x", v, math.Float32bits(v), h[i], want)
			}
		}
	})
}

// refToF16 picks the nearest binary16 value by search (ties to even mantissa).
func refToF16(v float32) uint16 {
	b := math.Float32bits(v)
	sign := uint16(b>>16) & 0x8000
	if v != v {
		return sign | 0x7e00 | uint16(b&0x7fffff>>13)
	}
	a := math.Abs(float64(v))
	if a >= 65520 {
		return sign | 0x7c00
	}
	lo, hi := 0, 0x7bff
	for lo < hi { // largest h with value <= a
		mid := (lo + hi + 1) / 2
		if float64(refF16(uint16(mid))) <= a {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	h := lo
	if h < 0x7bff {
		d0 := a - float64(refF16(uint16(h)))
		d1 := float64(refF16(uint16(h+1))) - a
		if d1 < d0 || (d1 == d0 && h&1 == 1) {
			h++
		}
	} else if a > 65504 {
		// between 65504 and 65520: rounds down to 65504
	}
	return sign | uint16(h)
}

func refToBF16(v float32) uint16 {
	if v != v {
		return 0x7fc0
	}
	b := math.Float32bits(v)
	hi := b >> 16
	lo := b & 0xffff
	if lo > 0x8000 || (lo == 0x8000 && hi&1 == 1) {
		hi++
	}
	return uint16(hi)
}
