package torchbin

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"bioencoder/safetensors"
)

type expTensor struct {
	DType  string            `json:"dtype"`
	Shape  []int             `json:"shape"`
	Values []json.RawMessage `json:"values"`
}

func loadExpected(t *testing.T) map[string]map[string]expTensor {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var exp map[string]map[string]expTensor
	if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatal(err)
	}
	return exp
}

func TestFixtures(t *testing.T) {
	exp := loadExpected(t)
	files := make([]string, 0, len(exp))
	for f := range exp {
		files = append(files, f)
	}
	sort.Strings(files)
	if len(files) < 6 {
		t.Fatalf("expected.json covers only %v", files)
	}
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			f, err := Open(filepath.Join("testdata", file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Legacy() != (file == "legacy.bin") {
				t.Errorf("Legacy() = %v", f.Legacy())
			}
			want := exp[file]
			if len(f.Names()) != len(want) {
				t.Errorf("%d tensors, want %d: %v", len(f.Names()), len(want), f.Names())
			}
			for name, w := range want {
				checkTensor(t, f, name, w)
			}
		})
	}
}

func checkTensor(t *testing.T, f *File, name string, w expTensor) {
	t.Helper()
	in, ok := f.Info(name)
	if !ok {
		t.Errorf("%s: missing", name)
		return
	}
	if string(in.DType) != w.DType || !(reflect.DeepEqual(in.Shape, w.Shape) || len(in.Shape)+len(w.Shape) == 0) {
		t.Errorf("%s: %s %v, want %s %v", name, in.DType, in.Shape, w.DType, w.Shape)
		return
	}
	if in.DType.Decodable() {
		got, err := f.Float32(name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			return
		}
		if len(got) != len(w.Values) {
			t.Errorf("%s: %d values, want %d", name, len(got), len(w.Values))
			return
		}
		for i, raw := range w.Values {
			var s string
			json.Unmarshal(raw, &s)
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatalf("%s: bad expected %s", name, raw)
			}
			if want := float32(v); math.Float32bits(got[i]) != math.Float32bits(want) {
				t.Errorf("%s[%d] = %g, want %g", name, i, got[i], want)
			}
		}
		return
	}
	got, err := f.Int64(name)
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return
	}
	for i, raw := range w.Values {
		v, _ := strconv.ParseInt(string(raw), 10, 64)
		if got[i] != v {
			t.Errorf("%s[%d] = %d, want %d", name, i, got[i], v)
		}
	}
}

func TestViewsAndSharing(t *testing.T) {
	f, err := Open(filepath.Join("testdata", "zip_views.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr, _ := f.Info("transposed")
	rows, _ := f.Info("rows_1_3")
	if tr.Contiguous || !rows.Contiguous {
		t.Errorf("contiguity: transposed %v, rows %v", tr.Contiguous, rows.Contiguous)
	}
	a, _ := f.Info("word_embeddings.weight")
	b, _ := f.Info("decoder.weight")
	if a.Storage != b.Storage {
		t.Errorf("tied weights in storages %q and %q", a.Storage, b.Storage)
	}
	// Copies are independent: changing one does not change the other.
	x, _ := f.Float32("word_embeddings.weight")
	x[0] = 1234
	y, _ := f.Float32("decoder.weight")
	if y[0] == 1234 {
		t.Error("tied tensors share a returned buffer")
	}
	// The transpose holds the transposed values of the base rows.
	base := make([]float32, 0, 24)
	r13, _ := f.Float32("rows_1_3")
	tv, _ := f.Float32("transposed")
	base = append(base, r13...)
	for i := 0; i < 2; i++ {
		for j := 0; j < 6; j++ {
			if tv[j*4+1+i] != base[i*6+j] {
				t.Fatalf("transposed[%d][%d] = %g, want %g", j, 1+i, tv[j*4+1+i], base[i*6+j])
			}
		}
	}
}

func TestMaliciousRefused(t *testing.T) {
	cases := map[string]string{
		"evil_os_system.bin":       "global os.system is not allowed",
		"evil_reduce.bin":          "global posix.system is not allowed",
		"evil_load_from_bytes.bin": "global torch.storage._load_from_bytes is not allowed",
		"evil_stack_global.bin":    "global posix.system is not allowed",
		"evil_builtins_eval.bin":   "global builtins.eval is not allowed",
		"evil_legacy.bin":          "global posix.system is not allowed",
	}
	for file, want := range cases {
		p := filepath.Join("testdata", file)
		_, err := Open(p)
		if err == nil {
			t.Errorf("%s: opened", file)
			continue
		}
		if !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "torchbin: "+p+": ") {
			t.Errorf("%s: error %q, want it to name the file and say %q", file, err, want)
		}
	}
	_, err := Open(filepath.Join("testdata", "evil_os_system.bin"))
	if want := "torchbin: testdata/evil_os_system.bin: data.pkl: global os.system is not allowed"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
}

// zipWith builds a torch-style zip from entries (name → content).
func zipWith(t *testing.T, entries [][2]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e[0], Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(e[1]))
	}
	zw.Close()
	return buf.Bytes()
}

