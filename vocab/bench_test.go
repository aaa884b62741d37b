package vocab

import (
	"testing"

	"bioencoder/corpus"
	"bioencoder/internal/testutil"
)

// sharedTexts reads up to n abstracts of the shared corpus.
func sharedTexts(b *testing.B, n int) []string {
	p := testutil.SharedOrSkip(b, "data", "pubmed_abstracts.jsonl.gz")
	var texts []string
	if err := corpus.Texts(p, "text", -1)(func(s string) bool {
		texts = append(texts, s)
		return len(texts) < n
	}); err != nil {
		b.Fatal(err)
	}
	return texts
}

// BenchmarkFeed measures word counting (normalizer + pre-tokenizer + map).
func BenchmarkFeed(b *testing.B) {
	texts := sharedTexts(b, 1000)
	size := 0
	for _, s := range texts {
		size += len(s)
	}
	b.SetBytes(int64(size))
	for b.Loop() {
		tr, err := NewTrainer(DefaultOptions())
		if err != nil {
			b.Fatal(err)
		}
		if err := tr.Feed(texts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMerge measures the merge phase alone (8k vocabulary, all
// abstracts counted once outside the loop).
func BenchmarkMerge(b *testing.B) {
	texts := sharedTexts(b, 1<<30)
	o := DefaultOptions()
	o.VocabSize = 8000
	tr, err := NewTrainer(o)
	if err != nil {
		b.Fatal(err)
	}
	if err := tr.Feed(texts); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := tr.Train(); err != nil {
			b.Fatal(err)
		}
	}
}
