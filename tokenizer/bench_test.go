package tokenizer

import (
	"testing"

	"bioencoder/internal/testutil"
)

func benchCorpus(b *testing.B) []Input {
	path := testutil.SharedOrSkip(b, "data", "pubmed_abstracts.jsonl.gz")
	recs := readGoldenTexts(b, path, 1000)
	in := make([]Input, len(recs))
	for i, t := range recs {
		in[i] = Input{Text: t}
	}
	return in
}

func benchmarkTokenizer(b *testing.B, name string) {
	tk := sharedTokenizer(b, name)
	in := benchCorpus(b)
	n := 0
	for _, x := range in {
		n += len(x.Text)
	}
	b.SetBytes(int64(n))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := tk.EncodeBatch(in, DefaultOptions()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBERT and BenchmarkModernBERT encode 1000 PubMed abstracts.
func BenchmarkBERT(b *testing.B)       { benchmarkTokenizer(b, "bert-base-uncased") }
func BenchmarkModernBERT(b *testing.B) { benchmarkTokenizer(b, "modernbert-base") }
