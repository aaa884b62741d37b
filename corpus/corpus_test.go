package corpus

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"bioencoder/internal/testutil"
)

func writeFile(t *testing.T, name string, data []byte, gz bool) string {
	t.Helper()
	if gz {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		w.Write(data)
		w.Close()
		data = b.Bytes()
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func readAll(t *testing.T, r *Reader) []Doc {
	t.Helper()
	var out []Doc
	for r.Next() {
		out = append(out, r.Doc())
	}
	return out
}

func TestRead(t *testing.T) {
	jsonl := "{\"id\": 1, \"text\": \"first doc\"}\n\n{\"id\": \"x7\", \"text\": \"second\\nline\", \"other\": [1]}\r\n{\"text\": \"no id\", \"id\": null}"
	plain := "line one\r\n\n  \nline two\nlast without newline"
	tests := []struct {
		name, file, data, field string
		format                  Format
		want                    []Doc
		wantFormat              Format
	}{
		{
			name: "jsonl by name", file: "c.jsonl", data: jsonl, wantFormat: JSONL,
			want: []Doc{{Text: "first doc", ID: "1", HasID: true, Line: 1}, {Text: "second\nline", ID: "x7", HasID: true, Line: 3}, {Text: "no id", Line: 4}},
		},
		{
			name: "jsonl sniffed", file: "corpus.data", data: jsonl, wantFormat: JSONL,
			want: []Doc{{Text: "first doc", ID: "1", HasID: true, Line: 1}, {Text: "second\nline", ID: "x7", HasID: true, Line: 3}, {Text: "no id", Line: 4}},
		},
		{
			name: "other field", file: "c.jsonl", data: "{\"abstract\": \"a\", \"text\": \"t\"}\n", field: "abstract", wantFormat: JSONL,
			want: []Doc{{Text: "a", Line: 1}},
		},
		{
			name: "plain by name", file: "c.txt", data: plain, wantFormat: Text,
			want: []Doc{{Text: "line one", Line: 1}, {Text: "line two", Line: 4}, {Text: "last without newline", Line: 5}},
		},
		{
			name: "plain sniffed", file: "c", data: plain, wantFormat: Text,
			want: []Doc{{Text: "line one", Line: 1}, {Text: "line two", Line: 4}, {Text: "last without newline", Line: 5}},
		},
		{
			name: "brace text sniffed", file: "c", data: "{not json}\nx\n", wantFormat: Text,
			want: []Doc{{Text: "{not json}", Line: 1}, {Text: "x", Line: 2}},
		},
		{
			name: "forced text", file: "c.jsonl", data: "{\"text\": \"a\"}\n", format: Text, wantFormat: Text,
			want: []Doc{{Text: "{\"text\": \"a\"}", Line: 1}},
		},
		{name: "empty", file: "c.jsonl", data: "", wantFormat: JSONL},
	}
	for _, tc := range tests {
		for _, gz := range []bool{false, true} {
			name := tc.name
			file := tc.file
			if gz {
				name += " gz"
				// gzip is found from the magic bytes whatever the name.
				if file == "c" {
					file = "c.gz"
				}
			}
			t.Run(name, func(t *testing.T) {
				p := writeFile(t, file, []byte(tc.data), gz)
				r, err := OpenFormat(p, tc.field, tc.format)
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				got := readAll(t, r)
				if err := r.Err(); err != nil {
					t.Fatal(err)
				}
				if r.Format() != tc.wantFormat {
					t.Errorf("format %v, want %v", r.Format(), tc.wantFormat)
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("got %+v\nwant %+v", got, tc.want)
				}
			})
		}
	}
}

func TestExclude(t *testing.T) {
	data := "{\"id\": 1, \"text\": \"a\"}\n{\"id\": 5, \"text\": \"b\"}\n{\"id\": \"3\", \"text\": \"c\"}\n{\"id\": 9, \"text\": \"d\"}\n"
	p := writeFile(t, "c.jsonl.gz", []byte(data), true)
	r, err := Open(p, "")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.ExcludeIDsFrom(5)
	var texts []string
	for _, d := range readAll(t, r) {
		texts = append(texts, d.Text)
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(texts, ",") != "a,c" || r.Skipped() != 2 {
		t.Errorf("kept %v, skipped %d", texts, r.Skipped())
	}

	var got []string
	if err := Texts(p, "text", 4)(func(s string) bool { got = append(got, s); return true }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "a,c" {
		t.Errorf("Texts kept %v", got)
	}
	got = nil
	if err := Texts(p, "text", -1)(func(s string) bool { got = append(got, s); return len(got) < 3 }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "a,b,c" {
		t.Errorf("Texts with early stop gave %v", got)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name, file, data string
		exclude          bool
		want             string
	}{
		{"bad json", "c.jsonl", "{\"text\": \"a\"}\n{\"text\": \n", false, "c.jsonl:2: invalid JSON"},
		{"missing field", "c.jsonl", "{\"body\": \"a\"}\n", false, `c.jsonl:1: no "text" field`},
		{"null field", "c.jsonl", "{\"text\": null}\n", false, `c.jsonl:1: field "text" is null`},
		{"number field", "c.jsonl", "{\"text\": 3}\n", false, `c.jsonl:1: field "text" is not a string`},
		{"array line", "c.jsonl", "[1, 2]\n", false, "c.jsonl:1: not a JSON object"},
		{"bad id", "c.jsonl", "{\"text\": \"a\", \"id\": true}\n", false, `c.jsonl:1: field "id" is neither`},
		{"exclude without id", "c.jsonl", "{\"text\": \"a\"}\n", true, `c.jsonl:1: record has no integer "id"`},
		{"exclude non-integer id", "c.jsonl", "{\"text\": \"a\", \"id\": 1.5}\n", true, `c.jsonl:1: record has no integer "id"`},
		{"exclude plain text", "c.txt", "hello\n", true, "plain text has no ids"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, tc.file, []byte(tc.data), false)
			r, err := Open(p, "")
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if tc.exclude {
				r.ExcludeIDsFrom(10)
			}
			readAll(t, r)
			if r.Err() == nil || !strings.Contains(r.Err().Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", r.Err(), tc.want)
			}
			if r.Next() {
				t.Fatal("Next after an error")
			}
		})
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing.jsonl"), ""); err == nil || !strings.Contains(err.Error(), "missing.jsonl") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := Open(t.TempDir(), ""); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("directory: %v", err)
	}
	// A truncated gzip stream is an error naming the file, not a short read.
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(bytes.Repeat([]byte("some text\n"), 10000))
	w.Close()
	p := writeFile(t, "trunc.txt", b.Bytes()[:b.Len()/2], false)
	r, err := Open(p, "")
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, r)
	r.Close()
	if r.Err() == nil || !strings.Contains(r.Err().Error(), "trunc.txt") {
		t.Errorf("truncated gzip: %v", r.Err())
	}
}

func TestLongLine(t *testing.T) {
	// Longer than the bufio buffer: the line is assembled from chunks.
	long := strings.Repeat("abc ", 1<<19)
	data := "{\"text\": \"" + long + "\"}\nshort\n"
	p := writeFile(t, "c.txt", []byte(data), true)
	r, err := Open(p, "")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	docs := readAll(t, r)
	if r.Err() != nil || len(docs) != 2 || len(docs[0].Text) != len(long)+12 || docs[1].Text != "short" {
		t.Fatalf("err %v, %d docs", r.Err(), len(docs))
	}
}

// TestSharedAbstracts reads the real corpus: every record has an integer id
// and a text.
func TestSharedAbstracts(t *testing.T) {
	p := testutil.SharedOrSkip(t, "data", "pubmed_abstracts.jsonl.gz")
	r, err := Open(p, "text")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	n := 0
	for r.Next() {
		if _, ok := r.Doc().IntID(); !ok || r.Doc().Text == "" {
			t.Fatalf("line %d: %+v", r.Doc().Line, r.Doc())
		}
		n++
	}
	if r.Err() != nil || n != 4824 {
		t.Fatalf("%d docs, err %v", n, r.Err())
	}
}

func FuzzParseRecord(f *testing.F) {
	f.Add([]byte(`{"id": 1, "text": "hello"}`), "text")
	f.Add([]byte(`{"text": "a\u00e9\ud83d\ude37", "id": "x"}`), "text")
	f.Add([]byte(`{"abstract": "b", "id": -3}`), "abstract")
	f.Add([]byte(`{"text": null}`), "text")
	f.Add([]byte(`[1]`), "text")
	f.Add([]byte(`{"text": "a", "id": {}}`), "text")
	f.Fuzz(func(t *testing.T, line []byte, field string) {
		rec, err := ParseRecord(line, field)
		if err != nil {
			return
		}
		if !json.Valid(line) {
			t.Fatalf("accepted invalid JSON %q", line)
		}
		// The text must survive a round trip through a fresh record.
		obj := map[string]any{field: rec.Text}
		if rec.HasID && field != "id" {
			obj["id"] = rec.ID
		}
		b, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseRecord(b, field)
		if err != nil || again.Text != rec.Text {
			t.Fatalf("round trip of %q: %+v, %v", b, again, err)
		}
	})
}
