//go:build !(linux || darwin || freebsd)

package safetensors

import "os"

func mapFile(f *os.File, size int) ([]byte, func() error, error) {
	return readFile(f, size)
}
