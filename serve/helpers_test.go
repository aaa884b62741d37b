package serve

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"bioencoder"
	"bioencoder/internal/testutil"
	"bioencoder/tokenizer"
)

// copyDir copies a fixture folder (files and one level of subfolders).
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "expected") {
			continue
		}
		if e.IsDir() {
			copyDir(t, filepath.Join(src, e.Name()), filepath.Join(dst, e.Name()))
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// fixtureWithTokenizer builds, in a temp folder, a golden fixture plus
// st_embed's tokenizer (same 1000-token vocabulary), for the fixtures
// that ship none.
func fixtureWithTokenizer(t *testing.T, fixture string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), fixture)
	copyDir(t, testutil.Testdata(t, "golden", fixture), dir)
	tokSrc := testutil.Testdata(t, "golden", "st_embed")
	for _, f := range []string{"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"} {
		b, err := os.ReadFile(filepath.Join(tokSrc, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// promptedEmbed is st_embed with two prompts.
func promptedEmbed(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "st_prompts")
	copyDir(t, testutil.Testdata(t, "golden", "st_embed"), dir)
	cfg := `{"prompts": {"query": "query: ", "passage": "passage: "}, "default_prompt_name": null, "similarity_fn_name": "cosine"}`
	if err := os.WriteFile(filepath.Join(dir, "config_sentence_transformers.json"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func load(t testing.TB, dir string) *bioencoder.Model {
	t.Helper()
	m, err := bioencoder.Load(dir)
	if err != nil {
		t.Fatalf("load %s: %v", dir, err)
	}
	return m
}

type testServer struct {
	srv *Server
	ts  *httptest.Server
}

func start(t *testing.T, cfg Config, models ...Model) *testServer {
	t.Helper()
	s, err := New(cfg, models...)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		ts.Close()
		s.Close()
	})
	return &testServer{srv: s, ts: ts}
}

// do sends a request and returns the status, body and headers.
func (ts *testServer) do(t *testing.T, method, path, body string, header ...string) (int, []byte, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, ts.ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := ts.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b, resp.Header
}

// post sends v as JSON and decodes a 200 answer into out.
func (ts *testServer) post(t *testing.T, path string, v any, out any, header ...string) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	status, body, _ := ts.do(t, http.MethodPost, path, string(b), header...)
	if status != http.StatusOK {
		t.Fatalf("POST %s %s: status %d: %s", path, b, status, body)
	}
	if out != nil {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(out); err != nil {
			t.Fatalf("POST %s: decoding %s: %v", path, body, err)
		}
	}
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol*(1+math.Abs(b)) }

func checkVec(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if !near(float64(got[i]), float64(want[i]), 1e-5) {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

func normalized(v []float32) []float32 {
	out := append([]float32(nil), v...)
	l2normalize(out)
	return out
}

// keys decodes a JSON object and returns its key set.
func keys(t *testing.T, raw json.RawMessage) map[string]bool {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s is not an object: %v", raw, err)
	}
	out := map[string]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}

func sameKeys(t *testing.T, what string, raw json.RawMessage, want ...string) {
	t.Helper()
	got := keys(t, raw)
	if len(got) != len(want) {
		t.Errorf("%s: keys %v, want %v", what, got, want)
	}
	for _, k := range want {
		if !got[k] {
			t.Errorf("%s: key %q missing in %s", what, k, raw)
		}
	}
}

func bioencoderTokOpts() tokenizer.Options { return tokenizer.Options{AddSpecialTokens: true} }
