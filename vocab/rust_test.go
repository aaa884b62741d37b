package vocab

import (
	"os"
	"strings"
	"testing"

	"bioencoder/corpus"
	"bioencoder/internal/testutil"
)

// TestRustReplay compares with a vocabulary the official Rust trainer made
// (tools/vocabcheck/train_rust.js writes it; set BIOENC_VOCAB_RUST to the
// file). The Rust trainer numbers the "##x" character tokens in hash-map
// order; replaying that order here must give the identical vocabulary.
func TestRustReplay(t *testing.T) {
	path := os.Getenv("BIOENC_VOCAB_RUST")
	if path == "" {
		t.Skip("set BIOENC_VOCAB_RUST to a vocabulary from tools/vocabcheck/train_rust.js")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	src := os.Getenv("BIOENC_VOCAB_CORPUS")
	if src == "" {
		src = testutil.SharedOrSkip(t, "data", "pubmed_abstracts.jsonl.gz")
	}
	// The settings of WordPieceTrainer::builder().build(), which the npm
	// binding's Tokenizer.train uses.
	o := DefaultOptions()
	o.VocabSize = len(want)
	o.MinFrequency = 0
	o.LimitAlphabet = 0
	o.SpecialTokens = []string{"[UNK]"}
	train := func(order []string) []string {
		o.subwordOrder = order
		o.VocabSize = len(want) + 1
		v, err := TrainDocuments(corpus.Texts(src, "text", -1), o, nil)
		if err != nil {
			t.Fatal(err)
		}
		return v.Tokens[1:] // without [UNK], which the Rust run did not have
	}
	var order []string
	for _, tok := range want {
		if strings.HasPrefix(tok, "##") && len([]rune(tok)) == 3 {
			order = append(order, tok)
		}
	}
	got := train(order)
	for i := range want {
		if i >= len(got) || got[i] != want[i] {
			g := "<none>"
			if i < len(got) {
				g = got[i]
			}
			t.Fatalf("replayed order: token %d is %q, Rust has %q (%d vs %d tokens)", i, g, want[i], len(got), len(want))
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d tokens, Rust has %d", len(got), len(want))
	}
	// With our own (code point) order, report the overlap.
	ours := train(nil)
	set := map[string]bool{}
	for _, s := range ours {
		set[s] = true
	}
	common := 0
	for _, s := range want {
		if set[s] {
			common++
		}
	}
	t.Logf("identical with the replayed order (%d tokens); code point order shares %d/%d tokens (%.2f%%)",
		len(want), common, len(want), 100*float64(common)/float64(len(want)))
}
