package parallel

import (
	"sync/atomic"
	"testing"
)

func TestRunCoversEveryTaskOnce(t *testing.T) {
	for _, w := range []int{1, 2, 4} {
		SetWorkers(w)
		for _, n := range []int{0, 1, 2, 3, 17, 1000} {
			hits := make([]atomic.Int32, n)
			Run(n, func(i int) { hits[i].Add(1) })
			for i := range hits {
				if got := hits[i].Load(); got != 1 {
					t.Fatalf("workers=%d n=%d: task %d ran %d times", w, n, i, got)
				}
			}
		}
	}
	SetWorkers(0)
}

func TestForChunksPartitionRange(t *testing.T) {
	SetWorkers(3)
	defer SetWorkers(0)
	for _, tc := range []struct{ n, grain int }{{10, 1}, {10, 4}, {1, 1}, {7, 100}, {1000, 3}} {
		var covered atomic.Int64
		seen := make([]atomic.Int32, tc.n)
		For(tc.n, tc.grain, func(lo, hi int) {
			if lo >= hi {
				t.Errorf("empty chunk [%d,%d)", lo, hi)
			}
			for i := lo; i < hi; i++ {
				seen[i].Add(1)
			}
			covered.Add(int64(hi - lo))
		})
		if covered.Load() != int64(tc.n) {
			t.Fatalf("n=%d grain=%d: covered %d", tc.n, tc.grain, covered.Load())
		}
		for i := range seen {
			if seen[i].Load() != 1 {
				t.Fatalf("n=%d: item %d seen %d times", tc.n, i, seen[i].Load())
			}
		}
	}
}

// Nested loops must finish even when every helper is inside an outer task.
func TestNestedRunDoesNotDeadlock(t *testing.T) {
	SetWorkers(2)
	defer SetWorkers(0)
	var total atomic.Int64
	Run(8, func(i int) {
		Run(8, func(j int) {
			Run(4, func(k int) { total.Add(1) })
		})
	})
	if total.Load() != 8*8*4 {
		t.Fatalf("total %d", total.Load())
	}
}
