package train

import (
	"context"
	"math"
	"testing"

	"bioencoder"
	"bioencoder/internal/testutil"
)

func quickOptions(out string, steps int) Options {
	return Options{Out: out, Seed: 5, Steps: steps, BatchSize: 4, LR: 2e-3, Schedule: "constant", LogEvery: steps / 3}
}

// firstLastLoss reads the first and last logged losses of a run.
func firstLastLoss(t *testing.T, out string) (float64, float64) {
	ms, err := trimMetrics(out, 1<<30)
	if err != nil || len(ms) < 2 {
		t.Fatalf("metrics: %v %v", ms, err)
	}
	return ms[0].Loss, ms[len(ms)-1].Loss
}

var toyPairs = [][2]string{
	{"what causes hypertension?", "high blood pressure is associated with diet and age."},
	{"insulin dose for children", "insulin doses were reduced in pediatric patients."},
	{"lung cancer screening", "low-dose ct screening is recommended for older smokers."},
	{"fever and cough", "viral infection symptoms include fever, cough and fatigue."},
	{"tumor growth in mice", "the mouse model showed increased tumor growth."},
	{"kidney disease diet", "diet changes slow chronic kidney disease."},
	{"smoking risk", "smoking increases the risk of lung cancer."},
	{"diabetes treatment", "type 2 diabetes is treated with metformin and diet."},
}

func TestColBERTTrainingLearnsAndReloads(t *testing.T) {
	for _, obj := range []string{"contrastive", "kl"} {
		t.Run(obj, func(t *testing.T) {
			m, err := bioencoder.Load(testutil.Testdata(t, "golden", "colbert"))
			if err != nil {
				t.Fatal(err)
			}
			var data []EmbedExample
			for i, p := range toyPairs {
				// Three documents: PyLate min-max normalises the student's
				// scores, which leaves two documents no gradient.
				n1, n2 := toyPairs[(i+3)%len(toyPairs)][1], toyPairs[(i+5)%len(toyPairs)][1]
				data = append(data, EmbedExample{Texts: []string{p[0], p[1], n1, n2}, Scores: []float32{4, 0, -2}})
			}
			out := t.TempDir()
			if _, err := Run(context.Background(), NewColBERT(m, obj, data), quickOptions(out, 30)); err != nil {
				t.Fatal(err)
			}
			first, last := firstLastLoss(t, out)
			if !(last < first) {
				t.Errorf("loss %v -> %v did not fall", first, last)
			}
			reloaded, err := bioencoder.Load(out)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			q := []string{toyPairs[0][0]}
			d := []string{toyPairs[0][1], toyPairs[1][1]}
			a, _ := m.Score(ctx, q, d)
			b, err := reloaded.Score(ctx, q, d)
			if err != nil || math.Abs(float64(a[0][0]-b[0][0])) > 1e-5 || math.Abs(float64(a[0][1]-b[0][1])) > 1e-5 {
				t.Fatalf("reloaded model scores %v, trained model %v (%v)", b, a, err)
			}
		})
	}
}

func TestRerankerTraining(t *testing.T) {
	for _, obj := range []string{"bce", "kl"} {
		t.Run(obj, func(t *testing.T) {
			m, err := bioencoder.Load(testutil.Testdata(t, "golden", "cross_encoder"))
			if err != nil {
				t.Fatal(err)
			}
			var data []RerankExample
			for i, p := range toyPairs {
				data = append(data, RerankExample{Query: p[0], Docs: []string{p[1], toyPairs[(i+2)%len(toyPairs)][1]}, Labels: []float32{1, 0}})
			}
			out := t.TempDir()
			if _, err := Run(context.Background(), NewReranker(m, obj, data), quickOptions(out, 30)); err != nil {
				t.Fatal(err)
			}
			first, last := firstLastLoss(t, out)
			if !(last < first) {
				t.Errorf("loss %v -> %v did not fall", first, last)
			}
			reloaded, err := bioencoder.Load(out)
			if err != nil || reloaded.Kind() != bioencoder.CrossEncoder {
				t.Fatalf("reload: %v kind %v", err, reloaded.Kind())
			}
			ctx := context.Background()
			a, _ := m.Rerank(ctx, toyPairs[0][0], []string{toyPairs[0][1]})
			b, _ := reloaded.Rerank(ctx, toyPairs[0][0], []string{toyPairs[0][1]})
			if math.Abs(float64(a[0]-b[0])) > 1e-5 {
				t.Fatalf("reloaded %v vs trained %v", b, a)
			}
		})
	}
}

