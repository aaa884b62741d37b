package bioencoder

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"unicode"

	"bioencoder/config"
	"bioencoder/internal/testutil"
	"bioencoder/model"
	"bioencoder/nn"
	"bioencoder/tensor"
	"bioencoder/tokenizer"
)

// tokenizerFiles are the files a folder's tokenizer may consist of.
var tokenizerFiles = []string{"tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json"}

// goldenFolder copies a golden model fixture (config.json and weights)
// into a temporary folder, with the tokenizer files of the fixture named
// by tokFrom (the fixtures share st_embed's 1000-token BERT vocabulary and
// special ids).
func goldenFolder(t *testing.T, fixture, tokFrom string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"config.json", "model.safetensors"} {
		copyFile(t, testutil.Testdata(t, "golden", fixture, name), filepath.Join(dir, name))
	}
	if tokFrom != "" {
		for _, name := range tokenizerFiles {
			src := testutil.Testdata(t, "golden", tokFrom, name)
			if _, err := os.Stat(src); err == nil {
				copyFile(t, src, filepath.Join(dir, name))
			}
		}
	}
	return dir
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeByteLevelTokenizer writes a miniature ModernBERT-style tokenizer.json
// (byte-level BPE without merges, [CLS] $A [SEP]) whose 256 ids match the
// golden ModernBERT fixtures: specials 0..4 ([MASK] with lstrip, as
// ModernBERT's) and the byte-level characters of bytes 0..250 at 5..255.
func writeByteLevelTokenizer(t *testing.T, dir string) {
	t.Helper()
	// GPT-2's byte-to-character table.
	printable := func(b int) bool {
		return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)
	}
	n := 0
	byteChar := make([]rune, 256)
	for b := 0; b < 256; b++ {
		if printable(b) {
			byteChar[b] = rune(b)
		} else {
			byteChar[b] = rune(256 + n)
			n++
		}
	}
	chars := byteChar[:251]
	vocab := map[string]int{}
	specials := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
	var added []map[string]any
	for i, s := range specials {
		vocab[s] = i
		added = append(added, map[string]any{"id": i, "content": s, "single_word": false, "lstrip": s == "[MASK]",
			"rstrip": false, "normalized": false, "special": true})
	}
	for i, c := range chars {
		vocab[string(c)] = 5 + i
	}
	special := func(s string, id int) map[string]any {
		return map[string]any{"id": s, "ids": []int{id}, "tokens": []string{s}}
	}
	tok := map[string]any{
		"version": "1.0", "truncation": nil, "padding": nil, "added_tokens": added,
		"normalizer":    map[string]any{"type": "NFC"},
		"pre_tokenizer": map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
		"post_processor": map[string]any{
			"type":   "TemplateProcessing",
			"single": []any{map[string]any{"SpecialToken": map[string]any{"id": "[CLS]", "type_id": 0}}, map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}}, map[string]any{"SpecialToken": map[string]any{"id": "[SEP]", "type_id": 0}}},
			"pair": []any{map[string]any{"SpecialToken": map[string]any{"id": "[CLS]", "type_id": 0}}, map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}}, map[string]any{"SpecialToken": map[string]any{"id": "[SEP]", "type_id": 0}},
				map[string]any{"Sequence": map[string]any{"id": "B", "type_id": 0}}, map[string]any{"SpecialToken": map[string]any{"id": "[SEP]", "type_id": 0}}},
			"special_tokens": map[string]any{"[CLS]": special("[CLS]", 2), "[SEP]": special("[SEP]", 3)},
		},
		"decoder": map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
		"model": map[string]any{"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil,
			"end_of_word_suffix": nil, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
			"vocab": vocab, "merges": []any{}},
	}
	b, err := json.Marshal(tok)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// referenceMaskLogits runs the whole masked-LM model through model.Forward
// (every position, full vocabulary) and returns the logits at the mask
// positions of one text.
func referenceMaskLogits(t *testing.T, m *Model, text string) [][]float32 {
	t.Helper()
	e, err := m.Tokenizer().Encode(text, tokenizer.Options{AddSpecialTokens: true})
	if err != nil {
		t.Fatal(err)
	}
	maskID, _ := m.Tokenizer().MaskID()
	var types [][]int
	if m.Config().Arch != config.ModernBERT {
		types = [][]int{e.TypeIDs}
	}
	var ws tensor.Workspace
	out, err := model.Forward(m.Net(), nn.NewGraph(&ws, false), [][]int{e.IDs}, nil, types)
	if err != nil {
		t.Fatal(err)
	}
	lg := out["logits"]
	V := lg.Shape[2]
	var rows [][]float32
	for j, id := range e.IDs {
		if id == maskID {
			rows = append(rows, lg.Data[j*V:(j+1)*V])
		}
	}
	return rows
}

