// Package modelio holds the small pieces every model file shares for
// loading weights and reporting hidden states.
package modelio

import (
	"fmt"
	"strings"

	"bioencoder/nn"
)

// Source is where a model's weights come from: a weights.Store resolves
// Hugging Face names (base-model prefix added or removed, legacy gamma/beta)
// and widens any dtype to float32.
type Source interface {
	Names() []string
	Has(name string) bool
	Shape(name string) ([]int, bool)
	Tensor(name string, shape ...int) ([]float32, error)
}

// Fill copies the tensor called name into p, checking its shape.
func Fill(src Source, name string, p *nn.Param) error {
	w, err := src.Tensor(name, p.Shape...)
	if err != nil {
		return err
	}
	copy(p.W, w)
	return nil
}

// FillAs copies a tensor found under another name (e.g. by shape) into p.
func FillAs(src Source, name string, p *nn.Param) error {
	w, err := src.Tensor(name, p.Shape...)
	if err != nil {
		return fmt.Errorf("%s (loading it as %s): %w", name, p.Name, err)
	}
	copy(p.W, w)
	return nil
}

// Keep appends a copy of v's data to states when states is not nil.
func Keep(states *[][]float32, v *nn.Var) {
	if states != nil {
		*states = append(*states, append([]float32(nil), v.Data...))
	}
}

// InScope reports whether name starts with any of the prefixes.
func InScope(name string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// IsNormWeight reports whether a parameter is a LayerNorm scale.
func IsNormWeight(name string) bool {
	return strings.HasSuffix(name, "LayerNorm.weight") || strings.HasSuffix(name, "norm.weight")
}
