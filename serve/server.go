// Package serve is bioencoder's HTTP server: the text-embeddings-inference
// (TEI) API, OpenAI's embeddings API, and routes of its own (fill-mask,
// NER, ColBERT, semantic search), over one or more loaded models.
//
// Requests do not run the model themselves. Each model has a batcher: a
// bounded queue and one goroutine that takes the oldest request plus every
// queued request of the same operation that fits in the token budget
// (MaxBatchTokens) and request budget (MaxBatchRequests), waiting at most
// BatchWait after the oldest was queued, and runs them as ONE library call
// whose results it hands back to each request. Up to BatchConcurrency
// batches of a model run at once (default 2), so that the model keeps
// working while a finished batch's answers are written and its clients send
// their next requests; with a closed loop of clients on 2 cores that, and
// a cap of 8 requests per batch, is what made merging pay in measurements
// with tools/loadtest. A full queue answers 429; a request whose client goes away
// or times out leaves the queue at once.
//
// Routes (TEI shapes unless noted; every POST takes JSON):
//
//	POST /embed          {inputs, normalize=true, truncate, truncation_direction, prompt_name, dimensions} -> [[f32]]
//	POST /embed_all      {inputs, truncate, truncation_direction, prompt_name} -> [[[f32]]] (every token's last hidden state)
//	POST /rerank         {query, texts, truncate, raw_scores, return_text} -> [{index, score, text?}], best first
//	POST /predict        {inputs, truncate, raw_scores} -> [{label, score}] or [[{label, score}]]
//	POST /similarity     {inputs: {source_sentence, sentences}, parameters} -> [f32]
//	POST /tokenize       {inputs, add_special_tokens=true, prompt_name} -> [[{id, text, special, start, stop}]]
//	POST /decode         {ids, skip_special_tokens=true} -> [string]
//	GET  /info, /health, /metrics
//	POST /v1/embeddings  OpenAI {input, model, encoding_format, dimensions} (also /embeddings); GET /v1/models
//	POST /fill_mask      {inputs, top_k=5, truncate} -> [prediction] or [[prediction]]
//	POST /ner            {inputs, aggregation_strategy="simple", truncate} -> [entity] or [[entity]]
//	POST /colbert        {inputs, is_query} -> [[[f32]]]; or {queries, documents} -> [[f32]] MaxSim scores
//	POST /search         {query, k=10} -> [{id, score, ...}]
//	POST /index/add      {documents: [{id, text, metadata}]};  POST /index/delete {ids}
//
// A request picks its model by the OpenAI "model" field, the X-Model header
// or the ?model= parameter; the first model is the default.
package serve

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"bioencoder"
)

// Version is reported by /info.
const Version = "0.1.0"

// Config holds the server's limits. Zero values take the defaults below.
type Config struct {
	MaxBatchTokens     int           // tokens in one model call (16384)
	MaxBatchRequests   int           // requests merged into one call (8); <0 = no limit, 1 = no merging
	BatchWait          time.Duration // how long the oldest queued request may wait for others (2ms; <0 = 0)
	BatchConcurrency   int           // batches of one model allowed to run at once (2)
	MaxQueue           int           // queued requests per model before 429 (512)
	MaxClientBatchSize int           // inputs in one request before 413 (32, as TEI)
	RequestTimeout     time.Duration // per request (60s)
	MaxBodyBytes       int64         // request body size before 413 (2,000,000, as TEI)
	AutoTruncate       bool          // truncate over-long inputs when the request does not say
	APIKey             string        // if set, every route but /health needs "Authorization: Bearer KEY"
	Logger             *slog.Logger  // nil: discard
	Index              Index         // backs /search and /index/*; nil: those routes answer 404
}

