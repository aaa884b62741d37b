package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"bioencoder/internal/testutil"
)

// gate blocks the batcher inside its first batch until released, so that
// tests can queue requests behind it deterministically.
type gate struct {
	first   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func blockFirstBatch(b *batcher) *gate {
	g := &gate{entered: make(chan struct{}), release: make(chan struct{})}
	b.beforeRun = func([]*job) {
		if g.first.CompareAndSwap(false, true) {
			close(g.entered)
			<-g.release
		}
	}
	return g
}

// waitFor polls cond until it holds; a deadlock shows as a test failure
// instead of a hang.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// histogram reads a Prometheus histogram's _count and _sum for a model.
func histogram(t *testing.T, ts *testServer, name, model string) (count, sum float64) {
	t.Helper()
	_, body, _ := ts.do(t, "GET", "/metrics", "")
	get := func(suffix string) float64 {
		re := regexp.MustCompile(`(?m)^` + name + suffix + `\{model="` + model + `"\} (\S+)$`)
		m := re.FindSubmatch(body)
		if m == nil {
			t.Fatalf("no %s%s for %s in /metrics", name, suffix, model)
		}
		v, err := strconv.ParseFloat(string(m[1]), 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	return get("_count"), get("_sum")
}

type result struct {
	status int
	body   []byte
}

// embedAsync posts /embed in the background.
func embedAsync(t *testing.T, ts *testServer, path, text string) chan result {
	ch := make(chan result, 1)
	go func() {
		resp, err := http.Post(ts.ts.URL+path, "application/json", strings.NewReader(`{"inputs":"`+text+`","normalize":false}`))
		if err != nil {
			ch <- result{status: -1, body: []byte(err.Error())}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		ch <- result{resp.StatusCode, b}
	}()
	return ch
}

func TestBatchingMergesConcurrentRequests(t *testing.T) {
	m := load(t, testutil.Testdata(t, "golden", "st_embed"))
	ts := start(t, Config{BatchWait: time.Millisecond, BatchConcurrency: 1, MaxBatchRequests: -1}, Model{"st", m})
	e := ts.srv.models[0]
	g := blockFirstBatch(e.b)

	first := embedAsync(t, ts, "/embed", "first request")
	<-g.entered
	texts := []string{"aspirin inhibits platelets", "the kidney filters blood", "metformin lowers glucose"}
	var chans []chan result
	for _, tx := range texts {
		chans = append(chans, embedAsync(t, ts, "/embed", tx))
	}
	waitFor(t, "3 queued requests", func() bool { return e.b.queued() == 3 })
	close(g.release)

	if r := <-first; r.status != 200 {
		t.Fatalf("first: %d %s", r.status, r.body)
	}
	want, _ := m.Embed(context.Background(), texts)
	for i, ch := range chans {
		r := <-ch
		if r.status != 200 {
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
		var got [][]float32
		if err := json.Unmarshal(r.body, &got); err != nil {
			t.Fatal(err)
		}
		checkVec(t, "merged result", got[0], want[i])
	}
	// Two model calls: the first request alone, then the three together.
	count, sum := histogram(t, ts, "bioenc_batch_requests", "st")
	if count != 2 || sum != 4 {
		t.Errorf("batch_requests count %v sum %v, want 2 batches of 4 requests (1 then 3)", count, sum)
	}
}

func TestNoMergingWithMaxBatchRequestsOne(t *testing.T) {
	m := load(t, testutil.Testdata(t, "golden", "st_embed"))
	ts := start(t, Config{MaxBatchRequests: 1, BatchConcurrency: 1}, Model{"st", m})
	e := ts.srv.models[0]
	g := blockFirstBatch(e.b)
	first := embedAsync(t, ts, "/embed", "first")
	<-g.entered
	var chans []chan result
	for i := 0; i < 3; i++ {
		chans = append(chans, embedAsync(t, ts, "/embed", fmt.Sprintf("text %d", i)))
	}
	waitFor(t, "3 queued requests", func() bool { return e.b.queued() == 3 })
	close(g.release)
	for _, ch := range append(chans, first) {
		if r := <-ch; r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	}
	if count, sum := histogram(t, ts, "bioenc_batch_requests", "st"); count != 4 || sum != 4 {
		t.Errorf("batch_requests count %v sum %v, want 4 batches of one", count, sum)
	}
}

func TestTokenBudgetBoundsBatches(t *testing.T) {
	m := load(t, testutil.Testdata(t, "golden", "st_embed"))
	text := "aspirin inhibits platelet aggregation"
	ids, _ := m.TokenizeTexts([]string{text})
	n := len(ids[0])
	// Room for two of the queued requests, not three.
	ts := start(t, Config{MaxBatchTokens: 2*n + 1, BatchConcurrency: 1}, Model{"st", m})
	e := ts.srv.models[0]
	g := blockFirstBatch(e.b)
	first := embedAsync(t, ts, "/embed", text)
	<-g.entered
	var chans []chan result
	for i := 0; i < 3; i++ {
		chans = append(chans, embedAsync(t, ts, "/embed", text))
	}
	waitFor(t, "3 queued requests", func() bool { return e.b.queued() == 3 })
	close(g.release)
	for _, ch := range append(chans, first) {
		if r := <-ch; r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	}
	count, sum := histogram(t, ts, "bioenc_batch_requests", "st")
	if count != 3 || sum != 4 {
		t.Errorf("batch_requests count %v sum %v, want batches of 1, 2, 1", count, sum)
	}
	tc, ts2 := histogram(t, ts, "bioenc_batch_tokens", "st")
	if tc != 3 || ts2 != float64(4*n) {
		t.Errorf("batch_tokens count %v sum %v, want 3 batches, %d tokens", tc, ts2, 4*n)
	}
}

func TestQueueFullIs429(t *testing.T) {
	m := load(t, testutil.Testdata(t, "golden", "st_embed"))
	ts := start(t, Config{MaxQueue: 2, BatchConcurrency: 1}, Model{"st", m})
	e := ts.srv.models[0]
	g := blockFirstBatch(e.b)
	first := embedAsync(t, ts, "/embed", "running")
	<-g.entered
	q1, q2 := embedAsync(t, ts, "/embed", "queued one"), embedAsync(t, ts, "/embed", "queued two")
	waitFor(t, "a full queue", func() bool { return e.b.queued() == 2 })

	status, body, _ := ts.do(t, "POST", "/embed", `{"inputs":"one too many"}`)
	if status != 429 || strings.TrimSpace(string(body)) != `{"error":"Model is overloaded","error_type":"overloaded"}` {
		t.Errorf("full queue: %d %s", status, body)
	}
	status, body, _ = ts.do(t, "POST", "/v1/embeddings", `{"input":"one too many"}`)
	if status != 429 || !strings.Contains(string(body), `"type":"rate_limit_error"`) {
		t.Errorf("full queue (OpenAI): %d %s", status, body)
	}
	close(g.release)
	for _, ch := range []chan result{first, q1, q2} {
		if r := <-ch; r.status != 200 {
			t.Errorf("%d %s", r.status, r.body)
		}
	}
	_, metrics, _ := ts.do(t, "GET", "/metrics", "")
	if !strings.Contains(string(metrics), `bioenc_requests_total{route="/embed",status="429"} 1`) {
		t.Error("the 429 is not counted in /metrics")
	}
}

func TestCancelledRequestsLeaveTheQueue(t *testing.T) {
	m := load(t, testutil.Testdata(t, "golden", "st_embed"))
	ts := start(t, Config{RequestTimeout: 300 * time.Millisecond, BatchConcurrency: 1}, Model{"st", m})
	e := ts.srv.models[0]
	g := blockFirstBatch(e.b)
	first := embedAsync(t, ts, "/embed", "running")
	<-g.entered

	// A client that goes away.
	ctx, cancel := context.WithCancel(context.Background())
	gone := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "POST", ts.ts.URL+"/embed", strings.NewReader(`{"inputs":"leaving"}`))
		_, err := http.DefaultClient.Do(req)
		gone <- err
	}()
	waitFor(t, "the request to queue", func() bool { return e.b.queued() == 1 })
	cancel()
	<-gone
	waitFor(t, "the cancelled request to leave the queue", func() bool { return e.b.queued() == 0 })

	// A request that times out on the server: 504 and out of the queue.
	status, body, _ := ts.do(t, "POST", "/embed", `{"inputs":"too slow"}`)
	if status != 504 || !strings.Contains(string(body), "timed out") {
		t.Errorf("timeout: %d %s", status, body)
	}
	if q := e.b.queued(); q != 0 {
		t.Errorf("%d jobs left in the queue", q)
	}
	close(g.release)
	<-first // timed out too while blocked; it must come back, whatever its status
	if status, body, _ := ts.do(t, "POST", "/embed", `{"inputs":"after"}`); status != 200 {
		t.Errorf("after cancellations: %d %s", status, body)
	}
}

func TestOneBadJobDoesNotFailItsBatch(t *testing.T) {
	m := load(t, testutil.Testdata(t, "golden", "st_embed"))
	ts := start(t, Config{BatchConcurrency: 1}, Model{"st", m})
	b := ts.srv.models[0].b
	g := blockFirstBatch(b)
	first := embedAsync(t, ts, "/embed", "first")
	<-g.entered
	defer func() { <-first }()
	call := func(ctx context.Context, in []string) ([]string, error) {
		for _, s := range in {
			if s == "bad" {
				return nil, errors.New("bad input")
			}
		}
		return in, nil
	}
	type res struct {
		out []string
		err error
	}
	good, bad := make(chan res, 1), make(chan res, 1)
	go func() {
		out, _, err := submitOp(context.Background(), b, "test", []string{"ok"}, 1, call)
		good <- res{out, err}
	}()
	waitFor(t, "one queued", func() bool { return b.queued() == 1 })
	go func() {
		out, _, err := submitOp(context.Background(), b, "test", []string{"bad"}, 1, call)
		bad <- res{out, err}
	}()
	waitFor(t, "two queued", func() bool { return b.queued() == 2 })
	close(g.release)
	if r := <-good; r.err != nil || len(r.out) != 1 || r.out[0] != "ok" {
		t.Errorf("good job: %+v", r)
	}
	if r := <-bad; r.err == nil || r.err.Error() != "bad input" {
		t.Errorf("bad job: %+v", r)
	}
}

func TestGracefulShutdown(t *testing.T) {
	m := load(t, testutil.Testdata(t, "golden", "st_embed"))
	s, err := New(Config{BatchConcurrency: 1}, Model{"st", m})
	if err != nil {
		t.Fatal(err)
	}
	g := blockFirstBatch(s.models[0].b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln, 20*time.Second) }()

	inflight := make(chan result, 1)
	go func() {
		resp, err := http.Post(url+"/embed", "application/json", strings.NewReader(`{"inputs":"in flight"}`))
		if err != nil {
			inflight <- result{-1, []byte(err.Error())}
			return
		}
		resp.Body.Close()
		inflight <- result{status: resp.StatusCode}
	}()
	<-g.entered
	stop() // as SIGTERM does
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	waitFor(t, "the listener to close", func() bool {
		resp, err := client.Get(url + "/health")
		if err == nil {
			resp.Body.Close()
		}
		return err != nil
	})
	close(g.release)
	if r := <-inflight; r.status != 200 {
		t.Errorf("in-flight request during shutdown: %d %s", r.status, r.body)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if !s.closing.Load() {
		t.Error("server not marked closed")
	}
}

func TestBatchConcurrencyRunsBatchesSideBySide(t *testing.T) {
	m := load(t, testutil.Testdata(t, "golden", "st_embed"))
	ts := start(t, Config{BatchConcurrency: 2}, Model{"st", m})
	g := blockFirstBatch(ts.srv.models[0].b)
	first := embedAsync(t, ts, "/embed", "blocked")
	<-g.entered
	// With a second run slot, a request is answered while the first batch
	// is still held.
	if status, body, _ := ts.do(t, "POST", "/embed", `{"inputs":"beside it"}`); status != 200 {
		t.Errorf("second batch: %d %s", status, body)
	}
	close(g.release)
	if r := <-first; r.status != 200 {
		t.Errorf("first batch: %d %s", r.status, r.body)
	}
}
