package golden

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"bioencoder"
	"bioencoder/model"
	"bioencoder/nn"
	"bioencoder/safetensors"
	"bioencoder/tensor"
)

// Tolerances from golden/README.md.
const (
	tolHidden = 1e-4 // hidden states and logits, absolute, real positions
)

var inputs = map[string]bool{"input_ids": true, "attention_mask": true, "token_type_ids": true, "labels": true}

func openExpected(t *testing.T, dir string) *safetensors.File {
	t.Helper()
	f, err := safetensors.Open(filepath.Join(dir, "expected.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func ints2D(t *testing.T, f *safetensors.File, name string) [][]int {
	t.Helper()
	info, ok := f.Info(name)
	if !ok {
		return nil
	}
	v, err := f.Int64(name)
	if err != nil {
		t.Fatal(err)
	}
	rows, cols := info.Shape[0], info.Shape[1]
	out := make([][]int, rows)
	for r := range out {
		out[r] = make([]int, cols)
		for c := range out[r] {
			out[r][c] = int(v[r*cols+c])
		}
	}
	return out
}

func floats(t *testing.T, f *safetensors.File, name string) ([]float32, []int) {
	t.Helper()
	info, ok := f.Info(name)
	if !ok {
		t.Fatalf("expected.safetensors has no %s", name)
	}
	v, err := f.Float32(name)
	if err != nil {
		t.Fatal(err)
	}
	return v, info.Shape
}

// compare checks got against want (same shape). If mask is given and the
// tensor is token-level ([B, S, ...] with mask [B][S]), only real positions
// count.
func compare(t *testing.T, name string, got []float32, gotShape []int, want []float32, wantShape []int, mask [][]int, tol float64) {
	t.Helper()
	if !tensor.SameShape(gotShape, wantShape) {
		t.Errorf("%s: shape %v, want %v", name, gotShape, wantShape)
		return
	}
	per := 1
	tokenLevel := mask != nil && len(wantShape) >= 2 && wantShape[0] == len(mask) && wantShape[1] == len(mask[0])
	if tokenLevel {
		per = tensor.Numel(wantShape[2:])
	}
	worst, at := 0.0, -1
	for i := range want {
		if tokenLevel {
			tok := i / per
			if mask[tok/len(mask[0])][tok%len(mask[0])] == 0 {
				continue
			}
		}
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if math.IsNaN(float64(got[i])) || d > worst {
			worst, at = d, i
			if math.IsNaN(float64(got[i])) {
				worst = math.Inf(1)
			}
		}
	}
	if worst > tol {
		t.Errorf("%s: max |diff| %.3g at flat index %d (got %v, want %v), tolerance %g", name, worst, at, got[at], want[at], tol)
	} else {
		t.Logf("%s: max |diff| %.3g", name, worst)
	}
}

// checkForward runs a model fixture from its stored input ids and compares
// every stored output.
func checkForward(t *testing.T, dir string) {
	m, err := model.Open(dir, model.DefaultOptions)
	if err != nil {
		t.Fatal(err)
	}
	exp := openExpected(t, dir)
	ids := ints2D(t, exp, "input_ids")
	mask := ints2D(t, exp, "attention_mask")
	types := ints2D(t, exp, "token_type_ids")
	var ws tensor.Workspace
	out, err := model.Forward(m, nn.NewGraph(&ws, false), ids, mask, types)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, name := range exp.Names() {
		if inputs[name] {
			continue
		}
		want, shape := floats(t, exp, name)
		got, ok := out[name]
		if !ok {
			t.Errorf("fixture has %s %v; bioencoder produces no such output for this model", name, shape)
			continue
		}
		compare(t, name, got.Data, got.Shape, want, shape, mask, tolHidden)
		checked++
	}
	if checked == 0 {
		t.Fatal("fixture has no outputs to check")
	}
}

type stExpected struct {
	Texts          []string   `json:"texts"`
	Tokens         [][]string `json:"tokens"`
	IDsUntruncated [][]int    `json:"ids_untruncated"`
	InputIDs       [][]int    `json:"input_ids"`
	AttentionMask  [][]int    `json:"attention_mask"`
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// checkSTEmbed embeds the fixture's texts end to end (strip, tokenize,
// truncate, encode, pool, normalise) and compares ids and embeddings.
func checkSTEmbed(t *testing.T, dir string) {
	var e stExpected
	readJSON(t, filepath.Join(dir, "expected.json"), &e)
	m, err := bioencoder.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind() != bioencoder.SentenceTransformer {
		t.Fatalf("kind %v, want sentence-transformer", m.Kind())
	}
	checkIDs(t, m, e.Texts, e.InputIDs, e.AttentionMask)
	got, err := m.Embed(context.Background(), e.Texts)
	if err != nil {
		t.Fatal(err)
	}
	exp := openExpected(t, dir)
	want, shape := floats(t, exp, "sentence_embedding")
	compare(t, "sentence_embedding", flat(got), []int{len(got), len(got[0])}, want, shape, nil, tolHidden)
	cos, cshape := floats(t, exp, "cosine_matrix")
	var gotCos []float32
	for i := range got {
		for j := range got {
			s, err := m.Similarity(got[i], got[j])
			if err != nil {
				t.Fatal(err)
			}
			gotCos = append(gotCos, s)
		}
	}
	compare(t, "cosine_matrix", gotCos, cshape, cos, cshape, nil, tolHidden)
}

// checkIDs compares the model's own tokenization of texts with the
// fixture's padded ids on real positions.
func checkIDs(t *testing.T, m *bioencoder.Model, texts []string, ids, mask [][]int) {
	t.Helper()
	encs, err := m.TokenizeTexts(texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range encs {
		n := 0
		for _, v := range mask[i] {
			n += v
		}
		if len(e) != n {
			t.Errorf("text %d: %d tokens, want %d", i, len(e), n)
			continue
		}
		for j := range e {
			if e[j] != ids[i][j] {
				t.Errorf("text %d: ids %v, want %v", i, e, ids[i][:n])
				break
			}
		}
	}
}

func flat(rows [][]float32) []float32 {
	var out []float32
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}

type ceExpected struct {
	Pairs    [][2]string `json:"pairs"`
	InputIDs [][]int     `json:"input_ids"`
	Logits   []float32   `json:"logits"`
	Scores   []float32   `json:"scores"`
}

func checkCrossEncoder(t *testing.T, dir string) {
	var e ceExpected
	readJSON(t, filepath.Join(dir, "expected.json"), &e)
	m, err := bioencoder.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind() != bioencoder.CrossEncoder {
		t.Fatalf("kind %v, want cross-encoder", m.Kind())
	}
	exp := openExpected(t, dir)
	mask := ints2D(t, exp, "attention_mask")
	pairs := make([]bioencoder.Pair, len(e.Pairs))
	for i, p := range e.Pairs {
		pairs[i] = bioencoder.Pair{A: p[0], B: p[1]}
	}
	encs, err := m.TokenizePairs(pairs)
	if err != nil {
		t.Fatal(err)
	}
	for i, ids := range encs {
		for j, id := range ids {
			if mask[i][j] == 0 || id != e.InputIDs[i][j] {
				t.Fatalf("pair %d: ids %v, want %v", i, ids, e.InputIDs[i])
			}
		}
	}
	logits, err := m.Logits(context.Background(), pairs)
	if err != nil {
		t.Fatal(err)
	}
	want, shape := floats(t, exp, "logits")
	compare(t, "logits", flat(logits), []int{len(logits), 1}, want, shape, nil, tolHidden)
	for i := range pairs {
		docs := []string{pairs[i].B}
		s, err := m.Rerank(context.Background(), pairs[i].A, docs)
		if err != nil {
			t.Fatal(err)
		}
		if d := math.Abs(float64(s[0] - e.Scores[i])); d > tolHidden {
			t.Errorf("pair %d: score %v, want %v", i, s[0], e.Scores[i])
		}
	}
}

type colbertExpected struct {
	Queries          []string    `json:"queries"`
	Documents        []string    `json:"documents"`
	QueryInputIDs    [][]int     `json:"query_input_ids"`
	DocInputIDs      [][]int     `json:"doc_input_ids"`
	DocKeptPositions [][]int     `json:"doc_kept_positions"`
	MaxSim           [][]float32 `json:"maxsim"`
}

func checkColBERT(t *testing.T, dir string) {
	var e colbertExpected
	readJSON(t, filepath.Join(dir, "expected.json"), &e)
	m, err := bioencoder.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind() != bioencoder.ColBERT {
		t.Fatalf("kind %v, want colbert", m.Kind())
	}
	exp := openExpected(t, dir)
	ctx := context.Background()
	qv, err := m.EncodeColBERT(ctx, e.Queries, true)
	if err != nil {
		t.Fatal(err)
	}
	want, shape := floats(t, exp, "query_vectors")
	compare(t, "query_vectors", flat3(qv), []int{len(qv), len(qv[0]), len(qv[0][0])}, want, shape, nil, tolHidden)

	dv, err := m.EncodeColBERT(ctx, e.Documents, false)
	if err != nil {
		t.Fatal(err)
	}
	wantD, dshape := floats(t, exp, "doc_vectors")
	dim := dshape[2]
	for i, kept := range e.DocKeptPositions {
		if len(dv[i]) != len(kept) {
			t.Errorf("document %d: %d vectors kept, want %d (positions %v)", i, len(dv[i]), len(kept), kept)
			continue
		}
		var w []float32
		for _, pos := range kept {
			w = append(w, wantD[(i*dshape[1]+pos)*dim:(i*dshape[1]+pos+1)*dim]...)
		}
		compare(t, fmt.Sprintf("doc %d kept vectors", i), flat(dv[i]), []int{len(kept), dim}, w, []int{len(kept), dim}, nil, tolHidden)
	}
	scores, err := m.Score(ctx, e.Queries, e.Documents)
	if err != nil {
		t.Fatal(err)
	}
	for i := range scores {
		for j := range scores[i] {
			if d := math.Abs(float64(scores[i][j] - e.MaxSim[i][j])); d > tolHidden {
				t.Errorf("maxsim[%d][%d] = %v, want %v", i, j, scores[i][j], e.MaxSim[i][j])
			}
		}
	}
}

func flat3(x [][][]float32) []float32 {
	var out []float32
	for _, a := range x {
		out = append(out, flat(a)...)
	}
	return out
}

// checkDtypes reads every tensor of the dtype fixture and compares the
// decoded values exactly (bit for bit, -0 included) with expected.json.
func checkDtypes(t *testing.T, dir string) {
	var exp map[string]json.RawMessage
	readJSON(t, filepath.Join(dir, "expected.json"), &exp)
	f, err := safetensors.Open(filepath.Join(dir, "dtypes.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Metadata()["format"] != "pt" {
		t.Errorf("metadata %v, want format=pt", f.Metadata())
	}
	n := 0
	for name, raw := range exp {
		if name[0] == '_' {
			continue
		}
		var e struct {
			Shape  []int             `json:"shape"`
			Values []json.RawMessage `json:"values_as_f64_repr"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatalf("expected.json %s: %v", name, err)
		}
		info, ok := f.Info(name)
		if !ok {
			t.Errorf("tensor %s missing", name)
			continue
		}
		if !tensor.SameShape(info.Shape, e.Shape) || info.Numel() != len(e.Values) {
			t.Errorf("%s: shape %v, want %v (%d values)", name, info.Shape, e.Shape, len(e.Values))
			continue
		}
		if info.DType.IsInt() {
			v, err := f.Int64(name)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range e.Values {
				w, err := strconv.ParseInt(string(r), 10, 64)
				if err != nil || v[i] != w {
					t.Errorf("%s[%d] = %d, want %s", name, i, v[i], r)
				}
			}
		} else {
			v, err := f.Float32(name)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range e.Values {
				var s string
				if err := json.Unmarshal(r, &s); err != nil {
					t.Fatalf("%s[%d]: %v", name, i, err)
				}
				w, err := strconv.ParseFloat(s, 64)
				if err != nil {
					t.Fatalf("%s[%d]: %v", name, i, err)
				}
				if float64(v[i]) != w || math.Signbit(float64(v[i])) != math.Signbit(w) {
					t.Errorf("%s[%d] = %v, want %s", name, i, v[i], s)
				}
			}
		}
		n++
	}
	if n == 0 || n != f.Len() {
		t.Fatalf("checked %d tensors; the file holds %d", n, f.Len())
	}
}

// checkTrain and checkTrainST are filled in by the training engine.
func checkTrain(t *testing.T, dir string)   { checkTraining(t, dir) }
func checkTrainST(t *testing.T, dir string) { checkTrainingST(t, dir) }
