package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"bioencoder"
	"bioencoder/internal/testutil"
	"bioencoder/safetensors"
)

// runCLI runs bioenc in-process with the given stdin and arguments, every
// flag reset to its default first (flags are package variables that would
// otherwise keep the previous run's values).
func runCLI(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	resetFlags(root)
	var out, errOut bytes.Buffer
	root.SetArgs(args)
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&out)
	root.SetErr(&errOut)
	defer func() { // leave root as other tests expect it
		root.SetArgs(nil)
		root.SetIn(nil)
		root.SetOut(nil)
		root.SetErr(nil)
		resetFlags(root)
	}()
	_, err := root.ExecuteC()
	return out.String(), err
}

func resetFlags(c *cobra.Command) {
	reset := func(f *pflag.Flag) {
		f.Value.Set(f.DefValue)
		f.Changed = false
	}
	c.Flags().VisitAll(reset)
	c.PersistentFlags().VisitAll(reset)
	for _, s := range c.Commands() {
		resetFlags(s)
	}
}

// mustRun is runCLI that fails the test on an error.
func mustRun(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, err := runCLI(t, stdin, args...)
	if err != nil {
		t.Fatalf("bioenc %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// wantError runs a command that must fail with an error mentioning every
// substring.
func wantError(t *testing.T, stdin string, want []string, args ...string) {
	t.Helper()
	_, err := runCLI(t, stdin, args...)
	if err == nil {
		t.Fatalf("bioenc %s succeeded; want an error", strings.Join(args, " "))
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("bioenc %s: error %q does not mention %q", strings.Join(args, " "), err, w)
		}
	}
}

// lines decodes JSON Lines into values of type T.
func lines[T any](t *testing.T, out string) []T {
	t.Helper()
	var res []T
	dec := json.NewDecoder(strings.NewReader(out))
	for dec.More() {
		var v T
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("output is not JSON Lines: %v\n%s", err, out)
		}
		res = append(res, v)
	}
	return res
}

func golden(t *testing.T, elem ...string) string {
	return testutil.Testdata(t, append([]string{"golden"}, elem...)...)
}

// withTokenizer copies a golden model fixture into a temporary folder with
// st_embed's tokenizer (the fixtures share its vocabulary).
func withTokenizer(t *testing.T, fixture string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"config.json", "model.safetensors"} {
		copyTo(t, golden(t, fixture, name), dir)
	}
	for _, name := range []string{"tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"} {
		copyTo(t, golden(t, "st_embed", name), dir)
	}
	return dir
}

