package main

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"bioencoder/config"
	"bioencoder/kernels"
	"bioencoder/model"
	"bioencoder/nn"
	"bioencoder/parallel"
	"bioencoder/tensor"
)

var benchEncodeFlags struct {
	model   string
	batch   int
	seq     int
	runs    int
	seconds float64
	seed    uint64
	json    bool
}

var benchEncodeCmd = &cobra.Command{
	Use:   "encode --model DIR [--batch 32] [--seq 128] [--runs 5]",
	Short: "Measure inference throughput of a model folder on random token ids",
	Long: `bench encode times the forward pass of a model folder (config.json + weights; no tokenizer
needed, e.g. one written by init-model) on --batch sequences of exactly --seq random token ids
(seeded, drawn from [5, vocab), no padding), as shared/reference/bench.py does: the model as
its config names it, head included (BertModel: encoder + pooler; ...ForMaskedLM: + vocabulary
logits at every position; classifiers: + logits). One warm-up pass, then --runs runs, each
repeating the pass for at least --seconds; the per-pass time of each run is recorded and the
median reported as tokens/s and sentences/s, with the peak resident memory (VmHWM). One
workspace serves every pass (steady state). --threads sets the worker count.`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, args []string) error {
		f := benchEncodeFlags
		if f.model == "" {
			return errors.New("--model is required")
		}
		if f.batch < 1 || f.seq < 1 || f.runs < 1 || f.seconds < 0 {
			return errors.New("--batch, --seq and --runs must be positive and --seconds not negative")
		}
		if f.batch*f.seq > 1<<22 {
			return fmt.Errorf("--batch x --seq = %d tokens is more than the %d this benchmark allows", f.batch*f.seq, 1<<22)
		}
		if _, err := os.Stat(f.model); err != nil {
			return fmt.Errorf("model folder: %w", err)
		}
		m, err := model.Open(f.model, model.DefaultOptions)
		if err != nil {
			return err
		}
		cfg := m.Config()
		if f.seq > cfg.MaxPositions {
			return fmt.Errorf("--seq %d exceeds the model's %d positions", f.seq, cfg.MaxPositions)
		}
		b := randomBatch(f.batch, f.seq, cfg.VocabSize, f.seed)
		var ws tensor.Workspace
		g := nn.NewGraph(&ws, false)
		pooler := cfg.Arch != config.ModernBERT && m.Task() == config.Base
		step := func() error {
			g.Reset()
			h, err := m.Encode(g, b, nil)
			if err != nil {
				return err
			}
			switch m.Task() {
			case config.MaskedLM, config.PreTraining:
				_, err = m.MaskedLM(g, h, nil)
			case config.SequenceClassification:
				_, err = m.SequenceLogits(g, b, h)
			case config.TokenClassification:
				_, err = m.TokenLogits(g, h)
			default:
				if pooler {
					if _, perr := m.Pooler(g, b, h); perr != nil {
						pooler = false // a BertModel saved without its pooler
					}
				}
			}
			return err
		}
		if err := step(); err != nil { // warm-up: packed weights, workspace buffers
			return err
		}
		per := make([]float64, f.runs)
		for r := range per {
			n, start := 0, time.Now()
			for {
				if err := step(); err != nil {
					return err
				}
				n++
				if el := time.Since(start).Seconds(); el >= f.seconds {
					per[r] = el / float64(n)
					break
				}
			}
		}
		sorted := append([]float64(nil), per...)
		sort.Float64s(sorted)
		med := sorted[len(sorted)/2]
		if len(sorted)%2 == 0 {
			med = (sorted[len(sorted)/2-1] + sorted[len(sorted)/2]) / 2
		}
		tokens := float64(f.batch * f.seq)
		rss := peakRSS()
		res := benchEncodeResult{
			Model: f.model, Architecture: archOf(cfg), Batch: f.batch, Seq: f.seq, Threads: parallel.Workers(),
			Kernels: kernels.Active().String(), Runs: f.runs, MedianSeconds: med, TokensPerSecond: tokens / med,
			SentencesPerSecond: float64(f.batch) / med, PeakRSSMiB: float64(rss) / (1 << 20), RunSeconds: per,
		}
		if f.json {
			out := newJSONLines(cmd.OutOrStdout())
			if err := out.put(res); err != nil {
				return err
			}
			return out.flush()
		}
		_, err = fmt.Fprintf(cmd.OutOrStdout(), "bioenc %s %d x %d threads=%d (%s): %.0f tok/s (%.1f sentences/s), median of %d runs (%.2f ms per pass), peak RSS %.0f MiB\n",
			res.Architecture, f.batch, f.seq, res.Threads, res.Kernels, res.TokensPerSecond, res.SentencesPerSecond, f.runs, med*1e3, res.PeakRSSMiB)
		return err
	},
}

type benchEncodeResult struct {
	Model              string    `json:"model"`
	Architecture       string    `json:"architecture"`
	Batch              int       `json:"batch"`
	Seq                int       `json:"seq"`
	Threads            int       `json:"threads"`
	Kernels            string    `json:"kernels"`
	Runs               int       `json:"runs"`
	MedianSeconds      float64   `json:"median_seconds"`
	TokensPerSecond    float64   `json:"tokens_per_second"`
	SentencesPerSecond float64   `json:"sentences_per_second"`
	PeakRSSMiB         float64   `json:"peak_rss_mib"`
	RunSeconds         []float64 `json:"run_seconds"`
}

func archOf(cfg *config.Model) string {
	if len(cfg.Architectures) > 0 {
		return cfg.Architectures[0]
	}
	return cfg.Arch.String()
}

// randomBatch is batch sequences of exactly seq ids drawn from [5, vocab)
// (ids 0..4 are the special tokens), all real: no padding, type ids 0.
func randomBatch(batch, seq, vocab int, seed uint64) *nn.Batch {
	rng := rand.New(rand.NewPCG(seed, 0x62656e6368))
	b := &nn.Batch{Starts: make([]int, 1, batch+1), IDs: make([]int, 0, batch*seq), Pos: make([]int, 0, batch*seq)}
	lo := min(5, vocab-1)
	for s := 0; s < batch; s++ {
		for p := 0; p < seq; p++ {
			b.IDs = append(b.IDs, lo+rng.IntN(vocab-lo))
			b.Pos = append(b.Pos, p)
		}
		b.Starts = append(b.Starts, len(b.IDs))
	}
	return b
}

// peakRSS is the process's peak resident set size in bytes (VmHWM), or 0
// where /proc is not available.
func peakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			fields := strings.Fields(rest) // "123456 kB"
			if len(fields) == 2 && fields[1] == "kB" {
				if kb, err := strconv.ParseInt(fields[0], 10, 64); err == nil {
					return kb << 10
				}
			}
		}
	}
	return 0
}

func init() {
	fl := benchEncodeCmd.Flags()
	f := &benchEncodeFlags
	fl.StringVar(&f.model, "model", "", "model folder (config.json + weights)")
	fl.IntVar(&f.batch, "batch", 32, "sequences per pass")
	fl.IntVar(&f.seq, "seq", 128, "tokens per sequence")
	fl.IntVar(&f.runs, "runs", 5, "timed runs (the median is reported)")
	fl.Float64Var(&f.seconds, "seconds", 1.0, "minimum time per run")
	fl.Uint64Var(&f.seed, "seed", 0, "seed of the random ids")
	fl.BoolVar(&f.json, "json", false, "print one JSON object instead of a line of text")
	benchCmd.AddCommand(benchEncodeCmd)
}
