// Package safetensors reads and writes the safetensors format: an 8-byte
// little-endian header length N, N bytes of JSON describing each tensor
// (dtype, shape, byte range), then the raw little-endian tensor bytes.
//
// Files are memory-mapped where the platform allows (falling back to reading
// them whole) and every header field is checked before it is used, so a
// corrupt or hostile file gives an error naming the file and tensor, never a
// panic or an allocation sized by an untrusted number.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"sort"
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// MaxHeaderSize is the largest header the official reader accepts.
const MaxHeaderSize = 100_000_000

// Info describes one tensor of a file.
type Info struct {
	Name  string
	DType DType
	Shape []int
	// Begin and End are byte offsets into the data buffer (End exclusive);
	// the tensor's bytes start at file offset DataStart()+Begin.
	Begin, End int64
}

// Numel is the element count (1 for a scalar).
func (in Info) Numel() int {
	n := 1
	for _, d := range in.Shape {
		n *= d
	}
	return n
}

// File is an opened safetensors file. Its methods are safe for concurrent use.
type File struct {
	name    string // path or caller-given name, for messages
	data    []byte // whole file
	buf     []byte // data buffer (after the header)
	unmap   func() error
	infos   map[string]*Info
	names   []string
	meta    map[string]string
	hdrSize int
}

// Open memory-maps (or reads) the file at path and validates its header.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("safetensors: %s: is a directory", path)
	}
	size := st.Size()
	if size < 8 {
		return nil, fmt.Errorf("safetensors: %s: file is %d bytes, shorter than the 8-byte header length", path, size)
	}
	if int64(int(size)) != size {
		return nil, fmt.Errorf("safetensors: %s: file of %d bytes is too large for this platform", path, size)
	}
	data, unmap, err := mapFile(f, int(size))
	if err != nil {
		return nil, fmt.Errorf("safetensors: %s: %w", path, err)
	}
	sf, err := parse(path, data)
	if err != nil {
		if unmap != nil {
			unmap()
		}
		return nil, err
	}
	sf.unmap = unmap
	return sf, nil
}

// Parse validates data (a whole safetensors file) without copying it; name
// is used in error messages. The File refers to data, which must not change.
func Parse(name string, data []byte) (*File, error) {
	return parse(name, data)
}

// Close releases the mapping. Slices from Bytes or Float32View must not be
// used afterwards.
func (f *File) Close() error {
	if f.unmap == nil {
		return nil
	}
	err := f.unmap()
	f.unmap = nil
	f.data, f.buf = nil, nil
	return err
}

// Path is the path (or name) the file was opened with.
func (f *File) Path() string { return f.name }

// Names lists the tensors, sorted.
func (f *File) Names() []string { return append([]string(nil), f.names...) }

// Len is the number of tensors.
func (f *File) Len() int { return len(f.names) }

// Metadata is the header's "__metadata__" map (nil when absent). Do not modify it.
func (f *File) Metadata() map[string]string { return f.meta }

// DataStart is the file offset of the data buffer (8 + header length).
func (f *File) DataStart() int64 { return int64(8 + f.hdrSize) }

// Info describes a tensor.
func (f *File) Info(name string) (Info, bool) {
	in, ok := f.infos[name]
	if !ok {
		return Info{}, false
	}
	out := *in
	out.Shape = append([]int(nil), in.Shape...)
	return out, true
}

func (f *File) lookup(name string) (*Info, error) {
	in, ok := f.infos[name]
	if !ok {
		return nil, fmt.Errorf("safetensors: %s: no tensor %q", f.name, name)
	}
	if f.buf == nil && in.End > 0 {
		return nil, fmt.Errorf("safetensors: %s: file is closed", f.name)
	}
	return in, nil
}

// Bytes returns the tensor's raw little-endian bytes. The slice aliases the
// file mapping: do not modify it or use it after Close.
func (f *File) Bytes(name string) ([]byte, error) {
	in, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	return f.buf[in.Begin:in.End:in.End], nil
}

// Float32 returns a new float32 copy of a floating-point tensor (F32, F16,
// BF16 widened exactly; F64 rounded).
func (f *File) Float32(name string) ([]float32, error) {
	in, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	if !in.DType.Decodable() {
		return nil, fmt.Errorf("safetensors: %s: tensor %q has dtype %s, not F32/F16/BF16/F64", f.name, name, in.DType)
	}
	out := make([]float32, in.Numel())
	if err := DecodeFloat32(in.DType, f.buf[in.Begin:in.End], out); err != nil {
		return nil, fmt.Errorf("safetensors: %s: tensor %q: %w", f.name, name, err)
	}
	return out, nil
}

// Float32View returns the F32 tensor's data without copying when the
// platform is little-endian and the bytes are 4-aligned in memory; ok is
// false otherwise (use Float32). The view aliases the read-only mapping: do
// not write to it, and do not use it after Close.
func (f *File) Float32View(name string) (v []float32, ok bool) {
	in, ok := f.infos[name]
	if !ok || in.DType != F32 || !littleEndian || f.buf == nil {
		return nil, false
	}
	n := in.Numel()
	if n == 0 {
		return []float32{}, true
	}
	p := unsafe.Pointer(&f.buf[in.Begin])
	if uintptr(p)%4 != 0 {
		return nil, false
	}
	return unsafe.Slice((*float32)(p), n), true
}

