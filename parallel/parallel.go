// Package parallel holds bioencoder's one worker pool.
//
// Every parallel loop in the project (GEMM tiles, attention heads, batch
// tokenization, evaluation) runs here, so the process never has more busy
// threads than GOMAXPROCS (or the --threads setting) and nested loops cannot
// oversubscribe the machine. A caller always takes part in its own loop, which
// makes nesting deadlock-free: a loop started from inside a worker finishes
// even when every other worker is busy.
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// job is one call to Run: n tasks handed out by an atomic counter.
type job struct {
	fn      func(i int)
	n       int64
	next    atomic.Int64
	pending sync.WaitGroup
}

// work takes tasks until none are left.
func (j *job) work() {
	for {
		i := j.next.Add(1) - 1
		if i >= j.n {
			return
		}
		j.fn(int(i))
		j.pending.Done()
	}
}

var (
	mu      sync.Mutex
	workers int       // participants including the caller
	wake    chan *job // notifications to idle helpers
	started int       // helper goroutines running
)

func init() { SetWorkers(runtime.GOMAXPROCS(0)) }

// SetWorkers sets how many threads (the caller included) a loop may use.
// n < 1 means GOMAXPROCS. Helpers are started lazily and never stopped;
// lowering the count only limits how many are woken.
func SetWorkers(n int) {
	if n < 1 {
		n = runtime.GOMAXPROCS(0)
	}
	mu.Lock()
	defer mu.Unlock()
	if wake == nil {
		wake = make(chan *job, 1024)
	}
	workers = n
	for started < n-1 {
		started++
		go helper()
	}
}

// Workers reports how many threads a loop may use.
func Workers() int {
	mu.Lock()
	defer mu.Unlock()
	return workers
}

func helper() {
	for j := range wake {
		j.work()
	}
}

// Run calls fn(i) for every i in [0, n) using up to Workers() threads and
// returns when all calls have returned. The order of calls is unspecified.
func Run(n int, fn func(i int)) {
	if n <= 0 {
		return
	}
	w := Workers()
	if n == 1 || w == 1 {
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	j := &job{fn: fn, n: int64(n)}
	j.pending.Add(n)
	for k := 0; k < min(w-1, n-1); k++ {
		select {
		case wake <- j:
		default: // every helper is busy and the queue is full: the caller does the work
		}
	}
	j.work()
	j.pending.Wait()
}

// For splits [0, n) into contiguous chunks of at least grain items (one
// chunk per thread when possible) and calls fn(lo, hi) for each.
func For(n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	chunks := min(Workers(), (n+grain-1)/grain)
	if chunks <= 1 {
		fn(0, n)
		return
	}
	Run(chunks, func(c int) {
		fn(c*n/chunks, (c+1)*n/chunks)
	})
}
