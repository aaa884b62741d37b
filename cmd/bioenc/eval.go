package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"bioencoder"
	"bioencoder/eval"
	_ "bioencoder/train" // registers the fine-tuners eval uses for our models
)

// evalFlags are shared by every eval subcommand.
var evalFlags struct {
	models   []string
	baseline string
	seed     uint64
	limit    int
	json     string
	quiet    bool
	k        int
	window   int
	tune     eval.FineTuneOptions
}

var evalCmd = &cobra.Command{
	Use:   "eval",
	Short: "Evaluate models (or the TF-IDF baselines) with the protocols of EVALUATION.md §C",
	Long: `eval runs the evaluation protocols on the data in the shared folder ($BIOENC_SHARED/data):

  similarity      PubMed QA, PubMed Sections, PubMed Summary: N true pairs + N deranged pairs,
                  Pearson and Spearman x 100 of the model's pair scores
  classification  Medical Abstracts, stratified 5-fold CV: accuracy and mean cross-entropy
  ner             NCBI-disease: test entity-level precision/recall/F1 (exact span and type)
  chemprot        ChemProt 13-way relation classification: test accuracy and micro-F1
  fill-mask       top-k recovery of one masked word per held-out abstract

Give --model DIR (repeatable) and/or --baseline tfidf. Tables go to stdout, progress to stderr.`,
}

type evalRun struct {
	ctx    context.Context
	out    io.Writer
	log    io.Writer
	report *eval.Report
	models []*namedModel
}

type namedModel struct {
	name string
	m    *bioencoder.Model
}

func init() {
	pf := evalCmd.PersistentFlags()
	pf.StringArrayVar(&evalFlags.models, "model", nil, "model folder to evaluate (repeatable)")
	pf.StringVar(&evalFlags.baseline, "baseline", "", `baseline to evaluate: "tfidf" (no --model needed)`)
	pf.Uint64Var(&evalFlags.seed, "seed", 42, "seed of derangements, folds and masked-word choice")
	pf.Float64Var(&evalFlags.tune.Epochs, "epochs", 0, "fine-tuning epochs for classification, ner and chemprot (0 = 3)")
	pf.Float64Var(&evalFlags.tune.LR, "lr", 0, "fine-tuning learning rate (0 = 1e-4)")
	pf.IntVar(&evalFlags.tune.BatchSize, "batch-size", 0, "fine-tuning batch size (0 = 16)")
	pf.IntVar(&evalFlags.tune.MaxLength, "max-length", 0, "fine-tuning max tokens per text (0 = 256)")
	pf.IntVar(&evalFlags.limit, "limit", 0, "use only the first N items of each dataset/split (0 = all)")
	pf.StringVar(&evalFlags.json, "json", "", "also write the results as JSON to this file")
	pf.BoolVarP(&evalFlags.quiet, "quiet", "q", false, "no progress lines on stderr")
	fm := evalFillMaskCmd.Flags()
	fm.IntVar(&evalFlags.k, "k", 5, "top-k candidates")
	fm.IntVar(&evalFlags.window, "window", 48, "words of context around the masked word")
	for _, c := range []*cobra.Command{evalSimilarityCmd, evalClassificationCmd, evalNERCmd, evalChemProtCmd, evalFillMaskCmd} {
		evalCmd.AddCommand(c)
	}
	root.AddCommand(evalCmd)
}

