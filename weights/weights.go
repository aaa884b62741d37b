// Package weights opens a model's weights, whatever their file format, and
// hands tensors to model code by Hugging Face parameter name.
//
// A Store is opened on a model folder (model.safetensors,
// model.safetensors.index.json, pytorch_model.bin or
// pytorch_model.bin.index.json, preferring safetensors) or on a single
// weight file. Names are normalised the way transformers does when loading
// (legacy "LayerNorm.gamma/beta" become "LayerNorm.weight/bias"), and with a
// base-model prefix set ("bert", "model") a lookup also tries the name with
// that prefix added or removed, so a bare-model checkpoint loads into a head
// model and the other way round. Model code reads tensors through Scopes:
//
//	layer := st.Scope("bert.encoder.layer").Sub("3")
//	q, err := layer.Tensor("attention.self.query.weight", h, h)
//
// The Store records which tensors were read, so callers can report the
// ones a model left unused.
package weights

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"bioencoder/safetensors"
	"bioencoder/tensor"
	"bioencoder/torchbin"
)

// Candidate weight files in a model folder, in order of preference.
var folderFiles = []string{
	"model.safetensors",
	"model.safetensors.index.json",
	"pytorch_model.bin",
	"pytorch_model.bin.index.json",
}

// source is one opened weight file.
type source interface {
	Names() []string
	info(name string) (safetensors.DType, []int, bool)
	Float32(name string) ([]float32, error)
	Int64(name string) ([]int64, error)
	Close() error
}

type stFile struct{ *safetensors.File }

func (f stFile) info(name string) (safetensors.DType, []int, bool) {
	in, ok := f.Info(name)
	return in.DType, in.Shape, ok
}

type binFile struct{ *torchbin.File }

func (f binFile) info(name string) (safetensors.DType, []int, bool) {
	in, ok := f.Info(name)
	return in.DType, in.Shape, ok
}

type entry struct {
	src    source
	file   string // path of the file holding the tensor
	stored string // name inside that file
	dtype  safetensors.DType
	shape  []int
}

// Store is an opened set of weights. It is safe for concurrent use.
type Store struct {
	path    string // the weight file, or the index of a sharded checkpoint
	format  string
	files   []string
	srcs    []source
	entries map[string]*entry
	names   []string

	mu   sync.Mutex
	base string
	used map[string]bool
}

// Open opens a model folder or a single weight file (.safetensors, a
// torch.save file, or a *.index.json of shards).
func Open(path string) (*Store, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("weights: %w", err)
	}
	file := path
	if st.IsDir() {
		file = ""
		for _, name := range folderFiles {
			p := filepath.Join(path, name)
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
				file = p
				break
			}
		}
		if file == "" {
			return nil, fmt.Errorf("weights: %s: no %s", path, strings.Join(folderFiles, ", "))
		}
	}
	s := &Store{path: file, entries: map[string]*entry{}, used: map[string]bool{}}
	if err := s.load(file); err != nil {
		s.Close()
		return nil, err
	}
	s.names = make([]string, 0, len(s.entries))
	for n := range s.entries {
		s.names = append(s.names, n)
	}
	sort.Strings(s.names)
	return s, nil
}

func (s *Store) load(file string) error {
	if strings.HasSuffix(file, ".json") {
		return s.loadIndex(file)
	}
	src, kind, err := openFile(file)
	if err != nil {
		return err // already names the file and the format's package
	}
	s.format = kind
	s.files = []string{file}
	s.srcs = []source{src}
	return s.add(src, file, nil)
}

