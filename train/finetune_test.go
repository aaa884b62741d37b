package train

import (
	"context"
	"testing"

	"bioencoder"
	"bioencoder/eval"
	"bioencoder/internal/testutil"
)

func TestEvalFineTunersArePluggedIn(t *testing.T) {
	base, err := bioencoder.Load(testutil.Testdata(t, "golden", "st_embed"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	opt := eval.FineTuneOptions{Seed: 1, Epochs: 30, LR: 2e-3, BatchSize: 4}
	ft, err := eval.ModelFineTuner(base, opt)
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"blood pressure and heart failure", "lung cancer and smoking", "heart attack risk", "lung function in asthma"}
	labels := []int{0, 1, 0, 1}
	p, err := ft.Fit(ctx, texts, labels, 2)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := p.PredictProba(ctx, texts)
	if err != nil || len(pr) != 4 || len(pr[0]) != 2 {
		t.Fatalf("probabilities %v %v", pr, err)
	}
	for i, row := range pr {
		if argmax64(row) != labels[i] {
			t.Errorf("training text %d predicted %v, label %d", i, row, labels[i])
		}
	}
	dft, ok := ft.(eval.DevFineTuner)
	if !ok {
		t.Fatal("the sequence fine-tuner does not use dev data")
	}
	data := eval.ClassData{Texts: texts, Labels: labels, Names: []string{"heart", "lung"}}
	if _, err := dft.FitDev(ctx, data, data); err != nil {
		t.Fatal(err)
	}

	tft, err := eval.ModelTokenFineTuner(base, opt)
	if err != nil {
		t.Fatal(err)
	}
	sents := []eval.Sentence{
		{Words: []string{"patients", "with", "lung", "cancer"}, Tags: []string{"O", "O", "B-Disease", "I-Disease"}},
		{Words: []string{"heart", "failure", "was", "rare"}, Tags: []string{"B-Disease", "I-Disease", "O", "O"}},
	}
	tg, err := tft.FitTokens(ctx, sents, sents)
	if err != nil {
		t.Fatal(err)
	}
	tags, err := tg.Tag(ctx, [][]string{sents[0].Words})
	if err != nil || len(tags[0]) != 4 {
		t.Fatalf("tags %v %v", tags, err)
	}
}
