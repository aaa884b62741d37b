package train

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"bioencoder/internal/atomicfile"
	"bioencoder/nn"
	"bioencoder/safetensors"
)

// state is trainer_state.json: where a run is. Data order, masking and
// dropout are pure functions of (seed, step), so the step is the whole data
// position and RNG state.
type state struct {
	Step          int    `json:"global_step"`
	Steps         int    `json:"max_steps"`
	Seed          uint64 `json:"seed"`
	OptimizerStep int    `json:"optimizer_step"`
}

const (
	stateFile     = "trainer_state.json"
	optimizerFile = "optimizer.safetensors"
)

// saveCheckpoint writes out/checkpoint-<step>/ atomically: the model folder,
// the optimizer moments and the trainer state go into a temporary folder
// that is renamed into place once everything is on disk. Older checkpoints
// beyond keep are removed afterwards.
func saveCheckpoint(out string, task Task, st *state, opt *AdamW, keep int) error {
	final := filepath.Join(out, fmt.Sprintf("checkpoint-%d", st.Step))
	tmp, err := os.MkdirTemp(out, ".tmp-checkpoint-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // no-op after the rename
	if err := writeCheckpointFiles(tmp, task, st, opt); err != nil {
		return err
	}
	if err := syncDir(tmp); err != nil {
		return err
	}
	os.RemoveAll(final) // a checkpoint of the same step from an interrupted earlier attempt
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	if err := syncDir(out); err != nil {
		return err
	}
	return pruneCheckpoints(out, keep)
}

func writeCheckpointFiles(dir string, task Task, st *state, opt *AdamW) error {
	if err := task.Save(dir); err != nil {
		return err
	}
	tensors := map[string]safetensors.Tensor{}
	for si, ps := range task.Params() {
		if opt.M == nil {
			break
		}
		for _, p := range ps.List {
			m, v := opt.M[si][p.Offset():p.Offset()+len(p.W)], opt.V[si][p.Offset():p.Offset()+len(p.W)]
			tm, err := safetensors.FromFloat32(safetensors.F32, p.Shape, m)
			if err != nil {
				return err
			}
			tv, err := safetensors.FromFloat32(safetensors.F32, p.Shape, v)
			if err != nil {
				return err
			}
			tensors[momentName("exp_avg", si, p.Name)], tensors[momentName("exp_avg_sq", si, p.Name)] = tm, tv
		}
	}
	if err := safetensors.Write(filepath.Join(dir, optimizerFile), tensors, map[string]string{"step": strconv.Itoa(opt.Step)}); err != nil {
		return err
	}
	st.OptimizerStep = opt.Step
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, stateFile), append(b, '\n'))
}

// saveFinal writes the final model into out itself, file by file (each
// file replaced atomically), plus the trainer state.
func saveFinal(out string, task Task, st *state, opt *AdamW) error {
	tmp, err := os.MkdirTemp(out, ".tmp-final-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := task.Save(tmp); err != nil {
		return err
	}
	st.OptimizerStep = opt.Step
	b, _ := json.MarshalIndent(st, "", "  ")
	if err := writeFileAtomic(filepath.Join(tmp, stateFile), append(b, '\n')); err != nil {
		return err
	}
	err = filepath.Walk(tmp, func(path string, info os.FileInfo, err error) error {
		if err != nil || path == tmp {
			return err
		}
		rel, _ := filepath.Rel(tmp, path)
		dst := filepath.Join(out, rel)
		if info.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		return os.Rename(path, dst)
	})
	if err != nil {
		return err
	}
	return syncDir(out)
}

// latestCheckpoint returns the newest checkpoint-N folder in out ("" if none).
func latestCheckpoint(out string) (string, error) {
	steps, err := checkpointSteps(out)
	if err != nil || len(steps) == 0 {
		return "", err
	}
	return filepath.Join(out, fmt.Sprintf("checkpoint-%d", steps[len(steps)-1])), nil
}

func checkpointSteps(out string) ([]int, error) {
	entries, err := os.ReadDir(out)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	var steps []int
	for _, e := range entries {
		if s, ok := strings.CutPrefix(e.Name(), "checkpoint-"); ok && e.IsDir() {
			if n, err := strconv.Atoi(s); err == nil {
				steps = append(steps, n)
			}
		}
	}
	sort.Ints(steps)
	return steps, nil
}

func pruneCheckpoints(out string, keep int) error {
	steps, err := checkpointSteps(out)
	if err != nil {
		return err
	}
	for len(steps) > keep {
		if err := os.RemoveAll(filepath.Join(out, fmt.Sprintf("checkpoint-%d", steps[0]))); err != nil {
			return err
		}
		steps = steps[1:]
	}
	return nil
}

// momentName names an optimizer moment tensor: set 0 (the encoder) keeps
// plain parameter names.
func momentName(kind string, set int, name string) string {
	if set == 0 {
		return kind + "/" + name
	}
	return fmt.Sprintf("%s/%d/%s", kind, set, name)
}

// loadState reads a checkpoint's trainer state and optimizer moments.
func loadState(dir string, sets []*nn.Params, opt *AdamW) (*state, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, err
	}
	st := &state{}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("train: %s: %v", filepath.Join(dir, stateFile), err)
	}
	f, err := safetensors.Open(filepath.Join(dir, optimizerFile))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	opt.Step = st.OptimizerStep
	if f.Len() == 0 {
		return st, nil
	}
	opt.M, opt.V = nil, nil
	for si, ps := range sets {
		M, V := make([]float32, len(ps.W)), make([]float32, len(ps.W))
		opt.M, opt.V = append(opt.M, M), append(opt.V, V)
		for _, p := range ps.List {
			for _, kv := range []struct {
				name string
				dst  []float32
			}{{momentName("exp_avg", si, p.Name), M}, {momentName("exp_avg_sq", si, p.Name), V}} {
				v, err := f.Float32(kv.name)
				if err != nil {
					return nil, err
				}
				if len(v) != len(p.W) {
					return nil, fmt.Errorf("train: %s: %s has %d values, parameter has %d", f.Path(), kv.name, len(v), len(p.W))
				}
				copy(kv.dst[p.Offset():], v)
			}
		}
	}
	return st, nil
}

func writeFileAtomic(path string, data []byte) error { return atomicfile.WriteFile(path, data) }

func syncDir(dir string) error {
	atomicfile.SyncDir(dir)
	return nil
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

func sortedKeys(m map[string]float64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