// openFile opens one weight file: by extension when it has a known one,
// else by its first bytes (a zip, or a pickle starting with the legacy
// magic number, is a torch file; anything else is tried as safetensors).
func openFile(path string) (source, string, error) {
	isTorch := false
	switch strings.ToLower(filepath.Ext(path)) {
	case ".safetensors":
	case ".bin", ".pt", ".pth":
		isTorch = true
	default:
		fh, err := os.Open(path)
		if err != nil {
			return nil, "", err
		}
		var head [4]byte
		n, _ := io.ReadFull(fh, head[:])
		fh.Close()
		// A safetensors header length never has these byte patterns in
		// practice: 0x8a or 0x95 in its third byte means a 9 MB+ header.
		isTorch = n == 4 && (bytes.Equal(head[:], []byte("PK\x03\x04")) ||
			head[0] == 0x80 && head[1] >= 2 && head[1] <= 5 && (head[2] == 0x8a || head[2] == 0x95))
	}
	if isTorch {
		f, err := torchbin.Open(path)
		if err != nil {
			return nil, "", err
		}
		if f.Legacy() {
			return binFile{f}, "pytorch (legacy)", nil
		}
		return binFile{f}, "pytorch (zip)", nil
	}
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, "", err
	}
	return stFile{f}, "safetensors", nil
}

func (s *Store) loadIndex(path string) error {
	ix, err := safetensors.ReadIndex(path)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	shards := ix.Shards()
	if len(shards) == 0 {
		return fmt.Errorf("weights: %s: the weight map is empty", path)
	}
	byShard := map[string][]string{}
	for name, shard := range ix.WeightMap {
		byShard[shard] = append(byShard[shard], name)
	}
	kind := ""
	for _, shard := range shards {
		p := filepath.Join(dir, shard)
		src, k, err := openFile(p)
		if err != nil {
			return fmt.Errorf("weights: %s: shard %s: %w", path, shard, err)
		}
		s.srcs = append(s.srcs, src)
		s.files = append(s.files, p)
		kind = k
		for _, name := range byShard[shard] {
			if _, _, ok := src.info(name); !ok {
				return fmt.Errorf("weights: %s: tensor %q is mapped to %s, which does not hold it", path, name, shard)
			}
		}
		// A tensor present in a shard but mapped elsewhere is a stale copy:
		// the weight map decides.
		if err := s.add(src, p, func(name string) bool { w, ok := ix.WeightMap[name]; return !ok || w == shard }); err != nil {
			return err
		}
	}
	s.format = fmt.Sprintf("%s, %d shards", kind, len(shards))
	return nil
}

// add registers a file's tensors under their normalised names.
func (s *Store) add(src source, file string, keep func(string) bool) error {
	for _, stored := range src.Names() {
		if keep != nil && !keep(stored) {
			continue
		}
		norm := Normalize(stored)
		if prev, dup := s.entries[norm]; dup {
			if prev.stored == stored {
				return fmt.Errorf("weights: tensor %q is in both %s and %s", stored, prev.file, file)
			}
			return fmt.Errorf("weights: %s: tensors %q and %q both mean %q", file, prev.stored, stored, norm)
		}
		dt, shape, _ := src.info(stored)
		s.entries[norm] = &entry{src: src, file: file, stored: stored, dtype: dt, shape: shape}
	}
	return nil
}

// Normalize applies transformers' load-time renaming of legacy parameter
// names: a trailing "LayerNorm.gamma" becomes "LayerNorm.weight" and
// "LayerNorm.beta" becomes "LayerNorm.bias".
func Normalize(name string) string {
	if p, ok := strings.CutSuffix(name, "LayerNorm.gamma"); ok {
		return p + "LayerNorm.weight"
	}
	if p, ok := strings.CutSuffix(name, "LayerNorm.beta"); ok {
		return p + "LayerNorm.bias"
	}
	return name
}

