package eval

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"bioencoder/internal/shared"
)

// Files of the shared data folder (see shared/data/SOURCES.md).
const (
	FilePubMedQA       = "pubmedqa_pqal.json.gz"
	FilePubMedSummary  = "pubmed_summary_pairs.jsonl.gz"
	FilePubMedAbstract = "pubmed_abstracts.jsonl.gz"
	FileMedicalTest    = "medical_tc_test.csv.gz"
	FileMedicalLabels  = "medical_tc_labels.csv"
	FileNCBITrain      = "ncbi_disease_train.tsv.gz"
	FileNCBIDevel      = "ncbi_disease_devel.tsv.gz"
	FileNCBITest       = "ncbi_disease_test.tsv.gz"
	FileChemProtTrain  = "chemprot_train.jsonl.gz"
	FileChemProtDev    = "chemprot_dev.jsonl.gz"
	FileChemProtTest   = "chemprot_test.jsonl.gz"
)

// SectionsHeldOut is how many abstracts the PubMed Sections set takes.
const SectionsHeldOut = 800

// maxLine bounds one line of a JSONL or TSV file.
const maxLine = 64 << 20

// DataPath is the path of a file in the shared data folder.
func DataPath(name string) (string, error) { return shared.Path("data", name) }

// readFile opens a data file, gunzipping it when it starts with the gzip
// magic, and hands the reader to fn. Errors name the file.
func readFile(path string, fn func(io.Reader) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<16)
	var r io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	if err := fn(r); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func loadShared[T any](name string, read func(io.Reader) (T, error)) (T, error) {
	var out T
	p, err := DataPath(name)
	if err != nil {
		return out, err
	}
	err = readFile(p, func(r io.Reader) error {
		var err error
		out, err = read(r)
		return err
	})
	return out, err
}

// Pair is one true pair of texts of a similarity set.
type Pair struct {
	ID   string `json:"id"`
	A, B string
}

// ReadPubMedQA reads ori_pqal.json (an object keyed by PubMed id) and
// returns its (QUESTION, LONG_ANSWER) pairs in file order.
func ReadPubMedQA(r io.Reader) ([]Pair, error) {
	dec := json.NewDecoder(r)
	if t, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("pubmedqa: %w", err)
	} else if d, ok := t.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("pubmedqa: want a JSON object, got %v", t)
	}
	var out []Pair
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("pubmedqa: %w", err)
		}
		id, ok := t.(string)
		if !ok {
			return nil, fmt.Errorf("pubmedqa: want a key, got %v", t)
		}
		var item struct {
			Question   *string `json:"QUESTION"`
			LongAnswer *string `json:"LONG_ANSWER"`
		}
		if err := dec.Decode(&item); err != nil {
			return nil, fmt.Errorf("pubmedqa: item %s: %w", id, err)
		}
		if item.Question == nil || item.LongAnswer == nil {
			return nil, fmt.Errorf("pubmedqa: item %s lacks QUESTION or LONG_ANSWER", id)
		}
		out = append(out, Pair{ID: id, A: *item.Question, B: *item.LongAnswer})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("pubmedqa: %w", err)
	}
	if len(out) == 0 {
		return nil, errors.New("pubmedqa: no items")
	}
	return out, nil
}

