package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"bioencoder/index"
	"bioencoder/serve"
)

var serveFlags struct {
	models           []string
	addr             string
	index            string
	maxBatchTokens   int
	maxBatchRequests int
	batchWait        time.Duration
	batchConcurrency int
	maxQueue         int
	maxClientBatch   int
	requestTimeout   time.Duration
	maxBodyBytes     int64
	autoTruncate     bool
	apiKey           string
	logFormat        string
	logLevel         string
	shutdownTimeout  time.Duration
}

var serveCmd = &cobra.Command{
	Use:   "serve --model DIR [--model NAME=DIR ...] [--addr :8080]",
	Short: "Serve models over HTTP (text-embeddings-inference and OpenAI APIs)",
	Long: `serve answers HTTP requests with the loaded models:

  TEI:     POST /embed /embed_all /rerank /predict /similarity /tokenize /decode; GET /info /health
  OpenAI:  POST /v1/embeddings; GET /v1/models
  ours:    POST /fill_mask /ner /colbert /search /index/add /index/delete
  GET /metrics (Prometheus)

--model is repeatable: NAME=DIR names a model, a bare DIR is named after its folder. A request
picks a model by the OpenAI "model" field, the X-Model header or ?model=NAME; the first model is
the default.

Concurrent requests to one model are merged: a batcher takes the oldest queued request and every
queued request of the same operation that fits in --max-batch-tokens and --max-batch-requests,
waiting at most --batch-wait for more, and runs them as one model call; --batch-concurrency such
calls may run at once. When --max-queue requests are waiting, new ones get 429.
--max-batch-requests 1 turns merging off.

SIGINT or SIGTERM stops accepting connections, lets in-flight requests finish (at most
--shutdown-timeout) and exits. --api-key (or $BIOENC_API_KEY) requires
"Authorization: Bearer KEY" on every route but /health.`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, args []string) error {
		f := serveFlags
		if len(f.models) == 0 {
			return errors.New("--model is required")
		}
		log, err := newLogger(f.logFormat, f.logLevel)
		if err != nil {
			return err
		}
		var models []serve.Model
		for _, spec := range f.models {
			name, dir := modelSpec(spec)
			start := time.Now()
			m, err := loadModel(dir)
			if err != nil {
				return fmt.Errorf("model %s: %w", name, err)
			}
			log.Info("model loaded", "name", name, "dir", dir, "kind", m.Kind().String(), "max_length", m.MaxLength(),
				"seconds", time.Since(start).Seconds())
			models = append(models, serve.Model{Name: name, Model: m})
		}
		var idx *index.Index
		if f.index != "" {
			if idx, err = openServedIndex(cmd.Context(), f.index, models); err != nil {
				return err
			}
			defer idx.Close()
			log.Info("index opened", "dir", f.index, "documents", idx.Len())
		}
		key := f.apiKey
		if key == "" {
			key = os.Getenv("BIOENC_API_KEY")
		}
		srv, err := serve.New(serve.Config{
			MaxBatchTokens:     f.maxBatchTokens,
			MaxBatchRequests:   noLimit(f.maxBatchRequests),
			BatchWait:          f.batchWait,
			BatchConcurrency:   f.batchConcurrency,
			MaxQueue:           f.maxQueue,
			MaxClientBatchSize: f.maxClientBatch,
			RequestTimeout:     f.requestTimeout,
			MaxBodyBytes:       f.maxBodyBytes,
			AutoTruncate:       f.autoTruncate,
			APIKey:             key,
			Logger:             log,
			Index:              indexOrNil(idx),
		}, models...)
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", f.addr)
		if err != nil {
			srv.Close()
			return err
		}
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		log.Info("listening", "addr", ln.Addr().String(), "models", len(models), "api_key", key != "")
		return srv.Serve(ctx, ln, f.shutdownTimeout)
	},
}

// noLimit maps the flag's 0 ("no limit") to serve.Config's -1.
func noLimit(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// modelSpec splits NAME=DIR; a bare DIR (or one that exists as written,
// "=" and all) is named after its last element.
func modelSpec(s string) (name, dir string) {
	if n, d, ok := strings.Cut(s, "="); ok && n != "" && !strings.ContainsRune(n, os.PathSeparator) {
		if _, err := os.Stat(s); err != nil {
			return n, d
		}
	}
	return filepath.Base(filepath.Clean(s)), s
}

func newLogger(format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format must be text or json, got %q", format)
}

func init() {
	fl := serveCmd.Flags()
	fl.StringArrayVar(&serveFlags.models, "model", nil, "model folder, or NAME=DIR (repeatable; the first is the default)")
	fl.StringVar(&serveFlags.addr, "addr", ":8080", "listen address")
	fl.StringVar(&serveFlags.index, "index", "", "index folder (bioenc index build) behind /search, /index/add and /index/delete")
	fl.IntVar(&serveFlags.maxBatchTokens, "max-batch-tokens", 16384, "tokens in one model call")
	fl.IntVar(&serveFlags.maxBatchRequests, "max-batch-requests", 8, "requests merged into one model call (0 = no limit, 1 = no merging)")
	fl.DurationVar(&serveFlags.batchWait, "batch-wait", 2*time.Millisecond, "how long the oldest queued request waits for others to merge with")
	fl.IntVar(&serveFlags.batchConcurrency, "batch-concurrency", 2, "batches of one model that may run at once")
	fl.IntVar(&serveFlags.maxQueue, "max-queue", 512, "queued requests per model before answering 429")
	fl.IntVar(&serveFlags.maxClientBatch, "max-client-batch-size", 32, "inputs in one request before answering 413")
	fl.DurationVar(&serveFlags.requestTimeout, "request-timeout", 60*time.Second, "time limit of one request")
	fl.Int64Var(&serveFlags.maxBodyBytes, "max-body-bytes", 2_000_000, "request body size limit (413 over it)")
	fl.BoolVar(&serveFlags.autoTruncate, "auto-truncate", false, "truncate over-long inputs when a request does not say (else 413)")
	fl.StringVar(&serveFlags.apiKey, "api-key", "", "require \"Authorization: Bearer KEY\" (default $BIOENC_API_KEY)")
	fl.StringVar(&serveFlags.logFormat, "log-format", "text", "log format: text or json")
	fl.StringVar(&serveFlags.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fl.DurationVar(&serveFlags.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long in-flight requests may run after SIGINT/SIGTERM")
	root.AddCommand(serveCmd)
}

// openServedIndex opens an index with the served model it was built with
// when there is one (sharing its weights), else with the model the index
// remembers.
func openServedIndex(ctx context.Context, dir string, models []serve.Model) (*index.Index, error) {
	for _, m := range models {
		ix, err := index.Open(ctx, dir, index.OpenOptions{Model: m.Model})
		if err == nil {
			return ix, nil
		}
		if !errors.Is(err, index.ErrModelMismatch) {
			return nil, err
		}
	}
	return index.Open(ctx, dir, index.OpenOptions{})
}

// indexOrNil keeps a nil *index.Index from becoming a non-nil interface.
func indexOrNil(ix *index.Index) serve.Index {
	if ix == nil {
		return nil
	}
	return ix
}
