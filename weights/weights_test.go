package weights

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"bioencoder/internal/testutil"
	"bioencoder/safetensors"
)

func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// reference reads a tensor straight from a safetensors file.
func reference(t *testing.T, path, name string) []float32 {
	t.Helper()
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v, err := f.Float32(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestHeadCheckpointThroughBareScope(t *testing.T) {
	dir := testutil.Testdata(t, "golden", "bert_mlm")
	s := open(t, dir)
	if s.Path() != filepath.Join(dir, "model.safetensors") || s.Format() != "safetensors" {
		t.Errorf("path %s format %s", s.Path(), s.Format())
	}
	// Without a base prefix, bare names are not found.
	if s.Scope("").Has("embeddings.word_embeddings.weight") {
		t.Error("bare name resolved without a base prefix")
	}
	s.SetBasePrefix("bert")
	root := s.Scope("")
	v, err := root.Tensor("embeddings.word_embeddings.weight", 1000, 32)
	if err != nil {
		t.Fatal(err)
	}
	want := reference(t, filepath.Join(dir, "model.safetensors"), "bert.embeddings.word_embeddings.weight")
	if !reflect.DeepEqual(v, want) {
		t.Error("values differ from the file")
	}
	layer := s.Scope("encoder.layer").Sub("1")
	if layer.Name("attention.self.query.weight") != "encoder.layer.1.attention.self.query.weight" {
		t.Errorf("Name = %s", layer.Name("attention.self.query.weight"))
	}
	if _, err := layer.Tensor("attention.self.query.weight", 32, 32); err != nil {
		t.Error(err)
	}
	// The head's own names still resolve directly.
	if _, err := s.Scope("cls.predictions").Tensor("bias", 1000); err != nil {
		t.Error(err)
	}
	if sh, ok := layer.Shape("intermediate.dense.weight"); !ok || !reflect.DeepEqual(sh, []int{64, 32}) {
		t.Errorf("Shape = %v %v", sh, ok)
	}
	if dt, ok := layer.DType("output.LayerNorm.bias"); !ok || dt != "F32" {
		t.Errorf("DType = %v %v", dt, ok)
	}
}

func TestBareCheckpointThroughHeadScope(t *testing.T) {
	dir := testutil.Testdata(t, "golden", "st_embed")
	s := open(t, dir)
	s.SetBasePrefix("bert")
	v, err := s.Scope("bert.encoder.layer.0").Tensor("attention.output.LayerNorm.weight", 32)
	if err != nil {
		t.Fatal(err)
	}
	want := reference(t, filepath.Join(dir, "model.safetensors"), "encoder.layer.0.attention.output.LayerNorm.weight")
	if !reflect.DeepEqual(v, want) {
		t.Error("values differ")
	}
}

func TestErrors(t *testing.T) {
	dir := testutil.Testdata(t, "golden", "bert_mlm")
	s := open(t, dir)
	s.SetBasePrefix("bert")
	file := filepath.Join(dir, "model.safetensors")
	layer := s.Scope("bert.encoder.layer.1")
	_, err := layer.Tensor("attention.self.query.weight", 32, 16)
	if want := `weights: ` + file + `: tensor "bert.encoder.layer.1.attention.self.query.weight" has shape [32 32], want [32 16]`; err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
	_, err = s.Scope("bert.encoder.layer.3").Tensor("attention.self.query.weight", 32, 32)
	if want := `weights: ` + file + `: tensor "bert.encoder.layer.3.attention.self.query.weight" not found (also tried "encoder.layer.3.attention.self.query.weight")`; err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
	_, err = s.Scope("encoder.layer.3").Tensor("attention.self.query.weight", 32, 32)
	if err == nil || !strings.Contains(err.Error(), `(also tried "bert.encoder.layer.3.attention.self.query.weight")`) {
		t.Errorf("bare miss: %v", err)
	}
	if _, err := layer.Tensor("output.LayerNorm.bias"); err == nil || !strings.Contains(err.Error(), "has shape [32], want []") {
		t.Errorf("no shape means scalar: %v", err)
	}
	v, ok, err := s.Scope("cls.predictions.decoder").Optional("weight", 1000, 32)
	if v != nil || ok || err != nil {
		t.Errorf("absent tied decoder: %v %v %v", v, ok, err)
	}
	if _, ok, err := s.Scope("cls.predictions").Optional("bias", 999); ok || err == nil {
		t.Errorf("present optional with a wrong shape: %v %v", ok, err)
	}
	if _, ok, err := s.Scope("cls.predictions").Optional("bias", 1000); !ok || err != nil {
		t.Errorf("present optional: %v %v", ok, err)
	}
	if _, err := s.Scope("").Int64("bert.pooler.dense.bias", 32); err == nil || !strings.Contains(err.Error(), "not an integer type") {
		t.Errorf("Int64 of F32: %v", err)
	}
}

func TestUnused(t *testing.T) {
	s := open(t, testutil.Testdata(t, "golden", "bert_mlm"))
	s.SetBasePrefix("bert")
	all := s.Names()
	if !reflect.DeepEqual(s.Unused(), all) {
		t.Fatal("fresh store: Unused != Names")
	}
	s.Scope("pooler.dense").Tensor("weight", 32, 32)
	s.Scope("pooler.dense").Has("bias")         // asking is not using
	s.Scope("pooler.dense").Tensor("weight", 1) // a failed read is not a use
	tt, err := s.Scope("bert.pooler.dense").Load("bias")
	if err != nil || !reflect.DeepEqual(tt.Shape, []int{32}) || len(tt.Data) != 32 {
		t.Fatalf("Load: %v %v", tt, err)
	}
	un := s.Unused()
	if len(un) != len(all)-2 {
		t.Errorf("%d unused of %d", len(un), len(all))
	}
	for _, n := range un {
		if strings.HasPrefix(n, "bert.pooler.") {
			t.Errorf("%s listed as unused", n)
		}
	}
}

func TestGammaBeta(t *testing.T) {
	dir := t.TempDir()
	mk := func(v ...float32) safetensors.Tensor {
		tn, _ := safetensors.FromFloat32(safetensors.F32, []int{len(v)}, v)
		return tn
	}
	p := filepath.Join(dir, "model.safetensors")
	err := safetensors.Write(p, map[string]safetensors.Tensor{
		"bert.embeddings.LayerNorm.gamma":                        mk(1, 2),
		"bert.embeddings.LayerNorm.beta":                         mk(3, 4),
		"bert.encoder.layer.0.output.LayerNorm.gamma":            mk(5),
		"bert.encoder.layer.0.output.dense.bias":                 mk(6),
		"bert.encoder.layer.0.attention.output.LayerNorm.weight": mk(7),
		"gamma": mk(8), // not a LayerNorm: untouched
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := open(t, dir)
	want := []string{"bert.embeddings.LayerNorm.bias", "bert.embeddings.LayerNorm.weight",
		"bert.encoder.layer.0.attention.output.LayerNorm.weight", "bert.encoder.layer.0.output.LayerNorm.weight",
		"bert.encoder.layer.0.output.dense.bias", "gamma"}
	if !reflect.DeepEqual(s.Names(), want) {
		t.Errorf("names %v", s.Names())
	}
	s.SetBasePrefix("bert")
	emb := s.Scope("embeddings.LayerNorm")
	if w, err := emb.Tensor("weight", 2); err != nil || !reflect.DeepEqual(w, []float32{1, 2}) {
		t.Errorf("weight %v %v", w, err)
	}
	if b, err := emb.Tensor("bias", 2); err != nil || !reflect.DeepEqual(b, []float32{3, 4}) {
		t.Errorf("bias %v %v", b, err)
	}
	if s.StoredName("bert.embeddings.LayerNorm.weight") != "bert.embeddings.LayerNorm.gamma" {
		t.Error("StoredName")
	}
	// Asking for the legacy spelling works too.
	if _, err := emb.Tensor("gamma", 2); err != nil {
		t.Error(err)
	}

	// Both spellings stored: ambiguous, refused.
	p2 := filepath.Join(t.TempDir(), "both.safetensors")
	safetensors.Write(p2, map[string]safetensors.Tensor{"LayerNorm.gamma": mk(1), "LayerNorm.weight": mk(2)}, nil)
	if _, err := Open(p2); err == nil || !strings.Contains(err.Error(), `both mean "LayerNorm.weight"`) {
		t.Errorf("both spellings: %v", err)
	}
}

func TestShardedSafetensors(t *testing.T) {
	golden := filepath.Join(testutil.Testdata(t, "golden", "bert_mlm"), "model.safetensors")
	f, err := safetensors.Open(golden)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tensors := map[string]safetensors.Tensor{}
	for _, n := range f.Names() {
		in, _ := f.Info(n)
		b, _ := f.Bytes(n)
		tensors[n] = safetensors.Tensor{DType: in.DType, Shape: in.Shape, Data: b}
	}
	dir := t.TempDir()
	files, err := safetensors.WriteSharded(dir, tensors, map[string]string{"format": "pt"}, 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("only %d shards", len(files))
	}
	s := open(t, dir)
	if s.Path() != filepath.Join(dir, "model.safetensors.index.json") || len(s.Files()) != len(files) || !strings.Contains(s.Format(), "shards") {
		t.Errorf("path %s files %v format %s", s.Path(), s.Files(), s.Format())
	}
	if !reflect.DeepEqual(s.Names(), f.Names()) {
		t.Fatalf("names differ")
	}
	for _, n := range f.Names() {
		want, _ := f.Float32(n)
		got, err := s.Scope("").Tensor(n, tensors[n].Shape...)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %v", n, err)
		}
	}
	// The index must agree with the shards.
	ix := `{"metadata":{},"weight_map":{"bert.pooler.dense.bias":"` + files[0] + `"}}`
	os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), []byte(ix), 0o644)
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "does not hold it") {
		t.Errorf("stale index: %v", err)
	}
}

