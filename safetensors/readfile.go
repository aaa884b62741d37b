package safetensors

import (
	"io"
	"os"
)

// readFile is the fallback when mapping is unavailable: size comes from
// Stat, so the allocation matches bytes that really exist.
func readFile(f *os.File, size int) ([]byte, func() error, error) {
	data := make([]byte, size)
	if _, err := io.ReadFull(io.NewSectionReader(f, 0, int64(size)), data); err != nil {
		return nil, nil, err
	}
	return data, nil, nil
}
