package eval

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"bioencoder/internal/testutil"
)

const sampleAbstract = "BACKGROUND\nthe first background line\ncontinues here.\n\nmethods\nwe did things.\n\n\n" +
	"RESULTS\nresults text.\n\nmore results.\n\n\nCONCLUSIONS:\n\nthe conclusion\nline two.\n\n" +
	"electronic supplementary material\nthe online version.\n\nissue-copyright-statement© the author 2015"

func TestParseSections(t *testing.T) {
	got := ParseSections("preamble ignored\n" + sampleAbstract)
	want := []Section{
		{"BACKGROUND", "the first background line continues here."},
		{"RESULTS", "results text.\nmore results."},
		{"CONCLUSIONS", "the conclusion line two."},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	crlf := ParseSections(strings.ReplaceAll(sampleAbstract, "\n", "\r\n"))
	if !reflect.DeepEqual(crlf, want) {
		t.Errorf("CRLF: got %q", crlf)
	}
	for _, c := range []struct {
		line, name string
		ok         bool
	}{
		{"BACKGROUND", "BACKGROUND", true},
		{"  CONCLUSION: ", "CONCLUSIONS", true},
		{"MATERIALS  AND METHODS", "MATERIALS AND METHODS", true},
		{"DNA", "", false},     // too few letters
		{"methods", "", false}, // lower case: body text
		{"RESULTS 2", "", false},
		{"", "", false},
	} {
		name, ok := headerName(c.line)
		if ok != c.ok || name != c.name {
			t.Errorf("headerName(%q) = %q, %v; want %q, %v", c.line, name, ok, c.name, c.ok)
		}
	}
}

func TestSectionPairs(t *testing.T) {
	mk := func(id int, bg, co string) Abstract {
		text := "RESULTS\nr."
		if bg != "" {
			text = "BACKGROUND\n" + bg + "\n\n" + text
		}
		if co != "" {
			text += "\n\nCONCLUSIONS\n" + co
		}
		return Abstract{ID: id, Text: text}
	}
	abs := []Abstract{mk(5, "b5", "c5"), mk(1, "b1", "c1"), mk(9, "b9", ""), mk(7, "b7", "c7"), mk(8, "", "c8"), mk(3, "b3", "c3")}
	pairs, tail, err := SectionPairs(abs, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []Pair{{"3", "b3", "c3"}, {"5", "b5", "c5"}, {"7", "b7", "c7"}}
	if !reflect.DeepEqual(pairs, want) || tail != 3 {
		t.Errorf("pairs %v tail %d; want %v tail 3", pairs, tail, want)
	}
	held := HeldOut(abs, tail)
	var ids []int
	for _, a := range held {
		ids = append(ids, a.ID)
	}
	if !reflect.DeepEqual(ids, []int{3, 5, 7, 8, 9}) {
		t.Errorf("held-out ids %v", ids)
	}
	if _, _, err := SectionPairs(abs, 5); err == nil || !strings.Contains(err.Error(), "only 4") {
		t.Errorf("too few: %v", err)
	}
}

func TestReadPubMedQA(t *testing.T) {
	in := `{"22": {"QUESTION": "q2", "CONTEXTS": ["x"], "LONG_ANSWER": "a2", "final_decision": "yes"},
	        "11": {"QUESTION": "q1", "LONG_ANSWER": "a1"}}`
	got, err := ReadPubMedQA(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if want := []Pair{{"22", "q2", "a2"}, {"11", "q1", "a1"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v (file order)", got, want)
	}
	for _, bad := range []string{`[]`, `{"1": {"QUESTION": "q"}}`, `{}`, `{"1": 5}`, `{"1": {"QUESTION": "q", "LONG_ANSWER": "a"}`} {
		if _, err := ReadPubMedQA(strings.NewReader(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestReadJSONLines(t *testing.T) {
	sum, err := ReadPubMedSummary(strings.NewReader(`{"id": 7, "article": "art", "abstract": "abs"}` + "\n\n"))
	if err != nil || !reflect.DeepEqual(sum, []Pair{{"7", "art", "abs"}}) {
		t.Errorf("summary %v %v", sum, err)
	}
	if _, err := ReadPubMedSummary(strings.NewReader("{\"id\": 1, \"article\": \"a\"}\n")); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("missing abstract: %v", err)
	}
	abs, err := ReadAbstracts(strings.NewReader("{\"id\": 2, \"text\": \"t\"}\n{\"id\": 1, \"text\": \"u\"}\n"))
	if err != nil || !reflect.DeepEqual(abs, []Abstract{{2, "t"}, {1, "u"}}) {
		t.Errorf("abstracts %v %v", abs, err)
	}
	if _, err := ReadAbstracts(strings.NewReader("{\"id\": 2, \"text\": \"t\"}\n{\"id\": 2, \"text\": \"u\"}\n")); err == nil || !strings.Contains(err.Error(), "line 2: duplicate id 2") {
		t.Errorf("duplicate: %v", err)
	}
	cp, err := ReadChemProt(strings.NewReader(`{"text": "<< a >> [[ b ]]", "label": "INHIBITOR", "metadata": []}` + "\n"))
	if err != nil || !reflect.DeepEqual(cp, []LabelledText{{"<< a >> [[ b ]]", "INHIBITOR"}}) {
		t.Errorf("chemprot %v %v", cp, err)
	}
	if _, err := ReadChemProt(strings.NewReader(`{"text": "x", "label": ""}`)); err == nil {
		t.Error("empty label accepted")
	}
	d := NewChemProtData([]LabelledText{{"a", "Z"}, {"b", "A"}}, []LabelledText{{"c", "M"}}, []LabelledText{{"d", "A"}})
	if !reflect.DeepEqual(d.Train.Names, []string{"A", "M", "Z"}) || !reflect.DeepEqual(d.Train.Labels, []int{2, 0}) ||
		!reflect.DeepEqual(d.Dev.Labels, []int{1}) || !reflect.DeepEqual(d.Test.Labels, []int{0}) {
		t.Errorf("chemprot numbering %+v", d)
	}
}

func TestReadMedical(t *testing.T) {
	names, err := ReadMedicalLabels(strings.NewReader("condition_label,condition_name\n2,b things\n1,a things\n"))
	if err != nil || !reflect.DeepEqual(names, []string{"a things", "b things"}) {
		t.Fatalf("names %v %v", names, err)
	}
	d, err := ReadMedicalAbstracts(strings.NewReader("condition_label,medical_abstract\n2,\"x, with \"\"quotes\"\"\nand a newline\"\n1,plain\n"), names)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d.Labels, []int{1, 0}) || d.Texts[0] != "x, with \"quotes\"\nand a newline" {
		t.Errorf("got %+v", d)
	}
	for _, bad := range []string{"condition_label,medical_abstract\n3,x\n", "condition_label,medical_abstract\nx,y\n", "label,text\n1,x\n", "condition_label,medical_abstract\n"} {
		if _, err := ReadMedicalAbstracts(strings.NewReader(bad), names); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	if _, err := ReadMedicalLabels(strings.NewReader("condition_label,condition_name\n1,a\n1,b\n")); err == nil {
		t.Error("label given twice accepted")
	}
}

func TestReadIOB(t *testing.T) {
	s, err := ReadIOB(strings.NewReader("A\tO\nB\tB-D\r\nC\tI-D\n\n\nD\tO\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Sentence{{[]string{"A", "B", "C"}, []string{"O", "B-D", "I-D"}}, {[]string{"D"}, []string{"O"}}}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("got %v, want %v", s, want)
	}
	for in, where := range map[string]string{"A\tO\nB\n": "line 2", "A\tO\nB\tX-D\n": "line 2", "A\tO\tO\n": "line 1", "\tO\n": "line 1", "\n\n": "no sentences"} {
		if _, err := ReadIOB(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), where) {
			t.Errorf("%q: error %v, want one naming %s", in, err, where)
		}
	}
}

// TestSharedData checks the shared bundles against SOURCES.md.
func TestSharedData(t *testing.T) {
	testutil.SharedOrSkip(t, "data", FilePubMedQA)
	qa, err := LoadPubMedQA()
	if err != nil || len(qa) != 1000 || qa[0].ID != "21645374" {
		t.Errorf("pubmed qa: %d pairs, %v", len(qa), err)
	}
	sum, err := LoadPubMedSummary()
	if err != nil || len(sum) != 500 || sum[0].ID != "31690" {
		t.Errorf("pubmed summary: %d pairs, %v", len(sum), err)
	}
	abs, err := LoadAbstracts()
	if err != nil || len(abs) != 4824 {
		t.Fatalf("abstracts: %d, %v", len(abs), err)
	}
	sec, tail, err := SectionPairs(abs, SectionsHeldOut)
	if err != nil {
		t.Fatal(err)
	}
	// Every abstract of the bundle has both sections, so the set is ids
	// 4025..4824.
	if len(sec) != 800 || tail != 4025 || sec[0].ID != "4025" || sec[799].ID != "4824" {
		t.Errorf("sections: %d pairs, tail %d, ids %s..%s", len(sec), tail, sec[0].ID, sec[len(sec)-1].ID)
	}
	for _, p := range sec {
		for _, bad := range []string{"CONCLUSIONS", "RESULTS", "supplementary material", "issue-copyright", "\nmethods "} {
			if strings.Contains(p.A, bad) || strings.Contains(p.B, bad) {
				t.Errorf("abstract %s: section text holds %q", p.ID, bad)
			}
		}
	}
	med, err := LoadMedicalAbstracts()
	if err != nil {
		t.Fatal(err)
	}
	counts := make([]int, len(med.Names))
	for _, l := range med.Labels {
		counts[l]++
	}
	if len(med.Texts) != 2888 || !reflect.DeepEqual(counts, []int{633, 299, 385, 610, 961}) || med.Names[0] != "neoplasms" {
		t.Errorf("medical abstracts: %d rows, counts %v, names %q", len(med.Texts), counts, med.Names)
	}
	ner, err := LoadNCBIDisease()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		s                  []Sentence
		sents, toks, bDisz int
	}{{ner.Train, 5424, 135701, 5134}, {ner.Devel, 923, 23969, 787}, {ner.Test, 940, 24497, 960}} {
		toks, b := 0, 0
		for _, s := range c.s {
			toks += len(s.Words)
			for _, tg := range s.Tags {
				if tg == "B-Disease" {
					b++
				}
			}
		}
		if len(c.s) != c.sents || toks != c.toks || b != c.bDisz {
			t.Errorf("ncbi: %d sentences %d tokens %d B-Disease; want %d %d %d", len(c.s), toks, b, c.sents, c.toks, c.bDisz)
		}
	}
	cp, err := LoadChemProt()
	if err != nil {
		t.Fatal(err)
	}
	if len(cp.Train.Texts) != 4169 || len(cp.Dev.Texts) != 2427 || len(cp.Test.Texts) != 3469 || len(cp.Train.Names) != 13 {
		t.Errorf("chemprot: %d/%d/%d, %d labels", len(cp.Train.Texts), len(cp.Dev.Texts), len(cp.Test.Texts), len(cp.Train.Names))
	}
	if fmt.Sprint(cp.Train.Names[:2]) != "[ACTIVATOR AGONIST]" {
		t.Errorf("chemprot names %v", cp.Train.Names)
	}
}
