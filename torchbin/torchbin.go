// Package torchbin reads PyTorch state dicts saved with torch.save
// (pytorch_model.bin): the zip format of torch >= 1.6 and the legacy
// pre-1.6 format of five pickles followed by raw storages.
//
// The pickles are interpreted by a restricted unpickler that accepts only
// the globals a state dict needs (collections.OrderedDict, the torch tensor
// rebuild functions and the torch *Storage classes) and never runs code.
// Tensors may be strided views and may share storages; each is copied out
// contiguously on request.
package torchbin

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"math/bits"
	"os"
	"sort"
	"strings"

	"bioencoder/safetensors"
)

// Info describes one tensor.
type Info struct {
	Name  string
	DType safetensors.DType
	Shape []int
	// Contiguous is false for strided views (e.g. a saved transpose).
	Contiguous bool
	// Storage is the key of the storage holding the data; tensors that
	// share one (tied weights) have the same key.
	Storage string
}

// Numel is the element count (1 for a scalar).
func (in Info) Numel() int {
	n := 1
	for _, d := range in.Shape {
		n *= d
	}
	return n
}

// File is an opened pytorch_model.bin. Its methods are safe for concurrent use.
type File struct {
	name      string
	r         io.ReaderAt
	closer    io.Closer
	legacy    bool
	bigEndian bool
	tensors   map[string]*tensor
	names     []string
}

type tensor struct {
	info   Info
	ref    *tensorRef
	blob   *blob
	nbytes int64 // contiguous size: numel × element size
}

// blob is where a storage's bytes are: either a byte range of the file
// (zip entries stored uncompressed, legacy storages) or a compressed zip
// entry to inflate.
type blob struct {
	key    string
	offset int64 // file offset of the first byte (stored blobs)
	size   int64 // bytes
	zf     *zip.File
}

const maxPickleSize = 1 << 30

// Open opens and indexes the file at path; storage bytes are read on demand.
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("torchbin: %w", err)
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("torchbin: %w", err)
	}
	if st.IsDir() {
		fh.Close()
		return nil, fmt.Errorf("torchbin: %s: is a directory", path)
	}
	f, err := Parse(path, fh, st.Size())
	if err != nil {
		fh.Close()
		return nil, err
	}
	f.closer = fh
	return f, nil
}

// Parse indexes a state dict read from r (size bytes); name is used in
// messages. r must stay readable while the File is used.
func Parse(name string, r io.ReaderAt, size int64) (*File, error) {
	var magic [4]byte
	if size < 4 {
		return nil, fmt.Errorf("torchbin: %s: %d bytes is too short for a PyTorch file", name, size)
	}
	if _, err := r.ReadAt(magic[:], 0); err != nil {
		return nil, fmt.Errorf("torchbin: %s: %w", name, err)
	}
	f := &File{name: name, r: r, tensors: map[string]*tensor{}}
	var err error
	switch {
	case string(magic[:]) == "PK\x03\x04":
		err = f.parseZip(size)
	case magic[0] == 0x80 && magic[1] >= 2:
		f.legacy = true
		err = f.parseLegacy(size)
	default:
		err = errors.New("neither a zip archive nor a legacy pickle (is it a PyTorch file?)")
	}
	if err != nil {
		return nil, fmt.Errorf("torchbin: %s: %w", name, err)
	}
	f.names = make([]string, 0, len(f.tensors))
	for n := range f.tensors {
		f.names = append(f.names, n)
	}
	sort.Strings(f.names)
	return f, nil
}

// Close closes the underlying file (when opened with Open).
func (f *File) Close() error {
	if f.closer == nil {
		return nil
	}
	err := f.closer.Close()
	f.closer = nil
	return err
}

// Path is the path (or name) the file was opened with.
func (f *File) Path() string { return f.name }

// Legacy reports whether the file is in the pre-1.6 (non-zip) format.
func (f *File) Legacy() bool { return f.legacy }

// Names lists the tensors, sorted.
func (f *File) Names() []string { return append([]string(nil), f.names...) }

