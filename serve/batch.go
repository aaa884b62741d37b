package serve

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// A job is one request's share of a batch: n inputs of the same operation
// (key). Jobs of one key are merged into a single library call.
type job struct {
	key    string
	n      int // inputs
	tokens int // tokens after truncation, for the batch budget
	ctx    context.Context
	queued time.Time

	// run performs the merged call for a batch of jobs that all share this
	// job's key, filling each job's out or err.
	run func(ctx context.Context, batch []*job)
	in  any // the op's input slice
	out any // the op's output slice (len n)
	err error

	wait, infer time.Duration // time in queue, time of the library call
	done        chan struct{}
}

// batcher owns one model's queue and the goroutine that drains it in
// batches bounded by tokens and requests.
type batcher struct {
	model       string
	maxTokens   int
	maxRequests int // 0: no limit
	wait        time.Duration
	maxQueue    int
	sem         chan struct{} // one slot per batch allowed to run at a time
	log         *slog.Logger
	m           *metrics

	mu     sync.Mutex
	jobs   []*job
	closed bool
	wake   chan struct{} // buffered(1): something was queued
	base   context.Context
	cancel context.CancelFunc
	done   chan struct{}

	// beforeRun, if set (tests), is called before each batch runs.
	beforeRun func(batch []*job)
}

func newBatcher(model string, maxTokens, maxRequests, maxQueue, concurrency int, wait time.Duration, log *slog.Logger, m *metrics) *batcher {
	b := &batcher{model: model, maxTokens: maxTokens, maxRequests: maxRequests, maxQueue: maxQueue, wait: wait,
		sem: make(chan struct{}, max(concurrency, 1)), log: log, m: m, wake: make(chan struct{}, 1), done: make(chan struct{})}
	b.base, b.cancel = context.WithCancel(context.Background())
	go b.loop()
	return b
}

// submit queues a job, or fails at once with errOverloaded when the queue
// is full.
func (b *batcher) submit(j *job) error {
	j.done = make(chan struct{})
	j.queued = time.Now()
	b.mu.Lock()
	switch {
	case b.closed:
		b.mu.Unlock()
		return errShuttingDown
	case len(b.jobs) >= b.maxQueue:
		b.mu.Unlock()
		return errOverloaded
	}
	b.jobs = append(b.jobs, j)
	b.m.queueDepth.WithLabelValues(b.model).Set(float64(len(b.jobs)))
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
	return nil
}

// withdraw takes a job out of the queue if it has not been picked up yet.
func (b *batcher) withdraw(j *job) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, x := range b.jobs {
		if x == j {
			b.jobs = append(b.jobs[:i], b.jobs[i+1:]...)
			b.m.queueDepth.WithLabelValues(b.model).Set(float64(len(b.jobs)))
			return true
		}
	}
	return false
}

// queued is the number of jobs waiting.
func (b *batcher) queued() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.jobs)
}

// close stops taking jobs, lets the queued ones run, and waits for the
// goroutine to end. Work still running after ctx ends is cancelled.
func (b *batcher) close(ctx context.Context) {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
	select {
	case <-b.done:
	case <-ctx.Done():
		b.cancel()
		<-b.done
	}
}

// loop forms batches one after the other. A batch is formed only when a
// run slot is free, so that it takes everything that queued meanwhile;
// with more than one slot, a batch starts while the previous one is still
// running, which keeps the model busy while finished requests are being
// answered.
func (b *batcher) loop() {
	defer close(b.done)
	for {
		b.sem <- struct{}{}
		batch := b.collect(nil)
		if batch == nil {
			<-b.sem
			break
		}
		go func() {
			defer func() { <-b.sem }()
			b.runBatch(batch)
		}()
	}
	for range cap(b.sem) { // wait for the running batches
		b.sem <- struct{}{}
	}
}

// collect waits for work and returns the next batch: the oldest job and
// the queued jobs of the same key that fit in the token and request
// budgets, waiting up to b.wait after the oldest job was queued for more
// to arrive. It returns nil once the batcher is closed and drained.
func (b *batcher) collect(batch []*job) []*job {
	tokens := 0
	var deadline time.Time
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		b.mu.Lock()
		full := false
		kept := b.jobs[:0]
		for _, j := range b.jobs {
			switch {
			case full || (len(batch) > 0 && j.key != batch[0].key):
				kept = append(kept, j)
			case len(batch) > 0 && tokens+j.tokens > b.maxTokens:
				kept = append(kept, j)
				full = true
			default:
				if len(batch) == 0 {
					deadline = j.queued.Add(b.wait)
				}
				batch = append(batch, j)
				tokens += j.tokens
				if (b.maxRequests > 0 && len(batch) >= b.maxRequests) || tokens >= b.maxTokens {
					full = true
				}
			}
		}
		clear(b.jobs[len(kept):])
		b.jobs = kept
		b.m.queueDepth.WithLabelValues(b.model).Set(float64(len(b.jobs)))
		closed := b.closed
		b.mu.Unlock()

		if len(batch) > 0 && (full || closed || !time.Now().Before(deadline)) {
			return batch
		}
		if len(batch) == 0 && closed {
			return nil
		}
		if len(batch) == 0 {
			<-b.wake
			continue
		}
		d := time.Until(deadline)
		if timer == nil {
			timer = time.NewTimer(d)
		} else {
			timer.Reset(d)
		}
		select {
		case <-b.wake:
			if !timer.Stop() {
				<-timer.C
			}
		case <-timer.C:
		}
	}
}

