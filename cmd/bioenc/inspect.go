package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"bioencoder/safetensors"
	"bioencoder/weights"
)

var inspectJSON bool

var inspectCmd = &cobra.Command{
	Use:   "inspect PATH",
	Short: "List a model's architecture, tensors (name, dtype, shape) and parameter count",
	Long: `inspect opens a model folder (model.safetensors, a sharded index, or pytorch_model.bin) or a
single .safetensors/.bin file and prints config.json's architectures and model_type, every tensor
sorted by name (legacy LayerNorm.gamma/beta shown under their normalised names), and the number of
parameters (elements of floating-point tensors).`,
	Args: cobra.ExactArgs(1),
	RunE: func(cmd *cobra.Command, args []string) error {
		return runInspect(cmd.OutOrStdout(), args[0], inspectJSON)
	},
}

func init() {
	inspectCmd.Flags().BoolVar(&inspectJSON, "json", false, "machine-readable output")
	root.AddCommand(inspectCmd)
}

type inspectTensor struct {
	Name   string `json:"name"`
	DType  string `json:"dtype"`
	Shape  []int  `json:"shape"`
	Stored string `json:"stored_name,omitempty"` // when it differs from name
}

type inspectReport struct {
	Path          string          `json:"path"`
	Format        string          `json:"format"`
	Files         []string        `json:"files"`
	Architectures json.RawMessage `json:"architectures,omitempty"`
	ModelType     json.RawMessage `json:"model_type,omitempty"`
	Tensors       []inspectTensor `json:"tensors"`
	Parameters    int64           `json:"parameters"`
}

func runInspect(w io.Writer, path string, asJSON bool) error {
	st, err := weights.Open(path)
	if err != nil {
		return err
	}
	defer st.Close()
	rep := inspectReport{Path: path, Format: st.Format(), Files: st.Files(), Tensors: []inspectTensor{}}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		if rep.Architectures, rep.ModelType, err = readArch(filepath.Join(path, "config.json")); err != nil {
			return err
		}
	}
	for _, name := range st.Names() {
		dt, shape, _ := st.Info(name)
		t := inspectTensor{Name: name, DType: dt, Shape: shape}
		if shape == nil {
			t.Shape = []int{}
		}
		if s := st.StoredName(name); s != name {
			t.Stored = s
		}
		if safetensors.DType(dt).IsFloat() {
			n := int64(1)
			for _, d := range shape {
				n *= int64(d)
			}
			rep.Parameters += n
		}
		rep.Tensors = append(rep.Tensors, t)
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return printInspect(w, &rep)
}

// readArch reads config.json's architectures and model_type as raw JSON
// (the typed config lives elsewhere); a missing file is not an error.
func readArch(path string) (arch, mtype json.RawMessage, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	var cfg struct {
		Architectures json.RawMessage `json:"architectures"`
		ModelType     json.RawMessage `json:"model_type"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return compact(cfg.Architectures), compact(cfg.ModelType), nil
}

func compact(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return nil
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}

func printInspect(w io.Writer, rep *inspectReport) error {
	var b strings.Builder
	fmt.Fprintf(&b, "path: %s\n", rep.Path)
	fmt.Fprintf(&b, "format: %s\n", rep.Format)
	if len(rep.Files) > 1 {
		fmt.Fprintf(&b, "files: %d\n", len(rep.Files))
		for _, f := range rep.Files {
			fmt.Fprintf(&b, "  %s\n", f)
		}
	}
	if rep.Architectures != nil || rep.ModelType != nil {
		fmt.Fprintf(&b, "architectures: %s\n", orNone(rep.Architectures))
		fmt.Fprintf(&b, "model_type: %s\n", orNone(rep.ModelType))
	}
	fmt.Fprintf(&b, "tensors: %d\n", len(rep.Tensors))
	nameW, dtW := 0, 0
	for _, t := range rep.Tensors {
		nameW = max(nameW, len(t.Name))
		dtW = max(dtW, len(t.DType))
	}
	for _, t := range rep.Tensors {
		line := fmt.Sprintf("  %-*s  %-*s  %v", nameW, t.Name, dtW, t.DType, t.Shape)
		if t.Stored != "" {
			line += "  (stored as " + t.Stored + ")"
		}
		b.WriteString(line + "\n")
	}
	fmt.Fprintf(&b, "parameters: %s\n", thousands(rep.Parameters))
	_, err := io.WriteString(w, b.String())
	return err
}

func orNone(raw json.RawMessage) string {
	if raw == nil {
		return "(none)"
	}
	return string(raw)
}

// thousands formats n with comma separators: 53384 → "53,384".
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
