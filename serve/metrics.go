package serve

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the server's Prometheus series, on a registry of its own so
// that several servers (tests) never collide.
type metrics struct {
	reg *prometheus.Registry

	requests      *prometheus.CounterVec   // route, status
	latency       *prometheus.HistogramVec // route
	queueDepth    *prometheus.GaugeVec     // model
	batchRequests *prometheus.HistogramVec // model: requests merged into one call
	batchInputs   *prometheus.HistogramVec // model: inputs (texts, pairs) in one call
	batchTokens   *prometheus.HistogramVec // model: tokens in one call
	batchSeconds  *prometheus.HistogramVec // model: duration of one call
	queueSeconds  *prometheus.HistogramVec // model: time a request waited in the queue
	tokens        *prometheus.CounterVec   // model: tokens processed (rate() gives tokens/s)
	inputs        *prometheus.CounterVec   // model: inputs processed
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bioenc_requests_total", Help: "HTTP requests by route and status code.",
	}, []string{"route", "status"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "bioenc_request_duration_seconds", Help: "HTTP request latency by route.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
	}, []string{"route"})
	m.queueDepth = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "bioenc_queue_depth", Help: "Requests waiting for a batch, per model.",
	}, []string{"model"})
	m.batchRequests = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "bioenc_batch_requests", Help: "Requests merged into one model call.",
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
	}, []string{"model"})
	m.batchInputs = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "bioenc_batch_inputs", Help: "Inputs (texts or pairs) in one model call.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 12),
	}, []string{"model"})
	m.batchTokens = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "bioenc_batch_tokens", Help: "Tokens in one model call.",
		Buckets: prometheus.ExponentialBuckets(16, 2, 12),
	}, []string{"model"})
	m.batchSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "bioenc_batch_duration_seconds", Help: "Duration of one model call.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
	}, []string{"model"})
	m.queueSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "bioenc_queue_duration_seconds", Help: "Time a request waited in the queue.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
	}, []string{"model"})
	m.tokens = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bioenc_tokens_total", Help: "Tokens processed by the model (rate() is tokens per second).",
	}, []string{"model"})
	m.inputs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bioenc_inputs_total", Help: "Inputs (texts or pairs) processed by the model.",
	}, []string{"model"})
	m.reg.MustRegister(m.requests, m.latency, m.queueDepth, m.batchRequests, m.batchInputs, m.batchTokens,
		m.batchSeconds, m.queueSeconds, m.tokens, m.inputs,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
