package eval

import (
	"context"
	"encoding/json"
	"os"
	"testing"
)

// TestDumpForSklearnParity writes what testdata/sklearn_parity.py compares
// with NumPy/SciPy/scikit-learn (derangements, tf-idf similarity scores,
// stratified folds, TF-IDF + logistic regression CV). It runs only when
// EVAL_PARITY_OUT names the output file:
//
//	EVAL_PARITY_OUT=/tmp/parity.json go test ./eval -run DumpForSklearn
//	/usr/bin/python3 eval/testdata/sklearn_parity.py /tmp/parity.json
func TestDumpForSklearnParity(t *testing.T) {
	out := os.Getenv("EVAL_PARITY_OUT")
	if out == "" {
		t.Skip("set EVAL_PARITY_OUT to dump the sklearn parity data")
	}
	ctx := context.Background()
	sets, err := LoadSimilaritySets(0)
	if err != nil {
		t.Fatal(err)
	}
	dump := map[string]any{}
	for _, s := range sets {
		p, _ := Derangement(len(s.Pairs), 42)
		r, err := PairSimilarity(ctx, TFIDFScorer{}, s.Name, s.Pairs, 42)
		if err != nil {
			t.Fatal(err)
		}
		dump[s.Name] = map[string]any{"pairs": s.Pairs, "perm": p, "pearson": r.Pearson, "spearman": r.Spearman}
	}
	d, err := LoadMedicalAbstracts()
	if err != nil {
		t.Fatal(err)
	}
	folds, _ := StratifiedKFold(d.Labels, 5, 42)
	dump["folds"] = folds
	res, err := CrossValidate(ctx, "tfidf", TFIDFLogReg{}, d, 5, 42, nil)
	if err != nil {
		t.Fatal(err)
	}
	dump["cv"] = res
	b, err := json.Marshal(dump)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
