package mining

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"bioencoder/eval"
	"bioencoder/internal/testutil"
	"bioencoder/parallel"
)

func abstract(bg, res, co string) string {
	return "BACKGROUND\n" + bg + "\n\n\nRESULTS\n" + res + "\n\n\nCONCLUSIONS\n" + co + "\n\nkeywords\nfoo"
}

func TestParseField(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{"BACKGROUND", "BACKGROUND", ""},
		{"conclusions", "CONCLUSIONS", ""},
		{"text", "text", ""},
		{"lead", "lead", ""},
		{"lead:2", "lead:2", ""},
		{"BACKGROUND|lead", "BACKGROUND|lead", ""},
		{"materials  and methods", "MATERIALS AND METHODS", ""},
		{"lead:0", "", "lead:N"},
		{"lead:x", "", "lead:N"},
		{"BACKGROUND|", "", "empty field"},
		{"back-ground", "", "section name"},
	} {
		f, err := ParseField(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseField(%q): error %v, want one containing %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || f.String() != c.want {
			t.Errorf("ParseField(%q) = %q, %v; want %q", c.in, f, err, c.want)
		}
	}
}

func TestParseSectionPairs(t *testing.T) {
	specs, err := ParseSectionPairs(DefaultSectionPairs)
	if err != nil || len(specs) != 3 || specs[0][0].String() != "BACKGROUND" || specs[2][1].String() != "CONCLUSIONS" {
		t.Fatalf("%v %v", specs, err)
	}
	specs, err = ParseSectionPairs("lead:2:CONCLUSIONS, lead:text")
	if err != nil || specs[0][0].String() != "lead:2" || specs[0][1].String() != "CONCLUSIONS" ||
		specs[1][0].String() != "lead" || specs[1][1].String() != "text" {
		t.Fatalf("%v %v", specs, err)
	}
	specs, err = ParseSectionPairs("BACKGROUND|lead:2:CONCLUSIONS")
	if err != nil || specs[0][0].String() != "BACKGROUND|lead:2" {
		t.Fatalf("%v %v", specs, err)
	}
	for _, bad := range []string{"", "BACKGROUND", "BACKGROUND:", "A:B,C", "A:B:C", "lead:2"} {
		if _, err := ParseSectionPairs(bad); err == nil {
			t.Errorf("ParseSectionPairs(%q) succeeded", bad)
		}
	}
}

func TestDocFields(t *testing.T) {
	d := NewDoc("7", abstract("first one. second one? third. fourth.", "we found x.", "x matters."))
	if d.Section("BACKGROUND") != "first one. second one? third. fourth." || d.Section("METHODS") != "" {
		t.Fatalf("sections %+v", d.Sections)
	}
	if got := d.Lead(2); got != "first one. second one?" {
		t.Errorf("lead 2 = %q", got)
	}
	if got := d.Body(); got != "first one. second one? third. fourth.\nwe found x.\nx matters." {
		t.Errorf("body %q (the last section's back-matter must go)", got)
	}
	if got := MustField("METHODS|lead:1").Of(&d); got != "first one." {
		t.Errorf("fallback to lead: %q", got)
	}
	plain := NewDoc("8", "no headers here. just text")
	if plain.Body() != "no headers here. just text" || plain.Lead(1) != "no headers here." || plain.Lead(5) != plain.Body() {
		t.Errorf("plain doc: %q %q", plain.Body(), plain.Lead(1))
	}
}

func TestSectionPairs(t *testing.T) {
	docs := []Doc{
		NewDoc("1", abstract("bg one", "res one", "co one")),
		NewDoc("2", "BACKGROUND\nbg two\n\nRESULTS\nres two"), // no conclusions
		NewDoc("3", "unstructured"),
	}
	specs, _ := ParseSectionPairs(DefaultSectionPairs)
	got := SectionPairs(docs, specs)
	want := [][2]string{{"bg one", "co one"}, {"bg one", "res one"}, {"res one", "co one"}, {"bg two", "res two"}}
	if len(got) != len(want) {
		t.Fatalf("%d pairs, want %d: %+v", len(got), len(want), got)
	}
	for i, p := range got {
		if p.Anchor != want[i][0] || p.Positive != want[i][1] || p.AnchorDoc != p.PositiveDoc {
			t.Errorf("pair %d = %+v, want %v", i, p, want[i])
		}
	}
	if got[0].PositiveField.String() != "CONCLUSIONS" || got[3].AnchorDoc != 1 {
		t.Errorf("pair fields: %+v", got)
	}
}

