package model

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"bioencoder/config"
	"bioencoder/internal/atomicfile"
	"bioencoder/safetensors"
)

// archName is transformers' class name for an architecture and head.
func archName(cfg *config.Model, task config.Task) string {
	base := "Bert"
	switch cfg.Arch {
	case config.ModernBERT:
		base = "ModernBert"
	case config.BERTHash:
		base = "BertHash"
	}
	switch task {
	case config.MaskedLM:
		return base + "ForMaskedLM"
	case config.SequenceClassification:
		return base + "ForSequenceClassification"
	case config.TokenClassification:
		return base + "ForTokenClassification"
	case config.PreTraining:
		return base + "ForPreTraining"
	}
	return base + "Model"
}

// Save writes m as a Hugging Face folder: config.json (naming the
// head that m carries), model.safetensors with every parameter under its
// Hugging Face name in float32 (tied decoders are not stored, as
// transformers does), and the tokenizer files found in tokDir.
func Save(dir string, m Model, tokDir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cfg := *m.Config()
	cfg.Architectures = []string{archName(&cfg, m.Task())}
	b, err := cfg.Marshal()
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "config.json"), b); err != nil {
		return err
	}
	tensors := map[string]safetensors.Tensor{}
	for _, p := range m.Params().List {
		t, err := safetensors.FromFloat32(safetensors.F32, p.Shape, p.W)
		if err != nil {
			return fmt.Errorf("model: %s: %w", p.Name, err)
		}
		tensors[p.Name] = t
	}
	if err := safetensors.Write(filepath.Join(dir, "model.safetensors"), tensors, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	return CopyTokenizer(tokDir, dir)
}

// tokenizerFiles are the files a Hugging Face tokenizer may consist of.
var tokenizerFiles = []string{"tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json"}

// CopyTokenizer copies the tokenizer files of src (those present) into dst.
func CopyTokenizer(src, dst string) error {
	if src == "" || src == dst {
		return nil
	}
	found := false
	for _, name := range tokenizerFiles {
		in, err := os.Open(filepath.Join(src, name))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return err
		}
		found = true
		err = atomicfile.WriteFunc(filepath.Join(dst, name), func(w io.Writer) error {
			_, err := io.Copy(w, in)
			return err
		})
		in.Close()
		if err != nil {
			return err
		}
	}
	if !found {
		return fmt.Errorf("model: no tokenizer files in %s", src)
	}
	return nil
}

// LoadParams fills m's parameters from a folder written by SaveModel.
func LoadParams(m Model, dir string) error {
	f, err := safetensors.Open(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		return err
	}
	defer f.Close()
	for _, p := range m.Params().List {
		v, err := f.Float32(p.Name)
		if err != nil {
			return err
		}
		if len(v) != len(p.W) {
			return fmt.Errorf("model: %s: %s has %d values, want %d", f.Path(), p.Name, len(v), len(p.W))
		}
		copy(p.W, v)
	}
	m.Params().Touch()
	return nil
}
