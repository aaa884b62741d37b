package torchbin

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"

	"bioencoder/safetensors"
)

// The unpickler below understands just enough of Python's pickle format to
// rebuild a PyTorch state dict. It never imports or calls anything: the few
// allowed globals are interpreted by hand and every other global is refused.
// All values live in a small object graph of the types that follow.

type pyGlobal struct{ module, name string }

func (g pyGlobal) String() string { return g.module + "." + g.name }

type pyTuple []any

type pyList struct{ items []any }

type pyDict struct {
	keys, vals []any
	index      map[string]int // position of each string key, for overrides
}

func newDict() *pyDict { return &pyDict{index: map[string]int{}} }

func (d *pyDict) set(k, v any) {
	if s, ok := k.(string); ok {
		if i, dup := d.index[s]; dup {
			d.vals[i] = v // Python dicts keep the first position, last value
			return
		}
		d.index[s] = len(d.keys)
	}
	d.keys = append(d.keys, k)
	d.vals = append(d.vals, v)
}

type pyBytes []byte

// storageRef is what a persistent id resolves to: a typed view of the raw
// bytes stored under key.
type storageRef struct {
	key      string
	dtype    safetensors.DType
	numel    int64
	location string
}

// tensorRef is a rebuilt tensor: a strided view into a storage.
type tensorRef struct {
	storage *storageRef
	offset  int64
	shape   []int64
	stride  []int64
}

// storageClasses maps the torch storage classes a persistent id may name to
// their element types.
var storageClasses = map[string]safetensors.DType{
	"FloatStorage":    safetensors.F32,
	"DoubleStorage":   safetensors.F64,
	"HalfStorage":     safetensors.F16,
	"BFloat16Storage": safetensors.BF16,
	"LongStorage":     safetensors.I64,
	"IntStorage":      safetensors.I32,
	"ShortStorage":    safetensors.I16,
	"CharStorage":     safetensors.I8,
	"ByteStorage":     safetensors.U8,
	"BoolStorage":     safetensors.BOOL,
}

func allowedGlobal(g pyGlobal) bool {
	switch g.module {
	case "collections":
		return g.name == "OrderedDict"
	case "torch._utils":
		switch g.name {
		case "_rebuild_tensor_v2", "_rebuild_parameter", "_rebuild_parameter_with_state":
			return true
		}
	case "torch":
		_, ok := storageClasses[g.name]
		return ok
	}
	return false
}

// Limits on the object graph; the input length bounds it too, these only
// keep a hostile pickle from building something absurd from a small file.
const (
	maxStack     = 1 << 24
	maxMarkDepth = 1 << 16
	maxLineLen   = 256
	maxLongBytes = 64
	maxDims      = 64
)

// input is what the unpickler reads: a byte stream that knows how many
// bytes remain, so no length field can make it allocate past the input.
type input struct {
	r      *bufio.Reader
	pos    int64
	remain int64
}

func newInput(r io.Reader, size int64) *input {
	return &input{r: bufio.NewReaderSize(r, 64<<10), remain: size}
}

var errTruncated = errors.New("unexpected end of pickle")

func (in *input) byte() (byte, error) {
	if in.remain <= 0 {
		return 0, errTruncated
	}
	b, err := in.r.ReadByte()
	if err != nil {
		return 0, errTruncated
	}
	in.pos++
	in.remain--
	return b, nil
}

