package main

import (
	"math"

	"github.com/spf13/cobra"

	"bioencoder"
)

var embedFlags struct {
	model      string
	promptName string
	prompt     string
	normalize  bool
}

var embedCmd = &cobra.Command{
	Use:   "embed [TEXT...]",
	Short: "Sentence embeddings as JSON Lines {\"embedding\": [...]}",
	Long: `embed encodes each text (the arguments, or JSON Lines {"text": ...} on stdin) with a
sentence-transformers folder or a plain encoder (mean pooling) and writes one line
{"embedding": [...]} per text, in input order. The model's default prompt applies unless
--prompt-name (one of config_sentence_transformers.json's prompts, e.g. query) or --prompt
(literal text prepended) is given. --normalize L2-normalises the vectors.`,
	RunE: func(cmd *cobra.Command, args []string) error {
		f := embedFlags
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
			batch := texts[lo:min(lo+chunk, len(texts))]
			var vecs [][]float32
			if f.prompt == "" && f.promptName == "" {
				vecs, err = m.Embed(cmd.Context(), batch)
			} else {
				vecs, err = m.EmbedWith(cmd.Context(), batch, bioencoder.EmbedOptions{Prompt: f.prompt, PromptName: f.promptName})
			}
			if err != nil {
				return err
			}
			for _, v := range vecs {
				if f.normalize {
					l2Normalize(v)
				}
				if err := out.put(struct {
					Embedding []float32 `json:"embedding"`
				}{v}); err != nil {
					return err
				}
			}
		}
		return out.flush()
	},
}

// l2Normalize divides v by its norm (clamped at 1e-12, as PyTorch).
func l2Normalize(v []float32) {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	n := max(math.Sqrt(s), 1e-12)
	for i := range v {
		v[i] = float32(float64(v[i]) / n)
	}
}

func init() {
	fl := embedCmd.Flags()
	modelFlag(embedCmd, &embedFlags.model)
	fl.StringVar(&embedFlags.promptName, "prompt-name", "", "name of one of the model's prompts (e.g. query, document)")
	fl.StringVar(&embedFlags.prompt, "prompt", "", "literal prompt prepended to every text")
	fl.BoolVar(&embedFlags.normalize, "normalize", false, "L2-normalise the embeddings")
	root.AddCommand(embedCmd)
}
