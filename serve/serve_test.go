package serve

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"net/http"
	"sort"
	"strings"
	"testing"

	"bioencoder"
	"bioencoder/internal/testutil"
)

var texts3 = []string{"aspirin inhibits platelet aggregation", "the kidney filters blood", "Metformin lowers glucose."}

func TestEmbed(t *testing.T) {
	m := load(t, testutil.Testdata(t, "golden", "st_embed"))
	ts := start(t, Config{}, Model{"st", m})
	ctx := context.Background()
	want, err := m.Embed(ctx, texts3)
	if err != nil {
		t.Fatal(err)
	}

	var batch [][]float32
	ts.post(t, "/embed", map[string]any{"inputs": texts3}, &batch)
	if len(batch) != 3 {
		t.Fatalf("got %d vectors", len(batch))
	}
	for i := range texts3 {
		checkVec(t, "embed", batch[i], normalized(want[i]))
	}

	var single [][]float32
	ts.post(t, "/embed", map[string]any{"inputs": texts3[1], "normalize": false}, &single)
	if len(single) != 1 {
		t.Fatalf("single input gave %d vectors", len(single))
	}
	checkVec(t, "embed normalize=false", single[0], want[1])

	// dimensions: the first d components, normalised again.
	var short [][]float32
	ts.post(t, "/embed", map[string]any{"inputs": texts3[0], "dimensions": 8}, &short)
	checkVec(t, "embed dimensions=8", short[0], normalized(want[0][:8]))

	// Token ids are fed as they are: the ids Embed uses give the same vector.
	ids, err := m.TokenizeTexts(texts3[:2])
	if err != nil {
		t.Fatal(err)
	}
	var fromIDs [][]float32
	ts.post(t, "/embed", map[string]any{"inputs": []any{ids[0], texts3[2], ids[1]}, "normalize": false}, &fromIDs)
	checkVec(t, "embed ids[0]", fromIDs[0], want[0])
	checkVec(t, "embed text between ids", fromIDs[1], want[2])
	checkVec(t, "embed ids[1]", fromIDs[2], want[1])
	var oneIDs [][]float32
	ts.post(t, "/embed", map[string]any{"inputs": ids[1], "normalize": false}, &oneIDs)
	if len(oneIDs) != 1 {
		t.Fatalf("one id array gave %d vectors, want 1", len(oneIDs))
	}
	checkVec(t, "embed single id array", oneIDs[0], want[1])
}

func TestEmbedPrompts(t *testing.T) {
	m := load(t, promptedEmbed(t))
	ts := start(t, Config{}, Model{"p", m})
	want, err := m.EmbedWith(context.Background(), texts3[:2], bioencoder.EmbedOptions{PromptName: "query"})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := m.Embed(context.Background(), texts3[:2])
	if err != nil {
		t.Fatal(err)
	}
	var got [][]float32
	ts.post(t, "/embed", map[string]any{"inputs": texts3[:2], "prompt_name": "query", "normalize": false}, &got)
	for i := range got {
		checkVec(t, "prompted embed", got[i], want[i])
	}
	if near(float64(got[0][0]), float64(plain[0][0]), 1e-7) && near(float64(got[0][1]), float64(plain[0][1]), 1e-7) {
		t.Error("the prompt changed nothing")
	}
	var toks [][]simpleToken
	ts.post(t, "/tokenize", map[string]any{"inputs": "x", "prompt_name": "passage"}, &toks)
	if toks[0][1].Text != "passage" {
		t.Errorf("tokenize with prompt: first token %+v, want the prompt's", toks[0][1])
	}
	status, body, _ := ts.do(t, "POST", "/embed", `{"inputs":"x","prompt_name":"nope"}`)
	if status != 422 || !strings.Contains(string(body), `"validation"`) || !strings.Contains(string(body), "nope") {
		t.Errorf("unknown prompt: %d %s", status, body)
	}
}

