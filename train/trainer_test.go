package train

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"bioencoder/config"
	"bioencoder/internal/testutil"
	"bioencoder/model"
	"bioencoder/parallel"
	"bioencoder/tokenizer"
)

const tinyBERT = `{"architectures":["BertForMaskedLM"],"model_type":"bert","vocab_size":1000,"hidden_size":32,
"num_hidden_layers":2,"num_attention_heads":4,"intermediate_size":64,"max_position_embeddings":64,
"hidden_dropout_prob":0.1,"attention_probs_dropout_prob":0.1}`

var words = strings.Fields(`the patient was diagnosed with type diabetes and hypertension common comorbidities
insulin doses were reduced in children blood pressure is associated with diet age kidney disease mouse model showed
increased tumor growth smoking increases lung cancer risk fever cough are symptoms`)

// tinyMLM builds a fresh tiny BERT and an MLM task over a generated corpus.
func tinyMLM(t testing.TB, dir string) *MLM {
	t.Helper()
	tokDir := testutil.Testdata(t, "golden", "st_embed")
	tok, err := tokenizer.Load(tokDir)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(tinyBERT), "tiny")
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.New(cfg, model.DefaultOptions)
	if err != nil {
		t.Fatal(err)
	}
	m.Init(1)
	rng := rand.New(rand.NewPCG(3, 4))
	docs := func(yield func(string) bool) error {
		for d := 0; d < 60; d++ {
			var b strings.Builder
			for w := 0; w < 8+rng.IntN(20); w++ {
				b.WriteString(words[rng.IntN(len(words))] + " ")
			}
			if !yield(b.String()) {
				break
			}
		}
		return nil
	}
	seqs, err := BuildSequences(docs, tok, 32, true, filepath.Join(dir, "cache.bin"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { seqs.Close() })
	masker, err := NewMasker(tok, cfg.VocabSize, false)
	if err != nil {
		t.Fatal(err)
	}
	cls, _ := tok.CLSID()
	sep, _ := tok.SEPID()
	prob, _ := ParseStepped("0.3,0.15", 24)
	return &MLM{Model: m, TokDir: tokDir, Data: seqs, Held: seqs, Prob: prob, Mask: masker, Seed: 9, CLS: cls, SEP: sep}
}

func tinyOptions(out string) Options {
	return Options{Out: out, Seed: 9, Steps: 24, BatchSize: 4, GradAccum: 2, LR: 3e-3, Schedule: "wsd", Warmup: 4,
		WeightDecay: 0.01, MaxGradNorm: 1, SaveEvery: 8, LogEvery: 4}
}

func weightsOf(t testing.TB, dir string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTrainingIsDeterministicAndLearns(t *testing.T) {
	parallel.SetWorkers(1)
	defer parallel.SetWorkers(0)
	var outs [2]string
	for i := range outs {
		outs[i] = t.TempDir()
		task := tinyMLM(t, outs[i])
		res, err := Run(context.Background(), task, tinyOptions(outs[i]))
		if err != nil {
			t.Fatal(err)
		}
		if res.Steps != 24 || res.Eval["masked_accuracy"] <= 0 {
			t.Fatalf("result %+v", res)
		}
	}
	if !bytes.Equal(weightsOf(t, outs[0]), weightsOf(t, outs[1])) {
		t.Fatal("two runs with the same seed gave different weights")
	}
	// The final folder is a complete Hugging Face folder.
	for _, f := range []string{"config.json", "model.safetensors", "tokenizer.json", "vocab.txt", "metrics.jsonl", "trainer_state.json", "training.png"} {
		if _, err := os.Stat(filepath.Join(outs[0], f)); err != nil {
			t.Errorf("missing %s", f)
		}
	}
	// Loss goes down on this tiny corpus.
	ms, err := trimMetrics(outs[0], 1<<30)
	if err != nil || len(ms) < 2 || !(ms[len(ms)-1].Loss < ms[0].Loss) {
		t.Fatalf("loss did not fall: %+v %v", ms, err)
	}
	// The saved model loads back with bioencoder's own loader.
	if _, err := model.Open(outs[0], model.DefaultOptions); err != nil {
		t.Fatal(err)
	}
}

func TestResumeMatchesUninterruptedRun(t *testing.T) {
	parallel.SetWorkers(1)
	defer parallel.SetWorkers(0)
	full := t.TempDir()
	if _, err := Run(context.Background(), tinyMLM(t, full), tinyOptions(full)); err != nil {
		t.Fatal(err)
	}
	part := t.TempDir()
	o := tinyOptions(part)
	o.StopAfter = 11 // between checkpoints: the stop itself writes one
	res, err := Run(context.Background(), tinyMLM(t, part), o)
	if err != nil || !res.Stopped || res.Steps != 11 {
		t.Fatalf("stopped run: %+v %v", res, err)
	}
	o.StopAfter, o.Resume = 0, true
	if _, err := Run(context.Background(), tinyMLM(t, part), o); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(weightsOf(t, full), weightsOf(t, part)) {
		t.Fatal("resumed run ended with different weights")
	}
}

// TestKilledRunResumes trains in a child process, kills it with SIGKILL
// once a checkpoint exists, resumes, and compares with an uninterrupted run.
func TestKilledRunResumes(t *testing.T) {
	if out := os.Getenv("BIOENC_TRAIN_CHILD"); out != "" {
		parallel.SetWorkers(1)
		o := tinyOptions(out)
		o.Steps, o.SaveEvery = 60, 10 // long enough to be killed mid-run
		if _, err := Run(context.Background(), tinyMLM(t, out), o); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if testing.Short() {
		t.Skip("spawns a training process")
	}
	parallel.SetWorkers(1)
	defer parallel.SetWorkers(0)
	killed := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledRunResumes$")
	cmd.Env = append(os.Environ(), "BIOENC_TRAIN_CHILD="+killed)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		steps, _ := checkpointSteps(killed)
		if len(steps) > 0 && steps[len(steps)-1] >= 20 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("child wrote no checkpoint in time")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	steps, _ := checkpointSteps(killed)
	t.Logf("killed after checkpoint %v", steps)

	o := tinyOptions(killed)
	o.Steps, o.SaveEvery, o.Resume = 60, 10, true
	if _, err := Run(context.Background(), tinyMLM(t, killed), o); err != nil {
		t.Fatal(err)
	}
	full := t.TempDir()
	o = tinyOptions(full)
	o.Steps, o.SaveEvery = 60, 10
	if _, err := Run(context.Background(), tinyMLM(t, full), o); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(weightsOf(t, full), weightsOf(t, killed)) {
		t.Fatal("run killed with SIGKILL and resumed ended with different weights")
	}
}
