package golden

import (
	"math"
	"path/filepath"
	"testing"

	"bioencoder"
	"bioencoder/config"
	"bioencoder/model"
	"bioencoder/nn"
	"bioencoder/safetensors"
	"bioencoder/tensor"
	"bioencoder/train"
	"bioencoder/weights"
)

// Training tolerances from golden/README.md.
const (
	tolLossRel = 1e-5
	tolGradAbs = 1e-5
	tolGradRel = 1e-3
)

type trainExpected struct {
	Loss      float64 `json:"loss"`
	ModelDir  string  `json:"model_dir"`
	Optimizer *struct {
		LR          float64   `json:"lr"`
		Betas       []float64 `json:"betas"`
		Eps         float64   `json:"eps"`
		WeightDecay float64   `json:"weight_decay"`
		Steps       int       `json:"steps"`
	} `json:"optimizer"`
}

// loadForTraining opens a fixture's model with dropout off.
func loadForTraining(t *testing.T, dir string) model.Model {
	t.Helper()
	cfg, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg.HiddenDropout, cfg.AttentionDropout, cfg.ClassifierDropout = 0, 0, 0
	cfg.EmbeddingDropout, cfg.MLPDropout = 0, 0
	store, err := weights.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	m, err := model.FromSource(cfg, model.Source(store, cfg), model.DefaultOptions)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// checkTraining runs one forward/backward on a fixture batch (masked LM or
// sequence classification), compares the loss and every parameter's
// gradient, then one AdamW step when the fixture has its result.
func checkTraining(t *testing.T, dir string) {
	var e trainExpected
	readJSON(t, filepath.Join(dir, "expected.json"), &e)
	m := loadForTraining(t, filepath.Join(dir, e.ModelDir))
	exp := openExpected(t, dir)
	ids := ints2D(t, exp, "input_ids")
	mask := ints2D(t, exp, "attention_mask")
	types := ints2D(t, exp, "token_type_ids")
	b, err := nn.FromPadded(ids, mask, types, false)
	if err != nil {
		t.Fatal(err)
	}
	var ws tensor.Workspace
	g := nn.NewGraph(&ws, true)
	var loss float64
	switch m.Task() {
	case config.MaskedLM:
		labels := ints2D(t, exp, "labels")
		tok := make([]int, b.Len())
		for i, src := range b.Src {
			tok[i] = labels[src/b.PadCols][src%b.PadCols]
		}
		loss, err = train.MLMLoss(g, m, b, tok)
	case config.SequenceClassification:
		lv, err2 := exp.Int64("labels")
		if err2 != nil {
			t.Fatal(err2)
		}
		labels := make([]int, len(lv))
		for i, v := range lv {
			labels[i] = int(v)
		}
		loss, err = train.SequenceLoss(g, m, b, labels)
	default:
		t.Fatalf("no training check for task %s", m.Task())
	}
	if err != nil {
		t.Fatal(err)
	}
	if rel := math.Abs(loss-e.Loss) / math.Abs(e.Loss); rel > tolLossRel {
		t.Errorf("loss %.9g, want %.9g (relative error %.2g)", loss, e.Loss, rel)
	} else {
		t.Logf("loss %.9g vs %.9g (relative error %.2g)", loss, e.Loss, rel)
	}
	g.Backward()
	compareParams(t, m.Params(), filepath.Join(dir, "grads.safetensors"), true, func(p *nn.Param) []float32 { return p.G })

	if e.Optimizer != nil {
		o := e.Optimizer
		opt := &train.AdamW{LR: o.LR, Beta1: o.Betas[0], Beta2: o.Betas[1], Eps: o.Eps, WeightDecay: o.WeightDecay, DecayAll: true}
		grads := append([]float32(nil), m.Params().G...)
		opt.Update([]*nn.Params{m.Params()}, o.LR)
		compareAdamW(t, m.Params(), grads, filepath.Join(dir, "params_after_adamw.safetensors"), o.LR)
	}
}

// compareParams compares a per-parameter quantity with a file keyed by
// Hugging Face names. With exhaustive set, every file entry must match a
// parameter and every parameter absent from the file must be all zero.
func compareParams(t *testing.T, ps *nn.Params, path string, exhaustive bool, get func(*nn.Param) []float32) {
	t.Helper()
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[string]bool{}
	worst, worstName := 0.0, ""
	for _, name := range f.Names() {
		p := ps.Get(name)
		if p == nil {
			t.Errorf("%s: %s has no parameter of that name in bioencoder's model", filepath.Base(path), name)
			continue
		}
		seen[name] = true
		want, err := f.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		got := get(p)
		for i := range want {
			d := math.Abs(float64(got[i] - want[i]))
			lim := tolGradAbs + tolGradRel*math.Abs(float64(want[i]))
			if d > lim || math.IsNaN(float64(got[i])) {
				t.Errorf("%s[%d] = %.8g, want %.8g", name, i, got[i], want[i])
				break
			}
			if d/lim > worst {
				worst, worstName = d/lim, name
			}
		}
	}
	if exhaustive {
		for _, p := range ps.List {
			if seen[p.Name] {
				continue
			}
			for _, v := range get(p) {
				if v != 0 {
					t.Errorf("parameter %s has gradient but the fixture has none for it", p.Name)
					break
				}
			}
		}
	}
	t.Logf("%s: %d tensors, worst error %.2g of tolerance (%s)", filepath.Base(path), len(seen), worst, worstName)
}

// compareAdamW compares parameters after one step. Where the stored
// gradient is within a few eps of zero the update g/(|g|+eps) is not
// determined by float32 gradients, so those entries may differ by up to lr.
func compareAdamW(t *testing.T, ps *nn.Params, grads []float32, path string, lr float64) {
	t.Helper()
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bad := 0
	for _, name := range f.Names() {
		p := ps.Get(name)
		if p == nil {
			t.Errorf("%s: no parameter %s", filepath.Base(path), name)
			continue
		}
		want, err := f.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		g := grads[p.Offset() : p.Offset()+len(p.W)]
		for i := range want {
			lim := tolGradAbs + tolGradRel*math.Abs(float64(want[i]))
			if math.Abs(float64(g[i])) < 1e-6 {
				lim += 2 * lr
			}
			if d := math.Abs(float64(p.W[i] - want[i])); d > lim {
				if bad < 5 {
					t.Errorf("after AdamW %s[%d] = %.8g, want %.8g (grad %.3g)", name, i, p.W[i], want[i], g[i])
				}
				bad++
			}
		}
	}
	if bad == 0 {
		t.Logf("%s: every parameter within tolerance", filepath.Base(path))
	}
}

// checkTrainingST trains the st_embed sentence-transformers model one
// micro-batch with each loss (MSE distillation, MNRL, DistillKL), from the
// fixture's texts through bioencoder's own tokenization, and compares the
// loss and every gradient.
func checkTrainingST(t *testing.T, dir string) {
	var e struct {
		ModelDir string `json:"model_dir"`
		MSE      struct {
			Loss  float64  `json:"loss"`
			Texts []string `json:"texts"`
		} `json:"mse"`
		MNRL struct {
			Loss  float64     `json:"loss"`
			Pairs [][2]string `json:"pairs"`
			Scale float32     `json:"scale"`
		} `json:"mnrl"`
		KL struct {
			Loss        float64     `json:"loss"`
			Rows        [][]string  `json:"rows"`
			Teacher     [][]float32 `json:"teacher_scores"`
			Temperature float64     `json:"temperature"`
		} `json:"kl"`
	}
	readJSON(t, filepath.Join(dir, "expected.json"), &e)
	exp := openExpected(t, dir)
	teacher, _ := floats(t, exp, "mse.teacher")
	dim := len(teacher) / len(e.MSE.Texts)
	var mse, mnrl, kl []train.EmbedExample
	for i, txt := range e.MSE.Texts {
		mse = append(mse, train.EmbedExample{Texts: []string{txt}, Target: teacher[i*dim : (i+1)*dim]})
	}
	for _, p := range e.MNRL.Pairs {
		mnrl = append(mnrl, train.EmbedExample{Texts: []string{p[0], p[1]}})
	}
	for i, r := range e.KL.Rows {
		kl = append(kl, train.EmbedExample{Texts: r, Scores: e.KL.Teacher[i]})
	}
	for _, tc := range []struct {
		loss  string
		data  []train.EmbedExample
		want  float64
		grads string
	}{
		{"mse", mse, e.MSE.Loss, "grads_mse.safetensors"},
		{"mnrl", mnrl, e.MNRL.Loss, "grads_mnrl.safetensors"},
		{"kl", kl, e.KL.Loss, "grads_kl.safetensors"},
	} {
		t.Run(tc.loss, func(t *testing.T) {
			m, err := bioencoder.Load(filepath.Join(dir, e.ModelDir))
			if err != nil {
				t.Fatal(err)
			}
			cfg := m.Config()
			cfg.HiddenDropout, cfg.AttentionDropout = 0, 0
			task := &train.Embeddings{Model: m, Objective: tc.loss, Scale: e.MNRL.Scale, Temperature: e.KL.Temperature, Data: tc.data}
			var ws tensor.Workspace
			g := nn.NewGraph(&ws, true)
			all := make([]int, len(tc.data))
			for i := range all {
				all[i] = i
			}
			loss, _, err := task.Loss(g, all, 0)
			if err != nil {
				t.Fatal(err)
			}
			if rel := math.Abs(loss-tc.want) / math.Abs(tc.want); rel > tolLossRel {
				t.Errorf("loss %.9g, want %.9g (relative error %.2g)", loss, tc.want, rel)
			} else {
				t.Logf("loss %.9g vs %.9g (relative error %.2g)", loss, tc.want, rel)
			}
			g.Backward()
			compareParams(t, m.Params()[0], filepath.Join(dir, tc.grads), true, func(p *nn.Param) []float32 { return p.G })
		})
	}
}
