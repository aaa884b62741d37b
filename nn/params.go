package nn

import (
	"fmt"
	"sort"

	"bioencoder/tensor"
)

// Param is one named parameter: a view into Params.W and Params.G.
type Param struct {
	Name  string // Hugging Face state-dict name
	Shape []int
	W     []float32 // values
	G     []float32 // gradient (same layout)
	Decay bool      // whether weight decay applies (false for biases and norms by convention)
	off   int
}

// Offset is the parameter's position in Params.W and Params.G.
func (p *Param) Offset() int { return p.off }

// Numel is the number of values.
func (p *Param) Numel() int { return tensor.Numel(p.Shape) }

// Params owns every parameter of a model in one buffer.
type Params struct {
	W, G    []float32
	List    []*Param
	byName  map[string]*Param
	size    int
	frozen  bool
	version uint64 // bumped whenever W changes outside a forward pass (load, optimizer step)
}

// NewParams starts an empty parameter set.
func NewParams() *Params { return &Params{byName: map[string]*Param{}} }

// Add declares a parameter. All parameters must be declared before Alloc.
// Parameters declared in a row are adjacent in memory.
func (ps *Params) Add(name string, shape ...int) *Param {
	if ps.frozen {
		panic("nn: Params.Add after Alloc: " + name)
	}
	if _, dup := ps.byName[name]; dup {
		panic("nn: duplicate parameter " + name)
	}
	p := &Param{Name: name, Shape: append([]int(nil), shape...), off: ps.size, Decay: len(shape) >= 2}
	ps.size += p.Numel()
	ps.List = append(ps.List, p)
	ps.byName[name] = p
	return p
}

// Alloc allocates the value and gradient buffers and points every Param at
// its slice of them.
func (ps *Params) Alloc() {
	ps.W = make([]float32, ps.size)
	ps.G = make([]float32, ps.size)
	for _, p := range ps.List {
		n := p.Numel()
		p.W = ps.W[p.off : p.off+n : p.off+n]
		p.G = ps.G[p.off : p.off+n : p.off+n]
	}
	ps.frozen = true
}

// Get returns a parameter by name, or nil.
func (ps *Params) Get(name string) *Param { return ps.byName[name] }

// Names lists parameter names in sorted order.
func (ps *Params) Names() []string {
	n := make([]string, 0, len(ps.List))
	for _, p := range ps.List {
		n = append(n, p.Name)
	}
	sort.Strings(n)
	return n
}

// Count is the total number of parameter values.
func (ps *Params) Count() int { return ps.size }

// ZeroGrad clears every gradient.
func (ps *Params) ZeroGrad() { clear(ps.G) }

// Touch records that the values changed (after loading or an optimizer
// step), so cached packed weights are rebuilt before the next inference pass.
func (ps *Params) Touch() { ps.version++ }

// Version identifies the current values (see Touch).
func (ps *Params) Version() uint64 { return ps.version }

// Fuse returns a parameter view spanning adjacent parameters with the same
// trailing dimensions (e.g. query, key and value weights -> one [3H, H]
// matrix). Its name joins the parts with "+". It panics if they are not
// adjacent, which is a bug in the model file.
func (ps *Params) Fuse(parts ...*Param) *Param {
	if !ps.frozen {
		panic("nn: Fuse before Alloc")
	}
	first := parts[0]
	rows := 0
	name := ""
	end := first.off
	for i, p := range parts {
		if p.off != end {
			panic(fmt.Sprintf("nn: Fuse: %s is not adjacent to %s", p.Name, parts[i-1].Name))
		}
		if len(p.Shape) != len(first.Shape) || !tensor.SameShape(p.Shape[1:], first.Shape[1:]) {
			panic(fmt.Sprintf("nn: Fuse: %s shape %v does not stack with %v", p.Name, p.Shape, first.Shape))
		}
		end += p.Numel()
		rows += p.Shape[0]
		if i > 0 {
			name += "+"
		}
		name += p.Name
	}
	shape := append([]int{rows}, first.Shape[1:]...)
	return &Param{Name: name, Shape: shape, W: ps.W[first.off:end:end], G: ps.G[first.off:end:end], Decay: first.Decay, off: first.off}
}
