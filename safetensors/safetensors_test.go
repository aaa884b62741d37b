package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"bioencoder/internal/testutil"
)

type goldenDtype struct {
	Shape  []int             `json:"shape"`
	Values []json.RawMessage `json:"values_as_f64_repr"`
}

func loadGoldenDtypes(t *testing.T) (*File, map[string]goldenDtype) {
	t.Helper()
	dir := testutil.Testdata(t, "golden", "safetensors_dtypes")
	f, err := Open(filepath.Join(dir, "dtypes.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	raw, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(raw, &all); err != nil {
		t.Fatal(err)
	}
	want := map[string]goldenDtype{}
	for k, v := range all {
		if strings.HasPrefix(k, "_") {
			continue
		}
		var g goldenDtype
		if err := json.Unmarshal(v, &g); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		want[k] = g
	}
	return f, want
}

// f64Value decodes an expected value: a string float repr ("inf", "-0.0")
// or a bare integer.
func f64Value(t *testing.T, raw json.RawMessage) float64 {
	t.Helper()
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		s = string(raw)
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("bad expected value %s: %v", raw, err)
	}
	return v
}

func sameFloat32(a, b float32) bool {
	if math.IsNaN(float64(a)) || math.IsNaN(float64(b)) {
		return math.IsNaN(float64(a)) && math.IsNaN(float64(b))
	}
	return math.Float32bits(a) == math.Float32bits(b) // distinguishes -0 from 0
}

func TestGoldenDtypes(t *testing.T) {
	f, want := loadGoldenDtypes(t)
	if got := f.Names(); !reflect.DeepEqual(got, []string{"bf16", "empty_f32", "f16", "f32", "i64", "scalar_f32"}) {
		t.Fatalf("names %v", got)
	}
	if m := f.Metadata(); m["format"] != "pt" || len(m) != 1 {
		t.Errorf("metadata %v, want {format: pt}", m)
	}
	dts := map[string]DType{"bf16": BF16, "empty_f32": F32, "f16": F16, "f32": F32, "i64": I64, "scalar_f32": F32}
	for name, g := range want {
		in, ok := f.Info(name)
		if !ok {
			t.Fatalf("tensor %q missing", name)
		}
		if in.DType != dts[name] {
			t.Errorf("%s: dtype %s, want %s", name, in.DType, dts[name])
		}
		if !reflect.DeepEqual(in.Shape, g.Shape) && !(len(in.Shape) == 0 && len(g.Shape) == 0) {
			t.Errorf("%s: shape %v, want %v", name, in.Shape, g.Shape)
		}
		if name == "i64" {
			got, err := f.Int64(name)
			if err != nil {
				t.Fatal(err)
			}
			for i, raw := range g.Values {
				w, err := strconv.ParseInt(string(raw), 10, 64)
				if err != nil {
					t.Fatal(err)
				}
				if got[i] != w {
					t.Errorf("i64[%d] = %d, want %d", i, got[i], w)
				}
			}
			continue
		}
		got, err := f.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(g.Values) {
			t.Fatalf("%s: %d values, want %d", name, len(got), len(g.Values))
		}
		for i, raw := range g.Values {
			w := float32(f64Value(t, raw))
			if !sameFloat32(got[i], w) {
				t.Errorf("%s[%d] = %g (%#x), want %g (%#x)", name, i, got[i], math.Float32bits(got[i]), w, math.Float32bits(w))
			}
		}
	}
}

// The golden f32 values, rounded by torch to f16 and bf16, are the golden
// f16 and bf16 tensors: our rounding must agree bit for bit.
func TestGoldenRounding(t *testing.T) {
	f, _ := loadGoldenDtypes(t)
	src, err := f.Float32("f32")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		round func(float32) uint16
	}{{"f16", F32ToF16}, {"bf16", F32ToBF16}} {
		raw, _ := f.Bytes(c.name)
		for i, x := range src {
			want := binary.LittleEndian.Uint16(raw[2*i:])
			if got := c.round(x); got != want {
				t.Errorf("%s(%g) = %#04x, want %#04x", c.name, x, got, want)
			}
		}
	}
}

