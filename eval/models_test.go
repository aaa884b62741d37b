package eval

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"bioencoder"
	"bioencoder/internal/testutil"
	"bioencoder/safetensors"
)

func loadGolden(t *testing.T, name string) *bioencoder.Model {
	t.Helper()
	m, err := bioencoder.Load(testutil.Testdata(t, "golden", name))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var toyA = []string{"aspirin inhibits platelets", "the heart", "aspirin inhibits platelets", "renal failure in mice"}
var toyB = []string{"platelet aggregation is reduced", "cardiac output", "cardiac output", "kidney injury"}

func TestModelScorers(t *testing.T) {
	ctx := context.Background()

	st := loadGolden(t, "st_embed")
	s, err := ModelScorer(st, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(*EmbedScorer); !ok {
		t.Fatalf("st_embed scorer is %T", s)
	}
	got, err := s.ScorePairs(ctx, toyA, toyB)
	if err != nil {
		t.Fatal(err)
	}
	ea, _ := st.Embed(ctx, toyA)
	eb, _ := st.Embed(ctx, toyB)
	for i := range toyA {
		if want := float64(bioencoder.Cosine(ea[i], eb[i])); !near(got[i], want, 1e-6) {
			t.Errorf("embed pair %d: %v, want %v", i, got[i], want)
		}
	}

	cb := loadGolden(t, "colbert")
	s, _ = ModelScorer(cb, nil)
	if _, ok := s.(*ColBERTScorer); !ok {
		t.Fatalf("colbert scorer is %T", s)
	}
	got, err = s.ScorePairs(ctx, toyA, toyB)
	if err != nil {
		t.Fatal(err)
	}
	full, _ := cb.Score(ctx, toyA, toyB)
	qv, _ := cb.EncodeColBERT(ctx, toyA, true)
	for i := range toyA {
		want := float64(full[i][i]) / float64(len(qv[i]))
		if !near(got[i], want, 1e-6) || got[i] > 1+1e-6 || got[i] < -1-1e-6 {
			t.Errorf("colbert pair %d: %v, want %v", i, got[i], want)
		}
	}

	ce := loadGolden(t, "cross_encoder")
	s, _ = ModelScorer(ce, nil)
	if _, ok := s.(*CrossEncoderScorer); !ok {
		t.Fatalf("cross_encoder scorer is %T", s)
	}
	got, err = s.ScorePairs(ctx, toyA, toyB)
	if err != nil {
		t.Fatal(err)
	}
	var pairs []bioencoder.Pair
	for i := range toyA {
		pairs = append(pairs, bioencoder.Pair{A: toyA[i], B: toyB[i]})
	}
	pred, _ := ce.Predict(ctx, pairs)
	for i := range toyA {
		if want := float64(pred[i][0]); got[i] != want {
			t.Errorf("cross-encoder pair %d: %v, want %v", i, got[i], want)
		}
	}

	// The whole protocol runs on a model.
	var ps []Pair
	for i := range toyA {
		ps = append(ps, Pair{A: toyA[i] + " " + string(rune('a'+i)), B: toyB[i]})
	}
	if _, err := RunSimilarity(ctx, "st", &EmbedScorer{M: st}, []PairSet{{"toy", ps}}, 42, nil); err != nil {
		t.Fatal(err)
	}
}

// mlmFolder assembles a masked-LM folder from the golden bert_mlm weights
// and the st_embed tokenizer (same 1000-token vocabulary).
func mlmFolder(t *testing.T) string {
	dir := t.TempDir()
	for src, names := range map[string][]string{
		"bert_mlm": {"config.json", "model.safetensors"},
		"st_embed": {"vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"},
	} {
		for _, n := range names {
			b, err := os.ReadFile(testutil.Testdata(t, "golden", src, n))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

func TestModelMasker(t *testing.T) {
	ctx := context.Background()
	m, err := bioencoder.Load(mlmFolder(t))
	if err != nil {
		t.Fatal(err)
	}
	mm, err := NewModelMasker(m)
	if err != nil {
		t.Fatal(err)
	}
	if mm.MaskToken() != "[MASK]" {
		t.Errorf("mask token %q", mm.MaskToken())
	}
	// Against the PyTorch logits of the golden fixture: row 1 is a single
	// sequence holding [MASK] (id 4) at positions 1 and 2; the first counts.
	f, err := safetensors.Open(testutil.Testdata(t, "golden", "bert_mlm", "expected.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ids, _ := f.Int64("input_ids")
	att, _ := f.Int64("attention_mask")
	logits, _ := f.Float32("logits")
	const S, V = 14, 1000
	var seqs [][]int
	var want [][]int
	for r := 1; r <= 1; r++ {
		var seq []int
		for j := 0; j < S && att[r*S+j] == 1; j++ {
			seq = append(seq, int(ids[r*S+j]))
		}
		pos := slices.Index(seq, 4)
		if pos < 0 {
			t.Fatalf("golden row %d has no [MASK]", r)
		}
		row := logits[(r*S+pos)*V : (r*S+pos+1)*V]
		order := make([]int, V)
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, b int) bool { return row[order[a]] > row[order[b]] })
		seqs, want = append(seqs, seq), append(want, order[:5])
	}
	got, err := mm.TopKIDs(ctx, append(seqs, []int{2, 7, 3}), 5)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Errorf("top-5 %v, want %v (PyTorch logits)", got[i], want[i])
		}
	}
	if got[1] != nil {
		t.Errorf("sequence without a mask: %v", got[1])
	}

	cands, err := mm.FillMask(ctx, []string{"the [MASK] of the cell", "no mask here"}, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(cands[0]) != 3 || cands[1] != nil {
		t.Errorf("candidates %q", cands)
	}
	spans, err := mm.TokenSpans("the cell")
	if err != nil || len(spans) == 0 || spans[0] != [2]int{0, 3} {
		t.Errorf("spans %v %v", spans, err)
	}
	// "cell" (vocab.txt) is the only word of 4+ letters: it is masked.
	abs := []Abstract{{1, "BACKGROUND\nthe cell and the cell.\n\nCONCLUSIONS\nthe cell."}}
	samples, err := FillMaskSamples(mm, abs, FillMaskOptions{})
	if err != nil || len(samples) != 1 || samples[0].Word != "cell" || strings.Count(samples[0].Text, "[MASK]") != 1 {
		t.Errorf("samples %+v %v", samples, err)
	}
	if r, err := RunFillMask(ctx, "mlm", mm, abs, FillMaskOptions{}, nil); err != nil || r.N != 1 || r.K != 5 {
		t.Errorf("fill-mask %+v %v", r, err)
	}

	if _, err := NewModelMasker(loadGolden(t, "st_embed")); err == nil {
		t.Error("sentence-transformer accepted as a masker")
	}
}

func TestFineTunerRegistry(t *testing.T) {
	st := loadGolden(t, "st_embed")
	if _, err := ModelFineTuner(st, FineTuneOptions{}); err != ErrNoFineTuning {
		t.Errorf("unregistered: %v", err)
	}
	if _, err := ModelTokenFineTuner(st, FineTuneOptions{}); err != ErrNoFineTuning {
		t.Errorf("unregistered: %v", err)
	}
	NewModelFineTuner = func(*bioencoder.Model, FineTuneOptions) (FineTuner, error) { return Majority{}, nil }
	defer func() { NewModelFineTuner = nil }()
	if ft, err := ModelFineTuner(st, FineTuneOptions{}); err != nil || ft == nil {
		t.Errorf("registered: %v", err)
	}
}
