package tensor

import "testing"

func TestWorkspaceSteadyStateAllocatesNothing(t *testing.T) {
	var w Workspace
	pass := func() {
		a := w.Get(1000)
		b := w.GetDirty(37)
		c := w.Get(4096)
		a[999], b[36], c[4095] = 1, 2, 3
		w.Reset()
	}
	pass() // first pass learns the size
	allocs := testing.AllocsPerRun(10, pass)
	if allocs != 0 {
		t.Fatalf("steady-state pass allocated %v times", allocs)
	}
}

func TestWorkspaceBuffersDoNotOverlapAndAreZeroed(t *testing.T) {
	var w Workspace
	for pass := 0; pass < 3; pass++ {
		bufs := [][]float32{w.Get(5), w.Get(17), w.Get(1), w.Get(64)}
		for i, b := range bufs {
			for j := range b {
				if b[j] != 0 {
					t.Fatalf("pass %d buffer %d not zeroed", pass, i)
				}
				b[j] = float32(i + 1)
			}
		}
		for i, b := range bufs {
			for j := range b {
				if b[j] != float32(i+1) {
					t.Fatalf("pass %d: buffer %d overwritten by another", pass, i)
				}
			}
		}
		w.Reset()
	}
}

func TestTensorBasics(t *testing.T) {
	x := New(2, 3, 4)
	if r, c := x.Rows(); r != 6 || c != 4 {
		t.Fatalf("Rows = %d,%d", r, c)
	}
	if _, err := x.Reshape(5, 5); err == nil {
		t.Fatal("reshape to wrong size succeeded")
	}
	y, err := x.Reshape(6, 4)
	if err != nil || y.Dim(-1) != 4 {
		t.Fatal(err)
	}
	if Numel(nil) != 1 || Numel([]int{0, 3}) != 0 {
		t.Fatal("Numel")
	}
}

func TestWorkspaceReleaseRecyclesAndKeeps(t *testing.T) {
	var w Workspace
	base := w.Get(10)
	base[0] = 42
	layer := func(in []float32) []float32 {
		m := w.Mark()
		s1 := w.Get(1000)
		s2 := w.Get(500)
		out := w.GetDirty(len(in))
		for i := range out {
			out[i] = in[i] + 1 + s1[0] + s2[0]
		}
		return w.Release(m, out)
	}
	x := w.Get(64)
	m := w.Mark()
	for l := 0; l < 50; l++ {
		y := layer(x)
		x = w.Release(m, y)
	}
	for i := range x {
		if x[i] != 50 {
			t.Fatalf("x[%d] = %v after 50 layers", i, x[i])
		}
	}
	if base[0] != 42 {
		t.Fatal("buffer below the mark was clobbered")
	}
	w.Reset()
	if sz := w.Size(); sz > 4*(10+64+1000+500+64+64) {
		t.Fatalf("workspace grew to %d floats: release did not recycle", sz)
	}
}