// jsonLines decodes one JSON value per non-blank line into fn.
func jsonLines(r io.Reader, what string, fn func(line int, raw []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<16), maxLine)
	n := 0
	for sc.Scan() {
		n++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		if err := fn(n, b); err != nil {
			return fmt.Errorf("%s: line %d: %w", what, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: line %d: %w", what, n+1, err)
	}
	return nil
}

// ReadPubMedSummary reads (article, abstract) pairs, one JSON object per line.
func ReadPubMedSummary(r io.Reader) ([]Pair, error) {
	var out []Pair
	err := jsonLines(r, "pubmed summary", func(_ int, b []byte) error {
		var rec struct {
			ID       json.Number `json:"id"`
			Article  *string     `json:"article"`
			Abstract *string     `json:"abstract"`
		}
		if err := json.Unmarshal(b, &rec); err != nil {
			return err
		}
		if rec.Article == nil || rec.Abstract == nil {
			return errors.New("record lacks article or abstract")
		}
		out = append(out, Pair{ID: rec.ID.String(), A: *rec.Article, B: *rec.Abstract})
		return nil
	})
	if err == nil && len(out) == 0 {
		err = errors.New("pubmed summary: no records")
	}
	return out, err
}

// Abstract is one SumPubMed abstract.
type Abstract struct {
	ID   int    `json:"id"`
	Text string `json:"text"`
}

// ReadAbstracts reads {"id", "text"} records; ids must be unique.
func ReadAbstracts(r io.Reader) ([]Abstract, error) {
	var out []Abstract
	seen := map[int]bool{}
	err := jsonLines(r, "pubmed abstracts", func(_ int, b []byte) error {
		var rec struct {
			ID   *int    `json:"id"`
			Text *string `json:"text"`
		}
		if err := json.Unmarshal(b, &rec); err != nil {
			return err
		}
		if rec.ID == nil || rec.Text == nil {
			return errors.New("record lacks id or text")
		}
		if seen[*rec.ID] {
			return fmt.Errorf("duplicate id %d", *rec.ID)
		}
		seen[*rec.ID] = true
		out = append(out, Abstract{ID: *rec.ID, Text: *rec.Text})
		return nil
	})
	if err == nil && len(out) == 0 {
		err = errors.New("pubmed abstracts: no records")
	}
	return out, err
}

// Section is one headed part of an abstract.
type Section struct {
	Name string // canonical upper-case header: BACKGROUND, RESULTS, CONCLUSIONS, ...
	Text string
}

// ParseSections splits a SumPubMed abstract into its headed sections.
//
// The bundle keeps the headers in upper case on their own line while the
// body is lower-cased, so a header is a line of at most 40 characters made
// only of upper-case letters, spaces, '&' and '/' (an optional trailing
// colon is allowed), with at least 4 letters. Header names are
// canonicalised (spaces collapsed, CONCLUSION -> CONCLUSIONS,
// BACKGROUNDS -> BACKGROUND). Text before the first header is dropped.
//
// Within a section, paragraphs are separated by blank lines. A section
// stops at a paragraph that opens with a lower-cased sub-header line
// ("methods", "results and discussion", "keywords", ...: words of
// subHeaderWords only), which the original abstracts used for parts that
// this bundle does not mark. The last section of the text keeps only its
// first paragraph: what follows it is back-matter (keyword lists,
// "electronic supplementary material", copyright lines, conference notes).
// Lines inside a paragraph are joined with a space; paragraphs with "\n".
func ParseSections(text string) []Section {
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	type raw struct {
		name  string
		lines []string
	}
	var secs []raw
	for _, l := range lines {
		if name, ok := headerName(l); ok {
			secs = append(secs, raw{name: name})
			continue
		}
		if len(secs) > 0 {
			secs[len(secs)-1].lines = append(secs[len(secs)-1].lines, l)
		}
	}
	out := make([]Section, 0, len(secs))
	for i, s := range secs {
		paras := paragraphs(s.lines)
		var keep []string
		for j, p := range paras {
			if j > 0 && isSubHeader(p[0]) {
				break
			}
			keep = append(keep, strings.Join(p, " "))
			if i == len(secs)-1 {
				break // back-matter follows the last section's first paragraph
			}
		}
		out = append(out, Section{Name: s.name, Text: strings.Join(keep, "\n")})
	}
	return out
}

// paragraphs groups trimmed non-blank lines into runs separated by blank lines.
func paragraphs(lines []string) [][]string {
	var out [][]string
	var cur []string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" {
			if len(cur) > 0 {
				out = append(out, cur)
				cur = nil
			}
			continue
		}
		cur = append(cur, l)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

func headerName(line string) (string, bool) {
	t := strings.TrimSpace(line)
	t = strings.TrimSpace(strings.TrimSuffix(t, ":"))
	if len(t) == 0 || len(t) > 40 {
		return "", false
	}
	letters := 0
	for _, r := range t {
		switch {
		case unicode.IsUpper(r):
			letters++
		case r == ' ' || r == '&' || r == '/':
		default:
			return "", false
		}
	}
	if letters < 4 {
		return "", false
	}
	name := strings.Join(strings.Fields(t), " ")
	switch name {
	case "CONCLUSION":
		name = "CONCLUSIONS"
	case "BACKGROUNDS":
		name = "BACKGROUND"
	}
	return name, true
}

var subHeaderWords = map[string]bool{
	"methods": true, "method": true, "materials": true, "and": true, "results": true, "result": true,
	"discussion": true, "conclusions": true, "conclusion": true, "background": true, "keywords": true,
	"keyword": true, "availability": true, "implementation": true,
}

func isSubHeader(line string) bool {
	w := strings.Fields(strings.TrimSuffix(strings.TrimSpace(line), ":"))
	if len(w) == 0 || len(w) > 4 {
		return false
	}
	for _, x := range w {
		if !subHeaderWords[x] {
			return false
		}
	}
	return true
}

// SectionOf returns the text of the named section ("" when absent).
func SectionOf(secs []Section, name string) string {
	for _, s := range secs {
		if s.Name == name {
			return s.Text
		}
	}
	return ""
}

// SectionPairs builds the PubMed Sections set: of the abstracts that have
// a non-empty BACKGROUND and a non-empty CONCLUSIONS section, the n with
// the highest ids, as (BACKGROUND, CONCLUSIONS) pairs in ascending id
// order. tailStart is the smallest of their ids: training runs evaluated on
// this set must not see any abstract with id >= tailStart (the "held-out
// tail").
func SectionPairs(abs []Abstract, n int) (pairs []Pair, tailStart int, err error) {
	if n < 1 {
		return nil, 0, fmt.Errorf("eval: sections: need n >= 1, got %d", n)
	}
	sorted := append([]Abstract(nil), abs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].ID > sorted[j].ID })
	for _, a := range sorted {
		secs := ParseSections(a.Text)
		bg, co := SectionOf(secs, "BACKGROUND"), SectionOf(secs, "CONCLUSIONS")
		if bg == "" || co == "" {
			continue
		}
		pairs = append(pairs, Pair{ID: strconv.Itoa(a.ID), A: bg, B: co})
		tailStart = a.ID
		if len(pairs) == n {
			break
		}
	}
	if len(pairs) < n {
		return nil, 0, fmt.Errorf("eval: sections: only %d of %d abstracts have both BACKGROUND and CONCLUSIONS, need %d", len(pairs), len(abs), n)
	}
	for i, j := 0, len(pairs)-1; i < j; i, j = i+1, j-1 {
		pairs[i], pairs[j] = pairs[j], pairs[i]
	}
	return pairs, tailStart, nil
}

