//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package index

import (
	"fmt"
	"os"
	"path/filepath"
)

// lockDir only creates the LOCK file here: on this platform writers in
// different processes are not kept apart (writers in one process are, by
// the Index's own mutex).
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("index: lock %s: %w", dir, err)
	}
	return func() { f.Close() }, nil
}