func (in *input) bytes(n uint64) ([]byte, error) {
	if n > uint64(in.remain) {
		return nil, fmt.Errorf("length %d exceeds the %d bytes left", n, in.remain)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(in.r, b); err != nil {
		return nil, errTruncated
	}
	in.pos += int64(n)
	in.remain -= int64(n)
	return b, nil
}

func (in *input) uint(n int) (uint64, error) {
	b, err := in.bytes(uint64(n))
	if err != nil {
		return 0, err
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v, nil
}

func (in *input) line() (string, error) {
	var b []byte
	for {
		c, err := in.byte()
		if err != nil {
			return "", err
		}
		if c == '\n' {
			return string(b), nil
		}
		if len(b) >= maxLineLen {
			return "", fmt.Errorf("line longer than %d bytes", maxLineLen)
		}
		b = append(b, c)
	}
}

// unpickler state. persistent resolves BINPERSID ids.
type unpickler struct {
	in         *input
	stack      []any
	meta       [][]any
	memo       map[uint64]any
	persistent func(pid any) (any, error)
}

type opError struct {
	op  byte
	pos int64
	err error
}

func (e *opError) Error() string {
	return fmt.Sprintf("opcode %s at byte %d: %v", opName(e.op), e.pos, e.err)
}

func (e *opError) Unwrap() error { return e.err }

func opName(op byte) string {
	if n, ok := opNames[op]; ok {
		return n
	}
	return fmt.Sprintf("0x%02x", op)
}

var opNames = map[byte]string{
	'(': "MARK", '.': "STOP", '0': "POP", '1': "POP_MARK", '2': "DUP", 'J': "BININT", 'K': "BININT1",
	'M': "BININT2", 0x8a: "LONG1", 0x8b: "LONG4", 'N': "NONE", 0x88: "NEWTRUE", 0x89: "NEWFALSE",
	'G': "BINFLOAT", 'T': "BINSTRING", 'U': "SHORT_BINSTRING", 'X': "BINUNICODE", 0x8c: "SHORT_BINUNICODE",
	0x8d: "BINUNICODE8", 'B': "BINBYTES", 'C': "SHORT_BINBYTES", 0x8e: "BINBYTES8", 0x96: "BYTEARRAY8",
	')': "EMPTY_TUPLE", 't': "TUPLE", 0x85: "TUPLE1", 0x86: "TUPLE2", 0x87: "TUPLE3", ']': "EMPTY_LIST",
	'l': "LIST", 'a': "APPEND", 'e': "APPENDS", '}': "EMPTY_DICT", 'd': "DICT", 's': "SETITEM",
	'u': "SETITEMS", 0x8f: "EMPTY_SET", 0x90: "ADDITEMS", 0x91: "FROZENSET", 'c': "GLOBAL",
	0x93: "STACK_GLOBAL", 'R': "REDUCE", 'b': "BUILD", 0x81: "NEWOBJ", 0x92: "NEWOBJ_EX", 'i': "INST",
	'o': "OBJ", 'Q': "BINPERSID", 'P': "PERSID", 'q': "BINPUT", 'r': "LONG_BINPUT", 'h': "BINGET",
	'j': "LONG_BINGET", 0x94: "MEMOIZE", 'p': "PUT", 'g': "GET", 0x80: "PROTO", 0x95: "FRAME",
	0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", 0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER",
	'I': "INT", 'L': "LONG", 'F': "FLOAT", 'S': "STRING", 'V': "UNICODE",
}

// errGlobal is returned for a refused global; the message is the one users see.
type errGlobal struct{ g pyGlobal }

func (e errGlobal) Error() string { return fmt.Sprintf("global %s is not allowed", e.g) }

// load runs the pickle program up to STOP and returns the top of the stack.
func (u *unpickler) load() (any, error) {
	if u.memo == nil {
		u.memo = map[uint64]any{}
	}
	for {
		pos := u.in.pos
		op, err := u.in.byte()
		if err != nil {
			return nil, fmt.Errorf("at byte %d: %w", pos, err)
		}
		done, err := u.step(op)
		if err != nil {
			var ge errGlobal
			if errors.As(err, &ge) {
				return nil, err
			}
			return nil, &opError{op, pos, err}
		}
		if done {
			if len(u.meta) != 0 {
				return nil, fmt.Errorf("STOP at byte %d inside an unclosed MARK", pos)
			}
			if len(u.stack) != 1 {
				return nil, fmt.Errorf("STOP at byte %d with %d values on the stack, want 1", pos, len(u.stack))
			}
			return u.stack[0], nil
		}
	}
}

func (u *unpickler) push(v any) error {
	if len(u.stack) >= maxStack {
		return errors.New("stack too deep")
	}
	u.stack = append(u.stack, v)
	return nil
}

func (u *unpickler) pop() (any, error) {
	if len(u.stack) == 0 {
		return nil, errors.New("stack underflow")
	}
	v := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	return v, nil
}

func (u *unpickler) top() (any, error) {
	if len(u.stack) == 0 {
		return nil, errors.New("stack underflow")
	}
	return u.stack[len(u.stack)-1], nil
}

// popMark returns the values pushed since the last MARK and restores the
// stack below it.
func (u *unpickler) popMark() ([]any, error) {
	if len(u.meta) == 0 {
		return nil, errors.New("no MARK on the stack")
	}
	items := u.stack
	u.stack = u.meta[len(u.meta)-1]
	u.meta = u.meta[:len(u.meta)-1]
	return items, nil
}

func (u *unpickler) pushString(n uint64, asBytes bool) error {
	b, err := u.in.bytes(n)
	if err != nil {
		return err
	}
	if asBytes {
		return u.push(pyBytes(b))
	}
	return u.push(string(b))
}

func (u *unpickler) memoPut(idx uint64) error {
	v, err := u.top()
	if err != nil {
		return err
	}
	u.memo[idx] = v
	return nil
}

func (u *unpickler) memoGet(idx uint64) error {
	v, ok := u.memo[idx]
	if !ok {
		return fmt.Errorf("memo key %d not found", idx)
	}
	return u.push(v)
}

func (u *unpickler) step(op byte) (stop bool, err error) {
	in := u.in
	switch op {
	case 0x80: // PROTO
		p, err := in.byte()
		if err != nil {
			return false, err
		}
		if p > 5 {
			return false, fmt.Errorf("unsupported pickle protocol %d", p)
		}
	case 0x95: // FRAME: a length prefix for the framing layer; nothing to do
		n, err := in.uint(8)
		if err != nil {
			return false, err
		}
		if n > uint64(in.remain) {
			return false, fmt.Errorf("frame of %d bytes exceeds the %d bytes left", n, in.remain)
		}
	case '.':
		return true, nil
	case '(':
		if len(u.meta) >= maxMarkDepth {
			return false, errors.New("MARKs nested too deep")
		}
		u.meta = append(u.meta, u.stack)
		u.stack = make([]any, 0, 8)
	case '0':
		_, err = u.pop()
	case '1':
		_, err = u.popMark()
	case '2':
		v, err := u.top()
		if err != nil {
			return false, err
		}
		return false, u.push(v)
	case 'J':
		v, err := in.uint(4)
		if err != nil {
			return false, err
		}
		return false, u.push(int64(int32(uint32(v))))
	case 'K':
		v, err := in.uint(1)
		if err != nil {
			return false, err
		}
		return false, u.push(int64(v))
	case 'M':
		v, err := in.uint(2)
		if err != nil {
			return false, err
		}
		return false, u.push(int64(v))
	case 0x8a, 0x8b: // LONG1, LONG4: little-endian two's complement
		size := 1
		if op == 0x8b {
			size = 4
		}
		n, err := in.uint(size)
		if err != nil {
			return false, err
		}
		if n > maxLongBytes {
			return false, fmt.Errorf("integer of %d bytes is too long", n)
		}
		b, err := in.bytes(n)
		if err != nil {
			return false, err
		}
		return false, u.push(decodeLong(b))
	case 'N':
		return false, u.push(nil)
	case 0x88:
		return false, u.push(true)
	case 0x89:
		return false, u.push(false)
	case 'G':
		v, err := in.bytes(8)
		if err != nil {
			return false, err
		}
		return false, u.push(math.Float64frombits(binary.BigEndian.Uint64(v)))
	case 'X', 'T':
		n, err := in.uint(4)
		if err != nil {
			return false, err
		}
		return false, u.pushString(n, false)
	case 0x8c, 'U':
		n, err := in.uint(1)
		if err != nil {
			return false, err
		}
		return false, u.pushString(n, false)
	case 0x8d:
		n, err := in.uint(8)
		if err != nil {
			return false, err
		}
		return false, u.pushString(n, false)
	case 'B':
		n, err := in.uint(4)
		if err != nil {
			return false, err
		}
		return false, u.pushString(n, true)
	case 'C':
		n, err := in.uint(1)
		if err != nil {
			return false, err
		}
		return false, u.pushString(n, true)
	case 0x8e, 0x96:
		n, err := in.uint(8)
		if err != nil {
			return false, err
		}
		return false, u.pushString(n, true)
	case ')':
		return false, u.push(pyTuple{})
	case 't':
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		return false, u.push(pyTuple(append([]any{}, items...)))
	case 0x85, 0x86, 0x87:
		n := int(op - 0x84)
		if len(u.stack) < n {
			return false, errors.New("stack underflow")
		}
		t := pyTuple(append([]any{}, u.stack[len(u.stack)-n:]...))
		u.stack = u.stack[:len(u.stack)-n]
		return false, u.push(t)
	case ']':
		return false, u.push(&pyList{})
	case 'l', 0x91: // LIST, FROZENSET (sets only matter as opaque values)
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		return false, u.push(&pyList{items: append([]any{}, items...)})
	case 0x8f:
		return false, u.push(&pyList{})
	case 'a':
		v, err := u.pop()
		if err != nil {
			return false, err
		}
		l, err := u.top()
		if err != nil {
			return false, err
		}
		pl, ok := l.(*pyList)
		if !ok {
			return false, fmt.Errorf("APPEND to a %s", typeName(l))
		}
		pl.items = append(pl.items, v)
	case 'e', 0x90: // APPENDS, ADDITEMS
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		l, err := u.top()
		if err != nil {
			return false, err
		}
		pl, ok := l.(*pyList)
		if !ok {
			return false, fmt.Errorf("APPENDS to a %s", typeName(l))
		}
		pl.items = append(pl.items, items...)
	case '}':
		return false, u.push(newDict())
	case 'd':
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		if len(items)%2 != 0 {
			return false, errors.New("odd number of items for a dict")
		}
		d := newDict()
		for i := 0; i < len(items); i += 2 {
			d.set(items[i], items[i+1])
		}
		return false, u.push(d)
	case 's':
		v, err := u.pop()
		if err != nil {
			return false, err
		}
		k, err := u.pop()
		if err != nil {
			return false, err
		}
		d, err := u.top()
		if err != nil {
			return false, err
		}
		pd, ok := d.(*pyDict)
		if !ok {
			return false, fmt.Errorf("SETITEM on a %s", typeName(d))
		}
		pd.set(k, v)
	case 'u':
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		if len(items)%2 != 0 {
			return false, errors.New("odd number of items for SETITEMS")
		}
		d, err := u.top()
		if err != nil {
			return false, err
		}
		pd, ok := d.(*pyDict)
		if !ok {
			return false, fmt.Errorf("SETITEMS on a %s", typeName(d))
		}
		for i := 0; i < len(items); i += 2 {
			pd.set(items[i], items[i+1])
		}
	case 'c':
		mod, err := in.line()
		if err != nil {
			return false, err
		}
		name, err := in.line()
		if err != nil {
			return false, err
		}
		return false, u.global(pyGlobal{mod, name})
	case 0x93:
		name, err := u.pop()
		if err != nil {
			return false, err
		}
		mod, err := u.pop()
		if err != nil {
			return false, err
		}
		ms, ok1 := mod.(string)
		ns, ok2 := name.(string)
		if !ok1 || !ok2 {
			return false, errors.New("STACK_GLOBAL needs two strings")
		}
		return false, u.global(pyGlobal{ms, ns})
	case 'R':
		args, err := u.pop()
		if err != nil {
			return false, err
		}
		fn, err := u.pop()
		if err != nil {
			return false, err
		}
		v, err := reduce(fn, args)
		if err != nil {
			return false, err
		}
		return false, u.push(v)
	case 'b':
		// BUILD sets an object's state. The only state a state dict carries
		// is OrderedDict._metadata (per-module versions); drop it.
		if _, err := u.pop(); err != nil {
			return false, err
		}
		_, err = u.top()
	case 'Q':
		pid, err := u.pop()
		if err != nil {
			return false, err
		}
		if u.persistent == nil {
			return false, errors.New("persistent id outside a state dict")
		}
		v, err := u.persistent(pid)
		if err != nil {
			return false, err
		}
		return false, u.push(v)
	case 'q':
		idx, err := in.uint(1)
		if err != nil {
			return false, err
		}
		return false, u.memoPut(idx)
	case 'r':
		idx, err := in.uint(4)
		if err != nil {
			return false, err
		}
		return false, u.memoPut(idx)
	case 0x94:
		return false, u.memoPut(uint64(len(u.memo)))
	case 'h':
		idx, err := in.uint(1)
		if err != nil {
			return false, err
		}
		return false, u.memoGet(idx)
	case 'j':
		idx, err := in.uint(4)
		if err != nil {
			return false, err
		}
		return false, u.memoGet(idx)
	default:
		return false, errors.New("not supported by this state-dict reader")
	}
	return false, err
}

func (u *unpickler) global(g pyGlobal) error {
	if !allowedGlobal(g) {
		return errGlobal{g}
	}
	return u.push(g)
}

func decodeLong(b []byte) any {
	if len(b) == 0 {
		return int64(0)
	}
	if len(b) <= 8 {
		var v uint64
		for i := len(b) - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[i])
		}
		shift := 64 - 8*uint(len(b))
		return int64(v<<shift) >> shift // sign-extend
	}
	be := make([]byte, len(b))
	for i := range b {
		be[len(b)-1-i] = b[i]
	}
	v := new(big.Int).SetBytes(be)
	if b[len(b)-1]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	if v.IsInt64() {
		return v.Int64()
	}
	return v
}