// Close closes every file of the store.
func (s *Store) Close() error {
	var errs []error
	for _, src := range s.srcs {
		if err := src.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	s.srcs = nil
	return errors.Join(errs...)
}

// Path is the weight file opened (the index file for a sharded checkpoint).
func (s *Store) Path() string { return s.path }

// Files lists the weight files (one, or every shard).
func (s *Store) Files() []string { return append([]string(nil), s.files...) }

// Format describes the storage: "safetensors", "pytorch (zip)",
// "pytorch (legacy)", or "…, N shards".
func (s *Store) Format() string { return s.format }

// Names lists the (normalised) tensor names, sorted.
func (s *Store) Names() []string { return append([]string(nil), s.names...) }

// Info gives the dtype and shape of a tensor by its normalised name.
func (s *Store) Info(name string) (dtype string, shape []int, ok bool) {
	e, ok := s.entries[name]
	if !ok {
		return "", nil, false
	}
	return string(e.dtype), append([]int(nil), e.shape...), true
}

// StoredName is the name a tensor has in its file (differs from the
// normalised name for legacy gamma/beta names).
func (s *Store) StoredName(name string) string {
	if e, ok := s.entries[name]; ok {
		return e.stored
	}
	return ""
}

// SetBasePrefix names the base model's prefix ("bert", "model"); lookups
// then also try a name with the prefix removed, or added.
func (s *Store) SetBasePrefix(p string) {
	s.mu.Lock()
	s.base = strings.TrimSuffix(p, ".")
	s.mu.Unlock()
}

// Unused lists the stored tensors (normalised names) that no Tensor,
// Optional, Int64 or Load call has returned, sorted.
func (s *Store) Unused() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, n := range s.names {
		if !s.used[n] {
			out = append(out, n)
		}
	}
	return out
}

// resolve finds the stored entry for a full name, trying the base-prefix
// variant second. It returns the normalised name found and the alternates
// tried.
func (s *Store) resolve(name string) (string, *entry, []string) {
	name = Normalize(name)
	if e, ok := s.entries[name]; ok {
		return name, e, nil
	}
	s.mu.Lock()
	base := s.base
	s.mu.Unlock()
	if base == "" {
		return "", nil, nil
	}
	alt := base + "." + name
	if rest, ok := strings.CutPrefix(name, base+"."); ok {
		alt = rest
	}
	if e, ok := s.entries[alt]; ok {
		return alt, e, nil
	}
	return "", nil, []string{alt}
}

func (s *Store) markUsed(name string) {
	s.mu.Lock()
	s.used[name] = true
	s.mu.Unlock()
}

func (s *Store) notFound(name string, tried []string) error {
	msg := fmt.Sprintf("weights: %s: tensor %q not found", s.path, name)
	if len(tried) > 0 {
		q := make([]string, len(tried))
		for i, t := range tried {
			q[i] = fmt.Sprintf("%q", t)
		}
		msg += " (also tried " + strings.Join(q, ", ") + ")"
	}
	return errors.New(msg)
}

// Scope is a view of a Store under a name prefix.
type Scope struct {
	s      *Store
	prefix string
}

// Scope returns a view whose names are relative to prefix ("" for the root).
func (s *Store) Scope(prefix string) Scope { return Scope{s, strings.TrimSuffix(prefix, ".")} }

// Sub narrows the scope: Sub("layer").Sub("3").
func (sc Scope) Sub(name string) Scope { return Scope{sc.s, sc.Name(name)} }

// Store is the scope's store.
func (sc Scope) Store() *Store { return sc.s }

// Prefix is the scope's prefix.
func (sc Scope) Prefix() string { return sc.prefix }

// Name is the full name of name in this scope.
func (sc Scope) Name(name string) string {
	switch {
	case sc.prefix == "":
		return name
	case name == "":
		return sc.prefix
	}
	return sc.prefix + "." + name
}