func TestClassifierAndTaggerFromAnEncoder(t *testing.T) {
	base := testutil.Testdata(t, "golden", "st_embed")
	t.Run("classifier", func(t *testing.T) {
		m, err := bioencoder.NewHead(base, bioencoder.Classifier, []string{"heart", "lung"}, 1)
		if err != nil {
			t.Fatal(err)
		}
		texts := []bioencoder.Pair{{A: "blood pressure and heart failure"}, {A: "lung cancer and smoking"},
			{A: "heart attack risk"}, {A: "lung function in asthma"}}
		labels := []int{0, 1, 0, 1}
		out := t.TempDir()
		if _, err := Run(context.Background(), NewClassifier(m, texts, labels), quickOptions(out, 30)); err != nil {
			t.Fatal(err)
		}
		first, last := firstLastLoss(t, out)
		if !(last < first) {
			t.Errorf("loss %v -> %v did not fall", first, last)
		}
		reloaded, err := bioencoder.Load(out)
		if err != nil || reloaded.Kind() != bioencoder.Classifier {
			t.Fatalf("reload: %v", err)
		}
		got, err := reloaded.Classify(context.Background(), []string{"heart attack risk"})
		if err != nil || got[0][0].Label != "heart" {
			t.Fatalf("classify after training: %v %v", got, err)
		}
	})
	t.Run("tagger", func(t *testing.T) {
		m, err := bioencoder.NewHead(base, bioencoder.TokenClassifier, []string{"O", "B-Disease", "I-Disease"}, 1)
		if err != nil {
			t.Fatal(err)
		}
		words := [][]string{{"patients", "with", "lung", "cancer", "improved"}, {"heart", "failure", "was", "rare", "."},
			{"no", "lung", "cancer", "was", "seen"}, {"chronic", "heart", "failure", "patients"}}
		labels := [][]int{{0, 0, 1, 2, 0}, {1, 2, 0, 0, 0}, {0, 1, 2, 0, 0}, {0, 1, 2, 0}}
		out := t.TempDir()
		if _, err := Run(context.Background(), NewTagger(m, words, labels), quickOptions(out, 45)); err != nil {
			t.Fatal(err)
		}
		first, last := firstLastLoss(t, out)
		if !(last < first) {
			t.Errorf("loss %v -> %v did not fall", first, last)
		}
		if _, err := bioencoder.Load(out); err != nil {
			t.Fatal(err)
		}
	})
}

func TestColBERTFromAnEncoder(t *testing.T) {
	m, err := bioencoder.Load(testutil.Testdata(t, "golden", "st_embed"))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.MakeColBERT(16, 12, 20, 1, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	var data []EmbedExample
	for i, p := range toyPairs {
		data = append(data, EmbedExample{Texts: []string{p[0], p[1], toyPairs[(i+3)%len(toyPairs)][1]}})
	}
	out := t.TempDir()
	if _, err := Run(context.Background(), NewColBERT(m, "contrastive", data), quickOptions(out, 30)); err != nil {
		t.Fatal(err)
	}
	re, err := bioencoder.Load(out)
	if err != nil || re.Kind() != bioencoder.ColBERT {
		t.Fatalf("reload: %v", err)
	}
	ctx := context.Background()
	a, _ := m.Score(ctx, []string{toyPairs[2][0]}, []string{toyPairs[2][1]})
	b, err := re.Score(ctx, []string{toyPairs[2][0]}, []string{toyPairs[2][1]})
	if err != nil || math.Abs(float64(a[0][0]-b[0][0])) > 1e-5 {
		t.Fatalf("reloaded %v vs trained %v (%v)", b, a, err)
	}
	if re.Config().VocabSize != 1002 {
		t.Fatalf("vocab %d, want 1002 (1000 + [Q] + [D])", re.Config().VocabSize)
	}
}
