// Package tensor holds bioencoder's float32 tensors and the workspace that
// lends reusable activation buffers to forward and backward passes.
package tensor

import (
	"fmt"
	"strings"
)

// Tensor is a row-major float32 array. Data has exactly Numel(Shape) elements.
type Tensor struct {
	Shape []int
	Data  []float32
}

// New allocates a zeroed tensor.
func New(shape ...int) *Tensor {
	return &Tensor{Shape: append([]int(nil), shape...), Data: make([]float32, Numel(shape))}
}

// From wraps data (not copied) with a shape; it panics if the sizes differ,
// which is a programming error, not bad input.
func From(data []float32, shape ...int) *Tensor {
	if Numel(shape) != len(data) {
		panic(fmt.Sprintf("tensor.From: %d values for shape %v", len(data), shape))
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: data}
}

// Numel is the number of elements of a shape (1 for a scalar shape []).
func Numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Dim returns size of dimension i; negative i counts from the end.
func (t *Tensor) Dim(i int) int {
	if i < 0 {
		i += len(t.Shape)
	}
	return t.Shape[i]
}

// Rows views the tensor as a matrix: all leading dimensions times the last.
func (t *Tensor) Rows() (rows, cols int) {
	if len(t.Shape) == 0 {
		return 1, 1
	}
	cols = t.Shape[len(t.Shape)-1]
	if cols == 0 {
		return 0, 0
	}
	return len(t.Data) / cols, cols
}

// Row returns row r of the matrix view (shares memory).
func (t *Tensor) Row(r int) []float32 {
	_, c := t.Rows()
	return t.Data[r*c : (r+1)*c]
}

// Reshape returns a view with a new shape of the same size.
func (t *Tensor) Reshape(shape ...int) (*Tensor, error) {
	if Numel(shape) != len(t.Data) {
		return nil, fmt.Errorf("tensor: cannot reshape %v (%d values) to %v", t.Shape, len(t.Data), shape)
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: t.Data}, nil
}

// Clone deep-copies the tensor.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{Shape: append([]int(nil), t.Shape...), Data: append([]float32(nil), t.Data...)}
}

// ShapeString formats a shape as [d0, d1, ...].
func ShapeString(shape []int) string {
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func (t *Tensor) String() string { return "tensor" + ShapeString(t.Shape) }

// SameShape reports whether two shapes are equal.
func SameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
