package main

import (
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"bioencoder/safetensors"
	"bioencoder/tensor"
)

// forwardAliases are expected.safetensors names that mean one of forward's
// outputs (sentence-transformers fixtures call the last hidden state
// token_embeddings).
var forwardAliases = map[string]string{"token_embeddings": "last_hidden_state"}

// TestForwardGolden runs forward on every model fixture of testdata/golden
// (a folder with config.json, weights and input_ids in expected.safetensors)
// and compares every output it shares with the fixture within 1e-4 at real
// (attention mask 1) positions.
func TestForwardGolden(t *testing.T) {
	root := golden(t)
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, e := range entries {
		dir := filepath.Join(root, e.Name())
		if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
			continue
		}
		exp, err := safetensors.Open(filepath.Join(dir, "expected.safetensors"))
		if err != nil {
			continue
		}
		if _, ok := exp.Info("input_ids"); !ok {
			exp.Close() // e.g. colbert: query_/doc_ inputs only
			continue
		}
		ran++
		t.Run(e.Name(), func(t *testing.T) {
			defer exp.Close()
			out := filepath.Join(t.TempDir(), "out.safetensors")
			inputs := filepath.Join(t.TempDir(), "in.safetensors")
			ts := map[string]safetensors.Tensor{}
			for _, name := range []string{"input_ids", "attention_mask", "token_type_ids"} {
				if info, ok := exp.Info(name); ok {
					b, _ := exp.Bytes(name)
					ts[name] = safetensors.Tensor{DType: info.DType, Shape: info.Shape, Data: b}
				}
			}
			if err := safetensors.Write(inputs, ts, nil); err != nil {
				t.Fatal(err)
			}
			mustRun(t, "", "forward", "--model", dir, "--inputs", inputs, "--out", out)
			got, err := safetensors.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer got.Close()
			mask, err := exp.Int64("attention_mask")
			if err != nil {
				t.Fatal(err)
			}
			maskInfo, _ := exp.Info("attention_mask")
			B, S := maskInfo.Shape[0], maskInfo.Shape[1]
			compared := 0
			names := exp.Names()
			sort.Strings(names)
			for _, name := range names {
				info, _ := exp.Info(name)
				ours := name
				if a, ok := forwardAliases[name]; ok {
					ours = a
				}
				gi, ok := got.Info(ours)
				if !ok {
					continue
				}
				if info.DType.IsInt() {
					w, _ := exp.Int64(name)
					g, err := got.Int64(ours)
					if err != nil {
						t.Fatal(err)
					}
					for i := range w {
						if w[i] != g[i] {
							t.Fatalf("%s: input copied wrongly at %d", name, i)
						}
					}
					continue
				}
				if !tensor.SameShape(info.Shape, gi.Shape) || gi.DType != safetensors.F32 {
					t.Errorf("%s: %s %v, want F32 %v", name, gi.DType, gi.Shape, info.Shape)
					continue
				}
				w, _ := exp.Float32(name)
				g, _ := got.Float32(ours)
				tokenLevel := len(info.Shape) >= 3 && info.Shape[0] == B && info.Shape[1] == S
				per := len(w) / max(B*S, 1)
				worst := 0.0
				for i := range w {
					if tokenLevel && mask[i/per] == 0 {
						continue
					}
					d := math.Abs(float64(g[i]) - float64(w[i]))
					if d > worst || math.IsNaN(d) {
						worst = d
					}
				}
				if !(worst <= 1e-4) {
					t.Errorf("%s: max |diff| %g", name, worst)
				}
				compared++
			}
			if compared == 0 {
				t.Fatalf("no output of forward matches the fixture's %v", names)
			}
			t.Logf("%d outputs compared", compared)
		})
	}
	if ran < 7 {
		t.Fatalf("only %d model fixtures found", ran)
	}
}

func TestForwardErrors(t *testing.T) {
	dir := golden(t, "bert_mlm")
	out := filepath.Join(t.TempDir(), "o.safetensors")
	write := func(ts map[string]safetensors.Tensor) string {
		p := filepath.Join(t.TempDir(), "in.safetensors")
		if err := safetensors.Write(p, ts, nil); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ids := func(shape []int, v ...int64) safetensors.Tensor {
		ts, err := safetensors.FromInt64(shape, v)
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	wantError(t, "", []string{"required"}, "forward", "--model", dir)
	wantError(t, "", []string{"no input_ids"}, "forward", "--model", dir, "--out", out,
		"--inputs", write(map[string]safetensors.Tensor{"x": ids([]int{1, 1}, 5)}))
	wantError(t, "", []string{"input_ids", "[3]"}, "forward", "--model", dir, "--out", out,
		"--inputs", write(map[string]safetensors.Tensor{"input_ids": ids([]int{3}, 5, 6, 7)}))
	wantError(t, "", []string{"attention_mask", "[1 2]", "[1 3]"}, "forward", "--model", dir, "--out", out,
		"--inputs", write(map[string]safetensors.Tensor{"input_ids": ids([]int{1, 3}, 5, 6, 7), "attention_mask": ids([]int{1, 2}, 1, 1)}))
	wantError(t, "", []string{"token id 5000", "vocabulary"}, "forward", "--model", dir, "--out", out,
		"--inputs", write(map[string]safetensors.Tensor{"input_ids": ids([]int{1, 3}, 5, 5000, 7)}))
	wantError(t, "", []string{"100 positions", "at most 64"}, "forward", "--model", dir, "--out", out,
		"--inputs", write(map[string]safetensors.Tensor{"input_ids": ids([]int{1, 100}, make([]int64, 100)...)}))
	wantError(t, "", []string{"model folder"}, "forward", "--model", filepath.Join(t.TempDir(), "nope"), "--out", out,
		"--inputs", write(map[string]safetensors.Tensor{"input_ids": ids([]int{1, 1}, 5)}))
	if _, err := os.Stat(out); err == nil {
		t.Error("a failed run left an output file")
	}
}