func TestF16Exhaustive(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := F16ToF32(uint16(h))
		exp, mant := h>>10&0x1f, h&0x3ff
		if exp == 0x1f && mant != 0 {
			if !math.IsNaN(float64(f)) {
				t.Fatalf("%#04x: want NaN, got %g", h, f)
			}
			if back := F32ToF16(f); back>>10&0x1f != 0x1f || back&0x3ff == 0 {
				t.Fatalf("NaN %#04x came back as %#04x", h, back)
			}
			continue
		}
		// Reference value computed independently in float64.
		var want float64
		switch {
		case exp == 0x1f:
			want = math.Inf(1)
		case exp == 0:
			want = float64(mant) * math.Pow(2, -24)
		default:
			want = (1 + float64(mant)/1024) * math.Pow(2, float64(exp-15))
		}
		if h&0x8000 != 0 {
			want = -want
		}
		if !sameFloat32(f, float32(want)) || (want == 0 && math.Signbit(want) != math.Signbit(float64(f))) {
			t.Fatalf("F16ToF32(%#04x) = %g, want %g", h, f, want)
		}
		if back := F32ToF16(f); back != uint16(h) {
			t.Fatalf("F32ToF16(F16ToF32(%#04x)) = %#04x", h, back)
		}
	}
}

// nearestCheck verifies that h is a correctly rounded (ties-to-even)
// encoding of x among its neighbours.
func checkNearest(t *testing.T, kind string, x float32, h uint16, widen func(uint16) float32) {
	t.Helper()
	got := float64(widen(h))
	if math.IsInf(got, 0) {
		return // overflow boundaries are covered by the golden tests
	}
	d := math.Abs(got - float64(x))
	for _, nb := range []uint16{h - 1, h + 1} {
		if nb>>15 != h>>15 { // crossed the sign: skip
			continue
		}
		v := float64(widen(nb))
		if math.IsNaN(v) {
			continue
		}
		dn := math.Abs(v - float64(x))
		if dn < d || (dn == d && h&1 == 1) {
			t.Fatalf("%s(%g) = %#04x (%g) but %#04x (%g) is nearer or the even tie", kind, x, h, got, nb, v)
		}
	}
}

func TestRoundingRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 200000; i++ {
		var x float32
		switch i % 3 {
		case 0:
			x = math.Float32frombits(rng.Uint32())
		case 1: // around the half subnormal/normal range
			x = float32(rng.NormFloat64() * math.Pow(2, float64(rng.Intn(40)-30)))
		default: // exact ties between two halves
			h := uint16(rng.Intn(0x7bff))
			x = (F16ToF32(h) + F16ToF32(h+1)) / 2
		}
		if math.IsNaN(float64(x)) {
			continue
		}
		checkNearest(t, "F32ToF16", x, F32ToF16(x), F16ToF32)
		checkNearest(t, "F32ToBF16", x, F32ToBF16(x), BF16ToF32)
	}
	if h := F32ToBF16(float32(math.NaN())); !math.IsNaN(float64(BF16ToF32(h))) {
		t.Errorf("bf16 NaN lost: %#04x", h)
	}
}

func goldenFiles(t *testing.T) []string {
	t.Helper()
	root := testutil.Testdata(t, "golden")
	var files []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".safetensors") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 20 {
		t.Fatalf("found only %d golden safetensors files under %s", len(files), root)
	}
	return files
}

