package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"bioencoder/internal/testutil"
	"bioencoder/kernels"
)

func TestGoldenConfigs(t *testing.T) {
	tests := []struct {
		dir    string
		arch   Arch
		task   Task
		layers int
		labels int
	}{
		{"bert_mlm", BERT, MaskedLM, 2, 0},
		{"bert_bf16", BERT, MaskedLM, 2, 0},
		{"bert_seqcls", BERT, SequenceClassification, 2, 3},
		{"bert_tokcls", BERT, TokenClassification, 2, 5},
		{"cross_encoder", BERT, SequenceClassification, 2, 1},
		{"st_embed", BERT, Base, 2, 0},
		{"colbert", BERT, Base, 2, 0},
		{"modernbert_mlm", ModernBERT, MaskedLM, 4, 0},
		{"modernbert_seqcls", ModernBERT, SequenceClassification, 2, 3},
		{"modernbert_tokcls", ModernBERT, TokenClassification, 2, 5},
	}
	for _, tc := range tests {
		t.Run(tc.dir, func(t *testing.T) {
			m, err := Load(testutil.Testdata(t, "golden", tc.dir))
			if err != nil {
				t.Fatal(err)
			}
			if m.Arch != tc.arch || m.Task != tc.task || m.NumLayers != tc.layers || m.NumLabels() != tc.labels {
				t.Fatalf("got arch %v task %v layers %d labels %d", m.Arch, m.Task, m.NumLayers, m.NumLabels())
			}
			if m.HiddenAct != kernels.GELU {
				t.Fatalf("act %v", m.HiddenAct)
			}
		})
	}
}

// The v4 (global/local_rope_theta) and v5 (layer_types/rope_parameters)
// spellings must describe the same model.
func TestModernBERTRopeStyles(t *testing.T) {
	v4, err := Load(testutil.Testdata(t, "golden", "modernbert_seqcls"))
	if err != nil {
		t.Fatal(err)
	}
	v5, err := Load(testutil.Testdata(t, "golden", "modernbert_tokcls"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if v4.RopeTheta(i) != v5.RopeTheta(i) || v4.IsGlobalLayer(i) != v5.IsGlobalLayer(i) {
			t.Fatalf("layer %d: v4 theta %v global %v, v5 theta %v global %v", i,
				v4.RopeTheta(i), v4.IsGlobalLayer(i), v5.RopeTheta(i), v5.IsGlobalLayer(i))
		}
	}
	if v5.RopeTheta(0) != 160000 || v5.RopeTheta(1) != 10000 || v5.LocalAttention != 8 {
		t.Fatalf("thetas %v %v window %d", v5.RopeTheta(0), v5.RopeTheta(1), v5.LocalAttention)
	}
	if v4.ClassifierPooling != "mean" {
		t.Fatalf("pooling %q", v4.ClassifierPooling)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, json, want string }{
		{"not object", `[1,2]`, "not a JSON object"},
		{"unknown arch", `{"model_type":"gpt2","hidden_size":8}`, `unknown architecture: model_type "gpt2"`},
		{"heads", `{"model_type":"bert","vocab_size":10,"hidden_size":10,"num_hidden_layers":1,"num_attention_heads":3,"intermediate_size":4}`, "not a multiple"},
		{"missing vocab", `{"model_type":"bert","hidden_size":8,"num_hidden_layers":1,"num_attention_heads":2,"intermediate_size":4}`, `"vocab_size" must be positive`},
		{"wrong type", `{"model_type":"bert","hidden_size":"big"}`, `field "hidden_size"`},
		{"fractional", `{"model_type":"bert","hidden_size":8.5}`, "not an integer"},
		{"bad act", `{"model_type":"bert","vocab_size":10,"hidden_size":8,"num_hidden_layers":1,"num_attention_heads":2,"intermediate_size":4,"hidden_act":"wiggle"}`, "unknown activation"},
		{"hash without projections", `{"model_type":"bert_hash","vocab_size":10,"hidden_size":8,"num_hidden_layers":1,"num_attention_heads":2,"intermediate_size":4}`, "projections"},
		{"bad id2label", `{"model_type":"bert","vocab_size":10,"hidden_size":8,"num_hidden_layers":1,"num_attention_heads":2,"intermediate_size":4,"id2label":{"7":"x"}}`, "id2label"},
		{"relative positions", `{"model_type":"bert","vocab_size":10,"hidden_size":8,"num_hidden_layers":1,"num_attention_heads":2,"intermediate_size":4,"position_embedding_type":"relative_key"}`, "relative_key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.json), "x/config.json")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "x/config.json") {
				t.Fatalf("error does not name the file: %v", err)
			}
		})
	}
}