// Info describes a tensor.
func (f *File) Info(name string) (Info, bool) {
	t, ok := f.tensors[name]
	if !ok {
		return Info{}, false
	}
	in := t.info
	in.Shape = append([]int(nil), in.Shape...)
	return in, true
}

func (f *File) parseZip(size int64) error {
	zr, err := zip.NewReader(f.r, size)
	if err != nil {
		return err
	}
	if len(zr.File) == 0 {
		return errors.New("empty zip archive")
	}
	// Like torch, the archive's folder is whatever the first entry lives in.
	first := zr.File[0].Name
	slash := strings.IndexByte(first, '/')
	if slash <= 0 {
		return fmt.Errorf("zip entry %q is not inside a top-level folder", first)
	}
	top := first[:slash+1]
	var pkl, order *zip.File
	blobs := map[string]*blob{}
	for _, zf := range zr.File {
		rest, ok := strings.CutPrefix(zf.Name, top)
		if !ok {
			continue
		}
		switch {
		case rest == "data.pkl":
			pkl = zf
		case rest == "byteorder":
			order = zf
		case strings.HasPrefix(rest, "data/") && len(rest) > len("data/"):
			b := &blob{key: rest[len("data/"):], zf: zf}
			if zf.UncompressedSize64 > math.MaxInt64 {
				return fmt.Errorf("%s: size overflows", zf.Name)
			}
			b.size = int64(zf.UncompressedSize64)
			if zf.Method == zip.Store {
				off, err := zf.DataOffset()
				if err != nil {
					return fmt.Errorf("%s: %w", zf.Name, err)
				}
				if zf.CompressedSize64 != zf.UncompressedSize64 || off < 0 || b.size > size-off {
					return fmt.Errorf("%s: stored entry of %d bytes at offset %d runs past the %d-byte file", zf.Name, b.size, off, size)
				}
				b.offset, b.zf = off, nil
			}
			blobs[b.key] = b
		}
	}
	if pkl == nil {
		return fmt.Errorf("no %sdata.pkl in the archive", top)
	}
	if order != nil {
		b, err := readEntry(order, 16)
		if err != nil {
			return fmt.Errorf("%s: %w", order.Name, err)
		}
		switch strings.TrimSpace(string(b)) {
		case "little":
		case "big":
			f.bigEndian = true
		default:
			return fmt.Errorf("%s: unknown byte order %q", order.Name, b)
		}
	}
	data, err := readEntry(pkl, maxPickleSize)
	if err != nil {
		return fmt.Errorf("%s: %w", pkl.Name, err)
	}
	u := &unpickler{in: newInput(bytes.NewReader(data), int64(len(data)))}
	var refs []*storageRef
	u.persistent = func(pid any) (any, error) {
		st, err := storagePID(pid)
		if err != nil {
			return nil, err
		}
		refs = append(refs, st)
		return st, nil
	}
	root, err := u.load()
	if err != nil {
		return fmt.Errorf("data.pkl: %w", err)
	}
	for _, st := range refs {
		b, ok := blobs[st.key]
		if !ok {
			return fmt.Errorf("data.pkl: storage %q has no %sdata/%s entry", st.key, top, st.key)
		}
		if err := checkStorage(st, b.size); err != nil {
			return fmt.Errorf("data.pkl: %w", err)
		}
	}
	return f.collect(root, blobs, "data.pkl")
}

func checkStorage(st *storageRef, size int64) error {
	hi, lo := bits.Mul64(uint64(st.numel), uint64(st.dtype.Size()))
	if hi != 0 || lo != uint64(size) {
		return fmt.Errorf("storage %q: %d %s elements but %d bytes stored", st.key, st.numel, st.dtype, size)
	}
	return nil
}

// readEntry reads a whole zip entry of at most limit bytes; the buffer
// grows with the data actually inflated, not with the declared size.
func readEntry(zf *zip.File, limit int64) ([]byte, error) {
	if zf.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("entry of %d bytes exceeds the %d-byte limit", zf.UncompressedSize64, limit)
	}
	rc, err := zf.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("entry exceeds the %d-byte limit", limit)
	}
	return b, nil
}

// legacyMagic is the first pickle of a pre-1.6 file.
var legacyMagic, _ = new(big.Int).SetString("119547037146038801333356", 10)