// Every golden file loads, every tensor decodes, and re-encoding gives the
// identical bytes (the reference writer lays files out as the official one).
func TestGoldenFilesLoadAndReencode(t *testing.T) {
	for _, p := range goldenFiles(t) {
		f, err := Open(p)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		tensors := map[string]Tensor{}
		for _, name := range f.Names() {
			in, _ := f.Info(name)
			if in.DType.Decodable() {
				if _, err := f.Float32(name); err != nil {
					t.Errorf("%s: %v", p, err)
				}
			} else if _, err := f.Int64(name); err != nil {
				t.Errorf("%s: %v", p, err)
			}
			b, _ := f.Bytes(name)
			tensors[name] = Tensor{DType: in.DType, Shape: in.Shape, Data: b}
		}
		var buf bytes.Buffer
		if err := Encode(&buf, tensors, f.Metadata()); err != nil {
			t.Fatal(err)
		}
		orig, _ := os.ReadFile(p)
		if !bytes.Equal(buf.Bytes(), orig) {
			t.Errorf("%s: re-encoded file differs from the original", p)
		}
		f.Close()
	}
}

// Byte vectors from the official implementation's own tests.
func TestOfficialVectors(t *testing.T) {
	data := make([]byte, 0, 24)
	for _, v := range []float32{0, 1, 2, 3, 4, 5} {
		data = binary.LittleEndian.AppendUint32(data, math.Float32bits(v))
	}
	var buf bytes.Buffer
	if err := Encode(&buf, map[string]Tensor{"attn.0": {F32, []int{1, 2, 3}, data}}, nil); err != nil {
		t.Fatal(err)
	}
	want := append([]byte{64, 0, 0, 0, 0, 0, 0, 0}, `{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}`...)
	want = append(want, data...)
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("got\n%q\nwant\n%q", buf.Bytes(), want)
	}
	buf.Reset()
	Encode(&buf, map[string]Tensor{"attn0": {F32, []int{1, 1, 2, 3}, data}}, nil)
	want = append([]byte{72, 0, 0, 0, 0, 0, 0, 0}, `{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       `...)
	want = append(want, data...)
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("got\n%q\nwant\n%q", buf.Bytes(), want)
	}
	buf.Reset()
	Encode(&buf, nil, nil)
	if want := "\x08\x00\x00\x00\x00\x00\x00\x00{}      "; buf.String() != want {
		t.Errorf("empty: got %q want %q", buf.String(), want)
	}
	buf.Reset()
	Encode(&buf, nil, map[string]string{"framework": "pt"})
	if want := "\x28\x00\x00\x00\x00\x00\x00\x00" + `{"__metadata__":{"framework":"pt"}}     `; buf.String() != want {
		t.Errorf("empty+metadata: got %q want %q", buf.String(), want)
	}
}

func TestRoundTripEveryDtype(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	tensors := map[string]Tensor{}
	for dt, info := range dtypes {
		for _, shape := range [][]int{{3, 5}, {}, {0, 4}, {7}} {
			n := 1
			for _, d := range shape {
				n *= d
			}
			data := make([]byte, n*info.size)
			rng.Read(data)
			if dt == BOOL {
				for i := range data {
					data[i] &= 1
				}
			}
			tensors[string(dt)+"/"+strconv.Itoa(len(shape))+"/"+strconv.Itoa(n)] = Tensor{dt, shape, data}
		}
	}
	meta := map[string]string{"format": "pt", "quote\"and\\slash": "tab\tnl\n\x01é"}
	dir := t.TempDir()
	p := filepath.Join(dir, "all.safetensors")
	if err := Write(p, tensors, meta); err != nil {
		t.Fatal(err)
	}
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !reflect.DeepEqual(f.Metadata(), meta) {
		t.Errorf("metadata %q, want %q", f.Metadata(), meta)
	}
	if f.Len() != len(tensors) {
		t.Fatalf("%d tensors, want %d", f.Len(), len(tensors))
	}
	got := map[string]Tensor{}
	for name, want := range tensors {
		in, ok := f.Info(name)
		if !ok {
			t.Fatalf("%s missing", name)
		}
		b, _ := f.Bytes(name)
		if in.DType != want.DType || !reflect.DeepEqual(append([]int{}, in.Shape...), append([]int{}, want.Shape...)) || !bytes.Equal(b, want.Data) {
			t.Errorf("%s: got %s %v, want %s %v (bytes equal %v)", name, in.DType, in.Shape, want.DType, want.Shape, bytes.Equal(b, want.Data))
		}
		if in.Begin%int64(in.DType.Size()) != 0 || f.DataStart()%8 != 0 {
			t.Errorf("%s: begins at %d, not aligned to %d", name, in.Begin, in.DType.Size())
		}
		got[name] = Tensor{in.DType, in.Shape, b}
	}
	var again bytes.Buffer
	if err := Encode(&again, got, f.Metadata()); err != nil {
		t.Fatal(err)
	}
	orig, _ := os.ReadFile(p)
	if !bytes.Equal(again.Bytes(), orig) {
		t.Error("write→read→write is not byte-identical")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("temporary files left behind: %v", ents)
	}
}

