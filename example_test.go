package bioencoder_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"bioencoder"
)

// The examples use the small random-weight models of testdata/golden, so
// their numbers mean nothing beyond showing the calls; any Hugging Face
// folder of the same kind works the same way.

// withTokenizer assembles a model folder from a golden fixture's config and
// weights and st_embed's tokenizer (the golden masked-LM and classifier
// fixtures have no tokenizer of their own).
func withTokenizer(fixture string) string {
	dir, err := os.MkdirTemp("", "bioencoder-example")
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range []string{fixture + "/config.json", fixture + "/model.safetensors", "st_embed/vocab.txt",
		"st_embed/tokenizer.json", "st_embed/tokenizer_config.json", "st_embed/special_tokens_map.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", "golden", f))
		if err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	return dir
}

// Sentence embeddings from a sentence-transformers folder, compared with
// the model's similarity function.
func Example() {
	m, err := bioencoder.Load("testdata/golden/st_embed")
	if err != nil {
		log.Fatal(err)
	}
	vecs, err := m.Embed(context.Background(), []string{
		"The patient was diagnosed with type 2 diabetes and hypertension.",
		"Hypertension and hyperlipidemia are common comorbidities!",
	})
	if err != nil {
		log.Fatal(err)
	}
	sim, err := m.Similarity(vecs[0], vecs[1])
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s, %d dimensions, %s similarity %.2f\n", m.Kind(), len(vecs[0]), m.SimilarityName(), sim)
	// Output:
	// sentence-transformer, 32 dimensions, cosine similarity 0.87
}

// Reranking documents with a cross-encoder.
func ExampleModel_Rerank() {
	m, err := bioencoder.Load("testdata/golden/cross_encoder")
	if err != nil {
		log.Fatal(err)
	}
	docs := []string{
		"High blood pressure is associated with diet, age and kidney disease.",
		"The mouse model showed increased tumor growth.",
	}
	scores, err := m.Rerank(context.Background(), "what causes hypertension?", docs)
	if err != nil {
		log.Fatal(err)
	}
	for i, s := range scores {
		fmt.Printf("%.3f %s\n", s, docs[i])
	}
	// Output:
	// 0.347 High blood pressure is associated with diet, age and kidney disease.
	// 0.395 The mouse model showed increased tumor growth.
}

// Late-interaction (MaxSim) scores of a PyLate ColBERT folder.
func ExampleModel_Score() {
	m, err := bioencoder.Load("testdata/golden/colbert")
	if err != nil {
		log.Fatal(err)
	}
	scores, err := m.Score(context.Background(),
		[]string{"what causes hypertension?"},
		[]string{"High blood pressure is associated with diet, age and kidney disease.", "Insulin doses (mg/kg) were reduced in pediatric patients!"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%.2f\n", scores[0])
	// Output:
	// [14.79 14.88]
}

// The top candidates for a masked token.
func ExampleModel_FillMask() {
	dir := withTokenizer("bert_mlm")
	defer os.RemoveAll(dir)
	m, err := bioencoder.Load(dir)
	if err != nil {
		log.Fatal(err)
	}
	preds, err := m.FillMask(context.Background(), []string{"insulin [MASK] in children"}, 3)
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range preds[0] {
		fmt.Printf("%.3f %-12s %q\n", p.Score, p.TokenStr, p.Sequence)
	}
	// Output:
	// 0.045 ##oh         "insulinoh in children"
	// 0.038 randomized   "insulin randomized in children"
	// 0.018 erythrocyte  "insulin erythrocyte in children"
}

// Named entities of a token classifier, grouped as the Hugging Face
// pipeline's aggregation_strategy="simple" does.
func ExampleModel_Entities() {
	dir := withTokenizer("bert_tokcls")
	defer os.RemoveAll(dir)
	m, err := bioencoder.Load(dir)
	if err != nil {
		log.Fatal(err)
	}
	text := "Insulin receptor kinase in diabetes"
	ents, err := m.Entities(context.Background(), []string{text}, bioencoder.AggregateSimple)
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range ents[0] {
		fmt.Printf("%-7s %.3f %q = text[%d:%d]\n", e.Label, e.Score, e.Word, e.Start, e.End)
	}
	// Output:
	// LABEL_3 0.496 "insulin" = text[0:7]
	// LABEL_2 0.574 "receptor kinase in diabetes" = text[8:35]
}

// Label probabilities of a sequence classifier.
func ExampleModel_Classify() {
	dir := withTokenizer("bert_seqcls")
	defer os.RemoveAll(dir)
	m, err := bioencoder.Load(dir)
	if err != nil {
		log.Fatal(err)
	}
	res, err := m.Classify(context.Background(), []string{"Insulin doses were reduced in pediatric patients."})
	if err != nil {
		log.Fatal(err)
	}
	for _, l := range res[0] {
		fmt.Printf("%s %.3f\n", l.Label, l.Score)
	}
	// Output:
	// LABEL_0 0.466
	// LABEL_2 0.285
	// LABEL_1 0.249
}

// By default texts longer than the model's limit are truncated; with
// WithTruncation(false) they are an error.
func ExampleWithTruncation() {
	m, err := bioencoder.Load("testdata/golden/st_embed", bioencoder.WithTruncation(false))
	if err != nil {
		log.Fatal(err)
	}
	long := strings.Repeat("patient ", 40)
	_, err = m.Embed(context.Background(), []string{"short text", long})
	fmt.Println(err)
	// Output:
	// bioencoder: text 1 has 42 tokens, more than the 32 the model reads (truncation is off)
}
