package serve

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"bioencoder/internal/testutil"
)

var fuzzRoutes = []string{"/embed", "/embed_all", "/rerank", "/predict", "/similarity", "/tokenize", "/decode",
	"/v1/embeddings", "/fill_mask", "/ner", "/colbert", "/search", "/index/add", "/index/delete"}

// FuzzHandlers posts arbitrary bodies to every route of a server with an
// embedding model and a cross-encoder: whatever the body, the answer is a
// 200 or a 4xx with a JSON error body, never a 5xx or a panic.
func FuzzHandlers(f *testing.F) {
	// The seed corpus is testdata/fuzz/FuzzHandlers: one request per route,
	// valid and not.
	st := load(f, testutil.Testdata(f, "golden", "st_embed"))
	ce := load(f, testutil.Testdata(f, "golden", "cross_encoder"))
	s, err := New(Config{BatchWait: -1, MaxBodyBytes: 1 << 16}, Model{"st", st}, Model{"ce", ce})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	h := s.Handler()
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		path := fuzzRoutes[int(route)%len(fuzzRoutes)]
		if route >= 128 {
			path += "?model=ce"
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body)))
		if rec.Code >= 500 {
			t.Fatalf("POST %s %q: %d %s", path, body, rec.Code, rec.Body)
		}
		if rec.Code != 200 && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("POST %s %q: %d with a body that is not JSON: %q", path, body, rec.Code, rec.Body)
		}
	})
}