// topics builds documents in which 0/1 and 2/3 share rare terms and 4, 5
// are about something else; every background opens with the same words so
// that every document matches every query a little.
func topics() []Doc {
	docs := []Doc{
		NewDoc("10", abstract("insulin resistance in obese mice fed a fat diet", "insulin levels rose", "diet drives insulin resistance")),
		NewDoc("11", abstract("obese mice show insulin resistance after diet change", "glucose rose", "mice need less fat")),
		NewDoc("12", abstract("tomato plants infected by pseudomonas syringae pathogen", "virulence genes mapped", "virulence needs iaal")),
		NewDoc("13", abstract("pseudomonas syringae virulence on tomato leaves", "leaf lesions grew", "pathogen spreads fast")),
		NewDoc("14", abstract("galaxy rotation curves measured by radio telescopes", "dark matter inferred", "telescopes agree")),
		NewDoc("15", abstract("proteomics of yeast under heat stress", "chaperones rose", "heat shock response")),
	}
	for i := range docs {
		d := &docs[i]
		*d = NewDoc(d.ID, strings.Replace(d.Text, "BACKGROUND\n", "BACKGROUND\nin this study we report ", 1))
	}
	return docs
}

func TestSimilarPairs(t *testing.T) {
	docs := topics()
	m := NewMiner(docs, MustField("text"), DefaultK1, DefaultB)
	pairs := m.SimilarPairs(SimilarOptions{Query: MustField("BACKGROUND"), MinRel: 0.3})
	var got [][2]int
	for _, p := range pairs {
		got = append(got, [2]int{p.AnchorDoc, p.PositiveDoc})
		if p.Rel < 0.3 || p.Rel > 1 || p.Score <= 0 {
			t.Errorf("pair %+v: score %v rel %v", p, p.Score, p.Rel)
		}
		if p.Anchor != docs[p.AnchorDoc].Section("BACKGROUND") || p.Positive != docs[p.PositiveDoc].Section("BACKGROUND") {
			t.Errorf("pair %+v texts", p)
		}
	}
	// Each related couple once (0↔1, 2↔3); the galaxy and yeast documents
	// share nothing strong enough with anyone.
	if want := [][2]int{{0, 1}, {2, 3}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("pairs %v, want %v", got, want)
	}
	// A target field different from the query.
	pairs = m.SimilarPairs(SimilarOptions{Query: MustField("BACKGROUND"), Target: MustField("CONCLUSIONS"), MinRel: 0.3})
	if len(pairs) != 2 || pairs[0].Positive != "mice need less fat" || pairs[0].PositiveField.String() != "CONCLUSIONS" {
		t.Fatalf("target CONCLUSIONS: %+v", pairs)
	}
	// A threshold nothing clears.
	if p := m.SimilarPairs(SimilarOptions{MinRel: 0.99}); len(p) != 0 {
		t.Errorf("MinRel 0.99 kept %+v", p)
	}
}

