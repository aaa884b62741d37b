package main

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"bioencoder/config"
	"bioencoder/kernels"
	"bioencoder/model"
	"bioencoder/nn"
	"bioencoder/parallel"
	"bioencoder/tensor"
	"bioencoder/train"
)

var benchTrainFlags struct {
	model   string
	batch   int
	seq     int
	runs    int
	seconds float64
	seed    uint64
}

var benchTrainCmd = &cobra.Command{
	Use:   "train --model DIR [--batch 16] [--seq 128] [--runs 5]",
	Short: "Measure training throughput: whole steps of forward, backward and AdamW",
	Long: `bench train times whole training steps on --batch sequences of --seq random token ids, as
shared/reference/bench.py --mode train does: forward through the model its config names, the loss
is the mean square of its output (the logits of a head model, the last hidden state of a bare
encoder), backward, and one AdamW step (lr 1e-4, weight decay 0.01 on every parameter, as
torch.optim.AdamW defaults). Dropout is active as in training mode. One warm-up step, then
--runs runs of at least --seconds each; the median step time gives tokens/s.`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, args []string) error {
		f := benchTrainFlags
		if f.model == "" {
			return errors.New("--model is required")
		}
		if f.batch < 1 || f.seq < 1 || f.runs < 1 {
			return errors.New("--batch, --seq and --runs must be positive")
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
		g := nn.NewGraph(&ws, true)
		opt := train.NewAdamW(1e-4, 0.01)
		opt.DecayAll = true
		sets := []*nn.Params{m.Params()}
		var zeros []float32
		step := func() error {
			g.Reset()
			m.Params().ZeroGrad()
			out, err := benchOutput(g, m, b)
			if err != nil {
				return err
			}
			if len(zeros) != len(out.Data) {
				zeros = make([]float32, len(out.Data))
			}
			if _, err := g.MSE(out, zeros); err != nil {
				return err
			}
			g.Backward()
			opt.Update(sets, 1e-4)
			return nil
		}
		med, _, err := timeRuns(step, f.runs, f.seconds)
		if err != nil {
			return err
		}
		tokens := float64(f.batch * f.seq)
		fmt.Fprintf(cmd.OutOrStdout(), "bioenc train %s %d x %d threads=%d (%s): %.0f tok/s (%.2f steps/s), median of %d runs, peak RSS %.0f MiB\n",
			archOf(cfg), f.batch, f.seq, parallel.Workers(), kernels.Active(), tokens/med, 1/med, f.runs, float64(peakRSS())/(1<<20))
		return nil
	},
}

// benchOutput is what the reference benchmark squares: a head model's
// logits, else the last hidden state.
func benchOutput(g *nn.Graph, m model.Model, b *nn.Batch) (*nn.Var, error) {
	h, err := m.Encode(g, b, nil)
	if err != nil {
		return nil, err
	}
	switch m.Task() {
	case config.MaskedLM, config.PreTraining:
		return m.MaskedLM(g, h, nil)
	case config.SequenceClassification:
		return m.SequenceLogits(g, b, h)
	case config.TokenClassification:
		return m.TokenLogits(g, h)
	}
	return h, nil
}

// timeRuns calls step once to warm up, then runs times for at least seconds
// each, and returns the median seconds per call and every run's figure.
func timeRuns(step func() error, runs int, seconds float64) (float64, []float64, error) {
	if err := step(); err != nil {
		return 0, nil, err
	}
	per := make([]float64, runs)
	for r := range per {
		n, start := 0, time.Now()
		for {
			if err := step(); err != nil {
				return 0, nil, err
			}
			n++
			if el := time.Since(start).Seconds(); el >= seconds {
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
	return med, per, nil
}

func init() {
	f := &benchTrainFlags
	fs := benchTrainCmd.Flags()
	fs.StringVar(&f.model, "model", "", "model folder (config.json + weights), e.g. made by init-model")
	fs.IntVar(&f.batch, "batch", 16, "sequences per step")
	fs.IntVar(&f.seq, "seq", 128, "tokens per sequence")
	fs.IntVar(&f.runs, "runs", 5, "timed runs")
	fs.Float64Var(&f.seconds, "seconds", 1, "minimum seconds per run")
	fs.Uint64Var(&f.seed, "seed", 0, "seed of the random ids")
	benchCmd.AddCommand(benchTrainCmd)
}
