package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"bioencoder"
)

var colbertFlags struct {
	model string
	query bool
	score bool
}

var colbertCmd = &cobra.Command{
	Use:   "colbert [--query] TEXT... | --score [--query] Q DOC...",
	Short: "ColBERT token vectors, or MaxSim scores of documents against a query",
	Long: `colbert runs a PyLate ColBERT folder.

Without --score it writes one line {"vectors": [[...], ...]} per text (the arguments, or JSON
Lines {"text": ...} on stdin): the L2-normalised token vectors ColBERT keeps - every query
position including the [MASK] expansion with --query, else the document tokens that are not
punctuation.

With --score the first argument is the query (--query may be given to say so) and the others
are documents; it writes one line {"index": i, "score": s} per document, in input order, with
s = MaxSim = sum over query vectors of the best dot product with a document vector. On stdin,
--score reads JSON Lines {"query": ..., "document": ...} and writes {"score": s} per line.`,
	RunE: func(cmd *cobra.Command, args []string) error {
		f := colbertFlags
		if f.score {
			return colbertScore(cmd, args)
		}
		texts, err := inputTexts(cmd, args, false)
		if err != nil {
			return err
		}
		m, err := loadModel(f.model)
		if err != nil {
			return err
		}
		out := newJSONLines(cmd.OutOrStdout())
		for lo := 0; lo < len(texts); lo += chunk {
			vecs, err := m.EncodeColBERT(cmd.Context(), texts[lo:min(lo+chunk, len(texts))], f.query)
			if err != nil {
				return err
			}
			for _, v := range vecs {
				if v == nil {
					v = [][]float32{}
				}
				if err := out.put(struct {
					Vectors [][]float32 `json:"vectors"`
				}{v}); err != nil {
					return err
				}
			}
		}
		return out.flush()
	},
}

func colbertScore(cmd *cobra.Command, args []string) error {
	var queries, docs []string
	pairs := len(args) == 0
	if pairs {
		lines, err := stdinLines(cmd)
		if err != nil {
			return err
		}
		for i, l := range lines {
			if l.Query == nil || l.Document == nil {
				return fmt.Errorf("stdin line %d: --score needs {\"query\": ..., \"document\": ...}", i+1)
			}
			queries, docs = append(queries, *l.Query), append(docs, *l.Document)
		}
	} else {
		if len(args) < 2 {
			return errors.New("--score needs a query and at least one document")
		}
		queries, docs = args[:1], args[1:]
	}
	m, err := loadModel(colbertFlags.model)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	var qv [][][]float32 // the query's vectors (arguments), or this chunk's (pairs)
	if !pairs {
		if qv, err = m.EncodeColBERT(ctx, queries, true); err != nil {
			return err
		}
	}
	out := newJSONLines(cmd.OutOrStdout())
	for lo := 0; lo < len(docs); lo += chunk {
		hi := min(lo+chunk, len(docs))
		if pairs {
			if qv, err = m.EncodeColBERT(ctx, queries[lo:hi], true); err != nil {
				return err
			}
		}
		dv, err := m.EncodeColBERT(ctx, docs[lo:hi], false)
		if err != nil {
			return err
		}
		for j, d := range dv {
			if pairs {
				err = out.put(struct {
					Score float32 `json:"score"`
				}{bioencoder.MaxSim(qv[j], d)})
			} else {
				err = out.put(struct {
					Index int     `json:"index"`
					Score float32 `json:"score"`
				}{lo + j, bioencoder.MaxSim(qv[0], d)})
			}
			if err != nil {
				return err
			}
		}
	}
	return out.flush()
}

func init() {
	fl := colbertCmd.Flags()
	modelFlag(colbertCmd, &colbertFlags.model)
	fl.BoolVar(&colbertFlags.query, "query", false, "encode the texts as queries (with --score: the first text is the query)")
	fl.BoolVar(&colbertFlags.score, "score", false, "score documents against a query with MaxSim")
	root.AddCommand(colbertCmd)
}
