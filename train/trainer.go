package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"bioencoder/nn"
	"bioencoder/tensor"
)

// Options configure a training run.
type Options struct {
	Out         string  // output folder: the final model, checkpoint-N/ folders, metrics.jsonl, training.png
	Seed        uint64  // data order, masking and dropout all derive from it
	Steps       int     // optimizer steps; 0 means Epochs
	Epochs      float64 // used when Steps is 0
	BatchSize   int     // examples per micro-batch
	GradAccum   int     // micro-batches per optimizer step (default 1)
	LR          float64
	Schedule    string  // see ParseSchedule
	Warmup      float64 // warmup steps, or a fraction of Steps when < 1
	WeightDecay float64
	DecayAll    bool    // weight decay on biases and norms too
	MaxGradNorm float64 // global-norm clipping; 0 disables
	SaveEvery   int     // checkpoint interval in steps; 0: only at the end
	Keep        int     // checkpoints kept (default 2)
	LogEvery    int     // metrics interval in steps (default 10)
	EvalEvery   int     // evaluation interval for Evaluator tasks; 0: only at the end
	Resume      bool    // continue from the newest checkpoint in Out
	Progress    io.Writer
	// StopAfter ends the run early after this many steps as if interrupted
	// (a checkpoint is written); for tests and time-boxed runs. 0: never.
	StopAfter int
}

