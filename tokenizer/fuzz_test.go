package tokenizer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"bioencoder/internal/shared"
)

// fuzzTokenizers are the committed tiny tokenizers plus, when the shared
// folder is there, the real ones.
var (
	fuzzOnce sync.Once
	fuzzBPE  []*Tokenizer
	fuzzWP   []*Tokenizer
)

func fuzzSetup(t testing.TB) {
	fuzzOnce.Do(func() {
		load := func(path string) *Tokenizer {
			tk, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			return tk
		}
		fuzzBPE = append(fuzzBPE, load(filepath.Join("testdata", "tiny_bpe.json")))
		fuzzWP = append(fuzzWP, load(filepath.Join("testdata", "tiny_wordpiece.json")))
		if p, err := shared.Path("tokenizers", "modernbert-base", "tokenizer.json.gz"); err == nil {
			fuzzBPE = append(fuzzBPE, load(p))
		}
		if p, err := shared.Path("tokenizers", "bert-base-uncased", "tokenizer.json.gz"); err == nil {
			fuzzWP = append(fuzzWP, load(p))
		}
	})
}

// fuzzEncode encodes a (and b) and checks the invariants every encoding
// has: no error other than a too-small max length, offsets inside their own
// text and ordered, consistent lengths.
func fuzzEncode(t *testing.T, tk *Tokenizer, a, b string, pair bool, maxLen int, add bool) *Encoding {
	o := Options{AddSpecialTokens: add, MaxLength: maxLen}
	var e *Encoding
	var err error
	if pair {
		e, err = tk.EncodePair(a, b, o)
	} else {
		e, err = tk.Encode(a, o)
	}
	if errors.Is(err, ErrMaxLength) {
		return nil
	}
	if err != nil {
		t.Fatalf("encode %q / %q: %v", a, b, err)
	}
	n := e.Len()
	if len(e.Tokens) != n || len(e.TypeIDs) != n || len(e.AttentionMask) != n || len(e.SpecialTokensMask) != n ||
		len(e.Offsets) != n || len(e.ByteOffsets) != n || len(e.WordIDs) != n || len(e.SequenceIDs) != n {
		t.Fatalf("inconsistent lengths in %+v", e)
	}
	if maxLen > 0 && n > maxLen {
		t.Fatalf("%d tokens, max length %d", n, maxLen)
	}
	// Check each sequence against its own text.
	for seq, text := range []string{a, b} {
		sub := &Encoding{}
		for i := 0; i < n; i++ {
			if e.SequenceIDs[i] == seq || (e.SequenceIDs[i] < 0 && seq == 0) {
				sub.IDs = append(sub.IDs, e.IDs[i])
				sub.Offsets = append(sub.Offsets, e.Offsets[i])
				sub.ByteOffsets = append(sub.ByteOffsets, e.ByteOffsets[i])
				sub.SequenceIDs = append(sub.SequenceIDs, e.SequenceIDs[i])
			}
		}
		checkOffsets(t, text, sub)
	}
	return e
}

func FuzzEncodeBPE(f *testing.F) {
	for _, s := range []string{"", "the cat  sat on <mask> mat", "Hello world! It's 3.14 µg/mL",
		"é😷中 \u0301\u0316 a\u0300", "\xff\xfe\x00 bad", "   leading and trailing   ", "|||EMAIL_ADDRESS||| [MASK]"} {
		f.Add(s, "pair text", uint8(0), true, false)
		f.Add(s, "", uint8(7), false, true)
	}
	fuzzSetup(f)
	f.Fuzz(func(t *testing.T, a, b string, maxLen uint8, add, pair bool) {
		for _, tk := range fuzzBPE {
			fuzzEncode(t, tk, a, b, pair, int(maxLen), add)
			// decode(encode(x)) is stable, and for valid UTF-8 without
			// added-token text it gives back NFC(x).
			e, err := tk.Encode(a, Options{})
			if err != nil {
				t.Fatal(err)
			}
			y := tk.Decode(e.IDs, false)
			e2, err := tk.Encode(y, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if z := tk.Decode(e2.IDs, false); z != y {
				t.Fatalf("decode(encode(%q)) = %q, but once more %q", a, y, z)
			}
			if utf8.ValidString(a) && !strings.ContainsAny(a, "<|[") {
				if want := norm.NFC.String(a); y != want {
					t.Fatalf("decode(encode(%q)) = %q, want %q", a, y, want)
				}
			}
		}
	})
}

func FuzzEncodeWordPiece(f *testing.F) {
	for _, s := range []string{"", "Hello, unable world! [Q] café 中", "[CLS] x [SEP] [MASK]", "\x00\x7f\u200b\u0085",
		"Ünïcödé ÅΩ İstanbul ǅ ﬁ", "a\u0345\u0301b \u0f73", strings.Repeat("x", 120)} {
		f.Add(s, "second", uint8(0), true, false)
		f.Add(s, s, uint8(9), true, true)
	}
	fuzzSetup(f)
	f.Fuzz(func(t *testing.T, a, b string, maxLen uint8, add, pair bool) {
		for _, tk := range fuzzWP {
			fuzzEncode(t, tk, a, b, pair, int(maxLen), add)
			tk.Decode([]int{0, 1, 2, 3, 4, int(maxLen), -1, 1 << 40}, add)
		}
		checkFused(t, a)
	})
}

func FuzzFromJSON(f *testing.F) {
	for _, name := range []string{"tiny_wordpiece.json", "tiny_bpe.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"model":{"type":"WordLevel","vocab":{"a":0,"[UNK]":1},"unk_token":"[UNK]"},"pre_tokenizer":{"type":"Whitespace"}}`))
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"],"unk_token":"a","fuse_unk":true,"byte_fallback":true,"end_of_word_suffix":"</w>"},"normalizer":{"type":"Sequence","normalizers":[{"type":"NFKD"},{"type":"Replace","pattern":{"Regex":"\\s+"},"content":"b"}]},"pre_tokenizer":{"type":"Metaspace","replacement":"a","prepend_scheme":"first","split":true},"decoder":{"type":"Sequence","decoders":[{"type":"ByteFallback"},{"type":"Fuse"},{"type":"Strip","content":"a","start":1,"stop":1}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tk, err := FromJSON(data)
		if err != nil {
			return
		}
		for _, s := range []string{"", "Hello wörld [MASK] 12 ab", "\xff a\u0301"} {
			e, err := tk.EncodePair(s, s, Options{AddSpecialTokens: true, MaxLength: 8})
			if err != nil {
				continue
			}
			tk.Decode(e.IDs, true)
			tk.Decode([]int{0, 1, 2, -5, 1 << 40}, false)
		}
		tk.VocabSize()
		tk.PadID()
	})
}