func (f *File) parseLegacy(size int64) error {
	in := newInput(io.NewSectionReader(f.r, 0, size), size)
	next := func(what string, persistent func(any) (any, error)) (any, error) {
		u := &unpickler{in: in, persistent: persistent}
		v, err := u.load()
		if err != nil {
			return nil, fmt.Errorf("%s pickle: %w", what, err)
		}
		return v, nil
	}
	magic, err := next("magic number", nil)
	if err != nil {
		return err
	}
	if m, ok := magic.(*big.Int); !ok || m.Cmp(legacyMagic) != 0 {
		return fmt.Errorf("first pickle is %s, not the torch magic number", describe(magic))
	}
	proto, err := next("protocol version", nil)
	if err != nil {
		return err
	}
	if p, ok := proto.(int64); !ok || p != 1001 {
		return fmt.Errorf("legacy protocol version %s, want 1001", describe(proto))
	}
	sysInfo, err := next("sys info", nil)
	if err != nil {
		return err
	}
	if d, ok := sysInfo.(*pyDict); ok {
		if i, ok := d.index["little_endian"]; ok && d.vals[i] == false {
			f.bigEndian = true
		}
	}
	// The storage bytes are written with the element size of the first
	// reference to each key, so remember that one.
	firstType := map[string]*storageRef{}
	root, err := next("state dict", func(pid any) (any, error) {
		st, err := storagePID(pid)
		if err != nil {
			return nil, err
		}
		if _, ok := firstType[st.key]; !ok {
			firstType[st.key] = st
		}
		return st, nil
	})
	if err != nil {
		return err
	}
	keysV, err := next("storage keys", nil)
	if err != nil {
		return err
	}
	keys, ok := keysV.(*pyList)
	if !ok {
		return fmt.Errorf("storage key list is %s", describe(keysV))
	}
	blobs := map[string]*blob{}
	pos := in.pos
	for _, kv := range keys.items {
		key, ok := kv.(string)
		if !ok {
			return fmt.Errorf("storage key %s is not a string", describe(kv))
		}
		if _, dup := blobs[key]; dup {
			return fmt.Errorf("storage %q listed twice", key)
		}
		st, ok := firstType[key]
		if !ok {
			return fmt.Errorf("storage %q is listed but no tensor uses it", key)
		}
		var cnt [8]byte
		if pos > size-8 {
			return fmt.Errorf("storage %q: element count at byte %d is past the end of the file", key, pos)
		}
		if _, err := f.r.ReadAt(cnt[:], pos); err != nil {
			return fmt.Errorf("storage %q: %w", key, err)
		}
		var n uint64
		for i := 7; i >= 0; i-- {
			n = n<<8 | uint64(cnt[i])
		}
		if f.bigEndian {
			n = bits.ReverseBytes64(n)
		}
		hi, nb := bits.Mul64(n, uint64(st.dtype.Size()))
		if hi != 0 || nb > uint64(size-pos-8) {
			return fmt.Errorf("storage %q: %d elements run past the end of the file", key, n)
		}
		if int64(n) != st.numel {
			return fmt.Errorf("storage %q: %d elements stored, %d declared", key, n, st.numel)
		}
		blobs[key] = &blob{key: key, offset: pos + 8, size: int64(nb)}
		pos += 8 + int64(nb)
	}
	for key := range firstType {
		if _, ok := blobs[key]; !ok {
			return fmt.Errorf("storage %q is used but not listed", key)
		}
	}
	// Other references to a key may view its bytes with another dtype.
	if err := f.collect(root, blobs, "state dict"); err != nil {
		return err
	}
	for _, t := range f.tensors {
		if err := checkStorage(t.ref.storage, t.blob.size); err != nil {
			return err
		}
	}
	return nil
}

