package mining

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"bioencoder/corpus"
	"bioencoder/eval"
)

// Doc is one document of the corpus with its headed sections (none for an
// unstructured text).
type Doc struct {
	ID       string
	Text     string
	Sections []eval.Section
}

// NewDoc parses the sections of text (eval.ParseSections).
func NewDoc(id, text string) Doc {
	return Doc{ID: id, Text: text, Sections: eval.ParseSections(text)}
}

// Body is the text of the sections joined by newlines (the headers and any
// back-matter dropped), or the whole text when it has no sections.
func (d *Doc) Body() string {
	if len(d.Sections) == 0 {
		return strings.TrimSpace(d.Text)
	}
	parts := make([]string, len(d.Sections))
	for i, s := range d.Sections {
		parts[i] = s.Text
	}
	return strings.Join(parts, "\n")
}

// Section returns the named section's text ("" when absent).
func (d *Doc) Section(name string) string { return eval.SectionOf(d.Sections, name) }

// Lead returns the first n sentences of the body. Sentences end at '.',
// '!' or '?' followed by white space; the bundle's text is lower-cased, so
// this is a heuristic that also splits after abbreviations such as "p.".
func (d *Doc) Lead(n int) string {
	body := d.Body()
	count := 0
	for i := 0; i < len(body); i++ {
		switch body[i] {
		case '.', '!', '?':
			if i+1 < len(body) && (body[i+1] == ' ' || body[i+1] == '\n' || body[i+1] == '\t') {
				count++
				if count == n {
					return strings.TrimSpace(body[:i+1])
				}
			}
		}
	}
	return strings.TrimSpace(body)
}

// Field names a part of a document. Its text form is one or more
// alternatives separated by "|", the first that is non-empty winning:
//
//	BACKGROUND, RESULTS, ...  a section (upper case, as eval.ParseSections names them)
//	text                      the whole body (Doc.Body)
//	lead, lead:N              the first 3 (or N) sentences of the body
//
// e.g. "BACKGROUND|lead" is the background section, or the opening
// sentences of an abstract without one.
type Field struct {
	alts []fieldAlt
}

type fieldAlt struct {
	section string // "" for text/lead
	lead    int    // > 0: lead sentences
}

// DefaultLead is how many sentences "lead" takes.
const DefaultLead = 3

// ParseField parses a field name (see Field).
func ParseField(s string) (Field, error) {
	var f Field
	for _, a := range strings.Split(s, "|") {
		a = strings.TrimSpace(a)
		low := strings.ToLower(a)
		switch {
		case a == "":
			return Field{}, fmt.Errorf("mining: empty field in %q", s)
		case low == "text":
			f.alts = append(f.alts, fieldAlt{})
		case low == "lead":
			f.alts = append(f.alts, fieldAlt{lead: DefaultLead})
		case strings.HasPrefix(low, "lead:"):
			n, err := strconv.Atoi(low[len("lead:"):])
			if err != nil || n < 1 || n > 1000 {
				return Field{}, fmt.Errorf("mining: field %q: want lead:N with N in 1..1000", a)
			}
			f.alts = append(f.alts, fieldAlt{lead: n})
		default:
			name := strings.Join(strings.Fields(strings.ToUpper(a)), " ")
			for _, r := range name {
				if !(r >= 'A' && r <= 'Z' || r == ' ' || r == '&' || r == '/') {
					return Field{}, fmt.Errorf("mining: field %q: a section name is letters, spaces, '&' and '/' (or use text, lead, lead:N)", a)
				}
			}
			f.alts = append(f.alts, fieldAlt{section: name})
		}
	}
	return f, nil
}

// MustField is ParseField for constant names; it panics on a bad name.
func MustField(s string) Field {
	f, err := ParseField(s)
	if err != nil {
		panic(err)
	}
	return f
}

// String is the field in ParseField's syntax.
func (f Field) String() string {
	parts := make([]string, len(f.alts))
	for i, a := range f.alts {
		switch {
		case a.section != "":
			parts[i] = a.section
		case a.lead == DefaultLead:
			parts[i] = "lead"
		case a.lead > 0:
			parts[i] = "lead:" + strconv.Itoa(a.lead)
		default:
			parts[i] = "text"
		}
	}
	return strings.Join(parts, "|")
}

// IsZero reports an unset field.
func (f Field) IsZero() bool { return len(f.alts) == 0 }

// Of returns the field's text in d ("" when no alternative is present).
func (f Field) Of(d *Doc) string {
	for _, a := range f.alts {
		var s string
		switch {
		case a.section != "":
			s = d.Section(a.section)
		case a.lead > 0:
			s = d.Lead(a.lead)
		default:
			s = d.Body()
		}
		if s != "" {
			return s
		}
	}
	return ""
}

// Load reads the documents of a corpus file (plain text or JSON Lines with
// the text in field, optionally gzip'd; see package corpus). With
// excludeFrom >= 0, JSON Lines records whose integer "id" is >= excludeFrom
// are left out (and a record without an integer id is an error); skipped
// counts them. Plain-text documents get their line number as id.
func Load(path, field string, excludeFrom int64) (docs []Doc, skipped int64, err error) {
	r, err := corpus.Open(path, field)
	if err != nil {
		return nil, 0, err
	}
	defer r.Close()
	if excludeFrom >= 0 {
		r.ExcludeIDsFrom(excludeFrom)
	}
	for r.Next() {
		d := r.Doc()
		id := d.ID
		if !d.HasID {
			id = strconv.FormatInt(d.Line, 10)
		}
		docs = append(docs, NewDoc(id, d.Text))
	}
	if err := r.Err(); err != nil {
		return nil, 0, err
	}
	if len(docs) == 0 {
		return nil, r.Skipped(), fmt.Errorf("mining: %s: no documents", path)
	}
	return docs, r.Skipped(), nil
}

// IsPubMedAbstracts reports whether path names the shared pubmed_abstracts
// bundle (whose tail is the PubMed Sections evaluation set).
func IsPubMedAbstracts(path string) bool {
	base := strings.TrimSuffix(filepath.Base(path), ".gz")
	return base == strings.TrimSuffix(eval.FilePubMedAbstract, ".gz")
}

// HeldOutTailStart computes, from the documents of the whole
// pubmed_abstracts corpus (integer ids, none excluded), the smallest id of
// the PubMed Sections evaluation set: training must use only ids below it
// (see eval.SectionPairs).
func HeldOutTailStart(docs []Doc) (int64, error) {
	abs := make([]eval.Abstract, len(docs))
	for i, d := range docs {
		id, err := strconv.Atoi(d.ID)
		if err != nil {
			return 0, fmt.Errorf("mining: document %q: the held-out tail needs integer ids", d.ID)
		}
		abs[i] = eval.Abstract{ID: id, Text: d.Text}
	}
	_, start, err := eval.SectionPairs(abs, eval.SectionsHeldOut)
	return int64(start), err
}

// Before returns the documents whose integer id is < n, and how many were
// dropped.
func Before(docs []Doc, n int64) ([]Doc, int, error) {
	out := make([]Doc, 0, len(docs))
	for _, d := range docs {
		id, err := strconv.ParseInt(d.ID, 10, 64)
		if err != nil {
			return nil, 0, fmt.Errorf("mining: document %q has no integer id to exclude held-out records by", d.ID)
		}
		if id < n {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		return nil, len(docs), errors.New("mining: every document is held out")
	}
	return out, len(docs) - len(out), nil
}
