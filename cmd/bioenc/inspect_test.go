package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"bioencoder/internal/testutil"
)

func TestInspectText(t *testing.T) {
	dir := testutil.Testdata(t, "golden", "bert_bf16")
	var out bytes.Buffer
	if err := runInspect(&out, dir, false); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{
		"format: safetensors\n",
		"architectures: [\"BertForMaskedLM\"]\n",
		"model_type: \"bert\"\n",
		"tensors: 42\n",
		"bert.embeddings.word_embeddings.weight",
		"BF16  [1000 32]\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	// 34,176 embeddings + 2×8,544 layers + 2,120 MLM head (no pooler).
	if !strings.HasSuffix(s, "\nparameters: 53,384\n") {
		t.Errorf("last line: %q", s[strings.LastIndex(strings.TrimSuffix(s, "\n"), "\n")+1:])
	}
	lines := strings.Split(s, "\n")
	var names []string
	for _, l := range lines {
		if strings.HasPrefix(l, "  ") {
			names = append(names, strings.Fields(l)[0])
		}
	}
	for i := 1; i < len(names); i++ {
		if names[i-1] >= names[i] {
			t.Errorf("not sorted: %s before %s", names[i-1], names[i])
		}
	}
}

func TestInspectJSON(t *testing.T) {
	var out bytes.Buffer
	p := filepath.Join("..", "..", "weights", "testdata", "bert_bin")
	if err := runInspect(&out, p, true); err != nil {
		t.Fatal(err)
	}
	var rep inspectReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Format != "pytorch (zip)" || string(rep.ModelType) != `"bert"` || len(rep.Tensors) != 43 {
		t.Errorf("%+v", rep)
	}
	found := false
	for _, tn := range rep.Tensors {
		if tn.Name == "bert.embeddings.LayerNorm.weight" {
			found = tn.Stored == "bert.embeddings.LayerNorm.gamma"
		}
		if tn.Name == "bert.embeddings.position_ids" && tn.DType != "I64" {
			t.Errorf("position_ids %s", tn.DType)
		}
	}
	if !found {
		t.Error("gamma not reported under its normalised name")
	}
	// Integer buffers do not count as parameters.
	if rep.Parameters != 54440-32000-1000 {
		t.Errorf("parameters %d", rep.Parameters)
	}
}

func TestInspectSingleFileAndErrors(t *testing.T) {
	var out bytes.Buffer
	if err := runInspect(&out, filepath.Join("..", "..", "torchbin", "testdata", "legacy.bin"), false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "format: pytorch (legacy)") || strings.Contains(out.String(), "architectures") {
		t.Errorf("%s", out.String())
	}
	err := runInspect(&out, filepath.Join("..", "..", "torchbin", "testdata", "evil_os_system.bin"), false)
	if err == nil || !strings.Contains(err.Error(), "global os.system is not allowed") {
		t.Errorf("evil file: %v", err)
	}
	if thousands(0) != "0" || thousands(999) != "999" || thousands(1000) != "1,000" || thousands(-1234567) != "-1,234,567" {
		t.Error("thousands")
	}
}