// collect turns the unpickled root (a dict of name → tensor) into the
// tensor table, checking every view against its storage. Values that are
// not tensors (a stray int in a training checkpoint) are skipped.
func (f *File) collect(root any, blobs map[string]*blob, what string) error {
	d, ok := root.(*pyDict)
	if !ok {
		return fmt.Errorf("%s holds a %s, not a state dict", what, typeName(root))
	}
	for i, k := range d.keys {
		t, ok := d.vals[i].(*tensorRef)
		if !ok {
			continue
		}
		name, ok := k.(string)
		if !ok {
			return fmt.Errorf("%s: tensor key %s is not a string", what, describe(k))
		}
		b := blobs[t.storage.key]
		if b == nil {
			return fmt.Errorf("%s: tensor %q: storage %q is missing", what, name, t.storage.key)
		}
		tt, err := checkView(name, t, b)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		f.tensors[name] = tt
	}
	return nil
}

func checkView(name string, t *tensorRef, b *blob) (*tensor, error) {
	es := int64(t.storage.dtype.Size())
	storageNumel := b.size / es
	numel := uint64(1)
	shape := make([]int, len(t.shape))
	for i, d := range t.shape {
		hi, lo := bits.Mul64(numel, uint64(d))
		if hi != 0 || lo > math.MaxInt32*uint64(math.MaxInt32) {
			return nil, fmt.Errorf("tensor %q: shape %v overflows", name, t.shape)
		}
		numel = lo
		shape[i] = int(d)
	}
	tt := &tensor{
		info: Info{Name: name, DType: t.storage.dtype, Shape: shape, Contiguous: isContiguous(t.shape, t.stride), Storage: t.storage.key},
		ref:  t,
		blob: b,
	}
	if numel == 0 {
		return tt, nil
	}
	// Highest element index the view touches (strides are non-negative).
	last := uint64(t.offset)
	for i, d := range t.shape {
		hi, lo := bits.Mul64(uint64(d-1), uint64(t.stride[i]))
		if hi != 0 || lo > math.MaxInt64-last {
			return nil, fmt.Errorf("tensor %q: strides %v overflow", name, t.stride)
		}
		last += lo
	}
	if last >= uint64(storageNumel) {
		return nil, fmt.Errorf("tensor %q: view (offset %d, shape %v, stride %v) reaches element %d of a %d-element storage", name, t.offset, t.shape, t.stride, last, storageNumel)
	}
	// A view with overlapping elements (a zero stride) could ask for far
	// more output than the file holds; state dicts never contain one.
	if numel > uint64(storageNumel) {
		return nil, fmt.Errorf("tensor %q: %d elements view a %d-element storage (overlapping strides are not supported)", name, numel, storageNumel)
	}
	tt.nbytes = int64(numel) * es
	return tt, nil
}

func isContiguous(shape, stride []int64) bool {
	want := int64(1)
	for i := len(shape) - 1; i >= 0; i-- {
		if shape[i] == 1 {
			continue // the stride of a size-1 dimension never matters
		}
		if shape[i] == 0 {
			return true
		}
		if stride[i] != want {
			return false
		}
		want *= shape[i]
	}
	return true
}

// span reads the storage bytes [from, to).
func (f *File) span(b *blob, from, to int64) ([]byte, error) {
	if b.zf == nil {
		out := make([]byte, to-from) // within the file: checked when indexed
		if _, err := f.r.ReadAt(out, b.offset+from); err != nil {
			return nil, fmt.Errorf("storage %q: %w", b.key, err)
		}
		return out, nil
	}
	rc, err := b.zf.Open()
	if err != nil {
		return nil, fmt.Errorf("storage %q: %w", b.key, err)
	}
	defer rc.Close()
	if _, err := io.CopyN(io.Discard, rc, from); err != nil {
		return nil, fmt.Errorf("storage %q: %w", b.key, err)
	}
	// The declared size of a compressed entry is not trusted for the
	// allocation: the buffer grows only with bytes actually inflated.
	got, err := io.ReadAll(io.LimitReader(rc, to-from))
	if err != nil {
		return nil, fmt.Errorf("storage %q: %w", b.key, err)
	}
	if int64(len(got)) != to-from {
		return nil, fmt.Errorf("storage %q: entry ends after %d of %d bytes", b.key, from+int64(len(got)), to)
	}
	return got, nil
}