// HeldOut returns the abstracts with id >= tailStart, in ascending id order.
func HeldOut(abs []Abstract, tailStart int) []Abstract {
	var out []Abstract
	for _, a := range abs {
		if a.ID >= tailStart {
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// LoadPubMedQA reads the shared PubMed QA pairs (1000).
func LoadPubMedQA() ([]Pair, error) { return loadShared(FilePubMedQA, ReadPubMedQA) }

// LoadPubMedSummary reads the shared PubMed Summary pairs (500).
func LoadPubMedSummary() ([]Pair, error) { return loadShared(FilePubMedSummary, ReadPubMedSummary) }

// LoadAbstracts reads the shared SumPubMed abstracts.
func LoadAbstracts() ([]Abstract, error) { return loadShared(FilePubMedAbstract, ReadAbstracts) }

// LoadPubMedSections builds the PubMed Sections pairs (800) from the shared
// abstracts and returns the held-out tail start with them.
func LoadPubMedSections() ([]Pair, int, error) {
	abs, err := LoadAbstracts()
	if err != nil {
		return nil, 0, err
	}
	return SectionPairs(abs, SectionsHeldOut)
}

// HeldOutTailStart is the smallest abstract id of the PubMed Sections set:
// pretraining and every training run evaluated with that set use only
// abstracts with smaller ids.
func HeldOutTailStart() (int, error) {
	_, start, err := LoadPubMedSections()
	return start, err
}

// ClassData is a labelled text set with labels 0..len(Names)-1.
type ClassData struct {
	Texts  []string `json:"-"`
	Labels []int    `json:"-"`
	Names  []string `json:"names"`
}

// Head returns the first n examples (all when n <= 0 or n >= the size).
func (d ClassData) Head(n int) ClassData {
	if n > 0 && n < len(d.Texts) {
		d.Texts, d.Labels = d.Texts[:n], d.Labels[:n]
	}
	return d
}

// csvRows reads a CSV with a header and returns the rows as maps of the
// wanted columns.
func csvRows(r io.Reader, what string, cols ...string) ([][]string, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = false
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w", what, err)
	}
	idx := make([]int, len(cols))
	for i, c := range cols {
		idx[i] = -1
		for j, h := range head {
			if strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")) == c {
				idx[i] = j
			}
		}
		if idx[i] < 0 {
			return nil, fmt.Errorf("%s: no column %q in header %q", what, c, head)
		}
	}
	var out [][]string
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		row := make([]string, len(cols))
		for i, j := range idx {
			row[i] = rec[j]
		}
		out = append(out, row)
	}
	return out, nil
}