// runEval checks the flags, loads the models and runs fn, then prints the
// JSON report if asked.
func runEval(cmd *cobra.Command, task string, baselineOK bool, fn func(r *evalRun) error) error {
	switch evalFlags.baseline {
	case "", "tfidf":
	default:
		return fmt.Errorf("eval %s: unknown --baseline %q (want tfidf)", task, evalFlags.baseline)
	}
	if evalFlags.baseline != "" && !baselineOK {
		return fmt.Errorf("eval %s: there is no %s baseline for this protocol", task, evalFlags.baseline)
	}
	if len(evalFlags.models) == 0 && evalFlags.baseline == "" {
		return fmt.Errorf("eval %s: give --model DIR or --baseline tfidf", task)
	}
	if evalFlags.limit < 0 {
		return fmt.Errorf("eval %s: --limit must be >= 0", task)
	}
	t0 := time.Now()
	r := &evalRun{ctx: cmd.Context(), out: cmd.OutOrStdout(), log: cmd.ErrOrStderr(),
		report: &eval.Report{Task: task, Seed: evalFlags.seed, Limit: evalFlags.limit}}
	if r.ctx == nil {
		r.ctx = context.Background()
	}
	if evalFlags.quiet {
		r.log = nil
	}
	for _, dir := range evalFlags.models {
		m, err := bioencoder.Load(dir)
		if err != nil {
			return err
		}
		r.models = append(r.models, &namedModel{name: filepath.Base(filepath.Clean(dir)), m: m})
	}
	if err := fn(r); err != nil {
		return err
	}
	r.report.Seconds = time.Since(t0).Seconds()
	if evalFlags.json != "" {
		f, err := os.Create(evalFlags.json)
		if err != nil {
			return err
		}
		if err := r.report.WriteJSON(f); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}

func (r *evalRun) logf(format string, args ...any) {
	if r.log != nil {
		fmt.Fprintf(r.log, format+"\n", args...)
	}
}

var evalSimilarityCmd = &cobra.Command{
	Use:   "similarity",
	Short: "Pair similarity on PubMed QA, PubMed Sections and PubMed Summary (Pearson/Spearman x 100)",
	Args:  cobra.NoArgs,
	RunE: func(cmd *cobra.Command, args []string) error {
		return runEval(cmd, "similarity", true, func(r *evalRun) error {
			sets, err := eval.LoadSimilaritySets(evalFlags.limit)
			if err != nil {
				return err
			}
			type entry struct {
				name string
				s    eval.Scorer
			}
			var scorers []entry
			if evalFlags.baseline == "tfidf" {
				scorers = append(scorers, entry{"tfidf", eval.TFIDFScorer{}})
			}
			for _, nm := range r.models {
				s, err := eval.ModelScorer(nm.m, r.log)
				if err != nil {
					return err
				}
				scorers = append(scorers, entry{nm.name, s})
			}
			for _, e := range scorers {
				rep, err := eval.RunSimilarity(r.ctx, e.name, e.s, sets, evalFlags.seed, r.log)
				if err != nil {
					return err
				}
				r.report.Similarity = append(r.report.Similarity, rep)
			}
			eval.SimilarityTables(r.out, r.report.Similarity)
			return nil
		})
	},
}

// fineTuners lists the classifiers to run: majority and tfidf for the
// baseline, then the registered fine-tuner of every model.
func (r *evalRun) fineTuners(majority bool) ([]string, []eval.FineTuner, error) {
	var names []string
	var fts []eval.FineTuner
	if evalFlags.baseline == "tfidf" {
		if majority {
			names, fts = append(names, "majority class"), append(fts, eval.Majority{})
		}
		names, fts = append(names, "tfidf + logistic regression"), append(fts, eval.TFIDFLogReg{})
	}
	for _, nm := range r.models {
		ft, err := eval.ModelFineTuner(nm.m, fineTuneOptions(r.log))
		if err != nil {
			if errors.Is(err, eval.ErrNoFineTuning) {
				return nil, nil, fmt.Errorf("%s: %w (no training engine is registered; run with --baseline tfidf)", nm.name, err)
			}
			return nil, nil, err
		}
		names, fts = append(names, nm.name), append(fts, ft)
	}
	return names, fts, nil
}

var evalClassificationCmd = &cobra.Command{
	Use:   "classification",
	Short: "Medical Abstracts 5-class classification, stratified 5-fold CV (accuracy, loss)",
	Args:  cobra.NoArgs,
	RunE: func(cmd *cobra.Command, args []string) error {
		return runEval(cmd, "classification", true, func(r *evalRun) error {
			names, fts, err := r.fineTuners(true)
			if err != nil {
				return err
			}
			d, err := eval.LoadMedicalAbstracts()
			if err != nil {
				return err
			}
			d = d.Head(evalFlags.limit)
			for i, ft := range fts {
				res, err := eval.CrossValidate(r.ctx, names[i], ft, d, 5, evalFlags.seed, r.log)
				if err != nil {
					return err
				}
				r.logf("%s: accuracy %.4f loss %.4f (%.1fs)", names[i], res.Accuracy, float64(res.Loss), res.Seconds)
				r.report.Classification = append(r.report.Classification, res)
			}
			eval.ClassificationTable(r.out, fmt.Sprintf("Medical Abstracts (%d rows, stratified 5-fold CV, seed %d), out-of-fold",
				len(d.Texts), evalFlags.seed), r.report.Classification)
			return nil
		})
	},
}

func limitSents(s []eval.Sentence) []eval.Sentence {
	if evalFlags.limit > 0 && evalFlags.limit < len(s) {
		return s[:evalFlags.limit]
	}
	return s
}

var evalNERCmd = &cobra.Command{
	Use:   "ner",
	Short: "NCBI-disease NER: train, select on devel, test entity P/R/F1",
	Args:  cobra.NoArgs,
	RunE: func(cmd *cobra.Command, args []string) error {
		return runEval(cmd, "ner", true, func(r *evalRun) error {
			var names []string
			var fts []eval.TokenFineTuner
			if evalFlags.baseline == "tfidf" {
				names, fts = append(names, "tfidf (word-feature logistic regression)"), append(fts, eval.WordFeatureTagger{})
			}
			for _, nm := range r.models {
				ft, err := eval.ModelTokenFineTuner(nm.m, fineTuneOptions(r.log))
				if err != nil {
					if errors.Is(err, eval.ErrNoFineTuning) {
						return fmt.Errorf("%s: %w (no training engine is registered; run with --baseline tfidf)", nm.name, err)
					}
					return err
				}
				names, fts = append(names, nm.name), append(fts, ft)
			}
			d, err := eval.LoadNCBIDisease()
			if err != nil {
				return err
			}
			d.Train, d.Devel, d.Test = limitSents(d.Train), limitSents(d.Devel), limitSents(d.Test)
			for i, ft := range fts {
				res, err := eval.NER(r.ctx, names[i], ft, d, r.log)
				if err != nil {
					return err
				}
				r.report.NER = append(r.report.NER, res)
			}
			eval.NERTable(r.out, r.report.NER)
			return nil
		})
	},
}

var evalChemProtCmd = &cobra.Command{
	Use:   "chemprot",
	Short: "ChemProt 13-way relation classification: train, select on dev, test accuracy and micro-F1",
	Args:  cobra.NoArgs,
	RunE: func(cmd *cobra.Command, args []string) error {
		return runEval(cmd, "chemprot", true, func(r *evalRun) error {
			names, fts, err := r.fineTuners(true)
			if err != nil {
				return err
			}
			d, err := eval.LoadChemProt()
			if err != nil {
				return err
			}
			d.Train, d.Dev, d.Test = d.Train.Head(evalFlags.limit), d.Dev.Head(evalFlags.limit), d.Test.Head(evalFlags.limit)
			for i, ft := range fts {
				res, err := eval.ChemProt(r.ctx, names[i], ft, d, r.log)
				if err != nil {
					return err
				}
				r.report.ChemProt = append(r.report.ChemProt, res)
			}
			eval.ChemProtTable(r.out, r.report.ChemProt)
			return nil
		})
	},
}

var evalFillMaskCmd = &cobra.Command{
	Use:   "fill-mask",
	Short: "Top-k accuracy of recovering one masked word per held-out abstract (masked-LM models)",
	Args:  cobra.NoArgs,
	RunE: func(cmd *cobra.Command, args []string) error {
		return runEval(cmd, "fill-mask", false, func(r *evalRun) error {
			var maskers []*eval.ModelMasker
			for _, nm := range r.models {
				mm, err := eval.NewModelMasker(nm.m)
				if err != nil {
					return err
				}
				maskers = append(maskers, mm)
			}
			abs, err := eval.LoadAbstracts()
			if err != nil {
				return err
			}
			_, tail, err := eval.SectionPairs(abs, eval.SectionsHeldOut)
			if err != nil {
				return err
			}
			held := eval.HeldOut(abs, tail)
			opts := eval.FillMaskOptions{K: evalFlags.k, Window: evalFlags.window, Seed: evalFlags.seed, Limit: evalFlags.limit}
			for i, mm := range maskers {
				res, err := eval.RunFillMask(r.ctx, r.models[i].name, mm, held, opts, r.log)
				if err != nil {
					return err
				}
				r.report.FillMask = append(r.report.FillMask, res)
			}
			eval.FillMaskTable(r.out, r.report.FillMask)
			return nil
		})
	},
}

func fineTuneOptions(log io.Writer) eval.FineTuneOptions {
	o := evalFlags.tune
	o.Seed, o.Log = evalFlags.seed, log
	return o
}
