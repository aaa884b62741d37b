// Package corpus streams the documents of a training corpus: plain text (one
// document per line) or JSON Lines (one object per line, the text in a named
// field), either of them optionally gzip-compressed. Compression is detected
// from the magic bytes, not the file name. Documents are read one line at a
// time, so a corpus of any size can be streamed.
package corpus

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Format is the layout of a corpus file.
type Format int

const (
	// Auto picks JSONL or Text from the file name, else from the first line.
	Auto Format = iota
	// Text: each non-blank line is a document.
	Text
	// JSONL: each non-blank line is a JSON object holding the text in a field.
	JSONL
)

func (f Format) String() string {
	switch f {
	case Text:
		return "text"
	case JSONL:
		return "jsonl"
	}
	return "auto"
}

// DefaultField is the JSON Lines field read when none is given.
const DefaultField = "text"

// MaxLineBytes bounds one line (one document) so that a file without
// newlines cannot make the reader buffer it whole.
const MaxLineBytes = 256 << 20

// sniffBytes is how much of the file Auto looks at to recognise JSON Lines.
const sniffBytes = 64 << 10

// Doc is one document.
type Doc struct {
	Text string
	// ID is the record's "id" as written: a JSON number in its literal form
	// or the contents of a JSON string. HasID is false when the record has no
	// id (or a null one) and always for plain text.
	ID    string
	HasID bool
	// Line is the 1-based line number of the document in the (decompressed)
	// file.
	Line int64
}

// IntID returns the id as an integer when it is one (a JSON integer or a
// string holding one).
func (d Doc) IntID() (int64, bool) {
	if !d.HasID {
		return 0, false
	}
	n, err := strconv.ParseInt(d.ID, 10, 64)
	return n, err == nil
}

// Reader reads documents one by one:
//
//	r, err := corpus.Open(path, "text")
//	...
//	defer r.Close()
//	for r.Next() {
//		doc := r.Doc()
//	}
//	if err := r.Err(); err != nil { ... }
type Reader struct {
	path   string
	field  string
	format Format
	f      *os.File
	gz     *gzip.Reader
	br     *bufio.Reader
	line   int64
	buf    []byte
	doc    Doc
	err    error
	done   bool

	exclude     bool
	excludeFrom int64
	skipped     int64
}

// Open opens a corpus file, detecting gzip and (with Auto) the format: the
// name (without ".gz") ending in .jsonl, .ndjson or .json means JSON Lines,
// .txt or .text plain text; otherwise the file is JSON Lines when its first
// non-blank line is a JSON object. field is the JSON Lines text field (""
// means "text"); plain text ignores it.
func Open(path, field string) (*Reader, error) {
	return OpenFormat(path, field, Auto)
}

// OpenFormat is Open with the format given.
func OpenFormat(path, field string, format Format) (*Reader, error) {
	if field == "" {
		field = DefaultField
	}
	if format != Auto && format != Text && format != JSONL {
		return nil, fmt.Errorf("corpus: %s: unknown format %d", path, int(format))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("corpus: %w", err)
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("corpus: %s is a directory", path)
	}
	r := &Reader{path: path, field: field, f: f}
	br := bufio.NewReaderSize(f, 1<<20)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("corpus: %s: %w", path, err)
		}
		r.gz = gz
		br = bufio.NewReaderSize(gz, 1<<20)
	}
	r.br = br
	if format == Auto {
		format = formatFromName(path)
	}
	if format == Auto {
		format = sniff(br)
	}
	r.format = format
	return r, nil
}

func formatFromName(path string) Format {
	name := strings.ToLower(path)
	name = strings.TrimSuffix(name, ".gz")
	switch {
	case strings.HasSuffix(name, ".jsonl"), strings.HasSuffix(name, ".ndjson"), strings.HasSuffix(name, ".json"):
		return JSONL
	case strings.HasSuffix(name, ".txt"), strings.HasSuffix(name, ".text"):
		return Text
	}
	return Auto
}