// A minimal state-dict pickle: {"w": tensor(storage key "0", FloatStorage,
// numel, offset, size, stride)} written by hand.
func pkl(numel int, offset int, size, stride []int) string {
	var b strings.Builder
	b.WriteString("\x80\x02}X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n(")
	b.WriteString("(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuJ")
	b.WriteString(le32(numel))
	b.WriteString("tQJ" + le32(offset) + "(")
	for _, s := range size {
		b.WriteString("J" + le32(s))
	}
	b.WriteString("t(")
	for _, s := range stride {
		b.WriteString("J" + le32(s))
	}
	b.WriteString("t\x89}tRs.")
	return b.String()
}

func le32(v int) string {
	return string([]byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)})
}

func TestHandMade(t *testing.T) {
	data := string(make([]byte, 24)) // 6 floats of zero
	good := zipWith(t, [][2]string{{"m/data.pkl", pkl(6, 0, []int{2, 3}, []int{3, 1})}, {"m/data/0", data}})
	f, err := Parse("good.bin", bytes.NewReader(good), int64(len(good)))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := f.Float32("w"); err != nil || len(v) != 6 {
		t.Fatalf("%v %v", v, err)
	}
	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"view past storage", zipWith(t, [][2]string{{"m/data.pkl", pkl(6, 1, []int{2, 3}, []int{3, 1})}, {"m/data/0", data}}), "reaches element 6 of a 6-element storage"},
		{"stride past storage", zipWith(t, [][2]string{{"m/data.pkl", pkl(6, 0, []int{2, 3}, []int{4, 1})}, {"m/data/0", data}}), "reaches element"},
		{"zero stride blow-up", zipWith(t, [][2]string{{"m/data.pkl", pkl(6, 0, []int{1000, 1000}, []int{0, 0})}, {"m/data/0", data}}), "overlapping strides"},
		{"size/stride dims", zipWith(t, [][2]string{{"m/data.pkl", pkl(6, 0, []int{2, 3}, []int{1})}, {"m/data/0", data}}), "size has 2 dims but stride 1"},
		{"numel vs bytes", zipWith(t, [][2]string{{"m/data.pkl", pkl(7, 0, []int{2, 3}, []int{3, 1})}, {"m/data/0", data}}), "7 F32 elements but 24 bytes stored"},
		{"missing storage", zipWith(t, [][2]string{{"m/data.pkl", pkl(6, 0, []int{2, 3}, []int{3, 1})}}), `storage "0" has no m/data/0 entry`},
		{"no data.pkl", zipWith(t, [][2]string{{"m/version", "3"}}), "no m/data.pkl"},
		{"no folder", zipWith(t, [][2]string{{"data.pkl", "x"}}), "not inside a top-level folder"},
		{"bad byteorder", zipWith(t, [][2]string{{"m/data.pkl", pkl(6, 0, []int{2, 3}, []int{3, 1})}, {"m/data/0", data}, {"m/byteorder", "middle"}}), "unknown byte order"},
		{"list root", zipWith(t, [][2]string{{"m/data.pkl", "\x80\x02]."}}), "holds a list, not a state dict"},
		{"truncated pickle", zipWith(t, [][2]string{{"m/data.pkl", "\x80\x02}X\x05\x00\x00\x00ab"}}), "exceeds the 2 bytes left"},
		{"no stop", zipWith(t, [][2]string{{"m/data.pkl", "\x80\x02}"}}), "unexpected end of pickle"},
		{"memo miss", zipWith(t, [][2]string{{"m/data.pkl", "\x80\x02h\x05."}}), "memo key 5 not found"},
		{"underflow", zipWith(t, [][2]string{{"m/data.pkl", "\x80\x02s."}}), "stack underflow"},
		{"bad opcode", zipWith(t, [][2]string{{"m/data.pkl", "\x80\x02\xff."}}), "opcode 0xff"},
		{"newobj", zipWith(t, [][2]string{{"m/data.pkl", "\x80\x02ccollections\nOrderedDict\n)\x81."}}), "NEWOBJ"},
		{"huge unicode8", zipWith(t, [][2]string{{"m/data.pkl", "\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\x7f."}}), "exceeds the"},
		{"huge frame", zipWith(t, [][2]string{{"m/data.pkl", "\x80\x04\x95\xff\xff\xff\xff\x00\x00\x00\x00."}}), "frame of"},
		{"long line", zipWith(t, [][2]string{{"m/data.pkl", "\x80\x02c" + strings.Repeat("a", 300) + "\nb\n."}}), "line longer"},
		{"two values at STOP", zipWith(t, [][2]string{{"m/data.pkl", "\x80\x02NN."}}), "2 values on the stack"},
		{"unclosed mark", zipWith(t, [][2]string{{"m/data.pkl", "\x80\x02(N."}}), "unclosed MARK"},
		{"reduce non-global", zipWith(t, [][2]string{{"m/data.pkl", "\x80\x02N)R."}}), "REDUCE on a None"},
		{"storage class call", zipWith(t, [][2]string{{"m/data.pkl", "\x80\x02ctorch\nFloatStorage\n)R."}}), "torch.FloatStorage cannot be called"},
		{"bad pid", zipWith(t, [][2]string{{"m/data.pkl", "\x80\x02X\x01\x00\x00\x00xQ."}}), "not a storage tuple"},
		{"not torch", []byte("hello world"), "neither a zip archive nor a legacy pickle"},
		{"tiny", []byte("PK"), "too short"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("bad.bin", bytes.NewReader(c.file), int64(len(c.file)))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "bad.bin") {
				t.Errorf("error %q, want it to mention %q and the file", err, c.want)
			}
		})
	}
}