func TestTruncation(t *testing.T) {
	m := load(t, testutil.Testdata(t, "golden", "st_embed"))
	ts := start(t, Config{}, Model{"st", m})
	long := strings.Repeat("aspirin inhibits platelet aggregation ", 20) + "END of the text"
	ctx := context.Background()

	// Too long without truncation: 413 validation, as TEI.
	status, body, _ := ts.do(t, "POST", "/embed", `{"inputs":"`+long+`"}`)
	if status != 413 || !strings.Contains(string(body), "must have less than 33 tokens") {
		t.Fatalf("over-long input: %d %s", status, body)
	}
	// truncate=true: the library's right truncation.
	want, _ := m.Embed(ctx, []string{long})
	var right [][]float32
	ts.post(t, "/embed", map[string]any{"inputs": long, "truncate": true, "normalize": false}, &right)
	checkVec(t, "right-truncated", right[0], want[0])

	// Left truncation keeps the end of the text: the same as embedding the
	// kept words alone.
	var left [][]float32
	ts.post(t, "/embed", map[string]any{"inputs": long, "truncate": true, "truncation_direction": "Left", "normalize": false}, &left)
	enc, _ := m.Tokenizer().Encode(long, bioencoderTokOpts())
	cut := cutLeft(long, 0, enc, m.MaxLength())
	if !strings.HasSuffix(cut, "END of the text") || len(cut) >= len(long) {
		t.Fatalf("left cut %q", cut)
	}
	ids, _ := m.TokenizeTexts([]string{cut})
	if len(ids[0]) > m.MaxLength() || len(ids[0]) < m.MaxLength()/2 {
		t.Errorf("left cut has %d tokens, limit %d", len(ids[0]), m.MaxLength())
	}
	wantLeft, _ := m.Embed(ctx, []string{cut})
	checkVec(t, "left-truncated", left[0], wantLeft[0])

	// Server-wide auto-truncate.
	ts2 := start(t, Config{AutoTruncate: true}, Model{"st", m})
	var auto [][]float32
	ts2.post(t, "/embed", map[string]any{"inputs": long, "normalize": false}, &auto)
	checkVec(t, "auto-truncated", auto[0], want[0])
	status, _, _ = ts2.do(t, "POST", "/embed", `{"inputs":"`+long+`","truncate":false}`)
	if status != 413 {
		t.Errorf("truncate=false overrides auto-truncate: got %d", status)
	}
}

