// Package shared finds the folder of third-party data and tokenizers that
// bioencoder reads but never commits (BIOENC_SHARED, default: the folder
// named "shared" beside the module root), and the module's own testdata.
package shared

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Env is the environment variable naming the shared folder.
const Env = "BIOENC_SHARED"

// ModuleRoot walks up from the working directory to the folder holding
// bioencoder's go.mod. `go test` runs in each package's folder, so tests use
// this to find testdata and the shared folder.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && isBioencoderMod(b) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("shared: no bioencoder go.mod above the working directory")
		}
		dir = parent
	}
}

func isBioencoderMod(b []byte) bool {
	const want = "module bioencoder"
	for len(b) > 0 {
		line := b
		if i := indexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if string(trimSpace(line)) == want {
			return true
		}
	}
	return false
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// Dir returns the shared folder: $BIOENC_SHARED if set, else "shared" beside
// the module root (or beside the working directory outside the module). It
// fails when the folder does not exist.
func Dir() (string, error) {
	dir := os.Getenv(Env)
	if dir == "" {
		base, err := ModuleRoot()
		if err != nil {
			base, _ = os.Getwd()
		}
		dir = filepath.Join(filepath.Dir(base), "shared")
	}
	st, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("shared data folder %s not found (set %s): %w", dir, Env, err)
	}
	if !st.IsDir() {
		return "", fmt.Errorf("shared data folder %s is not a directory (set %s)", dir, Env)
	}
	return dir, nil
}

// Path joins elem onto the shared folder and checks the result exists.
func Path(elem ...string) (string, error) {
	dir, err := Dir()
	if err != nil {
		return "", err
	}
	p := filepath.Join(append([]string{dir}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("shared data %s: %w", p, err)
	}
	return p, nil
}