// Names lists the tensors under the scope, relative to its prefix and
// sorted. With a base prefix set, a tensor stored with (or without) the
// prefix is listed where a lookup through this scope would find it. The
// root scope lists the store's names.
func (sc Scope) Names() []string {
	if sc.prefix == "" {
		return sc.s.Names()
	}
	sc.s.mu.Lock()
	base := sc.s.base
	sc.s.mu.Unlock()
	want := sc.prefix + "."
	seen := map[string]bool{}
	var out []string
	consider := func(n string) {
		if rest, ok := strings.CutPrefix(n, want); ok && rest != "" && !seen[rest] {
			seen[rest] = true
			out = append(out, rest)
		}
	}
	for _, n := range sc.s.names {
		consider(n)
		if base != "" {
			if rest, ok := strings.CutPrefix(n, base+"."); ok {
				consider(rest)
			} else {
				consider(base + "." + n)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Has reports whether the tensor exists (under any accepted spelling).
func (sc Scope) Has(name string) bool {
	_, e, _ := sc.s.resolve(sc.Name(name))
	return e != nil
}

// Shape is the stored shape of a tensor.
func (sc Scope) Shape(name string) ([]int, bool) {
	_, e, _ := sc.s.resolve(sc.Name(name))
	if e == nil {
		return nil, false
	}
	return append([]int(nil), e.shape...), true
}

// DType is the stored element type of a tensor ("F32", "BF16", ...).
func (sc Scope) DType(name string) (string, bool) {
	_, e, _ := sc.s.resolve(sc.Name(name))
	if e == nil {
		return "", false
	}
	return string(e.dtype), true
}

// lookup resolves name and checks its shape: want must match exactly (no
// arguments means a scalar), unless anyShape is set.
func (sc Scope) lookup(name string, want []int, anyShape bool) (string, *entry, error) {
	full := sc.Name(name)
	found, e, tried := sc.s.resolve(full)
	if e == nil {
		return "", nil, sc.s.notFound(full, tried)
	}
	if !anyShape && !sameShape(e.shape, want) {
		return "", nil, fmt.Errorf("weights: %s: tensor %q has shape %v, want %v", e.file, found, fmtShape(e.shape), fmtShape(want))
	}
	return found, e, nil
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func fmtShape(s []int) []int {
	if s == nil {
		return []int{}
	}
	return s
}

func (sc Scope) float32(name string, shape []int, anyShape bool) ([]float32, []int, error) {
	found, e, err := sc.lookup(name, shape, anyShape)
	if err != nil {
		return nil, nil, err
	}
	if !e.dtype.Decodable() {
		return nil, nil, fmt.Errorf("weights: %s: tensor %q has dtype %s, not a floating-point type", e.file, found, e.dtype)
	}
	v, err := e.src.Float32(e.stored)
	if err != nil {
		return nil, nil, fmt.Errorf("weights: %w", err)
	}
	sc.s.markUsed(found)
	return v, append([]int(nil), e.shape...), nil
}

// Tensor returns a float32 copy of a floating-point tensor (F16/BF16 widened
// exactly) whose shape must equal shape (no shape: a scalar).
func (sc Scope) Tensor(name string, shape ...int) ([]float32, error) {
	v, _, err := sc.float32(name, shape, false)
	return v, err
}

// Optional is Tensor for a tensor that may be absent (a tied decoder, an
// optional bias): ok is false, with no error, when it is not stored.
func (sc Scope) Optional(name string, shape ...int) (v []float32, ok bool, err error) {
	if !sc.Has(name) {
		return nil, false, nil
	}
	v, _, err = sc.float32(name, shape, false)
	return v, err == nil, err
}

// Load returns a floating-point tensor with whatever shape it has.
func (sc Scope) Load(name string) (*tensor.Tensor, error) {
	v, shape, err := sc.float32(name, nil, true)
	if err != nil {
		return nil, err
	}
	return &tensor.Tensor{Shape: shape, Data: v}, nil
}

// Int64 returns an integer (or bool) tensor, widened, whose shape must equal
// shape (no shape: a scalar).
func (sc Scope) Int64(name string, shape ...int) ([]int64, error) {
	found, e, err := sc.lookup(name, shape, false)
	if err != nil {
		return nil, err
	}
	if !e.dtype.IsInt() {
		return nil, fmt.Errorf("weights: %s: tensor %q has dtype %s, not an integer type", e.file, found, e.dtype)
	}
	v, err := e.src.Int64(e.stored)
	if err != nil {
		return nil, fmt.Errorf("weights: %w", err)
	}
	sc.s.markUsed(found)
	return v, nil
}