func TestOpenAIEmbeddings(t *testing.T) {
	m := load(t, testutil.Testdata(t, "golden", "st_embed"))
	ce := load(t, testutil.Testdata(t, "golden", "cross_encoder"))
	ts := start(t, Config{}, Model{"ce", ce}, Model{"st", m})
	want, _ := m.Embed(context.Background(), texts3)
	ids, _ := m.TokenizeTexts(texts3)
	tokens := 0
	for _, x := range ids {
		tokens += len(x)
	}

	var raw json.RawMessage
	ts.post(t, "/v1/embeddings", map[string]any{"input": texts3, "model": "st"}, &raw)
	sameKeys(t, "response", raw, "object", "data", "model", "usage")
	var resp struct {
		Object string            `json:"object"`
		Data   []json.RawMessage `json:"data"`
		Model  string            `json:"model"`
		Usage  json.RawMessage   `json:"usage"`
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Object != "list" || resp.Model != "st" || len(resp.Data) != 3 {
		t.Fatalf("response %s", raw)
	}
	sameKeys(t, "usage", resp.Usage, "prompt_tokens", "total_tokens")
	var usage openAIUsage
	json.Unmarshal(resp.Usage, &usage)
	if usage.PromptTokens != tokens || usage.TotalTokens != tokens {
		t.Errorf("usage %+v, want %d tokens", usage, tokens)
	}
	for i, d := range resp.Data {
		sameKeys(t, "data item", d, "object", "index", "embedding")
		var item struct {
			Object    string    `json:"object"`
			Index     int       `json:"index"`
			Embedding []float32 `json:"embedding"`
		}
		json.Unmarshal(d, &item)
		if item.Object != "embedding" || item.Index != i {
			t.Errorf("item %d: %s", i, d)
		}
		checkVec(t, "openai embedding", item.Embedding, normalized(want[i]))
	}

	// base64: little-endian float32; dimensions: cut and renormalised.
	var b64 openAIResponse
	ts.post(t, "/v1/embeddings", map[string]any{"input": texts3[0], "model": "st", "encoding_format": "base64", "dimensions": 5}, &b64)
	s, ok := b64.Data[0].Embedding.(string)
	if !ok {
		t.Fatalf("base64 embedding is %T", b64.Data[0].Embedding)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != 20 {
		t.Fatalf("base64 %q: %d bytes, %v", s, len(b), err)
	}
	got := make([]float32, 5)
	for i := range got {
		got[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	checkVec(t, "base64 dimensions=5", got, normalized(want[0][:5]))

	// Token arrays: one sequence, and a batch of sequences.
	var one, two openAIResponse
	ts.post(t, "/v1/embeddings", map[string]any{"input": ids[2], "model": "st"}, &one)
	if len(one.Data) != 1 || one.Usage.PromptTokens != len(ids[2]) {
		t.Fatalf("one token array: %+v", one)
	}
	ts.post(t, "/v1/embeddings", map[string]any{"input": ids[:2], "model": "st"}, &two)
	if len(two.Data) != 2 {
		t.Fatalf("two token arrays: %d items", len(two.Data))
	}
	toF := func(v any) []float32 {
		var out []float32
		for _, x := range v.([]any) {
			out = append(out, float32(x.(float64)))
		}
		return out
	}
	checkVec(t, "token array", toF(one.Data[0].Embedding), normalized(want[2]))
	checkVec(t, "token arrays[1]", toF(two.Data[1].Embedding), normalized(want[1]))

	// The model field picks the model; embeddings from a cross-encoder are refused.
	status, body, _ := ts.do(t, "POST", "/v1/embeddings", `{"input":"x","model":"ce"}`)
	if status != 424 {
		t.Errorf("embeddings from a cross-encoder: %d %s", status, body)
	}
	var e openAIError
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Message == "" || e.Error.Type != "server_error" {
		t.Errorf("OpenAI error body %s", body)
	}

	var models struct {
		Object string            `json:"object"`
		Data   []json.RawMessage `json:"data"`
	}
	status, body, _ = ts.do(t, "GET", "/v1/models", "")
	if status != 200 || json.Unmarshal(body, &models) != nil || models.Object != "list" || len(models.Data) != 2 {
		t.Fatalf("/v1/models: %d %s", status, body)
	}
	sameKeys(t, "model", models.Data[1], "id", "object", "created", "owned_by")
	var md openAIModel
	json.Unmarshal(models.Data[1], &md)
	if md.ID != "st" || md.Object != "model" {
		t.Errorf("model %+v", md)
	}
}

func TestEmbedAll(t *testing.T) {
	m := load(t, testutil.Testdata(t, "golden", "st_embed"))
	ts := start(t, Config{}, Model{"st", m})
	want, _ := m.Embed(context.Background(), texts3)
	ids, _ := m.TokenizeTexts(texts3)
	var all [][][]float32
	ts.post(t, "/embed_all", map[string]any{"inputs": texts3}, &all)
	if len(all) != 3 {
		t.Fatalf("%d inputs", len(all))
	}
	// st_embed is mean pooling + Normalize: the mean of the token vectors,
	// normalised, is the sentence embedding.
	for i, rows := range all {
		if len(rows) != len(ids[i]) {
			t.Fatalf("input %d: %d token vectors, want %d", i, len(rows), len(ids[i]))
		}
		mean := make([]float32, len(rows[0]))
		for _, r := range rows {
			for k, v := range r {
				mean[k] += v / float32(len(rows))
			}
		}
		checkVec(t, "mean of embed_all", normalized(mean), want[i])
	}
}

func TestSimilarity(t *testing.T) {
	m := load(t, testutil.Testdata(t, "golden", "st_embed"))
	ts := start(t, Config{}, Model{"st", m})
	vecs, _ := m.Embed(context.Background(), texts3)
	var got []float32
	ts.post(t, "/similarity", map[string]any{"inputs": map[string]any{"source_sentence": texts3[0], "sentences": texts3[1:]}}, &got)
	if len(got) != 2 {
		t.Fatalf("%d scores", len(got))
	}
	for i := range got {
		want, _ := m.Similarity(vecs[0], vecs[i+1])
		if !near(float64(got[i]), float64(want), 1e-5) {
			t.Errorf("similarity %d = %v, want %v", i, got[i], want)
		}
	}
}

func TestRerank(t *testing.T) {
	m := load(t, testutil.Testdata(t, "golden", "cross_encoder"))
	ts := start(t, Config{}, Model{"ce", m})
	ctx := context.Background()
	q := "what lowers blood glucose?"
	docs := texts3
	want, err := m.Rerank(ctx, q, docs)
	if err != nil {
		t.Fatal(err)
	}
	var raw []json.RawMessage
	ts.post(t, "/rerank", map[string]any{"query": q, "texts": docs, "return_text": true}, &raw)
	var ranks []rank
	for _, r := range raw {
		sameKeys(t, "rank", r, "index", "text", "score")
		var x rank
		json.Unmarshal(r, &x)
		ranks = append(ranks, x)
	}
	if len(ranks) != len(docs) {
		t.Fatalf("%d ranks", len(ranks))
	}
	if !sort.SliceIsSorted(ranks, func(a, b int) bool { return ranks[a].Score > ranks[b].Score }) {
		t.Errorf("ranks not sorted: %+v", ranks)
	}
	seen := map[int]bool{}
	for _, r := range ranks {
		seen[r.Index] = true
		if !near(float64(r.Score), float64(want[r.Index]), 1e-5) || *r.Text != docs[r.Index] {
			t.Errorf("rank %+v, want score %v text %q", r, want[r.Index], docs[r.Index])
		}
	}
	if len(seen) != len(docs) {
		t.Errorf("indices %v", seen)
	}
	// Without return_text the key is absent; raw_scores gives the logits.
	ts.post(t, "/rerank", map[string]any{"query": q, "texts": docs, "raw_scores": true}, &raw)
	logits, _ := m.Logits(ctx, []bioencoder.Pair{{A: q, B: docs[0]}, {A: q, B: docs[1]}, {A: q, B: docs[2]}})
	for _, r := range raw {
		sameKeys(t, "rank without text", r, "index", "score")
		var x rank
		json.Unmarshal(r, &x)
		if !near(float64(x.Score), float64(logits[x.Index][0]), 1e-5) {
			t.Errorf("raw score %+v, want %v", x, logits[x.Index][0])
		}
	}
}

func TestPredict(t *testing.T) {
	ce := load(t, testutil.Testdata(t, "golden", "cross_encoder"))
	cls := load(t, fixtureWithTokenizer(t, "bert_seqcls"))
	if cls.Kind() != bioencoder.Classifier {
		t.Fatalf("bert_seqcls loads as %v", cls.Kind())
	}
	ts := start(t, Config{}, Model{"ce", ce}, Model{"cls", cls})
	ctx := context.Background()

	// A cross-encoder scores a pair through its activation.
	want, _ := ce.Predict(ctx, []bioencoder.Pair{{A: texts3[0], B: texts3[1]}})
	var one []json.RawMessage
	ts.post(t, "/predict?model=ce", map[string]any{"inputs": []string{texts3[0], texts3[1]}}, &one)
	if len(one) != 1 {
		t.Fatalf("pair: %d predictions", len(one))
	}
	sameKeys(t, "prediction", one[0], "score", "label")
	var p prediction
	json.Unmarshal(one[0], &p)
	if p.Label != "LABEL_0" || !near(float64(p.Score), float64(want[0][0]), 1e-5) {
		t.Errorf("cross-encoder prediction %+v, want %v", p, want[0][0])
	}

	// A classifier: every label, best first, as Classify.
	wantC, _ := cls.Classify(ctx, texts3)
	var batch [][]prediction
	ts.post(t, "/predict", map[string]any{"inputs": [][]string{{texts3[0]}, {texts3[1]}, {texts3[2]}}}, &batch, "X-Model", "cls")
	if len(batch) != 3 {
		t.Fatalf("%d results", len(batch))
	}
	for i := range batch {
		if len(batch[i]) != 3 {
			t.Fatalf("input %d: %d labels", i, len(batch[i]))
		}
		for k, p := range batch[i] {
			if p.Label != wantC[i][k].Label || !near(float64(p.Score), float64(wantC[i][k].Score), 1e-5) {
				t.Errorf("input %d label %d: %+v, want %+v", i, k, p, wantC[i][k])
			}
		}
	}
	// raw_scores: the logits.
	logits, _ := cls.Logits(ctx, []bioencoder.Pair{{A: texts3[0]}})
	var rawP []prediction
	ts.post(t, "/predict", map[string]any{"inputs": texts3[0], "raw_scores": true}, &rawP, "X-Model", "cls")
	for _, p := range rawP {
		k := int(p.Label[len(p.Label)-1] - '0')
		if !near(float64(p.Score), float64(logits[0][k]), 1e-5) {
			t.Errorf("raw %+v, want %v", p, logits[0][k])
		}
	}
	// A classifier with 3 labels is not a re-ranker.
	status, body, _ := ts.do(t, "POST", "/rerank?model=cls", `{"query":"q","texts":["a"]}`)
	if status != 424 || !strings.Contains(string(body), `"error_type":"backend"`) {
		t.Errorf("rerank on a 3-label classifier: %d %s", status, body)
	}
}

func TestTokenizeDecode(t *testing.T) {
	m := load(t, testutil.Testdata(t, "golden", "st_embed"))
	ts := start(t, Config{}, Model{"st", m})
	text := "Aspirin inhibits COX-1."
	var raw [][]json.RawMessage
	ts.post(t, "/tokenize", map[string]any{"inputs": []string{text}}, &raw)
	enc, _ := m.Tokenizer().Encode(text, bioencoderTokOpts())
	if len(raw) != 1 || len(raw[0]) != len(enc.IDs) {
		t.Fatalf("tokens %d, want %d", len(raw[0]), len(enc.IDs))
	}
	var ids []int
	for i, r := range raw[0] {
		sameKeys(t, "token", r, "id", "text", "special", "start", "stop")
		var tok simpleToken
		json.Unmarshal(r, &tok)
		if tok.ID != enc.IDs[i] {
			t.Errorf("token %d id %d, want %d", i, tok.ID, enc.IDs[i])
		}
		if tok.Special != (enc.SpecialTokensMask[i] == 1) {
			t.Errorf("token %d special %v", i, tok.Special)
		}
		if tok.Special {
			if tok.Start != nil || tok.Stop != nil || tok.Text != enc.Tokens[i] {
				t.Errorf("special token %s", r)
			}
		} else if tok.Start == nil || text[*tok.Start:*tok.Stop] != tok.Text {
			t.Errorf("token %s does not cover its text", r)
		}
		ids = append(ids, tok.ID)
	}
	var none [][]simpleToken
	ts.post(t, "/tokenize", map[string]any{"inputs": text, "add_special_tokens": false}, &none)
	if len(none[0]) != len(enc.IDs)-2 {
		t.Errorf("without special tokens: %d tokens", len(none[0]))
	}

	var dec []string
	ts.post(t, "/decode", map[string]any{"ids": ids}, &dec)
	if len(dec) != 1 || dec[0] != m.Tokenizer().Decode(ids, true) {
		t.Errorf("decode %q, want %q", dec, m.Tokenizer().Decode(ids, true))
	}
	ts.post(t, "/decode", map[string]any{"ids": [][]int{ids, ids[:3]}, "skip_special_tokens": false}, &dec)
	if len(dec) != 2 || dec[1] != m.Tokenizer().Decode(ids[:3], false) || !strings.Contains(dec[0], "[CLS]") {
		t.Errorf("decode batch %q", dec)
	}
}

func TestInfoHealthMetrics(t *testing.T) {
	st := load(t, testutil.Testdata(t, "golden", "st_embed"))
	ce := load(t, testutil.Testdata(t, "golden", "cross_encoder"))
	ts := start(t, Config{MaxBatchRequests: 4}, Model{"st", st}, Model{"ce", ce})
	status, body, _ := ts.do(t, "GET", "/info", "")
	if status != 200 {
		t.Fatalf("/info %d %s", status, body)
	}
	sameKeys(t, "info", body, "model_id", "model_sha", "model_dtype", "model_type", "max_concurrent_requests",
		"max_input_length", "max_batch_tokens", "max_batch_requests", "max_client_batch_size", "auto_truncate",
		"tokenization_workers", "version", "sha", "docker_label", "kind", "dim", "similarity", "models")
	var info infoResponse
	json.Unmarshal(body, &info)
	if info.ModelID != "st" || info.MaxInputLength != st.MaxLength() || info.MaxBatchTokens != 16384 ||
		*info.MaxBatchRequests != 4 || info.MaxClientBatchSize != 32 || info.Dim != 32 {
		t.Errorf("info %s", body)
	}
	if p := info.ModelType["embedding"].(map[string]any)["pooling"]; p != "mean" {
		t.Errorf("model_type %v", info.ModelType)
	}
	status, body, _ = ts.do(t, "GET", "/info?model=ce", "")
	if status != 200 || !strings.Contains(string(body), `"model_type":{"reranker":{"id2label":{"0":"LABEL_0"},"label2id":{"LABEL_0":0}}}`) {
		t.Errorf("/info?model=ce: %s", body)
	}
	if status, body, _ := ts.do(t, "GET", "/health", ""); status != 200 || len(body) != 0 {
		t.Errorf("/health %d %q", status, body)
	}
	ts.do(t, "POST", "/embed", `{"inputs":"x"}`)
	status, body, _ = ts.do(t, "GET", "/metrics", "")
	for _, series := range []string{`bioenc_requests_total{route="/embed",status="200"} 1`, "bioenc_request_duration_seconds_bucket",
		`bioenc_queue_depth{model="st"} 0`, "bioenc_batch_requests_bucket", "bioenc_batch_tokens_bucket",
		`bioenc_tokens_total{model="st"} 3`, "go_goroutines"} {
		if !strings.Contains(string(body), series) {
			t.Errorf("/metrics has no %s", series)
		}
	}
	ts.srv.closing.Store(true)
	if status, body, _ := ts.do(t, "GET", "/health", ""); status != 503 || !strings.Contains(string(body), `"unhealthy"`) {
		t.Errorf("/health while closing: %d %s", status, body)
	}
}

func TestFillMask(t *testing.T) {
	m := load(t, fixtureWithTokenizer(t, "bert_mlm"))
	if m.Kind() != bioencoder.MaskedLM {
		t.Fatalf("bert_mlm loads as %v", m.Kind())
	}
	ts := start(t, Config{}, Model{"mlm", m})
	in := []string{"aspirin [MASK] platelets", "the [MASK] filters [MASK]"}
	want, err := m.FillMask(context.Background(), in, 3)
	if err != nil {
		t.Fatal(err)
	}
	var raw [][]json.RawMessage
	ts.post(t, "/fill_mask", map[string]any{"inputs": in, "top_k": 3}, &raw)
	if len(raw) != 2 || len(raw[0]) != 3 || len(raw[1]) != 6 {
		t.Fatalf("shape %d/%d", len(raw), len(raw[0]))
	}
	for i := range raw {
		for k, r := range raw[i] {
			sameKeys(t, "prediction", r, "score", "token", "token_str", "sequence", "mask")
			var p bioencoder.MaskPrediction
			json.Unmarshal(r, &p)
			w := want[i][k]
			if p.Token != w.Token || p.TokenStr != w.TokenStr || p.Sequence != w.Sequence || p.Mask != w.Mask ||
				!near(float64(p.Score), float64(w.Score), 1e-5) {
				t.Errorf("text %d prediction %d: %+v, want %+v", i, k, p, w)
			}
		}
	}
	var single []bioencoder.MaskPrediction
	ts.post(t, "/fill_mask", map[string]any{"inputs": in[0]}, &single)
	if len(single) != 5 {
		t.Errorf("default top_k gave %d", len(single))
	}
	status, body, _ := ts.do(t, "POST", "/fill_mask", `{"inputs":["no mask here"]}`)
	if status != 422 || !strings.Contains(string(body), "no mask token [MASK]") {
		t.Errorf("text without mask: %d %s", status, body)
	}
}

func TestNER(t *testing.T) {
	m := load(t, fixtureWithTokenizer(t, "bert_tokcls"))
	ts := start(t, Config{}, Model{"ner", m})
	ctx := context.Background()
	for _, agg := range []bioencoder.Aggregation{bioencoder.AggregateNone, bioencoder.AggregateSimple, bioencoder.AggregateMax} {
		want, err := m.Entities(ctx, texts3, agg)
		if err != nil {
			t.Fatal(err)
		}
		wantJSON, _ := json.Marshal(want)
		status, body, _ := ts.do(t, "POST", "/ner", `{"inputs":`+mustJSON(texts3)+`,"aggregation_strategy":"`+agg.String()+`"}`)
		if status != 200 || strings.TrimSpace(string(body)) != string(wantJSON) {
			t.Errorf("%v: %d\n got %s\nwant %s", agg, status, body, wantJSON)
		}
	}
	// The default is "simple"; one string gives one list.
	want, _ := m.Entities(ctx, texts3[:1], bioencoder.AggregateSimple)
	wantJSON, _ := json.Marshal(want[0])
	if status, body, _ := ts.do(t, "POST", "/ner", `{"inputs":"`+texts3[0]+`"}`); strings.TrimSpace(string(body)) != string(wantJSON) {
		t.Errorf("default aggregation: %d %s, want %s", status, body, wantJSON)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestColBERT(t *testing.T) {
	m := load(t, testutil.Testdata(t, "golden", "colbert"))
	ts := start(t, Config{}, Model{"colbert", m})
	ctx := context.Background()
	for _, query := range []bool{false, true} {
		want, err := m.EncodeColBERT(ctx, texts3, query)
		if err != nil {
			t.Fatal(err)
		}
		var got [][][]float32
		ts.post(t, "/colbert", map[string]any{"inputs": texts3, "is_query": query}, &got)
		if len(got) != len(want) {
			t.Fatalf("%d texts", len(got))
		}
		for i := range got {
			if len(got[i]) != len(want[i]) {
				t.Fatalf("query=%v text %d: %d vectors, want %d", query, i, len(got[i]), len(want[i]))
			}
			for k := range got[i] {
				checkVec(t, "colbert vector", got[i][k], want[i][k])
			}
		}
	}
	qs := []string{"what lowers glucose?", "kidney"}
	want, _ := m.Score(ctx, qs, texts3)
	var scores [][]float32
	ts.post(t, "/colbert", map[string]any{"queries": qs, "documents": texts3}, &scores)
	for i := range want {
		checkVec(t, "maxsim", scores[i], want[i])
	}
	status, body, _ := ts.do(t, "POST", "/embed", `{"inputs":"x"}`)
	if status != 424 || !strings.Contains(string(body), "colbert") {
		t.Errorf("/embed on ColBERT: %d %s", status, body)
	}
}

// fakeIndex records calls and returns canned hits.
type fakeIndex struct {
	docs    map[string]Doc
	lastK   int
	failure error
}

func (f *fakeIndex) Add(ctx context.Context, docs []Doc) error {
	if f.failure != nil {
		return f.failure
	}
	for _, d := range docs {
		f.docs[d.ID] = d
	}
	return nil
}

func (f *fakeIndex) Delete(ctx context.Context, ids []string) error {
	for _, id := range ids {
		delete(f.docs, id)
	}
	return nil
}

func (f *fakeIndex) Search(ctx context.Context, query string, k int) ([]Hit, error) {
	f.lastK = k
	var out []Hit
	for _, d := range f.docs {
		if strings.Contains(d.Text, query) {
			out = append(out, Hit{ID: d.ID, Score: 1, Text: d.Text, Metadata: d.Metadata})
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out, nil
}

func TestIndexRoutes(t *testing.T) {
	m := load(t, testutil.Testdata(t, "golden", "st_embed"))
	idx := &fakeIndex{docs: map[string]Doc{}}
	ts := start(t, Config{Index: idx}, Model{"st", m})
	var added indexResponse
	ts.post(t, "/index/add", map[string]any{"documents": []map[string]any{
		{"id": "a", "text": "aspirin and platelets", "metadata": map[string]any{"year": 2020}},
		{"id": "b", "text": "aspirin and the kidney"},
		{"id": "c", "text": "metformin"},
	}}, &added)
	if added.Count != 3 || added.Status != "ok" || len(idx.docs) != 3 {
		t.Fatalf("add: %+v, index has %d", added, len(idx.docs))
	}
	var hits []Hit
	ts.post(t, "/search", map[string]any{"query": "aspirin", "k": 2}, &hits)
	if len(hits) != 2 || hits[0].ID != "a" || hits[0].Metadata["year"] != float64(2020) || idx.lastK != 2 {
		t.Errorf("search: %+v (k %d)", hits, idx.lastK)
	}
	var del indexResponse
	ts.post(t, "/index/delete", map[string]any{"ids": []string{"a"}}, &del)
	if del.Count != 1 || len(idx.docs) != 2 {
		t.Errorf("delete: %+v", del)
	}
	ts.post(t, "/search", map[string]any{"query": "nothing"}, &hits)
	if hits == nil || len(hits) != 0 || idx.lastK != 10 {
		t.Errorf("empty search: %v (k %d)", hits, idx.lastK)
	}
	idx.failure = InvalidInput(errString("document b already exists"))
	if status, body, _ := ts.do(t, "POST", "/index/add", `{"documents":[{"id":"b","text":"x"}]}`); status != 422 ||
		!strings.Contains(string(body), "already exists") {
		t.Errorf("index validation error: %d %s", status, body)
	}
	idx.failure = errString("disk full")
	if status, body, _ := ts.do(t, "POST", "/index/add", `{"documents":[{"id":"d","text":"x"}]}`); status != 424 ||
		!strings.Contains(string(body), "disk full") {
		t.Errorf("index failure: %d %s", status, body)
	}
	// Without an index the routes are 404.
	ts2 := start(t, Config{}, Model{"st", m})
	if status, body, _ := ts2.do(t, "POST", "/search", `{"query":"x"}`); status != http.StatusNotFound ||
		!strings.Contains(string(body), "no index") {
		t.Errorf("search without index: %d %s", status, body)
	}
}

type errString string

func (e errString) Error() string { return string(e) }
