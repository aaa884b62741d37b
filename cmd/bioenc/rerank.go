package main

import (
	"errors"
	"fmt"
	"sort"

	"github.com/spf13/cobra"

	"bioencoder"
)

var rerankFlags struct {
	model      string
	query      string
	returnText bool
	topN       int
}

var rerankCmd = &cobra.Command{
	Use:   "rerank --query Q [DOC...]",
	Short: "Score documents against a query; JSON Lines {\"index\", \"score\"} best first",
	Long: `rerank scores every document (the arguments, or JSON Lines {"text": ...} or {"document": ...}
on stdin) against --query and writes one line {"index": i, "score": s} per document, sorted by
score, best first (as Text Embeddings Inference's /rerank); index is the document's position in
the input. The score depends on the model:
  cross-encoder (or one-label sequence classifier)  its activated logit (CrossEncoder.predict)
  PyLate ColBERT                                    MaxSim of the query and document vectors
  sentence-transformers / plain encoder             similarity_fn of the query embedding
                                                    (query prompt) and document embedding
--return-text adds each document's "text"; --top-n keeps the best N.`,
	RunE: func(cmd *cobra.Command, args []string) error {
		f := rerankFlags
		if f.query == "" {
			return errors.New("--query is required")
		}
		if f.topN < 0 {
			return errors.New("--top-n must not be negative")
		}
		docs, err := inputTexts(cmd, args, true)
		if err != nil {
			return err
		}
		m, err := loadModel(f.model)
		if err != nil {
			return err
		}
		scores, err := rerankScores(cmd, m, f.query, docs)
		if err != nil {
			return err
		}
		order := make([]int, len(docs))
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, b int) bool { return scores[order[a]] > scores[order[b]] })
		if f.topN > 0 && f.topN < len(order) {
			order = order[:f.topN]
		}
		out := newJSONLines(cmd.OutOrStdout())
		for _, i := range order {
			r := struct {
				Index int     `json:"index"`
				Score float32 `json:"score"`
				Text  *string `json:"text,omitempty"`
			}{Index: i, Score: scores[i]}
			if f.returnText {
				r.Text = &docs[i]
			}
			if err := out.put(r); err != nil {
				return err
			}
		}
		return out.flush()
	},
}

func rerankScores(cmd *cobra.Command, m *bioencoder.Model, query string, docs []string) ([]float32, error) {
	ctx := cmd.Context()
	switch m.Kind() {
	case bioencoder.CrossEncoder, bioencoder.Classifier:
		return m.Rerank(ctx, query, docs)
	case bioencoder.ColBERT:
		s, err := m.Score(ctx, []string{query}, docs)
		if err != nil {
			return nil, err
		}
		return s[0], nil
	case bioencoder.SentenceTransformer, bioencoder.Encoder:
		q, err := m.EmbedQuery(ctx, []string{query})
		if err != nil {
			return nil, err
		}
		d, err := m.EmbedDocument(ctx, docs)
		if err != nil {
			return nil, err
		}
		out := make([]float32, len(d))
		for i, v := range d {
			if out[i], err = m.Similarity(q[0], v); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s is a %s model; rerank needs a cross-encoder, ColBERT or embedding model", m.Dir(), m.Kind())
}

func init() {
	fl := rerankCmd.Flags()
	modelFlag(rerankCmd, &rerankFlags.model)
	fl.StringVar(&rerankFlags.query, "query", "", "the query (required)")
	fl.BoolVar(&rerankFlags.returnText, "return-text", false, "include each document's text")
	fl.IntVar(&rerankFlags.topN, "top-n", 0, "keep only the N best documents (0 = all)")
	root.AddCommand(rerankCmd)
}
