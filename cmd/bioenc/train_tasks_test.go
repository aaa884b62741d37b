package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"bioencoder"
	"bioencoder/config"
	"bioencoder/eval"
	"bioencoder/internal/testutil"
)

// runTrain runs bioenc in-process with fresh flags and returns stdout and
// stderr (where the commands report what they mined and loaded).
func runTrain(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	resetFlags(root)
	var out, errOut bytes.Buffer
	root.SetArgs(args)
	root.SetIn(strings.NewReader(""))
	root.SetOut(&out)
	root.SetErr(&errOut)
	defer root.SetArgs(nil)
	_, err := root.ExecuteC()
	return out.String(), errOut.String(), err
}

func mustTrain(t *testing.T, args ...string) (string, string) {
	t.Helper()
	out, errOut, err := runTrain(t, args...)
	if err != nil {
		t.Fatalf("bioenc %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return out, errOut
}

// quick are engine flags for a few fast steps.
func quick(out string, steps int) []string {
	return []string{"--out", out, "--steps", fmt.Sprint(steps), "--batch-size", "4", "--lr", "1e-3", "--log-every", "1", "--warmup", "0"}
}

var topicWords = [][]string{
	{"insulin", "glucose", "diabetes", "obese", "mice", "diet", "fat", "liver"},
	{"tumor", "cancer", "cells", "growth", "chemotherapy", "metastasis", "breast", "survival"},
	{"virus", "infection", "antibody", "vaccine", "immune", "receptor", "antigen", "host"},
	{"plant", "leaf", "root", "gene", "expression", "stress", "drought", "tomato"},
	{"protein", "enzyme", "inhibitor", "binding", "structure", "kinase", "domain", "activity"},
}

// writeAbstracts writes n structured abstracts {"id", "text"} about a few
// topics (so that BM25 finds similar ones) into dir/name.
func writeAbstracts(t *testing.T, dir, name string, n int) string {
	t.Helper()
	var b strings.Builder
	for id := 1; id <= n; id++ {
		w := topicWords[id%len(topicWords)]
		pick := func(k int) string { return w[(id*3+k*5)%len(w)] + " " + w[(id+k)%len(w)] }
		text := fmt.Sprintf("BACKGROUND\nwe studied %s and %s in patients %d.\n\n\nRESULTS\nthe %s rose while %s fell.\n\n\nCONCLUSIONS\n%s matters for %s.",
			pick(1), pick(2), id, pick(3), pick(4), pick(5), pick(6))
		j, _ := json.Marshal(map[string]any{"id": id, "text": text})
		b.Write(j)
		b.WriteByte('\n')
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeFile(t *testing.T, path, content string, gz bool) string {
	t.Helper()
	data := []byte(content)
	if gz {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		w.Write(data)
		w.Close()
		data = b.Bytes()
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// loadKind loads a trained folder and checks its kind and training files.
func loadKind(t *testing.T, dir string, kind bioencoder.Kind) *bioencoder.Model {
	t.Helper()
	m, err := bioencoder.Load(dir)
	if err != nil {
		t.Fatalf("loading the trained model: %v", err)
	}
	if m.Kind() != kind {
		t.Fatalf("%s is a %v, want %v", dir, m.Kind(), kind)
	}
	for _, f := range []string{"metrics.jsonl", "training.png", "trainer_state.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing %s", f)
		}
	}
	return m
}

type metricLine struct {
	Step int                `json:"step"`
	Loss float64            `json:"loss"`
	Eval map[string]float64 `json:"eval"`
}

func readMetrics(t *testing.T, dir string) []metricLine {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var ms []metricLine
	dec := json.NewDecoder(bytes.NewReader(b))
	for dec.More() {
		var m metricLine
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	return ms
}

func weightsFile(t *testing.T, dir string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTrainEmbeddingsMinedPairsAndResume(t *testing.T) {
	dir := t.TempDir()
	corpus := writeAbstracts(t, dir, "abstracts.jsonl", 40)
	out := filepath.Join(dir, "out")
	args := append([]string{"train", "embeddings", "--model", golden(t, "st_embed"), "--pairs", "sections,bm25",
		"--corpus", corpus, "--bm25-min-rel", "0.2", "--hard-negatives", "1", "--negative-skip", "1", "--save-every", "3"}, quick(out, 6)...)
	stdout, stderr := mustTrain(t, args...)
	for _, want := range []string{"40 documents", "120 section pairs", "BM25 similar-abstract pairs", "got 1 hard negatives"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if !strings.Contains(stdout, "trained 6 steps") {
		t.Errorf("stdout: %s", stdout)
	}
	m := loadKind(t, out, bioencoder.SentenceTransformer)
	if m.Dim() != 32 || len(readMetrics(t, out)) != 6 {
		t.Errorf("dim %d, %d metric lines", m.Dim(), len(readMetrics(t, out)))
	}
	if _, err := os.Stat(filepath.Join(out, "checkpoint-3")); err != nil {
		t.Fatal("no checkpoint-3")
	}
	first := weightsFile(t, out)
	if bytes.Equal(first, weightsFile(t, filepath.Join(out, "checkpoint-3"))) {
		t.Fatal("steps 4-6 changed nothing")
	}

	// Resuming from checkpoint-3 repeats steps 4-6 and ends with the same
	// weights; the metrics of steps 4-6 are replaced, not duplicated.
	mustTrain(t, append(args, "--resume")...)
	if !bytes.Equal(first, weightsFile(t, out)) {
		t.Error("the resumed run ended with different weights")
	}
	if ms := readMetrics(t, out); len(ms) != 6 || ms[5].Step != 6 {
		t.Errorf("metrics after resume: %+v", ms)
	}
	// The checkpoint really is read: another seed is refused.
	if _, _, err := runTrain(t, append(args, "--resume", "--seed", "7")...); err == nil || !strings.Contains(err.Error(), "same settings") {
		t.Errorf("resume with another seed: %v", err)
	}
}

func TestTrainEmbeddingsExcludesHeldOutTail(t *testing.T) {
	dir := t.TempDir()
	corpus := writeAbstracts(t, dir, "pubmed_abstracts.jsonl", eval.SectionsHeldOut+20)
	out := filepath.Join(dir, "out")
	_, stderr := mustTrain(t, append([]string{"train", "embeddings", "--model", golden(t, "st_embed"), "--pairs", "sections",
		"--corpus", corpus}, quick(out, 1)...)...)
	// The last 800 abstracts are the evaluation tail: ids 21.. are held out.
	if !strings.Contains(stderr, "20 documents from") || !strings.Contains(stderr, "800 with ids >= 21 left out") ||
		!strings.Contains(stderr, "60 section pairs") {
		t.Errorf("held-out tail not excluded:\n%s", stderr)
	}
	_, stderr = mustTrain(t, append([]string{"train", "embeddings", "--model", golden(t, "st_embed"), "--pairs", "sections",
		"--corpus", corpus, "--exclude-ids-from", "none"}, quick(filepath.Join(dir, "out2"), 1)...)...)
	if !strings.Contains(stderr, "WARNING") || !strings.Contains(stderr, "2460 section pairs") {
		t.Errorf("--exclude-ids-from none:\n%s", stderr)
	}
	_, stderr = mustTrain(t, append([]string{"train", "embeddings", "--model", golden(t, "st_embed"), "--pairs", "sections",
		"--corpus", corpus, "--exclude-ids-from", "11"}, quick(filepath.Join(dir, "out3"), 1)...)...)
	if !strings.Contains(stderr, "10 documents from") || !strings.Contains(stderr, "30 section pairs") {
		t.Errorf("--exclude-ids-from 11:\n%s", stderr)
	}
}

func TestTrainEmbeddingsDistillation(t *testing.T) {
	dir := t.TempDir()
	t.Run("mse from data adds a Dense layer", func(t *testing.T) {
		var rows []any
		for i, w := range topicWords {
			emb := make([]float32, 16)
			emb[i] = 1
			rows = append(rows, map[string]any{"text": strings.Join(w, " "), "embedding": emb})
		}
		data := writeFile(t, filepath.Join(dir, "emb.jsonl.gz"), jsonl(rows...), true)
		out := filepath.Join(dir, "mse")
		_, stderr := mustTrain(t, append([]string{"train", "embeddings", "--model", withTokenizer(t, "bert_mlm"), "--loss", "mse",
			"--data", data}, quick(out, 3)...)...)
		if !strings.Contains(stderr, "adding a Dense projection 32 -> 16") {
			t.Errorf("stderr: %s", stderr)
		}
		m := loadKind(t, out, bioencoder.SentenceTransformer)
		mods, err := config.LoadModules(out)
		if err != nil || m.Dim() != 16 || !slices.ContainsFunc(mods, func(md config.Module) bool { return md.Type == config.ModDense }) {
			t.Fatalf("dim %d, modules %+v (%v)", m.Dim(), mods, err)
		}
	})
	t.Run("mse from a teacher", func(t *testing.T) {
		corpus := writeAbstracts(t, dir, "abstracts.jsonl", 10)
		out := filepath.Join(dir, "mse-teacher")
		_, stderr := mustTrain(t, append([]string{"train", "embeddings", "--model", withTokenizer(t, "bert_mlm"), "--loss", "mse",
			"--teacher", golden(t, "st_embed"), "--pairs", "sections", "--corpus", corpus}, quick(out, 3)...)...)
		if !strings.Contains(stderr, "teacher") || strings.Contains(stderr, "Dense") {
			t.Errorf("stderr: %s", stderr)
		}
		if m := loadKind(t, out, bioencoder.SentenceTransformer); m.Dim() != 32 {
			t.Errorf("dim %d", m.Dim())
		}
	})
	t.Run("kl with a cross-encoder teacher", func(t *testing.T) {
		corpus := writeAbstracts(t, dir, "abstracts2.jsonl", 20)
		out := filepath.Join(dir, "kl")
		_, stderr := mustTrain(t, append([]string{"train", "embeddings", "--model", golden(t, "st_embed"), "--loss", "kl",
			"--teacher", golden(t, "cross_encoder"), "--pairs", "sections", "--corpus", corpus, "--hard-negatives", "2",
			"--negative-skip", "0"}, quick(out, 3)...)...)
		if !strings.Contains(stderr, "cross-encoder) scored 60 rows") {
			t.Errorf("stderr: %s", stderr)
		}
		loadKind(t, out, bioencoder.SentenceTransformer)
	})
	t.Run("kl from data scores", func(t *testing.T) {
		data := writeFile(t, filepath.Join(dir, "kl.jsonl"), jsonl(
			map[string]any{"query": "insulin mice", "documents": []string{"obese mice", "tumor cells"}, "scores": []float32{3, -1}},
			map[string]any{"query": "tumor growth", "documents": []string{"cancer cells", "leaf root"}, "scores": []float32{2, 0}},
		), false)
		out := filepath.Join(dir, "kl-data")
		mustTrain(t, append([]string{"train", "embeddings", "--model", golden(t, "st_embed"), "--loss", "kl", "--data", data}, quick(out, 2)...)...)
		loadKind(t, out, bioencoder.SentenceTransformer)
	})
}

func TestTrainColBERT(t *testing.T) {
	dir := t.TempDir()
	data := writeFile(t, filepath.Join(dir, "rows.jsonl"), jsonl(
		map[string]any{"anchor": "insulin in obese mice", "positive": "mice on a fat diet", "negatives": []string{"tumor cells"}},
		map[string]any{"anchor": "breast cancer survival", "positive": "tumor growth", "negatives": []string{"leaf stress"}},
		map[string]any{"texts": []string{"vaccine antibody", "immune host", "kinase domain"}},
		map[string]any{"anchor": "drought in tomato", "positive": "plant root gene", "negatives": []string{"insulin"}},
	), false)
	out := filepath.Join(dir, "colbert")
	_, stderr := mustTrain(t, append([]string{"train", "colbert", "--model", golden(t, "st_embed"), "--data", data,
		"--dim", "8", "--query-length", "12", "--document-length", "20"}, quick(out, 3)...)...)
	if !strings.Contains(stderr, "making") {
		t.Errorf("stderr: %s", stderr)
	}
	m := loadKind(t, out, bioencoder.ColBERT)
	if m.Config().VocabSize != 1002 {
		t.Errorf("vocab %d, want 1002 with [Q] and [D]", m.Config().VocabSize)
	}
	st, err := config.LoadSentenceTransformers(out)
	if err != nil || st.QueryLength != 12 || st.DocumentLength != 20 {
		t.Errorf("PyLate config %+v %v", st, err)
	}
	v, err := m.EncodeColBERT(t.Context(), []string{"insulin"}, true)
	if err != nil || len(v[0]) != 12 || len(v[0][0]) != 8 {
		t.Fatalf("query vectors: %v", err)
	}

	// KL distillation of an existing ColBERT model with a cross-encoder teacher.
	corpus := writeAbstracts(t, dir, "abstracts.jsonl", 20)
	out = filepath.Join(dir, "colbert-kl")
	mustTrain(t, append([]string{"train", "colbert", "--model", golden(t, "colbert"), "--loss", "kl", "--teacher", golden(t, "cross_encoder"),
		"--pairs", "sections", "--sections", "BACKGROUND:CONCLUSIONS", "--corpus", corpus, "--hard-negatives", "2"}, quick(out, 3)...)...)
	loadKind(t, out, bioencoder.ColBERT)
}

func TestTrainReranker(t *testing.T) {
	dir := t.TempDir()
	corpus := writeAbstracts(t, dir, "abstracts.jsonl", 20)
	out := filepath.Join(dir, "bce")
	_, stderr := mustTrain(t, append([]string{"train", "reranker", "--model", golden(t, "st_embed"), "--pairs", "sections",
		"--corpus", corpus, "--hard-negatives", "2"}, quick(out, 3)...)...)
	if !strings.Contains(stderr, "adding a cross-encoder head") {
		t.Errorf("stderr: %s", stderr)
	}
	m := loadKind(t, out, bioencoder.CrossEncoder)
	if s, err := m.Rerank(t.Context(), "insulin", []string{"mice", "tumor"}); err != nil || len(s) != 2 {
		t.Fatalf("rerank: %v %v", s, err)
	}

	// Pointwise labels and listwise KL from data.
	data := writeFile(t, filepath.Join(dir, "pairs.jsonl"), jsonl(
		map[string]any{"query": "insulin", "document": "obese mice", "label": 1},
		map[string]any{"query": "insulin", "document": "leaf root", "label": 0},
		map[string]any{"query": "tumor", "documents": []string{"cancer", "virus"}, "labels": []float32{1, 0}},
	), false)
	mustTrain(t, append([]string{"train", "reranker", "--model", golden(t, "cross_encoder"), "--data", data}, quick(filepath.Join(dir, "bce2"), 2)...)...)
	kl := writeFile(t, filepath.Join(dir, "kl.jsonl"), jsonl(
		map[string]any{"query": "insulin", "documents": []string{"obese mice", "leaf", "virus"}, "scores": []float32{5, 1, 0}},
		map[string]any{"query": "tumor", "documents": []string{"cancer", "virus", "root"}, "scores": []float32{4, 0, -1}},
	), false)
	out = filepath.Join(dir, "kl")
	mustTrain(t, append([]string{"train", "reranker", "--model", golden(t, "cross_encoder"), "--loss", "kl", "--data", kl}, quick(out, 2)...)...)
	loadKind(t, out, bioencoder.CrossEncoder)
}

func TestTrainClassifier(t *testing.T) {
	dir := t.TempDir()
	var csvText strings.Builder
	csvText.WriteString("label,abstract\n")
	for i := 0; i < 12; i++ {
		// Labels 10, 2, 1: numeric order must be 1, 2, 10.
		lbl := []string{"10", "2", "1"}[i%3]
		fmt.Fprintf(&csvText, "%s,\"%s, %d\"\n", lbl, strings.Join(topicWords[i%3], " "), i)
	}
	data := writeFile(t, filepath.Join(dir, "train.csv.gz"), csvText.String(), true)
	out := filepath.Join(dir, "cls")
	stdout, _ := mustTrain(t, append([]string{"train", "classifier", "--model", golden(t, "st_embed"), "--data", data, "--text-field", "abstract",
		"--dev", data, "--eval-every", "2"}, quick(out, 4)...)...)
	if !strings.Contains(stdout, "dev_accuracy:") {
		t.Errorf("stdout lacks the final dev accuracy: %s", stdout)
	}
	m := loadKind(t, out, bioencoder.Classifier)
	if got := m.Config().ID2Label; !slices.Equal(got, []string{"1", "2", "10"}) {
		t.Errorf("id2label %q", got)
	}
	ms := readMetrics(t, out)
	if ev := ms[1].Eval; ms[1].Step != 2 || ev == nil || ev["dev_accuracy"] < 0 || ev["dev_loss"] <= 0 {
		t.Errorf("no dev metrics at step 2: %+v", ms)
	}

	// JSON Lines with string labels in a given order, then training the
	// result further (same labels: the head is kept).
	var rows []any
	for i := 0; i < 8; i++ {
		rows = append(rows, map[string]any{"sentence": strings.Join(topicWords[i%2], " "), "y": []string{"pos", "neg"}[i%2]})
	}
	jl := writeFile(t, filepath.Join(dir, "train.jsonl"), jsonl(rows...), false)
	out = filepath.Join(dir, "cls2")
	mustTrain(t, append([]string{"train", "classifier", "--model", golden(t, "st_embed"), "--data", jl, "--text-field", "sentence",
		"--label-field", "y", "--labels", "pos,neg"}, quick(out, 2)...)...)
	if got := loadKind(t, out, bioencoder.Classifier).Config().ID2Label; !slices.Equal(got, []string{"pos", "neg"}) {
		t.Errorf("id2label %q", got)
	}
	_, stderr := mustTrain(t, append([]string{"train", "classifier", "--model", out, "--data", jl, "--text-field", "sentence",
		"--label-field", "y", "--labels", "pos,neg"}, quick(filepath.Join(dir, "cls3"), 1)...)...)
	if !strings.Contains(stderr, "continuing to train") {
		t.Errorf("stderr: %s", stderr)
	}
}

// The shared evaluation files train as they are.
func TestTrainClassifierSharedData(t *testing.T) {
	medical := testutil.SharedOrSkip(t, "data", eval.FileMedicalTest)
	chemprot := testutil.SharedOrSkip(t, "data", eval.FileChemProtTrain)
	dir := t.TempDir()
	out := filepath.Join(dir, "medical")
	mustTrain(t, append([]string{"train", "classifier", "--model", golden(t, "st_embed"), "--data", medical,
		"--text-field", "medical_abstract", "--label-field", "condition_label"}, quick(out, 2)...)...)
	if got := loadKind(t, out, bioencoder.Classifier).Config().ID2Label; !slices.Equal(got, []string{"1", "2", "3", "4", "5"}) {
		t.Errorf("medical id2label %q", got)
	}
	out = filepath.Join(dir, "chemprot")
	mustTrain(t, append([]string{"train", "classifier", "--model", golden(t, "st_embed"), "--data", chemprot}, quick(out, 2)...)...)
	if got := loadKind(t, out, bioencoder.Classifier).Config().ID2Label; len(got) != 13 || !slices.IsSorted(got) {
		t.Errorf("chemprot id2label %q", got)
	}
}

func TestTrainNER(t *testing.T) {
	dir := t.TempDir()
	iob := "patients\tO\nwith\tO\nlung\tB-Disease\ncancer\tI-Disease\n\nheart\tB-Disease\nfailure\tI-Disease\nin\tO\nmice\tB-Species\n\n" +
		"no\tO\ntumor\tB-Disease\nseen\tO\n\ninsulin\tB-Chemical\nhelped\tO\n"
	data := writeFile(t, filepath.Join(dir, "train.tsv.gz"), iob, true)
	dev := writeFile(t, filepath.Join(dir, "devel.tsv"), iob, false)
	out := filepath.Join(dir, "ner")
	stdout, _ := mustTrain(t, append([]string{"train", "ner", "--model", golden(t, "st_embed"), "--data", data, "--dev", dev,
		"--eval-every", "3"}, quick(out, 3)...)...)
	if !strings.Contains(stdout, "dev_f1:") {
		t.Errorf("stdout lacks the final dev F1: %s", stdout)
	}
	m := loadKind(t, out, bioencoder.TokenClassifier)
	want := []string{"O", "B-Chemical", "B-Disease", "B-Species", "I-Disease"}
	if got := m.Config().ID2Label; !slices.Equal(got, want) {
		t.Errorf("id2label %q, want %q", got, want)
	}
	ms := readMetrics(t, out)
	if _, ok := ms[len(ms)-1].Eval["dev_f1"]; !ok {
		t.Errorf("no dev F1: %+v", ms[len(ms)-1])
	}
}

func TestTrainTaskErrors(t *testing.T) {
	dir := t.TempDir()
	st := golden(t, "st_embed")
	out := filepath.Join(dir, "out")
	rows := writeFile(t, filepath.Join(dir, "rows.jsonl"), jsonl(
		map[string]any{"anchor": "a", "positive": "b"},
		map[string]any{"anchor": "c", "positive": "d", "negatives": []string{"e"}},
	), false)
	bad := writeFile(t, filepath.Join(dir, "bad.jsonl"), "{\"anchor\": \"a\", \"positive\": \"b\"}\n{\"anchor\": \"x\"}\n", false)
	texts := writeFile(t, filepath.Join(dir, "texts.jsonl"), jsonl(map[string]any{"text": "a"}, map[string]any{"text": "b"}), false)
	csvFile := writeFile(t, filepath.Join(dir, "d.csv"), "text,label\nx,1\ny,2\nz,3\n", false)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "embeddings", "--out", out}, "--model is required"},
		{[]string{"train", "embeddings", "--model", st}, "--out is required"},
		{[]string{"train", "embeddings", "--model", st, "--out", out, "--loss", "triplet", "--data", rows}, `--loss "triplet"`},
		{[]string{"train", "embeddings", "--model", st, "--out", out}, "give --data FILE"},
		{[]string{"train", "embeddings", "--model", st, "--out", out, "--data", rows, "--pairs", "sections"}, "not both"},
		{[]string{"train", "embeddings", "--model", st, "--out", out, "--pairs", "sections"}, "needs --corpus"},
		{[]string{"train", "embeddings", "--model", st, "--out", out, "--data", rows, "--corpus", rows}, "only with --pairs or --hard-negatives"},
		{[]string{"train", "embeddings", "--model", st, "--out", out, "--pairs", "titles", "--corpus", rows}, `--pairs "titles"`},
		{[]string{"train", "embeddings", "--model", st, "--out", out, "--data", rows}, "same number of candidates"},
		{[]string{"train", "embeddings", "--model", st, "--out", out, "--data", bad}, `bad.jsonl:2: "anchor" without "positive"`},
		{[]string{"train", "embeddings", "--model", st, "--out", out, "--data", texts, "--loss", "mse"}, "mse needs teacher embeddings"},
		{[]string{"train", "embeddings", "--model", st, "--out", out, "--data", texts}, "mnrl (anchor, positive[, negatives]) needs at least 2"},
		{[]string{"train", "embeddings", "--model", st, "--out", out, "--data", texts, "--hard-negatives", "1"}, "--hard-negatives needs --corpus"},
		{[]string{"train", "colbert", "--model", st, "--out", out, "--data", rows, "--loss", "kl"}, "same number of candidates"},
		{[]string{"train", "reranker", "--model", st, "--out", out, "--data", texts}, "a query and at least one document"},
		{[]string{"train", "classifier", "--model", st, "--out", out, "--data", csvFile, "--label-field", "y"}, `no column "y"`},
		{[]string{"train", "classifier", "--model", st, "--out", out, "--data", csvFile, "--labels", "1,2"}, `label "3" is not one of`},
		{[]string{"train", "ner", "--model", st, "--out", out, "--data", csvFile}, "want word<TAB>tag"},
		{[]string{"train", "ner", "--model", st, "--out", out, "--data", csvFile, "--scheme", "bio"}, `--scheme "bio"`},
	} {
		_, _, err := runTrain(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want one containing %q", c.args, err, c.want)
		}
	}
}

func TestParseRow(t *testing.T) {
	for _, c := range []struct {
		in     string
		texts  []string
		scores []float32
		labels []float32
		err    string
	}{
		{`{"anchor":"a","positive":"p","negatives":["n"]}`, []string{"a", "p", "n"}, nil, nil, ""},
		{`{"texts":["a","p"]}`, []string{"a", "p"}, nil, nil, ""},
		{`{"query":"q","documents":["d1","d2"],"scores":[1,2]}`, []string{"q", "d1", "d2"}, []float32{1, 2}, nil, ""},
		{`{"query":"q","document":"d","label":1}`, []string{"q", "d"}, nil, []float32{1}, ""},
		{`{"text":"t","embedding":[0.5,1]}`, []string{"t"}, nil, nil, ""},
		{`{"query":"q","documents":["d"],"scores":[1,2]}`, nil, nil, nil, "2 scores for 1 candidate"},
		{`{"query":"q"}`, nil, nil, nil, `exactly one of "document" or "documents"`},
		{`{"text":"t","anchor":"a"}`, nil, nil, nil, "exactly one of"},
		{`{"texts":[]}`, nil, nil, nil, "empty"},
		{`{"text":"t","negatives":["n"]}`, nil, nil, nil, `"negatives" goes with "anchor"`},
		{`{"query":"q","document":"d","label":1,"labels":[1]}`, nil, nil, nil, "not both"},
		{`[1,2]`, nil, nil, nil, "not a JSON object"},
		{`{"text":"t","embedding":[]}`, nil, nil, nil, "empty"},
	} {
		r, err := parseRow([]byte(c.in))
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || !slices.Equal(r.texts, c.texts) || !slices.Equal(r.scores, c.scores) || !slices.Equal(r.labels, c.labels) {
			t.Errorf("%s: %+v %v", c.in, r, err)
		}
	}
}

func FuzzParseRow(f *testing.F) {
	f.Add([]byte(`{"anchor":"a","positive":"p","negatives":["n"]}`))
	f.Add([]byte(`{"query":"q","documents":["d1","d2"],"scores":[1,2]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseRow(b)
		if err != nil {
			return
		}
		if len(r.texts) == 0 {
			t.Fatalf("%q: a row without texts", b)
		}
		if r.scores != nil && len(r.scores) != len(r.texts)-1 || r.labels != nil && len(r.labels) != len(r.texts)-1 {
			t.Fatalf("%q: %d texts, %d scores, %d labels", b, len(r.texts), len(r.scores), len(r.labels))
		}
	})
}