// sniff decides from the start of the stream: JSON Lines when the first
// non-blank line is a JSON object (or starts like one and is longer than
// the window looked at).
func sniff(br *bufio.Reader) Format {
	head, _ := br.Peek(sniffBytes)
	for len(head) > 0 {
		line, rest, found := bytes.Cut(head, []byte{'\n'})
		head = rest
		t := bytes.TrimSpace(line)
		if len(t) == 0 {
			continue
		}
		if t[0] != '{' {
			return Text
		}
		if !found {
			// The line does not end inside the window; assume an object.
			return JSONL
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(t, &m) == nil {
			return JSONL
		}
		return Text
	}
	return Text
}

// Format reports the format being read (never Auto).
func (r *Reader) Format() Format { return r.format }

// ExcludeIDsFrom drops the JSON Lines records whose integer id is >= n (the
// held-out tail of an evaluation set). Once set, a record without an
// integer id is an error, and so is a plain-text corpus: silently keeping
// such records could leak held-out documents into training.
func (r *Reader) ExcludeIDsFrom(n int64) {
	r.exclude, r.excludeFrom = true, n
}

// Skipped is how many records ExcludeIDsFrom has dropped so far.
func (r *Reader) Skipped() int64 { return r.skipped }

// Next advances to the next document and reports whether there is one.
// Blank lines are skipped.
func (r *Reader) Next() bool {
	if r.done {
		return false
	}
	if r.exclude && r.format == Text {
		r.fail(fmt.Errorf("corpus: %s: plain text has no ids to exclude held-out records by", r.path))
		return false
	}
	for {
		line, err := r.readLine()
		if err != nil {
			if err != io.EOF {
				r.fail(err)
			} else {
				r.done = true
			}
			return false
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		switch r.format {
		case Text:
			r.doc = Doc{Text: string(line), Line: r.line}
			return true
		default:
			rec, err := ParseRecord(line, r.field)
			if err != nil {
				r.fail(fmt.Errorf("corpus: %s:%d: %w", r.path, r.line, err))
				return false
			}
			doc := Doc{Text: rec.Text, ID: rec.ID, HasID: rec.HasID, Line: r.line}
			if r.exclude {
				id, ok := doc.IntID()
				if !ok {
					r.fail(fmt.Errorf("corpus: %s:%d: record has no integer \"id\", which excluding ids >= %d needs", r.path, r.line, r.excludeFrom))
					return false
				}
				if id >= r.excludeFrom {
					r.skipped++
					continue
				}
			}
			r.doc = doc
			return true
		}
	}
}

func (r *Reader) fail(err error) {
	r.err, r.done = err, true
}

// readLine returns the next line without its line ending ("\n" or "\r\n");
// the slice is valid until the next call.
func (r *Reader) readLine() ([]byte, error) {
	r.buf = r.buf[:0]
	for {
		chunk, err := r.br.ReadSlice('\n')
		if len(r.buf)+len(chunk) > MaxLineBytes {
			return nil, fmt.Errorf("corpus: %s:%d: line longer than %d bytes", r.path, r.line+1, MaxLineBytes)
		}
		r.buf = append(r.buf, chunk...)
		switch err {
		case nil:
			r.line++
			b := r.buf[:len(r.buf)-1]
			if n := len(b); n > 0 && b[n-1] == '\r' {
				b = b[:n-1]
			}
			return b, nil
		case bufio.ErrBufferFull:
			continue
		case io.EOF:
			if len(r.buf) == 0 {
				return nil, io.EOF
			}
			r.line++
			b := r.buf
			if n := len(b); n > 0 && b[n-1] == '\r' {
				b = b[:n-1]
			}
			return b, nil
		default:
			return nil, fmt.Errorf("corpus: %s: reading line %d: %w", r.path, r.line+1, err)
		}
	}
}

// Doc returns the current document.
func (r *Reader) Doc() Doc { return r.doc }

// Err returns the error that stopped Next, if any.
func (r *Reader) Err() error { return r.err }

// Close closes the file.
func (r *Reader) Close() error {
	r.done = true
	var err error
	if r.gz != nil {
		err = r.gz.Close()
	}
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Texts returns a function that opens the corpus each time it is called and
// yields the text of every document (the shape of train.Documents), so the
// corpus can be read more than once. excludeFrom >= 0 applies
// ExcludeIDsFrom(excludeFrom); a negative value keeps every record.
func Texts(path, field string, excludeFrom int64) func(yield func(text string) bool) error {
	return func(yield func(text string) bool) error {
		r, err := Open(path, field)
		if err != nil {
			return err
		}
		defer r.Close()
		if excludeFrom >= 0 {
			r.ExcludeIDsFrom(excludeFrom)
		}
		for r.Next() {
			if !yield(r.Doc().Text) {
				return nil
			}
		}
		return r.Err()
	}
}

// Record is one parsed JSON Lines record.
type Record struct {
	Text  string
	ID    string
	HasID bool
}

var errNotObject = errors.New("not a JSON object")

// ParseRecord parses one JSON Lines line: an object whose field holds a
// string. "id", when present and not null, must be a number (kept in its
// literal form) or a string.
func ParseRecord(line []byte, field string) (Record, error) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] != '{' {
		return Record{}, errNotObject
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(line, &m); err != nil {
		return Record{}, fmt.Errorf("invalid JSON: %w", err)
	}
	raw, ok := m[field]
	if !ok {
		return Record{}, fmt.Errorf("no %q field", field)
	}
	var rec Record
	if string(raw) == "null" {
		return Record{}, fmt.Errorf("field %q is null", field)
	}
	if err := json.Unmarshal(raw, &rec.Text); err != nil {
		return Record{}, fmt.Errorf("field %q is not a string", field)
	}
	if idRaw, ok := m["id"]; ok && string(idRaw) != "null" {
		switch c := idRaw[0]; {
		case c == '"':
			if err := json.Unmarshal(idRaw, &rec.ID); err != nil {
				return Record{}, fmt.Errorf("field \"id\": %w", err)
			}
		case c == '-' || (c >= '0' && c <= '9'):
			rec.ID = string(idRaw)
		default:
			return Record{}, errors.New("field \"id\" is neither a number nor a string")
		}
		rec.HasID = true
	}
	return rec, nil
}