func typeName(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int64, *big.Int:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case pyBytes:
		return "bytes"
	case pyTuple:
		return "tuple"
	case *pyList:
		return "list"
	case *pyDict:
		return "dict"
	case pyGlobal:
		return v.String()
	case *storageRef:
		return "storage"
	case *tensorRef:
		return "tensor"
	}
	return fmt.Sprintf("%T", v)
}

// reduce applies one of the allowed callables.
func reduce(fn, args any) (any, error) {
	g, ok := fn.(pyGlobal)
	if !ok {
		return nil, fmt.Errorf("REDUCE on a %s, not a global", typeName(fn))
	}
	a, ok := args.(pyTuple)
	if !ok {
		return nil, fmt.Errorf("%s called with a %s, not a tuple", g, typeName(args))
	}
	switch g {
	case pyGlobal{"collections", "OrderedDict"}:
		if len(a) != 0 {
			return nil, errors.New("collections.OrderedDict called with arguments")
		}
		return newDict(), nil
	case pyGlobal{"torch._utils", "_rebuild_tensor_v2"}:
		return rebuildTensor(a)
	case pyGlobal{"torch._utils", "_rebuild_parameter"}, pyGlobal{"torch._utils", "_rebuild_parameter_with_state"}:
		if len(a) < 3 {
			return nil, fmt.Errorf("%s called with %d arguments", g, len(a))
		}
		t, ok := a[0].(*tensorRef)
		if !ok {
			return nil, fmt.Errorf("%s of a %s", g, typeName(a[0]))
		}
		return t, nil
	}
	return nil, fmt.Errorf("%s cannot be called", g)
}

