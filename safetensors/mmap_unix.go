//go:build linux || darwin || freebsd

package safetensors

import (
	"os"
	"syscall"
)

// mapFile maps the file read-only. The mapping outlives f's descriptor.
func mapFile(f *os.File, size int) ([]byte, func() error, error) {
	data, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return readFile(f, size)
	}
	return data, func() error { return syscall.Munmap(data) }, nil
}