// Bytes returns a new contiguous, little-endian, row-major copy of the
// tensor's elements.
func (f *File) Bytes(name string) ([]byte, error) {
	t, ok := f.tensors[name]
	if !ok {
		return nil, fmt.Errorf("torchbin: %s: no tensor %q", f.name, name)
	}
	out, err := f.gather(t)
	if err != nil {
		return nil, fmt.Errorf("torchbin: %s: tensor %q: %w", f.name, name, err)
	}
	return out, nil
}

func (f *File) gather(t *tensor) ([]byte, error) {
	if t.nbytes == 0 {
		return []byte{}, nil
	}
	es := int64(t.info.DType.Size())
	ref := t.ref
	first := ref.offset
	last := ref.offset
	for i, d := range ref.shape {
		last += (d - 1) * ref.stride[i]
	}
	src, err := f.span(t.blob, first*es, (last+1)*es)
	if err != nil {
		return nil, err
	}
	var out []byte
	if t.info.Contiguous {
		out = src
	} else {
		out = make([]byte, t.nbytes)
		stridedCopy(out, src, ref.shape, ref.stride, es)
	}
	if f.bigEndian && es > 1 {
		swapBytes(out, int(es))
	}
	return out, nil
}

// stridedCopy copies the view (indices relative to src) into dst in
// row-major order.
func stridedCopy(dst, src []byte, shape, stride []int64, es int64) {
	nd := len(shape)
	if nd == 0 {
		copy(dst, src[:es])
		return
	}
	idx := make([]int64, nd)
	inner, innerStride := shape[nd-1], stride[nd-1]*es
	var base int64 // element offset of the current row
	for o := int64(0); o < int64(len(dst)); {
		p := base * es
		for j := int64(0); j < inner; j++ {
			copy(dst[o:o+es], src[p:p+es])
			o += es
			p += innerStride
		}
		// advance the outer indices
		for k := nd - 2; k >= 0; k-- {
			idx[k]++
			base += stride[k]
			if idx[k] < shape[k] {
				break
			}
			base -= idx[k] * stride[k]
			idx[k] = 0
		}
	}
}

func swapBytes(b []byte, es int) {
	for i := 0; i+es <= len(b); i += es {
		for l, r := i, i+es-1; l < r; l, r = l+1, r-1 {
			b[l], b[r] = b[r], b[l]
		}
	}
}

// Float32 returns a float32 copy of a floating-point tensor (F32, F16,
// BF16 widened exactly; F64 rounded).
func (f *File) Float32(name string) ([]float32, error) {
	t, ok := f.tensors[name]
	if !ok {
		return nil, fmt.Errorf("torchbin: %s: no tensor %q", f.name, name)
	}
	if !t.info.DType.Decodable() {
		return nil, fmt.Errorf("torchbin: %s: tensor %q has dtype %s, not a floating-point type", f.name, name, t.info.DType)
	}
	raw, err := f.gather(t)
	if err != nil {
		return nil, fmt.Errorf("torchbin: %s: tensor %q: %w", f.name, name, err)
	}
	out := make([]float32, t.info.Numel())
	if err := safetensors.DecodeFloat32(t.info.DType, raw, out); err != nil {
		return nil, fmt.Errorf("torchbin: %s: tensor %q: %w", f.name, name, err)
	}
	return out, nil
}

// Int64 returns an int64 copy of an integer or bool tensor.
func (f *File) Int64(name string) ([]int64, error) {
	t, ok := f.tensors[name]
	if !ok {
		return nil, fmt.Errorf("torchbin: %s: no tensor %q", f.name, name)
	}
	if !t.info.DType.IsInt() {
		return nil, fmt.Errorf("torchbin: %s: tensor %q has dtype %s, not an integer type", f.name, name, t.info.DType)
	}
	raw, err := f.gather(t)
	if err != nil {
		return nil, fmt.Errorf("torchbin: %s: tensor %q: %w", f.name, name, err)
	}
	out := make([]int64, t.info.Numel())
	if err := safetensors.DecodeInt64(t.info.DType, raw, out); err != nil {
		return nil, fmt.Errorf("torchbin: %s: tensor %q: %w", f.name, name, err)
	}
	return out, nil
}