// rebuildTensor checks _rebuild_tensor_v2(storage, storage_offset, size,
// stride, requires_grad, backward_hooks[, metadata]).
func rebuildTensor(a pyTuple) (*tensorRef, error) {
	if len(a) != 6 && len(a) != 7 {
		return nil, fmt.Errorf("_rebuild_tensor_v2 called with %d arguments, want 6 or 7", len(a))
	}
	st, ok := a[0].(*storageRef)
	if !ok {
		return nil, fmt.Errorf("_rebuild_tensor_v2 storage is a %s", typeName(a[0]))
	}
	off, ok := a[1].(int64)
	if !ok || off < 0 {
		return nil, fmt.Errorf("_rebuild_tensor_v2 storage offset %v is not a non-negative int", a[1])
	}
	shape, err := intTuple(a[2], "size")
	if err != nil {
		return nil, err
	}
	stride, err := intTuple(a[3], "stride")
	if err != nil {
		return nil, err
	}
	if len(shape) != len(stride) {
		return nil, fmt.Errorf("_rebuild_tensor_v2 size has %d dims but stride %d", len(shape), len(stride))
	}
	return &tensorRef{storage: st, offset: off, shape: shape, stride: stride}, nil
}

func intTuple(v any, what string) ([]int64, error) {
	t, ok := v.(pyTuple)
	if !ok {
		return nil, fmt.Errorf("_rebuild_tensor_v2 %s is a %s, not a tuple", what, typeName(v))
	}
	if len(t) > maxDims {
		return nil, fmt.Errorf("_rebuild_tensor_v2 %s has %d dims", what, len(t))
	}
	out := make([]int64, len(t))
	for i, x := range t {
		n, ok := x.(int64)
		if !ok || n < 0 {
			return nil, fmt.Errorf("_rebuild_tensor_v2 %s %v is not a tuple of non-negative ints", what, []any(t))
		}
		out[i] = n
	}
	return out, nil
}