func TestLegacyCorrupt(t *testing.T) {
	orig, err := os.ReadFile(filepath.Join("testdata", "legacy.bin"))
	if err != nil {
		t.Fatal(err)
	}
	// Truncating anywhere must give an error, never a panic.
	for _, n := range []int{3, 20, 100, 500, 1000, len(orig) - 8, len(orig) - 1} {
		b := orig[:n]
		if _, err := Parse("cut.bin", bytes.NewReader(b), int64(len(b))); err == nil {
			t.Errorf("truncated to %d bytes: no error", n)
		}
	}
	// Wrong magic number.
	b := append([]byte{}, orig...)
	b[4] ^= 1
	if _, err := Parse("magic.bin", bytes.NewReader(b), int64(len(b))); err == nil || !strings.Contains(err.Error(), "magic") {
		t.Errorf("bad magic: %v", err)
	}
}

func TestDecodeLong(t *testing.T) {
	cases := []struct {
		in   []byte
		want string
	}{
		{nil, "0"}, {[]byte{0xff}, "-1"}, {[]byte{0x7f}, "127"}, {[]byte{0x80}, "-128"},
		{[]byte{0, 0x80}, "-32768"}, {[]byte{0xff, 0x00}, "255"},
		{[]byte{0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19}, "119547037146038801333356"},
	}
	for _, c := range cases {
		if got := decodeLong(c.in); strings.TrimSpace(toString(got)) != c.want {
			t.Errorf("decodeLong(%x) = %v, want %s", c.in, got, c.want)
		}
	}
}

func toString(v any) string {
	switch v := v.(type) {
	case int64:
		return strconv.FormatInt(v, 10)
	default:
		return v.(interface{ String() string }).String()
	}
}

func TestStridedCopy(t *testing.T) {
	// 3-D view with offset-free strides over a 2x3x4 array, permuted (2,0,1).
	src := make([]byte, 24)
	for i := range src {
		src[i] = byte(i)
	}
	shape := []int64{4, 2, 3}
	stride := []int64{1, 12, 4}
	dst := make([]byte, 24)
	stridedCopy(dst, src, shape, stride, 1)
	o := 0
	for a := 0; a < 4; a++ {
		for b := 0; b < 2; b++ {
			for c := 0; c < 3; c++ {
				if want := byte(a + 12*b + 4*c); dst[o] != want {
					t.Fatalf("[%d %d %d] = %d, want %d", a, b, c, dst[o], want)
				}
				o++
			}
		}
	}
	var one [4]byte
	stridedCopy(one[:], []byte{9, 8, 7, 6}, nil, nil, 4)
	if one != [4]byte{9, 8, 7, 6} {
		t.Errorf("scalar copy %v", one)
	}
}

func TestDTypeNames(t *testing.T) {
	for cls, dt := range storageClasses {
		if !dt.Known() || !strings.HasSuffix(cls, "Storage") {
			t.Errorf("%s → %s", cls, dt)
		}
	}
	if storageClasses["BFloat16Storage"] != safetensors.BF16 {
		t.Error("BFloat16Storage")
	}
}
