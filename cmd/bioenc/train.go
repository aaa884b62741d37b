package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"bioencoder/config"
	"bioencoder/corpus"
	"bioencoder/model"
	"bioencoder/tokenizer"
	"bioencoder/train"
)

// trainCmd groups the training subcommands; each shares the flags of
// trainFlags and the engine's checkpoints, logs and --resume.
var trainCmd = &cobra.Command{
	Use:   "train",
	Short: "Train models: masked-LM pretraining, embeddings, ColBERT, rerankers, classifiers, NER",
}

func init() { root.AddCommand(trainCmd) }

// trainFlags are the engine options every training subcommand takes.
type trainFlags struct {
	o         train.Options
	timeLimit time.Duration
}

// register adds the common flags to cmd with a command's own defaults.
func (f *trainFlags) register(cmd *cobra.Command, lr float64, batch int) {
	fs := cmd.Flags()
	fs.StringVar(&f.o.Out, "out", "", "output folder (the final model, checkpoint-N/, metrics.jsonl, training.png)")
	fs.Uint64Var(&f.o.Seed, "seed", 42, "seed for data order, masking, dropout and new weights")
	fs.IntVar(&f.o.Steps, "steps", 0, "optimizer steps (overrides --epochs)")
	fs.Float64Var(&f.o.Epochs, "epochs", 1, "epochs over the training data")
	fs.IntVar(&f.o.BatchSize, "batch-size", batch, "examples per micro-batch")
	fs.IntVar(&f.o.GradAccum, "grad-accum", 1, "micro-batches per optimizer step")
	fs.Float64Var(&f.o.LR, "lr", lr, "peak learning rate")
	fs.StringVar(&f.o.Schedule, "schedule", "linear", "constant | linear | cosine | wsd (warmup-stable-decay, 1-sqrt decay; options wsd:decay=0.1:min=0.1) | wsd-linear")
	fs.Float64Var(&f.o.Warmup, "warmup", 0.06, "warmup steps, or a fraction of all steps when < 1")
	fs.Float64Var(&f.o.WeightDecay, "weight-decay", 0.01, "AdamW decoupled weight decay (not on biases and norms)")
	fs.Float64Var(&f.o.MaxGradNorm, "max-grad-norm", 1, "clip the global gradient norm (0: off)")
	fs.IntVar(&f.o.SaveEvery, "save-every", 0, "checkpoint every N steps (0: only at the end)")
	fs.IntVar(&f.o.Keep, "keep", 2, "checkpoints to keep")
	fs.IntVar(&f.o.LogEvery, "log-every", 10, "log metrics every N steps")
	fs.IntVar(&f.o.EvalEvery, "eval-every", 0, "evaluate on held-out data every N steps (0: at the end)")
	fs.BoolVar(&f.o.Resume, "resume", false, "continue from the newest checkpoint in --out")
	fs.DurationVar(&f.timeLimit, "time-limit", 0, "stop after this long with a checkpoint to --resume from (e.g. 20m)")
}

// run trains task, stopping cleanly (with a checkpoint) on SIGINT/SIGTERM
// or when the time limit passes.
func (f *trainFlags) run(cmd *cobra.Command, task train.Task) error {
	if f.o.Out == "" {
		return fmt.Errorf("--out is required")
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if f.timeLimit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.timeLimit)
		defer cancel()
	}
	f.o.Progress = os.Stderr
	res, err := train.Run(ctx, task, f.o)
	if err != nil {
		return err
	}
	if res.Stopped {
		fmt.Fprintf(cmd.OutOrStdout(), "stopped at step %d of %d after %s; a checkpoint is in %s (continue with --resume)\n",
			res.Steps, f.o.Steps, res.Elapsed.Round(time.Second), f.o.Out)
		return nil
	}
	fmt.Fprintf(cmd.OutOrStdout(), "trained %d steps in %s; final loss %.4f; model in %s\n",
		res.Steps, res.Elapsed.Round(time.Second), res.FinalLoss, f.o.Out)
	for _, k := range config.SortedKeys(res.Eval) {
		fmt.Fprintf(cmd.OutOrStdout(), "  %s: %.4f\n", k, res.Eval[k])
	}
	return nil
}

var mlmFlags struct {
	trainFlags
	model, configPath, tokDir string
	corpus, field             string
	exclude                   string
	maxLen                    int
	prob                      string
	wholeWord, noPacking      bool
	heldOut                   int
}

