package nn

import (
	"fmt"

	"bioencoder/tensor"
)

// Var is a node of the graph: a [Rows, Cols] row-major matrix and, during
// training, its gradient.
type Var struct {
	Rows, Cols int
	Data       []float32
	Grad       []float32 // nil until backward reaches this node
	needGrad   bool
}

// Graph runs operations and, when training, records their backward passes.
// A Graph is used by one goroutine at a time; each op parallelises inside
// itself on the shared pool.
type Graph struct {
	WS    *tensor.Workspace
	train bool
	tape  []func()

	// Dropout is applied only when training and Seed-derived streams make the
	// masks reproducible (see dropout.go).
	Seed   uint64
	nextOp uint64

	// GradScale multiplies the gradient every loss seeds (0 means 1); a
	// trainer sets it to 1/k when it accumulates k micro-batches.
	GradScale float32
}

// NewGraph returns a graph over a workspace. With train set, ops record their
// backward passes and keep every activation until Backward.
func NewGraph(ws *tensor.Workspace, train bool) *Graph {
	return &Graph{WS: ws, train: train}
}

// Training reports whether the graph records backward passes.
func (g *Graph) Training() bool { return g.train }

// Reset forgets the tape and returns every buffer to the workspace.
func (g *Graph) Reset() {
	clear(g.tape)
	g.tape = g.tape[:0]
	g.nextOp = 0
	g.WS.Reset()
}

// New returns an output node with uninitialised data.
func (g *Graph) New(rows, cols int) *Var {
	return &Var{Rows: rows, Cols: cols, Data: g.WS.GetDirty(rows * cols), needGrad: g.train}
}

// Zeros returns an output node with zeroed data.
func (g *Graph) Zeros(rows, cols int) *Var {
	return &Var{Rows: rows, Cols: cols, Data: g.WS.Get(rows * cols), needGrad: g.train}
}

// Input wraps data that needs no gradient.
func (g *Graph) Input(data []float32, rows, cols int) *Var {
	if len(data) != rows*cols {
		panic(fmt.Sprintf("nn: Input: %d values for [%d, %d]", len(data), rows, cols))
	}
	return &Var{Rows: rows, Cols: cols, Data: data}
}

// record appends a backward closure when training.
func (g *Graph) record(f func()) {
	if g.train {
		g.tape = append(g.tape, f)
	}
}

// grad returns v's gradient buffer, allocating a zeroed one on first use.
func (g *Graph) grad(v *Var) []float32 {
	if v.Grad == nil {
		v.Grad = g.WS.Get(len(v.Data))
	}
	return v.Grad
}

// SeedGrad sets d(loss)/d(v) directly (for losses computed outside the graph).
func (g *Graph) SeedGrad(v *Var, grad []float32) {
	copy(g.grad(v), grad)
}

// Backward runs the recorded backward passes in reverse order. Loss ops seed
// their own gradients; parameter gradients accumulate into Params.G.
func (g *Graph) Backward() {
	for i := len(g.tape) - 1; i >= 0; i-- {
		g.tape[i]()
	}
}

// Mark and Release recycle scratch memory between layers during inference;
// when training they do nothing, because backward needs every activation.
func (g *Graph) Mark() tensor.Mark { return g.WS.Mark() }

// Release frees what was allocated since m, keeping v (moved to the mark).
func (g *Graph) Release(m tensor.Mark, v *Var) *Var {
	if g.train {
		return v
	}
	return &Var{Rows: v.Rows, Cols: v.Cols, Data: g.WS.Release(m, v.Data)}
}

// opID numbers ops in call order, for dropout streams.
func (g *Graph) opID() uint64 {
	g.nextOp++
	return g.nextOp
}

// Param exposes a parameter as a node; gradients flowing into it land in the
// parameter's gradient directly.
func (g *Graph) Param(p *Param) *Var {
	rows := p.Shape[0]
	return &Var{Rows: rows, Cols: p.Numel() / max(rows, 1), Data: p.W, Grad: p.G, needGrad: g.train}
}
