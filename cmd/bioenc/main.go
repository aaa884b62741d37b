// Command bioenc trains, evaluates and serves biomedical text encoders.
//
// Each subcommand lives in its own file and registers itself on root (or on
// a parent such as bench) in an init function.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"bioencoder/kernels"
	"bioencoder/parallel"
)

var root = &cobra.Command{
	Use:   "bioenc",
	Short: "Train, evaluate and serve biomedical text encoders (BERT, BERT-Hash, ModernBERT)",
	Long: `bioenc loads Hugging Face encoder folders (BERT, BERT-Hash, ModernBERT; sentence-transformers,
CrossEncoder and PyLate ColBERT layouts), runs them on the CPU, trains them, evaluates them and serves them.`,
	SilenceUsage:  true,
	SilenceErrors: true,
	PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
		if threadsFlag > 0 {
			parallel.SetWorkers(threadsFlag)
		}
		return nil
	},
}

// bench groups the benchmark subcommands (gemm, tokenize, encode, train).
var benchCmd = &cobra.Command{
	Use:   "bench",
	Short: "Measure throughput of kernels, tokenizers, inference and training",
}

var threadsFlag int

func init() {
	root.PersistentFlags().IntVar(&threadsFlag, "threads", 0, "worker threads (0 = all cores)")
	root.AddCommand(benchCmd)
}

func main() {
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "bioenc:", err)
		os.Exit(1)
	}
}

// envCmd prints what the kernels will run on.
var envCmd = &cobra.Command{
	Use:   "env",
	Short: "Show CPU features, the chosen kernel path and the thread count",
	Args:  cobra.NoArgs,
	RunE: func(cmd *cobra.Command, args []string) error {
		fmt.Fprintln(cmd.OutOrStdout(), kernels.Describe())
		fmt.Fprintf(cmd.OutOrStdout(), "threads: %d\n", parallel.Workers())
		return nil
	},
}

func init() { root.AddCommand(envCmd) }
