package index

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"bioencoder"
	"bioencoder/config"
)

// Fingerprint identifies a model's weights well enough to refuse an index
// opened with the wrong one: the SHA-256 of every config.json of the folder
// and of its modules' subfolders (modules.json), the size of every weight
// file there, and the
// vectors of a few fixed probe texts. Probe vectors are compared with a
// tolerance because the kernel path (generic, AVX2, AVX-512) changes the
// last bits; a model with the same name and shapes but other weights moves
// them far more.
type Fingerprint struct {
	// ID is a digest of the configs and weight sizes, for display.
	ID      string            `json:"id"`
	Configs map[string]string `json:"configs"` // relative path → SHA-256
	Weights map[string]int64  `json:"weights"` // relative path → bytes
	Probes  [][]float32       `json:"probes"`
}

var probeTexts = []string{
	"aspirin irreversibly inhibits cyclooxygenase and platelet aggregation",
	"BRCA1 mutations increase the lifetime risk of breast and ovarian cancer",
	"the patient presented with fever, cough and bilateral infiltrates on chest x-ray",
}

var weightFileRE = regexp.MustCompile(`^(model.*\.safetensors|pytorch_model.*\.bin|model\.safetensors\.index\.json|pytorch_model\.bin\.index\.json)$`)

// probeTolerance is the largest relative L2 distance between probe vectors
// of the same model on different CPUs.
const probeTolerance = 1e-3

// ComputeFingerprint fingerprints a loaded model.
func ComputeFingerprint(ctx context.Context, m *bioencoder.Model) (Fingerprint, error) {
	fp := Fingerprint{Configs: map[string]string{}, Weights: map[string]int64{}}
	root := m.Dir()
	// The folder and its modules' folders - not every subfolder, which
	// may hold training checkpoints or exports that come and go.
	dirs := []string{root}
	mods, err := config.LoadModules(root)
	if err != nil {
		return fp, fmt.Errorf("index: fingerprint of %s: %w", root, err)
	}
	for _, md := range mods {
		if d := filepath.Join(root, md.Path); md.Path != "" && !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	for _, d := range dirs {
		ents, err := os.ReadDir(d)
		if errors.Is(err, fs.ErrNotExist) && d != root {
			continue // modules without files (Normalize) need no folder
		}
		if err != nil {
			return fp, fmt.Errorf("index: fingerprint of %s: %w", root, err)
		}
		for _, e := range ents {
			if e.IsDir() {
				continue
			}
			p := filepath.Join(d, e.Name())
			rel, _ := filepath.Rel(root, p)
			rel = filepath.ToSlash(rel)
			switch {
			case e.Name() == "config.json":
				b, err := os.ReadFile(p)
				if err != nil {
					return fp, fmt.Errorf("index: fingerprint: %w", err)
				}
				sum := sha256.Sum256(b)
				fp.Configs[rel] = hex.EncodeToString(sum[:])
			case weightFileRE.MatchString(e.Name()):
				info, err := e.Info()
				if err != nil {
					return fp, fmt.Errorf("index: fingerprint: %w", err)
				}
				fp.Weights[rel] = info.Size()
			}
		}
	}
	h := sha256.New()
	for _, k := range sortedKeys(fp.Configs) {
		fmt.Fprintf(h, "config %s %s\n", k, fp.Configs[k])
	}
	for _, k := range sortedKeys(fp.Weights) {
		fmt.Fprintf(h, "weights %s %d\n", k, fp.Weights[k])
	}
	fp.ID = hex.EncodeToString(h.Sum(nil))[:16]
	if fp.Probes, err = probeVectors(ctx, m); err != nil {
		return fp, fmt.Errorf("index: fingerprint of %s: %w", root, err)
	}
	return fp, nil
}

// probeVectors embeds the probe texts as documents; for ColBERT the mean of
// each text's token vectors.
func probeVectors(ctx context.Context, m *bioencoder.Model) ([][]float32, error) {
	if m.Kind() != bioencoder.ColBERT {
		return m.EmbedDocument(ctx, probeTexts)
	}
	toks, err := m.EncodeColBERT(ctx, probeTexts, false)
	if err != nil {
		return nil, err
	}
	out := make([][]float32, len(toks))
	for i, t := range toks {
		if len(t) == 0 {
			continue
		}
		mean := make([]float32, len(t[0]))
		for _, v := range t {
			for j, x := range v {
				mean[j] += x
			}
		}
		for j := range mean {
			mean[j] /= float32(len(t))
		}
		out[i] = mean
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Mismatch explains how got differs from want, or returns "" when they
// identify the same model.
func (want Fingerprint) Mismatch(got Fingerprint) string {
	var why []string
	for _, k := range sortedKeys(want.Configs) {
		if g, ok := got.Configs[k]; !ok {
			why = append(why, k+" is missing")
		} else if g != want.Configs[k] {
			why = append(why, k+" differs")
		}
	}
	for _, k := range sortedKeys(got.Configs) {
		if _, ok := want.Configs[k]; !ok {
			why = append(why, k+" is new")
		}
	}
	for _, k := range sortedKeys(want.Weights) {
		if g, ok := got.Weights[k]; !ok {
			why = append(why, "weight file "+k+" is missing")
		} else if g != want.Weights[k] {
			why = append(why, fmt.Sprintf("weight file %s has %d bytes, was %d", k, g, want.Weights[k]))
		}
	}
	for _, k := range sortedKeys(got.Weights) {
		if _, ok := want.Weights[k]; !ok {
			why = append(why, "weight file "+k+" is new")
		}
	}
	if len(want.Probes) != len(got.Probes) {
		why = append(why, "different probe count")
	} else {
		for i := range want.Probes {
			if d := relDist(want.Probes[i], got.Probes[i]); !(d <= probeTolerance) { // NaN too
				why = append(why, fmt.Sprintf("probe text %d embeds differently (relative distance %.3g > %g): other weights", i, d, probeTolerance))
				break
			}
		}
	}
	return strings.Join(why, "; ")
}

// relDist is ‖a−b‖ / max(‖a‖, ‖b‖); +Inf for different widths.
func relDist(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var d, na, nb float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		d += (x - y) * (x - y)
		na += x * x
		nb += y * y
	}
	den := math.Sqrt(max(na, nb))
	if den == 0 {
		return math.Sqrt(d)
	}
	return math.Sqrt(d) / den
}