// Int64 returns a new int64 copy of an integer or BOOL tensor.
func (f *File) Int64(name string) ([]int64, error) {
	in, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	if !in.DType.IsInt() {
		return nil, fmt.Errorf("safetensors: %s: tensor %q has dtype %s, not an integer type", f.name, name, in.DType)
	}
	out := make([]int64, in.Numel())
	if err := DecodeInt64(in.DType, f.buf[in.Begin:in.End], out); err != nil {
		return nil, fmt.Errorf("safetensors: %s: tensor %q: %w", f.name, name, err)
	}
	return out, nil
}

var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// ReadHeader reads and validates only the header of the file at path (no
// mapping): the tensor infos sorted by name and the metadata. Useful to list
// a file's contents cheaply.
func ReadHeader(path string) ([]Info, map[string]string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("safetensors: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("safetensors: %w", err)
	}
	var lenBuf [8]byte
	if _, err := io.ReadFull(fh, lenBuf[:]); err != nil {
		return nil, nil, fmt.Errorf("safetensors: %s: reading the header length: %w", path, err)
	}
	n, err := checkHeaderLen(path, binary.LittleEndian.Uint64(lenBuf[:]), st.Size())
	if err != nil {
		return nil, nil, err
	}
	hdr := make([]byte, n)
	if _, err := io.ReadFull(fh, hdr); err != nil {
		return nil, nil, fmt.Errorf("safetensors: %s: reading the header: %w", path, err)
	}
	h, err := parseHeader(path, hdr, st.Size()-8-int64(n))
	if err != nil {
		return nil, nil, err
	}
	out := make([]Info, len(h.names))
	for i, name := range h.names {
		out[i] = *h.infos[name]
	}
	return out, h.meta, nil
}

func checkHeaderLen(name string, n uint64, size int64) (int, error) {
	if n > MaxHeaderSize {
		return 0, fmt.Errorf("safetensors: %s: header length %d exceeds the %d-byte limit", name, n, MaxHeaderSize)
	}
	if n > uint64(size-8) {
		return 0, fmt.Errorf("safetensors: %s: header length %d runs past the end of the %d-byte file", name, n, size)
	}
	return int(n), nil
}

func parse(name string, data []byte) (*File, error) {
	if len(data) < 8 {
		return nil, fmt.Errorf("safetensors: %s: %d bytes, shorter than the 8-byte header length", name, len(data))
	}
	n, err := checkHeaderLen(name, binary.LittleEndian.Uint64(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	buf := data[8+n:]
	h, err := parseHeader(name, data[8:8+n], int64(len(buf)))
	if err != nil {
		return nil, err
	}
	return &File{name: name, data: data, buf: buf, infos: h.infos, names: h.names, meta: h.meta, hdrSize: n}, nil
}

type header struct {
	infos map[string]*Info
	names []string
	meta  map[string]string
}

// parseHeader decodes and validates the JSON header against a data buffer
// of bufLen bytes.
func parseHeader(name string, hdr []byte, bufLen int64) (*header, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("safetensors: %s: header: "+format, append([]any{name}, args...)...)
	}
	if len(hdr) == 0 || hdr[0] != '{' {
		return nil, bad("does not start with '{'")
	}
	if !utf8.Valid(hdr) {
		return nil, bad("not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(hdr))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // the '{' checked above
		return nil, bad("%v", err)
	}
	h := &header{infos: make(map[string]*Info)}
	metaSeen := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, bad("%v", err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, bad("unexpected %v", tok)
		}
		if key == "__metadata__" {
			if metaSeen {
				return nil, bad("duplicate key \"__metadata__\"")
			}
			metaSeen = true
			if h.meta, err = parseMeta(dec); err != nil {
				return nil, bad("__metadata__: %v", err)
			}
			continue
		}
		if _, dup := h.infos[key]; dup {
			return nil, bad("duplicate tensor %q", key)
		}
		in, err := parseEntry(dec)
		if err != nil {
			return nil, bad("tensor %q: %v", key, err)
		}
		in.Name = key
		h.infos[key] = in
	}
	if _, err := dec.Token(); err != nil { // closing '}'
		return nil, bad("%v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			return nil, bad("data after the JSON object")
		}
		return nil, bad("after the JSON object: %v", err)
	}

	spans := make([]*Info, 0, len(h.infos))
	for key, in := range h.infos {
		size := int64(in.DType.Size())
		numel := int64(1)
		for _, d := range in.Shape {
			hi, lo := bits.Mul64(uint64(numel), uint64(d))
			if hi != 0 || lo > math.MaxInt64 {
				return nil, bad("tensor %q: shape %v overflows", key, in.Shape)
			}
			numel = int64(lo)
		}
		hi, nbytes := bits.Mul64(uint64(numel), uint64(size))
		if hi != 0 || nbytes > math.MaxInt64 {
			return nil, bad("tensor %q: shape %v of %s overflows", key, in.Shape, in.DType)
		}
		if in.Begin > in.End || in.End > bufLen {
			return nil, bad("tensor %q: data_offsets [%d, %d] outside the %d-byte data buffer", key, in.Begin, in.End, bufLen)
		}
		if uint64(in.End-in.Begin) != nbytes {
			return nil, bad("tensor %q: data_offsets [%d, %d] hold %d bytes, but %s %v needs %d", key, in.Begin, in.End, in.End-in.Begin, in.DType, in.Shape, nbytes)
		}
		spans = append(spans, in)
	}
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].Begin != spans[j].Begin {
			return spans[i].Begin < spans[j].Begin
		}
		if spans[i].End != spans[j].End {
			return spans[i].End < spans[j].End
		}
		return spans[i].Name < spans[j].Name
	})
	var pos int64
	var prev string
	for _, in := range spans {
		switch {
		case in.Begin < pos:
			return nil, bad("tensor %q (bytes [%d, %d)) overlaps tensor %q", in.Name, in.Begin, in.End, prev)
		case in.Begin > pos:
			return nil, bad("bytes [%d, %d) of the data buffer belong to no tensor (hole before %q)", pos, in.Begin, in.Name)
		}
		pos = in.End
		prev = in.Name
	}
	if pos != bufLen {
		return nil, bad("tensors cover %d bytes but the data buffer has %d", pos, bufLen)
	}
	h.names = make([]string, 0, len(h.infos))
	for key := range h.infos {
		h.names = append(h.names, key)
	}
	sort.Strings(h.names)
	return h, nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("expected %q, found %v", string(want), tokString(tok))
	}
	return nil
}

