// Package golden runs every fixture in testdata/golden (or in
// $BIOENC_GOLDEN_DIR) against bioencoder: Hugging Face outputs for
// random-weight models, text-level sentence-transformers / CrossEncoder /
// PyLate fixtures, the safetensors dtype fixture and training fixtures.
// A fixture is recognised by its folder name (the prefix before any
// suffix); the runner fails - never skips - on a mismatch or a kind it does
// not know.
package golden

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"bioencoder/internal/testutil"
	"bioencoder/kernels"
)

// kinds maps a fixture name prefix to its check. Longer prefixes win.
var kinds = map[string]func(t *testing.T, dir string){
	"bert_mlm":             checkForward,
	"bert_bf16":            checkForward,
	"bert_seqcls":          checkForward,
	"bert_tokcls":          checkForward,
	"modernbert_mlm":       checkForward,
	"modernbert_seqcls":    checkForward,
	"modernbert_tokcls":    checkForward,
	"st_embed":             checkSTEmbed,
	"cross_encoder":        checkCrossEncoder,
	"colbert":              checkColBERT,
	"safetensors_dtypes":   checkDtypes,
	"train_bert_mlm":       checkTrain,
	"train_modernbert_mlm": checkTrain,
	"train_bert_seqcls":    checkTrain,
	"train_st_embed":       checkTrainST,
}

// kindOf returns the fixture kind of a folder name: the longest known
// prefix that is the whole name or followed by "_".
func kindOf(name string) string {
	best := ""
	for k := range kinds {
		if (name == k || strings.HasPrefix(name, k+"_")) && len(k) > len(best) {
			best = k
		}
	}
	return best
}

func fixtureDir(t *testing.T) string {
	if d := os.Getenv("BIOENC_GOLDEN_DIR"); d != "" {
		return d
	}
	return testutil.Testdata(t, "golden")
}

func TestGolden(t *testing.T) {
	root := fixtureDir(t)
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	sort.Strings(dirs)
	if len(dirs) == 0 {
		t.Fatalf("no fixture folders in %s", root)
	}
	defer kernels.SetPath(kernels.Best())
	for _, path := range kernels.Available() {
		t.Run(path.String(), func(t *testing.T) {
			if err := kernels.SetPath(path); err != nil {
				t.Fatal(err)
			}
			for _, name := range dirs {
				kind := kindOf(name)
				t.Run(name, func(t *testing.T) {
					if kind == "" {
						t.Fatalf("fixture %s: unknown fixture kind (known: %s)", name, strings.Join(sortedKinds(), ", "))
					}
					kinds[kind](t, filepath.Join(root, name))
				})
			}
		})
	}
}

func sortedKinds() []string {
	var ks []string
	for k := range kinds {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
