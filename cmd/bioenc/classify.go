package main

import (
	"errors"

	"github.com/spf13/cobra"
)

var classifyFlags struct {
	model string
	topK  int
}

var classifyCmd = &cobra.Command{
	Use:   "classify [TEXT...]",
	Short: "Label probabilities of each text (sequence classifiers)",
	Long: `classify runs a ...ForSequenceClassification folder on each text (the arguments, or JSON Lines
{"text": ...} on stdin) and writes one line per text: a JSON array of {"label", "score"}, best
first - softmax over the labels, or a sigmoid per label for one-label and multi-label models
(transformers' text-classification pipeline with top_k=None). --top-k N keeps the N best.`,
	RunE: func(cmd *cobra.Command, args []string) error {
		f := classifyFlags
		if f.topK < 0 {
			return errors.New("--top-k must not be negative")
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
			res, err := m.Classify(cmd.Context(), texts[lo:min(lo+chunk, len(texts))])
			if err != nil {
				return err
			}
			for _, r := range res {
				if f.topK > 0 && f.topK < len(r) {
					r = r[:f.topK]
				}
				if err := out.put(r); err != nil {
					return err
				}
			}
		}
		return out.flush()
	},
}

func init() {
	modelFlag(classifyCmd, &classifyFlags.model)
	classifyCmd.Flags().IntVar(&classifyFlags.topK, "top-k", 0, "keep the K most probable labels (0 = all)")
	root.AddCommand(classifyCmd)
}
