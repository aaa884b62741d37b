package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"bioencoder/corpus"
	"bioencoder/tokenizer"
	"bioencoder/vocab"
)

// vocab train: learn a BERT WordPiece vocabulary from a corpus.
var vocabFlags struct {
	corpus        string
	field         string
	format        string
	out           string
	vocabSize     int
	minFrequency  int64
	limitAlphabet int
	specials      string
	lowercase     bool
	maxLength     int
	excludeFrom   int64
}

var vocabCmd = &cobra.Command{
	Use:   "vocab",
	Short: "Learn tokenizer vocabularies",
}

var vocabTrainCmd = &cobra.Command{
	Use:   "train",
	Short: "Learn a BERT WordPiece vocabulary (Hugging Face WordPieceTrainer semantics) from a corpus",
	Long: `train counts the words of a corpus after BERT's normalizer (clean text, Chinese characters
split off, accents stripped when lowercasing, lowercase) and pre-tokenizer (whitespace and
punctuation), then learns WordPiece tokens the way Hugging Face tokenizers' WordPieceTrainer
(BertWordPieceTokenizer.train) does: special tokens first, the alphabet (the --limit-alphabet most
frequent characters), "##" continuation characters, then merges of the most frequent adjacent pair
until --vocab-size tokens or until the best pair occurs fewer than --min-frequency times.

The corpus is plain text (one document per line) or JSON Lines (the text in --field), either one
optionally gzip-compressed (detected from the content). It is streamed.

--exclude-ids-from N drops the JSON Lines records whose integer "id" is >= N. Use it to keep an
evaluation's held-out tail out of the vocabulary: for pubmed_abstracts.jsonl.gz the PubMed Sections
set (EVALUATION.md C1) holds the abstracts from its smallest id on (bioencoder/eval.HeldOutTailStart;
4025 for the shared file), and every run evaluated on it must exclude them. With the flag set, a
record without an integer id is an error.

The output folder gets vocab.txt, tokenizer.json, tokenizer_config.json and special_tokens_map.json,
loadable by bioenc and by transformers / tokenizers.`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, args []string) error {
		f := vocabFlags
		if f.corpus == "" || f.out == "" {
			return fmt.Errorf("--corpus and --out are required")
		}
		o := vocab.DefaultOptions()
		o.VocabSize = f.vocabSize
		o.MinFrequency = f.minFrequency
		o.LimitAlphabet = f.limitAlphabet
		o.Lowercase = f.lowercase
		o.ModelMaxLength = f.maxLength
		o.SpecialTokens = nil
		for _, s := range strings.Split(f.specials, ",") {
			if s = strings.TrimSpace(s); s != "" {
				o.SpecialTokens = append(o.SpecialTokens, s)
			}
		}
		var format corpus.Format
		switch f.format {
		case "auto", "":
			format = corpus.Auto
		case "text":
			format = corpus.Text
		case "jsonl":
			format = corpus.JSONL
		default:
			return fmt.Errorf("--format must be auto, text or jsonl, not %q", f.format)
		}
		var skipped int64
		docs := func(yield func(string) bool) error {
			r, err := corpus.OpenFormat(f.corpus, f.field, format)
			if err != nil {
				return err
			}
			defer r.Close()
			if f.excludeFrom >= 0 {
				r.ExcludeIDsFrom(f.excludeFrom)
			}
			for r.Next() {
				if !yield(r.Doc().Text) {
					break
				}
			}
			skipped = r.Skipped()
			return r.Err()
		}
		start := time.Now()
		v, err := vocab.TrainDocuments(docs, o, nil)
		if err != nil {
			return err
		}
		took := time.Since(start)
		if err := v.Save(f.out); err != nil {
			return err
		}
		w := cmd.OutOrStdout()
		st := v.Stats
		fmt.Fprintf(w, "corpus: %d documents, %d words, %d distinct", st.Docs, st.Words, st.UniqueWords)
		if f.excludeFrom >= 0 {
			fmt.Fprintf(w, " (%d records with id >= %d excluded)", skipped, f.excludeFrom)
		}
		fmt.Fprintln(w)
		fmt.Fprintf(w, "vocab: %s\n", v)
		if len(v.Tokens) > f.vocabSize {
			fmt.Fprintf(w, "note: the special tokens and the alphabet alone exceed --vocab-size %d\n", f.vocabSize)
		}
		fmt.Fprintf(w, "time: %v\n", took.Round(time.Millisecond))
		fmt.Fprintf(w, "wrote %s/{%s,%s,%s,%s}\n", f.out, vocab.FileVocab, vocab.FileTokenizer, vocab.FileConfig, vocab.FileSpecialTokens)
		return nil
	},
}

