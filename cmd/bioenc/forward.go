package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"bioencoder/config"
	"bioencoder/model"
	"bioencoder/nn"
	"bioencoder/safetensors"
	"bioencoder/tensor"
)

var forwardFlags struct {
	model  string
	inputs string
	out    string
}

var forwardCmd = &cobra.Command{
	Use:   "forward --model DIR --inputs IN.safetensors --out OUT.safetensors",
	Short: "Run a Hugging Face model on padded input ids and save every output (safetensors)",
	Long: `forward reads input_ids, and optionally attention_mask and token_type_ids (integer tensors
[B, S], right- or otherwise padded; a missing attention_mask means no padding), runs the model
folder (config.json + weights; no tokenizer needed) and writes to --out every output the
architecture defines, as float32 under transformers' names - last_hidden_state,
hidden_states.0..L, pooler_output (BERT) or pooled (ModernBERT), logits (for a head) - plus
the inputs as int64. Token-level outputs are [B, S, ...] with values at padded positions too
(Hugging Face eager semantics); only real positions are meaningful. The file is written
atomically. One JSON line {"out", "tensors": {name: shape}} is printed.`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, args []string) error {
		f := forwardFlags
		if f.model == "" || f.inputs == "" || f.out == "" {
			return errors.New("--model, --inputs and --out are required")
		}
		in, err := safetensors.Open(f.inputs)
		if err != nil {
			return err
		}
		defer in.Close()
		ids, err := readIDMatrix(in, "input_ids", nil)
		if err != nil {
			return err
		}
		if ids == nil {
			return fmt.Errorf("%s has no input_ids tensor", f.inputs)
		}
		mask, err := readIDMatrix(in, "attention_mask", ids)
		if err != nil {
			return err
		}
		types, err := readIDMatrix(in, "token_type_ids", ids)
		if err != nil {
			return err
		}
		if _, err := os.Stat(f.model); err != nil {
			return fmt.Errorf("model folder: %w", err)
		}
		m, err := model.Open(f.model, model.DefaultOptions)
		if err != nil {
			return err
		}
		modelTypes := types
		if m.Config().Arch == config.ModernBERT {
			modelTypes = nil // ModernBERT has no token types
		}
		var ws tensor.Workspace
		outs, err := model.Forward(m, nn.NewGraph(&ws, false), ids, mask, modelTypes)
		if err != nil {
			return fmt.Errorf("%s: %w", f.model, err)
		}
		tensors := map[string]safetensors.Tensor{}
		shapes := map[string][]int{}
		for name, t := range outs {
			st, err := safetensors.FromFloat32(safetensors.F32, t.Shape, t.Data)
			if err != nil {
				return fmt.Errorf("output %s: %w", name, err)
			}
			tensors[name], shapes[name] = st, t.Shape
		}
		for name, v := range map[string][][]int{"input_ids": ids, "attention_mask": mask, "token_type_ids": types} {
			if v == nil {
				continue
			}
			flat := make([]int64, 0, len(v)*len(v[0]))
			for _, row := range v {
				for _, x := range row {
					flat = append(flat, int64(x))
				}
			}
			shape := []int{len(v), len(v[0])}
			st, err := safetensors.FromInt64(shape, flat)
			if err != nil {
				return err
			}
			tensors[name], shapes[name] = st, shape
		}
		if err := safetensors.Write(f.out, tensors, map[string]string{"format": "pt"}); err != nil {
			return err
		}
		out := newJSONLines(cmd.OutOrStdout())
		if err := out.put(struct {
			Out     string           `json:"out"`
			Tensors map[string][]int `json:"tensors"`
		}{f.out, shapes}); err != nil {
			return err
		}
		return out.flush()
	},
}

// readIDMatrix reads an integer tensor [B, S] as rows; nil if absent. When
// like is given the shape must match it.
func readIDMatrix(f *safetensors.File, name string, like [][]int) ([][]int, error) {
	info, ok := f.Info(name)
	if !ok {
		return nil, nil
	}
	if len(info.Shape) != 2 || info.Shape[0] == 0 || info.Shape[1] == 0 {
		return nil, fmt.Errorf("%s: %s has shape %v, want [batch, sequence] with both positive", f.Path(), name, info.Shape)
	}
	rows, cols := info.Shape[0], info.Shape[1]
	if like != nil && (rows != len(like) || cols != len(like[0])) {
		return nil, fmt.Errorf("%s: %s has shape %v, input_ids has [%d %d]", f.Path(), name, info.Shape, len(like), len(like[0]))
	}
	v, err := f.Int64(name)
	if err != nil {
		return nil, err
	}
	out := make([][]int, rows)
	for r := range out {
		out[r] = make([]int, cols)
		for c := range out[r] {
			x := v[r*cols+c]
			if x < -1<<31 || x > 1<<31 {
				return nil, fmt.Errorf("%s: %s[%d][%d] = %d is out of range", f.Path(), name, r, c, x)
			}
			out[r][c] = int(x)
		}
	}
	return out, nil
}

func init() {
	fl := forwardCmd.Flags()
	fl.StringVar(&forwardFlags.model, "model", "", "Hugging Face model folder (config.json + weights)")
	fl.StringVar(&forwardFlags.inputs, "inputs", "", "safetensors file with input_ids [, attention_mask, token_type_ids]")
	fl.StringVar(&forwardFlags.out, "out", "", "output safetensors file")
	root.AddCommand(forwardCmd)
}