func tokString(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		return strconv.Quote(string(t))
	case string:
		return strconv.Quote(t)
	case nil:
		return "null"
	}
	return fmt.Sprint(tok)
}

func parseMeta(dec *json.Decoder) (map[string]string, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if tok == nil {
		return nil, nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("expected an object of strings, found %v", tokString(tok))
	}
	meta := make(map[string]string)
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k := kt.(string) // object keys are always strings
		if _, dup := meta[k]; dup {
			return nil, fmt.Errorf("duplicate key %q", k)
		}
		vt, err := dec.Token()
		if err != nil {
			return nil, err
		}
		v, ok := vt.(string)
		if !ok {
			return nil, fmt.Errorf("value of %q is %v, not a string", k, tokString(vt))
		}
		meta[k] = v
	}
	_, err = dec.Token()
	return meta, err
}

func parseEntry(dec *json.Decoder) (*Info, error) {
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	in := &Info{}
	var haveDT, haveShape, haveOff bool
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k := kt.(string)
		switch k {
		case "dtype":
			if haveDT {
				return nil, errors.New(`duplicate field "dtype"`)
			}
			haveDT = true
			vt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			s, ok := vt.(string)
			if !ok {
				return nil, fmt.Errorf("dtype is %v, not a string", tokString(vt))
			}
			in.DType = DType(s)
			if !in.DType.Known() {
				return nil, fmt.Errorf("unknown dtype %q", s)
			}
		case "shape":
			if haveShape {
				return nil, errors.New(`duplicate field "shape"`)
			}
			haveShape = true
			v, err := parseInts(dec, "shape")
			if err != nil {
				return nil, err
			}
			in.Shape = make([]int, len(v))
			for i, x := range v {
				if int64(int(x)) != x {
					return nil, fmt.Errorf("shape dimension %d too large", x)
				}
				in.Shape[i] = int(x)
			}
		case "data_offsets":
			if haveOff {
				return nil, errors.New(`duplicate field "data_offsets"`)
			}
			haveOff = true
			v, err := parseInts(dec, "data_offsets")
			if err != nil {
				return nil, err
			}
			if len(v) != 2 {
				return nil, fmt.Errorf("data_offsets has %d numbers, want 2", len(v))
			}
			in.Begin, in.End = v[0], v[1]
		default:
			// Unknown fields are ignored, as the official reader does.
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, err
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	switch {
	case !haveDT:
		return nil, errors.New(`missing "dtype"`)
	case !haveShape:
		return nil, errors.New(`missing "shape"`)
	case !haveOff:
		return nil, errors.New(`missing "data_offsets"`)
	}
	return in, nil
}

// parseInts reads a JSON array of non-negative integers.
func parseInts(dec *json.Decoder, field string) ([]int64, error) {
	if err := expectDelim(dec, '['); err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	var out []int64
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		num, ok := tok.(json.Number)
		if !ok {
			return nil, fmt.Errorf("%s: %v is not a number", field, tokString(tok))
		}
		v, err := strconv.ParseInt(string(num), 10, 64)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("%s: %s is not a non-negative integer", field, num)
		}
		out = append(out, v)
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if out == nil {
		out = []int64{}
	}
	return out, nil
}
