package safetensors

import (
	"bioencoder/internal/atomicfile"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// IndexName is the file naming the shards of a sharded safetensors checkpoint.
const IndexName = "model.safetensors.index.json"

// maxIndexSize bounds how much of an index file is read: a weight map of a
// few hundred thousand names is far below it.
const maxIndexSize = 100_000_000

// Index is a sharded checkpoint's index:
// {"metadata": {"total_size": …}, "weight_map": {tensor name: shard file}}.
// The same scheme is used by pytorch_model.bin.index.json.
type Index struct {
	TotalSize int64             // metadata.total_size (0 when absent)
	Metadata  map[string]any    // the whole "metadata" object
	WeightMap map[string]string // tensor name → shard file name (in the index's folder)
}

// Shards lists the distinct shard files, sorted.
func (ix *Index) Shards() []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ix.WeightMap {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// ReadIndex reads and checks an index file. Shard names must be plain file
// names in the index's folder (no separators, no "..").
func ReadIndex(path string) (*Index, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxIndexSize+1))
	if err != nil {
		return nil, fmt.Errorf("safetensors: %s: %w", path, err)
	}
	if len(b) > maxIndexSize {
		return nil, fmt.Errorf("safetensors: %s: index larger than %d bytes", path, maxIndexSize)
	}
	return ParseIndex(path, b)
}

// ParseIndex parses index JSON; name is used in messages.
func ParseIndex(name string, b []byte) (*Index, error) {
	var raw struct {
		Metadata  map[string]any    `json:"metadata"`
		WeightMap map[string]string `json:"weight_map"`
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("safetensors: %s: %w", name, err)
	}
	if raw.WeightMap == nil {
		return nil, fmt.Errorf("safetensors: %s: no \"weight_map\"", name)
	}
	ix := &Index{Metadata: raw.Metadata, WeightMap: raw.WeightMap}
	if v, ok := raw.Metadata["total_size"]; ok {
		// Some writers store total_size as a float ("1234.0"); accept
		// any number with an integral value.
		num, ok := v.(json.Number)
		var f float64
		var err error
		if ok {
			f, err = num.Float64()
		}
		if !ok || err != nil || f < 0 || f != float64(int64(f)) {
			return nil, fmt.Errorf("safetensors: %s: metadata.total_size %v is not a non-negative integer", name, v)
		}
		ix.TotalSize = int64(f)
	}
	for tensor, shard := range raw.WeightMap {
		if !plainFileName(shard) {
			return nil, fmt.Errorf("safetensors: %s: tensor %q maps to %q, which is not a file name in the index's folder", name, tensor, shard)
		}
	}
	return ix, nil
}

func plainFileName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, `/\`) && filepath.Base(s) == s
}

// WriteSharded writes tensors into shards of at most maxShardBytes of tensor
// data each (a larger tensor gets a shard of its own), named like
// transformers does (model-00001-of-00003.safetensors), plus
// model.safetensors.index.json; every shard carries metadata. It returns the
// shard file names. Each file is written atomically.
func WriteSharded(dir string, tensors map[string]Tensor, metadata map[string]string, maxShardBytes int64) ([]string, error) {
	if _, err := layout(tensors); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(tensors))
	for name := range tensors {
		names = append(names, name)
	}
	sort.Strings(names)
	var groups [][]string
	var cur []string
	var curBytes, total int64
	for _, name := range names {
		n := int64(len(tensors[name].Data))
		total += n
		if len(cur) > 0 && curBytes+n > maxShardBytes {
			groups = append(groups, cur)
			cur, curBytes = nil, 0
		}
		cur = append(cur, name)
		curBytes += n
	}
	if len(cur) > 0 || len(groups) == 0 {
		groups = append(groups, cur)
	}
	files := make([]string, len(groups))
	weightMap := make(map[string]string, len(names))
	for i, g := range groups {
		files[i] = fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, len(groups))
		part := make(map[string]Tensor, len(g))
		for _, name := range g {
			part[name] = tensors[name]
			weightMap[name] = files[i]
		}
		if err := Write(filepath.Join(dir, files[i]), part, metadata); err != nil {
			return nil, err
		}
	}
	index := map[string]any{
		"metadata":   map[string]any{"total_size": total},
		"weight_map": weightMap,
	}
	b, err := json.MarshalIndent(index, "", "  ")
	if err != nil {
		return nil, err
	}
	b = append(b, '\n')
	err = atomicfile.WriteFunc(filepath.Join(dir, IndexName), func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
	return files, err
}
