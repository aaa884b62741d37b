package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"bioencoder"
)

var similarityFlags struct {
	model string
}

var similarityCmd = &cobra.Command{
	Use:   "similarity TEXT_A TEXT_B [TEXT...]",
	Short: "Pairwise similarity matrix of texts with the model's similarity function",
	Long: `similarity embeds the texts (at least two: the arguments, or JSON Lines {"text": ...} on
stdin) and writes the similarity matrix, one JSON array per line: row i holds the similarity
of text i to every text, with the model's similarity_fn_name (cosine by default; dot;
euclidean and manhattan as negated distances), as SentenceTransformer.similarity does. For a
ColBERT model, entry (i, j) is MaxSim of text i as a query against text j as a document.`,
	RunE: func(cmd *cobra.Command, args []string) error {
		texts, err := inputTexts(cmd, args, false)
		if err != nil {
			return err
		}
		if len(texts) < 2 {
			return errors.New("similarity needs at least two texts")
		}
		m, err := loadModel(similarityFlags.model)
		if err != nil {
			return err
		}
		matrix, err := similarityMatrix(cmd, m, texts)
		if err != nil {
			return err
		}
		out := newJSONLines(cmd.OutOrStdout())
		for _, row := range matrix {
			if err := out.put(row); err != nil {
				return err
			}
		}
		return out.flush()
	},
}

func similarityMatrix(cmd *cobra.Command, m *bioencoder.Model, texts []string) ([][]float32, error) {
	switch m.Kind() {
	case bioencoder.ColBERT:
		return m.Score(cmd.Context(), texts, texts)
	case bioencoder.CrossEncoder:
		return nil, fmt.Errorf("%s is a cross-encoder (it scores pairs, it has no embeddings): use bioenc rerank", m.Dir())
	}
	vecs, err := m.Embed(cmd.Context(), texts)
	if err != nil {
		return nil, err
	}
	out := make([][]float32, len(vecs))
	for i, a := range vecs {
		out[i] = make([]float32, len(vecs))
		for j, b := range vecs {
			if out[i][j], err = m.Similarity(a, b); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func init() {
	modelFlag(similarityCmd, &similarityFlags.model)
	root.AddCommand(similarityCmd)
}
