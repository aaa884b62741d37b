package main

import (
	"github.com/spf13/cobra"
)

var fillMaskFlags struct {
	model string
	topK  int
}

// maskCandidate is one line item of the fill-mask pipeline's output.
type maskCandidate struct {
	Score    float32 `json:"score"`
	Token    int     `json:"token"`
	TokenStr string  `json:"token_str"`
	Sequence string  `json:"sequence"`
}

var fillMaskCmd = &cobra.Command{
	Use:   "fill-mask [TEXT...]",
	Short: "Top-k tokens for each mask token of each text (masked-LM models)",
	Long: `fill-mask predicts the masked tokens of each text (the arguments, or JSON Lines {"text": ...}
on stdin) with a ...ForMaskedLM folder, as transformers' fill-mask pipeline does. Each text
must contain the tokenizer's mask token (e.g. [MASK] for BERT, [MASK] or <mask> for
ModernBERT). One line per text: a JSON array of the --top-k candidates
{"score", "token", "token_str", "sequence"}, best first; for a text with several masks, an
array of such arrays, one per mask (the sequences then keep the special tokens, as the
pipeline does).`,
	RunE: func(cmd *cobra.Command, args []string) error {
		f := fillMaskFlags
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
			preds, err := m.FillMask(cmd.Context(), texts[lo:min(lo+chunk, len(texts))], f.topK)
			if err != nil {
				return err
			}
			for _, p := range preds {
				var masks [][]maskCandidate
				for _, c := range p {
					for c.Mask >= len(masks) {
						masks = append(masks, nil)
					}
					masks[c.Mask] = append(masks[c.Mask], maskCandidate{c.Score, c.Token, c.TokenStr, c.Sequence})
				}
				var v any = masks
				if len(masks) == 1 {
					v = masks[0]
				}
				if err := out.put(v); err != nil {
					return err
				}
			}
		}
		return out.flush()
	},
}

func init() {
	modelFlag(fillMaskCmd, &fillMaskFlags.model)
	fillMaskCmd.Flags().IntVar(&fillMaskFlags.topK, "top-k", 5, "candidates per mask")
	root.AddCommand(fillMaskCmd)
}
