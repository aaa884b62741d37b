package main

import (
	"github.com/spf13/cobra"

	"bioencoder"
)

var nerFlags struct {
	model       string
	aggregation string
}

var nerCmd = &cobra.Command{
	Use:   "ner [TEXT...]",
	Short: "Named entities of each text (token classifiers)",
	Long: `ner runs a ...ForTokenClassification folder on each text (the arguments, or JSON Lines
{"text": ...} on stdin) with the semantics of transformers' token-classification pipeline and
writes one line per text: a JSON array of entities. --aggregation is the pipeline's
aggregation_strategy:
  none     every token not labelled O: {"entity", "score", "index", "word", "start", "end"}
  simple   adjacent tokens of the same tag grouped (B- starts a new group)
  first    each word takes its first token's label, then words are grouped
  average  each word takes the label of its averaged token probabilities
  max      each word takes the label of its most confident token
Groups are {"entity_group", "score", "word", "start", "end"}; start and end are character
(code point) offsets into the text.`,
	RunE: func(cmd *cobra.Command, args []string) error {
		f := nerFlags
		agg, err := bioencoder.ParseAggregation(f.aggregation)
		if err != nil {
			return err
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
			ents, err := m.Entities(cmd.Context(), texts[lo:min(lo+chunk, len(texts))], agg)
			if err != nil {
				return err
			}
			for _, e := range ents {
				if err := out.put(e); err != nil {
					return err
				}
			}
		}
		return out.flush()
	},
}

func init() {
	modelFlag(nerCmd, &nerFlags.model)
	nerCmd.Flags().StringVar(&nerFlags.aggregation, "aggregation", "simple", "none, simple, first, average or max")
	root.AddCommand(nerCmd)
}
