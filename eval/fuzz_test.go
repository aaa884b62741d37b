package eval

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// Parsers must return an error, never panic, on any input; what they do
// accept must be well-formed.

func FuzzReadPubMedQA(f *testing.F) {
	f.Add([]byte(`{"1": {"QUESTION": "q", "LONG_ANSWER": "a"}}`))
	f.Add([]byte(`{"1": {"QUESTION": "q"}}`))
	f.Add([]byte(`[1, 2]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		pairs, err := ReadPubMedQA(bytes.NewReader(b))
		if err == nil && len(pairs) == 0 {
			t.Fatal("no pairs and no error")
		}
	})
}

func FuzzReadJSONLines(f *testing.F) {
	f.Add([]byte("{\"id\": 1, \"text\": \"t\", \"article\": \"a\", \"abstract\": \"b\", \"label\": \"L\"}\n"))
	f.Add([]byte("{\"id\": 1.5}\n\n{"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if s, err := ReadPubMedSummary(bytes.NewReader(b)); err == nil && len(s) == 0 {
			t.Fatal("summary: no records and no error")
		}
		if a, err := ReadAbstracts(bytes.NewReader(b)); err == nil {
			seen := map[int]bool{}
			for _, x := range a {
				if seen[x.ID] {
					t.Fatalf("duplicate id %d accepted", x.ID)
				}
				seen[x.ID] = true
			}
		}
		if c, err := ReadChemProt(bytes.NewReader(b)); err == nil {
			for _, x := range c {
				if x.Label == "" {
					t.Fatal("empty label accepted")
				}
			}
		}
	})
}

func FuzzReadIOB(f *testing.F) {
	f.Add([]byte("A\tO\nB\tB-D\nC\tI-D\n\nD\tO\n"))
	f.Add([]byte("A\tB-\n"))
	f.Add([]byte("\t\t\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ReadIOB(bytes.NewReader(b))
		if err != nil {
			return
		}
		for _, x := range s {
			if len(x.Words) == 0 || len(x.Words) != len(x.Tags) {
				t.Fatalf("bad sentence %+v", x)
			}
			if _, err := Entities(x.Tags, IOB2); err != nil {
				t.Fatalf("accepted tags do not decode: %v", err)
			}
		}
	})
}

func FuzzReadMedical(f *testing.F) {
	f.Add([]byte("condition_label,medical_abstract\n1,\"a, b\"\n2,c\n"))
	f.Add([]byte("condition_label,medical_abstract\n0,x\n"))
	f.Add([]byte("\"unterminated"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if names, err := ReadMedicalLabels(bytes.NewReader(b)); err == nil && len(names) == 0 {
			t.Fatal("no labels and no error")
		}
		d, err := ReadMedicalAbstracts(bytes.NewReader(b), []string{"a", "b", "c"})
		if err != nil {
			return
		}
		for _, l := range d.Labels {
			if l < 0 || l > 2 {
				t.Fatalf("label %d outside 0..2", l)
			}
		}
	})
}

func FuzzParseSections(f *testing.F) {
	f.Add(sampleAbstract)
	f.Add("BACKGROUND\n\n\nCONCLUSIONS\nx\n\nkeywords\ny")
	f.Add("RESULTS:\r\n\r\nmethods\r\n")
	f.Fuzz(func(t *testing.T, text string) {
		for _, s := range ParseSections(text) {
			if s.Name == "" || strings.ToUpper(s.Name) != s.Name {
				t.Fatalf("section name %q", s.Name)
			}
			if strings.TrimSpace(s.Text) != s.Text {
				t.Fatalf("section text %q has outer white space", s.Text)
			}
		}
		_, _, _ = SectionPairs([]Abstract{{1, text}, {2, text}}, 1)
	})
}

func FuzzEntities(f *testing.F) {
	f.Add("B-D I-D O I-D B-C I-D")
	f.Add("I-X I-X B-X")
	f.Add("O B- I")
	f.Fuzz(func(t *testing.T, s string) {
		tags := strings.Fields(s)
		strict, err := Entities(tags, IOB2)
		lenient, err2 := Entities(tags, IOB)
		if (err == nil) != (err2 == nil) {
			t.Fatal("schemes disagree on validity")
		}
		if err != nil {
			return
		}
		if len(lenient) < len(strict) {
			t.Fatalf("IOB found %d entities, IOB2 %d", len(lenient), len(strict))
		}
		end := 0
		for _, e := range strict {
			if e.Start < end || e.End <= e.Start || e.End > len(tags) || tags[e.Start] != "B-"+e.Type {
				t.Fatalf("bad entity %+v in %q", e, tags)
			}
			end = e.End
		}
		r, err := EntityPRF([][]string{tags}, [][]string{RepairIOB2(append([]string(nil), tags...))}, IOB2)
		if err != nil || r.Pred != len(lenient) {
			t.Fatalf("repaired tags give %d entities, lenient reading %d (%v)", r.Pred, len(lenient), err)
		}
	})
}

func FuzzWords(f *testing.F) {
	f.Add("Hello, wörld! a b2 x_y 12 É")
	f.Add("İİ ΣΑΣ \xff\xfe ab")
	f.Fuzz(func(t *testing.T, s string) {
		for _, w := range Words(s) {
			if utf8.RuneCountInString(w) < 2 {
				t.Fatalf("word %q shorter than 2", w)
			}
			for _, r := range w {
				if !isWordRune(r) {
					t.Fatalf("word %q holds %q", w, r)
				}
			}
		}
	})
}
