package tokenizer

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"sync"
	"testing"

	"bioencoder/internal/testutil"
)

// goldenRecord is one line of the golden_*.jsonl.gz files (made with the
// official Rust tokenizers, npm package tokenizers 0.23.2).
type goldenRecord struct {
	Name              string   `json:"name"`
	Text              string   `json:"text"`
	Pair              *string  `json:"pair"`
	AddSpecialTokens  bool     `json:"add_special_tokens"`
	MaxLength         *int     `json:"max_length"`
	IDs               []int    `json:"ids"`
	Tokens            []string `json:"tokens"`
	AttentionMask     []int    `json:"attention_mask"`
	TypeIDs           []int    `json:"type_ids"`
	SpecialTokensMask []int    `json:"special_tokens_mask"`
	Offsets           [][2]int `json:"offsets"`
	ByteOffsets       [][2]int `json:"byte_offsets"`
	SequenceIDs       []*int   `json:"sequence_ids"`
	WordIDs           []*int   `json:"word_ids"`
}

func readGolden(t testing.TB, path string) []goldenRecord {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var recs []goldenRecord
	sc := bufio.NewScanner(gz)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var r goldenRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		recs = append(recs, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return recs
}

var sharedToks sync.Map // name -> *Tokenizer

// sharedTokenizer loads ../shared/tokenizers/NAME/tokenizer.json.gz once.
func sharedTokenizer(t testing.TB, name string) *Tokenizer {
	t.Helper()
	path := testutil.SharedOrSkip(t, "tokenizers", name, "tokenizer.json.gz")
	if v, ok := sharedToks.Load(name); ok {
		return v.(*Tokenizer)
	}
	tk, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	sharedToks.Store(name, tk)
	return tk
}

func intsOrNull(p []*int) []int {
	out := make([]int, len(p))
	for i, v := range p {
		out[i] = -1
		if v != nil {
			out[i] = *v
		}
	}
	return out
}

func optionsOf(r goldenRecord) Options {
	o := Options{AddSpecialTokens: r.AddSpecialTokens}
	if r.MaxLength != nil {
		o.MaxLength = *r.MaxLength
	}
	return o
}

// compareEncoding returns the first difference between got and a record.
func compareEncoding(got *Encoding, r goldenRecord) string {
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"ids", got.IDs, r.IDs},
		{"tokens", got.Tokens, r.Tokens},
		{"type_ids", got.TypeIDs, r.TypeIDs},
		{"attention_mask", got.AttentionMask, r.AttentionMask},
		{"special_tokens_mask", got.SpecialTokensMask, r.SpecialTokensMask},
		{"offsets", got.Offsets, r.Offsets},
		{"byte_offsets", got.ByteOffsets, r.ByteOffsets},
		{"word_ids", got.WordIDs, intsOrNull(r.WordIDs)},
		{"sequence_ids", got.SequenceIDs, intsOrNull(r.SequenceIDs)},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			return fmt.Sprintf("%s:\n got  %v\n want %v", c.name, c.got, c.want)
		}
	}
	return ""
}

func TestGolden(t *testing.T) {
	for _, c := range []struct{ file, tok string }{
		{"golden_wordpiece.jsonl.gz", "bert-base-uncased"},
		{"golden_bpe.jsonl.gz", "modernbert-base"},
	} {
		t.Run(c.tok, func(t *testing.T) {
			path := testutil.SharedOrSkip(t, "golden", "tokenizers", c.file)
			tk := sharedTokenizer(t, c.tok)
			recs := readGolden(t, path)
			if len(recs) == 0 {
				t.Fatalf("%s has no records", path)
			}
			matched := 0
			for i, r := range recs {
				var got *Encoding
				var err error
				if r.Pair != nil {
					got, err = tk.EncodePair(r.Text, *r.Pair, optionsOf(r))
				} else {
					got, err = tk.Encode(r.Text, optionsOf(r))
				}
				if err != nil {
					t.Errorf("record %d (%s): %v", i, r.Name, err)
					continue
				}
				if d := compareEncoding(got, r); d != "" {
					t.Errorf("record %d (%s, special=%v, max=%v) text %q pair %v: %s", i, r.Name, r.AddSpecialTokens, r.MaxLength, r.Text, r.Pair, d)
					continue
				}
				matched++
			}
			t.Logf("%s: %d/%d records match", c.file, matched, len(recs))
		})
	}
}

// readGoldenTexts reads up to n "text" fields of a gzip'd JSON Lines file.
func readGoldenTexts(t testing.TB, path string, n int) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(gz)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	var out []string
	for sc.Scan() && len(out) < n {
		var r struct {
			Text string `json:"text"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r.Text)
	}
	return out
}