func (c *Config) defaults() {
	if c.MaxBatchTokens <= 0 {
		c.MaxBatchTokens = 16384
	}
	if c.BatchWait == 0 {
		c.BatchWait = 2 * time.Millisecond
	}
	if c.BatchWait < 0 {
		c.BatchWait = 0
	}
	if c.MaxBatchRequests == 0 {
		c.MaxBatchRequests = 8
	}
	if c.MaxBatchRequests < 0 {
		c.MaxBatchRequests = 0 // the batcher's "no limit"
	}
	if c.BatchConcurrency <= 0 {
		c.BatchConcurrency = 2
	}
	if c.MaxQueue <= 0 {
		c.MaxQueue = 512
	}
	if c.MaxClientBatchSize <= 0 {
		c.MaxClientBatchSize = 32
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 60 * time.Second
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 2_000_000
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Model names a loaded model for the server.
type Model struct {
	Name  string
	Model *bioencoder.Model
}

// Server serves models over HTTP. Create it with New, mount Handler, and
// call Close (or Serve, which closes) when done.
type Server struct {
	cfg     Config
	log     *slog.Logger
	models  []*entry
	byName  map[string]*entry
	met     *metrics
	mux     *http.ServeMux
	closing atomic.Bool
}

// New starts a batcher per model. Names must be unique and non-empty.
func New(cfg Config, models ...Model) (*Server, error) {
	cfg.defaults()
	if len(models) == 0 {
		return nil, errors.New("serve: no model to serve")
	}
	s := &Server{cfg: cfg, log: cfg.Logger, byName: map[string]*entry{}, met: newMetrics(), mux: http.NewServeMux()}
	for _, nm := range models {
		if nm.Name == "" || nm.Model == nil {
			return nil, errors.New("serve: a model needs a name and a loaded model")
		}
		if _, dup := s.byName[nm.Name]; dup {
			return nil, fmt.Errorf("serve: model name %q used twice", nm.Name)
		}
		e, err := newEntry(nm.Name, nm.Model)
		if err != nil {
			return nil, fmt.Errorf("serve: model %s: %w", nm.Name, err)
		}
		// One library call never exceeds the server's token budget.
		nm.Model.MaxBatchTokens = cfg.MaxBatchTokens
		s.models = append(s.models, e)
		s.byName[nm.Name] = e
	}
	for _, e := range s.models {
		e.b = newBatcher(e.name, cfg.MaxBatchTokens, cfg.MaxBatchRequests, cfg.MaxQueue, cfg.BatchConcurrency, cfg.BatchWait, s.log, s.met)
	}
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	post, get := http.MethodPost, http.MethodGet
	for _, r := range []struct {
		path, method string
		openAI       bool
		h            func(http.ResponseWriter, *http.Request) error
	}{
		{"/embed", post, false, s.handleEmbed},
		{"/embed_all", post, false, s.handleEmbedAll},
		{"/rerank", post, false, s.handleRerank},
		{"/predict", post, false, s.handlePredict},
		{"/similarity", post, false, s.handleSimilarity},
		{"/tokenize", post, false, s.handleTokenize},
		{"/decode", post, false, s.handleDecode},
		{"/info", get, false, s.handleInfo},
		{"/health", get, false, s.handleHealth},
		{"/v1/embeddings", post, true, s.handleOpenAIEmbeddings},
		{"/embeddings", post, true, s.handleOpenAIEmbeddings},
		{"/v1/models", get, true, s.handleOpenAIModels},
		{"/fill_mask", post, false, s.handleFillMask},
		{"/ner", post, false, s.handleNER},
		{"/colbert", post, false, s.handleColBERT},
		{"/search", post, false, s.handleSearch},
		{"/index/add", post, false, s.handleIndexAdd},
		{"/index/delete", post, false, s.handleIndexDelete},
	} {
		s.mux.Handle(r.path, s.wrap(r.path, r.method, r.openAI, r.h))
	}
	prom := promhttp.HandlerFor(s.met.reg, promhttp.HandlerOpts{})
	s.mux.Handle("/metrics", s.wrap("/metrics", get, false, func(w http.ResponseWriter, r *http.Request) error {
		prom.ServeHTTP(w, r)
		return nil
	}))
	s.mux.Handle("/", s.wrap("other", "", false, func(w http.ResponseWriter, r *http.Request) error {
		return errorf(http.StatusNotFound, Validation, "not_found", "", "no route %s %s", r.Method, r.URL.Path)
	}))
}

// Handler is the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.mux }

// Close stops the batchers after the queued work has run (or ctx ends).
func (s *Server) Close() { s.shutdownBatchers(context.Background()) }

func (s *Server) shutdownBatchers(ctx context.Context) {
	s.closing.Store(true)
	for _, e := range s.models {
		e.b.close(ctx)
	}
}

// Serve answers on ln until ctx ends, then shuts down gracefully: it stops
// accepting, lets in-flight requests finish (at most grace), stops the
// batchers and returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       s.cfg.RequestTimeout + 10*time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		s.Close()
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down: finishing in-flight requests", "grace", grace.String())
	s.closing.Store(true)
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := hs.Shutdown(sctx)
	s.shutdownBatchers(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		hs.Close()
		return fmt.Errorf("serve: requests still running after %v: %w", grace, err)
	}
	s.log.Info("stopped")
	return nil
}

// pick finds the model a request names (field, X-Model header, ?model=),
// or the default.
func (s *Server) pick(r *http.Request, field string) (*entry, error) {
	name := field
	if name == "" {
		name = r.Header.Get("X-Model")
	}
	if name == "" {
		name = r.URL.Query().Get("model")
	}
	if name == "" {
		return s.models[0], nil
	}
	if e, ok := s.byName[name]; ok {
		return e, nil
	}
	names := make([]string, len(s.models))
	for i, e := range s.models {
		names[i] = e.name
	}
	return nil, errorf(http.StatusNotFound, Validation, "model_not_found", "model",
		"model %q is not served here (models: %s)", name, strings.Join(names, ", "))
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// wrap adds to a handler, outermost first: metrics and the access log,
// panic recovery, the method check, the API key, the body limit and the
// request timeout; and writes a returned error as the route's error body.
func (s *Server) wrap(route, method string, openAI bool, h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		w := &statusWriter{ResponseWriter: rw}
		fail := func(err error) {
			e := asAPIError(err)
			if w.wrote {
				return
			}
			if e.Status == http.StatusMethodNotAllowed {
				w.Header().Set("Allow", method)
			}
			if e.Status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="bioenc"`)
			}
			writeJSON(w, e.Status, errorBody(e, openAI))
		}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("panic in handler", "route", route, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				fail(errorf(http.StatusInternalServerError, Backend, "internal_error", "", "internal server error"))
			}
			status := w.status
			if !w.wrote {
				status = http.StatusOK
			}
			s.met.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
			s.met.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
			lvl := slog.LevelInfo
			if status >= 500 {
				lvl = slog.LevelError
			} else if status >= 400 {
				lvl = slog.LevelWarn
			}
			s.log.Log(r.Context(), lvl, "request", "method", r.Method, "path", r.URL.Path, "status", status,
				"duration_ms", float64(time.Since(start).Microseconds())/1000, "remote", r.RemoteAddr)
		}()
		if method != "" && r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead) {
			fail(errorf(http.StatusMethodNotAllowed, Validation, "method_not_allowed", "",
				"%s %s is not allowed; use %s", r.Method, r.URL.Path, method))
			return
		}
		if s.cfg.APIKey != "" && route != "/health" && !s.authorized(r) {
			fail(errorf(http.StatusUnauthorized, Validation, "invalid_api_key", "",
				"missing or wrong API key: send \"Authorization: Bearer <key>\""))
			return
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
		defer cancel()
		if err := h(w, r.WithContext(ctx)); err != nil {
			if ae := asAPIError(err); ae.Status >= 500 || ae.Status == http.StatusFailedDependency {
				s.log.Warn("request failed", "route", route, "error", err)
			}
			fail(err)
		}
	})
}

func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(h, "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(token), []byte(s.cfg.APIKey)) == 1
}

// setTimingHeaders adds TEI's x-compute-tokens and timing headers (ms).
func setTimingHeaders(w http.ResponseWriter, start time.Time, tokens int, jobs ...*job) {
	var queue, infer time.Duration
	for _, j := range jobs {
		if j != nil {
			queue += j.wait
			infer += j.infer
		}
	}
	h := w.Header()
	h.Set("x-compute-tokens", strconv.Itoa(tokens))
	h.Set("x-total-time", strconv.FormatInt(time.Since(start).Milliseconds(), 10))
	h.Set("x-queue-time", strconv.FormatInt(queue.Milliseconds(), 10))
	h.Set("x-inference-time", strconv.FormatInt(infer.Milliseconds(), 10))
}

func (s *Server) checkBatch(n int, field string) error {
	if n == 0 {
		return errEmpty(field)
	}
	if n > s.cfg.MaxClientBatchSize {
		return errBatchSize(n, s.cfg.MaxClientBatchSize)
	}
	return nil
}

func kindName(k bioencoder.Kind) string { return k.String() }