func TestBinFolder(t *testing.T) {
	golden := filepath.Join(testutil.Testdata(t, "golden", "bert_mlm"), "model.safetensors")
	s := open(t, filepath.Join("testdata", "bert_bin"))
	if s.Format() != "pytorch (zip)" {
		t.Errorf("format %s", s.Format())
	}
	ref, err := safetensors.Open(golden)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	s.SetBasePrefix("bert")
	n := 0
	for _, name := range ref.Names() {
		if name == "bert.embeddings.word_embeddings.weight" || name == "cls.predictions.bias" {
			continue
		}
		in, _ := ref.Info(name)
		want, _ := ref.Float32(name)
		got, err := s.Scope("").Tensor(name, in.Shape...)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %v", name, err)
		}
		n++
	}
	if n < 30 {
		t.Errorf("compared only %d tensors", n)
	}
	if s.StoredName("bert.encoder.layer.0.output.LayerNorm.weight") != "bert.encoder.layer.0.output.LayerNorm.gamma" {
		t.Error("gamma not normalised")
	}
	ids, err := s.Scope("embeddings").Int64("position_ids", 1, 64)
	if err != nil || ids[63] != 63 {
		t.Errorf("position_ids: %v", err)
	}
	if un := s.Unused(); len(un) != 0 {
		t.Errorf("unused: %v", un)
	}
}