func TestHardNegatives(t *testing.T) {
	docs := topics()
	m := NewMiner(docs, MustField("text"), DefaultK1, DefaultB)
	specs, _ := ParseSectionPairs("BACKGROUND:CONCLUSIONS")
	pairs := SectionPairs(docs, specs)
	s := m.Index.NewSearcher()
	// With no skip, the first negative of doc 0's pair is the conclusion of
	// the best other document for its background (doc 1); with skip 1 the
	// next one.
	ranked := s.Search(pairs[0].Anchor, 10)
	var others []int
	for _, h := range ranked {
		if h.Doc != 0 {
			others = append(others, h.Doc)
		}
	}
	if len(others) < 2 || others[0] != 1 {
		t.Fatalf("ranking %v", ranked)
	}
	negs := m.HardNegatives(pairs, NegativeOptions{N: 1, Skip: -1, MaxRel: 2})
	if negs[0][0] != docs[others[0]].Section("CONCLUSIONS") {
		t.Errorf("skip 0: %q", negs[0])
	}
	negs = m.HardNegatives(pairs, NegativeOptions{N: 1, Skip: 1, MaxRel: 2})
	if negs[0][0] != docs[others[1]].Section("CONCLUSIONS") {
		t.Errorf("skip 1: %q", negs[0])
	}
	// Negatives never come from the anchor's own document, and a pair
	// without enough candidates gets none.
	negs = m.HardNegatives(pairs, NegativeOptions{N: 5, Skip: -1, MaxRel: 2})
	for i, n := range negs {
		if n == nil {
			continue
		}
		if len(n) != 5 {
			t.Fatalf("pair %d: %d negatives", i, len(n))
		}
		for _, x := range n {
			if x == pairs[i].Positive {
				t.Errorf("pair %d: the positive is among its negatives", i)
			}
		}
	}
	if m.HardNegatives(pairs, NegativeOptions{N: 6, Skip: -1})[0] != nil {
		t.Error("6 negatives from 5 other documents")
	}
	// MaxRel drops candidates scoring close to the positive document: for
	// a section pair that is the anchor's own document, so a cap of 0
	// leaves nothing.
	if n := m.HardNegatives(pairs, NegativeOptions{N: 1, Skip: -1, MaxRel: 1e-9}); n[0] != nil {
		t.Errorf("MaxRel ~0 kept %q", n[0])
	}
	// A pair from outside the corpus: negatives are indexed texts, none
	// equal to the anchor or positive.
	ext := []Pair{{Anchor: "obese mice insulin", Positive: "unrelated text", AnchorDoc: -1, PositiveDoc: -1, PositiveField: MustField("text")}}
	n := m.HardNegatives(ext, NegativeOptions{N: 2, Skip: -1})
	if len(n[0]) != 2 || n[0][0] != docs[0].Body() && n[0][0] != docs[1].Body() {
		t.Errorf("external pair negatives %q", n[0])
	}
}

func TestMiningIsDeterministicAcrossThreads(t *testing.T) {
	var docs []Doc
	words := strings.Fields("gene protein cell mouse tumor insulin kidney lung heart virus bacteria plant leaf root yeast")
	for i := 0; i < 300; i++ {
		w := func(k int) string { return words[(i*7+k*k*3+i/5)%len(words)] }
		docs = append(docs, NewDoc(strconv.Itoa(i), abstract(w(1)+" "+w(2)+" "+w(3)+" "+w(4), w(5)+" "+w(6), w(7)+" "+w(8)+" "+w(1))))
	}
	specs, _ := ParseSectionPairs(DefaultSectionPairs)
	run := func(workers int) ([]Pair, [][]string) {
		parallel.SetWorkers(workers)
		defer parallel.SetWorkers(0)
		m := NewMiner(docs, MustField("text"), DefaultK1, DefaultB)
		pairs := append(SectionPairs(docs, specs), m.SimilarPairs(SimilarOptions{MinRel: 0.1})...)
		return pairs, m.HardNegatives(pairs, NegativeOptions{N: 3, Pool: 10, Seed: 7})
	}
	p1, n1 := run(1)
	p2, n2 := run(2)
	if !reflect.DeepEqual(p1, p2) || !reflect.DeepEqual(n1, n2) {
		t.Fatal("mining differs between 1 and 2 workers")
	}
	other := NewMiner(docs, MustField("text"), DefaultK1, DefaultB).HardNegatives(p1, NegativeOptions{N: 3, Pool: 10, Seed: 8})
	if reflect.DeepEqual(n1, other) {
		t.Error("the seed does not change sampled negatives")
	}
}

func TestSample(t *testing.T) {
	x := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	a, b := Sample(x, 4, 1), Sample(x, 4, 1)
	if !reflect.DeepEqual(a, b) || len(a) != 4 {
		t.Fatalf("%v %v", a, b)
	}
	for i := 1; i < len(a); i++ {
		if a[i] <= a[i-1] {
			t.Fatalf("order not kept: %v", a)
		}
	}
	if len(Sample(x, 0, 1)) != 10 || len(Sample(x, 20, 1)) != 10 {
		t.Error("n <= 0 or n >= len must keep everything")
	}
}

