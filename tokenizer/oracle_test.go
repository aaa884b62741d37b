package tokenizer

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"bioencoder/internal/testutil"
)

// TestOracle compares this package with the official Rust tokenizers on
// random inputs, through tools/tokbench/oracle.js (node + the npm package
// `tokenizers`). It only runs when BIOENC_TOKENIZERS_ORACLE names that
// script (after `cd tools/tokbench && npm install`); N inputs per tokenizer
// come from BIOENC_ORACLE_N (default 2000). It is a development aid: no
// result of it is hard-coded anywhere.
func TestOracle(t *testing.T) {
	script := os.Getenv("BIOENC_TOKENIZERS_ORACLE")
	if script == "" {
		t.Skip("set BIOENC_TOKENIZERS_ORACLE=tools/tokbench/oracle.js to compare with the Rust tokenizers")
	}
	n := 2000
	if v := os.Getenv("BIOENC_ORACLE_N"); v != "" {
		fmt.Sscan(v, &n)
	}
	for _, name := range []string{"bert-base-uncased", "modernbert-base"} {
		path := testutil.SharedOrSkip(t, "tokenizers", name, "tokenizer.json.gz")
		raw, err := readMaybeGzip(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(name, func(t *testing.T) { oracleCompare(t, script, raw, n, 1) })
	}
	for _, v := range oracleVariants(t) {
		if d := os.Getenv("BIOENC_ORACLE_DUMP"); d != "" {
			os.WriteFile(filepath.Join(d, v.name+".json"), v.json, 0o644)
		}
		t.Run(v.name, func(t *testing.T) { oracleCompare(t, script, v.json, n/4, 2) })
	}
}

type oracleIn struct {
	Text      string  `json:"text,omitempty"`
	Pair      *string `json:"pair,omitempty"`
	Add       bool    `json:"add_special_tokens"`
	MaxLength int     `json:"max_length,omitempty"`
	Decode    []int   `json:"decode,omitempty"`
	Skip      bool    `json:"skip_special_tokens,omitempty"`
}

type oracleOut struct {
	IDs               []int    `json:"ids"`
	Tokens            []string `json:"tokens"`
	TypeIDs           []int    `json:"type_ids"`
	AttentionMask     []int    `json:"attention_mask"`
	SpecialTokensMask []int    `json:"special_tokens_mask"`
	Offsets           [][2]int `json:"offsets"`
	WordIDs           []*int   `json:"word_ids"`
	SequenceIDs       []*int   `json:"sequence_ids"`
	Text              *string  `json:"text"`
	Error             string   `json:"error"`
}

func oracleCompare(t *testing.T, script string, tokJSON []byte, n int, seed int64) {
	tk, err := FromJSON(tokJSON)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tjPath := filepath.Join(dir, "tokenizer.json")
	if err := os.WriteFile(tjPath, tokJSON, 0o644); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(seed))
	var ins []oracleIn
	for i := 0; i < n; i++ {
		in := oracleIn{Text: randomText(rng), Add: rng.Intn(3) != 0}
		if rng.Intn(4) == 0 {
			p := randomText(rng)
			in.Pair = &p
		}
		if rng.Intn(3) == 0 {
			in.MaxLength = 4 + rng.Intn(20)
		}
		ins = append(ins, in)
	}
	// Decoding: the ids of some encodings, with and without specials.
	nEnc := len(ins)
	for i := 0; i < nEnc; i += 3 {
		e, err := tk.Encode(ins[i].Text, DefaultOptions())
		if err != nil {
			continue
		}
		ins = append(ins, oracleIn{Decode: append(e.IDs, 0, 1, 2, 3, 100, 101, 102, 103), Skip: i%2 == 0})
	}
	var buf bytes.Buffer
	for _, in := range ins {
		b, _ := json.Marshal(in)
		buf.Write(b)
		buf.WriteByte('\n')
	}
	cmd := exec.Command("node", script, tjPath)
	cmd.Stdin = &buf
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("oracle: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	i, bad := 0, 0
	for sc.Scan() {
		if i >= len(ins) {
			t.Fatal("oracle wrote more lines than inputs")
		}
		in := ins[i]
		i++
		var want oracleOut
		if err := json.Unmarshal(sc.Bytes(), &want); err != nil {
			t.Fatal(err)
		}
		if want.Error != "" {
			continue
		}
		if in.Decode != nil {
			got := tk.Decode(in.Decode, in.Skip)
			if want.Text != nil && got != *want.Text {
				bad++
				if bad <= 10 {
					t.Errorf("decode %v skip=%v:\n got  %q\n want %q", in.Decode, in.Skip, got, *want.Text)
				}
			}
			continue
		}
		o := Options{AddSpecialTokens: in.Add, MaxLength: in.MaxLength}
		var got *Encoding
		if in.Pair != nil {
			got, err = tk.EncodePair(in.Text, *in.Pair, o)
		} else {
			got, err = tk.Encode(in.Text, o)
		}
		if err != nil {
			bad++
			t.Errorf("%q: %v", in.Text, err)
			continue
		}
		r := goldenRecord{IDs: want.IDs, Tokens: want.Tokens, TypeIDs: want.TypeIDs, AttentionMask: want.AttentionMask,
			SpecialTokensMask: want.SpecialTokensMask, Offsets: want.Offsets, WordIDs: want.WordIDs, SequenceIDs: want.SequenceIDs,
			ByteOffsets: got.ByteOffsets}
		if d := compareEncoding(got, r); d != "" {
			bad++
			if bad <= 10 {
				pair := "<none>"
				if in.Pair != nil {
					pair = fmt.Sprintf("%q", *in.Pair)
				}
				t.Errorf("text %q pair %s add=%v max=%d: %s", in.Text, pair, in.Add, in.MaxLength, d)
			}
		}
	}
	if i != len(ins) {
		t.Fatalf("oracle answered %d of %d inputs", i, len(ins))
	}
	t.Logf("%d inputs, %d differ", len(ins), bad)
}

// randomText mixes the kinds of characters tokenizers treat differently.
func randomText(rng *rand.Rand) string {
	pools := []string{
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
		"0123456789",
		"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
		"     \t\n\r\v\f",
		"\u00a0\u3000\u2028\u2029\u200b\u200c\u200d\ufeff\u00ad\u0085\u2003\u202f",
		"\x00\x01\x07\x1b\x7f\u0080\u009f\ufffd",
		"éèêëàâäôöûüçñÅåØøßÆæœŒİıĞğŞşẞ",
		"e\u0301a\u0300o\u0308u\u0302c\u0327n\u0303\u0323\u0316\u0345\u05b0\u0591\u0e48\u1dca",
		"αβγδεζηθικλμνξοπρσςτυφχψωΑΒΓΔΣΩάέήίόύώ",
		"абвгдежзийклмнопрстуфхцчшщъыьэюяАБВГД",
		"肺癌患者的治疗效果显著日本語中文漢字",
		"한국어의학텍스트입니다\u1100\u1161\u11a8\u1112\u1173",
		"ひらがなカタカナｱｲｳｴｵ",
		"ＡＢＣ１２３ｘｙｚ！？ﬁﬂ№™℃Å𝐁𝐨𝐥𝐝",
		"😷🤒👍🏽👩\u200d⚕️🇺🇸❤️\U0001F600",
		"مرحبا بالعالم שלום नमस्ते สวัสดีครับ",
		"±×÷≤≥µ°½²³⁺⁻₂₃€£¥©®",
		"\ue000\ue001\U000f0001\u0378\u2e43\u2e42\u08e3\u1ac1\u0958\u212b\u2126",
		"'s 't 're 've 'm 'll 'd n't",
	}
	words := []string{"[MASK]", "[CLS]", "[SEP]", "[PAD]", "[UNK]", "[mask]", "<|endoftext|>", "|||EMAIL_ADDRESS|||",
		"|||IP_ADDRESS|||", "<|padding|>", "[unused0]", "  ", "   ", "      ", " [MASK] ", "don't", "it's",
		"hyperphosphorylated", "α-synuclein", "IL-6", "p<0.001", "https://x.org/a?b=c", "[Q] ", "[D] "}
	var sb strings.Builder
	n := rng.Intn(40)
	if rng.Intn(20) == 0 {
		n = 200 + rng.Intn(300)
	}
	for i := 0; i < n; i++ {
		if rng.Intn(6) == 0 {
			sb.WriteString(words[rng.Intn(len(words))])
			continue
		}
		p := []rune(pools[rng.Intn(len(pools))])
		k := 1 + rng.Intn(4)
		for j := 0; j < k; j++ {
			sb.WriteRune(p[rng.Intn(len(p))])
		}
		if rng.Intn(3) == 0 {
			sb.WriteByte(' ')
		}
	}
	s := sb.String()
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "")
	}
	return s
}

