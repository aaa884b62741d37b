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