// vocab stats: how finely tokenizers cut a corpus.
var vocabStatsFlags struct {
	corpus      string
	field       string
	excludeFrom int64
	longest     int
}

var vocabStatsCmd = &cobra.Command{
	Use:   "stats TOKENIZER...",
	Short: "Tokens per word, split words and [UNK] rate of tokenizers on a corpus, and their longest tokens",
	Long: `stats encodes every document of --corpus (no special tokens) with each tokenizer (tokenizer.json
file or model folder) and prints words (pre-tokenized), tokens, tokens per word, the share of
words cut into several tokens and of [UNK] tokens, the time taken, and the --longest longest
tokens (in characters, "##" not counted; special tokens left out).`,
	Args: cobra.MinimumNArgs(1),
	RunE: func(cmd *cobra.Command, args []string) error {
		f := vocabStatsFlags
		if f.corpus == "" {
			return fmt.Errorf("--corpus is required")
		}
		w := cmd.OutOrStdout()
		for _, path := range args {
			tk, err := tokenizer.Load(path)
			if err != nil {
				return err
			}
			start := time.Now()
			fe, err := vocab.Measure(tk, corpus.Texts(f.corpus, f.field, f.excludeFrom))
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			took := time.Since(start)
			fmt.Fprintf(w, "%s: vocab %d, %d docs, %d words, %d tokens, %.4f tokens/word, %.2f%% words split, %.3f%% [UNK] (%v)\n",
				path, tk.VocabSize(), fe.Docs, fe.Words, fe.Tokens, fe.TokensPerWord(),
				100*float64(fe.SplitWords)/float64(max(fe.Words, 1)), 100*float64(fe.Unknown)/float64(max(fe.Tokens, 1)),
				took.Round(time.Millisecond))
			if f.longest > 0 {
				var toks []string
				for id := 0; id < tk.VocabSize(); id++ {
					if t, ok := tk.IDToToken(id); ok && !tk.IsSpecial(id) {
						toks = append(toks, t)
					}
				}
				fmt.Fprintf(w, "  longest: %s\n", strings.Join(vocab.Longest(toks, tk.ContinuingSubwordPrefix(), f.longest), " "))
			}
		}
		return nil
	},
}

func init() {
	sf := vocabStatsCmd.Flags()
	sf.StringVar(&vocabStatsFlags.corpus, "corpus", "", "corpus file: text or JSON Lines, optionally gzip'd (required)")
	sf.StringVar(&vocabStatsFlags.field, "field", corpus.DefaultField, "JSON Lines field holding the text")
	sf.Int64Var(&vocabStatsFlags.excludeFrom, "exclude-ids-from", -1, "drop JSON Lines records whose integer id is >= this (-1 = keep all)")
	sf.IntVar(&vocabStatsFlags.longest, "longest", 0, "also print this many longest tokens")
	vocabCmd.AddCommand(vocabStatsCmd)
}

func init() {
	fl := vocabTrainCmd.Flags()
	fl.StringVar(&vocabFlags.corpus, "corpus", "", "corpus file: text or JSON Lines, optionally gzip'd (required)")
	fl.StringVar(&vocabFlags.field, "field", corpus.DefaultField, "JSON Lines field holding the text")
	fl.StringVar(&vocabFlags.format, "format", "auto", "corpus format: auto, text or jsonl")
	fl.StringVar(&vocabFlags.out, "out", "", "output folder (required)")
	fl.IntVar(&vocabFlags.vocabSize, "vocab-size", 30000, "target vocabulary size, special tokens included")
	fl.Int64Var(&vocabFlags.minFrequency, "min-frequency", 2, "do not merge pairs occurring fewer times")
	fl.IntVar(&vocabFlags.limitAlphabet, "limit-alphabet", 1000, "keep at most this many characters (the most frequent; 0 = all)")
	fl.StringVar(&vocabFlags.specials, "special-tokens", strings.Join(vocab.DefaultSpecialTokens, ","), "comma-separated special tokens, given ids 0..n-1 in this order; must include [UNK]")
	fl.BoolVar(&vocabFlags.lowercase, "lowercase", true, "lowercase (and strip accents), as bert-base-uncased")
	fl.IntVar(&vocabFlags.maxLength, "model-max-length", 512, "model_max_length written to tokenizer_config.json")
	fl.Int64Var(&vocabFlags.excludeFrom, "exclude-ids-from", -1, "drop JSON Lines records whose integer id is >= this (held-out tail; -1 = keep all)")
	vocabCmd.AddCommand(vocabTrainCmd)
	root.AddCommand(vocabCmd)
}