// runBatch runs the jobs still wanted as one call and wakes their
// handlers. A failed merged call is retried job by job, so that one bad
// input fails only its own request.
func (b *batcher) runBatch(all []*job) {
	live := all[:0:0]
	for _, j := range all {
		if j.ctx.Err() != nil {
			j.err = j.ctx.Err()
			close(j.done)
			continue
		}
		live = append(live, j)
	}
	if len(live) == 0 {
		return
	}
	if b.beforeRun != nil {
		b.beforeRun(live)
	}
	tokens, n := 0, 0
	for _, j := range live {
		tokens += j.tokens
		n += j.n
	}
	b.m.batchRequests.WithLabelValues(b.model).Observe(float64(len(live)))
	b.m.batchInputs.WithLabelValues(b.model).Observe(float64(n))
	b.m.batchTokens.WithLabelValues(b.model).Observe(float64(tokens))
	start := time.Now()
	b.call(live)
	if len(live) > 1 {
		failed := false
		for _, j := range live {
			if j.err != nil && j.ctx.Err() == nil {
				failed = true
			}
		}
		if failed {
			for _, j := range live {
				if j.ctx.Err() != nil {
					continue // nobody waits for it
				}
				j.err, j.out = nil, nil
				b.call([]*job{j})
			}
		}
	}
	took := time.Since(start)
	b.m.batchSeconds.WithLabelValues(b.model).Observe(took.Seconds())
	b.m.tokens.WithLabelValues(b.model).Add(float64(tokens))
	b.m.inputs.WithLabelValues(b.model).Add(float64(n))
	for _, j := range live {
		j.wait = start.Sub(j.queued)
		j.infer = took
		b.m.queueSeconds.WithLabelValues(b.model).Observe(j.wait.Seconds())
		close(j.done)
	}
}

// call runs one merged library call under a context that ends when every
// job's request has ended (or the server gives up on shutdown), and turns a
// panic into an error for these jobs only.
func (b *batcher) call(batch []*job) {
	ctx, cancel := context.WithCancel(b.base)
	var left atomic.Int32
	left.Store(int32(len(batch)))
	stops := make([]func() bool, len(batch))
	for i, j := range batch {
		stops[i] = context.AfterFunc(j.ctx, func() {
			if left.Add(-1) == 0 {
				cancel()
			}
		})
	}
	defer func() {
		for _, s := range stops {
			s()
		}
		cancel()
		if r := recover(); r != nil {
			b.log.Error("panic in model call", "model", b.model, "op", batch[0].key, "panic", fmt.Sprint(r),
				"stack", string(debug.Stack()))
			for _, j := range batch {
				j.out = nil
				j.err = errorf(500, Backend, "internal_error", "", "internal error while running the model")
			}
		}
	}()
	batch[0].run(ctx, batch)
}

// submitOp queues inputs for the operation key and waits for its results.
// call must be the same function for every job of the key: it receives the
// inputs of all merged jobs, in order, and returns one output per input.
func submitOp[I, O any](ctx context.Context, b *batcher, key string, in []I, tokens int,
	call func(ctx context.Context, in []I) ([]O, error)) ([]O, *job, error) {
	j := &job{key: key, n: len(in), tokens: tokens, ctx: ctx, in: in}
	j.run = func(ctx context.Context, batch []*job) {
		all := in
		if len(batch) > 1 {
			all = nil
			for _, x := range batch {
				all = append(all, x.in.([]I)...)
			}
		}
		out, err := call(ctx, all)
		if err == nil && len(out) != len(all) {
			err = fmt.Errorf("model returned %d results for %d inputs", len(out), len(all))
		}
		off := 0
		for _, x := range batch {
			if err != nil {
				x.err = err
			} else {
				x.out = out[off : off+x.n : off+x.n]
			}
			off += x.n
		}
	}
	if err := b.submit(j); err != nil {
		return nil, j, err
	}
	select {
	case <-j.done:
	case <-ctx.Done():
		if b.withdraw(j) {
			return nil, j, ctx.Err()
		}
		// Already running: the batch's context ends when all its requests
		// have, and the results are dropped.
		return nil, j, ctx.Err()
	}
	if j.err != nil {
		return nil, j, j.err
	}
	return j.out.([]O), j, nil
}