func copyTo(t *testing.T, src, dir string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, filepath.Base(src)), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func expectedJSON(t *testing.T, fixture string, v any) {
	t.Helper()
	b, err := os.ReadFile(golden(t, fixture, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func expectedFloats(t *testing.T, fixture, name string) []float32 {
	t.Helper()
	f, err := safetensors.Open(golden(t, fixture, "expected.safetensors"))
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

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-4 }

func jsonl(objs ...any) string {
	var b strings.Builder
	for _, o := range objs {
		j, _ := json.Marshal(o)
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

func TestEmbedCommand(t *testing.T) {
	var exp struct{ Texts []string }
	expectedJSON(t, "st_embed", &exp)
	want := expectedFloats(t, "st_embed", "sentence_embedding") // [6, 32]
	check := func(out string) {
		t.Helper()
		got := lines[struct{ Embedding []float32 }](t, out)
		if len(got) != len(exp.Texts) {
			t.Fatalf("%d lines for %d texts", len(got), len(exp.Texts))
		}
		for i, g := range got {
			if len(g.Embedding) != 32 {
				t.Fatalf("line %d: %d dimensions", i, len(g.Embedding))
			}
			for j, v := range g.Embedding {
				if !near(float64(v), float64(want[i*32+j])) {
					t.Fatalf("text %d dim %d: %g, want %g", i, j, v, want[i*32+j])
				}
			}
		}
	}
	model := golden(t, "st_embed")
	check(mustRun(t, "", append([]string{"embed", "--model", model}, exp.Texts...)...))
	var in []any
	for _, s := range exp.Texts {
		in = append(in, map[string]string{"text": s})
	}
	check(mustRun(t, jsonl(in...)+"\n", "embed", "--model", model, "--normalize"))

	wantError(t, "", []string{"no prompt named", "query"}, "embed", "--model", model, "--prompt-name", "query", "x")
}

func TestRerankCommand(t *testing.T) {
	var exp struct {
		Pairs  [][2]string
		Scores []float64
	}
	expectedJSON(t, "cross_encoder", &exp)
	q := exp.Pairs[0][0] // pairs 0 and 1 share the query
	out := mustRun(t, "", "rerank", "--model", golden(t, "cross_encoder"), "--query", q, exp.Pairs[0][1], exp.Pairs[1][1])
	got := lines[struct {
		Index int
		Score float64
		Text  *string
	}](t, out)
	if len(got) != 2 || got[0].Index != 1 || got[1].Index != 0 || got[0].Text != nil {
		t.Fatalf("order %+v, want index 1 (score %.4f) before 0 (%.4f)", got, exp.Scores[1], exp.Scores[0])
	}
	for _, g := range got {
		if !near(g.Score, exp.Scores[g.Index]) {
			t.Errorf("doc %d: score %g, want %g", g.Index, g.Score, exp.Scores[g.Index])
		}
	}
	// Documents on stdin, text returned, best only.
	out = mustRun(t, jsonl(map[string]string{"document": exp.Pairs[0][1]}, map[string]string{"text": exp.Pairs[1][1]}),
		"rerank", "--model", golden(t, "cross_encoder"), "--query", q, "--return-text", "--top-n", "1")
	got = lines[struct {
		Index int
		Score float64
		Text  *string
	}](t, out)
	if len(got) != 1 || got[0].Index != 1 || got[0].Text == nil || *got[0].Text != exp.Pairs[1][1] {
		t.Fatalf("stdin rerank: %s", out)
	}
	// A ColBERT folder reranks by MaxSim.
	var cb struct {
		Queries, Documents []string
		Maxsim             [][]float64
	}
	expectedJSON(t, "colbert", &cb)
	out = mustRun(t, "", append([]string{"rerank", "--model", golden(t, "colbert"), "--query", cb.Queries[0]}, cb.Documents...)...)
	for _, g := range lines[struct {
		Index int
		Score float64
	}](t, out) {
		if !near(g.Score, cb.Maxsim[0][g.Index]) {
			t.Errorf("ColBERT rerank doc %d: %g, want %g", g.Index, g.Score, cb.Maxsim[0][g.Index])
		}
	}
	wantError(t, "", []string{"--query"}, "rerank", "--model", golden(t, "cross_encoder"), "doc")
	wantError(t, "", []string{"masked-lm", "rerank needs"}, "rerank", "--model", withTokenizer(t, "bert_mlm"), "--query", "q", "doc")
}

func TestColBERTCommand(t *testing.T) {
	var cb struct {
		Queries, Documents []string
		Maxsim             [][]float64
		DocKeptPositions   [][]int `json:"doc_kept_positions"`
	}
	expectedJSON(t, "colbert", &cb)
	model := golden(t, "colbert")
	docs := lines[struct{ Vectors [][]float32 }](t, mustRun(t, "", append([]string{"colbert", "--model", model}, cb.Documents...)...))
	for i, d := range docs {
		if len(d.Vectors) != len(cb.DocKeptPositions[i]) || len(d.Vectors[0]) != 16 {
			t.Errorf("document %d: %d vectors of %d, want %d of 16", i, len(d.Vectors), len(d.Vectors[0]), len(cb.DocKeptPositions[i]))
		}
	}
	qs := lines[struct{ Vectors [][]float32 }](t, mustRun(t, "", "colbert", "--model", model, "--query", cb.Queries[0]))
	if len(qs) != 1 || len(qs[0].Vectors) != 16 {
		t.Errorf("query: %d vectors, want 16 (query_length)", len(qs[0].Vectors))
	}
	out := mustRun(t, "", append([]string{"colbert", "--model", model, "--score", "--query", cb.Queries[1]}, cb.Documents...)...)
	for j, g := range lines[struct {
		Index int
		Score float64
	}](t, out) {
		if g.Index != j || !near(g.Score, cb.Maxsim[1][j]) {
			t.Errorf("score line %d: %+v, want index %d score %g", j, g, j, cb.Maxsim[1][j])
		}
	}
	var in []any
	for i := range cb.Queries {
		in = append(in, map[string]string{"query": cb.Queries[i], "document": cb.Documents[2-i]})
	}
	out = mustRun(t, jsonl(in...), "colbert", "--model", model, "--score")
	for i, g := range lines[struct{ Score float64 }](t, out) {
		if !near(g.Score, cb.Maxsim[i][2-i]) {
			t.Errorf("pair %d: %g, want %g", i, g.Score, cb.Maxsim[i][2-i])
		}
	}
	wantError(t, "", []string{"not a ColBERT model"}, "colbert", "--model", golden(t, "st_embed"), "text")
	wantError(t, jsonl(map[string]string{"query": "q"}), []string{"stdin line 1", "document"}, "colbert", "--model", model, "--score")
}

func TestFillMaskCommand(t *testing.T) {
	model := withTokenizer(t, "bert_mlm")
	out := mustRun(t, "", "fill-mask", "--model", model, "--top-k", "3", "the patient has [MASK] disease .", "[MASK] cells and [MASK] in blood")
	var one []bioencoder.MaskPrediction
	var two [][]bioencoder.MaskPrediction
	ls := strings.Split(strings.TrimSpace(out), "\n")
	if len(ls) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(ls), out)
	}
	if err := json.Unmarshal([]byte(ls[0]), &one); err != nil || len(one) != 3 {
		t.Fatalf("one mask: want an array of 3 candidates, got %s (%v)", ls[0], err)
	}
	if err := json.Unmarshal([]byte(ls[1]), &two); err != nil || len(two) != 2 || len(two[0]) != 3 || len(two[1]) != 3 {
		t.Fatalf("two masks: want 2 arrays of 3 candidates, got %s (%v)", ls[1], err)
	}
	for _, k := range []string{`"score":`, `"token":`, `"token_str":`, `"sequence":`} {
		if !strings.Contains(ls[0], k) {
			t.Errorf("output lacks %s: %s", k, ls[0])
		}
	}
	m, err := bioencoder.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	lib, err := m.FillMask(t.Context(), []string{"the patient has [MASK] disease ."}, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range one {
		// Scores may differ in the last bits: the CLI batched two texts.
		if p.Token != lib[0][i].Token || math.Abs(float64(p.Score-lib[0][i].Score)) > 1e-6 || p.Sequence != lib[0][i].Sequence {
			t.Errorf("candidate %d: %+v, library gives %+v", i, p, lib[0][i])
		}
	}
	wantError(t, "", []string{"text 0 has no mask token"}, "fill-mask", "--model", model, "no mask")
	wantError(t, "", []string{"no masked-LM head"}, "fill-mask", "--model", golden(t, "st_embed"), "a [MASK]")
}

func TestClassifyCommand(t *testing.T) {
	model := withTokenizer(t, "bert_seqcls")
	got := lines[[]bioencoder.LabelScore](t, mustRun(t, "", "classify", "--model", model, "insulin dose", "lung cancer"))
	if len(got) != 2 {
		t.Fatalf("%d lines", len(got))
	}
	for _, ls := range got {
		var sum float32
		for i, l := range ls {
			sum += l.Score
			if i > 0 && l.Score > ls[i-1].Score {
				t.Errorf("not sorted: %+v", ls)
			}
		}
		if len(ls) != 3 || math.Abs(float64(sum)-1) > 1e-5 || !strings.HasPrefix(ls[0].Label, "LABEL_") {
			t.Errorf("labels %+v", ls)
		}
	}
	top := lines[[]bioencoder.LabelScore](t, mustRun(t, jsonl(map[string]string{"text": "insulin dose"}), "classify", "--model", model, "--top-k", "1"))
	if len(top) != 1 || len(top[0]) != 1 || top[0][0].Label != got[0][0].Label || math.Abs(float64(top[0][0].Score-got[0][0].Score)) > 1e-6 {
		t.Errorf("--top-k 1: %+v, want %+v", top, got[0][0])
	}
	wantError(t, jsonl(map[string]string{"text": "a", "pair": "b"}), []string{"stdin line 1", "not pairs"}, "classify", "--model", model)
	wantError(t, "", []string{"no sequence-classification head"}, "classify", "--model", golden(t, "st_embed"), "x")
}

func TestNERCommand(t *testing.T) {
	model := withTokenizer(t, "bert_tokcls")
	text := "Insulinoma kinase receptor and diabetes, hypertension"
	m, err := bioencoder.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	for _, agg := range []string{"none", "simple", "first", "average", "max"} {
		out := mustRun(t, "", "ner", "--model", model, "--aggregation", agg, text)
		a, _ := bioencoder.ParseAggregation(agg)
		lib, err := m.Entities(t.Context(), []string{text}, a)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(lib[0])
		if strings.TrimSpace(out) != string(want) {
			t.Errorf("%s: CLI %s\nlibrary %s", agg, out, want)
		}
		key := `"entity_group"`
		if agg == "none" {
			key = `"index"`
		}
		if !strings.Contains(out, key) {
			t.Errorf("%s: output lacks %s: %s", agg, key, out)
		}
	}
	wantError(t, "", []string{"unknown aggregation"}, "ner", "--model", model, "--aggregation", "mean", text)
	wantError(t, "", []string{"no token-classification head"}, "ner", "--model", withTokenizer(t, "bert_mlm"), text)
}

func TestSimilarityCommand(t *testing.T) {
	var exp struct{ Texts []string }
	expectedJSON(t, "st_embed", &exp)
	want := expectedFloats(t, "st_embed", "cosine_matrix")
	rows := lines[[]float64](t, mustRun(t, "", append([]string{"similarity", "--model", golden(t, "st_embed")}, exp.Texts...)...))
	n := len(exp.Texts)
	if len(rows) != n {
		t.Fatalf("%d rows for %d texts", len(rows), n)
	}
	for i, r := range rows {
		for j, v := range r {
			if !near(v, float64(want[i*n+j])) {
				t.Errorf("(%d, %d): %g, want %g", i, j, v, want[i*n+j])
			}
		}
	}
	var cb struct {
		Queries []string
	}
	expectedJSON(t, "colbert", &cb)
	rows = lines[[]float64](t, mustRun(t, "", append([]string{"similarity", "--model", golden(t, "colbert")}, cb.Queries[:2]...)...))
	if len(rows) != 2 || len(rows[0]) != 2 {
		t.Fatalf("ColBERT matrix %v", rows)
	}
	wantError(t, "", []string{"at least two texts"}, "similarity", "--model", golden(t, "st_embed"), "one")
	wantError(t, "", []string{"cross-encoder", "rerank"}, "similarity", "--model", golden(t, "cross_encoder"), "a", "b")
}

// TestCommandErrors: bad model folders and bad input give clear errors.
func TestCommandErrors(t *testing.T) {
	st := golden(t, "st_embed")
	for _, cmd := range []string{"embed", "fill-mask", "classify", "ner", "similarity", "colbert"} {
		wantError(t, "", []string{"does not exist"}, cmd, "--model", filepath.Join(t.TempDir(), "missing"), "a", "b")
		wantError(t, "", []string{"--model is required"}, cmd, "a", "b")
		wantError(t, "", []string{"no usable tokenizer"}, cmd, "--model", golden(t, "bert_mlm"), "a", "b")
		wantError(t, "", []string{"no input"}, cmd, "--model", st)
	}
	wantError(t, "{\"text\": \"a\"}\n{not json\n", []string{"stdin line 2", "not a JSON object"}, "embed", "--model", st)
	wantError(t, "{\"txt\": \"a\"}\n", []string{"stdin line 1", `no "text" field`}, "embed", "--model", st)
}

// TestExitStatus runs the real main (this test binary re-executed) to check
// that failures exit with status 1 and a one-line message, never a panic.
func TestExitStatus(t *testing.T) {
	if os.Getenv("BIOENC_TEST_MAIN") == "1" {
		return
	}
	cases := [][]string{
		{"embed", "--model", filepath.Join(t.TempDir(), "missing"), "x"},
		{"fill-mask", "--model", golden(t, "st_embed"), "a [MASK]"},
		{"forward", "--model", golden(t, "bert_mlm"), "--inputs", golden(t, "bert_mlm", "config.json"), "--out", filepath.Join(t.TempDir(), "o.safetensors")},
		{"bench", "encode", "--model", golden(t, "bert_mlm"), "--seq", "100000"},
	}
	for _, args := range cases {
		cmd := exec.Command(os.Args[0], append([]string{"-test.run=^TestMainProcess$", "--"}, args...)...)
		cmd.Env = append(os.Environ(), "BIOENC_TEST_MAIN=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 1 {
			t.Errorf("bioenc %s: %v, want exit status 1 (stderr %q)", strings.Join(args, " "), err, stderr.String())
			continue
		}
		msg := stderr.String()
		if !strings.HasPrefix(msg, "bioenc: ") || strings.Count(msg, "\n") != 1 || strings.Contains(msg, "panic") {
			t.Errorf("bioenc %s: stderr %q", strings.Join(args, " "), msg)
		}
	}
}

// TestMainProcess is main() when re-executed by TestExitStatus.
func TestMainProcess(t *testing.T) {
	if os.Getenv("BIOENC_TEST_MAIN") != "1" {
		t.Skip("run by TestExitStatus")
	}
	for i, a := range os.Args {
		if a == "--" {
			os.Args = append([]string{"bioenc"}, os.Args[i+1:]...)
			break
		}
	}
	main()
	os.Exit(0)
}

// FuzzReadInputLines: any bytes on stdin give lines or an error naming the
// line, never a panic; every parsed line re-encodes to valid JSON.
func FuzzReadInputLines(f *testing.F) {
	f.Add([]byte("{\"text\": \"a\"}\n\n{\"query\": \"q\", \"document\": \"d\"}\n"))
	f.Add([]byte("{\"text\": null, \"pair\": \"b\"}\r\n{}"))
	f.Add([]byte("[1, 2]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ls, err := readInputLines(bytes.NewReader(data))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "stdin line ") && !strings.HasPrefix(err.Error(), "reading stdin") {
				t.Fatalf("error does not say where: %v", err)
			}
			return
		}
		for _, l := range ls {
			if _, err := json.Marshal(l); err != nil {
				t.Fatal(err)
			}
		}
	})
}
