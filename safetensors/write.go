package safetensors

import (
	"bioencoder/internal/atomicfile"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
)

// Tensor is a tensor to write: raw little-endian row-major bytes.
type Tensor struct {
	DType DType
	Shape []int
	Data  []byte
}

// FromFloat32 encodes v as dt (F32, F16 or BF16 rounded to nearest even,
// or F64).
func FromFloat32(dt DType, shape []int, v []float32) (Tensor, error) {
	if n, err := numel(shape); err != nil {
		return Tensor{}, err
	} else if n != len(v) {
		return Tensor{}, fmt.Errorf("safetensors: %d values for shape %v", len(v), shape)
	}
	out := Tensor{DType: dt, Shape: append([]int{}, shape...)}
	le := binary.LittleEndian
	switch dt {
	case F32:
		out.Data = make([]byte, 4*len(v))
		for i, x := range v {
			le.PutUint32(out.Data[4*i:], math.Float32bits(x))
		}
	case F64:
		out.Data = make([]byte, 8*len(v))
		for i, x := range v {
			le.PutUint64(out.Data[8*i:], math.Float64bits(float64(x)))
		}
	case F16:
		out.Data = make([]byte, 2*len(v))
		for i, x := range v {
			le.PutUint16(out.Data[2*i:], F32ToF16(x))
		}
	case BF16:
		out.Data = make([]byte, 2*len(v))
		for i, x := range v {
			le.PutUint16(out.Data[2*i:], F32ToBF16(x))
		}
	default:
		return Tensor{}, fmt.Errorf("safetensors: cannot encode float32 values as %s", dt)
	}
	return out, nil
}

// FromInt64 encodes v as I64.
func FromInt64(shape []int, v []int64) (Tensor, error) {
	if n, err := numel(shape); err != nil {
		return Tensor{}, err
	} else if n != len(v) {
		return Tensor{}, fmt.Errorf("safetensors: %d values for shape %v", len(v), shape)
	}
	out := Tensor{DType: I64, Shape: append([]int{}, shape...), Data: make([]byte, 8*len(v))}
	for i, x := range v {
		binary.LittleEndian.PutUint64(out.Data[8*i:], uint64(x))
	}
	return out, nil
}

func numel(shape []int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("safetensors: negative dimension in shape %v", shape)
		}
		if d != 0 && n > math.MaxInt/d {
			return 0, fmt.Errorf("safetensors: shape %v overflows", shape)
		}
		n *= d
	}
	return n, nil
}

type entry struct {
	name string
	t    Tensor
}

// layout checks the tensors and orders them as the official writer does:
// by decreasing dtype (the Rust enum order, which follows alignment), then
// by name, so every tensor starts at a multiple of its element size.
func layout(tensors map[string]Tensor) ([]entry, error) {
	list := make([]entry, 0, len(tensors))
	for name, t := range tensors {
		if name == "__metadata__" {
			return nil, errors.New(`safetensors: "__metadata__" is reserved and cannot name a tensor`)
		}
		if !t.DType.Known() {
			return nil, fmt.Errorf("safetensors: tensor %q: unknown dtype %q", name, t.DType)
		}
		n, err := numel(t.Shape)
		if err != nil {
			return nil, fmt.Errorf("safetensors: tensor %q: %w", name, err)
		}
		if n > math.MaxInt/t.DType.Size() || len(t.Data) != n*t.DType.Size() {
			return nil, fmt.Errorf("safetensors: tensor %q: %d bytes for %s %v", name, len(t.Data), t.DType, t.Shape)
		}
		list = append(list, entry{name, t})
	}
	sort.Slice(list, func(i, j int) bool {
		ri, rj := dtypes[list[i].t.DType].rank, dtypes[list[j].t.DType].rank
		if ri != rj {
			return ri > rj
		}
		return list[i].name < list[j].name
	})
	return list, nil
}

// headerBytes renders the header like the official writer (serde_json,
// compact): "__metadata__" first (keys sorted here), then tensors in layout
// order; padded with spaces to a multiple of 8.
func headerBytes(list []entry, metadata map[string]string) []byte {
	b := []byte{'{'}
	first := true
	comma := func() {
		if !first {
			b = append(b, ',')
		}
		first = false
	}
	if metadata != nil {
		comma()
		b = append(b, `"__metadata__":{`...)
		keys := make([]string, 0, len(metadata))
		for k := range metadata {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONString(b, metadata[k])
		}
		b = append(b, '}')
	}
	var off int64
	for _, e := range list {
		comma()
		b = appendJSONString(b, e.name)
		b = append(b, `:{"dtype":`...)
		b = appendJSONString(b, string(e.t.DType))
		b = append(b, `,"shape":[`...)
		for i, d := range e.t.Shape {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(d), 10)
		}
		b = append(b, `],"data_offsets":[`...)
		b = strconv.AppendInt(b, off, 10)
		b = append(b, ',')
		off += int64(len(e.t.Data))
		b = strconv.AppendInt(b, off, 10)
		b = append(b, "]}"...)
	}
	b = append(b, '}')
	for len(b)%8 != 0 {
		b = append(b, ' ')
	}
	return b
}

// appendJSONString escapes like serde_json: only '"', '\\' and control
// characters; everything else, including non-ASCII, is written as is.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			b = append(b, '\\', '"')
		case c == '\\':
			b = append(b, '\\', '\\')
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\f':
			b = append(b, '\\', 'f')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// Encode writes tensors (and optional metadata) in safetensors format to w.
func Encode(w io.Writer, tensors map[string]Tensor, metadata map[string]string) error {
	list, err := layout(tensors)
	if err != nil {
		return err
	}
	hdr := headerBytes(list, metadata)
	if len(hdr) > MaxHeaderSize {
		return fmt.Errorf("safetensors: header of %d bytes exceeds the %d-byte limit", len(hdr), MaxHeaderSize)
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(hdr)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	for _, e := range list {
		if _, err := w.Write(e.t.Data); err != nil {
			return err
		}
	}
	return nil
}

// Write writes a safetensors file atomically: into a temporary file in the
// same folder, synced, then renamed over path, and the folder synced, so a
// crash leaves either the old file or the complete new one.
func Write(path string, tensors map[string]Tensor, metadata map[string]string) error {
	if err := atomicfile.WriteFunc(path, func(w io.Writer) error { return Encode(w, tensors, metadata) }); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}
