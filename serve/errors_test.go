package serve

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"bioencoder/internal/testutil"
)

// TestBadRequests drives every kind of bad input through real HTTP and
// checks the status and the error body: TEI's {"error", "error_type"} or
// OpenAI's {"error": {"message", "type", "param", "code"}}. None may be a
// 5xx.
func TestBadRequests(t *testing.T) {
	st := load(t, testutil.Testdata(t, "golden", "st_embed"))
	ce := load(t, testutil.Testdata(t, "golden", "cross_encoder"))
	ts := start(t, Config{MaxClientBatchSize: 4, MaxBodyBytes: 4096}, Model{"st", st}, Model{"ce", ce})
	big := `{"inputs":"` + strings.Repeat("a", 5000) + `"}`
	cases := []struct {
		name, method, path, body string
		header                   []string
		status                   int
		typ                      string // TEI error_type, or OpenAI type when openAI
		openAI                   bool
		code                     string // OpenAI code
		msg                      string // part of the message
	}{
		{"truncated JSON", "POST", "/embed", `{"inputs":`, nil, 400, "validation", false, "", "malformed JSON"},
		{"syntax error", "POST", "/embed", `{"inputs": "a",,}`, nil, 400, "validation", false, "", "malformed JSON"},
		{"empty body", "POST", "/embed", ``, nil, 400, "validation", false, "", "empty"},
		{"not an object", "POST", "/embed", `["a"]`, nil, 422, "validation", false, "", "JSON object"},
		{"number input", "POST", "/embed", `{"inputs":5}`, nil, 422, "validation", false, "", "field `inputs`"},
		{"null input", "POST", "/embed", `{"inputs":null}`, nil, 422, "validation", false, "", "null"},
		{"float id", "POST", "/embed", `{"inputs":[1.5]}`, nil, 422, "validation", false, "", "token ids"},
		{"negative id", "POST", "/embed", `{"inputs":[3,-1]}`, nil, 422, "validation", false, "", "negative"},
		{"id outside vocabulary", "POST", "/embed", `{"inputs":[2, 999999, 3]}`, nil, 422, "validation", false, "", "outside the vocabulary"},
		{"empty id array", "POST", "/embed", `{"inputs":[[]]}`, nil, 422, "validation", false, "", "empty token array"},
		{"mixed bad element", "POST", "/embed", `{"inputs":["a", true]}`, nil, 422, "validation", false, "", "element 1"},
		{"missing inputs", "POST", "/embed", `{}`, nil, 422, "validation", false, "", "missing field `inputs`"},
		{"wrong bool", "POST", "/embed", `{"inputs":"x","normalize":"yes"}`, nil, 422, "validation", false, "", "field `normalize`: expected a boolean"},
		{"bad direction", "POST", "/embed", `{"inputs":"x","truncation_direction":"up"}`, nil, 422, "validation", false, "", "Left"},
		{"bad dimensions", "POST", "/embed", `{"inputs":"x","dimensions":0}`, nil, 422, "validation", false, "", "dimensions"},
		{"empty batch", "POST", "/embed", `{"inputs":[]}`, nil, 400, "empty", false, "", "cannot be empty"},
		{"too many inputs", "POST", "/embed", `{"inputs":["a","b","c","d","e"]}`, nil, 413, "validation", false, "", "batch size 5 > maximum allowed batch size 4"},
		{"body too large", "POST", "/embed", big, nil, 413, "validation", false, "", "larger than 4096 bytes"},
		{"unknown model (query)", "POST", "/embed?model=nope", `{"inputs":"x"}`, nil, 404, "validation", false, "", `"nope"`},
		{"unknown model (header)", "POST", "/embed", `{"inputs":"x"}`, []string{"X-Model", "nope"}, 404, "validation", false, "", "models: st, ce"},
		{"wrong method", "GET", "/embed", ``, nil, 405, "validation", false, "", "use POST"},
		{"unknown route", "POST", "/nope", `{}`, nil, 404, "validation", false, "", "no route"},
		{"rerank without query", "POST", "/rerank?model=ce", `{"texts":["a"]}`, nil, 422, "validation", false, "", "query"},
		{"rerank empty texts", "POST", "/rerank?model=ce", `{"query":"q","texts":[]}`, nil, 400, "empty", false, "", "texts"},
		{"rerank texts of numbers", "POST", "/rerank?model=ce", `{"query":"q","texts":[1]}`, nil, 422, "validation", false, "", "texts"},
		{"rerank on an embedder", "POST", "/rerank", `{"query":"q","texts":["a"]}`, nil, 424, "backend", false, "", "not a re-ranker"},
		{"predict three strings", "POST", "/predict?model=ce", `{"inputs":["a","b","c"]}`, nil, 422, "validation", false, "", "pair"},
		{"predict long pair", "POST", "/predict?model=ce", `{"inputs":[["a","b","c"]]}`, nil, 422, "validation", false, "", "element 0"},
		{"predict on an embedder", "POST", "/predict", `{"inputs":"a"}`, nil, 424, "backend", false, "", "sequence classifier"},
		{"similarity no sentences", "POST", "/similarity", `{"inputs":{"source_sentence":"a","sentences":[]}}`, nil, 400, "empty", false, "", "sentences"},
		{"similarity wrong type", "POST", "/similarity", `{"inputs":{"source_sentence":5,"sentences":["a"]}}`, nil, 422, "validation", false, "", "inputs.source_sentence"},
		{"similarity no inputs", "POST", "/similarity", `{"parameters":{}}`, nil, 422, "validation", false, "", "inputs"},
		{"tokenize object", "POST", "/tokenize", `{"inputs":{"a":1}}`, nil, 422, "validation", false, "", "inputs"},
		{"decode string", "POST", "/decode", `{"ids":"abc"}`, nil, 422, "validation", false, "", "ids"},
		{"decode empty", "POST", "/decode", `{"ids":[]}`, nil, 400, "empty", false, "", "ids"},
		{"fill_mask on an embedder", "POST", "/fill_mask", `{"inputs":"a [MASK]"}`, nil, 424, "backend", false, "", "masked-LM"},
		{"ner on an embedder", "POST", "/ner", `{"inputs":"a"}`, nil, 424, "backend", false, "", "token-classification"},
		{"colbert on an embedder", "POST", "/colbert", `{"inputs":"a"}`, nil, 424, "backend", false, "", "ColBERT"},
		{"search without index", "POST", "/search", `{"query":"a"}`, nil, 404, "validation", false, "", "no index"},
		{"openai bad JSON", "POST", "/v1/embeddings", `{`, nil, 400, "invalid_request_error", true, "invalid_json", "malformed"},
		{"openai unknown model", "POST", "/v1/embeddings", `{"input":"x","model":"gpt"}`, nil, 404, "invalid_request_error", true, "model_not_found", `"gpt"`},
		{"openai empty input", "POST", "/v1/embeddings", `{"input":[],"model":"st"}`, nil, 400, "invalid_request_error", true, "empty_input", "input"},
		{"openai bad format", "POST", "/v1/embeddings", `{"input":"x","model":"st","encoding_format":"hex"}`, nil, 422, "invalid_request_error", true, "invalid_value", "encoding_format"},
		{"openai dimensions too big", "POST", "/v1/embeddings", `{"input":"x","model":"st","dimensions":33}`, nil, 422, "invalid_request_error", true, "invalid_value", "between 1 and 32"},
		{"openai too long", "POST", "/v1/embeddings", `{"input":"` + strings.Repeat("word ", 40) + `","model":"st"}`, nil, 413, "invalid_request_error", true, "context_length_exceeded", "less than 33 tokens"},
		{"openai too many", "POST", "/v1/embeddings", `{"input":["a","b","c","d","e"]}`, nil, 413, "invalid_request_error", true, "too_many_inputs", "batch size"},
		{"openai wrong input type", "POST", "/v1/embeddings", `{"input":{"text":"x"}}`, nil, 422, "invalid_request_error", true, "invalid_value", "field `input`"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body, _ := ts.do(t, c.method, c.path, c.body, c.header...)
			if status != c.status {
				t.Fatalf("status %d, want %d: %s", status, c.status, body)
			}
			if c.openAI {
				sameKeys(t, "OpenAI error", body, "error")
				var e openAIError
				if err := json.Unmarshal(body, &e); err != nil {
					t.Fatal(err)
				}
				var inner map[string]json.RawMessage
				json.Unmarshal(keysRaw(t, body, "error"), &inner)
				for _, k := range []string{"message", "type", "param", "code"} {
					if _, ok := inner[k]; !ok {
						t.Errorf("OpenAI error has no %q: %s", k, body)
					}
				}
				if e.Error.Type != c.typ || e.Error.Code == nil || *e.Error.Code != c.code || !strings.Contains(e.Error.Message, c.msg) {
					t.Errorf("OpenAI error %s, want type %s code %s message ~%q", body, c.typ, c.code, c.msg)
				}
				return
			}
			sameKeys(t, "TEI error", body, "error", "error_type")
			var e teiError
			json.Unmarshal(body, &e)
			if string(e.ErrorType) != c.typ || !strings.Contains(e.Error, c.msg) {
				t.Errorf("error %s, want type %s message ~%q", body, c.typ, c.msg)
			}
		})
	}
}

