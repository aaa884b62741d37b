package index

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"bioencoder"
	"bioencoder/internal/testutil"
	"bioencoder/safetensors"
)

var queries = []string{"aspirin platelet aggregation", "cancer gene mutation brca1", "insulin glucose diabetes",
	"virus vaccine immune response", "heart failure blood pressure"}

func TestBuildSearchReopen(t *testing.T) {
	ctx := context.Background()
	m := fixture(t, "st_embed")
	dir := filepath.Join(t.TempDir(), "ix")
	docs := synthDocs(1, 300, "d")
	ix, err := Build(ctx, dir, m, docs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ix.Len() != 300 {
		t.Fatalf("Len = %d", ix.Len())
	}
	// Add (with one replacement) and delete, then compare memory and disk.
	more := synthDocs(2, 100, "e")
	more = append(more, Doc{ID: "d5", Text: "replacement text about aspirin", Metadata: map[string]any{"v": 2}})
	replaced, err := ix.Upsert(ctx, more)
	if err != nil {
		t.Fatal(err)
	}
	if replaced != 1 {
		t.Errorf("replaced = %d, want 1", replaced)
	}
	if d, ok := ix.Get("d5"); !ok || d.Text != "replacement text about aspirin" || d.Metadata["v"] != json.Number("2") {
		t.Errorf("Get(d5) = %+v, %v", d, ok)
	}
	if n, err := ix.Remove(ctx, []string{"d1", "d2", "e7", "nope"}); err != nil || n != 3 {
		t.Fatalf("Remove = %d, %v", n, err)
	}
	if ix.Len() != 300+100-3 {
		t.Fatalf("Len = %d after add and delete", ix.Len())
	}
	if _, ok := ix.Get("d1"); ok {
		t.Error("deleted document still found")
	}
	want := snapshot(t, ix, queries)
	wantIDs := liveSet(ix)
	info := ix.Info()
	ix.Close()
	if _, err := ix.Search(ctx, "x", 3); !errors.Is(err, ErrClosed) {
		t.Errorf("search after Close: %v", err)
	}

	ix2, err := Open(ctx, dir, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer ix2.Close()
	if got := snapshot(t, ix2, queries); got != want {
		t.Errorf("reopened index answers differently:\n got %s\nwant %s", got, want)
	}
	if liveSet(ix2) != wantIDs {
		t.Error("reopened index holds other documents")
	}
	if got := ix2.Info(); got != info {
		t.Errorf("Info differs after reopen:\n got %+v\nwant %+v", got, info)
	}
	for _, h := range must(ix2.Search(ctx, "aspirin", 400)) {
		if h.ID == "d1" || h.ID == "d2" || h.ID == "e7" {
			t.Errorf("deleted %s returned", h.ID)
		}
	}
	// Folder holds exactly the files the manifest names.
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if len(names) != 6 { // LOCK, MANIFEST, 2 segments, graph, tombstones
		t.Errorf("index folder holds %v", names)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestSearchMatchesModel(t *testing.T) {
	// Scores are the model's similarity of query and document embeddings.
	ctx := context.Background()
	m := fixture(t, "st_embed")
	docs := synthDocs(3, 50, "x")
	ix, err := Build(ctx, t.TempDir(), m, docs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	q := "kinase inhibitor toxicity"
	hits, err := ix.SearchWith(ctx, q, SearchOptions{K: 50, Exact: true})
	if err != nil {
		t.Fatal(err)
	}
	qv := must(m.EmbedQuery(ctx, []string{q}))[0]
	texts := make([]string, len(docs))
	byID := map[string]int{}
	for i, d := range docs {
		texts[i] = d.Text
		byID[d.ID] = i
	}
	dv := must(m.EmbedDocument(ctx, texts))
	for i, h := range hits {
		want, _ := m.Similarity(qv, dv[byID[h.ID]])
		if d := h.Score - want; d > 1e-5 || d < -1e-5 {
			t.Errorf("hit %s: score %v, model similarity %v", h.ID, h.Score, want)
		}
		if i > 0 && h.Score > hits[i-1].Score {
			t.Error("hits out of order")
		}
		if h.Text != docs[byID[h.ID]].Text || h.Metadata["tag"] != "x" {
			t.Errorf("hit %s carries wrong text or metadata", h.ID)
		}
	}
	// Graph search with a beam covering everything returns the same.
	approx, err := ix.SearchWith(ctx, q, SearchOptions{K: 10, EfSearch: 50})
	if err != nil {
		t.Fatal(err)
	}
	for i := range approx {
		if approx[i].ID != hits[i].ID {
			t.Errorf("rank %d: graph %s, exact %s", i, approx[i].ID, hits[i].ID)
		}
	}
}

func TestRecallAbstracts(t *testing.T) {
	ctx := context.Background()
	m := fixture(t, "st_embed")
	const n, nq, k = 3000, 200, 10
	all := abstracts(t, n+nq)
	docs, qdocs := all[:n], all[n:]
	t0, c0 := time.Now(), cpuTime()
	ix, err := Build(ctx, t.TempDir(), m, docs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	build, buildCPU := time.Since(t0), cpuTime()-c0
	defer ix.Close()
	// Queries: the first words of held-out abstracts.
	qtexts := make([]string, nq)
	for i, d := range qdocs {
		qtexts[i] = firstWords(d.Text, 12)
	}
	qv, err := m.EmbedQuery(ctx, qtexts)
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	var graphT, exactT time.Duration
	for _, q := range qv {
		t1 := time.Now()
		got := must(ix.SearchVector(ctx, q, SearchOptions{K: k}))
		t2 := time.Now()
		want := must(ix.SearchVector(ctx, q, SearchOptions{K: k, Exact: true}))
		exactT += time.Since(t2)
		graphT += t2.Sub(t1)
		in := map[string]bool{}
		for _, h := range want {
			in[h.ID] = true
		}
		for _, h := range got {
			if in[h.ID] {
				sum++
			}
		}
	}
	recall := sum / (nq * k)
	// What the beam buys (efSearch below the default).
	for _, ef := range []int{10, 20, 40} {
		var s float64
		for _, q := range qv {
			want := map[string]bool{}
			for _, h := range must(ix.SearchVector(ctx, q, SearchOptions{K: k, Exact: true})) {
				want[h.ID] = true
			}
			for _, h := range must(ix.SearchVector(ctx, q, SearchOptions{K: k, EfSearch: ef})) {
				if want[h.ID] {
					s++
				}
			}
		}
		t.Logf("efSearch=%d: recall@10 %.4f", ef, s/(nq*k))
	}
	t.Logf("%d abstracts (st_embed, 32 tokens, 32-dim), M=16 efC=200 efSearch=100: recall@10 %.4f; build %v wall / %v CPU (embedding included); query graph %.0f µs, exact %.0f µs (wall, mean of %d)",
		n, recall, build.Round(time.Millisecond), buildCPU.Round(time.Millisecond),
		float64(graphT.Microseconds())/nq, float64(exactT.Microseconds())/nq, nq)
	if recall < 0.98 {
		t.Errorf("recall@10 = %.4f, want ≥ 0.98", recall)
	}
}

func firstWords(s string, n int) string {
	f := strings.Fields(s)
	return strings.Join(f[:min(n, len(f))], " ")
}

func TestCompaction(t *testing.T) {
	ctx := context.Background()
	m := fixture(t, "st_embed")
	dir := t.TempDir()
	docs := synthDocs(4, 200, "c")
	ix, err := Build(ctx, dir, m, docs, Options{CompactRatio: 0.3})
	if err != nil {
		t.Fatal(err)
	}
	var del []string
	for i := 0; i < 50; i++ {
		del = append(del, docs[i].ID)
	}
	if err := ix.Delete(ctx, del); err != nil {
		t.Fatal(err)
	}
	if info := ix.Info(); info.Deleted != 50 || info.Segments != 1 {
		t.Fatalf("after deleting 25%%: %+v", info)
	}
	if _, err := ix.Upsert(ctx, synthDocs(5, 20, "n")); err != nil {
		t.Fatal(err)
	}
	if info := ix.Info(); info.Segments != 2 {
		t.Fatalf("after add: %+v", info)
	}
	for i := 50; i < 75; i++ {
		del = append(del, docs[i].ID)
	}
	if err := ix.Delete(ctx, del[50:]); err != nil {
		t.Fatal(err)
	}
	info := ix.Info()
	if info.Deleted != 0 || info.Segments != 1 || info.Docs != 145 || info.Vectors != 145 {
		t.Fatalf("75 of 220 deleted (ratio 0.3) should have compacted: %+v", info)
	}
	want := snapshot(t, ix, queries)
	ix2, err := Open(ctx, dir, OpenOptions{Model: m})
	if err != nil {
		t.Fatal(err)
	}
	if got := snapshot(t, ix2, queries); got != want {
		t.Error("compacted index answers differently after reopening")
	}
	if liveSet(ix2) != liveSet(ix) {
		t.Error("compacted index lost or kept the wrong documents")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 4 { // LOCK MANIFEST seg graph
		t.Errorf("old generations not cleaned up: %d files", len(ents))
	}
}

func TestBuildRefusals(t *testing.T) {
	ctx := context.Background()
	m := fixture(t, "st_embed")
	dir := t.TempDir()
	docs := synthDocs(6, 10, "r")
	if _, err := Build(ctx, dir, m, []Doc{{ID: "a"}, {ID: "a"}}, Options{}); err == nil || !strings.Contains(err.Error(), "same id") {
		t.Errorf("duplicate ids: %v", err)
	}
	if _, err := Build(ctx, dir, m, []Doc{{ID: ""}}, Options{}); err == nil {
		t.Error("empty id accepted")
	}
	if _, err := Build(ctx, dir, fixture(t, "cross_encoder"), docs, Options{}); err == nil || !strings.Contains(err.Error(), "cross-encoder") {
		t.Errorf("cross-encoder model: %v", err)
	}
	if _, err := Build(ctx, dir, m, docs, Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Build(ctx, dir, m, docs, Options{}); err == nil || !strings.Contains(err.Error(), "already holds an index") {
		t.Errorf("second build: %v", err)
	}
	ix, err := Build(ctx, dir, m, docs[:3], Options{Overwrite: true})
	if err != nil {
		t.Fatal(err)
	}
	if ix.Len() != 3 {
		t.Errorf("overwrite: %d docs", ix.Len())
	}
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "notes.txt"), []byte("x"), 0o644)
	if _, err := Build(ctx, other, m, docs, Options{}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("build into a folder with other files: %v", err)
	}
	if _, err := Open(ctx, t.TempDir(), OpenOptions{}); err == nil || !strings.Contains(err.Error(), "holds no index") {
		t.Errorf("open empty folder: %v", err)
	}
	if _, err := ix.Search(ctx, "x", 0); err == nil {
		t.Error("k = 0 accepted")
	}
}

// perturbedModel copies a fixture and scales one LayerNorm weight: same
// config, same file sizes, other vectors.
func perturbedModel(t *testing.T, name string) string {
	dst := filepath.Join(t.TempDir(), name)
	copyDir(t, testutil.Testdata(t, "golden", name), dst)
	p := filepath.Join(dst, "model.safetensors")
	f, err := safetensors.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	info, ok := f.Info("embeddings.LayerNorm.weight")
	start := f.DataStart()
	f.Close()
	if !ok {
		t.Fatal("fixture has no embeddings.LayerNorm.weight")
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	for i := start + info.Begin; i < start+info.End; i += 4 {
		b[i+3] ^= 0x01 // sign-preserving change of the exponent's low bit: ×2 or ×½
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestModelFingerprint(t *testing.T) {
	ctx := context.Background()
	m := fixture(t, "st_embed")
	dir := t.TempDir()
	if _, err := Build(ctx, dir, m, synthDocs(7, 20, "f"), Options{}); err != nil {
		t.Fatal(err)
	}
	// The same model in another folder is accepted.
	same := filepath.Join(t.TempDir(), "copy")
	copyDir(t, testutil.Testdata(t, "golden", "st_embed"), same)
	ix, err := Open(ctx, dir, OpenOptions{ModelDir: same})
	if err != nil {
		t.Fatalf("same model elsewhere refused: %v", err)
	}
	// A write remembers where the model was found.
	if err := ix.Add(ctx, synthDocs(8, 1, "moved")); err != nil {
		t.Fatal(err)
	}
	ix.Close()
	if info := must(Open(ctx, dir, OpenOptions{WithoutModel: true})).Info(); info.ModelPath != same {
		t.Errorf("model path after a write with --model: %s, want %s", info.ModelPath, same)
	}
	// Same name, shapes and sizes, other weights: refused.
	_, err = Open(ctx, dir, OpenOptions{ModelDir: perturbedModel(t, "st_embed")})
	if !errors.Is(err, ErrModelMismatch) || !strings.Contains(err.Error(), "probe text") {
		t.Errorf("other weights: %v", err)
	}
	// Another config.json: refused.
	cfgDir := filepath.Join(t.TempDir(), "cfg")
	copyDir(t, testutil.Testdata(t, "golden", "st_embed"), cfgDir)
	b, _ := os.ReadFile(filepath.Join(cfgDir, "config.json"))
	os.WriteFile(filepath.Join(cfgDir, "config.json"), []byte(strings.Replace(string(b), `"hidden_dropout_prob": 0.1`, `"hidden_dropout_prob": 0.2`, 1)), 0o644)
	if _, err = Open(ctx, dir, OpenOptions{ModelDir: cfgDir}); !errors.Is(err, ErrModelMismatch) || !strings.Contains(err.Error(), "config.json differs") {
		t.Errorf("other config: %v", err)
	}
	// Another kind of model: refused.
	if _, err = Open(ctx, dir, OpenOptions{Model: fixture(t, "colbert")}); !errors.Is(err, ErrModelMismatch) {
		t.Errorf("ColBERT model on a dense index: %v", err)
	}
	// The remembered model path gone: a clear error.
	moved := filepath.Join(t.TempDir(), "moved")
	copyDir(t, testutil.Testdata(t, "golden", "st_embed"), moved)
	dir2 := t.TempDir()
	mm, err := bioencoder.Load(moved)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Build(ctx, dir2, mm, synthDocs(7, 5, "g"), Options{}); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(moved)
	if _, err := Open(ctx, dir2, OpenOptions{}); err == nil || !strings.Contains(err.Error(), "cannot load its model") {
		t.Errorf("missing model: %v", err)
	}
}

func TestRerank(t *testing.T) {
	ctx := context.Background()
	ix, err := Build(ctx, t.TempDir(), fixture(t, "st_embed"), synthDocs(8, 60, "k"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ce := fixture(t, "cross_encoder")
	q := "tumor suppressor mutation"
	first := must(ix.SearchWith(ctx, q, SearchOptions{K: 20}))
	hits := must(ix.SearchWith(ctx, q, SearchOptions{K: 5, Reranker: ce, RerankDepth: 20}))
	texts := make([]string, len(first))
	for i, h := range first {
		texts[i] = h.Text
	}
	scores := must(ce.Rerank(ctx, q, texts))
	order := make([]int, len(first))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return scores[order[a]] > scores[order[b]] })
	if len(hits) != 5 {
		t.Fatalf("%d hits", len(hits))
	}
	for i, h := range hits {
		if h.ID != first[order[i]].ID || h.Score != scores[order[i]] {
			t.Errorf("rank %d: %s %v, want %s %v", i, h.ID, h.Score, first[order[i]].ID, scores[order[i]])
		}
	}
	if _, err := ix.SearchWith(ctx, q, SearchOptions{K: 5, Reranker: fixture(t, "st_embed")}); err == nil {
		t.Error("an embedding model accepted as reranker")
	}
}

func TestConcurrentReadersAndWriter(t *testing.T) {
	// Run with -race: searches go on while documents are added and deleted.
	ctx := context.Background()
	m := fixture(t, "st_embed")
	ix, err := Build(ctx, t.TempDir(), m, synthDocs(9, 100, "a"), Options{CompactRatio: 0.2})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for r := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				_, err := ix.SearchWith(ctx, queries[(i+r)%len(queries)], SearchOptions{K: 5, Exact: i%2 == 0})
				if err != nil {
					errs <- err
					return
				}
				ix.Len()
				ix.Info()
			}
		}()
	}
	for round := range 6 {
		if err := ix.Add(ctx, synthDocs(uint64(20+round), 40, string(rune('b'+round)))); err != nil {
			t.Fatal(err)
		}
		var del []string
		for i := range 15 {
			del = append(del, string(rune('b'+round))+strconv.Itoa(i))
		}
		if err := ix.Delete(ctx, del); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if ix.Len() != 100+6*25 {
		t.Errorf("Len = %d", ix.Len())
	}
}

func TestEmptyAndEmptied(t *testing.T) {
	ctx := context.Background()
	m := fixture(t, "st_embed")
	dir := t.TempDir()
	ix, err := Build(ctx, dir, m, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, exact := range []bool{false, true} {
		if hits, err := ix.SearchWith(ctx, "x", SearchOptions{K: 3, Exact: exact}); err != nil || len(hits) != 0 {
			t.Fatalf("empty index: %v, %v", hits, err)
		}
	}
	docs := synthDocs(13, 5, "e")
	if err := ix.Add(ctx, docs); err != nil {
		t.Fatal(err)
	}
	if hits := must(ix.Search(ctx, "x", 10)); len(hits) != 5 {
		t.Fatalf("%d hits from 5 documents", len(hits))
	}
	if err := ix.Delete(ctx, []string{"e0", "e1", "e2", "e3", "e4"}); err != nil {
		t.Fatal(err)
	}
	if hits := must(ix.Search(ctx, "x", 10)); len(hits) != 0 || ix.Len() != 0 {
		t.Fatalf("emptied index: %d hits, Len %d", len(hits), ix.Len())
	}
	ix2, err := Open(ctx, dir, OpenOptions{Model: m})
	if err != nil {
		t.Fatal(err)
	}
	if ix2.Len() != 0 || ix2.Info().Vectors != 0 {
		t.Errorf("reopened emptied index: %+v", ix2.Info())
	}
	if err := ix2.Add(ctx, docs[:2]); err != nil || ix2.Len() != 2 {
		t.Fatalf("add to emptied index: %v", err)
	}
}

func TestWithoutModel(t *testing.T) {
	ctx := context.Background()
	dir := smallIndex(t, "st_embed", 10)
	ix, err := Open(ctx, dir, OpenOptions{WithoutModel: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ix.Search(ctx, "x", 3); err == nil {
		t.Error("search without a model succeeded")
	}
	if err := ix.Add(ctx, synthDocs(1, 1, "z")); err == nil {
		t.Error("add without a model succeeded")
	}
	if n, err := ix.Remove(ctx, []string{"s3"}); err != nil || n != 1 {
		t.Fatalf("delete without a model: %d, %v", n, err)
	}
	if err := ix.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	if info := ix.Info(); info.Docs != 7 || info.Deleted != 0 {
		t.Errorf("after compaction: %+v", info)
	}
}

func TestTwoWritersOneFolder(t *testing.T) {
	// Two Index values on one folder (as the server and the CLI would be):
	// each writer first picks up what the other committed.
	ctx := context.Background()
	m := fixture(t, "st_embed")
	dir := smallIndex(t, "st_embed", 10)
	a, err := Open(ctx, dir, OpenOptions{Model: m})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(ctx, dir, OpenOptions{Model: m})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Add(ctx, synthDocs(1, 4, "a")); err != nil {
		t.Fatal(err)
	}
	if err := b.Add(ctx, synthDocs(2, 3, "b")); err != nil {
		t.Fatal(err)
	}
	if err := a.Delete(ctx, []string{"b0"}); err != nil {
		t.Fatal(err)
	}
	c, err := Open(ctx, dir, OpenOptions{Model: m})
	if err != nil {
		t.Fatal(err)
	}
	if c.Len() != 8+4+3-1 {
		t.Errorf("folder holds %d documents, want 14: %s", c.Len(), liveSet(c))
	}
	if liveSet(c) != liveSet(a) {
		t.Error("last writer's memory differs from the folder")
	}
}
