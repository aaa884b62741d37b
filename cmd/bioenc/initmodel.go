package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"bioencoder/config"
	"bioencoder/model"
)

var initModelFlags struct {
	arch           string
	hidden         int
	layers         int
	heads          int
	intermediate   int
	vocab          int
	maxPosition    int
	localAttention int
	mlm            bool
	seed           uint64
	out            string
}

var initModelCmd = &cobra.Command{
	Use:   "init-model --arch bert|modernbert --out DIR [shape flags]",
	Short: "Write a random-weight Hugging Face model folder of any BERT or ModernBERT shape",
	Long: `init-model writes config.json and model.safetensors (Hugging Face names, float32) for a
BertModel / ModernBertModel, or with --mlm a BertForMaskedLM / ModernBertForMaskedLM, with
weights initialised as transformers does (seeded by --seed). The defaults are the BERT-small
shape (hidden 384, 6 layers, 12 heads, intermediate 1536, vocab 30522, 512 positions).

No tokenizer is written: the folder is meant for "bioenc bench encode" and "bioenc forward",
which take token ids, and for the PyTorch reference (shared/reference/bench.py). Commands that
take text need a tokenizer copied into the folder.`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, args []string) error {
		f := initModelFlags
		if f.out == "" {
			return errors.New("--out is required")
		}
		raw, err := initConfig(f.arch, f.hidden, f.layers, f.heads, f.intermediate, f.vocab, f.maxPosition, f.localAttention, f.mlm)
		if err != nil {
			return err
		}
		b, err := config.MarshalJSON(raw)
		if err != nil {
			return err
		}
		cfg, err := config.Parse(b, "init-model")
		if err != nil {
			return err
		}
		// A bare BERT keeps its pooler, as BertModel (add_pooling_layer=True) does.
		m, err := model.New(cfg, model.Options{Task: cfg.Task, Pooler: cfg.Arch == config.BERT && cfg.Task == config.Base})
		if err != nil {
			return err
		}
		m.Init(f.seed)
		if err := model.Save(f.out, m, ""); err != nil {
			return err
		}
		out := newJSONLines(cmd.OutOrStdout())
		if err := out.put(struct {
			Out          string `json:"out"`
			Architecture string `json:"architecture"`
			Parameters   int    `json:"parameters"`
		}{f.out, cfg.Architectures[0], m.Params().Count()}); err != nil {
			return err
		}
		return out.flush()
	},
}

// initConfig is a config.json as transformers writes it for the shape (the
// fields and defaults of shared/reference/config_io.py).
func initConfig(arch string, hidden, layers, heads, inter, vocab, maxPos, local int, mlm bool) (map[string]any, error) {
	for _, p := range []struct {
		name string
		v    int
	}{{"--hidden", hidden}, {"--layers", layers}, {"--heads", heads}, {"--intermediate", inter}, {"--vocab", vocab}, {"--max-position", maxPos}} {
		if p.v <= 0 {
			return nil, fmt.Errorf("%s must be positive, got %d", p.name, p.v)
		}
	}
	if hidden%heads != 0 {
		return nil, fmt.Errorf("--hidden %d is not a multiple of --heads %d", hidden, heads)
	}
	if vocab < 5 {
		return nil, fmt.Errorf("--vocab %d leaves no room for the special ids 0..4", vocab)
	}
	switch arch {
	case "bert":
		name := "BertModel"
		if mlm {
			name = "BertForMaskedLM"
		}
		return map[string]any{
			"architectures": []string{name}, "attention_probs_dropout_prob": 0.1, "classifier_dropout": nil,
			"hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": hidden, "initializer_range": 0.02,
			"intermediate_size": inter, "layer_norm_eps": 1e-12, "max_position_embeddings": maxPos,
			"model_type": "bert", "num_attention_heads": heads, "num_hidden_layers": layers, "pad_token_id": 0,
			"position_embedding_type": "absolute", "torch_dtype": "float32", "transformers_version": "4.48.0",
			"type_vocab_size": 2, "use_cache": true, "vocab_size": vocab,
		}, nil
	case "modernbert":
		if (hidden/heads)%2 != 0 {
			return nil, fmt.Errorf("ModernBERT needs an even head size, got %d", hidden/heads)
		}
		if local < 0 {
			return nil, fmt.Errorf("--local-attention must not be negative")
		}
		name := "ModernBertModel"
		if mlm {
			name = "ModernBertForMaskedLM"
		}
		return map[string]any{
			"architectures": []string{name}, "attention_bias": false, "attention_dropout": 0.0, "bos_token_id": 2,
			"classifier_activation": "gelu", "classifier_bias": false, "classifier_dropout": 0.0,
			"classifier_pooling": "cls", "cls_token_id": 2, "decoder_bias": true, "deterministic_flash_attn": false,
			"embedding_dropout": 0.0, "eos_token_id": 3, "global_attn_every_n_layers": 3, "global_rope_theta": 160000.0,
			"hidden_activation": "gelu", "hidden_size": hidden, "initializer_cutoff_factor": 2.0,
			"initializer_range": 0.02, "intermediate_size": inter, "local_attention": local, "local_rope_theta": 10000.0,
			"max_position_embeddings": maxPos, "mlp_bias": false, "mlp_dropout": 0.0, "model_type": "modernbert",
			"norm_bias": false, "norm_eps": 1e-5, "num_attention_heads": heads, "num_hidden_layers": layers,
			"pad_token_id": 0, "sep_token_id": 3, "sparse_pred_ignore_index": -100, "sparse_prediction": false,
			"tie_word_embeddings": true, "torch_dtype": "float32", "transformers_version": "4.48.0", "vocab_size": vocab,
		}, nil
	}
	return nil, fmt.Errorf("--arch %q: want bert or modernbert", arch)
}

func init() {
	fl := initModelCmd.Flags()
	f := &initModelFlags
	fl.StringVar(&f.arch, "arch", "bert", "bert or modernbert")
	fl.IntVar(&f.hidden, "hidden", 384, "hidden size")
	fl.IntVar(&f.layers, "layers", 6, "number of layers")
	fl.IntVar(&f.heads, "heads", 12, "attention heads")
	fl.IntVar(&f.intermediate, "intermediate", 1536, "feed-forward size (ModernBERT: per GLU half)")
	fl.IntVar(&f.vocab, "vocab", 30522, "vocabulary size")
	fl.IntVar(&f.maxPosition, "max-position", 512, "max_position_embeddings")
	fl.IntVar(&f.localAttention, "local-attention", 128, "ModernBERT sliding window (total width)")
	fl.BoolVar(&f.mlm, "mlm", false, "add the masked-LM head (...ForMaskedLM)")
	fl.Uint64Var(&f.seed, "seed", 0, "random seed of the weights")
	fl.StringVar(&f.out, "out", "", "output folder (created)")
	root.AddCommand(initModelCmd)
}