// storagePID resolves ("storage", StorageClass, key, location, numel[, view])
// (the legacy format adds the sixth element, None unless a storage view).
func storagePID(pid any) (*storageRef, error) {
	t, ok := pid.(pyTuple)
	if !ok || len(t) < 5 || len(t) > 6 {
		return nil, fmt.Errorf("persistent id %s is not a storage tuple", describe(pid))
	}
	if s, _ := t[0].(string); s != "storage" {
		return nil, fmt.Errorf("persistent id of kind %s, want \"storage\"", describe(t[0]))
	}
	cls, ok := t[1].(pyGlobal)
	if !ok || cls.module != "torch" {
		return nil, fmt.Errorf("persistent id storage class %s", describe(t[1]))
	}
	dt, ok := storageClasses[cls.name]
	if !ok {
		return nil, fmt.Errorf("persistent id storage class %s", cls)
	}
	key, ok := t[2].(string)
	if !ok {
		return nil, fmt.Errorf("storage key %s is not a string", describe(t[2]))
	}
	loc, _ := t[3].(string)
	numel, ok := t[4].(int64)
	if !ok || numel < 0 {
		return nil, fmt.Errorf("storage %q element count %s", key, describe(t[4]))
	}
	if len(t) == 6 && t[5] != nil {
		return nil, fmt.Errorf("storage %q is a view of another storage (legacy storage views are not supported)", key)
	}
	return &storageRef{key: key, dtype: dt, numel: numel, location: loc}, nil
}

func describe(v any) string {
	switch v := v.(type) {
	case string:
		if len(v) > 40 {
			v = v[:40] + "…"
		}
		return fmt.Sprintf("%q", v)
	case int64, float64, bool:
		return fmt.Sprint(v)
	}
	return "a " + typeName(v)
}
