package bioencoder

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"bioencoder/config"
	"bioencoder/internal/testutil"
	"bioencoder/model"
	"bioencoder/model/modelio"
	"bioencoder/tokenizer"
)

var nerLabels = []string{"O", "B-GENE", "I-GENE", "B-DIS", "I-DIS"}

// nerLogits are the label logits the controlled model gives each token id
// (st_embed's vocabulary), whatever its context. Tokens not listed get
// all-zero logits: a uniform distribution, argmax "O".
var nerLogits = map[int][]float64{
	478: {0, 3, 2.8, 0, 0},   // insulin: B-GENE, I-GENE close behind
	145: {0, 0, 4.5, 5, 0},   // ##oma: B-DIS, surer than insulin is of anything
	743: {0, 0, 4, 0, 0},     // kinase: I-GENE
	500: {0, 0, 3, 0, 0},     // receptor: I-GENE
	225: {3, 0, 0, 0, 0},     // and: O
	476: {0, 0, 0, 4, 0},     // diabetes: B-DIS
	16:  {2, 0, 0, 0, 0},     // ",": O
	481: {0, 0, 0, 0, 3.5},   // hypertension: I-DIS after an O
	1:   {0, 4, 0, 0, 0},     // [UNK]: B-GENE
	70:  {0, 0, 1.5, 0, 0.5}, // x: I-GENE
}

