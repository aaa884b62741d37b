package vocab

import (
	"container/heap"
	"strings"
)

// merger holds the words being merged and the pair statistics, as the Rust
// BpeTrainer keeps them: a count per pair (updated by the changes each merge
// reports), and a priority queue of candidate merges, each carrying the
// words where the pair was seen. Queue entries are checked lazily: an entry
// whose count is out of date is re-queued with the current count.
//
// One Rust quirk is kept on purpose because it decides merges: a merged
// pair's own count is never decremented (Word::merge reports only the
// neighbouring pairs), so if the same pair later forms again it starts from
// the old total.
type merger struct {
	syms   []int32    // symbols of all words
	span   [][2]int32 // word i is syms[span[i][0] : span[i][0]+span[i][1]]
	counts []int64    // occurrences of word i

	pairCounts map[uint64]int64
	// where: the words in which a pair was formed during the current step,
	// in ascending order (words are visited in order), and the pairs in the
	// order first met so that draining it is deterministic.
	where     map[uint64][]int32
	whereKeys []uint64

	queue mergeQueue
	seq   int64
}

func pairOf(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

func (m *merger) word(i int32) []int32 {
	s := m.span[i]
	return m.syms[s[0] : s[0]+s[1]]
}

// touch records that pair p gained an occurrence in word w.
func (m *merger) touch(p uint64, w int32) {
	pos, ok := m.where[p]
	if !ok {
		m.whereKeys = append(m.whereKeys, p)
	}
	if n := len(pos); n == 0 || pos[n-1] != w {
		m.where[p] = append(pos, w)
	}
}

// drain queues every pair touched in this step whose count is positive.
func (m *merger) drain() {
	for _, p := range m.whereKeys {
		if c := m.pairCounts[p]; c > 0 {
			m.seq++
			heap.Push(&m.queue, &mergeItem{count: c, pair: p, pos: m.where[p], seq: m.seq})
		}
		delete(m.where, p)
	}
	m.whereKeys = m.whereKeys[:0]
}

// run merges until the vocabulary is full, the best pair is rarer than
// MinFrequency, or no pair is left. It returns the number of merges and why
// it stopped.
func (m *merger) run(vb *vocabBuilder, o *Options) (int, string) {
	m.pairCounts = make(map[uint64]int64)
	m.where = make(map[uint64][]int32)
	for i := range m.span {
		w := m.word(int32(i))
		for k := 0; k+1 < len(w); k++ {
			p := pairOf(w[k], w[k+1])
			m.pairCounts[p] += m.counts[i]
			m.touch(p, int32(i))
		}
	}
	m.drain()

	merges := 0
	for {
		if len(vb.toks) >= o.VocabSize {
			return merges, "vocab size"
		}
		if m.queue.Len() == 0 {
			return merges, "no more pairs"
		}
		top := heap.Pop(&m.queue).(*mergeItem)
		if cur := m.pairCounts[top.pair]; top.count != cur {
			top.count = cur
			heap.Push(&m.queue, top)
			continue
		}
		if top.count < 1 {
			return merges, "no more pairs"
		}
		if o.MinFrequency > top.count {
			return merges, "min frequency"
		}
		a, b := int32(top.pair>>32), int32(uint32(top.pair))
		right := strings.TrimPrefix(vb.toks[b], o.Prefix)
		repl := vb.add(vb.toks[a] + right)
		merges++
		for _, wi := range top.pos {
			m.mergeWord(wi, a, b, repl)
		}
		m.drain()
	}
}

// mergeWord replaces every non-overlapping (a, b), left to right, by repl in
// word wi and applies the changes of the neighbouring pairs (Word::merge).
func (m *merger) mergeWord(wi int32, a, b, repl int32) {
	w := m.word(wi)
	c := m.counts[wi]
	for i := 0; i < len(w); i++ {
		if w[i] != a || i+1 >= len(w) || w[i+1] != b {
			continue
		}
		if i > 0 {
			m.pairCounts[pairOf(w[i-1], a)] -= c
			p := pairOf(w[i-1], repl)
			m.pairCounts[p] += c
			m.touch(p, wi)
		}
		w[i] = repl
		copy(w[i+1:], w[i+2:])
		w = w[:len(w)-1]
		if i+1 < len(w) {
			m.pairCounts[pairOf(b, w[i+1])] -= c
			p := pairOf(repl, w[i+1])
			m.pairCounts[p] += c
			m.touch(p, wi)
		}
	}
	m.span[wi][1] = int32(len(w))
}

// mergeItem is a candidate merge.
type mergeItem struct {
	count int64
	pair  uint64
	pos   []int32 // words to merge in, ascending
	seq   int64   // queue order, the last tie-break
}

// mergeQueue pops the highest count first, then the smallest pair (left id,
// then right id), then the oldest entry.
type mergeQueue []*mergeItem

func (q mergeQueue) Len() int { return len(q) }
func (q mergeQueue) Less(i, j int) bool {
	if q[i].count != q[j].count {
		return q[i].count > q[j].count
	}
	if q[i].pair != q[j].pair {
		return q[i].pair < q[j].pair
	}
	return q[i].seq < q[j].seq
}
func (q mergeQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *mergeQueue) Push(x any)   { *q = append(*q, x.(*mergeItem)) }
func (q *mergeQueue) Pop() any {
	old := *q
	n := len(old)
	it := old[n-1]
	old[n-1] = nil
	*q = old[:n-1]
	return it
}
