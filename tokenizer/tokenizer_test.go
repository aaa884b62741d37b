package tokenizer

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"bioencoder/internal/testutil"
)

func loadTestdata(t testing.TB, name string) *Tokenizer {
	t.Helper()
	tk, err := Load(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// TestTinyCases checks two small tokenizers of our own against expectations
// recorded with the Rust tokenizers (tools/tokbench/oracle.js), including
// pairs, every truncation strategy and direction, and decoding.
func TestTinyCases(t *testing.T) {
	for _, name := range []string{"tiny_wordpiece", "tiny_bpe"} {
		t.Run(name, func(t *testing.T) {
			tk := loadTestdata(t, name+".json")
			f, err := os.Open(filepath.Join("testdata", name+"_cases.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 1<<20), 1<<24)
			n := 0
			for sc.Scan() {
				var c struct {
					Input struct {
						oracleIn
						Strategy  string `json:"strategy"`
						Direction string `json:"direction"`
					} `json:"input"`
					Want oracleOut `json:"want"`
				}
				if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
					t.Fatal(err)
				}
				n++
				in := c.Input
				if in.Decode != nil {
					if got := tk.Decode(in.Decode, in.Skip); c.Want.Text == nil || got != *c.Want.Text {
						t.Errorf("decode %v: got %q want %v", in.Decode, got, c.Want.Text)
					}
					continue
				}
				o := Options{AddSpecialTokens: in.Add, MaxLength: in.MaxLength, TruncateLeft: in.Direction == "left"}
				switch in.Strategy {
				case "OnlyFirst":
					o.Truncation = OnlyFirst
				case "OnlySecond":
					o.Truncation = OnlySecond
				}
				var got *Encoding
				if in.Pair != nil {
					got, err = tk.EncodePair(in.Text, *in.Pair, o)
				} else {
					got, err = tk.Encode(in.Text, o)
				}
				if c.Want.Error != "" {
					if err == nil {
						t.Errorf("%q / %v %+v: want an error like %q", in.Text, in.Pair, o, c.Want.Error)
					}
					continue
				}
				if err != nil {
					t.Errorf("%q: %v", in.Text, err)
					continue
				}
				w := c.Want
				r := goldenRecord{IDs: w.IDs, Tokens: w.Tokens, TypeIDs: w.TypeIDs, AttentionMask: w.AttentionMask,
					SpecialTokensMask: w.SpecialTokensMask, Offsets: w.Offsets, WordIDs: w.WordIDs, SequenceIDs: w.SequenceIDs,
					ByteOffsets: got.ByteOffsets}
				if d := compareEncoding(got, r); d != "" {
					t.Errorf("%q / %v %+v: %s", in.Text, in.Pair, o, d)
				}
			}
			if n == 0 {
				t.Fatal("no cases")
			}
		})
	}
}

// TestVocabFolder rebuilds bert-base-uncased from vocab.txt-style files and
// checks it gives the golden ids.
func TestVocabFolder(t *testing.T) {
	path := testutil.SharedOrSkip(t, "golden", "tokenizers", "golden_wordpiece.jsonl.gz")
	ref := sharedTokenizer(t, "bert-base-uncased")
	dir := t.TempDir()
	// vocab.txt: the model vocabulary in id order.
	wp := ref.model.(*wordPiece)
	var sb strings.Builder
	for id := 0; id < len(wp.toks); id++ {
		sb.WriteString(wp.toks[id])
		sb.WriteByte('\n')
	}
	if err := os.WriteFile(filepath.Join(dir, "vocab.txt"), []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := testutil.SharedOrSkip(t, "tokenizers", "bert-base-uncased", "tokenizer_config.json")
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	tk, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if tk.VocabSize() != ref.VocabSize() {
		t.Errorf("vocab size %d, tokenizer.json gives %d", tk.VocabSize(), ref.VocabSize())
	}
	if got := tk.ModelMaxLength(); got != 256 {
		t.Errorf("model_max_length %d, want 256 (from tokenizer_config.json)", got)
	}
	for i, r := range readGolden(t, path) {
		var got *Encoding
		if r.Pair != nil {
			got, err = tk.EncodePair(r.Text, *r.Pair, optionsOf(r))
		} else {
			got, err = tk.Encode(r.Text, optionsOf(r))
		}
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if !reflect.DeepEqual(got.IDs, r.IDs) || !reflect.DeepEqual(got.Offsets, r.Offsets) {
			t.Errorf("record %d (%s): ids %v offsets %v, want %v %v", i, r.Name, got.IDs, got.Offsets, r.IDs, r.Offsets)
		}
	}
}

// modelFolderLoaders loads a test model folder from its tokenizer.json and
// from its vocab.txt.
func modelFolderLoaders(t *testing.T, dir string) map[string]*Tokenizer {
	a, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadVocab(dir)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*Tokenizer{"tokenizer.json": a, "vocab.txt": b}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func TestSentenceTransformersFolder(t *testing.T) {
	dir := testutil.Testdata(t, "golden", "st_embed")
	var exp struct {
		Texts         []string   `json:"texts"`
		Tokens        [][]string `json:"tokens"`
		IDs           [][]int    `json:"ids_untruncated"`
		InputIDs      [][]int    `json:"input_ids"`
		AttentionMask [][]int    `json:"attention_mask"`
		MaxSeqLength  int        `json:"max_seq_length"`
	}
	readJSON(t, filepath.Join(dir, "expected.json"), &exp)
	for name, tk := range modelFolderLoaders(t, dir) {
		t.Run(name, func(t *testing.T) {
			var batch []Input
			for i, text := range exp.Texts {
				text = strings.TrimSpace(text) // sentence-transformers strips
				e, err := tk.Encode(text, DefaultOptions())
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(e.IDs, exp.IDs[i]) {
					t.Errorf("text %d ids %v, want %v", i, e.IDs, exp.IDs[i])
				}
				if got := e.Tokens[1 : len(e.Tokens)-1]; !reflect.DeepEqual(got, exp.Tokens[i]) {
					t.Errorf("text %d tokens %q, want %q", i, got, exp.Tokens[i])
				}
				batch = append(batch, Input{Text: text})
			}
			encs, err := tk.EncodeBatch(batch, Options{AddSpecialTokens: true, MaxLength: exp.MaxSeqLength, Padding: PadLongest})
			if err != nil {
				t.Fatal(err)
			}
			for i, e := range encs {
				if !reflect.DeepEqual(e.IDs, exp.InputIDs[i]) || !reflect.DeepEqual(e.AttentionMask, exp.AttentionMask[i]) {
					t.Errorf("batch %d: ids %v mask %v, want %v %v", i, e.IDs, e.AttentionMask, exp.InputIDs[i], exp.AttentionMask[i])
				}
			}
		})
	}
}

func TestCrossEncoderFolder(t *testing.T) {
	dir := testutil.Testdata(t, "golden", "cross_encoder")
	var exp struct {
		Pairs        [][2]string `json:"pairs"`
		InputIDs     [][]int     `json:"input_ids"`
		TokenTypeIDs [][]int     `json:"token_type_ids"`
		MaxLength    int         `json:"max_length"`
	}
	readJSON(t, filepath.Join(dir, "expected.json"), &exp)
	for name, tk := range modelFolderLoaders(t, dir) {
		t.Run(name, func(t *testing.T) {
			if tk.ModelMaxLength() != exp.MaxLength {
				t.Errorf("model_max_length %d, want %d", tk.ModelMaxLength(), exp.MaxLength)
			}
			var batch []Input
			for _, p := range exp.Pairs {
				batch = append(batch, Input{Text: p[0], Pair: p[1], HasPair: true})
			}
			encs, err := tk.EncodeBatch(batch, Options{AddSpecialTokens: true, MaxLength: exp.MaxLength, Padding: PadLongest})
			if err != nil {
				t.Fatal(err)
			}
			for i, e := range encs {
				// The fixture pads to max_length; ours to the batch's longest.
				want := exp.InputIDs[i][:len(e.IDs)]
				if !reflect.DeepEqual(e.IDs, want) || !reflect.DeepEqual(e.TypeIDs, exp.TokenTypeIDs[i][:len(e.IDs)]) {
					t.Errorf("pair %d: ids %v types %v, want %v %v", i, e.IDs, e.TypeIDs, want, exp.TokenTypeIDs[i])
				}
				for _, id := range exp.InputIDs[i][len(e.IDs):] {
					if id != 0 {
						t.Errorf("pair %d: the fixture has tokens past our length %d", i, len(e.IDs))
						break
					}
				}
			}
		})
	}
}

// TestColBERTFolder reproduces PyLate's query and document ids: the prefix
// token goes in at position 1 and the pad id is the mask id.
func TestColBERTFolder(t *testing.T) {
	dir := testutil.Testdata(t, "golden", "colbert")
	var exp struct {
		Queries   []string `json:"queries"`
		Documents []string `json:"documents"`
		QueryIDs  [][]int  `json:"query_input_ids"`
		DocIDs    [][]int  `json:"doc_input_ids"`
		QPrefix   int      `json:"query_prefix_id"`
		DPrefix   int      `json:"document_prefix_id"`
		MaskID    int      `json:"mask_token_id"`
	}
	readJSON(t, filepath.Join(dir, "expected.json"), &exp)
	var st struct {
		QueryLength    int    `json:"query_length"`
		DocumentLength int    `json:"document_length"`
		QueryPrefix    string `json:"query_prefix"`
		DocumentPrefix string `json:"document_prefix"`
	}
	readJSON(t, filepath.Join(dir, "config_sentence_transformers.json"), &st)
	for name, tk := range modelFolderLoaders(t, dir) {
		t.Run(name, func(t *testing.T) {
			if id, ok := tk.TokenToID(st.QueryPrefix); !ok || id != exp.QPrefix {
				t.Fatalf("query prefix %q: id %d %v, want %d", st.QueryPrefix, id, ok, exp.QPrefix)
			}
			if id, ok := tk.TokenToID(st.DocumentPrefix); !ok || id != exp.DPrefix {
				t.Fatalf("document prefix %q: id %d %v, want %d", st.DocumentPrefix, id, ok, exp.DPrefix)
			}
			if id, ok := tk.MaskID(); !ok || id != exp.MaskID {
				t.Fatalf("mask id %d %v, want %d", id, ok, exp.MaskID)
			}
			// The prefix, with its trailing space, is one added token that
			// matches after lowercasing.
			e, err := tk.Encode("[Q] hypertension", Options{})
			if err != nil || len(e.IDs) == 0 || e.IDs[0] != exp.QPrefix || e.Tokens[0] != "[q] " {
				t.Errorf("\"[Q] hypertension\" encodes to %v %q, want %d first", e.IDs, e.Tokens, exp.QPrefix)
			}
			insert := func(ids []int, prefix, length int) []int {
				out := append([]int{ids[0], prefix}, ids[1:]...)
				for len(out) < length {
					out = append(out, exp.MaskID)
				}
				return out
			}
			for i, q := range exp.Queries {
				e, err := tk.Encode(strings.TrimSpace(q), Options{AddSpecialTokens: true, MaxLength: st.QueryLength - 1})
				if err != nil {
					t.Fatal(err)
				}
				if got := insert(e.IDs, exp.QPrefix, st.QueryLength); !reflect.DeepEqual(got, exp.QueryIDs[i]) {
					t.Errorf("query %d: %v, want %v", i, got, exp.QueryIDs[i])
				}
			}
			longest := 0
			var docs [][]int
			for _, d := range exp.Documents {
				e, err := tk.Encode(strings.TrimSpace(d), Options{AddSpecialTokens: true, MaxLength: st.DocumentLength - 1})
				if err != nil {
					t.Fatal(err)
				}
				docs = append(docs, e.IDs)
				longest = max(longest, len(e.IDs)+1)
			}
			for i, ids := range docs {
				if got := insert(ids, exp.DPrefix, longest); !reflect.DeepEqual(got, exp.DocIDs[i]) {
					t.Errorf("document %d: %v, want %v", i, got, exp.DocIDs[i])
				}
			}
		})
	}
}

func TestPaddingAndBatch(t *testing.T) {
	tk := loadTestdata(t, "tiny_wordpiece.json")
	inputs := []Input{{Text: "the cat sat"}, {Text: "hello"}, {Text: "the cat", Pair: "sat on the mat", HasPair: true}}
	plain, err := tk.EncodeBatch(inputs, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	for i, in := range inputs {
		var e *Encoding
		if in.HasPair {
			e, err = tk.EncodePair(in.Text, in.Pair, DefaultOptions())
		} else {
			e, err = tk.Encode(in.Text, DefaultOptions())
		}
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(e, plain[i]) {
			t.Errorf("batch %d differs from Encode:\n%+v\n%+v", i, plain[i], e)
		}
	}
	for _, c := range []struct {
		name string
		o    Options
		want int
	}{
		{"longest", Options{AddSpecialTokens: true, Padding: PadLongest}, 9},
		{"max_length", Options{AddSpecialTokens: true, Padding: PadMaxLength, MaxLength: 12}, 12},
		{"left", Options{AddSpecialTokens: true, Padding: PadLongest, PadLeft: true}, 9},
	} {
		encs, err := tk.EncodeBatch(inputs, c.o)
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range encs {
			n := plain[i].Len()
			if e.Len() != c.want {
				t.Fatalf("%s: length %d, want %d", c.name, e.Len(), c.want)
			}
			real, pad := 0, c.want-n
			if c.o.PadLeft {
				real = pad
			}
			for j := 0; j < c.want; j++ {
				isPad := j < real || j >= real+n
				if isPad {
					if e.IDs[j] != 0 || e.AttentionMask[j] != 0 || e.SpecialTokensMask[j] != 1 || e.Tokens[j] != "[PAD]" || e.WordIDs[j] != -1 {
						t.Errorf("%s input %d position %d: not padding: %v %v", c.name, i, j, e.IDs, e.AttentionMask)
					}
				} else if e.IDs[j] != plain[i].IDs[j-real] || e.AttentionMask[j] != 1 || e.Offsets[j] != plain[i].Offsets[j-real] {
					t.Errorf("%s input %d position %d: %v, want %v", c.name, i, j, e.IDs, plain[i].IDs)
				}
			}
		}
	}
	// Single encodings pad to MaxLength too.
	e, err := tk.Encode("the cat", Options{AddSpecialTokens: true, MaxLength: 6, Padding: PadMaxLength})
	if err != nil || !reflect.DeepEqual(e.IDs, []int{2, 5, 6, 3, 0, 0}) {
		t.Errorf("PadMaxLength: %v %v", e, err)
	}
	if _, err := tk.Encode("x", Options{Padding: PadMaxLength}); err == nil {
		t.Error("PadMaxLength without MaxLength should fail")
	}
	if _, err := tk.Encode("the cat", Options{AddSpecialTokens: true, MaxLength: 1}); !errors.Is(err, ErrMaxLength) {
		t.Errorf("MaxLength below the special tokens: %v", err)
	}
}

func TestAccessors(t *testing.T) {
	type want struct {
		vocab, pad, mask, cls, sep, unk, n1, n2 int
		special                                 []int
	}
	check := func(t *testing.T, tk *Tokenizer, w want) {
		t.Helper()
		if tk.VocabSize() != w.vocab {
			t.Errorf("VocabSize %d, want %d", tk.VocabSize(), w.vocab)
		}
		for _, c := range []struct {
			name string
			f    func() (int, bool)
			want int
		}{{"pad", tk.PadID, w.pad}, {"mask", tk.MaskID, w.mask}, {"cls", tk.CLSID, w.cls}, {"sep", tk.SEPID, w.sep}, {"unk", tk.UNKID, w.unk}} {
			if id, ok := c.f(); !ok || id != c.want {
				t.Errorf("%s id %d %v, want %d", c.name, id, ok, c.want)
			}
		}
		if tk.NumSpecialTokens(false) != w.n1 || tk.NumSpecialTokens(true) != w.n2 {
			t.Errorf("NumSpecialTokens %d/%d, want %d/%d", tk.NumSpecialTokens(false), tk.NumSpecialTokens(true), w.n1, w.n2)
		}
		if w.special != nil && !reflect.DeepEqual(tk.SpecialIDs(), w.special) {
			t.Errorf("SpecialIDs %v, want %v", tk.SpecialIDs(), w.special)
		}
		for id := 0; id < 50; id++ {
			if _, norm := tk.added.normForm[int32(id)]; norm {
				continue // decodes to its normalized form, which is not a token
			}
			if tok, ok := tk.IDToToken(id); ok {
				if back, ok := tk.TokenToID(tok); !ok || back != id {
					t.Errorf("id %d -> %q -> %d %v", id, tok, back, ok)
				}
			}
		}
	}
	t.Run("tiny", func(t *testing.T) {
		check(t, loadTestdata(t, "tiny_wordpiece.json"), want{45, 0, 4, 2, 3, 1, 2, 3, []int{0, 1, 2, 3, 4}})
	})
	t.Run("bert-base-uncased", func(t *testing.T) {
		check(t, sharedTokenizer(t, "bert-base-uncased"), want{30522, 0, 103, 101, 102, 100, 2, 3, []int{0, 100, 101, 102, 103}})
	})
	t.Run("modernbert-base", func(t *testing.T) {
		tk := sharedTokenizer(t, "modernbert-base")
		check(t, tk, want{50368, 50283, 50284, 50281, 50282, 50280, 2, 3, nil})
		if tk.ModelMaxLength() != 8192 {
			t.Errorf("model_max_length %d, want 8192 (tokenizer_config.json next to the file)", tk.ModelMaxLength())
		}
		if names := tk.Config().ModelInputNames; !reflect.DeepEqual(names, []string{"input_ids", "attention_mask"}) {
			t.Errorf("model_input_names %v", names)
		}
	})
}

func TestDecode(t *testing.T) {
	for _, c := range []struct {
		name, tok, text string
		want, wantSkip  string
	}{
		// Expected strings from the Rust tokenizers.
		{"wordpiece", "tiny_wordpiece.json", "Hello, unable world! the cat's", "[CLS] hello, unable world! the cat ' [UNK] [SEP]", "hello, unable world! the cat '"},
		{"bpe", "tiny_bpe.json", "the cat  sat on <mask> é😷", "<s>the cat  sat on<mask> é😷</s>", "the cat  sat on é😷"},
	} {
		tk := loadTestdata(t, c.tok)
		e, err := tk.Encode(c.text, DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		if got := tk.Decode(e.IDs, false); got != c.want {
			t.Errorf("%s: Decode %q, want %q", c.name, got, c.want)
		}
		if got := tk.Decode(e.IDs, true); got != c.wantSkip {
			t.Errorf("%s: Decode(skip) %q, want %q", c.name, got, c.wantSkip)
		}
	}
}

// TestHugeInputs encodes 10 MB texts truncated to 512 tokens (the model
// stops early but normalization and pre-tokenization see everything) and
// 256 KB texts of every kind in full: no panic, offsets in range.
// BIOENC_HUGE=1 encodes all the 10 MB texts in full (a minute or two).
func TestHugeInputs(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	gen := func(n int) map[string]string {
		return map[string]string{
			"one word":   strings.Repeat("a", n),
			"words":      strings.Repeat("the cat sat. ", n/13),
			"spaces":     strings.Repeat(" ", n),
			"multibyte":  strings.Repeat("é😷中", n/9),
			"invalid":    strings.Repeat("\xff\xfe\x00", n/3),
			"combining":  "a" + strings.Repeat("\u0301\u0316", n/4),
			"punctuated": strings.Repeat("!?", n/2),
		}
	}
	full := 256 << 10
	if os.Getenv("BIOENC_HUGE") != "" {
		full = 10 << 20
	}
	huge := gen(10 << 20)
	for _, tk := range []string{"tiny_wordpiece.json", "tiny_bpe.json"} {
		tok := loadTestdata(t, tk)
		for _, name := range []string{"one word", "words"} {
			text := huge[name]
			e, err := tok.Encode(text, Options{AddSpecialTokens: true, MaxLength: 512})
			if err != nil {
				t.Fatalf("%s %s: %v", tk, name, err)
			}
			checkOffsets(t, text, e)
		}
		for name, text := range gen(full) {
			start := time.Now()
			e, err := tok.Encode(text, DefaultOptions())
			if err != nil {
				t.Fatalf("%s %s: %v", tk, name, err)
			}
			checkOffsets(t, text, e)
			t.Logf("%s %-10s %d bytes: %8d tokens in %v", tk, name, len(text), e.Len(), time.Since(start).Round(time.Millisecond))
		}
	}
}

// checkOffsets: offsets are within the text, ordered, and the byte and
// character offsets agree.
func checkOffsets(t testing.TB, text string, e *Encoding) {
	t.Helper()
	nchars := 0
	for i := 0; i < len(text); {
		_, k := utf8.DecodeRuneInString(text[i:])
		i += k
		nchars++
	}
	prev := 0
	for i := range e.IDs {
		if e.SequenceIDs[i] < 0 {
			if e.Offsets[i] != [2]int{} || e.ByteOffsets[i] != [2]int{} {
				t.Fatalf("special token %d has offsets %v", i, e.Offsets[i])
			}
			continue
		}
		o, b := e.Offsets[i], e.ByteOffsets[i]
		if o[0] < 0 || o[1] < o[0] || o[1] > nchars || b[0] < 0 || b[1] < b[0] || b[1] > len(text) {
			t.Fatalf("token %d offsets %v bytes %v out of range (%d chars, %d bytes)", i, o, b, nchars, len(text))
		}
		if o[0] < prev {
			t.Fatalf("token %d starts at %d before %d", i, o[0], prev)
		}
		prev = o[0]
	}
}

func TestLoadErrors(t *testing.T) {
	for _, c := range []struct{ name, json, want string }{
		{"not json", `{`, "parsing tokenizer.json"},
		{"no model", `{"version":"1.0"}`, "no model"},
		{"unigram", `{"model":{"type":"Unigram","vocab":[]}}`, "Unigram"},
		{"bad normalizer", `{"model":{"type":"WordLevel","vocab":{"a":0}},"normalizer":{"type":"Precompiled"}}`, "normalizer"},
		{"bad merge", `{"model":{"type":"BPE","vocab":{"a":0},"merges":["a b"]}}`, "merges[0]"},
		{"huge id", `{"model":{"type":"WordPiece","vocab":{"a":4000000000}}}`, "out of range"},
		{"lookahead", `{"model":{"type":"WordLevel","vocab":{"a":0}},"pre_tokenizer":{"type":"Split","pattern":{"Regex":"a(?=b)"},"behavior":"Isolated"}}`, "lookaround"},
		{"template", `{"model":{"type":"WordLevel","vocab":{"a":0}},"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"[X]","type_id":0}}],"pair":null,"special_tokens":{}}}`, "[X]"},
	} {
		_, err := FromJSON([]byte(c.json))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %q", c.name, err, c.want)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("loading a missing path should fail")
	}
}

// TestFusedBertNormalizer checks the one-pass BertNormalizer against the
// step-by-step one it stands for.
func TestFusedBertNormalizer(t *testing.T) {
	for _, text := range []string{"Café ÅΩ İx", "中文 text", "e\u0301\u0323 a\u0316\u0301", "ﬁ №", "\u0f73 \u1d165", "x\u0345y", "\x00a\x7fb\u200bc"} {
		checkFused(t, text)
	}
}

func checkFused(t testing.TB, text string) {
	for _, n := range []bertNorm{{true, true, true, true}, {true, true, false, true}, {true, false, true, false}, {false, true, true, true}} {
		s1, s2 := newScratch(), newScratch()
		lo, hi := s1.ar.appendOriginal(text)
		a := split{lo: lo, hi: hi, id: -1}
		lo, hi = s2.ar.appendOriginal(text)
		b := split{lo: lo, hi: hi, id: -1}
		if !n.fused(s1, &a) {
			continue
		}
		n.stepwise(s2, &b)
		ga, gb := string(s1.ar.b[a.lo:a.hi]), string(s2.ar.b[b.lo:b.hi])
		if ga != gb || !reflect.DeepEqual(s1.ar.lo[a.lo:a.hi], s2.ar.lo[b.lo:b.hi]) || !reflect.DeepEqual(s1.ar.hi[a.lo:a.hi], s2.ar.hi[b.lo:b.hi]) {
			t.Fatalf("%+v on %q: fused %q %v, stepwise %q %v", n, text, ga, s1.ar.lo[a.lo:a.hi], gb, s2.ar.lo[b.lo:b.hi])
		}
	}
}

func TestSortedSpecialIDs(t *testing.T) {
	tk := loadTestdata(t, "tiny_bpe.json")
	ids := tk.SpecialIDs()
	if !sort.IntsAreSorted(ids) || len(ids) != 5 {
		t.Errorf("SpecialIDs %v", ids)
	}
	for _, id := range ids {
		if !tk.IsSpecial(id) {
			t.Errorf("%d not special", id)
		}
	}
}
