package main

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"bioencoder/internal/testutil"
	"bioencoder/tokenizer"
)

func TestTokenizeCommand(t *testing.T) {
	dir := testutil.Testdata(t, "golden", "cross_encoder")
	tk, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	in := `{"text": "What causes hypertension?", "pair": "High blood pressure\tis \"common\"."}
{"text": "Only one\u2028text", "pair": null}

{"text": "Dose: 5 mg/kg"}
`
	for _, opts := range []tokenizer.Options{{AddSpecialTokens: true}, {AddSpecialTokens: true, MaxLength: 8}, {}} {
		var out bytes.Buffer
		if err := runTokenize(tk, opts, strings.NewReader(in), &out); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) != 3 {
			t.Fatalf("%d output lines, want 3:\n%s", len(lines), out.String())
		}
		want := []func() (*tokenizer.Encoding, error){
			func() (*tokenizer.Encoding, error) {
				return tk.EncodePair("What causes hypertension?", "High blood pressure\tis \"common\".", opts)
			},
			func() (*tokenizer.Encoding, error) { return tk.Encode("Only one\u2028text", opts) },
			func() (*tokenizer.Encoding, error) { return tk.Encode("Dose: 5 mg/kg", opts) },
		}
		for i, line := range lines {
			var got struct {
				IDs               []int    `json:"ids"`
				Tokens            []string `json:"tokens"`
				TypeIDs           []int    `json:"type_ids"`
				AttentionMask     []int    `json:"attention_mask"`
				SpecialTokensMask []int    `json:"special_tokens_mask"`
				Offsets           [][2]int `json:"offsets"`
			}
			if err := json.Unmarshal([]byte(line), &got); err != nil {
				t.Fatalf("line %d %q: %v", i, line, err)
			}
			e, err := want[i]()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.IDs, e.IDs) || !reflect.DeepEqual(got.Tokens, e.Tokens) || !reflect.DeepEqual(got.TypeIDs, e.TypeIDs) ||
				!reflect.DeepEqual(got.AttentionMask, e.AttentionMask) || !reflect.DeepEqual(got.SpecialTokensMask, e.SpecialTokensMask) ||
				!reflect.DeepEqual(got.Offsets, e.Offsets) {
				t.Errorf("line %d: %s\nwant %+v", i, line, e)
			}
		}
	}
	var out bytes.Buffer
	if err := runTokenize(tk, tokenizer.Options{}, strings.NewReader("{\"pair\": \"x\"}\n"), &out); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("missing text: error %v", err)
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"plain", "quote\" back\\slash", "\x00\x1f\x7f ctrl", "é😷\u2028\u2029", "bad \xff byte"} {
		var got string
		if err := json.Unmarshal(appendJSONString(nil, s), &got); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		want := strings.ToValidUTF8(s, "\uFFFD")
		if got != want {
			t.Errorf("%q round-trips to %q", s, got)
		}
	}
}