func TestBERTHashDetected(t *testing.T) {
	m, err := Parse([]byte(`{"model_type":"bert_hash","architectures":["BertHashForMaskedLM"],"vocab_size":30522,"hidden_size":128,
		"num_hidden_layers":2,"num_attention_heads":2,"intermediate_size":512,"projections":16}`), "c")
	if err != nil {
		t.Fatal(err)
	}
	if m.Arch != BERTHash || m.Projections != 16 || m.Task != MaskedLM || m.MaxPositions != 512 {
		t.Fatalf("%+v", m)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	for _, dir := range []string{"bert_tokcls", "modernbert_mlm", "modernbert_tokcls", "cross_encoder"} {
		m, err := Load(testutil.Testdata(t, "golden", dir))
		if err != nil {
			t.Fatal(err)
		}
		data, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		m2, err := Parse(data, "roundtrip")
		if err != nil {
			t.Fatalf("%s: %v\n%s", dir, err, data)
		}
		m2.Raw, m.Raw, m2.Path, m.Path = nil, nil, "", ""
		if a, b := strings.TrimSpace(string(mustMarshal(t, m))), strings.TrimSpace(string(mustMarshal(t, m2))); a != b {
			t.Fatalf("%s: round trip changed the config:\n%s\nvs\n%s", dir, a, b)
		}
		if m2.CrossEncoderActivation != m.CrossEncoderActivation {
			t.Fatalf("lost sentence_transformers block")
		}
	}
}

func mustMarshal(t *testing.T, m *Model) []byte {
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSentenceTransformerFiles(t *testing.T) {
	dir := testutil.Testdata(t, "golden", "st_embed")
	mods, err := LoadModules(dir)
	if err != nil || len(mods) != 3 || mods[1].Type != ModPooling || mods[2].Type != ModNormalize {
		t.Fatalf("modules %+v %v", mods, err)
	}
	p, err := LoadPooling(filepath.Join(dir, mods[1].Path))
	if err != nil || !p.Mean || p.Modes() != 1 || p.Dim != 32 || !p.IncludePrompt {
		t.Fatalf("pooling %+v %v", p, err)
	}
	tr, err := LoadTransformer(dir)
	if err != nil || tr.MaxSeqLength != 32 || tr.DoLowerCase {
		t.Fatalf("transformer %+v %v", tr, err)
	}
	st, err := LoadSentenceTransformers(dir)
	if err != nil || st.SimilarityFnName != "cosine" {
		t.Fatalf("st %+v %v", st, err)
	}

	cdir := testutil.Testdata(t, "golden", "colbert")
	cst, err := LoadSentenceTransformers(cdir)
	if err != nil || cst.QueryPrefix != "[Q] " || cst.QueryLength != 16 || cst.DocumentLength != 24 || len(cst.SkiplistWords) != 32 || !cst.DoQueryExpansion {
		t.Fatalf("colbert st %+v %v", cst, err)
	}
	d, err := LoadDense(filepath.Join(cdir, "1_Dense"))
	if err != nil || d.Bias || d.Activation != kernels.Identity || d.OutFeatures != 16 {
		t.Fatalf("dense %+v %v", d, err)
	}
}

func TestModulesPathOutsideFolder(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "modules.json"), []byte(`[{"idx":0,"name":"0","path":"../../etc","type":"sentence_transformers.models.Pooling"}]`), 0o644)
	if _, err := LoadModules(dir); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Fatalf("err = %v", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, dir := range []string{"bert_mlm", "modernbert_mlm", "modernbert_tokcls", "cross_encoder"} {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "golden", dir, "config.json"))
		if err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"model_type":"bert_hash","projections":-1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data, "fuzz")
		if err != nil {
			return
		}
		if m.HiddenSize <= 0 || m.NumHeads <= 0 || m.HiddenSize%m.NumHeads != 0 {
			t.Fatalf("accepted invalid dims %d/%d", m.HiddenSize, m.NumHeads)
		}
		if _, err := m.Marshal(); err != nil {
			t.Fatal(err)
		}
	})
}