// ReadMedicalLabels reads medical_tc_labels.csv: condition_label (1..n, in
// any order but each once) and condition_name. Names are returned by label.
func ReadMedicalLabels(r io.Reader) ([]string, error) {
	rows, err := csvRows(r, "medical labels", "condition_label", "condition_name")
	if err != nil {
		return nil, err
	}
	names := make([]string, len(rows))
	for i, row := range rows {
		l, err := strconv.Atoi(strings.TrimSpace(row[0]))
		if err != nil || l < 1 || l > len(rows) {
			return nil, fmt.Errorf("medical labels: row %d: label %q is not in 1..%d", i+2, row[0], len(rows))
		}
		if names[l-1] != "" {
			return nil, fmt.Errorf("medical labels: row %d: label %d given twice", i+2, l)
		}
		names[l-1] = row[1]
	}
	if len(names) == 0 {
		return nil, errors.New("medical labels: no rows")
	}
	return names, nil
}

// ReadMedicalAbstracts reads medical_tc_test.csv (condition_label 1..n,
// medical_abstract); labels become 0-based.
func ReadMedicalAbstracts(r io.Reader, names []string) (ClassData, error) {
	rows, err := csvRows(r, "medical abstracts", "condition_label", "medical_abstract")
	if err != nil {
		return ClassData{}, err
	}
	d := ClassData{Names: names}
	for i, row := range rows {
		l, err := strconv.Atoi(strings.TrimSpace(row[0]))
		if err != nil || l < 1 || l > len(names) {
			return ClassData{}, fmt.Errorf("medical abstracts: row %d: label %q is not in 1..%d", i+2, row[0], len(names))
		}
		d.Texts = append(d.Texts, row[1])
		d.Labels = append(d.Labels, l-1)
	}
	if len(d.Texts) == 0 {
		return ClassData{}, errors.New("medical abstracts: no rows")
	}
	return d, nil
}

// LoadMedicalAbstracts reads the shared Medical Abstracts test split (2888
// rows) with its label names.
func LoadMedicalAbstracts() (ClassData, error) {
	names, err := loadShared(FileMedicalLabels, ReadMedicalLabels)
	if err != nil {
		return ClassData{}, err
	}
	return loadShared(FileMedicalTest, func(r io.Reader) (ClassData, error) { return ReadMedicalAbstracts(r, names) })
}

// Sentence is a tokenised sentence with one tag per word.
type Sentence struct {
	Words []string `json:"words"`
	Tags  []string `json:"tags"`
}