// checkAgainstReference compares FillMask's candidates for one text with a
// full softmax and sort of the reference logits.
func checkAgainstReference(t *testing.T, m *Model, text string, got []MaskPrediction, k int) {
	t.Helper()
	ref := referenceMaskLogits(t, m, text)
	if len(got) != len(ref)*k {
		t.Fatalf("%q: %d predictions for %d masks, top-%d", text, len(got), len(ref), k)
	}
	for mi, logits := range ref {
		probs := softmaxRow(logits)
		order := make([]int, len(probs))
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, b int) bool { return probs[order[a]] > probs[order[b]] })
		for r := 0; r < k; r++ {
			p := got[mi*k+r]
			if p.Mask != mi {
				t.Errorf("%q prediction %d: mask %d, want %d", text, mi*k+r, p.Mask, mi)
			}
			if p.Token != order[r] {
				t.Errorf("%q mask %d rank %d: token %d, want %d", text, mi, r, p.Token, order[r])
			}
			if d := math.Abs(float64(p.Score) - probs[order[r]]); d > 1e-5 {
				t.Errorf("%q mask %d rank %d: score %g, want %g", text, mi, r, p.Score, probs[order[r]])
			}
			if p.TokenStr != m.Tokenizer().Decode([]int{p.Token}, false) {
				t.Errorf("token_str %q for id %d", p.TokenStr, p.Token)
			}
		}
	}
}

func TestFillMaskBERT(t *testing.T) {
	m, err := Load(goldenFolder(t, "bert_mlm", "st_embed"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind() != MaskedLM {
		t.Fatalf("kind %s, want masked-lm", m.Kind())
	}
	texts := []string{"the patient has [MASK] disease .", "[MASK] cells and [MASK] in blood"}
	const k = 4
	got, err := m.FillMask(context.Background(), texts, k)
	if err != nil {
		t.Fatal(err)
	}
	for i, text := range texts {
		checkAgainstReference(t, m, text, got[i], k)
	}
	// The WordPiece decoder glues a "##" piece to the previous word and puts
	// a space before any other word.
	piece := func(id int) (string, bool) {
		tok, _ := m.Tokenizer().IDToToken(id)
		if rest, ok := strings.CutPrefix(tok, "##"); ok {
			return rest, isWord(rest)
		}
		return " " + tok, isWord(tok)
	}
	for _, p := range got[0] {
		// One mask: special tokens skipped; the cleanup glues the ".".
		if w, ok := piece(p.Token); ok {
			if want := "the patient has" + w + " disease."; p.Sequence != want {
				t.Errorf("single-mask sequence %q, want %q", p.Sequence, want)
			}
		}
	}
	for _, p := range got[1] {
		// Two masks: special tokens kept, so the other mask stays visible.
		if w, ok := piece(p.Token); ok {
			want := "[CLS]" + w + " cells and [MASK] in blood [SEP]"
			if p.Mask == 1 {
				want = "[CLS] [MASK] cells and" + w + " in blood [SEP]"
			}
			if p.Sequence != want {
				t.Errorf("two-mask sequence %q, want %q", p.Sequence, want)
			}
		}
	}

	// One text per forward pass gives the same answers.
	m.MaxBatchTokens = 1
	one, err := m.FillMask(context.Background(), texts, k)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		for j := range got[i] {
			a, b := got[i][j], one[i][j]
			if a.Token != b.Token || a.Sequence != b.Sequence || math.Abs(float64(a.Score-b.Score)) > 1e-6 {
				t.Errorf("text %d prediction %d differs when batched alone: %+v vs %+v", i, j, a, b)
			}
		}
	}

	// top-k beyond the vocabulary is capped at it, and the probabilities
	// then sum to one.
	all, err := m.FillMask(context.Background(), texts[:1], 5000)
	if err != nil {
		t.Fatal(err)
	}
	if len(all[0]) != m.Config().VocabSize {
		t.Fatalf("%d predictions, want the vocabulary size %d", len(all[0]), m.Config().VocabSize)
	}
	var sum float64
	for _, p := range all[0] {
		sum += float64(p.Score)
	}
	if math.Abs(sum-1) > 1e-4 {
		t.Errorf("probabilities sum to %g", sum)
	}
}

func isWord(s string) bool {
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			return false
		}
	}
	return s != ""
}

func TestFillMaskModernBERT(t *testing.T) {
	dir := goldenFolder(t, "modernbert_mlm", "")
	writeByteLevelTokenizer(t, dir)
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"hello [MASK] world.", "[MASK]a [MASK]"}
	const k = 3
	got, err := m.FillMask(context.Background(), texts, k)
	if err != nil {
		t.Fatal(err)
	}
	for i, text := range texts {
		checkAgainstReference(t, m, text, got[i], k)
	}
	for _, p := range got[0] {
		// [MASK] strips the space before it (lstrip), so the candidate's
		// text lands right after "hello".
		if want := "hello" + p.TokenStr + " world."; p.Sequence != want {
			t.Errorf("sequence %q, want %q", p.Sequence, want)
		}
	}
}

func TestFillMaskErrors(t *testing.T) {
	ctx := context.Background()
	m, err := Load(goldenFolder(t, "bert_mlm", "st_embed"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.FillMask(ctx, []string{"a [MASK] b", "no mask here"}, 5); err == nil ||
		!strings.Contains(err.Error(), "text 1") || !strings.Contains(err.Error(), "[MASK]") {
		t.Errorf("text without a mask: %v", err)
	}
	if _, err := m.FillMask(ctx, []string{"a [MASK]"}, 0); err == nil || !strings.Contains(err.Error(), "top-k") {
		t.Errorf("top-k 0: %v", err)
	}
	if _, err := m.FillMask(ctx, nil, 5); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty batch: %v", err)
	}
	emb, err := Load(testutil.Testdata(t, "golden", "st_embed"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := emb.FillMask(ctx, []string{"a [MASK]"}, 5); err == nil || !strings.Contains(err.Error(), "no masked-LM head") {
		t.Errorf("embedding model: %v", err)
	}
}