// controlledNERModel writes a BERT token classifier (the bert_tokcls
// shapes: H=32, 2 layers) whose logits depend only on the token id: every
// sub-layer's output projection is zero, so each layer's LayerNorm returns
// its input, the hidden state is LayerNorm(word embedding), and the word
// embeddings and classifier are set so that this gives nerLogits exactly.
func controlledNERModel(t *testing.T) string {
	t.Helper()
	cfg, err := config.Load(testutil.Testdata(t, "golden", "bert_tokcls"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ID2Label = nerLabels
	net, err := model.New(cfg, model.Options{Task: config.TokenClassification})
	if err != nil {
		t.Fatal(err)
	}
	ps := net.Params()
	for _, p := range ps.List {
		if modelio.IsNormWeight(p.Name) {
			for i := range p.W {
				p.W[i] = 1
			}
		}
	}
	// A token's embedding is Σ_l z_l (e_l - e_{l+16}) + f (e_5 - e_21) with
	// f making its norm² 2R²: zero mean and variance R²/16, so LayerNorm
	// scales it by 4/R. A classifier row R/8 (e_l - e_{l+16}) then reads z_l.
	const H, R = 32, 10.0
	word := ps.Get("bert.embeddings.word_embeddings.weight")
	for id, z := range nerLogits {
		row := word.W[id*H : (id+1)*H]
		var sq float64
		for l, v := range z {
			row[l], row[l+16] = float32(v), float32(-v)
			sq += v * v
		}
		f := math.Sqrt(R*R - sq)
		row[5], row[21] = float32(f), float32(-f)
	}
	cls := ps.Get("classifier.weight")
	for l := range nerLabels {
		cls.W[l*H+l], cls.W[l*H+l+16] = R/8, -R/8
	}
	ps.Touch()
	dir := t.TempDir()
	if err := model.Save(dir, net, testutil.Testdata(t, "golden", "st_embed")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// prob is softmax(nerLogits[id])[label], computed independently.
func prob(id int, label string) float64 {
	z, ok := nerLogits[id]
	if !ok {
		z = make([]float64, len(nerLabels))
	}
	var sum float64
	for _, v := range z {
		sum += math.Exp(v)
	}
	for l, name := range nerLabels {
		if name == label {
			return math.Exp(z[l]) / sum
		}
	}
	panic("no label " + label)
}

func mean(xs ...float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// Token ids of the test sentence.
const (
	idInsulin = 478
	idOma     = 145
	idKinase  = 743
	idRecept  = 500
	idDiab    = 476
	idHyper   = 481
	idUNK     = 1
	idX       = 70
)

func TestEntities(t *testing.T) {
	m, err := Load(controlledNERModel(t))
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind() != TokenClassifier {
		t.Fatalf("kind %s", m.Kind())
	}
	// [CLS] insulin ##oma kinase receptor and diabetes , hypertension [UNK] x [SEP]
	// offsets 0-7 7-10 11-17 18-26 27-30 31-39 39-40 41-53 54-56 57-58
	text := "Insulinoma kinase receptor and diabetes, hypertension 5€ x"
	avgInsulinoma := mean(prob(idInsulin, "I-GENE"), prob(idOma, "I-GENE")) // beats B-DIS and B-GENE on average
	type ent struct {
		label      string
		word       string
		start, end int
		index      int
		score      float64
	}
	cases := []struct {
		agg  Aggregation
		want []ent
	}{
		{AggregateNone, []ent{
			{"B-GENE", "insulin", 0, 7, 1, prob(idInsulin, "B-GENE")},
			{"B-DIS", "##oma", 7, 10, 2, prob(idOma, "B-DIS")},
			{"I-GENE", "kinase", 11, 17, 3, prob(idKinase, "I-GENE")},
			{"I-GENE", "receptor", 18, 26, 4, prob(idRecept, "I-GENE")},
			{"B-DIS", "diabetes", 31, 39, 6, prob(idDiab, "B-DIS")},
			{"I-DIS", "hypertension", 41, 53, 8, prob(idHyper, "I-DIS")},
			{"B-GENE", "5€", 54, 56, 9, prob(idUNK, "B-GENE")}, // [UNK] reports the text it covers
			{"I-GENE", "x", 57, 58, 10, prob(idX, "I-GENE")},
		}},
		{AggregateSimple, []ent{
			{"GENE", "insulin", 0, 7, -1, prob(idInsulin, "B-GENE")},
			{"DIS", "##oma", 7, 10, -1, prob(idOma, "B-DIS")}, // a B- inside a word still starts a group
			{"GENE", "kinase receptor", 11, 26, -1, mean(prob(idKinase, "I-GENE"), prob(idRecept, "I-GENE"))},
			{"DIS", "diabetes", 31, 39, -1, prob(idDiab, "B-DIS")},
			{"DIS", "hypertension", 41, 53, -1, prob(idHyper, "I-DIS")}, // "," (O) between
			{"GENE", "5€ x", 54, 58, -1, mean(prob(idUNK, "B-GENE"), prob(idX, "I-GENE"))},
		}},
		{AggregateFirst, []ent{
			// insulinoma takes insulin's B-GENE; kinase and receptor (I-GENE) continue it.
			{"GENE", "insulinoma kinase receptor", 0, 26, -1, mean(prob(idInsulin, "B-GENE"), prob(idKinase, "I-GENE"), prob(idRecept, "I-GENE"))},
			{"DIS", "diabetes", 31, 39, -1, prob(idDiab, "B-DIS")},
			{"DIS", "hypertension", 41, 53, -1, prob(idHyper, "I-DIS")},
			{"GENE", "5€ x", 54, 58, -1, mean(prob(idUNK, "B-GENE"), prob(idX, "I-GENE"))},
		}},
		{AggregateMax, []ent{
			// ##oma is the surer token: insulinoma is B-DIS, and kinase starts a GENE group.
			{"DIS", "insulinoma", 0, 10, -1, prob(idOma, "B-DIS")},
			{"GENE", "kinase receptor", 11, 26, -1, mean(prob(idKinase, "I-GENE"), prob(idRecept, "I-GENE"))},
			{"DIS", "diabetes", 31, 39, -1, prob(idDiab, "B-DIS")},
			{"DIS", "hypertension", 41, 53, -1, prob(idHyper, "I-DIS")},
			{"GENE", "5€ x", 54, 58, -1, mean(prob(idUNK, "B-GENE"), prob(idX, "I-GENE"))},
		}},
		{AggregateAverage, []ent{
			// Averaged, insulinoma is I-GENE, which kinase and receptor continue.
			{"GENE", "insulinoma kinase receptor", 0, 26, -1, mean(avgInsulinoma, prob(idKinase, "I-GENE"), prob(idRecept, "I-GENE"))},
			{"DIS", "diabetes", 31, 39, -1, prob(idDiab, "B-DIS")},
			{"DIS", "hypertension", 41, 53, -1, prob(idHyper, "I-DIS")},
			{"GENE", "5€ x", 54, 58, -1, mean(prob(idUNK, "B-GENE"), prob(idX, "I-GENE"))},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.agg.String(), func(t *testing.T) {
			// The second and third texts check batching and an all-"O" text.
			got, err := m.Entities(context.Background(), []string{text, "diabetes", "and"}, tc.agg)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 3 {
				t.Fatalf("%d results for 3 texts", len(got))
			}
			if len(got[0]) != len(tc.want) {
				t.Fatalf("%d entities, want %d: %+v", len(got[0]), len(tc.want), got[0])
			}
			for i, w := range tc.want {
				g := got[0][i]
				if g.Label != w.label || g.Word != w.word || g.Start != w.start || g.End != w.end || g.Index != w.index {
					t.Errorf("entity %d: %+v, want %+v", i, g, w)
				}
				if math.Abs(float64(g.Score)-w.score) > 1e-5 {
					t.Errorf("entity %d (%s): score %g, want %g", i, w.word, g.Score, w.score)
				}
			}
			if len(got[1]) != 1 || !strings.HasSuffix(got[1][0].Label, "DIS") || got[1][0].Word != "diabetes" {
				t.Errorf("second text: %+v", got[1])
			}
			if got[2] == nil || len(got[2]) != 0 {
				t.Errorf("an all-O text gives %#v, want an empty list", got[2])
			}
			b, err := json.Marshal(got[0][0])
			if err != nil {
				t.Fatal(err)
			}
			key := `{"entity_group":`
			if tc.agg == AggregateNone {
				key = `{"entity":`
			}
			if !strings.HasPrefix(string(b), key) || strings.Contains(string(b), `"index"`) != (tc.agg == AggregateNone) {
				t.Errorf("JSON %s", b)
			}
		})
	}
}

// TestSubwordHeuristic checks the pipeline's fallback word rule (used when
// the tokenizer has no continuing-subword prefix, e.g. byte-level BPE): a
// token continues a word unless it starts the text or touches a space.
func TestSubwordHeuristic(t *testing.T) {
	dir := t.TempDir()
	writeByteLevelTokenizer(t, dir)
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if tok.ContinuingSubwordPrefix() != "" {
		t.Fatalf("prefix %q", tok.ContinuingSubwordPrefix())
	}
	m := &Model{tok: tok, cfg: &config.Model{ID2Label: []string{"O", "X"}}}
	text := "ab cd"
	e, err := tok.Encode(text, tokenizer.Options{AddSpecialTokens: true})
	if err != nil {
		t.Fatal(err)
	}
	logits := make([]float32, 2*len(e.IDs))
	pre := m.gatherPreEntities(text, e, logits, 2)
	// Tokens (no merges): a b Ġ c d.
	var got []bool
	var words []string
	for _, p := range pre {
		got = append(got, p.subword)
		words = append(words, p.word)
	}
	want := []bool{false, true, false, false, true}
	if len(got) != len(want) {
		t.Fatalf("tokens %q", words)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("token %d %q: subword %v, want %v", i, words[i], got[i], want[i])
		}
	}
	// Word grouping joins the byte-level pieces back into text.
	ents := m.aggregateWords(pre, AggregateFirst)
	var ws []string
	for _, x := range ents {
		ws = append(ws, x.Word)
	}
	if strings.Join(ws, "|") != "ab| |cd" {
		t.Errorf("words %q", ws)
	}
}

func TestEntitiesErrors(t *testing.T) {
	ctx := context.Background()
	m, err := Load(goldenFolder(t, "bert_mlm", "st_embed"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Entities(ctx, []string{"x"}, AggregateSimple); err == nil || !strings.Contains(err.Error(), "no token-classification head") {
		t.Errorf("masked-LM model: %v", err)
	}
	tc, err := Load(goldenFolder(t, "bert_tokcls", "st_embed"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tc.Entities(ctx, nil, AggregateSimple); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty batch: %v", err)
	}
	if _, err := tc.Entities(ctx, []string{"x"}, Aggregation(9)); err == nil {
		t.Error("unknown aggregation accepted")
	}
	for i, name := range []string{"none", "simple", "first", "average", "MAX"} {
		a, err := ParseAggregation(name)
		if err != nil || a != Aggregation(i) {
			t.Errorf("ParseAggregation(%q) = %v, %v", name, a, err)
		}
	}
	if _, err := ParseAggregation("mean"); err == nil {
		t.Error(`ParseAggregation("mean") accepted`)
	}
}
