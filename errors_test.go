package bioencoder

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"bioencoder/internal/testutil"
	"bioencoder/safetensors"
)

// rewriteWeights loads a folder's model.safetensors, lets edit change the
// tensors and writes the file back.
func rewriteWeights(t *testing.T, dir string, edit func(map[string]safetensors.Tensor)) {
	t.Helper()
	path := filepath.Join(dir, "model.safetensors")
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ts := map[string]safetensors.Tensor{}
	for _, name := range f.Names() {
		info, _ := f.Info(name)
		b, err := f.Bytes(name)
		if err != nil {
			t.Fatal(err)
		}
		ts[name] = safetensors.Tensor{DType: info.DType, Shape: info.Shape, Data: append([]byte(nil), b...)}
	}
	f.Close()
	edit(ts)
	if err := safetensors.Write(path, ts, nil); err != nil {
		t.Fatal(err)
	}
}

func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T) string
		want  []string // substrings of the error
	}{
		{"unknown architecture", func(t *testing.T) string {
			dir := goldenFolder(t, "bert_seqcls", "st_embed")
			cfg := `{"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": 1000, "n_embd": 32}`
			if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o644); err != nil {
				t.Fatal(err)
			}
			return dir
		}, []string{"config.json", "unknown architecture", `"gpt2"`}},
		{"config not JSON", func(t *testing.T) string {
			dir := goldenFolder(t, "bert_seqcls", "st_embed")
			if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte("{model_type: bert"), 0o644); err != nil {
				t.Fatal(err)
			}
			return dir
		}, []string{"config.json", "not a JSON object"}},
		{"implausible size", func(t *testing.T) string {
			dir := goldenFolder(t, "bert_seqcls", "st_embed")
			b, _ := os.ReadFile(filepath.Join(dir, "config.json"))
			b = []byte(strings.Replace(string(b), `"hidden_size": 32`, `"hidden_size": 3200000000`, 1))
			if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
				t.Fatal(err)
			}
			return dir
		}, []string{"hidden_size"}},
		{"missing tensor", func(t *testing.T) string {
			dir := goldenFolder(t, "bert_seqcls", "st_embed")
			rewriteWeights(t, dir, func(ts map[string]safetensors.Tensor) { delete(ts, "classifier.weight") })
			return dir
		}, []string{"classifier.weight"}},
		{"misshaped tensor", func(t *testing.T) string {
			dir := goldenFolder(t, "bert_seqcls", "st_embed")
			rewriteWeights(t, dir, func(ts map[string]safetensors.Tensor) {
				w := ts["bert.encoder.layer.1.intermediate.dense.weight"] // [64, 32] stored as [32, 64]
				w.Shape = []int{32, 64}
				ts["bert.encoder.layer.1.intermediate.dense.weight"] = w
			})
			return dir
		}, []string{"bert.encoder.layer.1.intermediate.dense.weight", "has shape", "32", "64"}},
		{"truncated weights file", func(t *testing.T) string {
			dir := goldenFolder(t, "bert_seqcls", "st_embed")
			path := filepath.Join(dir, "model.safetensors")
			b, _ := os.ReadFile(path)
			if err := os.WriteFile(path, b[:len(b)/2], 0o644); err != nil {
				t.Fatal(err)
			}
			return dir
		}, []string{"model.safetensors"}},
		{"no weights", func(t *testing.T) string {
			dir := goldenFolder(t, "bert_seqcls", "st_embed")
			os.Remove(filepath.Join(dir, "model.safetensors"))
			return dir
		}, []string{"model.safetensors"}},
		{"missing tokenizer", func(t *testing.T) string {
			return testutil.Testdata(t, "golden", "bert_mlm")
		}, []string{"bert_mlm", "no usable tokenizer"}},
		{"no such folder", func(t *testing.T) string {
			return filepath.Join(t.TempDir(), "nope")
		}, []string{"nope", "no such file"}},
		{"a file, not a folder", func(t *testing.T) string {
			return testutil.Testdata(t, "golden", "bert_mlm", "config.json")
		}, []string{"config.json", "not a model folder"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Load(tc.setup(t))
			if err == nil {
				t.Fatalf("loaded (%s); want an error", m.Kind())
			}
			t.Log(err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestEmptyBatch(t *testing.T) {
	ctx := context.Background()
	load := func(dir string) *Model {
		m, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	st := load(testutil.Testdata(t, "golden", "st_embed"))
	ce := load(testutil.Testdata(t, "golden", "cross_encoder"))
	cb := load(testutil.Testdata(t, "golden", "colbert"))
	cls := load(goldenFolder(t, "bert_seqcls", "st_embed"))
	mlm := load(goldenFolder(t, "bert_mlm", "st_embed"))
	tok := load(goldenFolder(t, "bert_tokcls", "st_embed"))
	calls := map[string]func() error{
		"Embed":         func() error { _, err := st.Embed(ctx, nil); return err },
		"EmbedQuery":    func() error { _, err := st.EmbedQuery(ctx, []string{}); return err },
		"TokenizeTexts": func() error { _, err := st.TokenizeTexts(nil); return err },
		"Predict":       func() error { _, err := ce.Predict(ctx, nil); return err },
		"Rerank":        func() error { _, err := ce.Rerank(ctx, "q", nil); return err },
		"Classify":      func() error { _, err := cls.Classify(ctx, nil); return err },
		"EncodeColBERT": func() error { _, err := cb.EncodeColBERT(ctx, nil, true); return err },
		"Score":         func() error { _, err := cb.Score(ctx, nil, []string{"d"}); return err },
		"FillMask":      func() error { _, err := mlm.FillMask(ctx, nil, 5); return err },
		"Entities":      func() error { _, err := tok.Entities(ctx, nil, AggregateSimple); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, ErrEmpty) {
			t.Errorf("%s(empty): %v, want ErrEmpty", name, err)
		}
	}
}

func TestTooLong(t *testing.T) {
	ctx := context.Background()
	long := strings.TrimSpace(strings.Repeat("patient ", 100)) // 100 tokens + [CLS], [SEP]
	short := "the patient"

	// Default: truncated longest-first to the model's limit (32 here, from
	// sentence_bert_config.json).
	st, err := Load(testutil.Testdata(t, "golden", "st_embed"))
	if err != nil {
		t.Fatal(err)
	}
	ids, err := st.TokenizeTexts([]string{short, long})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids[1]) != 32 || st.MaxLength() != 32 {
		t.Fatalf("truncated to %d tokens, limit %d; want 32", len(ids[1]), st.MaxLength())
	}
	if _, err := st.Embed(ctx, []string{short, long}); err != nil {
		t.Fatal(err)
	}

	// WithTruncation(false): an error naming the text, its length and the limit.
	strict := func(dir string) *Model {
		m, err := Load(dir, WithTruncation(false))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	want := func(what string, err error, index, tokens, limit int) {
		t.Helper()
		w := fmt.Sprintf("text %d has %d tokens, more than the %d the model reads", index, tokens, limit)
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("%s: error %v, want %q", what, err, w)
		}
	}
	sst := strict(testutil.Testdata(t, "golden", "st_embed"))
	if _, err := sst.Embed(ctx, []string{short}); err != nil {
		t.Errorf("a short text fails without truncation: %v", err)
	}
	_, err = sst.Embed(ctx, []string{short, long})
	want("Embed", err, 1, 102, 32)
	_, err = sst.TokenizeTexts([]string{long})
	want("TokenizeTexts", err, 0, 102, 32)

	ce := strict(testutil.Testdata(t, "golden", "cross_encoder")) // model_max_length 48
	_, err = ce.Predict(ctx, []Pair{{"a query", short}, {"a query", long}})
	want("Predict", err, 1, 105, 48)

	cb := strict(testutil.Testdata(t, "golden", "colbert")) // document_length 24, one position for [D]
	_, err = cb.EncodeColBERT(ctx, []string{long}, false)
	want("EncodeColBERT", err, 0, 102, 23)

	mlm, err := Load(goldenFolder(t, "bert_mlm", "st_embed"), WithTruncation(false)) // 64 positions
	if err != nil {
		t.Fatal(err)
	}
	_, err = mlm.FillMask(ctx, []string{"[MASK] " + long}, 3)
	want("FillMask", err, 0, 103, 64)
	// Truncation that drops the mask is reported as a missing mask.
	mlmTrunc, err := Load(goldenFolder(t, "bert_mlm", "st_embed"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err = mlmTrunc.FillMask(ctx, []string{long + " [MASK]"}, 3); err == nil || !strings.Contains(err.Error(), "text 0 has no mask token [MASK] in the first 64 tokens") {
		t.Errorf("mask truncated away: %v", err)
	}
}
