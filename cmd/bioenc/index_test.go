package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"bioencoder/internal/testutil"
)

func TestParseIndexDocs(t *testing.T) {
	in := `{"id": "pmid:1", "text": "first", "metadata": {"year": 2001, "big": 12345678901234567890}}

{"id": 7, "text": "numeric id"}
{"id": 1.50, "text": "kept as written"}
{"text": "no id: line number"}
{"id": null, "text": "null id: line number", "metadata": null}
`
	docs, err := parseIndexDocs(strings.NewReader(in), "in.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range docs {
		ids = append(ids, d.ID)
	}
	if got := strings.Join(ids, ","); got != "pmid:1,7,1.50,5,6" {
		t.Errorf("ids %s", got)
	}
	if b, _ := json.Marshal(docs[0].Metadata); string(b) != `{"big":12345678901234567890,"year":2001}` {
		t.Errorf("metadata %s", b)
	}
	if docs[1].Metadata != nil || docs[4].Metadata != nil {
		t.Error("absent metadata should be nil")
	}
	for _, tc := range []struct{ in, want string }{
		{`{"id": 1, "text": "a"}` + "\n" + `{"id": "1", "text": "b"}`, `in.jsonl line 2: id "1" already used on line 1`},
		{`{"id": "a"}`, `in.jsonl line 1: no "text" field`},
		{`{"id": true, "text": "a"}`, `"id" must be a string or a number`},
		{`{"id": "", "text": "a"}`, `empty "id"`},
		{`{"text": "a", "metadata": [1]}`, `"metadata" must be a JSON object`},
		{`not json`, `in.jsonl line 1: not a JSON object`},
		{"\n\n", `in.jsonl holds no documents`},
	} {
		_, err := parseIndexDocs(strings.NewReader(tc.in), "in.jsonl")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestSnippet(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"a\tb\n\nc", 80, "a b c"},
		{"αβγδεζ", 4, "αβγ…"},
		{"short", 0, "short"},
	} {
		if got := snippet(tc.in, tc.n); got != tc.want {
			t.Errorf("snippet(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

// runCLI runs bioenc with args, flags reset to their defaults first (cobra
// keeps values between executions in one process).
func runIndexCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var reset func(c *cobra.Command)
	reset = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			f.Value.Set(f.DefValue)
			f.Changed = false
		})
		for _, s := range c.Commands() {
			reset(s)
		}
	}
	reset(indexCmd)
	reset(searchCmd)
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	defer func() {
		root.SetArgs(nil)
		root.SetOut(nil)
		root.SetErr(nil)
	}()
	err := root.Execute()
	return out.String(), err
}

func TestIndexCLI(t *testing.T) {
	dir := t.TempDir()
	model := testutil.Testdata(t, "golden", "st_embed")
	docs := filepath.Join(dir, "docs.jsonl")
	os.WriteFile(docs, []byte(`{"id": "a", "text": "aspirin inhibits platelet aggregation", "metadata": {"year": 1971}}
{"id": "b", "text": "insulin lowers blood glucose"}
{"id": "c", "text": "BRCA1 mutations and breast cancer"}
{"text": "influenza vaccine immune response"}
`), 0o644)
	ix := filepath.Join(dir, "ix")
	if _, err := runIndexCLI(t, "index", "build", "--model", model, "--input", docs, "--out", ix); err != nil {
		t.Fatal(err)
	}
	if _, err := runIndexCLI(t, "index", "build", "--model", model, "--input", docs, "--out", ix); err == nil {
		t.Error("second build without --force succeeded")
	}
	out, err := runIndexCLI(t, "search", "--index", ix, "-k", "3", "aspirin")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "RANK") || !strings.HasPrefix(lines[1], "1 ") {
		t.Errorf("table:\n%s", out)
	}
	out, err = runIndexCLI(t, "search", "--index", ix, "-k", "10", "--exact", "--json", "aspirin")
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Query string `json:"query"`
		Hits  []struct {
			Rank     int            `json:"rank"`
			ID       string         `json:"id"`
			Score    float32        `json:"score"`
			Text     string         `json:"text"`
			Metadata map[string]any `json:"metadata"`
		} `json:"hits"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out)
	}
	if res.Query != "aspirin" || len(res.Hits) != 4 || res.Hits[0].Rank != 1 {
		t.Errorf("--json: %+v", res)
	}
	ids := map[string]bool{}
	for _, h := range res.Hits {
		ids[h.ID] = true
		if h.ID == "a" && h.Metadata["year"] != float64(1971) {
			t.Errorf("metadata of a: %v", h.Metadata)
		}
	}
	if !ids["4"] {
		t.Errorf("document without id should be \"4\": %v", ids)
	}
	more := filepath.Join(dir, "more.jsonl")
	os.WriteFile(more, []byte(`{"id": "d", "text": "statins lower cholesterol"}`+"\n"), 0o644)
	if _, err := runIndexCLI(t, "index", "add", "--index", ix, "--input", more); err != nil {
		t.Fatal(err)
	}
	if _, err := runIndexCLI(t, "index", "delete", "--index", ix, "b", "zzz"); err != nil {
		t.Fatal(err)
	}
	out, err = runIndexCLI(t, "index", "info", "--index", ix, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var info struct{ Docs, Deleted int }
	json.Unmarshal([]byte(out), &info)
	if info.Docs != 4 || info.Deleted != 1 {
		t.Errorf("info after add and delete: %s", out)
	}
	if _, err := runIndexCLI(t, "index", "compact", "--index", ix); err != nil {
		t.Fatal(err)
	}
	if _, err := runIndexCLI(t, "search", "--index", ix, "--model", testutil.Testdata(t, "golden", "colbert"), "x"); err == nil ||
		!strings.Contains(err.Error(), "does not match") {
		t.Errorf("search with another model: %v", err)
	}
	if _, err := runIndexCLI(t, "search", "--index", ix, "--rerank", model, "x"); err == nil || !strings.Contains(err.Error(), "not a cross-encoder") {
		t.Errorf("--rerank with an embedding model: %v", err)
	}
	out, err = runIndexCLI(t, "search", "--index", ix, "--rerank", testutil.Testdata(t, "golden", "cross_encoder"), "-k", "2", "aspirin")
	if err != nil || len(strings.Split(strings.TrimSpace(out), "\n")) != 3 {
		t.Errorf("rerank: %v\n%s", err, out)
	}
}