func (o *Options) defaults(examples int) error {
	if o.BatchSize <= 0 {
		return errors.New("train: batch size must be positive")
	}
	if o.GradAccum <= 0 {
		o.GradAccum = 1
	}
	if o.Keep <= 0 {
		o.Keep = 2
	}
	if o.LogEvery <= 0 {
		o.LogEvery = 10
	}
	if o.Schedule == "" {
		o.Schedule = "linear"
	}
	if examples <= 0 {
		return errors.New("train: no training examples")
	}
	if o.Steps <= 0 {
		if o.Epochs <= 0 {
			return errors.New("train: give --steps or --epochs")
		}
		perStep := o.BatchSize * o.GradAccum
		o.Steps = max(1, int(math.Ceil(o.Epochs*float64(examples)/float64(perStep))))
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return nil
}

// Result summarises a run.
type Result struct {
	Steps     int
	FinalLoss float64 // mean loss over the last logging window
	Eval      map[string]float64
	Stopped   bool // StopAfter or a cancelled context ended the run early
	Elapsed   time.Duration
}

// Metric is one line of metrics.jsonl.
type Metric struct {
	Step      int                `json:"step"`
	Epoch     float64            `json:"epoch"`
	Loss      float64            `json:"loss"`
	LR        float64            `json:"lr"`
	GradNorm  float64            `json:"grad_norm"`
	TokensSec float64            `json:"tokens_per_sec"`
	Elapsed   float64            `json:"elapsed_sec"`
	Eval      map[string]float64 `json:"eval,omitempty"`
}

// Run trains task to o.Steps optimizer steps, writing checkpoints and the
// final model into o.Out. It is deterministic for a seed and thread count,
// and a run resumed from a checkpoint ends with the same weights as one
// that was never interrupted.
func Run(ctx context.Context, task Task, o Options) (*Result, error) {
	n := task.Examples()
	if err := o.defaults(n); err != nil {
		return nil, err
	}
	warmup := int(o.Warmup)
	if o.Warmup > 0 && o.Warmup < 1 {
		warmup = int(math.Round(o.Warmup * float64(o.Steps)))
	}
	sched, err := ParseSchedule(o.Schedule, warmup, o.Steps)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, err
	}
	sets := task.Params()
	opt := NewAdamW(o.LR, o.WeightDecay)
	opt.DecayAll = o.DecayAll
	st := &state{Seed: o.Seed, Steps: o.Steps}
	var history []Metric
	if o.Resume {
		dir, err := latestCheckpoint(o.Out)
		if err != nil {
			return nil, err
		}
		if dir != "" {
			if err := task.Restore(dir); err != nil {
				return nil, fmt.Errorf("train: resume from %s: %w", dir, err)
			}
			if st, err = loadState(dir, sets, opt); err != nil {
				return nil, err
			}
			if st.Seed != o.Seed || st.Steps != o.Steps {
				return nil, fmt.Errorf("train: %s was made with seed %d for %d steps; resume with the same settings", dir, st.Seed, st.Steps)
			}
			fmt.Fprintf(o.Progress, "resuming from %s (step %d of %d)\n", dir, st.Step, o.Steps)
		}
	}
	if history, err = trimMetrics(o.Out, st.Step); err != nil {
		return nil, err
	}
	log, err := os.OpenFile(filepath.Join(o.Out, "metrics.jsonl"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	defer log.Close()

	var ws tensor.Workspace
	g := nn.NewGraph(&ws, true)
	order := newOrder(o.Seed, n)
	bar := newProgress(o.Progress, o.Steps, st.Step)
	res := &Result{}
	start := time.Now()
	windowLoss, windowSteps, windowTokens := 0.0, 0, 0
	windowStart := time.Now()
	perStep := o.BatchSize * o.GradAccum
	examples := make([]int, 0, o.BatchSize)

	for st.Step < o.Steps {
		if err := ctx.Err(); err != nil {
			res.Stopped = true
			break
		}
		step := st.Step
		for _, ps := range sets {
			ps.ZeroGrad()
		}
		stepLoss, stepTokens := 0.0, 0
		for micro := 0; micro < o.GradAccum; micro++ {
			examples = examples[:0]
			base := uint64(step)*uint64(perStep) + uint64(micro*o.BatchSize)
			for k := 0; k < o.BatchSize; k++ {
				examples = append(examples, order.at(base+uint64(k)))
			}
			g.Reset()
			g.Seed = mix64(o.Seed, uint64(step)<<16|uint64(micro))
			g.GradScale = 1 / float32(o.GradAccum)
			loss, tokens, err := task.Loss(g, examples, step)
			if err != nil {
				return nil, fmt.Errorf("train: step %d: %w", step+1, err)
			}
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				return nil, fmt.Errorf("train: step %d: loss is %v (try a lower --lr)", step+1, loss)
			}
			g.Backward()
			stepLoss += loss / float64(o.GradAccum)
			stepTokens += tokens
		}
		g.Reset()
		norm := gradNorm(sets)
		if o.MaxGradNorm > 0 && norm > o.MaxGradNorm {
			scale := float32(o.MaxGradNorm / (norm + 1e-6))
			for _, ps := range sets {
				for i := range ps.G {
					ps.G[i] *= scale
				}
			}
		}
		lr := o.LR * sched.Factor(step)
		opt.Update(sets, lr)
		st.Step++

		windowLoss += stepLoss
		windowSteps++
		windowTokens += stepTokens
		bar.update(st.Step, stepLoss)
		if st.Step%o.LogEvery == 0 || st.Step == o.Steps {
			secs := time.Since(windowStart).Seconds()
			m := Metric{Step: st.Step, Epoch: float64(st.Step*perStep) / float64(n), Loss: windowLoss / float64(windowSteps),
				LR: lr, GradNorm: norm, TokensSec: float64(windowTokens) / secs, Elapsed: time.Since(start).Seconds()}
			if ev, ok := task.(Evaluator); ok && o.EvalEvery > 0 && st.Step%o.EvalEvery == 0 {
				if m.Eval, err = ev.Evaluate(ctx); err != nil {
					return nil, err
				}
			}
			if err := appendMetric(log, m); err != nil {
				return nil, err
			}
			history = append(history, m)
			bar.log(m)
			res.FinalLoss = m.Loss
			windowLoss, windowSteps, windowTokens, windowStart = 0, 0, 0, time.Now()
		}
		if o.StopAfter > 0 && st.Step >= o.StopAfter && st.Step < o.Steps {
			res.Stopped = true
			break
		}
		if o.SaveEvery > 0 && st.Step%o.SaveEvery == 0 && st.Step < o.Steps {
			if err := saveCheckpoint(o.Out, task, st, opt, o.Keep); err != nil {
				return nil, err
			}
			plotMetrics(o.Out, history)
		}
	}
	bar.finish()
	res.Steps, res.Elapsed = st.Step, time.Since(start)
	if res.Stopped {
		// Interrupted: leave a checkpoint to resume from.
		if err := saveCheckpoint(o.Out, task, st, opt, o.Keep); err != nil {
			return nil, err
		}
		plotMetrics(o.Out, history)
		return res, nil
	}
	if ev, ok := task.(Evaluator); ok {
		if res.Eval, err = ev.Evaluate(ctx); err != nil {
			return nil, err
		}
		fmt.Fprintf(o.Progress, "evaluation: %s\n", formatEval(res.Eval))
	}
	if err := saveFinal(o.Out, task, st, opt); err != nil {
		return nil, err
	}
	plotMetrics(o.Out, history)
	return res, nil
}

// gradNorm is the global L2 norm of every gradient (summed in a fixed order).
func gradNorm(sets []*nn.Params) float64 {
	var s float64
	for _, ps := range sets {
		for _, v := range ps.G {
			s += float64(v) * float64(v)
		}
	}
	return math.Sqrt(s)
}

func mix64(a, b uint64) uint64 {
	x := a ^ (b+0x9e3779b97f4a7c15)*0xbf58476d1ce4e5b9
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// order is the example order: an endless stream of epochs, each a seeded
// permutation, so the position is just a count of examples consumed.
type order struct {
	seed  uint64
	n     int
	epoch int
	perm  []int
}

func newOrder(seed uint64, n int) *order { return &order{seed: seed, n: n, epoch: -1} }

func (o *order) at(k uint64) int {
	e := int(k / uint64(o.n))
	if e != o.epoch {
		o.epoch = e
		rng := rand.New(rand.NewPCG(o.seed, uint64(e)+1))
		o.perm = rng.Perm(o.n)
	}
	return o.perm[k%uint64(o.n)]
}

func appendMetric(f *os.File, m Metric) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	return err
}

// trimMetrics keeps the metrics of steps up to step (a resumed run repeats
// the rest) and returns them.
func trimMetrics(out string, step int) ([]Metric, error) {
	path := filepath.Join(out, "metrics.jsonl")
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var keep []Metric
	var buf []byte
	dec := json.NewDecoder(bytesReader(data))
	for {
		var m Metric
		if err := dec.Decode(&m); err != nil {
			break // end, or a torn last line from a crash
		}
		if m.Step <= step {
			keep = append(keep, m)
			b, _ := json.Marshal(m)
			buf = append(append(buf, b...), '\n')
		}
	}
	return keep, writeFileAtomic(path, buf)
}

func formatEval(m map[string]float64) string {
	s := ""
	for _, k := range sortedKeys(m) {
		s += fmt.Sprintf("%s=%.4f ", k, m[k])
	}
	return s
}