func TestFromFloat32(t *testing.T) {
	v := []float32{0, float32(math.Copysign(0, -1)), 1, -2.5, 65504, 1e-40, float32(math.Inf(-1)), 0.1}
	for _, dt := range []DType{F32, F16, BF16, F64} {
		tn, err := FromFloat32(dt, []int{2, 4}, v)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := Encode(&buf, map[string]Tensor{"x": tn}, nil); err != nil {
			t.Fatal(err)
		}
		f, err := Parse("mem", buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.Float32("x")
		if err != nil {
			t.Fatal(err)
		}
		for i, x := range v {
			var want float32
			switch dt {
			case F16:
				want = F16ToF32(F32ToF16(x))
			case BF16:
				want = BF16ToF32(F32ToBF16(x))
			default:
				want = x
			}
			if !sameFloat32(got[i], want) {
				t.Errorf("%s[%d] = %g, want %g", dt, i, got[i], want)
			}
		}
	}
	if _, err := FromFloat32(I32, []int{1}, []float32{1}); err == nil {
		t.Error("FromFloat32(I32) succeeded")
	}
	if _, err := FromFloat32(F32, []int{3}, []float32{1}); err == nil {
		t.Error("wrong length accepted")
	}
	it, _ := FromInt64([]int{3}, []int64{-1, 0, math.MaxInt64})
	var buf bytes.Buffer
	Encode(&buf, map[string]Tensor{"i": it}, nil)
	f, _ := Parse("mem", buf.Bytes())
	if got, _ := f.Int64("i"); !reflect.DeepEqual(got, []int64{-1, 0, math.MaxInt64}) {
		t.Errorf("int64 round trip: %v", got)
	}
	if _, err := f.Float32("i"); err == nil {
		t.Error("Float32 of an I64 tensor succeeded")
	}
}

func TestInt64Widening(t *testing.T) {
	tensors := map[string]Tensor{
		"b":   {BOOL, []int{2}, []byte{0, 1}},
		"u8":  {U8, []int{2}, []byte{0, 255}},
		"i8":  {I8, []int{2}, []byte{0x80, 0x7f}},
		"i16": {I16, []int{1}, []byte{0x00, 0x80}},
		"u16": {U16, []int{1}, []byte{0xff, 0xff}},
		"i32": {I32, []int{1}, []byte{0, 0, 0, 0x80}},
		"u32": {U32, []int{1}, []byte{0xff, 0xff, 0xff, 0xff}},
		"u64": {U64, []int{1}, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
	}
	var buf bytes.Buffer
	if err := Encode(&buf, tensors, nil); err != nil {
		t.Fatal(err)
	}
	f, err := Parse("mem", buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]int64{"b": {0, 1}, "u8": {0, 255}, "i8": {-128, 127}, "i16": {-32768}, "u16": {65535}, "i32": {math.MinInt32}, "u32": {math.MaxUint32}}
	for name, w := range want {
		got, err := f.Int64(name)
		if err != nil || !reflect.DeepEqual(got, w) {
			t.Errorf("%s: %v %v, want %v", name, got, err, w)
		}
	}
	if _, err := f.Int64("u64"); err == nil || !strings.Contains(err.Error(), "does not fit") {
		t.Errorf("u64 overflow: %v", err)
	}
}

func TestFloat32View(t *testing.T) {
	p := filepath.Join(testutil.Testdata(t, "golden", "bert_mlm"), "model.safetensors")
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	name := "bert.embeddings.word_embeddings.weight"
	v, ok := f.Float32View(name)
	if !ok {
		t.Fatal("no zero-copy view for an aligned F32 tensor")
	}
	c, _ := f.Float32(name)
	if len(v) != 1000*32 || !reflect.DeepEqual(v, c) {
		t.Error("view differs from the copy")
	}
}

func TestReadHeader(t *testing.T) {
	p := filepath.Join(testutil.Testdata(t, "golden", "safetensors_dtypes"), "dtypes.safetensors")
	infos, meta, err := ReadHeader(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 6 || infos[0].Name != "bf16" || meta["format"] != "pt" {
		t.Errorf("got %v %v", infos, meta)
	}
}

func TestSharded(t *testing.T) {
	dir := t.TempDir()
	tensors := map[string]Tensor{}
	for i := 0; i < 5; i++ {
		tn, _ := FromFloat32(F32, []int{4}, []float32{float32(i), 1, 2, 3})
		tensors["t"+strconv.Itoa(i)] = tn
	}
	files, err := WriteSharded(dir, tensors, map[string]string{"format": "pt"}, 40)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors"}; !reflect.DeepEqual(files, want) {
		t.Fatalf("shards %v, want %v", files, want)
	}
	ix, err := ReadIndex(filepath.Join(dir, IndexName))
	if err != nil {
		t.Fatal(err)
	}
	if ix.TotalSize != 80 || len(ix.WeightMap) != 5 || ix.WeightMap["t4"] != files[2] || !reflect.DeepEqual(ix.Shards(), files) {
		t.Errorf("index %+v", ix)
	}
	for name, shard := range ix.WeightMap {
		f, err := Open(filepath.Join(dir, shard))
		if err != nil {
			t.Fatal(err)
		}
		v, err := f.Float32(name)
		if err != nil || v[0] != float32(name[1]-'0') {
			t.Errorf("%s in %s: %v %v", name, shard, v, err)
		}
		f.Close()
	}
	for _, bad := range []string{
		`{"weight_map":{"a":"../x.safetensors"}}`,
		`{"weight_map":{"a":"/etc/passwd"}}`,
		`{"weight_map":{"a":""}}`,
		`{"metadata":{"total_size":-1},"weight_map":{}}`,
		`{"metadata":{}}`,
		`[1,2]`,
	} {
		if _, err := ParseIndex("idx", []byte(bad)); err == nil {
			t.Errorf("ParseIndex(%s) succeeded", bad)
		}
	}
	if ix, err := ParseIndex("idx", []byte(`{"metadata":{"total_size":12.0},"weight_map":{"a":"m.safetensors"}}`)); err != nil || ix.TotalSize != 12 {
		t.Errorf("float total_size: %v %v", ix, err)
	}
}

// file builds a safetensors file from a header string and n data bytes.
func file(header string, n int) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, make([]byte, n)...)
}