var trainMLMCmd = &cobra.Command{
	Use:   "mlm",
	Short: "Masked-language-model pretraining (from a model folder, or from scratch with --config)",
	Long: `Pretrain with masked language modelling, as Hugging Face's run_mlm does: documents are tokenized,
packed into sequences of --max-length ([CLS] … [SEP]), and masked afresh at every step with the collator's
rules (--mlm-probability of the non-special tokens; 80% [MASK], 10% random, 10% unchanged). The masking rate
may change over training: "0.3@0.8,0.15" is 30% for the first 80% of steps, then 15%.

The corpus is text (one document per line) or JSON Lines (--field), optionally gzip'd, read as a stream.
--held-out sequences at the end of the corpus are kept out of training and used for masked-token accuracy.

Examples:
  bioenc train mlm --config small.json --tokenizer vocab/ --corpus pubmed.jsonl.gz --exclude-ids-from 4025 \
      --max-length 128 --batch-size 32 --lr 5e-4 --schedule wsd --mlm-probability 0.3@0.8,0.15 --steps 5000 --out pretrained/`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, args []string) error {
		f := &mlmFlags
		if (f.model == "") == (f.configPath == "") {
			return fmt.Errorf("give exactly one of --model DIR or --config CONFIG.json")
		}
		if f.corpus == "" {
			return fmt.Errorf("--corpus is required")
		}
		tokDir := f.tokDir
		if tokDir == "" {
			tokDir = f.model
		}
		if tokDir == "" {
			return fmt.Errorf("--tokenizer DIR is required with --config")
		}
		tok, err := tokenizer.Load(tokDir)
		if err != nil {
			return err
		}
		var m model.Model
		if f.model != "" {
			m, err = model.Open(f.model, model.Options{Task: config.MaskedLM})
		} else {
			m, err = newMLMModel(f.configPath, tok.VocabSize(), f.o.Seed)
		}
		if err != nil {
			return err
		}
		if f.maxLen > m.Config().MaxPositions {
			return fmt.Errorf("--max-length %d exceeds the model's max_position_embeddings %d", f.maxLen, m.Config().MaxPositions)
		}
		if err := os.MkdirAll(f.o.Out, 0o755); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "tokenizing %s…\n", f.corpus)
		cut, err := resolveExclude(f.exclude, f.corpus, f.field, os.Stderr)
		if err != nil {
			return err
		}
		docs := corpus.Texts(f.corpus, f.field, cut)
		seqs, err := train.BuildSequences(docs, tok, f.maxLen, !f.noPacking, filepath.Join(f.o.Out, ".data", "tokens.bin"))
		if err != nil {
			return err
		}
		defer seqs.Close()
		data, held := seqs.Split(f.heldOut)
		fmt.Fprintf(os.Stderr, "%d training sequences (%d tokens), %d held out; %s parameters\n",
			data.Len(), seqs.Tokens(), held.Len(), thousands(int64(m.Params().Count())))
		prob, err := train.ParseStepped(f.prob, max(1, f.o.Steps))
		if err != nil {
			return err
		}
		masker, err := train.NewMasker(tok, m.Config().VocabSize, f.wholeWord)
		if err != nil {
			return err
		}
		cls, okC := tok.CLSID()
		sep, okS := tok.SEPID()
		if !okC || !okS {
			return fmt.Errorf("the tokenizer in %s has no [CLS]/[SEP] tokens", tokDir)
		}
		if f.o.Steps == 0 {
			// Stepped boundaries given as fractions need the run's length.
			f.o.Steps = max(1, int(f.o.Epochs*float64(data.Len())/float64(f.o.BatchSize*max(1, f.o.GradAccum))))
			if prob, err = train.ParseStepped(f.prob, f.o.Steps); err != nil {
				return err
			}
		}
		task := &train.MLM{Model: m, TokDir: tokDir, Data: data, Held: held, Prob: prob, Mask: masker, Seed: f.o.Seed, CLS: cls, SEP: sep}
		return f.run(cmd, task)
	},
}

// newMLMModel builds a fresh masked-LM model from a config file; the
// vocabulary size follows the tokenizer.
func newMLMModel(path string, vocab int, seed uint64) (model.Model, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	if cfg.VocabSize != vocab {
		fmt.Fprintf(os.Stderr, "note: vocab_size %d in %s set to the tokenizer's %d\n", cfg.VocabSize, path, vocab)
		cfg.VocabSize = vocab
	}
	m, err := model.New(cfg, model.Options{Task: config.MaskedLM})
	if err != nil {
		return nil, err
	}
	m.Init(seed)
	return m, nil
}

func init() {
	f := &mlmFlags
	f.register(trainMLMCmd, 5e-4, 32)
	fs := trainMLMCmd.Flags()
	fs.StringVar(&f.model, "model", "", "model folder to continue pretraining (masked-LM head added if absent)")
	fs.StringVar(&f.configPath, "config", "", "config.json of a new model (weights initialised as transformers does)")
	fs.StringVar(&f.tokDir, "tokenizer", "", "tokenizer folder (default: --model)")
	fs.StringVar(&f.corpus, "corpus", "", "training text: .txt lines or .jsonl, optionally .gz")
	fs.StringVar(&f.field, "field", "text", "JSON Lines field holding the text")
	fs.StringVar(&f.exclude, "exclude-ids-from", "auto", `skip JSON Lines records whose "id" is >= N; "auto": the PubMed Sections evaluation tail of pubmed_abstracts.jsonl.gz, nothing for other corpora; "none": keep all`)
	fs.IntVar(&f.maxLen, "max-length", 128, "tokens per sequence, [CLS] and [SEP] included")
	fs.StringVar(&f.prob, "mlm-probability", "0.15", "masking rate, or a schedule such as 0.3@0.8,0.15")
	fs.BoolVar(&f.wholeWord, "whole-word", false, "mask whole words")
	fs.BoolVar(&f.noPacking, "no-packing", false, "one document per sequence (truncated) instead of packing")
	fs.IntVar(&f.heldOut, "held-out", 200, "sequences kept out of training for masked-token accuracy")
	trainCmd.AddCommand(trainMLMCmd)
}
