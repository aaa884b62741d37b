package mining

import (
	"sync"
	"testing"

	"bioencoder/eval"
	"bioencoder/internal/testutil"
)

var benchDocs struct {
	once sync.Once
	docs []Doc
	err  error
}

// sharedTrainingDocs is the shared abstracts minus the held-out tail.
func sharedTrainingDocs(b *testing.B) []Doc {
	path := testutil.SharedOrSkip(b, "data", eval.FilePubMedAbstract)
	benchDocs.once.Do(func() {
		all, _, err := Load(path, "text", -1)
		if err != nil {
			benchDocs.err = err
			return
		}
		tail, err := HeldOutTailStart(all)
		if err != nil {
			benchDocs.err = err
			return
		}
		benchDocs.docs, _, benchDocs.err = Before(all, tail)
	})
	if benchDocs.err != nil {
		b.Fatal(benchDocs.err)
	}
	return benchDocs.docs
}

func BenchmarkIndex(b *testing.B) {
	docs := sharedTrainingDocs(b)
	for b.Loop() {
		NewMiner(docs, MustField("text"), DefaultK1, DefaultB)
	}
}

func BenchmarkSimilarPairs(b *testing.B) {
	m := NewMiner(sharedTrainingDocs(b), MustField("text"), DefaultK1, DefaultB)
	for b.Loop() {
		m.SimilarPairs(SimilarOptions{})
	}
}

func BenchmarkHardNegatives(b *testing.B) {
	docs := sharedTrainingDocs(b)
	m := NewMiner(docs, MustField("text"), DefaultK1, DefaultB)
	specs, _ := ParseSectionPairs(DefaultSectionPairs)
	pairs := SectionPairs(docs, specs)
	b.ReportMetric(float64(len(pairs)), "pairs")
	for b.Loop() {
		m.HardNegatives(pairs, NegativeOptions{N: 3, Seed: 1})
	}
}