func TestMalformed(t *testing.T) {
	withLen := func(n uint64, rest string) []byte {
		return append(binary.LittleEndian.AppendUint64(nil, n), rest...)
	}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"short", []byte{1, 2, 3}, "shorter than the 8-byte"},
		{"huge header length", withLen(1<<62, "{}"), "exceeds the 100000000-byte limit"},
		{"header past end", withLen(100, "{}"), "runs past the end"},
		{"not an object", file(`[1,2]   `, 0), "does not start with '{'"},
		{"leading space", file(` {}`, 0), "does not start with '{'"},
		{"bad json", file(`{"a":`, 0), "header"},
		{"trailing garbage", file(`{} x`, 0), "header"},
		{"two objects", file(`{}{}`, 0), "data after the JSON object"},
		{"invalid utf8", file("{\"\xff\":1}", 0), "UTF-8"},
		{"unknown dtype", file(`{"a":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}`, 16), `tensor "a": unknown dtype "F128"`},
		{"sub-byte dtype", file(`{"a":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}}`, 1), `unknown dtype "F4"`},
		{"dtype not string", file(`{"a":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}`, 4), "not a string"},
		{"negative dim", file(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, 4), "non-negative"},
		{"float dim", file(`{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, 4), "non-negative integer"},
		{"exp dim", file(`{"a":{"dtype":"F32","shape":[1e2],"data_offsets":[0,400]}}`, 400), "non-negative integer"},
		{"huge dim", file(`{"a":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,4]}}`, 4), "non-negative integer"},
		{"shape overflow", file(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}`, 4), "overflows"},
		{"bytes overflow", file(`{"a":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,8]}}`, 8), "overflows"},
		{"shape not list", file(`{"a":{"dtype":"F32","shape":3,"data_offsets":[0,4]}}`, 4), "shape"},
		{"missing dtype", file(`{"a":{"shape":[1],"data_offsets":[0,4]}}`, 4), `missing "dtype"`},
		{"missing shape", file(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, 4), `missing "shape"`},
		{"missing offsets", file(`{"a":{"dtype":"F32","shape":[1]}}`, 4), `missing "data_offsets"`},
		{"dup field", file(`{"a":{"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}}`, 4), `duplicate field "dtype"`},
		{"three offsets", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, 4), "want 2"},
		{"entry not object", file(`{"a":[1]}`, 0), `tensor "a"`},
		{"offsets reversed", file(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}`, 4), "outside"},
		{"offsets past buffer", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 4), "outside the 4-byte data buffer"},
		{"size mismatch", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, 4), "needs 8"},
		{"hole", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), "belong to no tensor"},
		{"overlap", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), "overlaps"},
		{"trailing bytes", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 8), "cover 4 bytes but the data buffer has 8"},
		{"duplicate tensor", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), `duplicate tensor "a"`},
		{"duplicate metadata", file(`{"__metadata__":{},"__metadata__":{}}`, 0), "duplicate"},
		{"metadata not strings", file(`{"__metadata__":{"a":1}}`, 0), "not a string"},
		{"metadata dup key", file(`{"__metadata__":{"a":"1","a":"2"}}`, 0), `duplicate key "a"`},
		{"metadata list", file(`{"__metadata__":[]}`, 0), "__metadata__"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("bad.safetensors", c.data)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "bad.safetensors") {
				t.Errorf("error %q does not mention %q and the file", err, c.want)
			}
		})
	}
}

func TestValidEdgeCases(t *testing.T) {
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"empty", file(`{}`, 0)},
		{"padded", file(`{}      `, 0)},
		{"null metadata", file(`{"__metadata__":null}`, 0)},
		{"unknown field", file(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2],"extra":{"x":[1]}}}`, 2)},
		{"several empties", file(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"c":{"dtype":"F32","shape":[3,0],"data_offsets":[4,4]}}`, 4)},
		{"unsorted offsets", file(`{"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, 2)},
		{"zero dim with huge dims", file(`{"a":{"dtype":"F32","shape":[0,9223372036854775807],"data_offsets":[0,0]}}`, 0)},
	} {
		if _, err := Parse(c.name, c.data); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "missing.safetensors")); err == nil {
		t.Error("missing file opened")
	}
	if _, err := Open(dir); err == nil {
		t.Error("directory opened")
	}
	p := filepath.Join(dir, "short.safetensors")
	os.WriteFile(p, []byte{1, 0}, 0o644)
	if _, err := Open(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("short file: %v", err)
	}
	if err := Write(filepath.Join(dir, "x.safetensors"), map[string]Tensor{"__metadata__": {U8, []int{0}, nil}}, nil); err == nil {
		t.Error("reserved name written")
	}
	if err := Write(filepath.Join(dir, "x.safetensors"), map[string]Tensor{"a": {F32, []int{2}, make([]byte, 4)}}, nil); err == nil {
		t.Error("wrong data length written")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("failed writes left files: %v", ents)
	}
}