func TestLoadAndHeldOutTail(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "abstracts.jsonl")
	var b strings.Builder
	// 900 structured abstracts with ids 1..900, one of them (850) without
	// conclusions: the tail is the last 800 abstracts with both sections.
	for id := 1; id <= 900; id++ {
		text := abstract(fmt.Sprintf("bg %d", id), "res", fmt.Sprintf("co %d", id))
		if id == 850 {
			text = "BACKGROUND\nbg only"
		}
		fmt.Fprintf(&b, "{\"id\": %d, \"text\": %q}\n", id, text)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	docs, skipped, err := Load(path, "text", -1)
	if err != nil || len(docs) != 900 || skipped != 0 {
		t.Fatalf("load: %d docs, %d skipped, %v", len(docs), skipped, err)
	}
	tail, err := HeldOutTailStart(docs)
	// Ids 101..900 minus 850 are 799 abstracts; the 800th is 100.
	if err != nil || tail != 100 || eval.SectionsHeldOut != 800 {
		t.Fatalf("tail %d, %v", tail, err)
	}
	kept, dropped, err := Before(docs, tail)
	if err != nil || len(kept) != 99 || dropped != 801 || kept[98].ID != "99" {
		t.Fatalf("before: %d kept, %d dropped, %v", len(kept), dropped, err)
	}
	// Load can exclude while reading, with the same result.
	docs2, skipped, err := Load(path, "text", tail)
	if err != nil || len(docs2) != 99 || skipped != 801 {
		t.Fatalf("load excluding: %d docs, %d skipped, %v", len(docs2), skipped, err)
	}
	if _, _, err := Before([]Doc{NewDoc("x", "t")}, 5); err == nil {
		t.Error("a non-integer id passed the held-out cut")
	}
	if !IsPubMedAbstracts("/a/b/pubmed_abstracts.jsonl.gz") || !IsPubMedAbstracts("pubmed_abstracts.jsonl") || IsPubMedAbstracts("other.jsonl") {
		t.Error("IsPubMedAbstracts")
	}
}

// On the shared corpus: the tail matches eval's, and nothing mined from the
// training part comes from a held-out abstract.
func TestSharedCorpusRespectsHeldOutTail(t *testing.T) {
	path := testutil.SharedOrSkip(t, "data", eval.FilePubMedAbstract)
	if testing.Short() {
		t.Skip("reads and mines the whole corpus")
	}
	all, _, err := Load(path, "text", -1)
	if err != nil {
		t.Fatal(err)
	}
	tail, err := HeldOutTailStart(all)
	if err != nil {
		t.Fatal(err)
	}
	if want, err := eval.HeldOutTailStart(); err != nil || int64(want) != tail {
		t.Fatalf("tail %d, eval says %d (%v)", tail, want, err)
	}
	docs, _, err := Before(all, tail)
	if err != nil {
		t.Fatal(err)
	}
	heldText := map[string]bool{}
	for _, d := range all {
		if id, _ := strconv.ParseInt(d.ID, 10, 64); id >= tail {
			for _, s := range d.Sections {
				heldText[s.Text] = true
			}
		}
	}
	m := NewMiner(docs, MustField("text"), DefaultK1, DefaultB)
	specs, _ := ParseSectionPairs(DefaultSectionPairs)
	pairs := append(Sample(SectionPairs(docs, specs), 300, 1), m.SimilarPairs(SimilarOptions{})...)
	negs := m.HardNegatives(pairs, NegativeOptions{N: 2, Seed: 1})
	for i, p := range pairs {
		texts := append([]string{p.Anchor, p.Positive}, negs[i]...)
		for _, x := range texts {
			if heldText[x] {
				t.Fatalf("pair %d uses held-out text %.80q", i, x)
			}
		}
	}
}

func FuzzParseSectionPairs(f *testing.F) {
	f.Add(DefaultSectionPairs)
	f.Add("lead:2:CONCLUSIONS,text:BACKGROUND|lead")
	f.Fuzz(func(t *testing.T, s string) {
		specs, err := ParseSectionPairs(s)
		if err != nil {
			return
		}
		d := NewDoc("1", abstract("a. b.", "c", "d"))
		for _, p := range specs {
			for _, fl := range p {
				again, err := ParseField(fl.String())
				if err != nil || again.String() != fl.String() {
					t.Fatalf("%q: field %q does not round-trip: %q %v", s, fl, again, err)
				}
				fl.Of(&d)
			}
		}
	})
}