type variant struct {
	name string
	json []byte
}

// oracleVariants builds tokenizer.json files that exercise the other
// components, from the BERT and ModernBERT vocabularies.
func oracleVariants(t *testing.T) []variant {
	load := func(name string) map[string]any {
		path := testutil.SharedOrSkip(t, "tokenizers", name, "tokenizer.json.gz")
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		gz, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.NewDecoder(gz).Decode(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	bert := load("bert-base-uncased")
	mb := load("modernbert-base")
	clone := func(m map[string]any) map[string]any {
		b, _ := json.Marshal(m)
		var c map[string]any
		json.Unmarshal(b, &c)
		return c
	}
	obj := func(s string) any {
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		return v
	}
	var out []variant
	add := func(name string, m map[string]any) {
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, variant{name, b})
	}
	{
		m := clone(bert)
		m["normalizer"] = obj(`{"type":"Sequence","normalizers":[{"type":"NFKC"},{"type":"Lowercase"},{"type":"Replace","pattern":{"String":"-"},"content":" - "},{"type":"Strip","strip_left":true,"strip_right":true}]}`)
		m["pre_tokenizer"] = obj(`{"type":"Sequence","pretokenizers":[{"type":"Whitespace"},{"type":"Digits","individual_digits":true},{"type":"Punctuation","behavior":"Isolated"}]}`)
		m["post_processor"] = obj(`{"type":"BertProcessing","sep":["[SEP]",102],"cls":["[CLS]",101]}`)
		add("bert-nfkc-whitespace-digits", m)
	}
	{
		m := clone(bert)
		m["normalizer"] = obj(`{"type":"Sequence","normalizers":[{"type":"NFD"},{"type":"StripAccents"},{"type":"Lowercase"},{"type":"Prepend","prepend":"▁"},{"type":"Replace","pattern":{"Regex":"\\s+"},"content":" "}]}`)
		m["pre_tokenizer"] = obj(`{"type":"Sequence","pretokenizers":[{"type":"WhitespaceSplit"},{"type":"Split","pattern":{"Regex":"\\d+|[.,;]"},"behavior":"MergedWithPrevious","invert":false},{"type":"CharDelimiterSplit","delimiter":"x"}]}`)
		add("bert-nfd-split-merged", m)
	}
	{
		m := clone(bert)
		m["normalizer"] = obj(`{"type":"BertNormalizer","clean_text":true,"handle_chinese_chars":true,"strip_accents":false,"lowercase":false}`)
		m["pre_tokenizer"] = obj(`{"type":"Metaspace","replacement":"▁","prepend_scheme":"first","split":true}`)
		m["decoder"] = obj(`{"type":"Metaspace","replacement":"▁","prepend_scheme":"first","split":true}`)
		add("bert-cased-metaspace", m)
	}
	{
		m := clone(mb)
		m["post_processor"] = obj(`{"type":"RobertaProcessing","sep":["[SEP]",50282],"cls":["[CLS]",50281],"trim_offsets":true,"add_prefix_space":true}`)
		m["pre_tokenizer"] = obj(`{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true,"use_regex":true}`)
		m["normalizer"] = obj(`{"type":"NFKC"}`)
		add("modernbert-roberta-prefix", m)
	}
	{
		m := clone(mb)
		m["post_processor"] = obj(`{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true}`)
		m["pre_tokenizer"] = obj(`{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"\\p{N}{1,3}"},"behavior":"Isolated","invert":false},{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":false,"use_regex":true}]}`)
		m["normalizer"] = nil
		add("modernbert-bytelevel-post", m)
	}
	{
		m := clone(mb)
		m["pre_tokenizer"] = obj(`{"type":"Digits","individual_digits":false}`)
		m["normalizer"] = obj(`{"type":"Sequence","normalizers":[{"type":"NFD"},{"type":"ByteLevel"}]}`)
		m["post_processor"] = obj(`{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"[CLS]","type_id":0}},{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"[SEP]","type_id":1}}],"pair":[{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"[SEP]","type_id":0}},{"Sequence":{"id":"B","type_id":1}},{"SpecialToken":{"id":"[SEP]","type_id":1}}],"special_tokens":{"[CLS]":{"id":"[CLS]","ids":[50281],"tokens":["[CLS]"]},"[SEP]":{"id":"[SEP]","ids":[50282],"tokens":["[SEP]"]}}}`)
		add("modernbert-bytelevel-normalizer", m)
	}
	{
		// Added tokens with every option, matched normalized or not.
		m := clone(bert)
		added := m["added_tokens"].([]any)
		added = append(added,
			obj(`{"id":30522,"content":"Hello","single_word":true,"lstrip":false,"rstrip":true,"normalized":true,"special":false}`),
			obj(`{"id":30523,"content":"[MASK]x","single_word":false,"lstrip":true,"rstrip":true,"normalized":false,"special":true}`),
			obj(`{"id":30524,"content":"ça va","single_word":false,"lstrip":true,"rstrip":false,"normalized":true,"special":false}`),
			obj(`{"id":30525,"content":"'s","single_word":true,"lstrip":false,"rstrip":false,"normalized":false,"special":false}`),
			obj(`{"id":30526,"content":"e","single_word":true,"lstrip":true,"rstrip":true,"normalized":true,"special":false}`))
		m["added_tokens"] = added
		add("bert-added-options", m)
	}
	{
		// BPE with continuing prefix, end-of-word suffix, unk and fuse_unk.
		m := clone(mb)
		model := m["model"].(map[string]any)
		model["unk_token"] = "[UNK]"
		vocab := model["vocab"].(map[string]any)
		vocab["[UNK]"] = float64(len(vocab))
		model["fuse_unk"] = true
		model["dropout"] = nil
		m["pre_tokenizer"] = obj(`{"type":"Whitespace"}`)
		m["normalizer"] = obj(`{"type":"Lowercase"}`)
		m["decoder"] = obj(`{"type":"Sequence","decoders":[{"type":"Replace","pattern":{"String":"Ġ"},"content":" "},{"type":"Fuse"},{"type":"Strip","content":" ","start":1,"stop":0}]}`)
		add("modernbert-bpe-unk-whitespace", m)
	}
	return out
}