func TestBinSharded(t *testing.T) {
	golden := filepath.Join(testutil.Testdata(t, "golden", "bert_mlm"), "model.safetensors")
	s := open(t, filepath.Join("testdata", "bert_bin_sharded"))
	if s.Format() != "pytorch (zip), 2 shards" || len(s.Files()) != 2 {
		t.Errorf("format %q files %v", s.Format(), s.Files())
	}
	s.SetBasePrefix("bert")
	want := reference(t, golden, "bert.encoder.layer.1.output.dense.weight")
	got, err := s.Scope("bert.encoder.layer.1.output.dense").Tensor("weight", 32, 64)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("%v", err)
	}
	if _, err := s.Scope("bert.embeddings.LayerNorm").Tensor("weight", 32); err != nil {
		t.Error(err)
	}
}

func TestSingleFiles(t *testing.T) {
	// A legacy torch file and a lone safetensors file open directly.
	s := open(t, filepath.Join("..", "torchbin", "testdata", "legacy.bin"))
	if s.Format() != "pytorch (legacy)" {
		t.Errorf("format %s", s.Format())
	}
	if v, err := s.Scope("").Tensor("transposed", 6, 4); err != nil || len(v) != 24 {
		t.Errorf("transposed: %v", err)
	}
	bf := open(t, filepath.Join(testutil.Testdata(t, "golden", "bert_bf16"), "model.safetensors"))
	raw, err := safetensors.Open(filepath.Join(testutil.Testdata(t, "golden", "bert_bf16"), "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	b, _ := raw.Bytes("bert.embeddings.LayerNorm.weight")
	v, err := bf.Scope("bert.embeddings.LayerNorm").Tensor("weight", 32)
	if err != nil {
		t.Fatal(err)
	}
	for i := range v {
		if want := safetensors.BF16ToF32(uint16(b[2*i]) | uint16(b[2*i+1])<<8); v[i] != want {
			t.Fatalf("[%d] %g, want %g", i, v[i], want)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	empty := t.TempDir()
	if _, err := Open(empty); err == nil || !strings.Contains(err.Error(), "no model.safetensors, model.safetensors.index.json, pytorch_model.bin") {
		t.Errorf("empty folder: %v", err)
	}
	if _, err := Open(filepath.Join(empty, "nope")); err == nil {
		t.Error("missing path opened")
	}
	bad := filepath.Join(empty, "model.safetensors")
	os.WriteFile(bad, []byte("\x02\x00\x00\x00\x00\x00\x00\x00[]"), 0o644)
	if _, err := Open(empty); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("corrupt file: %v", err)
	}
	evil := filepath.Join("..", "torchbin", "testdata", "evil_os_system.bin")
	if _, err := Open(evil); err == nil || !strings.Contains(err.Error(), "global os.system is not allowed") {
		t.Errorf("evil: %v", err)
	}
}

func TestPrefersSafetensors(t *testing.T) {
	dir := t.TempDir()
	bin, _ := os.ReadFile(filepath.Join("testdata", "bert_bin", "pytorch_model.bin"))
	os.WriteFile(filepath.Join(dir, "pytorch_model.bin"), bin, 0o644)
	s := open(t, dir)
	if s.Format() != "pytorch (zip)" {
		t.Fatalf("format %s", s.Format())
	}
	tn, _ := safetensors.FromFloat32(safetensors.F32, []int{1}, []float32{1})
	safetensors.Write(filepath.Join(dir, "model.safetensors"), map[string]safetensors.Tensor{"x": tn}, nil)
	s2 := open(t, dir)
	if s2.Format() != "safetensors" || len(s2.Names()) != 1 {
		t.Errorf("format %s names %v", s2.Format(), s2.Names())
	}
}

func TestConcurrentReads(t *testing.T) {
	s := open(t, testutil.Testdata(t, "golden", "bert_mlm"))
	s.SetBasePrefix("bert")
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 2; i++ {
				sc := s.Scope(fmt.Sprintf("encoder.layer.%d", i))
				if _, err := sc.Tensor("intermediate.dense.weight", 64, 32); err != nil {
					errs <- err
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestScopeNames(t *testing.T) {
	s := open(t, testutil.Testdata(t, "golden", "bert_mlm"))
	if got := s.Scope("bert.encoder.layer.1.attention.self").Names(); !reflect.DeepEqual(got, []string{"key.bias", "key.weight", "query.bias", "query.weight", "value.bias", "value.weight"}) {
		t.Errorf("names %v", got)
	}
	if got := s.Scope("encoder.layer.1.attention.self").Names(); len(got) != 0 {
		t.Errorf("without a base prefix: %v", got)
	}
	s.SetBasePrefix("bert")
	sc := s.Scope("encoder.layer.1.attention.self")
	got := sc.Names()
	if len(got) != 6 {
		t.Fatalf("with a base prefix: %v", got)
	}
	for _, n := range got {
		if !sc.Has(n) {
			t.Errorf("listed %s but Has is false", n)
		}
	}
	if len(s.Scope("").Names()) != len(s.Names()) {
		t.Error("root scope names")
	}
}

// A safetensors file whose header length starts with bytes that look like a
// pickle protocol marker (0x80 0x02) must still open as safetensors.
func TestSniffing(t *testing.T) {
	dir := t.TempDir()
	// A name of the right length makes the header exactly 0x280 bytes.
	const frame = `{"":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}`
	tensors := map[string]safetensors.Tensor{
		strings.Repeat("n", 0x280-len(frame)): {DType: safetensors.U8, Shape: []int{0}},
	}
	for _, name := range []string{"model.safetensors", "weights.data"} {
		p := filepath.Join(dir, name)
		if err := safetensors.Write(p, tensors, nil); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(p)
		if b[0] != 0x80 || b[1] != 0x02 {
			t.Fatalf("header length bytes %x, want 80 02", b[:2])
		}
		s, err := Open(p)
		if err != nil {
			t.Fatalf("%s (header length bytes %x): %v", name, b[:3], err)
		}
		if s.Format() != "safetensors" {
			t.Errorf("%s: format %s", name, s.Format())
		}
		s.Close()
	}
	// A torch file without a known extension is recognised by content.
	bin, _ := os.ReadFile(filepath.Join("..", "torchbin", "testdata", "legacy.bin"))
	p := filepath.Join(dir, "legacy.data")
	os.WriteFile(p, bin, 0o644)
	if s, err := Open(p); err != nil || s.Format() != "pytorch (legacy)" {
		t.Errorf("legacy by content: %v", err)
	} else {
		s.Close()
	}
}
