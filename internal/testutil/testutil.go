// Package testutil holds helpers shared by bioencoder's tests.
package testutil

import (
	"path/filepath"
	"testing"

	"bioencoder/internal/shared"
)

// SharedOrSkip returns a path inside the shared third-party folder
// (BIOENC_SHARED) and skips the test with a clear message when it is absent.
func SharedOrSkip(t testing.TB, elem ...string) string {
	t.Helper()
	p, err := shared.Path(elem...)
	if err != nil {
		t.Skipf("skipping: third-party shared data unavailable: %v", err)
	}
	return p
}

// Testdata returns a path inside the module's testdata folder.
func Testdata(t testing.TB, elem ...string) string {
	t.Helper()
	root, err := shared.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(append([]string{root, "testdata"}, elem...)...)
}