func keysRaw(t *testing.T, body []byte, key string) json.RawMessage {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	return m[key]
}

func TestAPIKey(t *testing.T) {
	st := load(t, testutil.Testdata(t, "golden", "st_embed"))
	ts := start(t, Config{APIKey: "sekret"}, Model{"st", st})
	for _, c := range []struct {
		path, body string
		auth       string
		status     int
	}{
		{"/embed", `{"inputs":"x"}`, "", 401},
		{"/embed", `{"inputs":"x"}`, "Bearer wrong", 401},
		{"/embed", `{"inputs":"x"}`, "sekret", 401},
		{"/embed", `{"inputs":"x"}`, "Bearer sekret", 200},
		{"/v1/embeddings", `{"input":"x"}`, "", 401},
	} {
		var h []string
		if c.auth != "" {
			h = []string{"Authorization", c.auth}
		}
		status, body, hdr := ts.do(t, "POST", c.path, c.body, h...)
		if status != c.status {
			t.Errorf("%s with %q: %d %s", c.path, c.auth, status, body)
		}
		if status == 401 && (hdr.Get("WWW-Authenticate") == "" || !strings.Contains(string(body), "API key")) {
			t.Errorf("401 without challenge or message: %s", body)
		}
		if status == 401 && c.path == "/v1/embeddings" && !strings.Contains(string(body), `"authentication_error"`) {
			t.Errorf("OpenAI 401 body %s", body)
		}
	}
	if status, _, _ := ts.do(t, "GET", "/health", ""); status != 200 {
		t.Errorf("/health needs no key: %d", status)
	}
}

func TestHandlerPanicIs500(t *testing.T) {
	st := load(t, testutil.Testdata(t, "golden", "st_embed"))
	s, err := New(Config{}, Model{"st", st})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h := s.wrap("/boom", "POST", false, func(w http.ResponseWriter, r *http.Request) error { panic("boom") })
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/boom", strings.NewReader("{}")))
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), `{"error":"internal server error","error_type":"backend"}`) {
		t.Errorf("panic: %d %s", rec.Code, rec.Body)
	}
}

func TestModelPanicIs500AndBatcherSurvives(t *testing.T) {
	st := load(t, testutil.Testdata(t, "golden", "st_embed"))
	ts := start(t, Config{}, Model{"st", st})
	e := ts.srv.models[0]
	_, _, err := submitOp(context.Background(), e.b, "boom", []int{1}, 1, func(ctx context.Context, in []int) ([]int, error) {
		panic("boom")
	})
	if ae := asAPIError(err); ae.Status != 500 {
		t.Fatalf("panic in the model call: %v", err)
	}
	if status, body, _ := ts.do(t, "POST", "/embed", `{"inputs":"still alive"}`); status != 200 {
		t.Errorf("after a panic: %d %s", status, body)
	}
}
