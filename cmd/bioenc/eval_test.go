package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"bioencoder/eval"
	"bioencoder/internal/testutil"
)

// runBioenc runs the CLI with fresh eval flags.
func runBioenc(t *testing.T, args ...string) (string, error) {
	t.Helper()
	evalFlags.models, evalFlags.baseline, evalFlags.limit, evalFlags.json = nil, "", 0, ""
	evalFlags.seed, evalFlags.quiet, evalFlags.k, evalFlags.window = 42, false, 5, 48
	evalFlags.tune = eval.FineTuneOptions{}
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	defer root.SetArgs(nil)
	err := root.Execute()
	return out.String(), err
}

func TestEvalFlagErrors(t *testing.T) {
	st := testutil.Testdata(t, "golden", "st_embed")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"eval", "similarity"}, "give --model DIR or --baseline tfidf"},
		{[]string{"eval", "similarity", "--baseline", "bm25"}, `unknown --baseline "bm25"`},
		{[]string{"eval", "fill-mask", "--baseline", "tfidf"}, "no tfidf baseline"},
		{[]string{"eval", "fill-mask", "--model", st}, "needs a masked-LM model"},
	} {
		_, err := runBioenc(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want one containing %q", c.args, err, c.want)
		}
	}
}

// Classification fine-tunes our model through the training engine (a tiny
// run: 40 rows, one epoch per fold).
func TestEvalClassificationFineTunesCLI(t *testing.T) {
	testutil.SharedOrSkip(t, "data", "medical_tc_test.csv.gz")
	st := testutil.Testdata(t, "golden", "st_embed")
	out, err := runBioenc(t, "eval", "classification", "--model", st, "--limit", "40", "--epochs", "1", "--batch-size", "8", "--max-length", "32", "-q")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "| st_embed |") || !strings.Contains(out, "accuracy") {
		t.Fatalf("no result row for the model:\n%s", out)
	}
}

func TestEvalSimilarityCLI(t *testing.T) {
	testutil.SharedOrSkip(t, "data", eval.FilePubMedQA)
	js := filepath.Join(t.TempDir(), "r.json")
	out, err := runBioenc(t, "eval", "similarity", "--baseline", "tfidf", "--model", testutil.Testdata(t, "golden", "colbert"),
		"--limit", "30", "--json", js, "-q")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| model | PubMed QA | PubMed Sections | PubMed Summary | average |", "| tfidf | ", "| colbert | ", "Spearman"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	var rep eval.Report
	b, _ := os.ReadFile(js)
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Task != "similarity" || len(rep.Similarity) != 2 || rep.Similarity[0].Datasets[0].Pairs != 30 {
		t.Errorf("report %+v", rep)
	}
}

func TestEvalBaselinesCLI(t *testing.T) {
	testutil.SharedOrSkip(t, "data", eval.FileChemProtTrain)
	out, err := runBioenc(t, "eval", "chemprot", "--baseline", "tfidf", "--limit", "50", "-q")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "| majority class | ") || !strings.Contains(out, "| tfidf + logistic regression | ") {
		t.Errorf("chemprot output:\n%s", out)
	}
	out, err = runBioenc(t, "eval", "ner", "--baseline", "tfidf", "--limit", "50", "-q")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "| model | precision | recall | F1 | dev F1 |") {
		t.Errorf("ner output:\n%s", out)
	}
}
