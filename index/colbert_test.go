package index

import (
	"context"
	"math"
	"testing"
	"time"
)

func TestColBERTEndToEnd(t *testing.T) {
	ctx := context.Background()
	m := fixture(t, "colbert")
	docs := synthDocs(11, 120, "p")
	dir := t.TempDir()
	ix, err := Build(ctx, dir, m, docs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	info := ix.Info()
	if info.Mode != modeColBERT || info.Similarity != "maxsim" || info.Vectors <= info.Docs {
		t.Fatalf("info %+v", info)
	}
	texts := make([]string, len(docs))
	byID := map[string]int{}
	for i, d := range docs {
		texts[i] = d.Text
		byID[d.ID] = i
	}
	all := append(queries, "kinase", "survival rate of the mouse cohort")
	ref, err := m.Score(ctx, all, texts)
	if err != nil {
		t.Fatal(err)
	}
	for qi, q := range all {
		exact := must(ix.SearchWith(ctx, q, SearchOptions{K: 10, Exact: true}))
		approx := must(ix.SearchWith(ctx, q, SearchOptions{K: 10}))
		if len(exact) != 10 || len(approx) != 10 {
			t.Fatalf("%q: %d / %d hits", q, len(exact), len(approx))
		}
		for i := range exact {
			if approx[i].ID != exact[i].ID || approx[i].Score != exact[i].Score {
				t.Errorf("%q rank %d: candidates+MaxSim %s %v, exact MaxSim %s %v", q, i, approx[i].ID, approx[i].Score, exact[i].ID, exact[i].Score)
			}
			// Scores are bioencoder's MaxSim of the same vectors.
			if want := ref[qi][byID[exact[i].ID]]; math.Abs(float64(exact[i].Score-want)) > 1e-4 {
				t.Errorf("%q %s: score %v, bioencoder.Score %v", q, exact[i].ID, exact[i].Score, want)
			}
		}
		// Exact search really is the ordering of every document's MaxSim.
		best := 0
		for j := range texts {
			if ref[qi][j] > ref[qi][best] {
				best = j
			}
		}
		if math.Abs(float64(ref[qi][best]-exact[0].Score)) > 1e-4 {
			t.Errorf("%q: top score %v, best MaxSim over all documents %v", q, exact[0].Score, ref[qi][best])
		}
	}
	// Deletes, adds and a reopen keep answers identical.
	if err := ix.Delete(ctx, []string{"p3", "p4"}); err != nil {
		t.Fatal(err)
	}
	if err := ix.Add(ctx, synthDocs(12, 30, "q")); err != nil {
		t.Fatal(err)
	}
	want := snapshot(t, ix, all)
	ix2, err := Open(ctx, dir, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := snapshot(t, ix2, all); got != want {
		t.Errorf("reopened ColBERT index answers differently:\n got %s\nwant %s", got, want)
	}
	for _, h := range must(ix2.SearchWith(ctx, "aspirin", SearchOptions{K: 200, Exact: true})) {
		if h.ID == "p3" || h.ID == "p4" {
			t.Errorf("deleted %s returned", h.ID)
		}
	}
	if err := ix2.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	if got := snapshot(t, ix2, all); got != want {
		t.Errorf("compacted ColBERT index answers differently:\n got %s\nwant %s", got, want)
	}
}

func TestColBERTCandidateRecallAbstracts(t *testing.T) {
	ctx := context.Background()
	m := fixture(t, "colbert")
	const n, nq, k = 500, 40, 10
	all := abstracts(t, n+nq)
	t0, c0 := time.Now(), cpuTime()
	ix, err := Build(ctx, t.TempDir(), m, all[:n], Options{EfConstruction: 100})
	if err != nil {
		t.Fatal(err)
	}
	build, buildCPU := time.Since(t0), cpuTime()-c0
	var hits float64
	same := 0
	var tg, te time.Duration
	for _, d := range all[n:] {
		q := firstWords(d.Text, 8)
		t1 := time.Now()
		approx := must(ix.SearchWith(ctx, q, SearchOptions{K: k}))
		t2 := time.Now()
		exact := must(ix.SearchWith(ctx, q, SearchOptions{K: k, Exact: true}))
		te += time.Since(t2)
		tg += t2.Sub(t1)
		in := map[string]bool{}
		for _, h := range exact {
			in[h.ID] = true
		}
		eq := true
		for i, h := range approx {
			if in[h.ID] {
				hits++
			}
			eq = eq && h.ID == exact[i].ID
		}
		if eq {
			same++
		}
	}
	info := ix.Info()
	recall := hits / (nq * k)
	t.Logf("ColBERT fixture, %d abstracts (%d token vectors, 16-dim), M=16 efC=100 efSearch=100: recall@10 of candidates+MaxSim vs exact MaxSim %.4f, identical top-10 order for %d/%d queries; build %v wall / %v CPU; query %.1f ms (candidates) vs %.1f ms (exact), wall, model included",
		n, info.Vectors, recall, same, nq, build.Round(time.Millisecond), buildCPU.Round(time.Millisecond),
		float64(tg.Microseconds())/1000/nq, float64(te.Microseconds())/1000/nq)
	if recall < 0.98 {
		t.Errorf("recall@10 = %.4f, want ≥ 0.98", recall)
	}
}
