package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"bioencoder/config"
	"bioencoder/model"
	"bioencoder/nn"
	"bioencoder/safetensors"
	"bioencoder/tensor"
)

func TestInitModel(t *testing.T) {
	cases := []struct {
		args      []string
		arch      string
		mustHave  []string // tensor names (Hugging Face)
		mustLack  []string
		modelType string
	}{
		{[]string{"--arch", "bert"}, "BertModel",
			[]string{"embeddings.word_embeddings.weight", "encoder.layer.1.output.dense.weight", "pooler.dense.weight"},
			[]string{"cls.predictions.bias"}, "bert"},
		{[]string{"--arch", "bert", "--mlm"}, "BertForMaskedLM",
			[]string{"bert.embeddings.word_embeddings.weight", "cls.predictions.bias", "cls.predictions.transform.dense.weight"},
			[]string{"bert.pooler.dense.weight", "cls.predictions.decoder.weight"}, "bert"}, // decoder tied, not stored
		{[]string{"--arch", "modernbert"}, "ModernBertModel",
			[]string{"embeddings.tok_embeddings.weight", "layers.1.attn.Wqkv.weight", "final_norm.weight"},
			[]string{"decoder.bias"}, "modernbert"},
		{[]string{"--arch", "modernbert", "--mlm"}, "ModernBertForMaskedLM",
			[]string{"model.embeddings.tok_embeddings.weight", "head.dense.weight", "decoder.bias"},
			nil, "modernbert"},
	}
	shape := []string{"--hidden", "32", "--layers", "2", "--heads", "4", "--intermediate", "48", "--vocab", "100", "--max-position", "64"}
	for _, tc := range cases {
		t.Run(tc.arch, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "m")
			out := mustRun(t, "", append(append([]string{"init-model", "--out", dir, "--seed", "7"}, tc.args...), shape...)...)
			var rep struct {
				Architecture string
				Parameters   int
			}
			if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Architecture != tc.arch {
				t.Fatalf("report %q (%v)", out, err)
			}
			cfg, err := config.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.ModelType != tc.modelType || cfg.Architectures[0] != tc.arch || cfg.HiddenSize != 32 || cfg.NumLayers != 2 ||
				cfg.VocabSize != 100 || cfg.MaxPositions != 64 || cfg.PadTokenID != 0 {
				t.Errorf("config %+v", cfg)
			}
			f, err := safetensors.Open(filepath.Join(dir, "model.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			n := 0
			for _, name := range f.Names() {
				info, _ := f.Info(name)
				n += info.Numel()
				if info.DType != safetensors.F32 {
					t.Errorf("%s is %s", name, info.DType)
				}
			}
			if n != rep.Parameters {
				t.Errorf("%d values stored, %d parameters reported", n, rep.Parameters)
			}
			for _, name := range tc.mustHave {
				if _, ok := f.Info(name); !ok {
					t.Errorf("no tensor %s", name)
				}
			}
			for _, name := range tc.mustLack {
				if _, ok := f.Info(name); ok {
					t.Errorf("unexpected tensor %s", name)
				}
			}
			// The folder loads and runs; random ids give finite outputs.
			m, err := model.Open(dir, model.DefaultOptions)
			if err != nil {
				t.Fatal(err)
			}
			var ws tensor.Workspace
			outs, err := model.Forward(m, nn.NewGraph(&ws, false), [][]int{{2, 17, 55, 3}}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range outs["last_hidden_state"].Data {
				if v != v {
					t.Fatal("NaN in last_hidden_state")
				}
			}
			// Same seed, same bytes; another seed, other weights.
			again := filepath.Join(t.TempDir(), "again")
			mustRun(t, "", append(append([]string{"init-model", "--out", again, "--seed", "7"}, tc.args...), shape...)...)
			other := filepath.Join(t.TempDir(), "other")
			mustRun(t, "", append(append([]string{"init-model", "--out", other, "--seed", "8"}, tc.args...), shape...)...)
			a, _ := os.ReadFile(filepath.Join(dir, "model.safetensors"))
			b, _ := os.ReadFile(filepath.Join(again, "model.safetensors"))
			c, _ := os.ReadFile(filepath.Join(other, "model.safetensors"))
			if !bytes.Equal(a, b) || bytes.Equal(a, c) {
				t.Errorf("seeding: same seed equal %v (want true), other seed equal %v (want false)", bytes.Equal(a, b), bytes.Equal(a, c))
			}
		})
	}
	out := filepath.Join(t.TempDir(), "x")
	wantError(t, "", []string{"--arch", "gpt2"}, "init-model", "--arch", "gpt2", "--out", out)
	wantError(t, "", []string{"multiple of --heads"}, "init-model", "--hidden", "30", "--heads", "4", "--out", out)
	wantError(t, "", []string{"--layers must be positive"}, "init-model", "--layers", "0", "--out", out)
	wantError(t, "", []string{"--out is required"}, "init-model")
}

func TestBenchEncode(t *testing.T) {
	for _, mlm := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "m")
		args := []string{"init-model", "--out", dir, "--hidden", "32", "--layers", "1", "--heads", "2", "--intermediate", "64", "--vocab", "200", "--max-position", "64"}
		if mlm {
			args = append(args, "--mlm")
		}
		mustRun(t, "", args...)
		out := mustRun(t, "", "bench", "encode", "--model", dir, "--batch", "3", "--seq", "16", "--runs", "3", "--seconds", "0", "--json")
		var res benchEncodeResult
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if res.Batch != 3 || res.Seq != 16 || res.Runs != 3 || len(res.RunSeconds) != 3 || !(res.TokensPerSecond > 0) ||
			!(res.SentencesPerSecond > 0) || res.Threads < 1 || res.Kernels == "" {
			t.Errorf("result %+v", res)
		}
		if _, err := os.Stat("/proc/self/status"); err == nil && !(res.PeakRSSMiB > 0) {
			t.Errorf("peak RSS %g MiB", res.PeakRSSMiB)
		}
		text := mustRun(t, "", "bench", "encode", "--model", dir, "--batch", "2", "--seq", "8", "--runs", "1", "--seconds", "0")
		if !strings.Contains(text, " 2 x 8 threads=") || !strings.Contains(text, "tok/s") || !strings.Contains(text, "peak RSS") {
			t.Errorf("text output %q", text)
		}
	}
	// Random ids are seeded, in [5, vocab) and unpadded.
	b := randomBatch(4, 10, 50, 1)
	c := randomBatch(4, 10, 50, 1)
	if b.Len() != 40 || b.NumSeqs() != 4 || b.Key != nil || b.TypeIDs != nil {
		t.Fatalf("batch %+v", b)
	}
	for i, id := range b.IDs {
		if id < 5 || id >= 50 || id != c.IDs[i] || b.Pos[i] != i%10 {
			t.Fatalf("token %d: id %d pos %d", i, id, b.Pos[i])
		}
	}
	wantError(t, "", []string{"must be positive"}, "bench", "encode", "--model", golden(t, "bert_mlm"), "--batch", "0")
	wantError(t, "", []string{"exceeds", "64 positions"}, "bench", "encode", "--model", golden(t, "bert_mlm"), "--seq", "65")
	wantError(t, "", []string{"--model is required"}, "bench", "encode")
}
