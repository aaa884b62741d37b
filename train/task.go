package train

import (
	"context"

	"bioencoder/nn"
)

// Task is one kind of training - masked-LM pretraining, embeddings,
// classification... It owns the model and the examples; the trainer owns
// the order of examples, the optimizer, schedules, checkpoints and logs.
type Task interface {
	// Examples is the number of training examples in one epoch.
	Examples() int
	// Loss computes the loss of a micro-batch (example indices into the
	// epoch's data) on a training graph; the trainer then calls Backward.
	// step is the optimizer step: randomness (masking, negatives) must be a
	// function of (seed, step, example) so that a resumed run repeats it.
	// tokens counts the tokens processed, for throughput.
	Loss(g *nn.Graph, examples []int, step int) (loss float64, tokens int, err error)
	// Params are the parameter sets the optimizer updates (the encoder's,
	// and e.g. those of Dense modules).
	Params() []*nn.Params
	// Save writes the model as a Hugging Face folder into dir.
	Save(dir string) error
	// Restore loads parameters saved by Save (for --resume).
	Restore(dir string) error
}

// Evaluator is a Task that can measure itself on held-out data.
type Evaluator interface {
	Evaluate(ctx context.Context) (map[string]float64, error)
}