// ReadIOB reads "word<TAB>tag" lines with blank lines between sentences.
// Tags must be O, B-TYPE or I-TYPE.
func ReadIOB(r io.Reader) ([]Sentence, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<16), maxLine)
	var out []Sentence
	var cur Sentence
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			if len(cur.Words) > 0 {
				out = append(out, cur)
				cur = Sentence{}
			}
			continue
		}
		word, tag, ok := strings.Cut(line, "\t")
		if !ok || strings.Contains(tag, "\t") {
			return nil, fmt.Errorf("iob: line %d: want word<TAB>tag, got %q", n, line)
		}
		tag = strings.TrimSpace(tag)
		if _, _, err := splitTag(tag); err != nil {
			return nil, fmt.Errorf("iob: line %d: %w", n, err)
		}
		if word == "" {
			return nil, fmt.Errorf("iob: line %d: empty word", n)
		}
		cur.Words = append(cur.Words, word)
		cur.Tags = append(cur.Tags, tag)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("iob: line %d: %w", n+1, err)
	}
	if len(cur.Words) > 0 {
		out = append(out, cur)
	}
	if len(out) == 0 {
		return nil, errors.New("iob: no sentences")
	}
	return out, nil
}

// NERData is the NCBI-disease corpus.
type NERData struct {
	Train, Devel, Test []Sentence
}

// LoadNCBIDisease reads the shared NCBI-disease IOB files.
func LoadNCBIDisease() (NERData, error) {
	var d NERData
	var err error
	if d.Train, err = loadShared(FileNCBITrain, ReadIOB); err != nil {
		return d, err
	}
	if d.Devel, err = loadShared(FileNCBIDevel, ReadIOB); err != nil {
		return d, err
	}
	d.Test, err = loadShared(FileNCBITest, ReadIOB)
	return d, err
}

// LabelledText is one ChemProt example with its label name.
type LabelledText struct {
	Text  string
	Label string
}

// ReadChemProt reads SciBERT's {text, label, metadata} lines.
func ReadChemProt(r io.Reader) ([]LabelledText, error) {
	var out []LabelledText
	err := jsonLines(r, "chemprot", func(_ int, b []byte) error {
		var rec struct {
			Text  *string `json:"text"`
			Label *string `json:"label"`
		}
		if err := json.Unmarshal(b, &rec); err != nil {
			return err
		}
		if rec.Text == nil || rec.Label == nil || *rec.Label == "" {
			return errors.New("record lacks text or label")
		}
		out = append(out, LabelledText{Text: *rec.Text, Label: *rec.Label})
		return nil
	})
	if err == nil && len(out) == 0 {
		err = errors.New("chemprot: no records")
	}
	return out, err
}

// ChemProtData holds the three splits with one label numbering: the label
// names of all splits, sorted.
type ChemProtData struct {
	Train, Dev, Test ClassData
}

// NewChemProtData numbers the labels of the three splits.
func NewChemProtData(train, dev, test []LabelledText) ChemProtData {
	set := map[string]bool{}
	for _, s := range [][]LabelledText{train, dev, test} {
		for _, x := range s {
			set[x.Label] = true
		}
	}
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	id := make(map[string]int, len(names))
	for i, n := range names {
		id[n] = i
	}
	conv := func(s []LabelledText) ClassData {
		d := ClassData{Names: names}
		for _, x := range s {
			d.Texts = append(d.Texts, x.Text)
			d.Labels = append(d.Labels, id[x.Label])
		}
		return d
	}
	return ChemProtData{Train: conv(train), Dev: conv(dev), Test: conv(test)}
}

// LoadChemProt reads the shared ChemProt splits.
func LoadChemProt() (ChemProtData, error) {
	tr, err := loadShared(FileChemProtTrain, ReadChemProt)
	if err != nil {
		return ChemProtData{}, err
	}
	dv, err := loadShared(FileChemProtDev, ReadChemProt)
	if err != nil {
		return ChemProtData{}, err
	}
	te, err := loadShared(FileChemProtTest, ReadChemProt)
	if err != nil {
		return ChemProtData{}, err
	}
	return NewChemProtData(tr, dv, te), nil
}
